"""The aggregates behind trends, projects, phases and failures (phaser_analytics.metrics):
exact figures, and days, weeks and hours counted in the zone asked for."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from phaser_analytics import (
    ExecutionRecord,
    ExecutionStatus,
    PhaseRecord,
    PhaseStatus,
    dates,
    metrics,
)

UTC = timezone.utc
TOKYO = ZoneInfo("Asia/Tokyo")  # UTC+9 all year
NEW_YORK = ZoneInfo("America/New_York")  # DST began 2025-03-09 at 02:00 local


def _record(
    start: datetime | None,
    status: ExecutionStatus = ExecutionStatus.SUCCESS,
    minutes: float | None = 60,
    delta: int | None = None,
    tokens: int | None = None,
    cost: float | None = None,
    **values: object,
) -> ExecutionRecord:
    completed = start + timedelta(minutes=minutes) if start and minutes is not None else None
    return ExecutionRecord(
        execution_id=ExecutionRecord.generate_id(),
        started_at=start,
        completed_at=completed,
        status=status,
        reported_test_delta=delta,
        tokens={"total": tokens} if tokens is not None else None,
        cost_usd=cost,
        **values,  # type: ignore[arg-type]
    )


@pytest.fixture
def runs() -> list[ExecutionRecord]:
    return [
        _record(datetime(2025, 6, 1, 8, 0, tzinfo=UTC), delta=5, tokens=1000, cost=0.5),
        _record(datetime(2025, 6, 1, 20, 0, tzinfo=UTC), ExecutionStatus.FAILED, 30, delta=-2),
        _record(
            datetime(2025, 6, 3, 9, 0, tzinfo=UTC),
            ExecutionStatus.PARTIAL,
            90,
            tokens=500,
            cost=0.25,
        ),
        _record(None, ExecutionStatus.FAILED, None),
    ]


def _by(breakdown, key: str) -> dict:
    return {row[key]: row for row in breakdown.rows}


# -- time zones ---------------------------------------------------------------------------


def test_resolve_zone() -> None:
    assert dates.resolve_zone(None) is None
    assert dates.resolve_zone("local") is None
    assert dates.resolve_zone("Asia/Tokyo") == TOKYO
    assert dates.resolve_zone("UTC").utcoffset(None) == timedelta(0)
    with pytest.raises(dates.UnknownTimeZoneError):
        dates.resolve_zone("Mars/Olympus_Mons")


def test_zone_label_names_the_zone_or_says_local() -> None:
    assert dates.zone_label(TOKYO) == "Asia/Tokyo"
    assert dates.zone_label(None).startswith("local time, ")


@pytest.fixture
def tokyo_is_local() -> Iterator[None]:
    """The machine's local zone set to Tokyo for one test (TZ and tzset, then restored)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_no_zone_means_local_time_not_utc(tokyo_is_local: None, runs) -> None:
    # 20:00 UTC on 1 June is 05:00 on 2 June in Tokyo.
    days = _by(metrics.trends(runs, "day", None), "period")
    assert sorted(days) == ["2025-06-01", "2025-06-02", "2025-06-03"]
    (by_hour, _) = metrics.peak_usage(runs, None)
    assert by_hour.rows[5]["executions"] == 1
    assert by_hour.rows[20]["executions"] == 0


# -- trends -------------------------------------------------------------------------------


def test_trends_by_day_in_utc(runs) -> None:
    breakdown = metrics.trends(runs, "day", UTC)
    assert breakdown.title == "Trends by day (UTC)"
    assert breakdown.rows == [
        {
            "period": "2025-06-01",
            "start": date(2025, 6, 1),
            "executions": 2,
            "successful": 1,
            "success_rate": 0.5,
            "avg_duration_seconds": 2700.0,
            "test_delta": 3,
            "tokens": 1000,
            "cost_usd": 0.5,
        },
        {
            "period": "2025-06-03",
            "start": date(2025, 6, 3),
            "executions": 1,
            "successful": 0,
            "success_rate": 0.0,
            "avg_duration_seconds": 5400.0,
            "test_delta": None,
            "tokens": 500,
            "cost_usd": 0.25,
        },
    ]


def test_the_undated_execution_is_counted_as_left_out(runs) -> None:
    assert metrics.undated(runs) == 1
    assert sum(row["executions"] for row in metrics.trends(runs, "day", UTC).rows) == 3


def test_trends_by_day_in_tokyo_move_the_evening_run_to_the_next_day(runs) -> None:
    days = _by(metrics.trends(runs, "day", TOKYO), "period")
    assert {day: row["executions"] for day, row in days.items()} == {
        "2025-06-01": 1,
        "2025-06-02": 1,
        "2025-06-03": 1,
    }
    assert days["2025-06-02"]["success_rate"] == 0.0


def test_trends_by_iso_week(runs) -> None:
    # 1 June 2025 is a Sunday (week 22); in Tokyo the evening run falls on Monday (week 23).
    utc = _by(metrics.trends(runs, "week", UTC), "period")
    assert {week: row["executions"] for week, row in utc.items()} == {
        "2025-W22": 2,
        "2025-W23": 1,
    }
    assert utc["2025-W22"]["start"] == date(2025, 5, 26)
    tokyo = _by(metrics.trends(runs, "week", TOKYO), "period")
    assert {week: row["executions"] for week, row in tokyo.items()} == {
        "2025-W22": 1,
        "2025-W23": 2,
    }


def test_trends_by_month_in_the_zone(runs) -> None:
    late_may = _record(datetime(2025, 5, 31, 23, 30, tzinfo=UTC))
    utc = _by(metrics.trends([*runs, late_may], "month", UTC), "period")
    assert {month: row["executions"] for month, row in utc.items()} == {"2025-05": 1, "2025-06": 3}
    tokyo = _by(metrics.trends([*runs, late_may], "month", TOKYO), "period")
    assert {month: row["executions"] for month, row in tokyo.items()} == {"2025-06": 4}


def test_trend_sparklines(runs) -> None:
    (sparklines,) = metrics.trends(runs, "day", UTC).sections
    assert sparklines.rows == [
        {"metric": "Avg duration", "sparkline": "▅█", "low": "45m 00s", "high": "1h 30m"},
        {"metric": "Success rate", "sparkline": "▅▁", "low": "0%", "high": "50%"},
    ]


def test_trends_reject_an_unknown_period(runs) -> None:
    with pytest.raises(ValueError, match="day, week, month"):
        metrics.trends(runs, "year", UTC)


def test_no_executions_no_rows() -> None:
    breakdown = metrics.trends([], "day", UTC)
    assert (breakdown.rows, breakdown.sections) == ([], [])


@pytest.mark.parametrize(
    ("values", "top", "line"),
    [
        ([0, 5, 10], None, "▁▅█"),
        ([1, 3, 5, 7], 14, "▂▃▄▅"),  # half up: 0.5, 1.5, 2.5, 3.5 steps
        ([None, 1.0, 0.5], 1.0, " █▅"),
        ([0, 0], None, "▁▁"),
        ([], None, ""),
    ],
)
def test_sparkline(values, top, line) -> None:
    assert metrics.sparkline(values, top) == line


@pytest.mark.parametrize(
    ("value", "top", "width", "drawn"),
    [(10, 10, 4, "████"), (5, 10, 4, "██"), (1, 8, 1, "▏"), (3, 8, 1, "▍"), (1, 1000, 4, "▏")],
)
def test_bar(value, top, width, drawn) -> None:
    assert metrics.bar(value, top, width) == drawn


def test_bar_of_nothing_is_empty() -> None:
    assert metrics.bar(0, 5) == ""
    assert metrics.bar(3, 0) == ""


# -- projects -----------------------------------------------------------------------------


def test_projects(runs) -> None:
    groups = [
        metrics.ProjectGroup("quiet", "/q", []),
        metrics.ProjectGroup("busy", "/b", runs[:3]),
        metrics.ProjectGroup("Alpha", "/a", [runs[3]]),
    ]
    breakdown = metrics.projects(groups, TOKYO)
    assert [row["project"] for row in breakdown.rows] == ["busy", "Alpha", "quiet"]
    busy, alpha, quiet = breakdown.rows
    assert busy == {
        "project": "busy",
        "path": "/b",
        "executions": 3,
        "successful": 1,
        "success_rate": 1 / 3,
        "avg_duration_seconds": 3600.0,
        "test_delta": 3,
        "tokens": 1500,
        "cost_usd": 0.75,
        "last_run": datetime(2025, 6, 3, 18, 0, tzinfo=TOKYO),
    }
    assert busy["last_run"].utcoffset() == timedelta(hours=9)
    assert (alpha["executions"], alpha["success_rate"], alpha["last_run"]) == (1, 0.0, None)
    assert (quiet["executions"], quiet["success_rate"], quiet["cost_usd"]) == (0, None, None)


# -- phases -------------------------------------------------------------------------------


def _phase(number: int, status: PhaseStatus, title: str, error: str | None = None):
    return PhaseRecord(number, title, status, error_message=error)


def test_phases_rates_titles_and_latest_error() -> None:
    older = _record(
        datetime(2025, 6, 1, 9, 0, tzinfo=UTC),
        phases=[
            _phase(1, PhaseStatus.COMPLETED, "Setup (old name)"),
            _phase(2, PhaseStatus.FAILED, "Parse", "old error"),
        ],
    )
    newer = _record(
        datetime(2025, 6, 2, 9, 0, tzinfo=UTC),
        ExecutionStatus.PARTIAL,
        phases=[
            _phase(1, PhaseStatus.COMPLETED, "Setup"),
            _phase(2, PhaseStatus.FAILED, "Parse", "new error"),
            _phase(3, PhaseStatus.SKIPPED, "Report"),
        ],
    )
    third = _record(
        datetime(2025, 6, 3, 9, 0, tzinfo=UTC),
        phases=[_phase(2, PhaseStatus.COMPLETED, "Parse"), _phase(3, PhaseStatus.FAILED, "Report")],
    )
    breakdown = metrics.phases([older, third, newer], UTC)
    assert [
        (r["phase"], r["title"], r["runs"], r["failures"], r["failure_rate"], r["last_error"])
        for r in breakdown.rows
    ] == [
        (2, "Parse", 3, 2, 2 / 3, "new error"),
        (3, "Report", 2, 1, 0.5, None),
        (1, "Setup", 2, 0, 0.0, None),
    ]
    assert breakdown.rows[0]["last_failed"] == datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


# -- failures and peak hours --------------------------------------------------------------


def test_failure_reasons_grouped_once_per_execution_newest_wording_first() -> None:
    records = [
        _record(
            datetime(2025, 6, 1, 9, 0, tzinfo=UTC),
            ExecutionStatus.FAILED,
            failure_reasons=["Tests failed.", "tests  FAILED", "Disk full"],
        ),
        _record(
            datetime(2025, 6, 2, 9, 0, tzinfo=UTC),
            ExecutionStatus.PARTIAL,
            failure_reasons=["Tests failed!"],
        ),
        _record(datetime(2025, 6, 3, 9, 0, tzinfo=UTC), failure_reasons=["Timeout"]),
        _record(None, ExecutionStatus.FAILED, None, failure_reasons=["Disk full."]),
    ]
    breakdown = metrics.failure_reasons(records, TOKYO)
    assert [(r["reason"], r["count"], r["last_seen"]) for r in breakdown.rows] == [
        ("Tests failed!", 2, datetime(2025, 6, 2, 18, 0, tzinfo=TOKYO)),
        ("Disk full", 2, datetime(2025, 6, 1, 18, 0, tzinfo=TOKYO)),
        ("Timeout", 1, datetime(2025, 6, 3, 18, 0, tzinfo=TOKYO)),
    ]


def test_peak_usage_by_hour_and_weekday_in_the_zone(runs) -> None:
    by_hour, by_weekday = metrics.failures(runs, TOKYO).sections
    assert by_hour.title == "Executions by hour of day (Asia/Tokyo)"
    assert len(by_hour.rows) == 24
    busy = {
        row["hour"]: (row["executions"], row["failed"]) for row in by_hour.rows if row["executions"]
    }
    # 08:00, 20:00 (failed) and 09:00 UTC are 17:00, 05:00 and 18:00 in Tokyo.
    assert busy == {5: (1, 1), 17: (1, 0), 18: (1, 0)}
    days = {row["weekday"]: (row["executions"], row["failed"]) for row in by_weekday.rows}
    assert list(days) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    # Sun 1 June 17:00, Mon 2 June 05:00 (failed), Tue 3 June 18:00.
    assert {d: v for d, v in days.items() if v[0]} == {"Sun": (1, 0), "Mon": (1, 1), "Tue": (1, 0)}
    assert by_hour.rows[5]["bar"] == "█" * metrics.BAR_WIDTH


def test_peak_hours_follow_daylight_saving_time() -> None:
    before = _record(datetime(2025, 3, 9, 6, 30, tzinfo=UTC))  # 01:30 EST
    after = _record(datetime(2025, 3, 9, 7, 30, tzinfo=UTC))  # 03:30 EDT, an hour later
    by_hour, _ = metrics.peak_usage([before, after], NEW_YORK)
    assert [row["hour"] for row in by_hour.rows if row["executions"]] == [1, 3]
