"""Aggregates computed in SQL (the optional ``Aggregates`` methods of docs/storage.md) give
what the Python path of ``phaser_analytics.aggregates`` gives on the same records: for
generated histories under every filter and zone, through the command line against a
SQLite and a JSON store holding the same imports, and after an old database upgrades."""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import asdict, is_dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phaser_analytics import aggregates
from phaser_analytics.cli import cli
from phaser_analytics.models import (
    AggregatedStats,
    AnalyticsQuery,
    ExecutionRecord,
    ExecutionStatus,
    PhaseRecord,
    PhaseStatus,
)
from phaser_analytics.stores.json_files import JsonStore
from phaser_analytics.stores.sqlite import SqliteStore

UTC = timezone.utc
ZONES = (
    None,
    UTC,
    ZoneInfo("Europe/Paris"),
    ZoneInfo("Asia/Kolkata"),  # +05:30: local hours start at half past a UTC hour
    ZoneInfo("America/St_Johns"),  # -03:30 and daylight saving
    ZoneInfo("Australia/Lord_Howe"),  # a half-hour daylight-saving shift
    timezone(timedelta(hours=5, minutes=45)),
    timezone(timedelta(minutes=7)),  # no zone has it: slots straddle every hour
)
PROJECTS = ("/work/alpha", "/work/beta")
DOCUMENTS = ("audit-one.md", "audit-two.md", "other.md", None)
TITLES = ("Setup", "Build", "", "Deploy")
ERRORS = (None, "Tests failed", "Timeout after 30 s")
REASONS = ("Flaky test", "flaky  TEST.", "Merge conflict", "  ", ".", "Disk full!", "Ünïcode ÄÖ")
# A few instants, each written with several offsets: equal starts must be resolved alike.
INSTANTS = [datetime(2024, 3, 30, 23, 50, tzinfo=UTC) + timedelta(hours=7 * i, seconds=i)
            for i in range(12)] + [datetime(2024, 10, 27, 0, 59, 59, 999999, tzinfo=UTC),
                                   datetime(2023, 12, 31, 18, 30, tzinfo=UTC),
              # either side of midnight at +01:12:01, in one UTC minute
              datetime(2024, 5, 1, 22, 47, 30, tzinfo=UTC),
              datetime(2024, 5, 1, 22, 47, 59, 500000, tzinfo=UTC)]  # fmt: skip
OFFSETS = [timezone(timedelta(minutes=m)) for m in (0, 60, -210, 330, 345)]


@st.composite
def records(draw: st.DrawFn) -> ExecutionRecord:
    started = draw(st.none() | st.sampled_from(INSTANTS))
    if started is not None:
        started = started.astimezone(draw(st.sampled_from(OFFSETS)))
    completed = None
    if started is not None and draw(st.booleans()):
        seconds = draw(st.floats(0, 90_000).map(lambda s: round(s, 3)))
        completed = started + timedelta(seconds=seconds)
    phases = [
        PhaseRecord(
            phase_number=draw(st.integers(1, 5)),
            title=draw(st.sampled_from(TITLES)),
            status=draw(st.sampled_from(list(PhaseStatus))),
            error_message=draw(st.sampled_from(ERRORS)),
        )
        for _ in range(draw(st.integers(0, 4)))
    ]
    planned = draw(st.none() | st.integers(0, 8))
    tokens = draw(st.none() | st.integers(0, 10**9))
    return ExecutionRecord(
        execution_id=draw(st.uuids()).hex if draw(st.booleans()) else str(draw(st.uuids())),
        audit_document=draw(st.sampled_from(DOCUMENTS)),
        project_name="alpha",
        project_path=draw(st.sampled_from(PROJECTS)),
        started_at=started,
        completed_at=completed,
        date_only=draw(st.booleans()) and completed is not None and draw(st.booleans()),
        status=draw(st.sampled_from(list(ExecutionStatus))),
        phases_planned=planned,
        phases_completed=draw(st.none() | st.integers(0, 9)),
        baseline_tests=draw(st.none() | st.integers(0, 500)),
        final_tests=draw(st.none() | st.integers(0, 500)),
        reported_test_delta=draw(st.none() | st.integers(-20, 20)),
        base_commit=draw(st.text("0123456789abcdef", min_size=6, max_size=6)),
        phases=phases,
        failure_reasons=draw(st.lists(st.sampled_from(REASONS), max_size=3)),
        tokens={"total": tokens} if tokens is not None else None,
        cost_usd=draw(st.none() | st.floats(0, 50).map(lambda c: round(c, 6))),
    )


queries = st.builds(
    AnalyticsQuery,
    limit=st.none() | st.integers(1, 6),
    since=st.none() | st.sampled_from(INSTANTS),
    until=st.none() | st.sampled_from(INSTANTS),
    status=st.none() | st.sampled_from(list(ExecutionStatus)),
    document=st.none() | st.sampled_from(("audit", "two", "")),
)


def same(a: Any, b: Any) -> bool:
    """Equal, floats to a relative 1e-9 (a database may add in another order) and
    datetimes as instants and as written (their offset too)."""
    if is_dataclass(a) and is_dataclass(b):
        return type(a) is type(b) and same(asdict(a), asdict(b))
    if hasattr(a, "_fields") and hasattr(b, "_fields"):  # PhaseSummary, ReasonCount, Usage
        return type(a) is type(b) and same(
            {n: getattr(a, n) for n in a._fields}, {n: getattr(b, n) for n in b._fields}
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return (a is None) == (b is None) and (
            a is None or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
        )
    if isinstance(a, datetime) and isinstance(b, datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    return bool(a == b) and type(a) is type(b)


def python_path(store: SqliteStore, query: AnalyticsQuery, project: str | None, name: str,
                *args: Any) -> Any:  # fmt: skip
    """What :mod:`phaser_analytics.aggregates` computes from the store's entries/records."""
    entries = list(store.find(query, project=project))
    if name == "stats":
        return AggregatedStats.compute(entries)
    if name == "stats_by_period":
        return aggregates.stats_by_period(entries, *args)
    if name == "usage":
        return aggregates.usage(entries, *args)
    return getattr(aggregates, name)(list(store.read(entries)), *args)


CALLS = [
    ("stats", ()),
    *(("stats_by_period", (by, zone)) for by in aggregates.PERIODS for zone in ZONES),
    *(("usage", (zone,)) for zone in ZONES),
    ("phase_summaries", ()),
    ("reason_counts", ()),
    ("reason_counts", (2,)),  # the top two, as failures --top 2 asks
]


def sql(store: SqliteStore, query: AnalyticsQuery, project: str | None, name: str,
        *args: Any) -> Any:  # fmt: skip
    return getattr(store, name)(query, *args, project=project)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    history=st.lists(records(), max_size=25),
    query=queries,
    project=st.sampled_from((None, *PROJECTS)),
)
def test_every_aggregate_in_sql_equals_the_python_path(
    history: list[ExecutionRecord], query: AnalyticsQuery, project: str | None
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "store.db")
        try:
            store.save(history)
            for name, args in CALLS:
                expected = python_path(store, query, project, name, *args)
                found = sql(store, query, project, name, *args)
                assert same(found, expected), (name, args, found, expected)
            # Again, from the sums the grouped queries kept.
            expected = python_path(store, query, project, "stats")
            assert same(sql(store, query, project, "stats"), expected)
        finally:
            store.close()


def test_every_start_in_every_zone_with_starts_either_side_of_a_boundary(tmp_path: Path) -> None:
    """Each instant, written with each offset, in each status: starts either side of a
    local midnight or hour, and of daylight-saving changes, land where Python puts them."""
    statuses = list(ExecutionStatus)
    history = [
        ExecutionRecord(
            execution_id=f"run-{i:02d}-{j}", project_path=PROJECTS[0], base_commit=f"{i}-{j}",
            started_at=instant.astimezone(offset), status=statuses[(i + j) % 3],
            completed_at=instant + timedelta(minutes=i), cost_usd=0.1 * j,
        )
        for i, instant in enumerate(INSTANTS) for j, offset in enumerate(OFFSETS)
    ]  # fmt: skip
    store = SqliteStore(tmp_path / "store.db")
    store.save(history)
    for query in (AnalyticsQuery(), AnalyticsQuery(limit=7), AnalyticsQuery(status=statuses[1])):
        for name, args in CALLS:
            expected = python_path(store, query, None, name, *args)
            assert same(sql(store, query, None, name, *args), expected), (name, args)


def test_the_machines_zone_is_the_one_python_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --tz, days and hours are the machine's local ones (here Paris, with its
    daylight-saving changes), as ``astimezone()`` gives them."""
    import time

    store = SqliteStore(tmp_path / "store.db")
    store.save(_generated(40, seed=3))
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    try:
        for name, args in CALLS:
            if None in args:
                expected = python_path(store, AnalyticsQuery(), None, name, *args)
                assert same(sql(store, AnalyticsQuery(), None, name, *args), expected), name
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize(("name", "args"), CALLS)
def test_an_empty_store_aggregates_to_nothing(tmp_path: Path, name: str, args: tuple) -> None:
    store = SqliteStore(tmp_path / "store.db")
    query = AnalyticsQuery()
    assert same(sql(store, query, None, name, *args), python_path(store, query, None, name, *args))


def test_a_sum_beyond_sqlites_integers_is_left_to_python(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.db")
    big = [ExecutionRecord(execution_id=f"big-{i}", project_path="/p", base_commit=str(i),
                           tokens={"total": 2**53}) for i in range(1100)]  # fmt: skip
    store.save(big)
    with pytest.raises(aggregates.NotAggregated):
        store.stats(None)
    chosen = aggregates.Selected(store, None)
    assert chosen.stats().total_tokens == 1100 * 2**53


# -- the command line: the same output from SQLite as from the JSON store -----------------------


def _history(project: Path) -> list[ExecutionRecord]:
    """A month of executions of ``project`` with phases, reasons, tokens and gaps."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from history import varied_record

    made = [varied_record(project, i, name="alpha") for i in range(48)]
    made[7].started_at = None  # no start: in no period or hour
    made[7].completed_at = None
    return made


@pytest.fixture
def twin_stores(tmp_path: Path) -> tuple[Path, str]:
    """A project whose JSON store and a SQLite store hold the same executions."""
    project = tmp_path / "alpha"
    project.mkdir()
    history = _history(project.resolve())
    JsonStore.for_project(project).save([ExecutionRecord.from_dict(r.to_dict()) for r in history])
    url = f"sqlite:///{tmp_path / 'store.db'}"
    sqlite = SqliteStore(tmp_path / "store.db")
    sqlite.save([ExecutionRecord.from_dict(r.to_dict()) for r in history])
    sqlite.close()
    return project, url


ARGUMENTS = [
    ["trends"],
    ["trends", "--by", "week", "--tz", "Asia/Kolkata"],
    ["trends", "--by", "month", "--tz", "America/St_Johns", "--status", "failed"],
    ["trends", "--since", "2024-12-05", "--until", "2024-12-20", "--tz", "UTC"],
    ["failures"],
    ["failures", "--tz", "Asia/Kathmandu", "--document", "audit"],
    ["phases"],
    ["phases", "--status", "partial", "--since", "2024-12-10"],
    ["phases", "--status", "failed"],
    ["trends", "--by", "month", "--tz", "Europe/Paris"],
    ["failures", "--tz", "America/New_York"],
    ["show", "--since", "2024-11-01"],
    ["show", "--last", "3", "--status", "success"],
]


def _normalised(output: str, fmt: str) -> Any:
    if fmt != "json":
        return output
    document = json.loads(output)
    document.pop("generated_at", None)
    return document


def assert_same_output(project: Path, url: str, arguments: list[str], fmt: str) -> None:
    """The command's output from the store at ``url`` is the JSON store's, on stdout and
    stderr (the generated-at moment aside)."""
    from click.testing import CliRunner

    common = ["--project", str(project), "--format", fmt]
    if arguments[0] == "show" and fmt == "json":
        common.append("--verbose")
    runner = CliRunner()
    from_json = runner.invoke(cli, ["analytics", *arguments, *common])
    from_db = runner.invoke(cli, ["analytics", *arguments, *common, "--store", url])
    assert from_json.exit_code == 0, from_json.output
    assert from_db.exit_code == 0, from_db.output
    expected = _normalised(from_json.stdout, fmt)
    assert same(_normalised(from_db.stdout, fmt), expected)
    assert from_db.stderr == from_json.stderr


def assert_aggregated_in_sql(
    monkeypatch: pytest.MonkeyPatch, store_class: type, project: Path, url: str, command: str
) -> None:
    """The SQL path is the one taken: the Python aggregates and reading records fail."""
    from click.testing import CliRunner

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the Python path was taken")

    for name in ("stats_by_period", "usage", "phase_summaries", "reason_counts"):
        monkeypatch.setattr(aggregates, name, refuse)
    monkeypatch.setattr(AggregatedStats, "compute", classmethod(refuse))
    monkeypatch.setattr(store_class, "read", refuse)
    monkeypatch.setattr(store_class, "find", refuse)
    result = CliRunner().invoke(
        cli, ["analytics", command, "--project", str(project), "--store", url, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stats"]["total_executions"] == 48


@pytest.mark.parametrize("fmt", ["table", "json"])
@pytest.mark.parametrize("arguments", ARGUMENTS, ids=" ".join)
def test_the_commands_show_the_same_from_sqlite_as_from_json(
    twin_stores: tuple[Path, str], arguments: list[str], fmt: str
) -> None:
    assert_same_output(*twin_stores, arguments, fmt)


@pytest.mark.parametrize("command", ["trends", "failures", "phases"])
def test_against_sqlite_the_commands_read_no_record_and_aggregate_in_sql(
    twin_stores: tuple[Path, str], command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_aggregated_in_sql(monkeypatch, SqliteStore, *twin_stores, command)


# -- the phase and reason rows: filled on upgrade, kept in step, rebuilt by doctor -------------


def _every_aggregate_matches(store: SqliteStore) -> None:
    from collections import Counter

    # store info's counts (from the pre-aggregated hours) are the executions' per project
    counted = Counter(entry.project_path for entry in store.find())
    info = store.info()
    assert {p.path: p.count for p in info.projects} == dict(counted)
    assert info.count == sum(counted.values())
    for query in (AnalyticsQuery(), AnalyticsQuery(status=ExecutionStatus.FAILED)):
        for project in (None, PROJECTS[0]):
            for name, args in CALLS:
                expected = python_path(store, query, project, name, *args)
                assert same(sql(store, query, project, name, *args), expected), (name, args)


def _rows(path: Path, table: str) -> int:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        db.close()


def _sum(path: Path, table: str, column: str) -> int:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return db.execute(f"SELECT coalesce(sum({column}), 0) FROM {table}").fetchone()[0]
    finally:
        db.close()


def _generated(count: int, seed: int = 1) -> list[ExecutionRecord]:
    """``count`` executions drawn from the pools the generated histories use (a fixed
    seed), with phases, reasons, equal starts and unknown values."""
    import random

    pick = random.Random(seed)
    made = []
    for i in range(count):
        started = pick.choice([None, *INSTANTS])
        if started is not None:
            started = started.astimezone(pick.choice(OFFSETS))
        completed = started + timedelta(seconds=pick.random() * 9000) if started else None
        phases = [
            PhaseRecord(pick.randint(1, 5), pick.choice(TITLES), pick.choice(list(PhaseStatus)),
                        error_message=pick.choice(ERRORS))
            for _ in range(pick.randint(0, 4))
        ]  # fmt: skip
        made.append(
            ExecutionRecord(
                execution_id=f"gen-{seed}-{i:03d}", audit_document=pick.choice(DOCUMENTS),
                project_path=pick.choice(PROJECTS), started_at=started, completed_at=completed,
                status=pick.choice(list(ExecutionStatus)), phases_planned=pick.randint(0, 6),
                phases_completed=pick.randint(0, 6), base_commit=f"g{seed}-{i}", phases=phases,
                failure_reasons=pick.sample(REASONS, pick.randint(0, 3)),
                cost_usd=round(pick.random() * 3, 6),
            )
        )  # fmt: skip
    return made


def _database_as_of(path: Path, upto: str, records: list[ExecutionRecord]) -> None:
    """The database at ``path`` as the release whose last migration was ``upto`` left it:
    that release's schema (the migrations up to ``upto``) and the rows its save wrote,
    which are today's in the tables that schema has (no migration since changed them)."""
    import sqlite3

    from phaser_analytics.stores import sqlite_schema

    current = path.with_name(f"current-{path.name}")
    store = SqliteStore(current)
    store.save(records)
    store.close()
    old = sqlite3.connect(path, isolation_level=None)
    assert sqlite_schema.migrate(old, upto=upto)[-1] == upto
    tables = sorted(
        name for (name,) in old.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if name != "_migrations"
    )  # fmt: skip
    old.execute("ATTACH ? AS current", (str(current),))
    old.execute("BEGIN")
    for table in tables:
        old.execute(f"INSERT INTO {table} SELECT * FROM current.{table}")
    old.execute("COMMIT")
    old.execute("DETACH current")
    old.close()


def _applied(path: Path) -> list[str]:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return [name for (name,) in db.execute("SELECT name FROM _migrations ORDER BY rowid")]
    finally:
        db.close()


def _schema(path: Path) -> set[tuple[str, str]]:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return set(db.execute("SELECT name, sql FROM sqlite_master"))
    finally:
        db.close()


@pytest.mark.parametrize(
    "upto", ["m002_quarantine", "m003_phases_and_reasons", "m005_project_counts"],
    ids=["before-m003", "before-m004", "before-m006"],
)  # fmt: skip
def test_a_database_of_a_previous_schema_upgrades_with_nothing_lost(
    tmp_path: Path, upto: str
) -> None:
    from phaser_analytics.stores import sqlite_schema

    project, history = _two_projects(tmp_path)
    path = tmp_path / "old.db"
    _database_as_of(path, upto, history)
    names = [m.__name__ for m in sqlite_schema.MIGRATIONS]
    assert _applied(path) == names[: names.index(upto) + 1]

    store = SqliteStore(path)
    info = store.info()
    assert info.schema_version == sqlite_schema.MIGRATIONS[-1].__name__
    assert info.count == len(history)
    assert _rows(path, "phases") == sum(len(r.phases) for r in history)
    # The pre-aggregates are filled from the rows already stored.
    assert _sum(path, "execution_hours", "total") == len(history)
    assert _sum(path, "phase_counts", "runs") == sum(len(r.phases) for r in history)
    assert _sum(path, "reason_counts", "executions") == _rows(path, "failure_reasons") > 0
    _every_aggregate_matches(store)
    assert not [f for f in store.check() if f.problem]
    read = {r.execution_id: r.to_dict() for r in store.read(store.find())}
    assert read == {r.execution_id: r.to_dict() for r in history}
    store.close()
    # The upgraded schema is the one a new database gets.
    assert _schema(path) == _schema(tmp_path / f"current-{path.name}")
    assert_failures_as_python_counts(path, project)


def test_delete_replace_and_quarantine_keep_the_phase_rows_in_step(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = SqliteStore(path)
    history = _generated(24)
    store.save(history)
    assert _rows(path, "phases") == sum(len(r.phases) for r in history)

    gone = store.delete([history[0].execution_id, history[1].execution_id])
    assert len(gone) == 2
    changed = ExecutionRecord.from_dict(history[2].to_dict())
    changed.phases = [PhaseRecord(9, "Replaced", PhaseStatus.FAILED, error_message="new")]
    changed.failure_reasons = ["A new reason"]
    assert store.save([changed], replace=True)[0].action.value == "replaced"
    kept = [changed, *history[3:]]
    assert _rows(path, "phases") == sum(len(r.phases) for r in kept)
    _every_aggregate_matches(store)
    assert [s.title for s in store.phase_summaries(None) if s.phase == 9] == ["Replaced"]
    assert not [f for f in store.check() if f.problem]  # the pre-aggregates kept in step

    # A record that does not load is quarantined when read, and its rows go with it.
    import sqlite3

    victim = next(r for r in kept if r.phases)
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE executions SET record = '{\"status\": 1}' WHERE execution_id = ?",
                   (victim.execution_id,))  # fmt: skip
    db.close()
    store.warn = lambda message: None
    list(store.read(store.find()))
    assert _rows(path, "phases") == sum(len(r.phases) for r in kept if r is not victim)
    _every_aggregate_matches(store)
    assert not [f for f in store.check() if f.problem]
    store.delete([r.execution_id for r in kept if r is not victim])
    assert (_rows(path, "execution_hours"), _rows(path, "phase_counts")) == (0, 0)


def test_doctor_finds_and_rebuilds_phase_rows_that_do_not_match(tmp_path: Path) -> None:
    import sqlite3

    from click.testing import CliRunner

    path = tmp_path / "store.db"
    store = SqliteStore(path)
    history = _generated(12)
    store.save(history)
    store.close()
    db = sqlite3.connect(path)
    with db:
        db.execute("DELETE FROM phases WHERE rowid IN (SELECT rowid FROM phases LIMIT 3)")
        db.execute("INSERT INTO failure_reasons SELECT * FROM failure_reasons LIMIT 1")
    db.close()
    url = f"sqlite:///{path}"
    project = tmp_path / "project"
    project.mkdir()
    checked = CliRunner().invoke(cli, ["analytics", "doctor", "--store", url,
                                       "--project", str(project)])  # fmt: skip
    assert "do not match their records" in checked.output
    assert checked.exit_code != 0
    repaired = CliRunner().invoke(cli, ["analytics", "doctor", "--repair", "--store", url,
                                        "--project", str(project)])  # fmt: skip
    assert repaired.exit_code == 0, repaired.output
    assert "rebuilt them from the records" in repaired.output
    store = SqliteStore(path)
    assert not [f for f in store.check() if f.problem]
    assert _rows(path, "phases") == sum(len(r.phases) for r in history)
    _every_aggregate_matches(store)


def test_projects_global_shows_the_same_from_sqlite_as_from_the_projects_json_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``projects --global``: per-project totals, one SQL query per project against a
    SQLite store of both projects, equal to those of the registered projects' JSON stores."""
    from click.testing import CliRunner

    from phaser_analytics.project_registry import register_project

    url = f"sqlite:///{tmp_path / 'store.db'}"
    sqlite = SqliteStore(tmp_path / "store.db")
    for name, count in (("alpha", 30), ("beta", 11)):
        project = (tmp_path / name).resolve()
        project.mkdir()
        made = _history(project)[:count]
        for record in made:
            record.project_name = name
        copies = [ExecutionRecord.from_dict(r.to_dict()) for r in made]
        JsonStore.for_project(project).save(copies)
        sqlite.save([ExecutionRecord.from_dict(r.to_dict()) for r in made])
        register_project(project, name, count)
    sqlite.close()
    monkeypatch.chdir(tmp_path / "alpha")

    def breakdown(*extra: str) -> Any:
        args = ["analytics", "projects", "--global", "--format", "json", "--tz", "UTC", *extra]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        return document["breakdown"], document["stats"]

    for extra in ((), ("--status", "failed")):
        assert same(breakdown(*extra, "--store", url), breakdown(*extra))


# -- the pre-aggregates (m004): read instead of the rows, and rebuilt by doctor -----------------


def test_the_totals_are_read_from_the_pre_aggregates_and_doctor_rebuilds_them(
    tmp_path: Path,
) -> None:
    import sqlite3

    from click.testing import CliRunner

    path = tmp_path / "store.db"
    store = SqliteStore(path)
    history = _generated(30)
    store.save(history)
    store.close()
    db = sqlite3.connect(path)
    with db:  # damage both tables behind the triggers' back
        db.execute("UPDATE execution_hours SET total = total + 5, successful = successful + 5 "
                   "WHERE rowid = (SELECT min(rowid) FROM execution_hours)")  # fmt: skip
        db.execute("UPDATE phase_counts SET runs = runs + 7 "
                   "WHERE rowid = (SELECT min(rowid) FROM phase_counts)")  # fmt: skip
    db.close()
    store = SqliteStore(path)
    assert store.stats(None).total_executions == len(history) + 5  # read from the table
    assert sum(s.runs for s in store.phase_summaries(None)) == sum(
        len(r.phases) for r in history) + 7  # fmt: skip
    store.close()

    url = f"sqlite:///{path}"
    project = tmp_path / "project"
    project.mkdir()
    doctor = ["analytics", "doctor", "--store", url, "--project", str(project)]
    checked = CliRunner().invoke(cli, doctor)
    assert "pre-aggregated totals" in checked.output
    assert checked.exit_code != 0
    repaired = CliRunner().invoke(cli, [*doctor, "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert "rebuilt them from the rows" in repaired.output
    store = SqliteStore(path)
    assert store.stats(None).total_executions == len(history)
    assert not [f for f in store.check() if f.problem]
    _every_aggregate_matches(store)


PRE_AGGREGATED = [
    ["trends"],
    ["trends", "--global", "--by", "week", "--tz", "Europe/Paris"],
    ["trends", "--tz", "America/New_York", "--by", "month"],
    ["failures", "--global"],
    ["failures", "--tz", "Europe/Paris"],
    ["phases"],
    ["phases", "--global", "--status", "failed"],
]


@pytest.mark.parametrize("arguments", PRE_AGGREGATED, ids=" ".join)
def test_the_pre_aggregates_give_what_python_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arguments: list[str]
) -> None:
    """Through the command line, over two projects (``--global`` too) and in zones with
    daylight saving: the breakdown and totals from the SQLite store's pre-aggregated tables
    (read: the test above changes them behind the triggers' back and the output follows)
    are those Python computes from the two projects' JSON stores of the same executions."""
    from click.testing import CliRunner

    from phaser_analytics.project_registry import register_project

    alpha, beta = (tmp_path / "alpha").resolve(), (tmp_path / "beta").resolve()
    alpha.mkdir()
    beta.mkdir()
    history = _history(alpha)
    for record in history[::3]:
        record.project_path, record.project_name = str(beta), "beta"
    path = tmp_path / "store.db"
    store = SqliteStore(path)
    store.save([ExecutionRecord.from_dict(r.to_dict()) for r in history])
    store.close()
    for project, name in ((alpha, "alpha"), (beta, "beta")):
        mine = [r for r in history if r.project_path == str(project)]
        JsonStore.for_project(project).save(mine)
        register_project(project, name, len(mine))
    monkeypatch.chdir(alpha)

    def output(*store_arguments: str) -> Any:
        command = ["analytics", *arguments, "--project", str(alpha), "--format", "json",
                   *store_arguments]  # fmt: skip
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 0, result.output
        document = json.loads(result.stdout)
        return document["breakdown"], document["stats"], result.stderr

    from_tables = output("--store", f"sqlite:///{path}")
    assert from_tables[1]["total_executions"] > 0
    assert same(from_tables, output())


def test_a_batch_with_repeats_saves_each_execution_once_and_keeps_the_totals_in_step(
    tmp_path: Path,
) -> None:
    """``save`` looks the batch up at once and inserts it at once: an execution twice in one
    batch (by identity, or by id) is stored once, a replacement of one saved earlier in the
    same batch replaces it, and the pre-aggregates count what is stored."""
    store = SqliteStore(tmp_path / "store.db")
    history = _generated(10)
    twin = ExecutionRecord.from_dict(history[3].to_dict())
    twin.execution_id = "another-id-0001"  # the same identity
    same_id = ExecutionRecord.from_dict(history[4].to_dict())
    same_id.base_commit = "a-different-commit"  # the same id, another identity
    saved = store.save([*history, twin, same_id])
    assert [o.action.value for o in saved] == ["imported"] * 10 + ["already"] * 2
    assert [o.execution_id for o in saved[10:]] == [history[3].execution_id,
                                                     history[4].execution_id]  # fmt: skip
    fresh = _generated(3, seed=9)
    changed = ExecutionRecord.from_dict(fresh[0].to_dict())
    changed.status = ExecutionStatus.FAILED
    changed.phases = [PhaseRecord(7, "Again", PhaseStatus.FAILED, error_message="again")]
    saved = store.save([*fresh, changed], replace=True)
    assert [o.action.value for o in saved] == ["imported"] * 3 + ["replaced"]
    assert store.info().count == 13
    assert [s.runs for s in store.phase_summaries(None) if s.phase == 7] == [1]
    assert not [f for f in store.check() if f.problem]
    _every_aggregate_matches(store)


def test_replacing_the_newest_execution_keeps_its_phases_counted(tmp_path: Path) -> None:
    """``import --force`` of the report just imported: its phase rows are deleted and
    written again, and SQLite gives the new rows the deleted ones' rowids; the phase
    counts still count them (they once did not)."""
    store = SqliteStore(tmp_path / "store.db")
    history = _generated(4)
    for record in history:
        record.phases = [
            PhaseRecord(1, "Set-up", PhaseStatus.COMPLETED),
            PhaseRecord(2, "Change", PhaseStatus.FAILED, error_message="no"),
        ]
        store.save([record])  # one batch each: the last one saved has the largest rowids
    again = ExecutionRecord.from_dict(history[-1].to_dict())
    again.phases[1].status = PhaseStatus.COMPLETED
    assert [o.action.value for o in store.save([again], replace=True)] == ["replaced"]
    runs = {s.phase: (s.runs, s.failures) for s in store.phase_summaries(None)}
    assert runs == {1: (4, 0), 2: (4, 3)}
    assert not [f for f in store.check() if f.problem]
    _every_aggregate_matches(store)


# -- the pre-counted failure reasons (m006): read instead of the reason rows --------------------


def _two_projects(tmp_path: Path, count: int = 80) -> tuple[Path, list[ExecutionRecord]]:
    """Generated executions (equal counts, equal and unknown starts, one reason in several
    wordings) of two projects, the first of them a directory ``--project`` names."""
    alpha = (tmp_path / "alpha").resolve()
    alpha.mkdir(exist_ok=True)
    made = _generated(count, seed=3)
    for record in made:
        if record.project_path == PROJECTS[0]:
            record.project_path = str(alpha)
    return alpha, made


def _failures(project: Path, *arguments: str) -> tuple[Any, str]:
    """stdout (JSON without its generated-at moment) and stderr of ``failures``."""
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["analytics", "failures", "--project", str(project),
                                      "--tz", "UTC", *arguments])  # fmt: skip
    assert result.exit_code == 0, result.output
    fmt = "json" if "json" in arguments else "table"
    return _normalised(result.stdout, fmt), result.stderr


def assert_failures_as_python_counts(path: Path, project: Path) -> None:
    """``failures`` against the SQLite store at ``path`` prints what it prints against the
    project's JSON store holding the same records (whose reasons Python counts), in every
    format and with a cut; every project's reasons (``--global``) are the Python path's
    over the records; and doctor finds nothing."""
    import shutil

    store = SqliteStore(path)
    records = list(store.read(store.find()))
    assert not [f for f in store.check() if f.problem]
    assert store.reason_counts(None) == aggregates.reason_counts(records)
    for top in (1, 2, 4):
        assert store.reason_counts(None, top) == aggregates.reason_counts(records, top)
    store.close()
    shutil.rmtree(project / ".phaser", ignore_errors=True)
    JsonStore.for_project(project).save([r for r in records if r.project_path == str(project)])
    url = f"sqlite:///{path}"
    for arguments in (["--format", "json"], ["--format", "csv"], ["--top", "2"], []):
        # (same: the totals' float sums may differ in the last place, added in another order)
        assert same(_failures(project, *arguments, "--store", url), _failures(project, *arguments))


def test_failures_reads_the_reason_counts_kept_in_step_by_delete_replace_and_quarantine(
    tmp_path: Path,
) -> None:
    import sqlite3

    project, history = _two_projects(tmp_path)
    path = tmp_path / "store.db"
    store = SqliteStore(path)
    store.save(history[:50])
    store.save(history[50:])  # a second batch adds to the counts
    store.close()
    assert_failures_as_python_counts(path, project)

    store = SqliteStore(path)
    mine = [r for r in history if r.project_path == str(project) and r.failure_reasons]
    store.delete([r.execution_id for r in mine[:4]])  # the newest of a reason among them
    changed = ExecutionRecord.from_dict(mine[5].to_dict())
    changed.failure_reasons = ["A new reason", "Merge conflict"]
    replaced = ExecutionRecord.from_dict(mine[6].to_dict())
    replaced.failure_reasons = []
    outcomes = store.save([changed, replaced], replace=True)
    assert [o.action.value for o in outcomes] == ["replaced", "replaced"]
    store.close()
    assert_failures_as_python_counts(path, project)

    db = sqlite3.connect(path)  # a record that does not load is quarantined when read
    with db:
        db.execute("UPDATE executions SET record = '{}' WHERE execution_id = ?",
                   (mine[7].execution_id,))  # fmt: skip
    db.close()
    store = SqliteStore(path, warn=lambda message: None)
    list(store.read(store.find()))
    store.close()
    assert_failures_as_python_counts(path, project)

    db = sqlite3.connect(path)
    with db:  # reason rows changed by hand: the trigger keeps the counts in step
        db.execute("UPDATE failure_reasons SET reason_key = 'edited', reason = 'Edited' "
                   "WHERE rowid IN (SELECT rowid FROM failure_reasons LIMIT 3)")  # fmt: skip
        db.execute("UPDATE failure_reasons SET started_ts = started_ts + 1e6, "
                   "execution_id = 'zz' || execution_id WHERE rowid IN "
                   "(SELECT rowid FROM failure_reasons ORDER BY rowid DESC LIMIT 4)")  # fmt: skip
    db.close()
    store = SqliteStore(path)
    findings = store.check()
    assert [f.message for f in findings if "reason_counts" in f.message] == []
    assert ("Edited", 3) in [(r.reason, r.count) for r in store.reason_counts(None)]
    store.delete([r.execution_id for r in history], missing_ok=True)
    store.close()
    assert _rows(path, "reason_counts") == 0


def test_failures_reads_the_reason_counts_and_doctor_rebuilds_them(tmp_path: Path) -> None:
    """Damaged behind the triggers' back, the counts are what ``failures`` prints (they are
    read, not the reason rows); ``doctor`` says so and ``--repair`` rebuilds them."""
    import sqlite3

    from click.testing import CliRunner

    project, history = _two_projects(tmp_path)
    path = tmp_path / "store.db"
    store = SqliteStore(path)
    store.save(history)
    store.close()
    url = f"sqlite:///{path}"
    before = _failures(project, "--format", "json", "--store", url)
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE reason_counts SET executions = executions + 1000, wording = 'Damaged' "
                   "WHERE project_path = ?", (str(project),))  # fmt: skip
    db.close()
    damaged = _failures(project, "--format", "json", "--store", url)
    assert damaged != before
    assert {r["reason"] for r in damaged[0]["breakdown"]["rows"]} == {"Damaged"}

    doctor = ["analytics", "doctor", "--store", url, "--project", str(project)]
    checked = CliRunner().invoke(cli, doctor)
    assert checked.exit_code != 0
    assert "the failure-reason counts (reason_counts) do not match the reason rows" in (
        checked.output
    )
    repaired = CliRunner().invoke(cli, [*doctor, "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert _failures(project, "--format", "json", "--store", url) == before
    assert_failures_as_python_counts(path, project)


def test_failures_with_a_filter_counts_the_reason_rows(tmp_path: Path) -> None:
    """A status, a time range or a document selects executions: their reason rows are
    counted (the pre-counted table holds every execution's), as Python counts them."""
    project, history = _two_projects(tmp_path)
    path = tmp_path / "store.db"
    store = SqliteStore(path)
    store.save(history)
    store.close()
    JsonStore.for_project(project).save([r for r in history if r.project_path == str(project)])
    url = f"sqlite:///{path}"
    for arguments in (["--status", "failed"], ["--document", "audit-one"],
                      ["--since", "2024-04-01"], ["--until", "2024-05-01"]):  # fmt: skip
        expected = _failures(project, "--format", "json", *arguments)
        assert same(_failures(project, "--format", "json", *arguments, "--store", url), expected)


# -- show's anomalies: the history window read from an index (m008) ----------------------------


def _runs_with_outliers(project: Path) -> list[ExecutionRecord]:
    """260 executions of three documents whose durations, costs, tokens and test counts
    vary as usual, with outliers among the newest and in the middle, executions that
    start at the same instant (in other offsets), and one without a start."""
    import random
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from storage_helpers import make_record

    pick = random.Random(11)
    made = []
    for i in range(260):
        record = make_record(project, hours=(i // 2) * 5, document=f"doc-{i % 3}.md",
                             base_commit=f"o{i}", final_tests=100 + pick.randint(0, 6))  # fmt: skip
        assert record.started_at is not None and record.completed_at is not None
        if i % 2:  # the same instant as the one before, written with another offset
            record.started_at = record.started_at.astimezone(OFFSETS[i % len(OFFSETS)])
        minutes = pick.gauss(40, 4) * (9 if i in (120, 250, 255, 258) else 1)
        record.completed_at = record.started_at + timedelta(minutes=max(minutes, 1))
        record.cost_usd = round(pick.gauss(2, 0.1) * (30 if i in (200, 254, 257) else 1), 4)
        if i % 7 == 0:
            record.cost_usd = None
        made.append(record)
    made[-3].started_at = made[-3].completed_at = None
    return made


@pytest.mark.parametrize(
    "arguments",
    [["--last", "12"], ["--last", "40", "--document", "doc-1"], ["--last", "3"],
     ["--last", "300", "--status", "success"]],
    ids=" ".join,
)  # fmt: skip
def test_show_flags_the_same_anomalies_from_sqlite_as_from_json(
    tmp_path: Path, arguments: list[str]
) -> None:
    """``show``'s anomalies against the SQLite store (whose history window is read from an
    index, only what the rule judges) are those against the JSON store of the same
    executions (whose window is its index entries): the same rows flagged, the same
    reasons, in every format."""
    from click.testing import CliRunner

    project = (tmp_path / "project").resolve()
    project.mkdir()
    history = _runs_with_outliers(project)
    JsonStore.for_project(project).save([ExecutionRecord.from_dict(r.to_dict()) for r in history])
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = SqliteStore(tmp_path / "store.db")
    store.save(history[:100])
    store.save(history[100:])
    store.close()

    def show(*extra: str) -> Any:
        result = CliRunner().invoke(cli, ["analytics", "show", "--project", str(project),
                                          *arguments, *extra])  # fmt: skip
        assert result.exit_code in (0, 1), result.output
        fmt = "json" if "json" in extra else "table"
        return _normalised(result.stdout, fmt), result.stderr, result.exit_code

    from_json = show("--format", "json")
    from_sqlite = show("--format", "json", "--store", url)
    assert same(from_sqlite, from_json)
    flagged = [e for e in from_json[0]["executions"] if e.get("anomalies")]
    if arguments != ["--last", "300", "--status", "success"]:
        assert flagged, "the history holds no anomaly among those shown"
    for extra in (["--format", "csv"], ["--fail-on-anomaly"]):
        assert show(*extra, "--store", url) == show(*extra)



# -- show's history window (m008): SqliteStore.history ------------------------------------------


def _figures(rows: Any) -> list[tuple]:
    return [(r.execution_id, r.audit_document, r.started_at, r.duration_seconds, r.cost_usd,
             r.total_tokens, r.test_delta) for r in rows]  # fmt: skip


@pytest.mark.parametrize(
    "query",
    [AnalyticsQuery(), AnalyticsQuery(until=INSTANTS[5]), AnalyticsQuery(limit=7),
     AnalyticsQuery(until=INSTANTS[3], limit=4), AnalyticsQuery(limit=400),
     AnalyticsQuery(until=INSTANTS[0] - timedelta(days=1)), AnalyticsQuery(limit=0)],
    ids=["all", "until", "limit", "until+limit", "past-the-undated", "none-dated", "limit0"],
)  # fmt: skip
def test_history_gives_what_find_gives(tmp_path: Path, query: AnalyticsQuery) -> None:
    """``show``'s history window (``history``) is the executions ``find`` gives, in its
    order, with the same figures: runs that start at one instant (written with other
    offsets) are ordered by id, undated ones come last, ``until`` and a limit cut alike."""
    store = SqliteStore(tmp_path / "h.db")
    history = _generated(300, seed=3)
    for i, record in enumerate(history[::3]):
        record.tokens, record.baseline_tests, record.final_tests = {"total": 1000 * i}, 10, 10 + i
    store.save(history)
    assert any(r.started_at is None for r in history)
    for project in (*PROJECTS, "/work/none"):
        expected = _figures(store.find(query, project=project))
        assert _figures(store.history(query, project=project)) == expected
    assert _figures(store.history(query)) == _figures(store.find(query))
    assert _figures(store.history(AnalyticsQuery(), project=PROJECTS[0]))[-1][2] is None


def test_the_history_window_is_read_from_the_covering_index(tmp_path: Path) -> None:
    """The window is answered from the index of a project's executions alone (m008), never
    from the rows that carry whole records."""
    store = SqliteStore(tmp_path / "h.db")
    store.save(_generated(50))
    statements: list[str] = []
    store.db.set_trace_callback(statements.append)
    judged = store.history(AnalyticsQuery(until=INSTANTS[6], limit=200), project=PROJECTS[0])
    store.db.set_trace_callback(None)
    assert judged
    (sql,) = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    plan = " ".join(row[-1] for row in store.db.execute(f"EXPLAIN QUERY PLAN {sql}"))
    assert "USING COVERING INDEX executions_project" in plan, plan
    assert "TEMP B-TREE" not in plan, plan

# -- each project's count (m007): store info without grouping ----------------------------------


def test_store_info_counts_each_project_from_a_table_kept_in_step(tmp_path: Path) -> None:
    """``store info``'s counts (which ``show`` reads first) come from ``projects``, which a
    batch, a delete, a replacement, a quarantine and a move to another project by hand keep
    equal to the rows; ``doctor`` finds a damaged count and ``--repair`` rebuilds it."""
    import sqlite3
    from collections import Counter

    from click.testing import CliRunner

    path = tmp_path / "store.db"
    store = SqliteStore(path)
    history = _generated(40)
    store.save(history[:25])
    store.save(history[25:])
    _every_aggregate_matches(store)
    store.delete([history[0].execution_id, history[1].execution_id])
    moved = ExecutionRecord.from_dict(history[2].to_dict())
    moved.project_path = "/work/gamma"
    assert store.save([moved], replace=True)[0].action.value == "replaced"
    _every_aggregate_matches(store)
    assert {p.path for p in store.info().projects} == {*PROJECTS, "/work/gamma"}
    store.close()
    # an execution with phases and failure reasons moved to another project by hand: its
    # count and hours follow (triggers), its phase and reason rows are found and rebuilt
    mover = next(r for r in history[5:] if r.phases and r.failure_reasons)
    # and one whose reasons were reworded by hand, as many as before
    reworded = next(r for r in history[5:] if r.failure_reasons and r is not mover)
    data = reworded.to_dict()
    data["failure_reasons"] = [f"Reworded {n}" for n in range(len(reworded.failure_reasons))]
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE executions SET record = ? WHERE execution_id = ?",
                   (json.dumps(data), reworded.execution_id))  # fmt: skip
        db.execute("UPDATE executions SET project_path = '/work/delta' WHERE execution_id = ?",
                   (mover.execution_id,))  # fmt: skip
        db.execute("UPDATE executions SET record = '{}' WHERE execution_id = ?",
                   (history[4].execution_id,))  # fmt: skip
    db.close()
    store = SqliteStore(path, warn=lambda message: None)
    list(store.read(store.find()))  # the damaged record is quarantined
    assert {p.path: p.count for p in store.info().projects}["/work/delta"] == 1
    assert store.info().count == 40 - 3
    rows_differ = "the phase and failure-reason rows of 2 execution(s) do not match"
    assert [f.message for f in store.check() if f.problem] == [
        f"{rows_differ} their records: 'doctor --repair' rebuilds them"
    ]
    assert [f.message for f in store.check(repair=True) if f.problem] == []
    assert not [f for f in store.check() if f.problem]
    _every_aggregate_matches(store)
    for name, args in CALLS:
        expected = python_path(store, AnalyticsQuery(), "/work/delta", name, *args)
        assert same(sql(store, AnalyticsQuery(), "/work/delta", name, *args), expected), name
    store.close()

    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE projects SET executions = executions + 9")
    db.close()
    url = f"sqlite:///{path}"
    project = tmp_path / "project"
    project.mkdir()
    doctor = ["analytics", "doctor", "--store", url, "--project", str(project)]
    checked = CliRunner().invoke(cli, doctor)
    assert checked.exit_code != 0
    assert "the projects' counts (projects) do not match the executions" in checked.output
    assert CliRunner().invoke(cli, [*doctor, "--repair"]).exit_code == 0
    store = SqliteStore(path)
    assert store.info().count == 37
    _every_aggregate_matches(store)
    counted = Counter(entry.project_path for entry in store.find())
    assert {p.path: p.count for p in store.info().projects} == dict(counted)
    store.delete([r.execution_id for r in history], missing_ok=True)
    assert store.info().projects == []
    assert _rows(path, "projects") == 0


def test_show_global_flags_the_same_anomalies_from_sqlite_as_from_the_projects_json_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``show --global``: each shown execution judged against its own project's history,
    read from the one SQLite store (its index) or from each registered project's JSON
    store, flags the same executions for the same reasons."""
    from click.testing import CliRunner

    from phaser_analytics.project_registry import register_project

    path = tmp_path / "store.db"
    store = SqliteStore(path)
    for name in ("alpha", "beta"):
        project = (tmp_path / name).resolve()
        project.mkdir()
        made = _runs_with_outliers(project)[: 200 if name == "beta" else 260]
        for record in made:
            record.project_name = name
        JsonStore.for_project(project).save([ExecutionRecord.from_dict(r.to_dict()) for r in made])
        store.save(made)
        register_project(project, name, len(made))
    store.close()
    monkeypatch.chdir(tmp_path / "alpha")

    def flagged(*extra: str) -> list[tuple[str, list[Any]]]:
        result = CliRunner().invoke(cli, ["analytics", "show", "--global", "--last", "30",
                                          "--format", "json", *extra])  # fmt: skip
        assert result.exit_code == 0, result.output
        shown = json.loads(result.stdout)["executions"]
        return [(e["execution_id"], e.get("anomalies", [])) for e in shown]

    from_json = flagged()
    assert [a for _, a in from_json if a], "no anomaly among those shown"
    assert flagged("--store", f"sqlite:///{path}") == from_json



_FIGURE = st.one_of(st.none(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False))
_SUMS = {"duration_sum", "delta_sum", "planned", "completed", "token_sum", "cost_sum"}


@given(st.lists(_FIGURE, min_size=0, max_size=19))
@settings(max_examples=200, deadline=None)
def test_a_row_of_sums_reads_as_the_figures_say(row: list[Any]) -> None:
    """``StatsPart.of_row`` (a row of a store's sums; a whole row takes a direct path)
    gives what the constructor gives from the figures by name: ``NULL`` sums 0, the rest
    as they are, a short row padded with the defaults, a long one refused."""
    fields = aggregates._FIELDS
    if len(row) > len(fields):
        with pytest.raises(TypeError):
            aggregates.StatsPart.of_row(row)
        return
    expected = dict(aggregates._DEFAULTS)
    short = zip(fields, row, strict=False)  # a short row: the rest keep their defaults
    expected.update({n: 0 if v is None and n in _SUMS else v for n, v in short})
    made = aggregates.StatsPart.of_row(row)
    assert {n: getattr(made, n) for n in fields} == expected
    assert made == aggregates.StatsPart(**expected)


def _part_rows() -> st.SearchStrategy[list[Any]]:
    """Rows as a store gives them: counts and sums numbers, the extremes possibly NULL."""
    return st.tuples(*(
        st.one_of(st.none(), st.floats(-1e9, 1e9))
        if name.endswith(("_min", "_max", "_ts")) else st.integers(0, 2**40)
        for name in aggregates._FIELDS
    )).map(list)  # fmt: skip


@given(_part_rows(), _part_rows())
@settings(max_examples=200, deadline=None)
def test_adding_parts_sums_the_counts_and_keeps_the_extremes(
    mine: list[Any], theirs: list[Any]
) -> None:
    part = aggregates.StatsPart.of_row(mine)
    part.add(aggregates.StatsPart.of_row(theirs))
    for name, a, b in zip(aggregates._FIELDS, mine, theirs, strict=True):
        present = [v for v in (a, b) if v is not None]
        if name.endswith(("_min", "first_ts")):
            assert getattr(part, name) == (min(present) if present else None)
        elif name.endswith(("_max", "last_ts")):
            assert getattr(part, name) == (max(present) if present else None)
        else:
            assert getattr(part, name) == a + b
