"""The PostgreSQL store against a real server (tests/pgserver.py): what it writes, what it
refuses, its schema versions, its timeouts and its one-line errors. The behaviour every
backend shares is tests/test_store_conformance.py's; the CLI and many-process cases are in
tests/test_postgres_team.py."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pgserver import PgServer, run_sql
from storage_helpers import DAY0, make_record

from phaser_analytics.errors import ExecutionNotFoundError, StorageError
from phaser_analytics.models import (
    AggregatedStats,
    AnalyticsQuery,
    ExecutionRecord,
    ExecutionStatus,
    PhaseRecord,
    PhaseStatus,
)
from phaser_analytics.stores import open_store, postgres, postgres_schema
from phaser_analytics.stores.base import redact, sort_newest_first
from phaser_analytics.stores.postgres import PostgresStore

REPO = Path(__file__).resolve().parent.parent
PLUS2 = timezone(timedelta(hours=2))


def quarantined(store: PostgresStore, url: str, execution_id: str) -> bool:
    """Damage an execution's record from another client (its phases no list), then read it
    through ``store``: the read moves it to the quarantine table. Whether it went."""
    run_sql(url, "UPDATE phaser_executions SET record = jsonb_set(record, '{phases}', "
            "'\"not a list\"') WHERE execution_id = %s", (execution_id,))
    entries = [e for e in store.find() if e.execution_id == execution_id]
    read = list(store.read(entries))
    moved = run_sql(url, "SELECT count(*) FROM phaser_quarantine WHERE execution_id = %s",
                    (execution_id,))
    return len(entries) == 1 and read == [] and moved == [(1,)]


def opened(url: str, **kwargs: object) -> PostgresStore:
    store = open_store(url, **kwargs)
    assert isinstance(store, PostgresStore)
    return store


def count_rows(server: PgServer, url: str) -> int:
    dbname = url.rsplit("/", 1)[1].split("?")[0]
    with server.connect(dbname) as conn:
        if conn.execute("SELECT to_regclass('phaser_executions')").fetchone()[0] is None:
            return 0
        return conn.execute("SELECT count(*) FROM phaser_executions").fetchone()[0]


def rich_record(**extra: object):
    """A record with every field set, times in two zones, phases, tokens and extras."""
    return make_record(
        "/work/demo",
        hours=3,
        document="document-7-reverse.md",
        document_title="Reverse — ünïcode 🚀",
        branch="audit/2024-12-06",
        started_at=datetime(2024, 12, 6, 10, 30, tzinfo=PLUS2),
        completed_at=datetime(2024, 12, 6, 11, 53, 23, tzinfo=timezone.utc),
        phaser_version="1.7.0",
        status=ExecutionStatus.PARTIAL,
        phases_planned=7,
        phases_completed=8,
        final_commit="f" * 40,
        commit_count=7,
        files_changed=12,
        phases=[PhaseRecord(phase_number=1, title="Set-up", status=PhaseStatus.COMPLETED,
                            commit_sha="abc1234", duration_seconds=61.5, tests_before=1,
                            tests_after=3, error_message="none, really", retry_count=2)],
        report_path="/work/demo/EXECUTION_REPORT.md",
        reported_test_delta=32,
        tag="v1.2",
        lines_added=1486,
        lines_removed=37,
        failure_reasons=["flaky test", "timeout"],
        tokens={"input": 10, "output": 20, "cache_creation": 3, "cache_read": 4, "total": 37},
        tokens_by_model={"claude": {"input": 10, "cost_usd": 0.1}},
        cost_usd=0.1 + 0.2,
        extra={"z": 1, "a": [1, 2, {"nested": None}], "text": "tab\tquote\"back\\slash"},
        **extra,
    )


# -- what it stores ----------------------------------------------------------------------------


def test_every_field_round_trips(pg_url: str) -> None:
    record = rich_record()
    with opened(pg_url) as store:
        assert [o.action for o in store.save([record])] == ["imported"]
    with opened(pg_url) as store:
        again = store.get(record.execution_id)
        (entry,) = store.find()
    assert again.to_dict() == record.to_dict()
    assert again.started_at.utcoffset() == timedelta(hours=2)  # as written, not as UTC
    assert entry.identity == record.identity
    assert entry.cost_usd == record.cost_usd


def test_typed_columns_and_the_machine(postgres_server: PgServer, pg_url: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHASER_MACHINE", "ci-runner-7")
    record = rich_record()
    with opened(pg_url) as store:
        store.save([record])
        assert store.machines() == [("ci-runner-7", 1)]
    dbname = pg_url.rsplit("/", 1)[1]
    with postgres_server.connect(dbname) as conn:
        row = conn.execute(
            "SELECT pg_typeof(started_at)::text, pg_typeof(cost_usd)::text, "
            "pg_typeof(record)::text, cost_usd::text, started_at = %s, project_path, "
            "imported_from FROM phaser_executions", (record.started_at,)
        ).fetchone()
        indexes = {r[0] for r in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'phaser_executions'")}
    assert row == ("timestamp with time zone", "numeric", "jsonb", "0.30000000000000004", True,
                   "/work/demo", "ci-runner-7")
    assert {"phaser_executions_identity", "phaser_executions_id_ci",
            "phaser_executions_newest", "phaser_executions_project"} <= indexes


def test_saving_is_idempotent_by_identity_and_replace_keeps_the_id(pg_url: str) -> None:
    first = make_record("/p", hours=1)
    with opened(pg_url) as store:
        assert [o.action for o in store.save([first, make_record("/p", hours=2)])] == [
            "imported", "imported"]
        # The same execution imported again (a new id, the same identity): already there.
        twin = make_record("/p", hours=1, execution_id="another-id", tag="new")
        outcome = store.save([twin])
        assert [(o.action, o.execution_id) for o in outcome] == [("already", first.execution_id)]
        assert store.get(first.execution_id).tag is None
        # Repeated within one batch: counted once.
        third = make_record("/p", hours=3)
        assert [o.action for o in store.save([third, third])] == ["imported", "already"]
        # --force: replaced, the stored id kept, the new content written.
        outcome = store.save([twin], replace=True)
        assert [(o.action, o.execution_id) for o in outcome] == [("replaced", first.execution_id)]
        assert twin.execution_id == first.execution_id
        assert store.get(first.execution_id).tag == "new"
        # The same id with another identity is the same execution too.
        same_id = make_record("/p", hours=9, execution_id=first.execution_id.upper())
        assert [o.action for o in store.save([same_id])] == ["already"]
        assert store.info().count == 3


def test_find_orders_filters_and_limits_as_the_python_path(pg_url: str) -> None:
    records = [make_record("/a", hours=h, status=s, document=d)
               for h, s, d in [(5, ExecutionStatus.SUCCESS, "one.md"),
                               (1, ExecutionStatus.FAILED, "two.md"),
                               (5, ExecutionStatus.PARTIAL, "three-one.md"),
                               (9, ExecutionStatus.SUCCESS, "Two.md")]]
    records.append(make_record("/b", hours=3, document="b.md"))
    records.append(make_record("/a", hours=0, document="nostart.md", started_at=None,
                               completed_at=None, execution_id="zzzz-no-start"))
    records.append(make_record("/a", hours=0, document="nostart2.md", started_at=None,
                               completed_at=None, execution_id="aaaa-no-start"))
    with opened(pg_url) as store:
        store.save(records)
        queries = [
            None,
            AnalyticsQuery(limit=2),
            AnalyticsQuery(status=ExecutionStatus.SUCCESS),
            AnalyticsQuery(document="two"),
            AnalyticsQuery(document="one", limit=1),
            AnalyticsQuery(since=records[1].started_at, until=records[0].started_at),
        ]
        for query in queries:
            for project in (None, "/a"):
                wanted = sort_newest_first(
                    r for r in records
                    if (query is None or query.matches(r))
                    and (project is None or r.project_path == project))
                if query is not None and query.limit is not None:
                    wanted = wanted[: query.limit]
                got = [e.execution_id for e in store.find(query, project=project)]
                assert got == [r.execution_id for r in wanted], (query, project)


def test_aggregates_in_sql_equal_the_python_path(pg_url: str, tmp_path: Path) -> None:
    """stats() is computed by the server; AggregatedStats.compute by Python over the same
    entries, from this store and from a SQLite store holding the same records: the same
    figures, cost included (summed as numeric, rounded alike)."""
    records = []
    for i in range(40):
        status = list(ExecutionStatus)[i % 3]
        extra: dict[str, object] = {"cost_usd": round(0.1 * (i % 7) + 0.01 * i, 4)}
        if i % 5 == 0:
            extra.update(final_tests=None, reported_test_delta=None)
        if i % 6 == 0:
            extra.update(tokens={"total": 1000 + i})
        if i % 4 == 0:
            extra.update(date_only=True)
        if i % 9 == 0:
            extra.update(phases_planned=None)
        if i % 8 == 0:
            extra.update(phases_completed=9)  # "9 of 6": capped at 1 in the rate
        if i == 13:
            extra.update(started_at=None, completed_at=None)
        records.append(make_record("/a" if i % 2 else "/b", hours=i * 7, status=status,
                                   document=f"doc-{i % 4}.md", **extra))
    records[3].started_at = records[3].started_at.astimezone(PLUS2)
    sqlite = open_store(f"sqlite:///{tmp_path / 'same.db'}")
    sqlite.save(records)
    with opened(pg_url) as store:
        store.save(records)
        for query in (None, AnalyticsQuery(limit=7), AnalyticsQuery(document="doc-1"),
                      AnalyticsQuery(status=ExecutionStatus.FAILED),
                      AnalyticsQuery(since=records[10].started_at), AnalyticsQuery(limit=0)):
            for project in (None, "/a"):
                in_sql = store.stats(query, project=project).to_dict()
                assert in_sql == AggregatedStats.compute(store.find(query, project=project)
                                                         ).to_dict()
                assert in_sql == AggregatedStats.compute(sqlite.find(query, project=project)
                                                         ).to_dict()
        empty = AnalyticsQuery(document="no such document")
        assert store.stats(empty).to_dict() == AggregatedStats.compute([]).to_dict()
    sqlite.close()


def test_ids_and_prefixes(pg_url: str) -> None:
    a = make_record("/p", hours=1, execution_id="abcd1234-0000-0000-0000-000000000001")
    b = make_record("/p", hours=2, execution_id="abcd1234-0000-0000-0000-000000000002")
    with opened(pg_url) as store:
        store.save([a, b])
        assert store.get("ABCD1234-0000-0000-0000-000000000001").execution_id == a.execution_id
        compact = b.execution_id.replace("-", "")
        assert store.get(compact).execution_id == b.execution_id
        with pytest.raises(StorageError, match="ambiguous"):
            store.get("abcd1234")
        with pytest.raises(StorageError, match="too short"):
            store.get("abc")
        for bad in ("../etc/passwd", "", "a%", "zzzz"):
            with pytest.raises(ExecutionNotFoundError):
                store.get(bad)
        with pytest.raises(ExecutionNotFoundError):
            store.delete([a.execution_id, "ffff0000"])
        assert store.info().count == 2
        removed = store.delete([a.execution_id, "ffff0000"], missing_ok=True)
        assert [e.execution_id for e in removed] == [a.execution_id]
        assert [e.execution_id for e in store.find()] == [b.execution_id]


def test_big_reads_go_through_a_server_side_cursor(pg_url: str) -> None:
    total = postgres.FETCH_ROWS + 500
    with opened(pg_url) as store:
        store.save([make_record("/p", hours=i) for i in range(total)])
        entries = store.find()
        first = next(entries)
        # The store's session, seen from another: its last statement fetched from a cursor.
        # (Only the store's: an autovacuum worker can be in the database too.)
        (last,) = run_sql(pg_url, "SELECT query FROM pg_stat_activity WHERE datname = "
                          "current_database() AND pid <> pg_backend_pid() AND "
                          "backend_type = 'client backend' AND "
                          "application_name = 'phaser-analytics'")[0]
        assert last.startswith("FETCH") and "phaser_read_" in last, last
        # A write between two fetches does not end the read (the cursor is WITH HOLD).
        store.save([make_record("/q", hours=-1)])
        rest = list(entries)
        assert len(rest) + 1 == total
        assert first.started_at > rest[0].started_at
        records = list(store.read([first, *rest]))
        assert [r.execution_id for r in records] == [e.execution_id for e in [first, *rest]]


def test_a_damaged_record_is_set_aside_once_and_doctor_finds_and_repairs(
    postgres_server: PgServer, pg_url: str
) -> None:
    good, bad = make_record("/p", hours=1), make_record("/p", hours=2)
    warnings: list[str] = []
    with opened(pg_url, warn=warnings.append) as store:
        store.save([good, bad])
        with postgres_server.connect(pg_url.rsplit("/", 1)[1]) as conn:
            conn.execute("UPDATE phaser_executions SET record = record || '{\"status\": 7}' "
                         "WHERE execution_id = %s", (bad.execution_id,))
            conn.execute("UPDATE phaser_executions SET branch = 'wrong' "
                         "WHERE execution_id = %s", (good.execution_id,))
        problems = [f.check for f in store.check() if f.problem]
        assert problems == ["record", "columns"]
        assert [r.execution_id for r in store.read(store.find())] == [good.execution_id]
        assert len(warnings) == 1 and bad.execution_id in warnings[0]
        assert "moved to the phaser_quarantine table" in warnings[0]
        assert [r.execution_id for r in store.read(store.find())] == [good.execution_id]
        assert len(warnings) == 1  # set aside: not warned about again
        repaired = store.check(repair=True)
        assert [f.check for f in repaired if f.problem] == []
        assert "1 record(s) in the phaser_quarantine table" in " ".join(
            f.message for f in repaired)
        assert next(store.find(AnalyticsQuery(limit=1))).branch is None  # from the record
        assert store.check()[-1].check == "quarantine"


# -- what it refuses -----------------------------------------------------------------------------


def test_a_batch_that_fails_half_way_leaves_nothing(pg_url: str) -> None:
    kept = make_record("/p", hours=100)
    with opened(pg_url) as store:
        store.save([kept])
        batch = [make_record("/p", hours=i) for i in range(10)]
        batch[6].document_title = "a NUL \x00 PostgreSQL text cannot hold"
        with pytest.raises(StorageError) as failed:
            store.save(batch)
        assert "\n" not in str(failed.value) and "saving 10 execution(s)" in str(failed.value)
        assert [e.execution_id for e in store.find()] == [kept.execution_id]
        # The connection is usable afterwards, and the rest saves.
        del batch[6]
        assert [o.action for o in store.save(batch)] == ["imported"] * 9


def assert_one_line(message: str, server: PgServer, *, dbname: str) -> None:
    assert "\n" not in message
    assert "127.0.0.1" in message and dbname in message
    assert server.role_password not in message and server.superuser_password not in message


def test_an_unreachable_server_is_one_line(postgres_server: PgServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: refused
        url = f"postgresql://phaser:{postgres_server.role_password}@127.0.0.1:{port}/teamdb"
        with pytest.raises(StorageError) as failed:
            open_store(url)
    message = str(failed.value)
    assert_one_line(message, postgres_server, dbname="teamdb")
    assert message.startswith(f"Cannot connect to the PostgreSQL store 127.0.0.1:{port}/teamdb")
    assert "refused" in message


def test_a_wrong_password_is_one_line(postgres_server: PgServer, pg_url: str) -> None:
    url = pg_url.replace(postgres_server.role_password, "s3cret-wrong")
    with pytest.raises(StorageError) as failed:
        open_store(url)
    message = str(failed.value)
    assert_one_line(message, postgres_server, dbname=pg_url.rsplit("/", 1)[1])
    assert "s3cret-wrong" not in message and "password authentication failed" in message


def test_a_missing_database_is_one_line(postgres_server: PgServer) -> None:
    url = postgres_server.url("no_such_db")
    with pytest.raises(StorageError) as failed:
        open_store(url)
    message = str(failed.value)
    assert_one_line(message, postgres_server, dbname="no_such_db")
    assert 'database "no_such_db" does not exist' in message


def test_a_server_that_never_answers_times_out(postgres_server: PgServer) -> None:
    """A port that accepts the connection and then says nothing (a hung server, a
    black-holing proxy): the connect timeout ends the wait."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        port = sock.getsockname()[1]
        url = f"postgresql://phaser@127.0.0.1:{port}/teamdb?connect_timeout=2"
        started = time.monotonic()
        with pytest.raises(StorageError, match=r"no answer within 2 s "
                           r"\(analytics.postgres.connect_timeout\)"):
            open_store(url)
        assert time.monotonic() - started < 30  # a guard, not a measurement


def test_the_statement_timeout_ends_a_blocked_write(postgres_server: PgServer,
                                                    pg_url: str) -> None:
    with opened(pg_url) as store:
        store.save([make_record("/p", hours=1)])
    blocker = psycopg.connect(postgres_server.url(pg_url.rsplit("/", 1)[1]))
    try:
        blocker.execute("LOCK TABLE phaser_executions IN ACCESS EXCLUSIVE MODE")
        with opened(pg_url + "?statement_timeout=1") as store, pytest.raises(
            StorageError, match=r"longer than 1 s \(analytics.postgres.statement_timeout\)"
        ):
            store.save([make_record("/p", hours=2)])
    finally:
        blocker.rollback()
        blocker.close()
    assert count_rows(postgres_server, pg_url) == 1


def test_timeouts_come_from_the_config(pg_url: str, project: Path, isolated_home: Path) -> None:
    (isolated_home / "config.json").write_text(
        '{"analytics": {"postgres": {"statement_timeout": 7, "connect_timeout": 3}}}')
    (project / ".phaser").mkdir()
    (project / ".phaser" / "config.json").write_text(
        '{"analytics": {"postgres": {"statement_timeout": 2.5}}}')
    # The session applies them: test_the_statement_timeout_ends_a_blocked_write.
    with opened(pg_url, project_dir=project) as store:
        assert store.settings.connect_timeout == 3
        assert store.settings.statement_timeout == 2.5
    with opened(pg_url) as store:  # no project: the user's config only
        assert store.settings.statement_timeout == 7
    with opened(pg_url + "?statement_timeout=4", project_dir=project) as store:
        assert store.settings.statement_timeout == 4
    # libpq's own parameters pass through untouched, encoded spaces included.
    with opened(pg_url + "?application_name=a%20b&statement_timeout=4"):
        assert run_sql(pg_url, "SELECT application_name FROM pg_stat_activity WHERE "
                       "datname = current_database() AND pid <> pg_backend_pid() AND "
                       "backend_type = 'client backend'") == [("a b",)]
    (isolated_home / "config.json").write_text(
        '{"analytics": {"postgres": {"statment_timeout": 7}}}')
    with pytest.raises(StorageError, match=r"unknown key 'analytics\.postgres\.statment_timeout'"):
        open_store(pg_url)
    (isolated_home / "config.json").write_text(
        '{"analytics": {"postgres": {"connect_timeout": "soon"}}}')
    with pytest.raises(StorageError, match="number of seconds"):
        open_store(pg_url)


def test_a_bare_url_takes_the_pg_environment(postgres_server: PgServer, pg_url: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    dbname = pg_url.rsplit("/", 1)[1]
    for name, value in (("PGHOST", "127.0.0.1"), ("PGPORT", str(postgres_server.port)),
                        ("PGUSER", "phaser"), ("PGPASSWORD", postgres_server.role_password),
                        ("PGDATABASE", dbname)):
        monkeypatch.setenv(name, value)
    with opened("postgresql://") as store:
        store.save([make_record("/p")])
        assert store.info().location == "postgresql://"
    with opened("postgres:///" + dbname) as store:
        assert store.info().count == 1
    monkeypatch.setenv("PGDATABASE", "elsewhere")
    with pytest.raises(StorageError) as failed:
        open_store("postgresql://")
    assert f"127.0.0.1:{postgres_server.port}/elsewhere" in str(failed.value)
    assert postgres_server.role_password not in str(failed.value)


def test_a_password_is_never_shown(postgres_server: PgServer, pg_url: str) -> None:
    password = postgres_server.role_password
    with opened(pg_url) as store:
        assert password not in store.url and password not in store.info().location
        assert ":***@" in store.info().location
    as_parameter = pg_url.replace(f":{password}@", "@") + f"?password={password}"
    with opened(as_parameter) as store:
        assert password not in store.info().location
    assert redact("postgresql://u:p%40ss@h/db?sslmode=require&password=x") == (
        "postgresql://u:***@h/db?sslmode=require&password=***")
    assert redact("postgresql://") == "postgresql://"
    assert redact("postgres://u@h:5/db") == "postgres://u@h:5/db"


def test_without_psycopg_one_line_says_what_to_install(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from phaser_analytics.stores import open_store\n"
        "from phaser_analytics.errors import StorageError\n"
        "try:\n    open_store('postgresql://u@h/db')\n"
        "except StorageError as exc:\n    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "PostgreSQL stores need psycopg, which is not installed: "
        "pip install 'phaser-analytics[postgres]'")


# -- schema versions -------------------------------------------------------------------------------


@pytest.mark.parametrize("function", ["rewritten", "dropped"])
def test_a_newer_schema_is_refused_untouched(
    postgres_server: PgServer, pg_url: str, function: str
) -> None:
    """A newer phaser-analytics's migrate-schema records its version in phaser_schema and
    rewrites phaser_schema_version() (from schema version 7); without that function the
    table alone says it."""
    with opened(pg_url) as store:
        store.save([make_record("/p")])
    dbname = pg_url.rsplit("/", 1)[1]
    with postgres_server.connect(dbname) as conn:
        conn.execute("INSERT INTO phaser_schema (version, name) VALUES (99, 'from the future')")
        conn.execute(postgres_schema.version_function(99) if function == "rewritten"
                     else "DROP FUNCTION phaser_schema_version(phaser_schema)")
    with pytest.raises(StorageError) as failed:
        open_store(pg_url)
    assert (f"schema version 99, newer than this phaser-analytics knows ({postgres.SCHEMA_VERSION})"
            in str(failed.value))
    with postgres_server.connect(dbname) as conn:
        assert conn.execute("SELECT max(version) FROM phaser_schema").fetchone() == (99,)
        assert conn.execute("SELECT count(*) FROM phaser_executions").fetchone() == (1,)


def test_an_older_schema_is_upgraded_only_by_migrate_schema(
    postgres_server: PgServer, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with opened(pg_url) as store:
        store.save([make_record("/p")])
    now = postgres.SCHEMA_VERSION
    upgrade = (now + 1, "a test column", "ALTER TABLE phaser_executions ADD COLUMN test_only text")
    monkeypatch.setattr(postgres, "MIGRATIONS", (*postgres.MIGRATIONS, upgrade))
    monkeypatch.setattr(postgres, "SCHEMA_VERSION", now + 1)
    with pytest.raises(StorageError, match=f"schema version {now}, older than this "
                       rf"phaser-analytics \({now + 1}\): run 'phaser analytics store "
                       "migrate-schema'"):
        open_store(pg_url)
    store = PostgresStore(pg_url, create=False, check_version=False)
    with store:
        assert store.migrate_schema() == (now, now + 1)
        assert store.migrate_schema() == (now + 1, now + 1)
    with opened(pg_url) as store:
        assert store.info().schema_version == str(now + 1)
        assert store.info().count == 1


def test_a_role_that_may_not_create_tables_is_told_who_may(postgres_server: PgServer) -> None:
    """PostgreSQL 15: only the database owner creates tables in `public`. A team gives CI a
    role that reads and writes rows; the owner creates the schema with migrate-schema."""
    dbname = postgres_server.create_database(owner="postgres")
    url = postgres_server.url(dbname)
    with pytest.raises(StorageError, match="this role may not create them: run 'phaser "
                       "analytics store migrate-schema' as the database's owner"):
        open_store(url)
    owner_url = postgres_server.url(dbname, user="postgres")
    with opened(owner_url) as store:
        assert store.info().schema_version == str(postgres.SCHEMA_VERSION)
    with postgres_server.connect(dbname) as conn:
        conn.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public "
                     "TO phaser")
    with opened(url) as store:
        assert [o.action for o in store.save([make_record("/p")])] == ["imported"]


def test_first_use_by_many_clients_at_once_creates_the_schema_once(pg_url: str) -> None:
    errors: list[BaseException] = []

    def first_use() -> None:
        try:
            with opened(pg_url) as store:
                store.save([make_record("/p", hours=1)])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with opened(pg_url) as store:
        assert store.info().count == 1
    rows = run_sql(pg_url, "SELECT version FROM phaser_schema")
    assert rows == [(version,) for version in range(1, postgres.SCHEMA_VERSION + 1)]


def test_a_row_stored_by_another_client_meanwhile_takes_the_on_conflict_path(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """save() looks up what is stored, then COPYs the rest straight in; when another client
    stored one of them in between (simulated: the look-up sees nothing), the COPY fails on
    the UNIQUE constraint, is rolled back to its savepoint, and INSERT … ON CONFLICT sorts
    the batch out: nothing twice, nothing lost. (Batches of FEW_ROWS or fewer take one
    INSERT … ON CONFLICT instead: set to 0, every batch here takes the COPY path.)"""
    stored = make_record("/p", hours=1)
    monkeypatch.setattr(postgres, "FEW_ROWS", 0)
    with opened(pg_url) as store:
        store.save([stored])
        monkeypatch.setattr(PostgresStore, "_stored_ids", lambda self, rows: {})
        twin = make_record("/p", hours=1, execution_id="fresh-id-for-the-same-execution")
        fresh = make_record("/p", hours=2)
        outcomes = store.save([fresh, twin])
        assert [(o.action, o.execution_id) for o in outcomes] == [
            ("imported", fresh.execution_id), ("already", stored.execution_id)]
        assert store.info().count == 2


# -- executions per project (schema version 2) ----------------------------------------------------


def grouped(postgres_server: PgServer, url: str) -> list[tuple[str | None, str | None, int]]:
    """What a GROUP BY over every row says: the truth the kept counts must equal."""
    with postgres_server.connect(url.rsplit("/", 1)[1]) as conn:
        return sorted(conn.execute(
            "SELECT project_name, project_path, count(*) FROM phaser_executions GROUP BY 1, 2"
        ).fetchall(), key=repr)


def counted(store: PostgresStore) -> list[tuple[str | None, str | None, int]]:
    """What info() says (counted afresh after each write of this store object)."""
    return sorted(((p.name, p.path, p.count) for p in store.info().projects), key=repr)


def test_the_executions_per_project_follow_every_write(
    postgres_server: PgServer, pg_url: str
) -> None:
    """save (COPY and the ON CONFLICT path), --force replacing, delete, quarantine, a
    project without a path or a name, and a write from psql: info() equals a GROUP BY."""
    with opened(pg_url) as store:
        first = [make_record("/a", hours=h) for h in range(5)]
        first += [make_record("/b", hours=h, project_name="B") for h in range(3)]
        first.append(make_record(hours=40, project_name=None, project_path=None))
        store.save(first)
        assert counted(store) == grouped(postgres_server, pg_url)
        assert (None, None, 1) in counted(store) and ("B", "/b", 3) in counted(store)
        # replace: the same executions again, one of them moved to another name
        again = [make_record("/a", hours=h, execution_id=f"x-{h}") for h in range(3)]
        again[0].project_name = "Renamed"
        store.save(again, replace=True)
        assert counted(store) == grouped(postgres_server, pg_url)
        assert ("Renamed", "/a", 1) in counted(store)
        store.save([*again, make_record("/c", hours=1)])  # already there, and one new
        store.delete([r.execution_id for r in first[5:8]])  # every one of /b
        assert counted(store) == grouped(postgres_server, pg_url)
        assert not any(path == "/b" for _, path, _ in counted(store))
        assert quarantined(store, pg_url, first[4].execution_id)
        assert counted(store) == grouped(postgres_server, pg_url)
    with postgres_server.connect(pg_url.rsplit("/", 1)[1]) as conn:
        conn.execute("UPDATE phaser_executions SET project_path = '/moved' "
                     "WHERE project_path = '/c'")
        conn.execute("DELETE FROM phaser_executions WHERE project_path IS NULL")
    with opened(pg_url) as store:
        assert counted(store) == grouped(postgres_server, pg_url)
        assert ("Demo", "/moved", 1) in counted(store)


def test_a_version_1_database_is_counted_when_migrated(
    postgres_server: PgServer, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patched:
        patched.setattr(postgres, "MIGRATIONS", postgres.MIGRATIONS[:1])
        patched.setattr(postgres, "SCHEMA_VERSION", 1)
        with opened(pg_url) as store:
            store.save([make_record(f"/p{h % 3}", hours=h) for h in range(10)])
    with pytest.raises(StorageError, match="schema version 1, older than"):
        open_store(pg_url)
    with PostgresStore(pg_url, create=False, check_version=False) as store:
        assert store.migrate_schema() == (1, postgres.SCHEMA_VERSION)
    with opened(pg_url) as store:
        assert counted(store) == grouped(postgres_server, pg_url)
        assert sum(count for *_, count in counted(store)) == 10


def test_a_role_granted_only_version_1s_tables_still_imports_and_counts(
    postgres_server: PgServer
) -> None:
    """The triggers write the counts as the tables' owner; a role that cannot read them
    (its GRANTs predate the upgrade) gets the counts the slow way."""
    dbname = postgres_server.create_database(owner="postgres")
    with opened(postgres_server.url(dbname, user="postgres")):
        pass
    with postgres_server.connect(dbname) as conn:
        conn.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON phaser_executions, phaser_schema, "
                     "phaser_quarantine TO phaser")
    with opened(postgres_server.url(dbname)) as store:
        store.save([make_record("/p", hours=h) for h in range(4)])
        assert counted(store) == [("Demo", "/p", 4)]
    with postgres_server.connect(dbname) as conn:
        assert conn.execute("SELECT executions FROM phaser_projects").fetchall() == [(4,)]


# -- one INSERT for a few rows, COPY for more: the same outcomes -------------------------------


@pytest.mark.parametrize("few_rows", [0, postgres.FEW_ROWS])
def test_both_save_paths_give_the_same_outcomes(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, few_rows: int
) -> None:
    """New, already stored (same identity, another id), the same id as a stored one,
    repeated within the batch: what each path says and stores."""
    monkeypatch.setattr(postgres, "FEW_ROWS", few_rows)
    stored = make_record("/p", hours=1)
    with opened(pg_url) as store:
        store.save([stored])
        fresh = make_record("/p", hours=2)
        twin = make_record("/p", hours=1, execution_id="another-id-same-execution")
        same_id = make_record("/p", hours=3, execution_id=stored.execution_id)
        repeat = make_record("/p", hours=2, execution_id="repeat-of-fresh")
        outcomes = store.save([fresh, twin, same_id, repeat])
        assert [(o.action, o.execution_id) for o in outcomes] == [
            ("imported", fresh.execution_id), ("already", stored.execution_id),
            ("already", stored.execution_id), ("already", fresh.execution_id)]
        assert twin.execution_id == stored.execution_id
        assert store.info().count == 2
        assert sorted(e.execution_id for e in store.find()) == sorted(
            [stored.execution_id, fresh.execution_id])


def test_phases_and_reasons_tables_follow_the_records_from_the_upgrade_on(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Schema version 4 fills phaser_phases and phaser_reasons from the stored records, and
    its triggers keep them in step with every write (save, --force, delete, quarantine,
    psql): the aggregates read from them equal the Python path's over the records."""
    from phaser_analytics.models import PhaseRecord, PhaseStatus

    def made(hours: int, reasons: list[str], failed: int) -> ExecutionRecord:
        phases = [PhaseRecord(phase_number=n, title=f"Phase {n}",
                              status=PhaseStatus.FAILED if n == failed else PhaseStatus.COMPLETED,
                              error_message=f"error {hours}" if n == failed else None)
                  for n in (1, 2, 3)]  # fmt: skip
        return make_record("/p", hours=hours, phases=phases, failure_reasons=reasons,
                           execution_id=f"run-{hours:02d}")

    with monkeypatch.context() as patched:
        patched.setattr(postgres, "MIGRATIONS", postgres.MIGRATIONS[:3])
        patched.setattr(postgres, "SCHEMA_VERSION", 3)
        with opened(pg_url) as store:
            store.save([made(h, ["Flaky test", "Timeout"][: h % 3], h % 4) for h in range(8)])
    with PostgresStore(pg_url, create=False, check_version=False) as store:
        store.migrate_schema()
    with opened(pg_url) as store:
        children_agree(store)
        assert store.phase_summaries(None)[0].runs == 8
        store.save([made(1, ["Disk full"], 3)], replace=True)  # --force, other content
        children_agree(store)
        store.delete(["run-02", "run-05"])
        assert quarantined(store, pg_url, "run-06")
        children_agree(store)
        run_sql(
            pg_url,
            "UPDATE phaser_executions SET record = jsonb_set(record, '{failure_reasons}', "
            "'[\"From psql\"]') WHERE execution_id = 'run-07'",
        )
        children_agree(store)
        assert any(r.reason == "From psql" for r in store.reason_counts(None))


# -- partial statistics per project and hour (schema version 5) --------------------------------


def children_agree(store: PostgresStore) -> None:
    """The phases and reasons the store aggregates in SQL equal the Python path's over its
    records."""
    from phaser_analytics import aggregates

    records = list(store.read(store.find()))
    assert store.phase_summaries(None) == aggregates.phase_summaries(records)
    assert store.reason_counts(None) == aggregates.reason_counts(records)


def hours_kept(postgres_server: PgServer, url: str) -> list[tuple[Any, ...]]:
    """phaser_hours as the triggers keep it: each project's rows, then (schema version 7)
    the ``everything`` row of each hour, every project's executions."""
    with postgres_server.connect(url.rsplit("/", 1)[1]) as conn:
        return sorted(conn.execute(
            "SELECT everything, project_name, project_path, hour, total, successful, partial, "
            "failed, durations, duration_sum, duration_min, duration_max, deltas, delta_sum, "
            "planned, completed, first_ts, last_ts, tokens, token_sum, costs, cost_sum "
            "FROM phaser_hours"
        ).fetchall(), key=repr)


def hours_truth(postgres_server: PgServer, url: str) -> list[tuple[Any, ...]]:
    """What grouping every execution by project and UTC hour, and by UTC hour alone (the
    ``everything`` rows), says, written out here."""
    sums = (
        "count(*), count(*) FILTER (WHERE status = 'success'), "
        "count(*) FILTER (WHERE status = 'partial'), "
        "count(*) FILTER (WHERE status = 'failed'), count(duration_seconds), "
        "coalesce(sum(duration_seconds), 0), min(duration_seconds), max(duration_seconds), "
        "count(test_delta), coalesce(sum(test_delta), 0), coalesce(sum(phases_planned), 0), "
        "coalesce(sum(CASE WHEN phases_planned IS NOT NULL "
        "THEN least(coalesce(phases_completed, 0), phases_planned) END), 0), "
        "min(started_at), max(started_at), count(total_tokens), "
        "coalesce(sum(total_tokens), 0), count(cost_usd), coalesce(sum(cost_usd), 0)"
    )
    hour = "floor(extract(epoch FROM started_at) / 3600)::bigint"
    with postgres_server.connect(url.rsplit("/", 1)[1]) as conn:
        return sorted(conn.execute(
            f"SELECT false, project_name, project_path, {hour}, {sums} FROM phaser_executions "
            f"GROUP BY 2, 3, 4 UNION ALL SELECT true, NULL, NULL, {hour}, {sums} "
            "FROM phaser_executions GROUP BY 4"
        ).fetchall(), key=repr)


def reasons_disagreeing(postgres_server: PgServer, url: str) -> list[tuple[Any, ...]]:
    """phaser_reasons' rows whose start or project is not their execution's."""
    with postgres_server.connect(url.rsplit("/", 1)[1]) as conn:
        return conn.execute(
            "SELECT r.execution_id FROM phaser_reasons r LEFT JOIN phaser_executions e "
            "USING (execution_id) WHERE e.execution_id IS NULL "
            "OR r.started_at IS DISTINCT FROM e.started_at "
            "OR r.project_path IS DISTINCT FROM e.project_path"
        ).fetchall()


def test_the_hours_table_follows_every_write(
    postgres_server: PgServer, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 5 fills phaser_hours from the stored executions; its triggers keep it equal
    to a GROUP BY over them through save (one INSERT, COPY), --force replacing, delete,
    quarantine, and UPDATE/DELETE from psql, undated executions included."""
    def made(hours: int, **extra: Any) -> Any:
        values: dict[str, Any] = dict(cost_usd=0.1 * hours, tokens={"total": 10 * hours},
                                      base_commit=f"b{hours}",
                                      failure_reasons=["Flaky", "Slow"][: hours % 3])  # fmt: skip
        values.update(extra)
        return make_record(f"/p{hours % 2}", hours=hours // 3, **values)

    with monkeypatch.context() as patched:
        patched.setattr(postgres, "MIGRATIONS", postgres.MIGRATIONS[:4])
        patched.setattr(postgres, "SCHEMA_VERSION", 4)
        with opened(pg_url) as store:
            store.save([made(h) for h in range(30)])
    with PostgresStore(pg_url, create=False, check_version=False) as store:
        assert store.migrate_schema() == (4, postgres.SCHEMA_VERSION)
    kept = hours_kept(postgres_server, pg_url)
    each_project = [row for row in kept if not row[0]]
    assert len(each_project) == 20 and sum(row[4] for row in each_project) == 30
    assert sum(row[4] for row in kept if row[0]) == 30  # every project's, per hour
    assert kept == hours_truth(postgres_server, pg_url)
    # Version 5 gives phaser_reasons each execution's start and project, then keeps them.
    assert reasons_disagreeing(postgres_server, pg_url) == []
    with postgres_server.connect(pg_url.rsplit("/", 1)[1]) as conn:
        assert conn.execute("SELECT count(started_at) FROM phaser_reasons").fetchone() == (30,)
    with opened(pg_url) as store:
        store.save([made(h) for h in range(40, 45)])  # one INSERT
        store.save([made(h) for h in range(50, 50 + 2 * postgres.FEW_ROWS)])  # COPY
        store.save([make_record("/p0", started_at=None, base_commit="undated")])
        assert hours_kept(postgres_server, pg_url) == hours_truth(postgres_server, pg_url)
        # Into hours that hold executions already: added to their sums, min and max.
        store.save([made(h, base_commit=f"again-{h}", cost_usd=None) for h in range(6)])
        store.save([made(h, base_commit=f"more-{h}") for h in range(0, 60, 7)])
        store.save([make_record("/p0", started_at=None, base_commit="undated too")])
        assert hours_kept(postgres_server, pg_url) == hours_truth(postgres_server, pg_url)
        first = next(store.find())
        moved = store.get(first.execution_id)
        moved.started_at = moved.started_at - timedelta(days=3)
        moved.status = postgres.ExecutionStatus.FAILED
        store.save([moved], replace=True)
        assert hours_kept(postgres_server, pg_url) == hours_truth(postgres_server, pg_url)
        store.delete([e.execution_id for e in list(store.find())[3:9]])
        assert quarantined(store, pg_url, next(iter(store.find())).execution_id)
        assert hours_kept(postgres_server, pg_url) == hours_truth(postgres_server, pg_url)
        run_sql(pg_url, "UPDATE phaser_executions SET project_path = '/moved', "
                "started_at = started_at + interval '90 minutes' WHERE project_path = '/p1'")
        run_sql(pg_url, "DELETE FROM phaser_executions WHERE started_at IS NULL")
        kept = hours_kept(postgres_server, pg_url)
        assert kept == hours_truth(postgres_server, pg_url)
        assert any(row[2] == "/moved" for row in kept)
        assert reasons_disagreeing(postgres_server, pg_url) == []
        assert all(row[3] is not None for row in kept)


def insert_triggers(postgres_server: PgServer, url: str) -> dict[str, str]:
    """The triggers that fire on INSERT into phaser_executions: name -> function."""
    with postgres_server.connect(url.rsplit("/", 1)[1]) as conn:
        return dict(conn.execute(
            "SELECT t.tgname, p.proname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE t.tgrelid = 'phaser_executions'::regclass AND NOT t.tgisinternal "
            "AND t.tgtype & 4 <> 0"  # TRIGGER_TYPE_INSERT
        ).fetchall())


def test_version_6_keeps_every_derived_table_with_one_insert_trigger(
    postgres_server: PgServer, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 6 replaces the three insert triggers of versions 2, 4 and 5 by one: after the
    upgrade an INSERT fires that one only, and the projects, phases, reasons and hours it
    keeps equal what the executions say, through one INSERT, COPY, psql and --force."""

    def made(hours: int, **extra: Any) -> ExecutionRecord:
        values: dict[str, Any] = dict(cost_usd=0.5, tokens={"total": 7 * hours},
                                      failure_reasons=["Flaky", "Slow"][: hours % 3],
                                      base_commit=f"c{hours}")  # fmt: skip
        values.update(extra)
        return make_record(f"/p{hours % 3}", hours=hours // 2, **values)

    def exact(store: PostgresStore) -> None:
        assert counted(store) == grouped(postgres_server, pg_url)
        assert hours_kept(postgres_server, pg_url) == hours_truth(postgres_server, pg_url)
        assert reasons_disagreeing(postgres_server, pg_url) == []
        children_agree(store)

    with monkeypatch.context() as patched:
        patched.setattr(postgres, "MIGRATIONS", postgres.MIGRATIONS[:5])
        patched.setattr(postgres, "SCHEMA_VERSION", 5)
        with opened(pg_url) as store:
            store.save([made(h) for h in range(12)])
        assert insert_triggers(postgres_server, pg_url) == {
            "phaser_children_insert": "phaser_children_sync",
            "phaser_hours_insert": "phaser_hours_sync",
            "phaser_projects_insert": "phaser_projects_count",
        }
    with PostgresStore(pg_url, create=False, check_version=False) as store:
        assert store.migrate_schema() == (5, postgres.SCHEMA_VERSION)
    assert insert_triggers(postgres_server, pg_url) == {
        "phaser_executions_inserted": "phaser_executions_inserted"}
    with opened(pg_url) as store:
        exact(store)
        assert sum(count for *_, count in counted(store)) == 12
        store.save([made(h) for h in range(20, 23)])  # one INSERT, into new and kept hours
        store.save([made(h, base_commit=f"again-{h}") for h in range(4)])
        store.save([made(h) for h in range(30, 30 + 2 * postgres.FEW_ROWS)])  # COPY
        store.save([make_record("/p0", started_at=None, base_commit="undated")])
        exact(store)
        replaced = store.get(next(store.find()).execution_id)
        replaced.failure_reasons = ["Replaced"]
        store.save([replaced], replace=True)
        exact(store)
        before = dict(((path, count) for _, path, count in counted(store)))
    # From psql: a copy of every /p1 execution, filed under another project.
    run_sql(pg_url, "INSERT INTO phaser_executions SELECT execution_id || '-copy', "
            "identity_key || '-copy', project_name, '/from-psql', audit_document, "
            "document_title, branch, base_commit, started_at, started_text, completed_at, "
            "completed_text, status, duration_seconds, test_delta, phases_planned, "
            "phases_completed, total_tokens, cost_usd, imported_at, imported_from, stored_at, "
            "jsonb_set(jsonb_set(record, '{execution_id}', to_jsonb(execution_id || '-copy')), "
            "'{project_path}', '\"/from-psql\"') FROM phaser_executions "
            "WHERE project_path = '/p1'")
    with opened(pg_url) as store:
        exact(store)
        after = dict(((path, count) for _, path, count in counted(store)))
        assert after == {**before, "/from-psql": before["/p1"]}


def hour_columns(postgres_server: PgServer, url: str) -> dict[str, str]:
    """phaser_hours' columns and their types."""
    with postgres_server.connect(url.rsplit("/", 1)[1]) as conn:
        return dict(conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'phaser_hours'"
        ).fetchall())


def version_function(url: str) -> int | None:
    """What phaser_schema_version() says, None when there is no such function."""
    ((found,),) = run_sql(url, "SELECT count(*) FROM pg_proc "
                          "WHERE proname = 'phaser_schema_version'")
    return run_sql(url, "SELECT phaser_schema_version()")[0][0] if found else None


def test_connecting_asks_the_version_function_and_falls_back_to_the_table(
    pg_url: str,
) -> None:
    """From version 7 each connection reads the schema version from
    phaser_schema_version(), which store migrate-schema writes, instead of the table; a
    database without it (or whose function is gone) is read from phaser_schema as before;
    the function cannot outlive the table."""
    with opened(pg_url) as store:  # an empty database: the tables and the function
        assert store.schema_version == postgres.SCHEMA_VERSION
    assert version_function(pg_url) == postgres.SCHEMA_VERSION
    assert run_sql(pg_url, "SELECT max(version) FROM phaser_schema") == [
        (postgres.SCHEMA_VERSION,)]
    # What the function says is what a connection believes: a newer one is refused.
    run_sql(pg_url, "CREATE OR REPLACE FUNCTION phaser_schema_version(unused phaser_schema "
            "DEFAULT NULL) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT 99'")
    with pytest.raises(StorageError, match="schema version 99, newer"):
        opened(pg_url)
    # Without it, the table says: the store opens and works.
    run_sql(pg_url, "DROP FUNCTION phaser_schema_version(phaser_schema)")
    with opened(pg_url) as store:
        assert store.schema_version == postgres.SCHEMA_VERSION
        store.save([make_record("/p")])
        assert store.info().count == 1
    run_sql(pg_url, "INSERT INTO phaser_schema (version, name) VALUES (99, 'from the future')")
    with pytest.raises(StorageError, match="schema version 99, newer"):
        opened(pg_url)
    run_sql(pg_url, "DELETE FROM phaser_schema WHERE version = 99")
    run_sql(pg_url, postgres_schema.version_function(postgres.SCHEMA_VERSION))
    with pytest.raises(psycopg.errors.DependentObjectsStillExist):
        run_sql(pg_url, "DROP TABLE phaser_schema")
    run_sql(pg_url, "DROP TABLE phaser_schema CASCADE")
    assert version_function(pg_url) is None


def test_version_7_keeps_every_projects_hours_and_global_reads_them(
    postgres_server: PgServer, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 7 adds to phaser_hours one ``everything`` row per hour (every project's
    executions), fills them on the upgrade from version 6, keeps them with the projects'
    rows through every write, and makes the sums of integers bigint (cost and tokens stay
    numeric). The statistics are the Python path's before and after, and --global reads
    the ``everything`` rows alone while a project reads its own."""
    from phaser_analytics import aggregates

    def made(hours: int, **extra: Any) -> ExecutionRecord:
        start = DAY0 + timedelta(hours=hours // 4, minutes=hours % 4)
        values: dict[str, Any] = dict(cost_usd=0.1 * hours + 0.01, base_commit=f"c{hours}",
                                      tokens={"total": 2**40 + hours}, started_at=start,
                                      completed_at=start + timedelta(seconds=60.5 * hours),
                                      status=list(ExecutionStatus)[hours % 3],
                                      final_tests=100 - hours)  # fmt: skip
        if hours % 5 == 0:
            values.update(phases_planned=None, cost_usd=None, completed_at=None)
        values.update(extra)
        return make_record(f"/p{hours % 3}", **values)

    def statistics(store: PostgresStore) -> list[Any]:
        return [store.stats(None), store.stats_by_period(None, "day", timezone.utc),
                store.usage(None, timezone.utc),
                *(store.stats(None, project=f"/p{n}") for n in range(3))]

    def python(store: PostgresStore) -> list[Any]:
        entries = list(store.find())
        return [AggregatedStats.compute(entries),
                aggregates.stats_by_period(entries, "day", timezone.utc),
                aggregates.usage(entries, timezone.utc),
                *(AggregatedStats.compute([e for e in entries if e.project_path == f"/p{n}"])
                  for n in range(3))]

    with monkeypatch.context() as patched:
        patched.setattr(postgres, "MIGRATIONS", postgres.MIGRATIONS[:6])
        patched.setattr(postgres, "SCHEMA_VERSION", 6)
        with opened(pg_url) as store:
            store.save([made(h) for h in range(40)])
            store.save([make_record("/p0", started_at=None, base_commit="undated")])
            before = python(store)  # this code reads the hours of version 7 only
        assert "everything" not in hour_columns(postgres_server, pg_url)
        assert version_function(pg_url) is None
    with PostgresStore(pg_url, create=False, check_version=False) as store:
        assert store.migrate_schema() == (6, 7)
    assert version_function(pg_url) == 7
    columns = hour_columns(postgres_server, pg_url)
    assert [columns[n] for n in ("delta_sum", "planned", "completed")] == ["bigint"] * 3
    assert [columns[n] for n in ("token_sum", "cost_sum")] == ["numeric"] * 2
    assert columns["everything"] == "boolean"
    kept = hours_kept(postgres_server, pg_url)
    assert kept == hours_truth(postgres_server, pg_url)
    assert sum(row[4] for row in kept if row[0]) == 41  # undated: an hour of its own
    with opened(pg_url) as store:
        assert statistics(store) == before == python(store)
        store.save([made(h) for h in range(100, 103)])  # one INSERT, into new hours
        store.save([made(h, base_commit=f"again-{h}") for h in range(6)])  # into kept ones
        store.save([made(h) for h in range(200, 200 + 2 * postgres.FEW_ROWS)])  # COPY
        store.save([make_record("/p1", started_at=None, base_commit="undated too")])
        assert hours_kept(postgres_server, pg_url) == hours_truth(postgres_server, pg_url)
        assert statistics(store) == python(store)
        replaced = store.get(next(store.find()).execution_id)
        replaced.started_at -= timedelta(days=2)
        replaced.completed_at = replaced.started_at + timedelta(seconds=7.25)
        store.save([replaced], replace=True)
        store.delete([e.execution_id for e in list(store.find())[5:9]])
        assert hours_kept(postgres_server, pg_url) == hours_truth(postgres_server, pg_url)
        assert statistics(store) == python(store)
    run_sql(pg_url, "UPDATE phaser_executions SET project_path = '/p9', "
            "started_at = started_at + interval '30 minutes' WHERE project_path = '/p2'")
    run_sql(pg_url, "DELETE FROM phaser_executions WHERE started_at IS NULL "
            "AND project_path = '/p0'")
    assert hours_kept(postgres_server, pg_url) == hours_truth(postgres_server, pg_url)
    with opened(pg_url) as store:  # (psql moved starts: the records say otherwise)
        project = store.stats(None, project="/p1")
        everything = store.stats(None)
    # Which rows each reads: the projects' rows changed behind the triggers' back move a
    # project's answer only, the everything rows --global's only.
    run_sql(pg_url, "UPDATE phaser_hours SET total = total + 1000 WHERE NOT everything")
    ((hours_of_p1,),) = run_sql(pg_url, "SELECT count(*) FROM phaser_hours "
                                "WHERE project_path = '/p1'")
    with opened(pg_url) as store:
        assert store.stats(None).total_executions == everything.total_executions
        assert (store.stats(None, project="/p1").total_executions
                == project.total_executions + 1000 * hours_of_p1)
    run_sql(pg_url, "UPDATE phaser_hours SET total = total - 1000 WHERE NOT everything; "
            "UPDATE phaser_hours SET total = total + 1000 WHERE everything")
    with opened(pg_url) as store:
        assert store.stats(None).total_executions != everything.total_executions
        assert store.stats(None, project="/p1") == project


def test_replacing_and_deleting_at_once_never_deadlocks(pg_url: str) -> None:
    """Two CI runners re-importing with ``--force`` (and a ``clear``) at the same moment:
    each transaction takes the hours' lock first, so they wait for each other; taking it
    only in the recount trigger, after the insert's own lock on the hours, deadlocked."""
    with opened(pg_url) as store:
        stored = [make_record("/p", hours=1, document=f"d{n}.md") for n in range(2)]
        store.save(stored)
    rounds = 15
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def replace(record: ExecutionRecord) -> None:
        try:
            with opened(pg_url) as client:
                for attempt in range(rounds):
                    again = ExecutionRecord.from_dict(record.to_dict())
                    again.final_tests = 200 + attempt
                    start.wait(30)
                    client.save([again, make_record("/p", hours=1, document=f"n{attempt}-"
                                                    f"{record.audit_document}")], replace=True)
        except BaseException as exc:  # reported below
            errors.append(exc)
            start.abort()

    def delete() -> None:
        try:
            with opened(pg_url) as client:
                for attempt in range(rounds):
                    start.wait(30)
                    client.delete([f"missing-{attempt}"], missing_ok=True)
                    found = list(client.find(None, project="/p"))
                    newest = [e.execution_id for e in found if e.audit_document.startswith("n")]
                    client.delete(newest[:1], missing_ok=True)
        except BaseException as exc:  # reported below
            errors.append(exc)
            start.abort()

    threads = [threading.Thread(target=replace, args=(r,)) for r in stored]
    threads.append(threading.Thread(target=delete))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    with opened(pg_url) as store:  # the totals (of phaser_hours) count what is stored
        assert store.stats(None).total_executions == len(list(store.find(None))) >= 2


def test_closing_after_a_bulk_write_analyses_unless_an_exception_left_and_always_closes(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that wrote many executions runs ANALYZE on close, but not when a ``with``
    block is left by an exception (the command is failing: no waiting on the server), and
    an interrupt during ANALYZE still closes the connection before it propagates."""
    monkeypatch.setattr(postgres, "ANALYZE_FROM", 20)

    def analysed() -> int:
        return run_sql(pg_url, "SELECT count(DISTINCT tablename) FROM pg_stats WHERE "
                       "tablename LIKE 'phaser%%'")[0][0]

    def sessions() -> int:
        deadline = time.monotonic() + 10
        while True:  # a closed connection's backend leaves just after the client
            count = run_sql(pg_url, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND backend_type = 'client backend' AND "
                            "application_name = 'phaser-analytics'")[0][0]
            if count == 0 or time.monotonic() > deadline:
                return count
            time.sleep(0.05)

    with pytest.raises(RuntimeError, match="the command failed"), opened(pg_url) as store:
        store.save([make_record("/p", hours=i) for i in range(30)])
        raise RuntimeError("the command failed")
    assert analysed() == 0
    assert sessions() == 0

    execute = psycopg.Connection.execute

    def interrupted(self: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        if str(query).startswith("ANALYZE"):
            raise KeyboardInterrupt
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", interrupted)
    store = opened(pg_url)
    store.save([make_record("/q", hours=i) for i in range(30)])
    with pytest.raises(KeyboardInterrupt):
        store.close()
    assert sessions() == 0
    monkeypatch.setattr(psycopg.Connection, "execute", execute)
    with opened(pg_url) as store:
        store.save([make_record("/r", hours=i) for i in range(30)])
    assert analysed() >= 4


def test_identities_are_the_identities_of_find(pg_url: str) -> None:
    """``store migrate`` verifies with ``identities()``: the same set as ``find()``'s
    entries give, for starts in UTC, at another offset, with microseconds and unknown, and
    for a row whose start another client wrote in another spelling."""
    records = [
        make_record("/team/a", hours=1),
        make_record("/team/a", hours=2, started_at=datetime(2024, 12, 1, 11, 0, tzinfo=PLUS2)),
        make_record("/team/b", hours=3,
                    started_at=datetime(2024, 12, 1, 9, 0, 0, 250, tzinfo=timezone.utc)),
        make_record("/team/b", hours=4, started_at=None, completed_at=None, base_commit=None),
        make_record("/team/c", hours=5, audit_document=None),
    ]
    with opened(pg_url) as store:
        store.save(records)
        run_sql(pg_url, "UPDATE phaser_executions SET started_text = '2024-12-01T14:00:00+00:00' "
                "WHERE execution_id = %s", (records[4].execution_id,))
        expected = {entry.identity for entry in store.find()}
        assert store.identities() == expected
    assert len(expected) == 5
    assert ("/team/c", None, "2024-12-01T14:00:00Z", "c5") in expected


def test_an_entry_row_is_read_field_by_field() -> None:
    """``_entry`` reads a row of the entry columns by position: each value lands in the
    field of its name (the starts as written, read as datetimes; the status as itself)."""
    from phaser_analytics.models import ExecutionStatus
    from phaser_analytics.stores.base import ENTRY_FIELDS, Entry

    row = ("id-1", "docs/a.md", "A", "proj", "/p/proj", "main", "abc123",
           "2025-01-02T03:04:05+01:00", "2025-01-02T04:04:05Z", "partial",
           3600.0, -2, 9, 7, 12345, 1.25)  # fmt: skip
    values = dict(zip(ENTRY_FIELDS, row, strict=True))
    values["started_at"] = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=1)))
    values["completed_at"] = datetime(2025, 1, 2, 4, 4, 5, tzinfo=timezone.utc)
    values["status"] = ExecutionStatus.PARTIAL
    assert postgres._entry(row) == Entry(**values)
    with pytest.raises(ValueError):
        postgres._entry(row[:-1])
