"""Commands against a team's PostgreSQL store, through the command line and a real server:
what ``show`` costs the server (connections), and what it shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pgserver import PgServer, run_sql
from storage_helpers import make_record

from phaser_analytics.cli import cli
from phaser_analytics.stores import open_store

#: Ten ordinary durations (minutes) of one document in each project, then one far above.
NORMAL = [56, 58, 59, 60, 60, 60, 61, 62, 63, 64]
OUTLIER = 400


def invoke(runner: CliRunner, *args: str):
    return runner.invoke(cli, ["analytics", *args], catch_exceptions=False)


def subprocess_phaser(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Any:
    """The real command, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "phaser_analytics", "analytics", *args], capture_output=True,
        text=True, cwd=cwd, env={**os.environ, **(env or {})}, timeout=120, check=False,
    )


def dbname_of(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


def server_counts(server: PgServer, url: str) -> tuple[int, int]:
    """Sessions and committed transactions the server has had on ``url``'s database, once
    every session has ended (a session's counts are flushed when its backend exits, just
    after the client leaves)."""
    deadline = time.monotonic() + 30
    with server.connect() as conn:
        while True:
            count, commits, live = conn.execute(
                "SELECT sessions, xact_commit, numbackends FROM pg_stat_database "
                "WHERE datname = %s", (dbname_of(url),),
            ).fetchone()
            if live == 0 or time.monotonic() > deadline:
                return int(count), int(commits)
            time.sleep(0.05)


def sessions(server: PgServer, url: str) -> int:
    return server_counts(server, url)[0]


def history(url: str, projects: list[str]) -> None:
    """Each project: the NORMAL runs of ``audit.md``, then the OUTLIER, an hour apart."""
    records = []
    for offset, path in enumerate(projects):
        for hours, minutes in enumerate([*NORMAL, OUTLIER]):
            record = make_record(path, hours=100 * offset + hours, document="audit.md",
                                 project_name=Path(path).name)
            record.completed_at = record.started_at + timedelta(minutes=minutes)
            records.append(record)
    store = open_store(url, warn=lambda message: None)
    try:
        store.save(records)
    finally:
        store.close()


def test_show_global_opens_one_connection_and_judges_each_project_in_its_own_history(
    pg_url: str, postgres_server: PgServer, runner: CliRunner
) -> None:
    history(pg_url, ["/team/alpha", "/team/beta", "/team/gamma"])
    before = sessions(postgres_server, pg_url)
    result = invoke(runner, "--store", pg_url, "show", "--global", "--last", "25",
                    "--format", "json")
    assert result.exit_code == 0, result.output
    assert sessions(postgres_server, pg_url) - before == 1
    shown = json.loads(result.output)["executions"]
    assert len(shown) == 25
    flagged = {(e["project"]["name"], e["duration_seconds"]) for e in shown if e["anomalies"]}
    # every project's outlier is among the 25 newest, each judged against its own runs
    assert flagged == {(name, OUTLIER * 60) for name in ("alpha", "beta", "gamma")}
    assert all("duration 6h 40m is above the usual" in e["anomalies"][0]
               for e in shown if e["anomalies"])


def test_show_of_one_project_opens_one_connection(
    pg_url: str, postgres_server: PgServer, runner: CliRunner, tmp_path: Path
) -> None:
    project = tmp_path / "alpha"
    project.mkdir()
    history(pg_url, [str(project), "/team/beta"])
    before = sessions(postgres_server, pg_url)
    result = invoke(runner, "--store", pg_url, "show", "--project", str(project))
    assert result.exit_code == 0, result.output
    assert sessions(postgres_server, pg_url) - before == 1
    assert "6h 40m" in result.output and "!" in result.output


def test_opening_a_store_of_the_current_schema_is_one_statement_after_connecting(
    pg_url: str, postgres_server: PgServer
) -> None:
    """Time-outs, time zone and the schema version in one round trip (a team's server may
    be far away); an empty database still gets its tables on first use."""
    import psycopg

    open_store(pg_url, warn=lambda message: None).close()  # creates the tables
    before = server_counts(postgres_server, pg_url)
    psycopg.connect(pg_url).close()  # what logging in costs the server (a transaction)
    bare = server_counts(postgres_server, pg_url)
    store = open_store(pg_url, warn=lambda message: None)
    assert store.schema_version >= 1
    store.close()
    after = server_counts(postgres_server, pg_url)
    assert after[0] - bare[0] == 1
    assert after[1] - bare[1] == (bare[1] - before[1]) + 1


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


# -- the machine or CI runner each execution was imported from ---------------------------------

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "EXECUTION_REPORT.md"


def imported_by(runner: CliRunner, machine: str, project: Path, *store: str) -> str:
    """Import the example report as ``machine``; the stored execution's id."""
    result = runner.invoke(
        cli, ["analytics", "import", str(EXAMPLE), "--project", str(project), *store],
        env={"PHASER_MACHINE": machine},
    )
    assert result.exit_code == 0, result.output
    shown = runner.invoke(cli, ["analytics", "show", "--project", str(project), *store,
                                "--format", "json"])
    return json.loads(shown.stdout)["executions"][0]["execution_id"]


@pytest.mark.parametrize("backend", ["json", "postgresql"])
def test_each_execution_shows_the_machine_it_was_imported_from(
    backend: str, request: pytest.FixtureRequest, runner: CliRunner, tmp_path: Path
) -> None:
    """show --format json and export carry extra.imported_from, CSV has a column for it,
    and `show ID` (and --verbose) has a Machine line; a name with an escape sequence is
    shown cleaned."""
    store = ["--store", request.getfixturevalue("pg_url")] if backend == "postgresql" else []
    project = tmp_path / "alpha"
    project.mkdir()
    execution_id = imported_by(runner, "github-actions:runner-7\x1b[31m", project, *store)
    where = ["--project", str(project), *store]
    shown = json.loads(runner.invoke(cli, ["analytics", "show", *where, "--format", "json"]
                                     ).stdout)["executions"][0]
    assert shown["extra"]["imported_from"] == "github-actions:runner-7\x1b[31m"
    exported = json.loads(runner.invoke(cli, ["analytics", "export", *where]).stdout)
    assert exported["executions"][0]["extra"]["imported_from"].startswith("github-actions:")
    lines = runner.invoke(cli, ["analytics", "export", *where, "--format", "csv"]
                          ).stdout.splitlines()
    header = lines[0].split(",")
    assert header[-1] == "imported_from"
    assert lines[1].rsplit(",", 1)[1].startswith("github-actions:runner-7")
    detail = runner.invoke(cli, ["analytics", "show", execution_id[:8], *where])
    assert detail.exit_code == 0, detail.output
    machine_line = [line for line in detail.stdout.splitlines() if "Machine:" in line]
    assert len(machine_line) == 1 and "github-actions:runner-7" in machine_line[0]
    assert "\x1b" not in detail.stdout


def test_executions_stored_before_records_named_their_machine_get_the_columns(
    pg_url: str, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """migrate-schema to version 3 writes each row's imported_from column (the machine
    whose import stored it) into its record, which then shows it like any other."""
    from phaser_analytics.stores import postgres

    with monkeypatch.context() as patched:
        patched.setattr(postgres, "MIGRATIONS", postgres.MIGRATIONS[:2])
        patched.setattr(postgres, "SCHEMA_VERSION", 2)
        store = open_store(pg_url, warn=lambda message: None)
        try:
            store.save([make_record("/team/alpha", hours=1)])  # as an older version did
            assert store.schema_version == 2
            run_sql(pg_url, "UPDATE phaser_executions SET imported_from = 'old-laptop'")
        finally:
            store.close()
    migrated = runner.invoke(cli, ["analytics", "--store", pg_url, "store", "migrate-schema"])
    assert migrated.exit_code == 0, migrated.output
    assert f"schema version 2 -> {postgres.SCHEMA_VERSION}" in migrated.output
    shown = json.loads(runner.invoke(cli, ["analytics", "--store", pg_url, "show", "--global",
                                           "--format", "json"]).stdout)
    assert shown["executions"][0]["extra"]["imported_from"] == "old-laptop"


def test_migrate_from_sqlite_copies_records_as_stored_and_the_odd_ones_the_ordinary_way(
    pg_url: str, postgres_server: PgServer, tmp_path: Path
) -> None:
    """``store migrate`` from SQLite copies each record's JSON text as stored (no loading
    and writing out again): the copy reads back equal, with the machine it came from and
    the same trends and failures; a record of the older schema is still upgraded, and one
    that no longer loads is quarantined in the source, as the ordinary copy does."""
    import sqlite3

    from phaser_analytics.models import ExecutionStatus, PhaseRecord, PhaseStatus

    source_url = f"sqlite:///{tmp_path / 'history.db'}"
    records = [
        make_record(
            f"/team/p{i % 3}", hours=7 * i, project_name=f"p{i % 3}",
            status=ExecutionStatus.FAILED if i % 4 == 0 else ExecutionStatus.SUCCESS,
            failure_reasons=[f"reason {i % 5}", "Flaky  Test"] if i % 4 == 0 else [],
            phases=[PhaseRecord(phase_number=1, title="Set-up", status=PhaseStatus.COMPLETED)],
            tokens={"input": i, "output": 2 * i, "total": 3 * i}, cost_usd=0.1 * i,
            extra={"imported_from": "laptop-ana"} if i % 2 else {"note": "ü ✓"},
        )
        for i in range(40)
    ]
    source = open_store(source_url)
    try:
        source.save(records)
    finally:
        source.close()
    older, broken, later = (records[i].execution_id for i in (1, 2, 3))
    with sqlite3.connect(tmp_path / "history.db") as db:
        text = db.execute("SELECT record FROM executions WHERE execution_id = ?",
                          (later,)).fetchone()[0]
        db.execute("UPDATE executions SET record = ? WHERE execution_id = ?",
                   (text.replace("{", '{"of_a_later_version": 1, ', 1), later))
        text = db.execute("SELECT record FROM executions WHERE execution_id = ?",
                          (older,)).fetchone()[0]
        db.execute("UPDATE executions SET record = ? WHERE execution_id = ?",
                   (text.replace('"schema_version": "1.1"', '"schema_version": "1.0"'), older))
        db.execute("UPDATE executions SET record = '{\"execution_id\": 7' "
                   "WHERE execution_id = ?", (broken,))
    migrated = subprocess_phaser("store", "migrate", "--from", source_url, "--to", pg_url,
                                 cwd=tmp_path, env={"PHASER_MACHINE": "ci-runner-3"})
    assert migrated.returncode == 0, migrated.stderr
    assert "Copied 39 execution(s)" in migrated.stdout
    assert "holds all 39 execution(s)" in migrated.stdout
    assert f"execution {broken.lower()}" in migrated.stderr and "quarantine" in migrated.stderr

    target = open_store(pg_url, warn=lambda message: None)
    try:
        copied = {r.execution_id: r.to_dict() for r in target.read(target.find())}
        machines = dict(target.machines())
    finally:
        target.close()
    kept = [r for r in records if r.execution_id != broken]
    assert copied == {r.execution_id: r.to_dict() for r in kept}
    with postgres_server.connect(dbname_of(pg_url)) as conn:
        assert conn.execute("SELECT record->>'schema_version' FROM phaser_executions "
                            "WHERE execution_id = %s", (older,)).fetchone() == ("1.1",)
        # As stored, not loaded and written out again (which drops what it does not know):
        # every text the as-stored path took keeps its keys, and only that one has this.
        assert conn.execute("SELECT execution_id FROM phaser_executions "
                            "WHERE record ? 'of_a_later_version'").fetchall() == [(later,)]
    assert machines == {"laptop-ana": 20, "ci-runner-3": 19}
    for command in (["trends", "--by", "week"], ["failures"], ["phases"]):
        outputs = [
            json.loads(subprocess_phaser("--store", url, *command, "--global", "--format",
                                         "json", "--tz", "UTC", cwd=tmp_path).stdout)
            for url in (source_url, pg_url)
        ]
        for output in outputs:
            del output["generated_at"]
        assert outputs[0] == outputs[1], command
    again = subprocess_phaser("store", "migrate", "--from", source_url, "--to", pg_url,
                              cwd=tmp_path)
    assert "Copied 0 execution(s)" in again.stdout and "39 were already there" in again.stdout


def _set(key: str, value: Any) -> Any:
    return lambda data: data.__setitem__(key, value)


#: Hand edits of one record's text in a SQLite store that leave its index entry as it was:
#: each changes a column, or makes a record ``from_dict`` refuses (checked by the ordinary
#: path: quarantined in the source), or a column only ``from_dict`` derives.
TEXT_EDITS: dict[str, Any] = {
    "status in capitals": _set("status", "SUCCESS"),
    "infinite cost": "1e400",
    "cost beyond 2**53": "1e300",
    "another project path": _set("project_path", "/elsewhere"),
    "another project name": _set("project_name", "Elsewhere"),
    "another token total": lambda data: data["tokens"].__setitem__("total", 999_999),
    "another status": _set("status", "failed"),
    "another document": _set("audit_document", "other.md"),
    "another branch": _set("branch", "hotfix"),
    "another base commit": _set("base_commit", "c999"),
    "another document title": _set("document_title", "Other"),
    "more phases planned": _set("phases_planned", 9),
    "bare dates": _set("date_only", True),
    "a stated test delta": _set("reported_test_delta", 17),
    "a start written otherwise": _set("started_at", "2024-12-01T10:00:00+00:00"),
    "a phase of another type": lambda data: data["phases"][0].__setitem__("title", 7),
    "unchanged": lambda data: None,
}


def test_migrate_as_stored_writes_the_rows_the_ordinary_copy_writes(
    postgres_server: PgServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record's text copied as stored (``store migrate``: ``record_texts`` and
    ``save_stored``) gives the very rows, and the same per-hour, per-project, phase and
    reason rows, that loading it and saving it give (``save(read(...))``), whatever was done
    to that text behind its index entry's back (TEXT_EDITS, one record each): the columns
    come from the text, never from the source's index, and a text ``from_dict`` refuses
    is left to the ordinary copy, which quarantines it."""
    import shutil
    import sqlite3

    from phaser_analytics.models import PhaseRecord, PhaseStatus

    monkeypatch.setenv("PHASER_MACHINE", "laptop-ana")
    edits = list(TEXT_EDITS)
    records = [
        make_record(f"/team/p{i % 2}", hours=i, project_name=f"p{i % 2}", cost_usd=0.5,
                    tokens={"input": 1, "output": 2, "total": 3}, branch="main",
                    document_title="Audit", failure_reasons=[f"reason {i % 3}"],
                    phases=[PhaseRecord(phase_number=1, title="Set-up",
                                        status=PhaseStatus.COMPLETED)])
        for i in range(len(edits))
    ]
    edit_of = {r.execution_id: edit for r, edit in zip(records, edits, strict=True)}
    source_path = tmp_path / "history.db"
    source = open_store(f"sqlite:///{source_path}")
    try:
        source.save(records)
    finally:
        source.close()
    db = sqlite3.connect(source_path)
    with db:
        for record, edit in zip(records, edits, strict=True):
            text = db.execute("SELECT record FROM executions WHERE execution_id = ?",
                              (record.execution_id,)).fetchone()[0]
            change = TEXT_EDITS[edit]
            if isinstance(change, str):
                assert '"cost_usd": 0.5' in text
                text = text.replace('"cost_usd": 0.5', f'"cost_usd": {change}')
            else:
                data = json.loads(text)
                change(data)
                text = json.dumps(data)
            db.execute("UPDATE executions SET record = ? WHERE execution_id = ?",
                       (text, record.execution_id))
    db.close()  # the last connection: its write-ahead log goes into the file copied next
    # Each copy reads a source of its own: the ordinary path quarantines in its source.
    shutil.copy(source_path, tmp_path / "second.db")
    as_stored, ordinary = (postgres_server.url(postgres_server.create_database())
                           for _ in range(2))
    migrated = subprocess_phaser("store", "migrate", "--from", f"sqlite:///{source_path}",
                                 "--to", as_stored, cwd=tmp_path)
    second = open_store(f"sqlite:///{tmp_path / 'second.db'}", warn=lambda message: None)
    target = open_store(ordinary, warn=lambda message: None)
    try:
        target.save(list(second.read(list(second.find()))))
    finally:
        second.close()
        target.close()

    columns = [name for (name,) in run_sql(
        as_stored, "SELECT column_name FROM information_schema.columns WHERE table_name = "
        "'phaser_executions' AND column_name <> 'stored_at' ORDER BY ordinal_position")]
    rows = [{row[0]: row for row in run_sql(url, f"SELECT {', '.join(columns)} "
                                                 "FROM phaser_executions")}
            for url in (as_stored, ordinary)]
    assert len(rows[1]) == len(records) - 4  # the four from_dict refuses are quarantined
    assert rows[0].keys() == rows[1].keys()
    for execution_id, row in rows[1].items():
        assert rows[0][execution_id] == row, edit_of[execution_id]
    for query in (
        "SELECT * FROM phaser_hours ORDER BY everything, project_path, project_name, hour",
        "SELECT * FROM phaser_projects ORDER BY project_path, project_name",
        "SELECT * FROM phaser_phases ORDER BY execution_id, ordinality",
        "SELECT * FROM phaser_reasons ORDER BY execution_id, ordinality",
    ):
        assert run_sql(as_stored, query) == run_sql(ordinary, query), query
    # Four texts name another execution (path, document, start, base commit) than their
    # entry: the copy holds the execution of the text, not the one the source index names.
    assert migrated.returncode == 1, migrated.stderr
    assert "Verification failed: 4 of the 13 executions" in migrated.stderr
    assert migrated.stderr.count("moved to the quarantine table") == 4


def test_a_bulk_migrate_leaves_the_planners_statistics_current(
    pg_url: str, postgres_server: PgServer, tmp_path: Path, runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After ``store migrate`` writes many executions, the tables are analysed before the
    command ends (the next query is planned for the rows there are); a small import
    leaves that to autovacuum."""
    from phaser_analytics.stores import postgres

    def analysed() -> int:
        with postgres_server.connect(dbname_of(pg_url)) as conn:
            return conn.execute("SELECT count(DISTINCT tablename) FROM pg_stats WHERE "
                                "tablename LIKE 'phaser%%'").fetchone()[0]

    monkeypatch.setattr(postgres, "ANALYZE_FROM", 20)
    source_url = f"sqlite:///{tmp_path / 'history.db'}"
    source = open_store(source_url)
    try:
        source.save([make_record(f"/team/p{i % 2}", hours=i) for i in range(30)])
    finally:
        source.close()
    few = open_store(pg_url, warn=lambda message: None)
    try:
        few.save([make_record("/team/other", hours=i) for i in range(5)])
    finally:
        few.close()
    assert analysed() == 0
    result = invoke(runner, "store", "migrate", "--from", source_url, "--to", pg_url)
    assert "holds all 30" in result.output
    assert analysed() >= 4  # executions, projects, phases' and hours' tables (no reasons)


def test_migrate_from_one_postgresql_database_into_another_copies_every_record(
    pg_url: str, postgres_server: PgServer, tmp_path: Path
) -> None:
    """From PostgreSQL the records' text is their jsonb's: the copy reads back equal."""
    history(pg_url, ["/team/alpha", "/team/beta"])
    other = postgres_server.url(postgres_server.create_database())
    migrated = subprocess_phaser("store", "migrate", "--from", pg_url, "--to", other,
                                 cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert "holds all 22 execution(s)" in migrated.stdout
    stores = [open_store(url, warn=lambda message: None) for url in (pg_url, other)]
    try:
        source, copy = ({r.execution_id: r.to_dict() for r in s.read(s.find())} for s in stores)
    finally:
        for store in stores:
            store.close()
    assert copy == source and len(copy) == 22
