"""The PostgreSQL store's aggregates in SQL (the optional ``Aggregates`` methods) give what
the Python path of ``phaser_analytics.aggregates`` gives on the same records, against a real
server: generated histories under every filter and zone (tests/test_sql_aggregates.py's
generators and comparison), and the commands' output equal to a JSON store's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pgserver import PgServer, run_sql
from test_sql_aggregates import (
    ARGUMENTS,
    CALLS,
    INSTANTS,
    OFFSETS,
    PROJECTS,
    _history,
    assert_aggregated_in_sql,
    assert_same_output,
    python_path,
    queries,
    records,
    same,
)

from phaser_analytics import aggregates
from phaser_analytics.models import (
    AnalyticsQuery,
    ExecutionRecord,
    ExecutionStatus,
    PhaseRecord,
    PhaseStatus,
)
from phaser_analytics.stores.json_files import JsonStore
from phaser_analytics.stores.postgres import PostgresStore

#: Every aggregate, the record-reading ones too.
ALL_CALLS = [*CALLS, ("phase_summaries", ()), ("reason_counts", ()), ("reason_counts", (2,))]


def in_sql(store: PostgresStore, query: AnalyticsQuery, project: str | None, name: str,
           *args: Any) -> Any:  # fmt: skip
    return getattr(store, name)(query, *args, project=project)


@pytest.fixture(scope="module")
def shared_store(postgres_server: PgServer) -> Iterator[PostgresStore]:
    """One database for the generated histories (emptied before each)."""
    store = PostgresStore(
        postgres_server.url(postgres_server.create_database()), warn=lambda message: None
    )
    yield store
    store.close()


def refill(store: PostgresStore, history: list[ExecutionRecord]) -> None:
    run_sql(store.settings.conninfo, "DELETE FROM phaser_executions")
    store.save([ExecutionRecord.from_dict(r.to_dict()) for r in history])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    history=st.lists(records(), max_size=25),
    query=queries,
    project=st.sampled_from((None, *PROJECTS)),
)
def test_every_aggregate_in_sql_equals_the_python_path(
    shared_store: PostgresStore,
    history: list[ExecutionRecord],
    query: AnalyticsQuery,
    project: str | None,
) -> None:
    refill(shared_store, history)
    for name, args in ALL_CALLS:
        expected = python_path(shared_store, query, project, name, *args)
        found = in_sql(shared_store, query, project, name, *args)
        assert same(found, expected), (name, args, found, expected)


def test_every_start_in_every_zone_with_starts_either_side_of_a_boundary(
    shared_store: PostgresStore,
) -> None:
    """Each instant written with each offset, in each status, with phases and reasons: the
    UTC slots the server groups by straddle local midnights and hours; equal instants
    written differently are resolved as the Python path resolves them."""
    statuses = list(ExecutionStatus)
    history = [
        ExecutionRecord(
            execution_id=f"run-{i:02d}-{j}", project_path=PROJECTS[0], base_commit=f"{i}-{j}",
            started_at=instant.astimezone(offset), status=statuses[(i + j) % 3],
            completed_at=instant + timedelta(minutes=i),
            cost_usd=0.1 * j,
            phases=[PhaseRecord(phase_number=1 + (i % 3), title=["", "Build"][j % 2],
                                status=list(PhaseStatus)[(i + j) % 3],
                                error_message=f"error {i}-{j}" if j % 2 else None)],
            failure_reasons=[["Flaky test", "flaky TEST.", "Timeout"][(i + j) % 3]],
        )
        for i, instant in enumerate(INSTANTS) for j, offset in enumerate(OFFSETS)
    ]  # fmt: skip
    refill(shared_store, history)
    for query in (AnalyticsQuery(), AnalyticsQuery(limit=7), AnalyticsQuery(status=statuses[1])):
        for name, args in ALL_CALLS:
            expected = python_path(shared_store, query, None, name, *args)
            found = in_sql(shared_store, query, None, name, *args)
            assert same(found, expected), (name, args, found, expected)


@pytest.mark.parametrize(("name", "args"), ALL_CALLS)
def test_an_empty_store_aggregates_to_nothing(shared_store: PostgresStore, name: str,
                                              args: tuple) -> None:  # fmt: skip
    refill(shared_store, [])
    query = AnalyticsQuery()
    assert same(
        in_sql(shared_store, query, None, name, *args),
        python_path(shared_store, query, None, name, *args),
    )


def test_sums_beyond_64_bits_are_exact(shared_store: PostgresStore) -> None:
    """PostgreSQL sums bigint as numeric: no overflow, no hand-over to Python."""
    big = [ExecutionRecord(execution_id=f"big-{i}", project_path="/p", base_commit=str(i),
                           tokens={"total": 2**53}) for i in range(1100)]  # fmt: skip
    refill(shared_store, big)
    assert shared_store.stats(None).total_tokens == 1100 * 2**53


# -- the command line: the same output from PostgreSQL as from the JSON store -------------------


@pytest.fixture
def twin_stores(tmp_path: Path, pg_url: str) -> tuple[Path, str]:
    """A project whose JSON store and a PostgreSQL database hold the same executions."""
    project = tmp_path / "alpha"
    project.mkdir()
    history = _history(project.resolve())
    JsonStore.for_project(project).save([ExecutionRecord.from_dict(r.to_dict()) for r in history])
    with PostgresStore(pg_url, warn=lambda message: None) as store:
        store.save([ExecutionRecord.from_dict(r.to_dict()) for r in history])
    return project, pg_url


@pytest.mark.parametrize("fmt", ["table", "json"])
@pytest.mark.parametrize("arguments", ARGUMENTS, ids=" ".join)
def test_the_commands_show_the_same_from_postgresql_as_from_json(
    twin_stores: tuple[Path, str], arguments: list[str], fmt: str
) -> None:
    assert_same_output(*twin_stores, arguments, fmt)


@pytest.mark.parametrize("command", ["trends", "failures", "phases"])
def test_against_postgresql_the_commands_read_no_record_and_aggregate_in_sql(
    twin_stores: tuple[Path, str], command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_aggregated_in_sql(monkeypatch, PostgresStore, *twin_stores, command)


def test_a_blank_reason_before_one_of_the_same_key_gives_its_wording(
    shared_store: PostgresStore,
) -> None:
    """aggregates.reasons_of keys only non-blank reasons, in the order they first appear,
    but takes each key's wording from the first reason with that key, blank or not."""
    history = [
        ExecutionRecord(execution_id=f"r{9 - i}", project_path="/p", base_commit=str(i),
                        failure_reasons=reasons)
        for i, reasons in enumerate([["  ", "b", "."], ["x", " ", "B!"], [".", "  "]])
    ]  # fmt: skip
    refill(shared_store, history)
    expected = python_path(shared_store, AnalyticsQuery(), None, "reason_counts")
    assert same(in_sql(shared_store, AnalyticsQuery(), None, "reason_counts"), expected)
    assert "  " in [r.reason for r in expected]  # the case this test is about



@pytest.mark.parametrize("variant", [None, "Timeout."])
def test_reasons_of_their_own_key_are_counted_per_wording(
    shared_store: PostgresStore, monkeypatch: pytest.MonkeyPatch, variant: str | None
) -> None:
    """When no two wordings share a key, failures counts per wording (the short query);
    one more wording of a key already there ("Timeout." beside "timeout") takes the
    general query. Both equal the Python path: ties broken by the newest execution, then
    by where the reason stands in it; repeats within an execution count once."""
    from datetime import datetime, timezone

    start = datetime(2024, 5, 1, 8, tzinfo=timezone.utc)
    reasons = [["timeout", "disk full"], ["disk full", "timeout", "timeout"], ["flaky"],
               ["", "oom"], ["timeout"], [variant or "oom"], []]  # fmt: skip
    history = [
        ExecutionRecord(execution_id=f"x-{i:02d}", project_path=PROJECTS[i % 2],
                        base_commit=str(i), failure_reasons=reasons[i % len(reasons)],
                        started_at=None if i == 3 else start + timedelta(hours=i // 2))
        for i in range(40)
    ]  # fmt: skip
    # A wording only undated executions give: its newest is found among the undated.
    history += [ExecutionRecord(execution_id=f"u-{i}", project_path=PROJECTS[0],
                                base_commit=f"u{i}", failure_reasons=["never dated", "flaky"])
                for i in range(2)]  # fmt: skip
    refill(shared_store, history)
    undated = shared_store.reason_counts(AnalyticsQuery())
    assert [(r.reason, r.count, r.last_seen) for r in undated if r.reason == "never dated"] == [
        ("never dated", 2, None)
    ]
    statements: list[str] = []
    original = psycopg.Connection.execute

    def spied(self: Any, query: Any, params: Any = None, **options: Any) -> Any:
        statements.append(str(query))
        return original(self, query, params, **options)

    monkeypatch.setattr(psycopg.Connection, "execute", spied)
    for query in (AnalyticsQuery(), AnalyticsQuery(since=start + timedelta(hours=5))):
        for project in (None, PROJECTS[1]):
            for top in (None, 2):
                statements.clear()
                found = shared_store.reason_counts(query, top, project=project)
                expected = aggregates.reason_counts(
                    shared_store.read(shared_store.find(query, project=project)), top)
                assert same(found, expected), (query, project, top)
                short = not any("keys AS (" in sql for sql in statements)
                assert short is (variant is None), statements
                # The short path is one statement over the reasons (no DISTINCT first).
                reads = [sql for sql in statements if "phaser_reasons" in sql]
                assert len(reads) == (1 if short else 2), reads

# -- from the partial sums per project and hour (schema version 5) ------------------------------


def test_whole_hour_zones_read_the_hours_table_and_cut_hours_from_the_rows(
    shared_store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """stats, trends' periods and usage read phaser_hours in zones that keep whole hours
    (UTC, Paris across its daylight-saving change), taking the executions of the hours a
    --since/--until cuts from their rows; in a +05:30 or -03:30 zone, or with a document or
    limit, or a status (but usage, which needs only each status' count), they group the
    rows. Every answer is the Python path's."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    statuses = list(ExecutionStatus)
    start = datetime(2024, 3, 30, 20, 7, tzinfo=timezone.utc)
    history = [
        ExecutionRecord(
            execution_id=f"h-{i:03d}", project_path=PROJECTS[i % 2], base_commit=str(i),
            started_at=start + timedelta(minutes=37 * i), status=statuses[i % 3],
            completed_at=start + timedelta(minutes=37 * i + i % 50),
            cost_usd=0.01 * i, tokens={"total": 100 + i},
            failure_reasons=[["Flaky test", "Timeout", "flaky  TEST."][(i // 5) % 3]] * (i % 2),
        )
        for i in range(300)
    ] + [ExecutionRecord(execution_id="undated", project_path=PROJECTS[0], base_commit="u")]
    refill(shared_store, history)
    statements: list[str] = []
    original = psycopg.Connection.execute

    def spied(self: Any, query: Any, params: Any = None, **options: Any) -> Any:
        statements.append(str(query))  # every statement any connection runs
        return original(self, query, params, **options)

    monkeypatch.setattr(psycopg.Connection, "execute", spied)
    # Each bound within an hour that holds executions on both of its sides.
    cut = [None, start + timedelta(hours=29, minutes=40, seconds=7),
           start + timedelta(days=4, minutes=10)]  # fmt: skip
    calls = [("stats", ()), *(("stats_by_period", (by, ZoneInfo("Europe/Paris")))
                               for by in ("day", "week")),
             ("stats_by_period", ("day", timezone.utc)), ("usage", (ZoneInfo("Europe/Paris"),))]
    reasons_found = 0
    for since in cut:
        for until in cut[::-1]:
            query = AnalyticsQuery(since=since, until=until)
            for project in (None, PROJECTS[1]):
                for name, args in calls:
                    statements.clear()
                    found = in_sql(shared_store, query, project, name, *args)
                    assert same(found, python_path(shared_store, query, project, name, *args))
                    assert any("FROM phaser_hours" in sql for sql in statements), name
                    assert not any("located AS" in sql for sql in statements), name
                    if since is not None and (until is None or since < until):
                        assert any("UNION ALL" in sql for sql in statements), name
                for status in statuses:  # usage counts one status from the hours too
                    of_status = AnalyticsQuery(since=since, until=until, status=status)
                    paris = ZoneInfo("Europe/Paris")
                    statements.clear()
                    found = in_sql(shared_store, of_status, project, "usage", paris)
                    assert same(found, python_path(shared_store, of_status, project, "usage",
                                                   paris)), status
                    assert any("FROM phaser_hours" in sql for sql in statements), status
                    assert not any("located AS" in sql for sql in statements), status
                statements.clear()
                found = in_sql(shared_store, query, project, "reason_counts")
                expected = python_path(shared_store, query, project, "reason_counts")
                assert same(found, expected)
                reasons_found += len(expected)
                # From phaser_reasons alone, which carries each reason's start and project.
                assert not any("selected s JOIN" in sql for sql in statements)
    assert reasons_found > 20
    for query, zone in [(AnalyticsQuery(), ZoneInfo("Asia/Kolkata")),
                        (AnalyticsQuery(), ZoneInfo("America/St_Johns")),
                        (AnalyticsQuery(status=statuses[2]), timezone.utc),
                        (AnalyticsQuery(limit=50), timezone.utc)]:  # fmt: skip
        for name, args in [("stats_by_period", ("day", zone)), ("usage", (zone,))]:
            if name == "usage" and query.status is not None and zone is timezone.utc:
                continue  # counted from the hours: above
            statements.clear()
            found = in_sql(shared_store, query, None, name, *args)
            assert same(found, python_path(shared_store, query, None, name, *args))
            assert any("located AS" in sql for sql in statements), (name, zone)
            assert not any("FROM phaser_hours h" in sql for sql in statements), (name, zone)


@pytest.mark.parametrize("zone_name", [None, "Europe/Paris", "Asia/Kolkata"])
def test_trends_and_failures_have_their_statistics_from_the_same_sums(
    shared_store: PostgresStore, monkeypatch: pytest.MonkeyPatch, zone_name: str | None
) -> None:
    """trends and failures need the selection's statistics beside its periods or hours:
    in a zone of whole hours the same scan of phaser_hours gives them (undated executions
    included when nothing bounds the dates), so stats() reads nothing more; in +05:30 the
    rows are read and stats() asks on its own. Every figure equals the store's stats() and
    the Python path, daylight saving and bounds included."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from phaser_analytics.aggregates import Selected
    from phaser_analytics.models import ExecutionStatus

    zone = ZoneInfo(zone_name) if zone_name else None
    start = datetime(2024, 3, 30, 22, 17, tzinfo=timezone.utc)  # Paris changes on the 31st
    statuses = list(ExecutionStatus)
    history = [
        ExecutionRecord(execution_id=f"s-{i:02d}", project_path=PROJECTS[i % 2],
                        base_commit=str(i), status=statuses[i % len(statuses)],
                        started_at=None if i % 7 == 3 else start + timedelta(minutes=97 * i),
                        cost_usd=0.0125 * i, failure_reasons=["flaky"] if i % 3 else [])
        for i in range(50)
    ]  # fmt: skip
    refill(shared_store, history)
    statements: list[str] = []
    original = psycopg.Connection.execute

    def spied(self: Any, query: Any, params: Any = None, **options: Any) -> Any:
        statements.append(str(query))
        return original(self, query, params, **options)

    bounded = AnalyticsQuery(since=start + timedelta(minutes=150),
                             until=start + timedelta(hours=40))  # fmt: skip
    for query in (AnalyticsQuery(), bounded):
        for project in (None, PROJECTS[1]):
            expected = shared_store.stats(query, project=project)
            records = list(shared_store.read(shared_store.find(query, project=project)))
            assert same(expected, aggregates.AggregatedStats.compute(records))
            for name, args in (("stats_by_period", ("week", zone)), ("usage", (zone,))):
                selected = Selected(shared_store, query, project)
                monkeypatch.setattr(psycopg.Connection, "execute", spied)
                statements.clear()
                getattr(selected, name)(*args)
                asked = len(statements)
                stats = selected.stats()
                monkeypatch.undo()
                assert same(stats, expected), (name, query, project)
                whole_hours = zone_name != "Asia/Kolkata"
                assert (len(statements) == asked) is whole_hours, statements[asked:]
