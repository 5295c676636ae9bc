"""One suite, every backend (tests/store_backends.py): what the store interface promises.

Each test runs once per backend; the CLI is driven with ``--store URL`` (nothing for the
default JSON store), the Python API through :func:`open_store`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from storage_helpers import DAY0, REPO, Warnings, make_record
from store_backends import BACKENDS, Backend

from phaser_analytics.cli import cli
from phaser_analytics.errors import ExecutionNotFoundError, StorageError
from phaser_analytics.models import (
    AnalyticsQuery,
    ExecutionRecord,
    ExecutionStatus,
    PhaseRecord,
    PhaseStatus,
)
from phaser_analytics.query import select_entries
from phaser_analytics.stores import open_store
from phaser_analytics.stores.base import (
    Entry,
    Store,
    StoreInfo,
    redact,
    sort_newest_first,
    store_location,
)

#: A guard against a hung child, not a measurement.
DEADLINE_SECONDS = 120


@pytest.fixture(params=BACKENDS, ids=str)
def backend(request: pytest.FixtureRequest) -> Backend:
    return request.param


@pytest.fixture
def url(backend: Backend, tmp_path: Path, project: Path) -> str | None:
    return backend.make_url(tmp_path, project)


@pytest.fixture
def warnings() -> Warnings:
    return Warnings()


@pytest.fixture
def store(url: str | None, project: Path, warnings: Warnings) -> Iterator[Store]:
    opened = open_store(url, project_dir=project, warn=warnings)
    yield opened
    opened.close()


def cli_args(url: str | None, *args: str) -> list[str]:
    return ["analytics", *(["--store", url] if url else []), *args]


def invoke(url: str | None, project: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, [*cli_args(url, *args), "--project", str(project)])


def full_record(project: Path) -> ExecutionRecord:
    """A record with every field set, unicode and nested values included."""
    return make_record(
        project,
        document="dokument-7-ümlaut ✓.md",
        document_title="Document 7: «Reverse»",
        branch="audit/x",
        phaser_version="1.7.0",
        status=ExecutionStatus.PARTIAL,
        final_commit="ffff",
        commit_count=7,
        files_changed=12,
        phases=[
            PhaseRecord(
                phase_number=36,
                title="Spec",
                status=PhaseStatus.COMPLETED,
                commit_sha="b2c3",
                completed_at=DAY0,
                duration_seconds=12.5,
                tests_before=1,
                tests_after=2,
                error_message="none",
                retry_count=1,
            )
        ],
        report_path="/r/EXECUTION_REPORT.md",
        date_only=False,
        reported_test_delta=9,
        tag="v1",
        lines_added=10,
        lines_removed=3,
        failure_reasons=["flaky", "timeout"],
        tokens={"input": 1, "output": 2, "cache_creation": 3, "cache_read": 4, "total": 10},
        tokens_by_model={"claude": {"input": 1, "total": 1}},
        cost_usd=1.25,
        extra={"custom": {"nested": [1, 2]}},
    )


# -- round trip, identity, replace ---------------------------------------------------------


def test_every_field_round_trips(store: Store, project: Path) -> None:
    record = full_record(project)
    expected = record.to_dict()
    [outcome] = store.save([record])
    assert outcome.action == "imported"
    assert store.get(record.execution_id).to_dict() == expected
    [entry] = store.find()
    assert entry == Entry.of(record, entry.ref)
    assert [r.to_dict() for r in store.read([entry])] == [expected]


def test_same_identity_is_already_there(store: Store, project: Path) -> None:
    first = make_record(project)
    twin = make_record(project)  # the same identity, another id
    assert store.save([first])[0].action == "imported"
    outcome = store.save([twin])[0]
    assert (outcome.action, outcome.execution_id) == ("already", first.execution_id)
    assert len(list(store.find())) == 1


def test_replace_keeps_the_stored_id(store: Store, project: Path) -> None:
    first = make_record(project, status=ExecutionStatus.FAILED)
    store.save([first])
    newer = make_record(project, status=ExecutionStatus.SUCCESS)
    outcome = store.save([newer], replace=True)[0]
    assert (outcome.action, outcome.execution_id) == ("replaced", first.execution_id)
    assert newer.execution_id == first.execution_id
    assert store.get(first.execution_id).status is ExecutionStatus.SUCCESS
    assert [e.status for e in store.find()] == [ExecutionStatus.SUCCESS]


def test_same_id_is_the_same_execution(store: Store, project: Path) -> None:
    record = make_record(project)
    store.save([record])
    moved = make_record(project, hours=30, execution_id=record.execution_id)
    assert store.save([moved])[0].action == "already"
    assert store.save([moved], replace=True)[0].action == "replaced"
    [entry] = store.find()
    assert entry.started_at == moved.started_at


def test_a_batch_repeating_an_execution_stores_it_once(store: Store, project: Path) -> None:
    batch = [make_record(project), make_record(project), make_record(project, hours=1)]
    outcomes = store.save(batch)
    assert [o.action for o in outcomes] == ["imported", "already", "imported"]
    assert len(list(store.find())) == 2


def test_identity_fields(store: Store, project: Path) -> None:
    store.save([make_record(project)])
    different = [
        make_record(project, document="other.md"),
        make_record(project, base_commit="zzz"),
        make_record(project, hours=1, base_commit="c0"),
        make_record(project.parent / "elsewhere"),
    ]
    assert [o.action for o in store.save(different)] == ["imported"] * 4


@pytest.mark.parametrize("bad_id", ["", "..", "../x", "a/b", "a\\b", ".hidden", "x" * 200])
def test_invalid_ids_are_refused_before_writing(store: Store, project: Path, bad_id: str) -> None:
    with pytest.raises(StorageError, match="Cannot store an execution"):
        store.save([make_record(project, hours=5), make_record(project, execution_id=bad_id)])
    assert list(store.find()) == []


# -- ids -------------------------------------------------------------------------------------


def _ided(project: Path, *ids: str) -> list[ExecutionRecord]:
    return [make_record(project, hours=i, execution_id=x) for i, x in enumerate(ids)]


def test_prefixes_resolve_like_git(store: Store, project: Path) -> None:
    store.save(_ided(project, "abcd1234-0000-4000-8000-000000000001", "abcd9999-0000-4000-8000-0"))
    assert store.get("abcd1").execution_id.startswith("abcd1234")
    assert store.get("ABCD12").execution_id.startswith("abcd1234")
    assert store.get("abcd12340000").execution_id.startswith("abcd1234")  # dashes optional
    with pytest.raises(StorageError, match=r"ambiguous.*abcd9999.*abcd1234"):
        store.get("abcd")
    with pytest.raises(StorageError, match="too short"):
        store.get("ab")
    with pytest.raises(ExecutionNotFoundError, match="Execution not found: ffff0000"):
        store.get("ffff0000")


@pytest.mark.parametrize("bad", ["", "..", "../../etc/passwd", "a/b", "/etc/passwd", "%", "_"])
def test_path_traversal_ids_are_not_found(store: Store, project: Path, bad: str) -> None:
    store.save([make_record(project, execution_id="abcd1234-0000-4000-8000-000000000001")])
    with pytest.raises(ExecutionNotFoundError):
        store.get(bad)
    with pytest.raises(ExecutionNotFoundError):
        store.delete([bad])
    assert len(list(store.find())) == 1


def test_like_wildcards_in_a_prefix_match_nothing_extra(store: Store, project: Path) -> None:
    store.save(_ided(project, "abcd1234-0000-4000-8000-000000000001"))
    with pytest.raises(ExecutionNotFoundError):
        store.get("ab_d")


# -- find ------------------------------------------------------------------------------------


def _mixed(project: Path) -> list[ExecutionRecord]:
    statuses = [ExecutionStatus.SUCCESS, ExecutionStatus.FAILED, ExecutionStatus.PARTIAL]
    records = [
        make_record(project, hours=h, status=statuses[h % 3], document=f"doc-{h % 4}.md")
        for h in range(12)
    ]
    records.append(make_record(project, hours=99, started_at=None, completed_at=None))
    records.append(make_record(project, hours=98, started_at=None, completed_at=None))
    return records


QUERIES = [
    AnalyticsQuery(),
    AnalyticsQuery(limit=3),
    AnalyticsQuery(limit=0),
    AnalyticsQuery(status=ExecutionStatus.FAILED),
    AnalyticsQuery(document="doc-1"),
    AnalyticsQuery(document=""),
    AnalyticsQuery(since=DAY0 + timedelta(hours=4)),
    AnalyticsQuery(until=DAY0 + timedelta(hours=4)),
    AnalyticsQuery(since=DAY0 + timedelta(hours=2), until=DAY0 + timedelta(hours=8), limit=2),
]


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: json.dumps(q.to_dict()))
def test_find_is_the_query_over_every_entry(
    store: Store, project: Path, query: AnalyticsQuery
) -> None:
    records = _mixed(project)
    store.save(records)
    expected = select_entries([Entry.of(r) for r in records], query)
    found = list(store.find(query))
    assert [e.execution_id for e in found] == [e.execution_id for e in expected]


def test_find_is_newest_first_with_unknown_starts_last(store: Store, project: Path) -> None:
    records = _mixed(project)
    store.save(list(reversed(records)))
    found = list(store.find())
    assert [e.execution_id for e in found] == [r.execution_id for r in sort_newest_first(records)]
    assert found[-1].started_at is None and found[-2].started_at is None


def test_find_of_a_project(backend: Backend, store: Store, project: Path) -> None:
    other = project.parent / "other"
    store.save([make_record(project), make_record(other, hours=1)])
    mine = list(store.find(project=str(project)))
    if backend.multi_project:
        assert [e.project_path for e in mine] == [str(project)]
        assert store.info().multi_project
    else:
        assert len(mine) == 2  # one store, one project: the argument is ignored
    assert len(list(store.find())) == 2


def test_info(store: Store, project: Path, backend: Backend) -> None:
    store.save([make_record(project, hours=i) for i in range(3)])
    info = store.info()
    assert info.backend == backend.name
    assert info.count == 3
    assert info.schema_version
    assert sum(p.count for p in info.projects) == 3
    assert info.project_name() == "Demo"
    # What import's summary names the store by, read without counting its executions.
    assert store.location == store_location(store) == info.location  # type: ignore[attr-defined]


def test_a_store_without_a_location_is_named_by_its_info() -> None:
    """A plugin's store need not have ``location``: ``info()`` says where it is."""

    class Bare:
        url = "bare://somewhere"

        def info(self) -> StoreInfo:
            return StoreInfo(backend="bare", location="/somewhere/else", count=0)

    assert store_location(Bare()) == "/somewhere/else"


# -- delete ----------------------------------------------------------------------------------


def test_delete_by_prefix_and_missing(store: Store, project: Path) -> None:
    records = _ided(project, "abcd1234-0000-4000-8000-000000000001", "bcde2345-0000-4000-8000-1")
    store.save(records)
    with pytest.raises(ExecutionNotFoundError):
        store.delete(["abcd1234", "ffff0000"])  # nothing deleted: one was not found
    assert len(list(store.find())) == 2
    removed = store.delete(["abcd1234", "ffff0000"], missing_ok=True)
    assert [e.execution_id for e in removed] == [records[0].execution_id]
    assert [e.execution_id for e in store.find()] == [records[1].execution_id]
    with pytest.raises(ExecutionNotFoundError):
        store.get(records[0].execution_id)


# -- corrupt data ----------------------------------------------------------------------------


def test_a_record_that_does_not_load_is_set_aside_once(
    backend: Backend, url: str | None, store: Store, project: Path, warnings: Warnings
) -> None:
    records = [make_record(project, hours=i) for i in range(3)]
    store.save(records)
    backend.corrupt(url, project, records[1].execution_id)
    loaded = list(store.read(store.find()))
    assert [r.execution_id for r in loaded] == [records[2].execution_id, records[0].execution_id]
    assert len(warnings) == 1, warnings
    assert records[1].execution_id.lower()[:8] in warnings[0].lower()
    warnings.clear()
    fresh = open_store(url, project_dir=project, warn=warnings)
    assert len(list(fresh.read(fresh.find()))) == 2
    assert warnings == []  # set aside: not found, not warned about, again


def test_commands_survive_a_record_that_does_not_load(
    backend: Backend, url: str | None, store: Store, project: Path
) -> None:
    records = [make_record(project, hours=i) for i in range(3)]
    store.save(records)
    store.close()
    backend.corrupt(url, project, records[0].execution_id)
    assert invoke(url, project, "doctor").exit_code == 1
    repaired = invoke(url, project, "doctor", "--repair")
    assert repaired.exit_code == 0, repaired.output
    for args in (["show"], ["export", "--format", "json"], ["trends"], ["failures"], ["phases"]):
        result = invoke(url, project, *args)
        assert result.exit_code == 0, (args, result.output)
    shown = invoke(url, project, "show", "--format", "json")
    assert len(json.loads(shown.stdout)["executions"]) == 2


# -- the command line ------------------------------------------------------------------------


def test_import_into_the_store(url: str | None, project: Path, example_report: Path) -> None:
    result = invoke(url, project, "import", str(example_report))
    assert result.exit_code == 0, result.output
    again = invoke(url, project, "import", str(example_report))
    assert "Already imported" in again.output
    forced = invoke(url, project, "import", "--force", str(example_report))
    assert "Replaced" in forced.output
    info = invoke(url, project, "store", "info", "--json")
    assert json.loads(info.stdout)["count"] == 1
    shown = invoke(url, project, "show", "--format", "json", "--global")
    assert len(json.loads(shown.stdout)["executions"]) == 1


def test_store_option_is_accepted_after_the_command(url: str | None, project: Path) -> None:
    given = url or str(project / ".phaser" / "analytics")  # the default store, by its path
    open_store(url, project_dir=project).save([make_record(project)])
    result = CliRunner().invoke(
        cli, ["analytics", "store", "info", "--json", "--store", given, "--project", str(project)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["location"] in (
        given,
        redact(given),
        given.replace("sqlite:///", "/"),
    )
    assert json.loads(result.stdout)["count"] == 1


def test_clear_before_dry_run_and_all(store: Store, url: str | None, project: Path) -> None:
    store.save([make_record(project, hours=24 * i) for i in range(4)])  # Dec 1..4
    store.close()
    dry = invoke(url, project, "clear", "--before", "2024-12-03", "--dry-run")
    assert dry.exit_code == 0 and "Would delete 2" in dry.output
    assert "2 remaining" in dry.output
    assert len(list(open_store(url, project_dir=project).find())) == 4
    before = invoke(url, project, "clear", "--before", "2024-12-03", "--force")
    assert "Deleted 2" in before.output, before.output
    assert len(list(open_store(url, project_dir=project).find())) == 2
    cleared = invoke(url, project, "clear", "--all", "--force")
    assert "Deleted 2" in cleared.output
    assert list(open_store(url, project_dir=project).find()) == []


def test_doctor_on_a_healthy_store(store: Store, url: str | None, project: Path) -> None:
    store.save([make_record(project)])
    store.close()
    result = invoke(url, project, "doctor")
    assert result.exit_code == 0, result.output
    assert "No problems found." in result.output


def test_migrate_both_ways_is_idempotent(
    store: Store, url: str | None, project: Path, tmp_path: Path
) -> None:
    records = [full_record(project), *(make_record(project, hours=i) for i in range(1, 6))]
    store.save(records)
    store.close()
    target = f"sqlite:///{tmp_path / 'copy.db'}" if url is None else str(tmp_path / "copy-json")
    first = invoke(url, project, "store", "migrate", "--to", target)
    assert first.exit_code == 0, first.output
    assert "Copied 6" in first.output and "holds all 6" in first.output
    second = invoke(url, project, "store", "migrate", "--to", target)
    assert "Copied 0" in second.output and "6 were already there" in second.output
    copy = open_store(target, project_dir=project)
    assert {r.execution_id: r.to_dict() for r in copy.read(copy.find())} == {
        r.execution_id: r.to_dict() for r in records
    }


def test_migrate_resumes_after_an_interruption(
    store: Store, url: str | None, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from phaser_analytics import hookimpl
    from phaser_analytics.cli import store_cmds
    from phaser_analytics.plugins import build_host, set_host

    store.save([make_record(project, hours=i) for i in range(7)])
    store.close()
    target = f"sqlite:///{tmp_path / 'copy.db'}" if url is None else str(tmp_path / "copy-json")
    monkeypatch.setattr(store_cmds, "MIGRATE_BATCH", 3)
    saves = {"n": 0}

    class Interrupted:
        """The target store, through a store plugin whose ``save`` is killed between the
        first and the second batch."""

        def __init__(self, opened: Store) -> None:
            self.opened = opened

        def __getattr__(self, name: str) -> Any:
            return getattr(self.opened, name)

        def save(self, records: Any, **options: Any) -> Any:
            saves["n"] += 1
            if saves["n"] == 2:
                raise KeyboardInterrupt
            return self.opened.save(records, **options)

    class Plugin:
        @hookimpl
        def register_stores(self, register: Any) -> None:
            def open_interrupted(url: str, *, project_dir: Any = None, warn: Any = None) -> Any:
                real = url.removeprefix("interrupted://")
                return Interrupted(open_store(real, project_dir=project_dir))

            register("interrupted", open_interrupted)

    set_host(build_host([("interrupted", Plugin())]))
    try:
        migrate = ("store", "migrate", "--to", f"interrupted://{target}")
        assert invoke(url, project, *migrate).exit_code != 0
    finally:
        set_host(None)
    assert saves["n"] == 2
    resumed = invoke(url, project, "store", "migrate", "--to", target)
    assert "Copied 4" in resumed.output and "3 were already there" in resumed.output
    copy = open_store(target, project_dir=project)
    assert len(list(copy.find())) == 7


# -- processes -------------------------------------------------------------------------------

PRELUDE = f"""
import os, sys, time
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).parent)!r})
from storage_helpers import make_record
from phaser_analytics.stores import save_execution
from phaser_analytics.stores import open_store
"""


def _python(code: str, url: str | None, **kwargs: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("PHASER_STORE", None)
    if url:
        env["PHASER_STORE"] = url
    return subprocess.Popen([sys.executable, "-c", code], env=env, text=True, **kwargs)


@pytest.mark.slow
def test_eight_processes_of_25_saves_store_exactly_200(url: str | None, project: Path) -> None:
    go = project.parent / "go"
    code = (
        PRELUDE
        + f"""
while not Path({str(go)!r}).exists():
    time.sleep(0.01)
project = Path({str(project)!r})
worker = int(sys.argv[1]) if len(sys.argv) > 1 else 0
for i in range(25):
    save_execution(make_record(project, hours=i, document="w%s-%d.md" % (os.getpid(), i)), project)
"""
    )
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    writers = [_python(code, url, **pipes) for _ in range(8)]
    go.touch()
    for writer in writers:
        _, err = writer.communicate(timeout=DEADLINE_SECONDS)
        assert writer.returncode == 0, err
    opened = open_store(url, project_dir=project)
    entries = list(opened.find())
    assert len(entries) == 200 == opened.info().count
    assert len({e.audit_document for e in entries}) == 200
    assert len(list(opened.read(entries))) == 200


@pytest.mark.slow
def test_sigkill_during_a_bulk_import_leaves_a_working_store(
    backend: Backend, url: str | None, project: Path
) -> None:
    code = (
        PRELUDE
        + f"""
project = Path({str(project)!r})
store = open_store({url!r}, project_dir=project)
n = 0
while True:
    store.save([make_record(project, hours=n + i) for i in range(25)])
    n += 25
    print(n, flush=True)
"""
    )
    process = _python(code, url, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    deadline = time.monotonic() + DEADLINE_SECONDS
    while int(process.stdout.readline() or 0) < 100:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline
    time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=DEADLINE_SECONDS)
    for args in (
        ["show", "--format", "json", "--last", "100000"],
        ["export", "--format", "json"],
        ["trends"],
        ["doctor", "--repair"],  # a killed writer may leave temporary files to clear
        ["doctor"],
    ):
        result = invoke(url, project, *args)
        assert result.exit_code == 0, (args, result.output)
    opened = open_store(url, project_dir=project)
    entries = list(opened.find())
    assert len(entries) >= 100
    if backend.name != "json":  # one transaction per batch: whole batches only
        assert len(entries) % 25 == 0
    # (JSON renames a batch's files one by one: a kill among them leaves those renamed,
    # each whole, and the import run again stores the rest; docs/storage.md.)
    assert opened.info().count == len(entries) == len(list(opened.read(entries)))
    whole = -(-len(entries) // 25) * 25
    opened.save([make_record(project, hours=n) for n in range(whole)])
    assert open_store(url, project_dir=project).info().count == whole
    shown = invoke(url, project, "show", "--format", "json", "--last", "100000")
    assert len(json.loads(shown.stdout)["executions"]) == whole


def test_sqlite_migrations_are_recorded_and_applied_once(tmp_path: Path, project: Path) -> None:
    import sqlite3

    from phaser_analytics.stores.sqlite_schema import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'm.db'}"
    open_store(url, project_dir=project).save([make_record(project)])
    db = sqlite3.connect(tmp_path / "m.db")
    names = [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert names == [m.__name__ for m in MIGRATIONS]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    again = open_store(url, project_dir=project)
    assert again.info().schema_version == MIGRATIONS[-1].__name__
    assert again.info().count == 1


def test_a_sqlite_store_of_a_newer_version_is_read_but_never_written(
    tmp_path: Path, project: Path
) -> None:
    """A database a newer phaser-analytics migrated (say it keeps another pre-aggregate):
    ``show`` reads it; ``import`` says in one line to upgrade and writes nothing, since
    the newer version's tables would miss the write."""
    import sqlite3

    path = tmp_path / "newer.db"
    url = f"sqlite:///{path}"
    open_store(url, project_dir=project).save([make_record(project)])
    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT INTO _migrations (name, applied_at) VALUES ('m999_future', 'x')")
    db.close()
    shown = invoke(url, project, "show", "--format", "json")
    assert shown.exit_code == 0, shown.output
    assert len(json.loads(shown.stdout)["executions"]) == 1
    report = tmp_path / "EXECUTION_REPORT.md"
    report.write_text((REPO / "examples" / "EXECUTION_REPORT.md").read_text(encoding="utf-8"))
    refused = invoke(url, project, "import", str(report))
    assert refused.exit_code != 0
    assert "was written by a newer phaser-analytics (migrations m999_future)" in refused.output
    assert "Traceback" not in refused.output
    assert open_store(url, project_dir=project).info().count == 1


def test_a_read_only_sqlite_store_is_read(tmp_path: Path, project: Path) -> None:
    """Opening a database that is up to date writes nothing, so a read-only one is read
    (run without root's capabilities, so that the permissions apply)."""
    from storage_helpers import run_cli_unprivileged

    url = f"sqlite:///{tmp_path / 'ro.db'}"
    first = open_store(url, project_dir=project)
    first.save([make_record(project)])
    first.close()
    (tmp_path / "ro.db-wal").unlink(missing_ok=True)
    (tmp_path / "ro.db-shm").unlink(missing_ok=True)
    (tmp_path / "ro.db").chmod(0o444)
    try:
        result = run_cli_unprivileged(
            ["analytics", "--store", url, "show", "--format", "json", "--global"], cwd=project
        )
    finally:
        (tmp_path / "ro.db").chmod(0o644)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["executions"]) == 1


@pytest.mark.parametrize(
    ("column", "value"), [("phases_planned", "six"), ("started_at", "yesterday"), ("status", "ok")]
)
def test_a_sqlite_row_with_damaged_columns_is_one_line_then_repaired(
    tmp_path: Path, project: Path, column: str, value: object
) -> None:
    """A database from a stranger (a project's config may name one inside the project) can
    hold columns of any type: one line and exit 1, never an internal error, and
    ``doctor --repair`` sets the row aside so every command works again."""
    import sqlite3

    url = f"sqlite:///{tmp_path / 'd.db'}"
    store = open_store(url, project_dir=project)
    records = [make_record(project, hours=i) for i in range(3)]
    store.save(records)
    store.close()
    db = sqlite3.connect(tmp_path / "d.db")
    db.execute(
        f"UPDATE executions SET {column} = ? WHERE execution_id = ?",
        (value, records[1].execution_id),
    )
    db.commit()
    db.close()
    shown = invoke(url, project, "show", "--global")
    assert shown.exit_code == 1, shown.output
    assert "damaged row" in shown.stderr and "Traceback" not in shown.output
    assert shown.stderr.count("\n") == 1
    repaired = invoke(url, project, "doctor", "--repair")
    assert "quarantine" in repaired.output, repaired.output
    shown = invoke(url, project, "show", "--global", "--format", "json")
    assert shown.exit_code == 0, shown.output
    kept = {e["execution_id"] for e in json.loads(shown.stdout)["executions"]}
    assert kept == {records[0].execution_id, records[2].execution_id}



@pytest.mark.parametrize(
    ("column", "value"),
    [("cost_usd", 9e999), ("duration_seconds", "abc"), ("total_tokens", 2.5)],
)
def test_a_damaged_row_in_shows_history_window_is_the_same_one_line(
    tmp_path: Path, project: Path, column: str, value: object
) -> None:
    """``show`` judges the shown executions against the ones before them, which it reads
    apart (``SqliteStore.history``): a damaged row there is refused as ``find`` refuses it,
    with the same line, never judged as if it were a figure."""
    import sqlite3

    path = tmp_path / "d.db"
    url = f"sqlite:///{path}"
    store = open_store(url, project_dir=project)
    records = [make_record(project, hours=i, document="doc.md") for i in range(40)]
    store.save(records)
    store.close()
    db = sqlite3.connect(path)
    with db:
        db.execute(
            f"UPDATE executions SET {column} = ? WHERE execution_id = ?",
            (value, records[5].execution_id),
        )
    db.close()
    in_window = invoke(url, project, "show", "--last", "3", "--format", "json")
    shown = invoke(url, project, "show", "--last", "40", "--format", "json")
    assert shown.exit_code == 1, shown.output
    assert records[5].execution_id in shown.stderr and "damaged row" in shown.stderr
    assert (in_window.exit_code, in_window.stderr) == (1, shown.stderr), in_window.output
    assert "Traceback" not in in_window.output
    assert invoke(url, project, "doctor", "--repair").exit_code == 0
    again = invoke(url, project, "show", "--last", "3", "--format", "json")
    assert again.exit_code == 0, again.output
    assert len(json.loads(again.stdout)["executions"]) == 3

def test_reports_from_another_machine_are_shown_in_the_project_they_were_imported_into(
    backend: Backend, url: str | None, project: Path, tmp_path: Path
) -> None:
    """The bundled reports state `/Users/jp/Projects/Phaser`: imported into this project
    (or migrated from its JSON store) they are this project's executions in every store,
    and a store of many projects keeps the stated path in the record's extra."""
    reports = tmp_path / "examples"
    shutil.copytree(REPO / "examples", reports)
    imported = invoke(url, project, "import", str(reports), "--recursive")
    assert imported.exit_code == 0, imported.output
    shown = invoke(url, project, "show", "--format", "json")
    executions = json.loads(shown.stdout)["executions"]
    assert len(executions) == 3, shown.output
    if backend.multi_project:
        opened = open_store(url, project_dir=project)
        records = list(opened.read(opened.find()))
        opened.close()
        assert {r.project_path for r in records} == {str(project.resolve())}
        assert {r.extra["reported_project_path"] for r in records} == {
            "/Users/jp/Projects/Phaser"
        }
    again = invoke(url, project, "import", str(reports), "--recursive")
    assert "3 already imported" in again.output, again.output


@pytest.mark.parametrize("many", [b for b in BACKENDS if b.multi_project], ids=str)
def test_a_json_history_migrated_into_a_store_of_many_projects_stays_this_projects(
    many: Backend, project: Path, tmp_path: Path
) -> None:
    url = many.make_url(tmp_path, project)
    reports = tmp_path / "examples"
    shutil.copytree(REPO / "examples", reports)
    assert invoke(None, project, "import", str(reports), "--recursive").exit_code == 0
    for _ in range(2):  # idempotent: the second run copies nothing and verifies all
        migrated = invoke(None, project, "store", "migrate", "--to", str(url))
        assert migrated.exit_code == 0, migrated.output
        assert "Verified" in migrated.output
    assert "3 were already there" in migrated.output
    shown = invoke(url, project, "show", "--format", "json")
    assert len(json.loads(shown.stdout)["executions"]) == 3, shown.output


def test_a_sqlite_writer_leaves_no_wal_behind_while_another_connection_is_open(
    tmp_path: Path, project: Path
) -> None:
    """The WAL is checkpointed every 50,000 pages: a writer that closes while another
    connection (a ``show``, a dashboard) is open truncates it, rather than leaving it at
    its largest beside the database for the next opener to read; the size a checkpoint
    leaves it at is limited (``journal_size_limit``). A reader in the middle of a read
    does not hold the writer up: the truncation is skipped, nothing is lost."""
    from phaser_analytics.stores.sqlite import JOURNAL_LIMIT_BYTES, SqliteStore

    path = tmp_path / "w.db"
    wal = Path(f"{path}-wal")
    reader = SqliteStore(path)
    assert reader.info().count == 0
    assert reader.db.execute("PRAGMA journal_size_limit").fetchone()[0] == JOURNAL_LIMIT_BYTES
    writer = SqliteStore(path)
    for batch in range(3):
        writer.save([make_record(project, hours=batch * 100 + n) for n in range(100)])
    assert wal.stat().st_size > 0
    writer.close()
    assert wal.stat().st_size == 0
    assert reader.info().count == 300
    assert len(list(reader.read(reader.find()))) == 300

    second = SqliteStore(path)
    second.save([make_record(project, hours=1000 + n) for n in range(50)])
    reader.db.execute("BEGIN")
    assert reader.db.execute("SELECT count(*) FROM executions").fetchone()[0] == 350
    second.close()  # busy: the reader holds the WAL; no error, no wait
    reader.db.execute("COMMIT")
    assert wal.stat().st_size > 0
    assert reader.info().count == 350
    reader.close()
    assert SqliteStore(path).info().count == 350
