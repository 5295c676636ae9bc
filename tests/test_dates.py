"""Dates for --since, --until and --before (issue 4, item 8).

``parse_date_bound`` is tested with a fixed ``now`` and an explicit ``zone``; the CLI tests
set the process's local zone (TZ) themselves. Nothing depends on the machine's zone.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from phaser_analytics.cli import cli
from phaser_analytics.dates import parse_date_bound
from phaser_analytics.errors import AnalyticsError, InvalidDateError

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_REPORT = REPO / "examples" / "EXECUTION_REPORT.md"
MESSAGE = "Invalid date format. Use ISO format: YYYY-MM-DD"
UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")  # +01:00 in December: local and UTC days differ
SANTIAGO = ZoneInfo("America/Santiago")  # its clocks change at midnight
#: Saturday 2024-12-07, 09:30 UTC (10:30 in Berlin).
NOW = datetime(2024, 12, 7, 9, 30, tzinfo=UTC)


def parse(value: str, **kwargs) -> datetime:
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("zone", BERLIN)
    return parse_date_bound(value, **kwargs)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def same_instant_and_offset(got: datetime, expected: datetime) -> None:
    assert got == expected
    assert got.utcoffset() == expected.utcoffset()


# -- days --------------------------------------------------------------------------------------


def test_bare_date_is_local_midnight() -> None:
    same_instant_and_offset(parse("2024-12-05"), datetime(2024, 12, 5, tzinfo=BERLIN))
    assert parse("2024-12-05") == utc(2024, 12, 4, 23)


def test_bare_date_end_of_day_is_the_last_instant_of_that_local_day() -> None:
    end = parse("2024-12-05", end_of_day=True)
    assert end == utc(2024, 12, 5, 22, 59, 59, 999999)
    assert end.astimezone(BERLIN).date().isoformat() == "2024-12-05"
    assert end + timedelta(microseconds=1) == parse("2024-12-06")


def test_a_zone_west_of_utc() -> None:
    zone = ZoneInfo("America/New_York")
    assert parse("2024-12-05", zone=zone) == utc(2024, 12, 5, 5)
    assert parse("2024-12-05", zone=zone, end_of_day=True) == utc(2024, 12, 6, 4, 59, 59, 999999)


def test_end_of_day_when_the_last_hour_runs_twice() -> None:
    """Santiago's clocks went back from 2024-04-07 00:00 to 2024-04-06 23:00: the 6th ended
    at 04:00 UTC, not at the first 23:59:59 (03:00 UTC)."""
    end = parse("2024-04-06", zone=SANTIAGO, end_of_day=True)
    assert end == utc(2024, 4, 7, 3, 59, 59, 999999)
    assert end + timedelta(microseconds=1) == parse("2024-04-07", zone=SANTIAGO)


def test_start_of_a_day_whose_midnight_does_not_exist() -> None:
    """Santiago's clocks jumped from 2024-09-08 00:00 to 01:00 (-03:00): the day began at
    04:00 UTC, right after the 7th ended."""
    assert parse("2024-09-08", zone=SANTIAGO) == utc(2024, 9, 8, 4)
    end_of_7th = parse("2024-09-07", zone=SANTIAGO, end_of_day=True)
    assert end_of_7th + timedelta(microseconds=1) == parse("2024-09-08", zone=SANTIAGO)


def test_the_ends_of_the_calendar() -> None:
    assert parse("9999-12-31", end_of_day=True).year == 9999
    assert parse("0001-01-01", zone=UTC) == utc(1, 1, 1)


# -- datetimes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-12-05T10:30:00Z", utc(2024, 12, 5, 10, 30)),
        ("2024-12-05t10:30:00z", utc(2024, 12, 5, 10, 30)),
        ("2024-12-05T10:30Z", utc(2024, 12, 5, 10, 30)),
        ("2024-12-05T10:30:00+02:00", utc(2024, 12, 5, 8, 30)),
        ("2024-12-05T10:30:00-05:30", utc(2024, 12, 5, 16)),
        ("2024-12-05T10:30:00+0200", utc(2024, 12, 5, 8, 30)),
        ("2024-12-05T10:30:00+02", utc(2024, 12, 5, 8, 30)),
        ("2024-12-05T10:30:00-00:00", utc(2024, 12, 5, 10, 30)),
        ("2024-12-05 10:30:00Z", utc(2024, 12, 5, 10, 30)),
        ("2024-12-05 10:30+02:00", utc(2024, 12, 5, 8, 30)),
        ("2024-12-05T10:30:00 +02:00", utc(2024, 12, 5, 8, 30)),
        ("2024-12-05T10:30:00.5Z", utc(2024, 12, 5, 10, 30, 0, 500000)),
        ("2024-12-05T10:30:00.123Z", utc(2024, 12, 5, 10, 30, 0, 123000)),
        ("2024-12-05T10:30:00.123456+01:00", utc(2024, 12, 5, 9, 30, 0, 123456)),
        ("2024-12-05T10:30:00.123456789Z", utc(2024, 12, 5, 10, 30, 0, 123456)),
        ("2024-12-05T10:30:00,25Z", utc(2024, 12, 5, 10, 30, 0, 250000)),
        ("  2024-12-05T10:30:00Z  ", utc(2024, 12, 5, 10, 30)),
    ],
)
def test_iso_datetimes_with_a_zone(value: str, expected: datetime) -> None:
    assert parse(value) == expected
    assert parse(value, zone=ZoneInfo("Asia/Tokyo")) == expected  # zone is for naive values
    assert parse(value, end_of_day=True) == expected  # only a bare day is widened


def test_offset_is_kept() -> None:
    assert parse("2024-12-05T10:30:00+02:00").utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    ("value", "wall"),
    [
        ("2024-12-05T10:30:00", datetime(2024, 12, 5, 10, 30)),
        ("2024-12-05T10:30", datetime(2024, 12, 5, 10, 30)),
        ("2024-12-05 10:30", datetime(2024, 12, 5, 10, 30)),
        ("2024-12-05T23:59:59.999", datetime(2024, 12, 5, 23, 59, 59, 999000)),
    ],
)
def test_iso_datetimes_without_a_zone_are_local(value: str, wall: datetime) -> None:
    same_instant_and_offset(parse(value), wall.replace(tzinfo=BERLIN))
    assert parse(value, zone=UTC) == wall.replace(tzinfo=UTC)
    assert parse(value, end_of_day=True) == parse(value)


# -- relative ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ago"),
    [
        ("7d", timedelta(days=7)),
        ("7D", timedelta(days=7)),
        ("7 d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("12h", timedelta(hours=12)),
        ("0d", timedelta(0)),
        ("365d", timedelta(days=365)),
    ],
)
def test_relative(value: str, ago: timedelta) -> None:
    assert parse(value) == NOW - ago
    assert parse(value, end_of_day=True) == NOW - ago  # an instant, not a day


def test_now() -> None:
    assert parse("now") == NOW


def test_today_and_yesterday_are_local_days() -> None:
    assert parse("today") == datetime(2024, 12, 7, tzinfo=BERLIN)
    assert parse("TODAY") == datetime(2024, 12, 7, tzinfo=BERLIN)
    assert parse("yesterday") == datetime(2024, 12, 6, tzinfo=BERLIN)
    assert parse("today", end_of_day=True) == datetime(2024, 12, 7, 23, 59, 59, 999999, BERLIN)
    assert parse("yesterday", end_of_day=True) == parse("today") - timedelta(microseconds=1)


def test_today_is_the_day_in_the_zone_not_in_nows_zone() -> None:
    """23:30 UTC on the 6th is already the 7th in Berlin."""
    late = datetime(2024, 12, 6, 23, 30, tzinfo=UTC)
    assert parse("today", now=late) == datetime(2024, 12, 7, tzinfo=BERLIN)
    assert parse("yesterday", now=late) == datetime(2024, 12, 6, tzinfo=BERLIN)


def test_naive_now_is_in_the_zone() -> None:
    assert parse("12h", now=datetime(2024, 12, 7, 10, 30)) == utc(2024, 12, 6, 21, 30)


def test_default_now_is_the_current_time() -> None:
    before = datetime.now(UTC)
    got = parse_date_bound("1h", zone=BERLIN)
    assert before - timedelta(hours=1, seconds=5) <= got <= datetime.now(UTC) - timedelta(hours=1)


# -- always aware ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["2024-12-05", "2024-12-05T10:30", "2024-12-05T10:30Z", "7d", "today", "now"]
)
@pytest.mark.parametrize("zone", [None, BERLIN])
@pytest.mark.parametrize("now", [None, NOW])
def test_never_naive(value: str, zone, now) -> None:
    """Naive and aware datetimes never meet in a comparison."""
    for end_of_day in (False, True):
        got = parse_date_bound(value, end_of_day=end_of_day, now=now, zone=zone)
        assert got.tzinfo is not None and got.utcoffset() is not None
        assert got < datetime.max.replace(tzinfo=UTC)  # comparable with stored values


# -- invalid -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "bad",
        "last tuesday",
        "tomorrow",
        "2024-13-01",
        "2024-02-30",
        "2024-12-5",
        "24-12-05",
        "2024/12/05",
        "05.12.2024",
        "20241205",
        "2024-12-05T",
        "2024-12-05T25:00",
        "2024-12-05T10:60",
        "2024-12-05T10:30:61",
        "2024-12-05T10:30+24:00",
        "2024-12-05T10:30+02:60",
        "2024-12-05T10:30:00Zjunk",
        "2024-12-05T10:30:00 UTC",
        "2024-12-05T10",
        "7",
        "d",
        "-7d",
        "7m",
        "7y",
        "٧d",  # an Arabic-Indic seven
        "２０２４-１２-０５",  # fullwidth digits
        "99999999d",  # far before year 1
        "0000-01-01",
    ],
)
def test_invalid_values(value: str) -> None:
    with pytest.raises(InvalidDateError) as caught:
        parse(value)
    assert str(caught.value) == MESSAGE
    assert caught.value.value == value
    assert caught.value.exit_code == 2
    assert isinstance(caught.value, AnalyticsError)
    with pytest.raises(InvalidDateError):
        parse(value, end_of_day=True)


# -- through the CLI ---------------------------------------------------------------------------


@pytest.fixture
def new_york() -> Iterator[None]:
    """The process's local zone is New York (-05:00 in December) for the test."""
    if not hasattr(time, "tzset"):
        pytest.skip("needs time.tzset to set the local zone")
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        local = datetime(2024, 12, 5, 12).astimezone()
        if local.utcoffset() != timedelta(hours=-5):
            pytest.skip("no time zone database for TZ")
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


def write_report(directory: Path, document: str, started: str, completed: str) -> Path:
    text = EXAMPLE_REPORT.read_text(encoding="utf-8")
    text = text.replace("document-7-reverse.md", document)
    text = text.replace("| Started | 2024-12-06T10:30:00Z |", f"| Started | {started} |")
    text = text.replace("| Completed | 2024-12-06T11:53:23Z |", f"| Completed | {completed} |")
    assert started in text and completed in text, "the example report changed"
    path = directory / document / "EXECUTION_REPORT.md"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return path


def invoke(runner: CliRunner, *args: str):
    return runner.invoke(cli, ["analytics", *args])


@pytest.fixture
def evening(runner: CliRunner, project: Path, tmp_path: Path, new_york: None) -> Path:
    """Executions at 23:00 on 2024-12-05 and 00:30 on 2024-12-06, New York time: both on
    2024-12-06 in UTC."""
    for document, started, completed in [
        ("late.md", "2024-12-05T23:00:00-05:00", "2024-12-05T23:40:00-05:00"),
        ("after-midnight.md", "2024-12-06T00:30:00-05:00", "2024-12-06T01:00:00-05:00"),
        ("early.md", "2024-12-05T00:10:00-05:00", "2024-12-05T00:50:00-05:00"),
    ]:
        report = write_report(tmp_path / "reports", document, started, completed)
        result = invoke(runner, "import", str(report), "--project", str(project))
        assert result.exit_code == 0, result.output
    return project


def documents(runner: CliRunner, project: Path, *args: str) -> list[str]:
    result = invoke(runner, "show", "--format", "json", "--project", str(project), *args)
    assert result.exit_code == 0, result.output
    return sorted(e["audit_document"] for e in json.loads(result.stdout)["executions"])


def test_until_a_date_includes_that_whole_local_day(runner: CliRunner, evening: Path) -> None:
    assert documents(runner, evening, "--until", "2024-12-05") == ["early.md", "late.md"]


def test_since_a_date_starts_at_local_midnight(runner: CliRunner, evening: Path) -> None:
    assert documents(runner, evening, "--since", "2024-12-06") == ["after-midnight.md"]
    assert documents(runner, evening, "--since", "2024-12-05", "--until", "2024-12-05") == [
        "early.md",
        "late.md",
    ]


def test_bounds_with_a_zone_and_without(runner: CliRunner, evening: Path) -> None:
    # 04:00 UTC on the 6th is 23:00 on the 5th in New York.
    assert documents(runner, evening, "--since", "2024-12-06T04:00:00Z") == [
        "after-midnight.md",
        "late.md",
    ]
    assert documents(runner, evening, "--since", "2024-12-05T23:00") == [
        "after-midnight.md",
        "late.md",
    ]
    assert documents(runner, evening, "--until", "2024-12-05T22:59:59") == ["early.md"]


def test_until_bound_is_shown_in_the_query(runner: CliRunner, evening: Path) -> None:
    result = invoke(
        runner, "show", "--format", "json", "--until", "2024-12-05", "--project", str(evening)
    )
    until = json.loads(result.stdout)["query"]["until"]
    assert until == "2024-12-05T23:59:59.999999-05:00"


def test_clear_before_a_date_keeps_that_day(runner: CliRunner, evening: Path) -> None:
    result = invoke(runner, "clear", "--before", "2024-12-06", "--force", "--project", str(evening))
    assert result.exit_code == 0, result.output
    assert documents(runner, evening, "--last", "10") == ["after-midnight.md"]


@pytest.mark.parametrize(
    "args",
    [
        ["show", "--since", "bad"],
        ["show", "--until", "bad"],
        ["show", "--since", "2024-02-30"],
        ["show", "--since", "99999999d"],
        ["show", "--format", "json", "--since", "bad"],
        ["export", "--since", "bad"],
        ["export", "--until", "2024/12/05"],
        ["badge", "--since", "bad"],
        ["clear", "--before", "bad"],
        ["clear", "--before", "bad", "--force"],
    ],
    ids=" ".join,
)
def test_a_bad_date_prints_the_spec_message_and_exits_2(
    runner: CliRunner, project: Path, args: list[str]
) -> None:
    result = invoke(runner, *args, "--project", str(project))
    assert result.exit_code == 2
    assert result.stderr == f"Error: {MESSAGE}\n"
    assert result.stdout == ""


def test_a_bad_clear_deletes_nothing(runner: CliRunner, evening: Path) -> None:
    result = invoke(runner, "clear", "--before", "bad", "--force", "--project", str(evening))
    assert result.exit_code == 2
    assert result.stderr == f"Error: {MESSAGE}\n"
    assert len(documents(runner, evening, "--last", "10")) == 3


def test_the_ends_of_the_calendar_through_the_cli(runner: CliRunner, evening: Path) -> None:
    assert len(documents(runner, evening, "--until", "9999-12-31")) == 3
    assert len(documents(runner, evening, "--since", "0001-01-01")) == 3


# -- one zone for display, filters and buckets (issue 14 item 3) ------------------------------


@pytest.fixture
def los_angeles() -> Iterator[None]:
    """The process's local zone is Los Angeles (-08:00 in December) for the test."""
    if not hasattr(time, "tzset"):
        pytest.skip("needs time.tzset to set the local zone")
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "America/Los_Angeles"
    time.tzset()
    try:
        if datetime(2024, 12, 5, 12).astimezone().utcoffset() != timedelta(hours=-8):
            pytest.skip("no time zone database for TZ")
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


@pytest.fixture
def three_am_utc(runner: CliRunner, project: Path, tmp_path: Path, los_angeles: None) -> Path:
    """One run at 03:00Z on 2024-12-06: 19:00 on the 5th in Los Angeles."""
    report = write_report(
        tmp_path / "reports", "night.md", "2024-12-06T03:00:00Z", "2024-12-06T03:30:00Z"
    )
    result = invoke(runner, "import", str(report), "--project", str(project))
    assert result.exit_code == 0, result.output
    return project


def table(runner: CliRunner, project: Path, *args: str) -> str:
    result = invoke(runner, "show", "--project", str(project), *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_table_shows_the_local_day_and_time_the_filters_use(
    runner: CliRunner, three_am_utc: Path
) -> None:
    assert "│ 2024-12-05 19:00 │ night.md" in table(runner, three_am_utc)
    one_day = ("--since", "2024-12-05", "--until", "2024-12-05")
    assert "night.md" in table(runner, three_am_utc, *one_day)
    assert documents(runner, three_am_utc, "--since", "2024-12-06") == []


def test_tz_moves_display_and_filters_together(runner: CliRunner, three_am_utc: Path) -> None:
    assert "│ 2024-12-06 03:00 │ night.md" in table(runner, three_am_utc, "--tz", "UTC")
    # --tz is read first, wherever it stands: --since is a UTC day here.
    assert documents(runner, three_am_utc, "--since", "2024-12-06", "--tz", "UTC") == ["night.md"]
    verbose = table(runner, three_am_utc, "--verbose")
    assert "Started:    2024-12-05T19:00:00-08:00" in verbose
    assert "Started:    2024-12-06T03:00:00Z" in table(runner, three_am_utc, "-v", "--tz", "UTC")


def test_the_config_sets_the_zone_and_tz_overrides_it(
    runner: CliRunner, three_am_utc: Path
) -> None:
    config = three_am_utc / ".phaser" / "config.json"
    config.write_text(json.dumps({"analytics": {"tz": "Asia/Tokyo"}}), encoding="utf-8")
    assert "│ 2024-12-06 12:00 │ night.md" in table(runner, three_am_utc)
    assert documents(runner, three_am_utc, "--since", "2024-12-06") == ["night.md"]
    assert "│ 2024-12-05 19:00 │" in table(runner, three_am_utc, "--tz", "local")
    config.write_text(json.dumps({"analytics": {"tz": "Mars/Olympus"}}), encoding="utf-8")
    result = invoke(runner, "show", "--project", str(three_am_utc))
    assert result.exit_code == 2
    assert "'analytics.tz' names an unknown time zone" in result.output


def test_trends_buckets_and_filters_in_one_zone(runner: CliRunner, three_am_utc: Path) -> None:
    def days(*args: str) -> list[str]:
        result = invoke(runner, "trends", "--format", "json", "--project", str(three_am_utc), *args)
        assert result.exit_code == 0, result.output
        return [row["period"] for row in json.loads(result.stdout)["breakdown"]["rows"]]

    assert days() == ["2024-12-05"]
    assert days("--tz", "UTC") == ["2024-12-06"]
    assert days("--tz", "UTC", "--since", "2024-12-06") == ["2024-12-06"]


def test_markdown_shows_the_day_of_the_zone_the_table_shows(
    runner: CliRunner, three_am_utc: Path, tmp_path: Path
) -> None:
    """The markdown report's dates are those of the command's zone, as the table's are:
    19:00 on the 5th in Los Angeles is the 5th there, the 6th in UTC."""

    def markdown(*args: str) -> str:
        result = invoke(
            runner, "show", "--format", "markdown", "--project", str(three_am_utc), *args
        )
        assert result.exit_code == 0, result.output
        return result.stdout

    local = markdown()
    assert "- **Date:** 2024-12-05" in local
    assert "(local time, PST)" in local
    in_utc = markdown("--tz", "UTC")
    assert "- **Date:** 2024-12-06" in in_utc
    assert "(UTC)" in in_utc
    assert "- **Date:** 2024-12-06" in markdown("--tz", "Asia/Tokyo")


def test_a_bare_date_report_keeps_its_day_in_every_zone(
    runner: CliRunner, project: Path, tmp_path: Path, los_angeles: None
) -> None:
    report = write_report(tmp_path / "reports", "dated.md", "2024-12-06", "2024-12-06")
    assert invoke(runner, "import", str(report), "--project", str(project)).exit_code == 0
    result = invoke(runner, "show", "--format", "markdown", "--project", str(project))
    assert result.exit_code == 0, result.output
    assert "- **Date:** 2024-12-06" in result.stdout


@pytest.mark.parametrize("local", ["UTC", "Europe/Paris", "Asia/Kolkata", "Australia/Lord_Howe"])
def test_offset_changes_of_the_local_zone_are_what_astimezone_gives(local: str) -> None:
    """The databases bucket local days and hours with aggregates.offset_changes; for the
    local zone (``None``) it reads the offsets from time.localtime, for a fixed offset it
    probes nothing: both give what ``astimezone`` gives, second for second, at every change
    (a half-hour one too) and between them."""
    from phaser_analytics.aggregates import offset_changes, utc_moment

    if not hasattr(time, "tzset"):
        pytest.skip("needs time.tzset to set the local zone")
    saved = os.environ.get("TZ")
    os.environ["TZ"] = local
    time.tzset()
    try:
        low, high = 1_700_000_000.5, 1_700_000_000 + 400 * 86400
        for zone in (None, ZoneInfo(local), timezone(timedelta(hours=5, minutes=30))):
            first, changes = offset_changes(zone, low, high)

            def offset(second: int, zone: object = zone) -> float:
                return utc_moment(second).astimezone(zone).utcoffset().total_seconds()

            assert first == offset(int(low))
            for at, value in changes:
                assert offset(at) == value and offset(at - 1) != value, (zone, at)
            starts = [int(low), *(at for at, _ in changes), int(high)]
            values = [first, *(value for _, value in changes)]
            for (begin, end), value in zip(itertools.pairwise(starts), values, strict=True):
                for second in range(begin, end, 3 * 3600 + 17):  # no change in between
                    assert offset(second) == value, (zone, second)
        assert changes == []  # the fixed offset's, last
        assert bool(offset_changes(None, low, high)[1]) is (local in ("Europe/Paris",
                                                                      "Australia/Lord_Howe"))
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()
