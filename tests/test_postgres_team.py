"""A team's history in PostgreSQL, through the command line, against a real server: many
machines importing at once, the server stopped in the middle of `store migrate`, servers
that cannot be reached, and `store migrate-schema`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from pgserver import PgServer
from storage_helpers import make_record

from phaser_analytics.cli import cli
from phaser_analytics.models import ExecutionStatus
from phaser_analytics.stores import open_store
from phaser_analytics.stores.postgres_schema import SCHEMA_VERSION

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = (REPO / "examples" / "EXECUTION_REPORT.md").read_text(encoding="utf-8")
#: A guard against a hung child, not a measurement.
DEADLINE_SECONDS = 300


def write_report(directory: Path, document: str) -> Path:
    """The README's example report, as the report of ``document``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "EXECUTION_REPORT.md"
    path.write_text(EXAMPLE.replace("document-7-reverse.md", document), encoding="utf-8")
    return path


def dbname_of(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


def rows(server: PgServer, url: str, sql: str) -> list[tuple]:
    with server.connect(dbname_of(url)) as conn:
        return conn.execute(sql).fetchall()


def phaser(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
           timeout: float = DEADLINE_SECONDS) -> subprocess.CompletedProcess[str]:
    """The real command, in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "phaser_analytics", "analytics", *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=cwd,
        timeout=timeout,
    )


def stored(server: PgServer, url: str) -> int:
    """Executions in the database (0 before its tables exist)."""
    with server.connect(dbname_of(url)) as conn:
        if conn.execute("SELECT to_regclass('phaser_executions')").fetchone()[0] is None:
            return 0
        return conn.execute("SELECT count(*) FROM phaser_executions").fetchone()[0]


def snapshot(*roots: Path) -> dict[str, bytes]:
    """Every file under ``roots``, to show a failed command wrote nothing."""
    files: dict[str, bytes] = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                files[str(path)] = path.read_bytes()
    return files


# -- the team's history through the CLI -------------------------------------------------------


def test_import_show_and_info_with_a_store_url(
    pg_url: str, project: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHASER_MACHINE", "laptop-ana")
    reports = project / "reports"
    write_report(reports / "a", "document-1-bridge.md")
    write_report(reports / "b", "document-2-replay.md")
    result = runner.invoke(cli, ["analytics", "--store", pg_url, "import", str(reports),
                                 "--recursive", "--project", str(project)])
    assert result.exit_code == 0, result.output
    assert "Imported 2 execution(s)." in result.output
    again = runner.invoke(cli, ["analytics", "import", str(reports), "--recursive",
                                "--store", pg_url, "--project", str(project)])
    assert again.exit_code == 0 and "2 already imported" in again.output
    assert not (project / ".phaser" / "analytics").exists()  # nothing in the project

    monkeypatch.setenv("PHASER_STORE", pg_url)
    info = runner.invoke(cli, ["analytics", "store", "info", "--json"])
    assert info.exit_code == 0, info.output
    data = json.loads(info.output)
    assert (data["backend"], data["count"], data["schema_version"]) == (
        "postgresql", 2, str(SCHEMA_VERSION))
    assert ":***@" in data["location"] and "phaser:" in data["location"]
    shown = runner.invoke(cli, ["analytics", "show", "--global", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    documents = sorted(e["audit_document"] for e in json.loads(shown.output)["executions"])
    assert documents == ["document-1-bridge.md", "document-2-replay.md"]


def test_eight_machines_importing_at_once_make_exactly_200(
    postgres_server: PgServer, pg_url: str, tmp_path: Path
) -> None:
    """8 processes, each a "machine", import 25 reports each, one `import` per report, into
    one database at the same time; then each imports one of the first machine's again."""
    workers, per_worker = 8, 25
    go = tmp_path / "go"
    script = """
import os, sys, time
from pathlib import Path
from phaser_analytics.cli import cli
go = Path(sys.argv[1])
while not go.exists():
    time.sleep(0.01)
failures = 0
for report in sys.argv[3:]:
    try:
        cli.main(["analytics", "import", report, "--store", sys.argv[2]], standalone_mode=False)
    except SystemExit as exc:
        failures += bool(exc.code)
    except Exception as exc:
        print("FAILED", report, exc, file=sys.stderr)
        failures += 1
sys.exit(failures)
"""
    shared = write_report(tmp_path / "machine-0" / "r0", "document-w0-0.md")
    processes = []
    for worker in range(workers):
        reports = [str(write_report(tmp_path / f"machine-{worker}" / f"r{i}",
                                    f"document-w{worker}-{i}.md")) for i in range(per_worker)]
        env = {**os.environ, "PHASER_MACHINE": f"machine-{worker}"}
        processes.append(subprocess.Popen(
            [sys.executable, "-c", script, str(go), pg_url, *reports, str(shared)],
            env=env, cwd=tmp_path / f"machine-{worker}", stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        ))
    go.touch()
    imported = already = 0
    for process in processes:
        out, errors = process.communicate(timeout=DEADLINE_SECONDS)
        assert process.returncode == 0, errors
        imported += out.count("✓ Imported:")
        already += out.count("Already imported:")
    # Each execution was imported by exactly one machine; the rest were told it was there.
    assert (imported, already) == (workers * per_worker, workers)
    assert rows(postgres_server, pg_url, "SELECT count(*), count(DISTINCT identity_key) "
                "FROM phaser_executions") == [(200, 200)]
    by_machine = rows(postgres_server, pg_url, "SELECT imported_from, count(*) FROM "
                      "phaser_executions GROUP BY 1 ORDER BY 1")
    assert by_machine == [(f"machine-{w}", 25) for w in range(workers)]
    # The executions per project, kept by triggers in each writing transaction, agree.
    assert rows(postgres_server, pg_url, "SELECT project_path, executions FROM phaser_projects"
                ) == rows(postgres_server, pg_url, "SELECT project_path, count(*) FROM "
                          "phaser_executions GROUP BY 1")


def test_the_server_stopped_in_the_middle_of_store_migrate(
    postgres_server: PgServer, pg_url: str, tmp_path: Path
) -> None:
    """The server goes away while `store migrate` copies batch after batch: one line and a
    non-zero exit; run again once it is back: exactly the source's executions, no twice."""
    total = 6000
    source_url = f"sqlite:///{tmp_path / 'history.db'}"
    source = open_store(source_url)
    try:
        for start in range(0, total, 1000):
            source.save([make_record(f"/team/p{i % 3}", hours=i)
                         for i in range(start, start + 1000)])
    finally:
        source.close()
    process = subprocess.Popen(
        [sys.executable, "-m", "phaser_analytics", "analytics", "store", "migrate",
         "--from", source_url, "--to", pg_url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while process.poll() is None and time.monotonic() < deadline:
            if stored(postgres_server, pg_url):
                break
            time.sleep(0.05)
        assert process.poll() is None, "migrate finished before the server could be stopped"
        postgres_server.stop(mode="fast", remove=False)
        out, errors = process.communicate(timeout=DEADLINE_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
        if not postgres_server.running:
            postgres_server.start()
    assert process.returncode == 1, (out, errors)
    lines = errors.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: PostgreSQL store 127.0.0.1:"), errors
    assert dbname_of(pg_url) in lines[0] and "Traceback" not in errors
    assert postgres_server.role_password not in errors
    partial = rows(postgres_server, pg_url, "SELECT count(*) FROM phaser_executions")[0][0]
    assert 0 < partial < total

    again = phaser("store", "migrate", "--from", source_url, "--to", pg_url, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"holds all {total} execution(s)" in again.stdout
    assert rows(postgres_server, pg_url, "SELECT count(*), count(DISTINCT identity_key) "
                "FROM phaser_executions") == [(total, total)]


def _sqlite_history(path: Path, count: int) -> str:
    source_url = f"sqlite:///{path}"
    source = open_store(source_url)
    try:
        source.save([make_record(f"/team/p{i % 3}", hours=i) for i in range(count)])
    finally:
        source.close()
    return source_url


def test_store_migrate_writes_each_batch_in_a_thread_while_it_builds_the_next(
    postgres_server: PgServer, pg_url: str, tmp_path: Path, runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Into PostgreSQL, a batch's rows are built (read, loaded, checked) in the command's
    thread while the previous batch is written in another: every write there, one at a
    time, in the source's order, never more than one batch ahead; every execution arrives."""
    import threading

    from phaser_analytics.cli import store_cmds
    from phaser_analytics.stores.postgres import PostgresStore

    monkeypatch.setattr(store_cmds, "MIGRATE_BATCH", 25)  # above FEW_ROWS: COPY
    monkeypatch.setattr("phaser_analytics.stores.postgres.ANALYZE_FROM", 100)
    source_url = _sqlite_history(tmp_path / "history.db", 110)
    events: list[tuple[str, str, int]] = []
    writing = threading.Lock()
    finished: list[int] = []  # the writes done
    overlapped: list[bool] = []  # per build: whether a write was under way meanwhile
    built, write = PostgresStore.stored_rows, PostgresStore.write_stored

    def stored_rows(self: PostgresStore, stored: list) -> tuple:
        builds = sum(1 for kind, _, _ in events if kind == "build") + 1
        assert len(finished) >= builds - 2, "more than one batch ahead of the writes"
        events.append(("build", threading.current_thread().name, len(stored)))
        result = built(self, stored)
        overlapped.append(writing.locked())
        return result

    def write_stored(self: PostgresStore, rows: dict) -> list:
        assert writing.acquire(blocking=False), "two writes at once"
        try:
            events.append(("write", threading.current_thread().name, len(rows)))
            time.sleep(0.2)  # a slow server: the next batch is built meanwhile
            return write(self, rows)
        finally:
            finished.append(len(rows))
            writing.release()

    monkeypatch.setattr(PostgresStore, "stored_rows", stored_rows)
    monkeypatch.setattr(PostgresStore, "write_stored", write_stored)
    result = runner.invoke(cli, ["analytics", "store", "migrate", "--from", source_url,
                                 "--to", pg_url])
    assert result.exit_code == 0, result.output
    assert "Copied 110 execution(s)" in result.output and "holds all 110" in result.output
    main = threading.main_thread().name
    assert [size for kind, _, size in events if kind == "build"] == [25, 25, 25, 25, 10]
    assert {name for kind, name, _ in events if kind == "build"} == {main}
    assert [size for kind, _, size in events if kind == "write"] == [25, 25, 25, 25, 10]
    assert all(name.startswith("phaser-migrate") for kind, name, _ in events if kind == "write")
    assert finished == [25, 25, 25, 25, 10]
    assert not overlapped[0] and any(overlapped[1:]), overlapped  # the overlap itself
    assert rows(postgres_server, pg_url, "SELECT count(*), count(DISTINCT identity_key) "
                "FROM phaser_executions") == [(110, 110)]
    assert rows(postgres_server, pg_url, "SELECT last_analyze IS NOT NULL FROM "
                "pg_stat_user_tables WHERE relname = 'phaser_executions'") == [(True,)]


def test_ctrl_c_during_store_migrate_cancels_the_write_under_way(
    postgres_server: PgServer, pg_url: str, tmp_path: Path, runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C while a batch is being written in the thread (a server slow to take it: a
    trigger that sleeps 60 s) cancels that write instead of waiting for it: the command
    stops, nothing of the batch is stored and no statement of ours is left running."""
    from phaser_analytics.cli import store_cmds
    from phaser_analytics.stores.sqlite import SqliteStore

    monkeypatch.setattr(store_cmds, "MIGRATE_BATCH", 25)  # above FEW_ROWS: COPY
    source_url = _sqlite_history(tmp_path / "history.db", 60)
    open_store(pg_url).close()  # the tables, so the test can slow their inserts down
    with postgres_server.connect(dbname_of(pg_url)) as conn:
        conn.execute("CREATE FUNCTION test_slow() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$ BEGIN PERFORM pg_sleep(60); RETURN NULL; END $$")
        conn.execute("CREATE TRIGGER test_slow AFTER INSERT ON phaser_executions "
                     "FOR EACH STATEMENT EXECUTE FUNCTION test_slow()")
        conn.commit()
    texts = SqliteStore.record_texts
    calls = []

    def interrupted(self: SqliteStore, entries: list) -> dict:
        calls.append(len(entries))
        if len(calls) == 2:  # the first batch is being written meanwhile
            time.sleep(0.5)
            raise KeyboardInterrupt
        return texts(self, entries)

    monkeypatch.setattr(SqliteStore, "record_texts", interrupted)
    result = runner.invoke(cli, ["analytics", "store", "migrate", "--from", source_url,
                                 "--to", pg_url])
    assert result.exit_code == 1 and "Aborted" in result.output, result.output
    assert rows(postgres_server, pg_url, "SELECT count(*) FROM phaser_executions") == [(0,)]
    assert rows(postgres_server, pg_url, "SELECT count(*) FROM pg_stat_activity WHERE "
                "state = 'active' AND query LIKE 'COPY%'") == [(0,)]


def test_a_write_that_fails_in_the_thread_is_one_line_and_leaves_nothing_of_its_batch(
    postgres_server: PgServer, pg_url: str, tmp_path: Path, runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The third batch's COPY goes in, then the server refuses it (as a dropped connection
    or a timeout would) in the writing thread: the command stops with that one line and a
    non-zero exit, the batches before it are stored whole and nothing of the third; run
    again, it copies the rest, exactly once."""
    import psycopg

    from phaser_analytics.cli import store_cmds
    from phaser_analytics.stores.postgres import PostgresStore

    monkeypatch.setattr(store_cmds, "MIGRATE_BATCH", 25)  # above FEW_ROWS: COPY
    monkeypatch.setattr("phaser_analytics.stores.postgres.ANALYZE_FROM", 10)
    source_url = _sqlite_history(tmp_path / "history.db", 100)
    copy_new = PostgresStore._copy_new
    calls = []

    def failing(self: PostgresStore, batch: dict, existing: dict) -> bool:
        calls.append(len(batch))
        done = copy_new(self, batch, existing)
        if len(calls) == 3:
            raise psycopg.errors.QueryCanceled("canceling statement due to user request")
        return done

    monkeypatch.setattr(PostgresStore, "_copy_new", failing)
    result = runner.invoke(cli, ["analytics", "store", "migrate", "--from", source_url,
                                 "--to", pg_url])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert lines == [f"Error: PostgreSQL store 127.0.0.1:{postgres_server.port}/"
                     f"{dbname_of(pg_url)}: saving 25 execution(s) failed: canceling "
                     "statement due to user request."], result.output
    assert calls == [25, 25, 25]  # the batches after it were never written
    assert rows(postgres_server, pg_url, "SELECT count(*) FROM phaser_executions") == [(50,)]
    assert rows(postgres_server, pg_url, "SELECT sum(executions) FROM phaser_projects") == [(50,)]
    # A failing command leaves ANALYZE out (its server may be gone).
    assert rows(postgres_server, pg_url, "SELECT last_analyze IS NULL FROM "
                "pg_stat_user_tables WHERE relname = 'phaser_executions'") == [(True,)]

    monkeypatch.setattr(PostgresStore, "_copy_new", copy_new)
    again = runner.invoke(cli, ["analytics", "store", "migrate", "--from", source_url,
                                "--to", pg_url])
    assert again.exit_code == 0, again.output
    assert "Copied 50 execution(s)" in again.output and "50 were already there" in again.output
    assert rows(postgres_server, pg_url, "SELECT count(*), count(DISTINCT identity_key) "
                "FROM phaser_executions") == [(100, 100)]


@pytest.mark.parametrize("case", ["unreachable", "wrong password", "missing database"])
def test_a_store_that_cannot_be_reached_is_one_line_and_writes_nothing(
    postgres_server: PgServer, pg_url: str, project: Path, isolated_home: Path, case: str
) -> None:
    password = postgres_server.role_password
    if case == "unreachable":
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        url, where = f"postgresql://phaser:{password}@127.0.0.1:{port}/teamdb", \
            f"127.0.0.1:{port}/teamdb"
    elif case == "wrong password":
        url = pg_url.replace(password, "hunter2-wrong")
        where = f"127.0.0.1:{postgres_server.port}/{dbname_of(pg_url)}"
    else:
        url = postgres_server.url("no_such_team")
        where = f"127.0.0.1:{postgres_server.port}/no_such_team"
    report = write_report(project / "reports", "document-9-gone.md")
    before = snapshot(project, isolated_home)
    for args in (["import", str(report), "--project", str(project)], ["show"],
                 ["store", "info"], ["store", "migrate", "--to", pg_url],
                 ["store", "migrate-schema"]):
        result = phaser("--store", url, *args, cwd=project)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, result.stderr)
        assert lines[0].startswith(f"Error: Cannot connect to the PostgreSQL store {where}: ")
        assert password not in result.stderr + result.stdout
        assert "hunter2" not in result.stderr + result.stdout
    assert snapshot(project, isolated_home) == before
    assert rows(postgres_server, pg_url, "SELECT count(*) FROM pg_tables "
                "WHERE tablename LIKE 'phaser%'") == [(0,)]


def test_migrate_schema_creates_and_reports(postgres_server: PgServer, runner: CliRunner,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    dbname = postgres_server.create_database(owner="postgres")
    owner_url = postgres_server.url(dbname, user="postgres")
    monkeypatch.setenv("PHASER_STORE", owner_url)
    first = runner.invoke(cli, ["analytics", "store", "migrate-schema"])
    assert first.exit_code == 0, first.output
    assert first.output.strip() == (
        f"postgresql://postgres:***@127.0.0.1:{postgres_server.port}/{dbname}: schema version "
        "0 -> 7; applied 1 (executions table), 2 (executions per project, kept by triggers), "
        "3 (machines in the records, an index for the aggregates), "
        "4 (phases and failure reasons, kept by triggers), "
        "5 (statistics per project and hour, kept by triggers; reasons with their start; "
        "records in lz4), 6 (one insert trigger for every derived table), "
        "7 (every project's statistics per hour; sums of integers in bigint).")
    second = runner.invoke(cli, ["analytics", "store", "migrate-schema"])
    assert second.output.strip().endswith("schema version 7, up to date.")
    monkeypatch.setenv("PHASER_STORE", f"sqlite:///{postgres_server.base}/x.db")
    other = runner.invoke(cli, ["analytics", "store", "migrate-schema"])
    assert other.exit_code == 0 and "it is brought up to date when opened" in other.output


def test_a_dead_server_does_not_hang_the_command(tmp_path: Path) -> None:
    """A server that accepts connections and never answers (hung, or a black hole): the
    command gives up after the connect timeout with one line."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        port = sock.getsockname()[1]
        home = tmp_path / "home"
        home.mkdir()
        (home / "config.json").write_text(
            '{"analytics": {"postgres": {"connect_timeout": 2}}}', encoding="utf-8")
        result = phaser("--store", f"postgresql://ci@127.0.0.1:{port}/team", "show",
                        env={"PHASER_HOME": str(home)}, cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: Cannot connect to the PostgreSQL store 127.0.0.1:{port}/team: no answer "
        "within 2 s (analytics.postgres.connect_timeout).")


def test_sigkill_in_the_middle_of_a_bulk_import_leaves_whole_batches(
    postgres_server: PgServer, pg_url: str, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    for i in range(60):
        write_report(reports / f"r{i:03d}", f"document-{i}.md")
    process = subprocess.Popen(
        [sys.executable, "-m", "phaser_analytics", "analytics", "import", str(reports),
         "--recursive", "--jobs", "1", "--store", pg_url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )
    deadline = time.monotonic() + DEADLINE_SECONDS
    while process.poll() is None and time.monotonic() < deadline:
        if stored(postgres_server, pg_url):
            break
        time.sleep(0.02)
    process.kill()  # SIGKILL; nothing when the import already ended (and was reaped)
    process.communicate(timeout=60)
    again = phaser("import", str(reports), "--recursive", "--store", pg_url, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert rows(postgres_server, pg_url, "SELECT count(*), count(DISTINCT identity_key) "
                "FROM phaser_executions") == [(60, 60)]


def test_a_team_reads_its_history(pg_url: str, tmp_path: Path, runner: CliRunner,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """What docs/team.md shows a team doing, on the history of two machines."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PHASER_STORE", pg_url)
    for machine, documents in (("laptop", ["document-1-a.md", "document-2-b.md"]),
                               ("github-actions:runner-1", ["document-3-c.md"])):
        monkeypatch.setenv("PHASER_MACHINE", machine)
        for document in documents:
            report = write_report(tmp_path / machine / document, document)
            text = report.read_text(encoding="utf-8")
            if document == "document-3-c.md":  # another project
                text = text.replace("| Project | Phaser |", "| Project | Website |").replace(
                    "/Users/jp/Projects/Phaser", "/srv/website")
            report.write_text(text, encoding="utf-8")
            result = runner.invoke(cli, ["analytics", "import", str(report)])
            assert result.exit_code == 0, result.output
    shown = runner.invoke(cli, ["analytics", "show", "--global", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    assert len(json.loads(shown.output)["executions"]) == 3
    per_project = runner.invoke(cli, ["analytics", "projects", "--global", "--format", "json"])
    assert per_project.exit_code == 0, per_project.output
    assert "Website" in per_project.output and "Phaser" in per_project.output
    trends = runner.invoke(cli, ["analytics", "trends", "--global", "--format", "json"])
    assert trends.exit_code == 0, trends.output
    exported = runner.invoke(cli, ["analytics", "export", "--global", "--format", "csv"])
    assert exported.exit_code == 0, exported.output
    assert len(exported.output.strip().splitlines()) == 4  # a header and three executions
    info = runner.invoke(cli, ["analytics", "store", "info"])
    assert "Executions:     3" in info.output and "Projects:       2" in info.output


@pytest.mark.slow
def test_the_postgresql_benchmark_smoke_run_writes_every_figure(pg_url: str,
                                                                 tmp_path: Path) -> None:
    """bench/run.py --store postgresql://…: every figure and target, on a tiny run (the
    figures themselves are bench/run.py's business, never a test's)."""
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--store", pg_url, "--n", "30",
         "--repeat", "1", "--pg-imports", "2", "--json-out", str(out)],
        capture_output=True, text=True, timeout=DEADLINE_SECONDS, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data["figures"]) == {"pg_migrate", "floor_startup", "floor_psycopg",
                                    "floor_psycopg_frozen", "pg_show", "pg_trends",
                                    "pg_failures", "pg_importers"}
    assert set(data["targets"]) == {"pg_migrate_seconds", "pg_show/floor_startup",
                                    "pg_trends/floor_startup", "pg_failures/floor_startup",
                                    "pg_importers_s_per_import"}
    assert ":***@" in data["config"]["store"]
    assert "pg_importers" in result.stdout and "targets met" in result.stdout


def test_the_ci_gates_judge_in_sql_what_the_python_path_judges(
    pg_url: str, tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--fail-under and --ci-exit-code judge every match; on PostgreSQL the figures come from
    one aggregate query, and say the same as a SQLite store holding the same records."""
    from phaser_analytics.stores.postgres import PostgresStore

    records = [make_record("/team/web", hours=i, status=list(ExecutionStatus)[i % 3])
               for i in range(30)]
    sqlite_url = f"sqlite:///{tmp_path / 'same.db'}"
    for url in (pg_url, sqlite_url):
        store = open_store(url)
        store.save(records)
        store.close()
    calls = []
    original = PostgresStore.stats
    monkeypatch.setattr(PostgresStore, "stats",
                        lambda self, *a, **k: calls.append(a) or original(self, *a, **k))
    said = {}
    for url in (pg_url, sqlite_url):
        result = runner.invoke(cli, ["analytics", "--store", url, "show", "--global", "--last",
                                     "3", "--fail-under", "50%", "--ci-exit-code"])
        assert result.exit_code == 1, result.output
        said[url] = [line for line in result.output.splitlines() if "CI gate" in line]
    assert said[pg_url] == said[sqlite_url]
    assert "10 failed and 10 partial execution(s) (30 executions judged)" in said[pg_url][0]
    assert len(calls) == 1
