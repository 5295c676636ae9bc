"""Commands against a team's PostgreSQL store, through the command line and a real server:
what ``show`` costs the server (connections), and what it shows."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from pgserver import PgServer
from storage_helpers import make_record

from phaser_analytics.cli import cli
from phaser_analytics.stores import open_store

#: Ten ordinary durations (minutes) of one document in each project, then one far above.
NORMAL = [56, 58, 59, 60, 60, 60, 61, 62, 63, 64]
OUTLIER = 400


def invoke(runner: CliRunner, *args: str):
    return runner.invoke(cli, ["analytics", *args], catch_exceptions=False)


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
            store._conn.execute("UPDATE phaser_executions SET imported_from = 'old-laptop'")
        finally:
            store.close()
    migrated = runner.invoke(cli, ["analytics", "--store", pg_url, "store", "migrate-schema"])
    assert migrated.exit_code == 0, migrated.output
    assert "schema version 2 -> 5" in migrated.output
    shown = json.loads(runner.invoke(cli, ["analytics", "--store", pg_url, "show", "--global",
                                           "--format", "json"]).stdout)
    assert shown["executions"][0]["extra"]["imported_from"] == "old-laptop"
