"""The PostgreSQL store's figures for bench/run.py (``--store postgresql`` or
``--store postgresql://…``), against the targets of issue 11:

- ``pg_migrate``: ``store migrate`` of N executions from a SQLite store into an empty
  PostgreSQL database (≤ 30 s at N = 100,000);
- ``pg_show``: ``show --global`` on the database of N (≤ 2.5× the start-up floor);
- ``pg_trends`` and ``pg_failures`` over the N (each ≤ 4× the floor);
- ``pg_importers``: 8 processes importing reports one ``import`` at a time, at once
  (≥ 50 imports/s in total: ≤ 20 ms of wall time per import).

``--store postgresql`` starts a throwaway local server (tests/pgserver.py: Debian's
binaries, a temporary directory, a free port on 127.0.0.1) and stops it afterwards;
``--store postgresql://…`` uses that database, dropping and recreating phaser-analytics'
tables in it between runs: never point it at a database whose history you want to keep.

The N executions of the SQLite store are built from bench/synth.py's facts directly (as the
markdown dialect would read them), so the set-up costs seconds instead of parsing N reports.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import synth

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
PROJECTS = 5
#: The start-up floor plus psycopg: what any command on a PostgreSQL store pays first.
FLOOR_PSYCOPG = "import click, pluggy, json, psycopg"
#: The same, ending as our console scripts end (gc.freeze: the exit's collections skip what
#: is alive; docs/performance.md, "Exit"): the least any command on a PostgreSQL store takes.
FLOOR_PSYCOPG_FROZEN = "import click, pluggy, json, psycopg, gc; gc.freeze()"
IMPORTERS = 8
IMPORTS_EACH = 25
SAVE_BATCH = 2000

#: Each importer: import the reports given, one ``import`` command (one connection, one
#: transaction) each, in this process; the store URL is argv[1]. It ends as the console
#: scripts end (``gc.freeze``: the interpreter's collections at exit skip what is alive;
#: docs/performance.md, "Exit"), so it pays what a ``phaser`` process pays.
IMPORTER = """
import gc, sys
from phaser_analytics.cli import cli
url, reports = sys.argv[1], sys.argv[2:]
for report in reports:
    try:
        cli.main(["analytics", "import", report, "--store", url], standalone_mode=False)
    except SystemExit as exc:
        if exc.code:
            raise
gc.freeze()
"""

#: Start IMPORTERS importers at once (argv: url, reports root, run number, imports each)
#: and fail unless every one succeeded.
IMPORTERS_SCRIPT = f"""
import os, subprocess, sys
url, root, number, each = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
children = []
for worker in range({IMPORTERS}):
    folder = os.path.join(root, f"run{{number}}", f"w{{worker}}")
    reports = sorted(os.path.join(folder, d, "{synth.REPORT_NAME}") for d in os.listdir(folder))
    env = dict(os.environ, PHASER_MACHINE=f"bench-machine-{{worker}}")
    children.append(subprocess.Popen([sys.executable, "-c", {IMPORTER!r}, url, *reports],
                                     env=env, stdout=subprocess.DEVNULL))
sys.exit(max(child.wait() for child in children))
"""


def redacted(url: str) -> str:
    from phaser_analytics.stores.base import redact

    return redact(url)


@dataclass
class Database:
    """The database the figures use, and how to empty it between runs."""

    url: str
    admin_url: str

    def reset(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(
                "DROP FUNCTION IF EXISTS phaser_schema_version(phaser_schema); "
                "DROP TABLE IF EXISTS phaser_executions, phaser_schema, phaser_quarantine, "
                "phaser_projects, phaser_phases, phaser_reasons, phaser_hours; "
                "DROP FUNCTION IF EXISTS phaser_projects_count(), phaser_children_sync(), "
                "phaser_executions_inserted(), "
                "phaser_hours_sync()"
            )

    def count(self) -> int:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            found = conn.execute("SELECT to_regclass('phaser_executions')").fetchone()
            if found is None or found[0] is None:
                return 0
            return int(conn.execute("SELECT count(*) FROM phaser_executions").fetchone()[0])


@contextlib.contextmanager
def database(store: str, log: Callable[[str], None]) -> Iterator[Database]:
    """``--store postgresql``: a local server of our own; a URL: that database."""
    if store.rstrip(":/") not in ("postgresql", "postgres"):
        yield Database(store, store)
        return
    sys.path.insert(0, str(TESTS))
    from pgserver import PgServer

    log("starting a local PostgreSQL server")
    server = PgServer.create()
    try:
        name = server.create_database("phaser_bench")
        log(f"  PostgreSQL {server.version} on 127.0.0.1:{server.port}")
        yield Database(server.url(name), server.url(name))
    finally:
        server.stop()


def record_of(index: int, seed: int) -> Any:
    """The record the markdown dialect would make of synth's ``index``-th report."""
    from phaser_analytics.models import (
        ExecutionRecord,
        ExecutionStatus,
        PhaseRecord,
        PhaseStatus,
    )

    report = synth.make_report(index, seed)
    statuses = {"✅": PhaseStatus.COMPLETED, "❌": PhaseStatus.FAILED}
    phases = [
        PhaseRecord(phase_number=p.number, title=p.title,
                    status=statuses.get(p.mark, PhaseStatus.SKIPPED), commit_sha=p.sha or None)
        for p in report.phases
    ]
    project = index % PROJECTS
    return ExecutionRecord(
        execution_id=ExecutionRecord.generate_id(),
        audit_document=report.document,
        document_title=report.title,
        project_name=f"bench-{project}",
        project_path=f"/bench/project-{project}",
        branch=report.branch,
        started_at=report.started,
        completed_at=report.completed,
        phaser_version="1.7.0",
        status=ExecutionStatus(report.status),
        phases_planned=len(phases),
        phases_completed=sum(p.status is PhaseStatus.COMPLETED for p in phases),
        baseline_tests=report.baseline,
        final_tests=report.final,
        base_commit=report.base_sha,
        commit_count=sum(1 for p in phases if p.commit_sha),
        files_changed=len(report.files),
        phases=phases,
        report_path=f"/bench/project-{project}/{index:06d}/{synth.REPORT_NAME}",
        lines_added=sum(f[1] for f in report.files),
        lines_removed=sum(f[2] for f in report.files),
        failure_reasons=["a phase failed"] if report.status != "success" else [],
        tokens={"input": 1000 + index % 997, "output": 200, "total": 1200 + index % 997},
        cost_usd=round(0.01 * (index % 37), 4),
    )


def build_source(path: Path, n: int, seed: int, log: Callable[[str], None]) -> str:
    """A SQLite store of N executions; its URL."""
    from phaser_analytics.stores import open_store

    url = f"sqlite:///{path}"
    log(f"building a SQLite store of {n} executions")
    store = open_store(url, warn=lambda message: None)
    try:
        for start in range(0, n, SAVE_BATCH):
            store.save([record_of(i, seed) for i in range(start, min(n, start + SAVE_BATCH))])
    finally:
        store.close()
    return url


def write_import_reports(root: Path, n: int, repeat: int, each: int, seed: int) -> None:
    """Fresh reports for every run of the importers: run r, worker w, ``each`` reports."""
    index = n
    for run in range(repeat):
        for worker in range(IMPORTERS):
            synth.write_reports(root / f"run{run}" / f"w{worker}", range(index, index + each),
                                seed)
            index += each


def run_all(bench: Any, root: Path, n: int, seed: int, store: str,
            spec: Callable[..., Any], phaser: Callable[..., list[str]],
            floor: Any, imports_each: int = IMPORTS_EACH) -> dict[str, Any]:
    """Every PostgreSQL figure (run.py's Bench, Spec, phaser and floor Spec are passed in,
    so this module holds only what is PostgreSQL's)."""
    log = bench.log
    figures = []
    with database(store, log) as db:
        source = build_source(root / "source.db", n, seed, log)
        each = imports_each
        write_import_reports(root / "importers", n, bench.repeat, each, seed)

        def expect(count: int) -> Callable[[Any, int], None]:
            def check(run: Any, number: int) -> None:
                found = db.count()
                if found != count:
                    raise RuntimeError(f"the database holds {found} executions, expected {count}")

            return check

        log("store migrate from SQLite")
        figures.append(bench.measure(spec(
            "pg_migrate",
            f"phaser analytics store migrate of {n} executions from SQLite into an empty "
            "PostgreSQL database",
            lambda _: phaser("store", "migrate", "--from", source, "--to", db.url),
            reset=db.reset,
            check=expect(n),
            reports=n,
        )))

        log("startup floor, show, trends and failures")
        figures += bench.measure_interleaved([
            floor,
            # Not a target: what importing psycopg adds to the floor, which every command
            # on a PostgreSQL store pays before it does anything (docs/performance.md).
            spec("floor_psycopg", f'python -c "{FLOOR_PSYCOPG}" with the same interpreter',
                 lambda _: [sys.executable, "-c", FLOOR_PSYCOPG]),
            spec("floor_psycopg_frozen",
                 f'python -c "{FLOOR_PSYCOPG_FROZEN}" with the same interpreter',
                 lambda _: [sys.executable, "-c", FLOOR_PSYCOPG_FROZEN]),
            spec("pg_show", f"phaser analytics show --global on a PostgreSQL store of {n}",
                 lambda _: phaser("--store", db.url, "show", "--global")),
            spec("pg_trends", f"phaser analytics trends --global over {n}",
                 lambda _: phaser("--store", db.url, "trends", "--global")),
            spec("pg_failures", f"phaser analytics failures --global over {n}",
                 lambda _: phaser("--store", db.url, "failures", "--global")),
        ])

        log(f"{IMPORTERS} importers at once")
        imports = IMPORTERS * each
        figures.append(bench.measure(spec(
            "pg_importers",
            f"{IMPORTERS} processes importing {each} reports each, one import at a time",
            lambda number: [sys.executable, "-c", IMPORTERS_SCRIPT, db.url,
                            str(root / "importers"), str(number), str(each)],
            check=lambda run, number: expect(n + imports * (number + 1))(run, number),
            reports=imports,
        )))
    return {figure.name: figure for figure in figures}


def targets(figures: dict[str, Any], target: Callable[..., Any], ratio: Callable[..., Any],
            n: int) -> list[Any]:
    """Issue 11's targets (the migrate limit is for N = 100,000)."""
    migrate = figures["pg_migrate"]
    importers = figures["pg_importers"]
    per_import = importers.seconds / importers.reports
    return [
        target("pg_migrate_seconds", f"pg_migrate wall time at N={n} (target at 100,000)",
               migrate.seconds, 30.0, "s", migrate.cpu_seconds),
        ratio(figures, "pg_show", "floor_startup", "pg_show/floor_startup", 2.5),
        ratio(figures, "pg_trends", "floor_startup", "pg_trends/floor_startup", 4.0),
        ratio(figures, "pg_failures", "floor_startup", "pg_failures/floor_startup", 4.0),
        target("pg_importers_s_per_import",
               f"pg_importers wall time per import ({IMPORTERS} at once; ≤ 0.02 s is ≥ 50/s)",
               per_import, 0.02, "s"),
    ]
