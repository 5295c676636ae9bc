"""Many processes, one store: nothing is lost, readers never see half a change, and a
process killed in the middle leaves a store the next command reads and heals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from storage_helpers import assert_consistent, record_names, run_python

from phaser_analytics.cli import cli
from phaser_analytics.errors import StorageError
from phaser_analytics.storage import Store, get_analytics_dir

pytestmark = pytest.mark.skipif(os.name != "posix", reason="uses SIGKILL")

TESTS = Path(__file__).resolve().parent
#: A guard against a hung child, not a measurement.
DEADLINE_SECONDS = 120

PRELUDE = f"""
import os, sys, time
from pathlib import Path
sys.path.insert(0, {str(TESTS)!r})
from storage_helpers import make_record
from phaser_analytics.storage import Store, save_execution
"""


def _wait_for(path: Path) -> str:
    return f"""
while not Path({str(path)!r}).exists():
    time.sleep(0.01)
"""


def _writer(project: Path, go: Path, worker: int, saves: int) -> str:
    return (
        PRELUDE
        + _wait_for(go)
        + f"""
project = Path({str(project)!r})
for i in range({saves}):
    record = make_record(project, hours=i, document="worker-{worker}-%d.md" % i)
    save_execution(record, project)
"""
    )


def _reader(project: Path, go: Path, stop: Path) -> str:
    """Reads until ``stop`` exists; prints each warning, and fails on any inconsistency."""
    return (
        PRELUDE
        + _wait_for(go)
        + f"""
project = Path({str(project)!r})
seen = 0
while True:
    done = Path({str(stop)!r}).exists()
    store = Store(project, warn=lambda m: print("WARNING", m, file=sys.stderr))
    entries = store.entries()
    records = store.load_entries(entries)
    assert len(records) == len(entries), (len(records), len(entries))
    assert len(entries) >= seen, (len(entries), seen)
    seen = len(entries)
    if done:
        break
print(seen)
"""
    )


def _finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    out, err = process.communicate(timeout=DEADLINE_SECONDS)
    assert process.returncode == 0, err
    return out, err


def test_parallel_writers_lose_nothing_and_readers_see_whole_changes(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    go, stop = tmp_path / "go", tmp_path / "stop"
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    writers = [run_python(_writer(project, go, w, 25), **pipes) for w in range(8)]
    readers = [run_python(_reader(project, go, stop), **pipes) for _ in range(2)]
    go.touch()
    for writer in writers:
        _finish(writer)
    stop.touch()
    for reader in readers:
        out, err = _finish(reader)
        assert err == ""  # a reader never had to heal what a live writer was doing
        assert int(out) == 200
    assert len(record_names(project)) == 200
    entries = Store(project).entries()
    assert len(entries) == 200
    assert len({e.audit_document for e in entries}) == 200
    assert_consistent(project)


def _bulk_forever(project: Path, batch: int) -> str:
    return (
        PRELUDE
        + f"""
project = Path({str(project)!r})
store = Store(project)
n = 0
while True:
    store.add([make_record(project, hours=n + i) for i in range({batch})])
    n += {batch}
"""
    )


def _reads_everywhere(project: Path) -> None:
    """Every command that reads the store works, and afterwards index and files agree."""
    runner = CliRunner()
    for args in (
        ["analytics", "show", "--format", "json", "--last", "1000"],
        ["analytics", "export", "--format", "json"],
    ):
        result = runner.invoke(cli, [*args, "--project", str(project)])
        assert result.exit_code == 0, result.output
    assert_consistent(project)


def test_sigkill_during_a_bulk_import_leaves_a_readable_store(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    process = run_python(_bulk_forever(project, 25), stderr=subprocess.PIPE)
    executions = get_analytics_dir(project) / "executions"
    deadline = time.monotonic() + DEADLINE_SECONDS
    while len(list(executions.glob("*.json"))) < 100:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "the importer never got going"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=DEADLINE_SECONDS)
    assert process.returncode == -signal.SIGKILL
    files_after_kill = len(record_names(project))
    _reads_everywhere(project)
    # Nothing on disk was dropped by the healing: every record file is in the index.
    assert len(Store(project).entries()) == files_after_kill


def _kill_at(project: Path, batch: int, when: str) -> str:
    """Import batches and SIGKILL ourselves at the worst moment of the third one: ``index``
    just before its index is renamed into place (its records already are), ``staging``
    half-way through writing its temporary files."""
    return (
        PRELUDE
        + f"""
import signal
import phaser_analytics.storage as storage
real_replace, real_stage = os.replace, storage.stage_file
count = {{"index": 0, "staged": 0}}

def replace(src, dst):
    if str(dst).endswith("index.json"):
        count["index"] += 1
        if {when!r} == "index" and count["index"] == 3:
            os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)

def stage_file(path, data, **options):
    # Per batch: its records, its index, the journal.
    count["staged"] += 1
    if {when!r} == "staging" and count["staged"] == 2 * ({batch} + 2) + {batch} // 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return real_stage(path, data, **options)

os.replace, storage.stage_file = replace, stage_file
project = Path({str(project)!r})
store = Store(project)
for n in range(3):
    store.add([make_record(project, hours=n * {batch} + i) for i in range({batch})])
"""
    )


def test_killed_after_the_records_before_the_index_loses_nothing(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    process = run_python(_kill_at(project, 20, "index"))
    process.wait(timeout=DEADLINE_SECONDS)
    assert process.returncode == -signal.SIGKILL
    analytics = get_analytics_dir(project)
    assert (analytics / ".journal").exists()
    assert json.loads((analytics / "index.json").read_text())["execution_count"] == 40
    assert len(record_names(project)) == 60
    _reads_everywhere(project)
    assert len(Store(project).entries()) == 60
    assert not (analytics / ".journal").exists()


def test_killed_while_staging_changes_nothing_visible(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    process = run_python(_kill_at(project, 20, "staging"))
    process.wait(timeout=DEADLINE_SECONDS)
    assert process.returncode == -signal.SIGKILL
    analytics = get_analytics_dir(project)
    assert len(record_names(project)) == 40
    assert list(analytics.glob("executions/.*.tmp"))  # the half-staged batch
    _reads_everywhere(project)
    assert len(Store(project).entries()) == 40


def test_killed_while_replacing_records_shows_the_new_content(tmp_path: Path) -> None:
    """File names do not change when --force replaces records: only the journal tells the
    next command that the index may describe the old content."""
    project = tmp_path / "project"
    project.mkdir()
    code = (
        PRELUDE
        + f"""
import signal
from phaser_analytics.models import ExecutionStatus
project = Path({str(project)!r})
Store(project).add([make_record(project, hours=i) for i in range(10)])
real_replace = os.replace

def replace(src, dst):
    if str(dst).endswith("index.json"):
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)

os.replace = replace
failed = [make_record(project, hours=i, status=ExecutionStatus.FAILED) for i in range(10)]
Store(project).add(failed, force=True)
"""
    )
    process = run_python(code)
    process.wait(timeout=DEADLINE_SECONDS)
    assert process.returncode == -signal.SIGKILL
    result = CliRunner().invoke(
        cli, ["analytics", "show", "--format", "json", "--project", str(project)]
    )
    assert result.exit_code == 0, result.output
    assert {e.status.value for e in Store(project).entries()} == {"failed"}
    assert_consistent(project)


def test_a_lock_held_by_a_killed_process_is_released(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    code = (
        PRELUDE
        + f"""
store = Store(Path({str(project)!r}))
with store.lock():
    print("locked", flush=True)
    time.sleep(600)
"""
    )
    process = run_python(code, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "locked"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=DEADLINE_SECONDS)
    with Store(project).lock(timeout=10):
        pass


def test_a_held_lock_times_out_with_a_clear_message(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    code = (
        PRELUDE
        + f"""
store = Store(Path({str(project)!r}))
with store.lock():
    print("locked", flush=True)
    sys.stdin.read()
"""
    )
    process = run_python(code, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "locked"
        held = pytest.raises(StorageError, match="Another phaser analytics command is writing")
        with held, Store(project).lock(timeout=0.2):
            pass
    finally:
        process.communicate("", timeout=DEADLINE_SECONDS)
