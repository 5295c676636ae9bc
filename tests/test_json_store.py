"""What only the JSON store has: files killed half-way, the lock, old index formats, and a
cloned repository's store as untrusted input (issue 16, items 1, 2, 3, 8)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from storage_helpers import (
    REPO,
    Warnings,
    assert_consistent,
    fill,
    json_store,
    make_record,
    record_names,
)

from phaser_analytics.cli import cli
from phaser_analytics.errors import StorageError
from phaser_analytics.stores.files import hold_lock
from phaser_analytics.stores.json_files import record_filename

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals and links")
DEADLINE_SECONDS = 120


def _analytics(project: Path) -> Path:
    return project / ".phaser" / "analytics"


def _invoke(project: Path, *args: str) -> object:
    return CliRunner().invoke(cli, ["analytics", *args, "--project", str(project)])


def _run(code: str, **kwargs: object) -> subprocess.Popen[str]:
    prelude = (
        "import os, sys, time, signal\nfrom pathlib import Path\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from storage_helpers import make_record, json_store\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(  # type: ignore[call-overload]
        [sys.executable, "-c", prelude + code], env=env, text=True, **kwargs
    )


def _kill_at_index(project: Path, setup: str, batch: str) -> None:
    """Run ``setup``, then ``batch`` with a SIGKILL just as its index is written."""
    code = f"""
project = Path({str(project)!r})
store = json_store(project)
{setup}
real_replace = os.replace
def replace(src, dst):
    if str(dst).endswith("index.json"):
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)
os.replace = replace
{batch}
"""
    process = _run(code)
    process.wait(timeout=DEADLINE_SECONDS)
    assert process.returncode == -signal.SIGKILL


def test_killed_after_the_records_before_the_index_loses_nothing(project: Path) -> None:
    _kill_at_index(
        project,
        "store.save([make_record(project, hours=i) for i in range(20)])",
        "store.save([make_record(project, hours=20 + i) for i in range(20)])",
    )
    assert len(record_names(project)) == 40
    shown = _invoke(project, "show", "--format", "json", "--last", "100")
    assert shown.exit_code == 0, shown.output
    assert len(json.loads(shown.stdout)["executions"]) == 40
    assert "out of step" in shown.stderr
    assert_consistent(project)


def test_killed_while_replacing_records_shows_the_new_content(project: Path) -> None:
    """A replaced record keeps its file name: the index steps aside while the records are
    renamed, so a kill before the new index never leaves the old content listed."""
    _kill_at_index(
        project,
        "store.save([make_record(project, hours=i) for i in range(10)])",
        "from phaser_analytics.models import ExecutionStatus\n"
        "store.save([make_record(project, hours=i, status=ExecutionStatus.FAILED)"
        " for i in range(10)], replace=True)",
    )
    shown = _invoke(project, "show", "--format", "json", "--last", "100")
    assert shown.exit_code == 0, shown.output
    assert {e["status"] for e in json.loads(shown.stdout)["executions"]} == {"failed"}
    repaired = _invoke(project, "doctor", "--repair")  # the index set aside is a temp file
    assert repaired.exit_code == 0, repaired.output
    assert_consistent(project)


def test_a_lock_held_by_a_killed_process_is_released(project: Path) -> None:
    lock = _analytics(project) / ".lock"
    lock.parent.mkdir(parents=True)
    code = f"""
from phaser_analytics.stores.files import hold_lock
with hold_lock(Path({str(lock)!r})):
    print("locked", flush=True)
    time.sleep(600)
"""
    process = _run(code, stdout=subprocess.PIPE)
    assert process.stdout.readline().strip() == "locked"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=DEADLINE_SECONDS)
    with hold_lock(lock, 10):
        pass


def test_a_held_lock_times_out_with_a_clear_message(project: Path) -> None:
    fill(project, 1)
    lock = _analytics(project) / ".lock"
    code = f"""
from phaser_analytics.stores.files import hold_lock
with hold_lock(Path({str(lock)!r})):
    print("locked", flush=True)
    sys.stdin.read()
"""
    process = _run(code, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert process.stdout.readline().strip() == "locked"
        store = json_store(project)
        with (
            pytest.raises(StorageError, match="Another phaser analytics command is writing"),
            store._lock(timeout=0.2),
        ):
            pass
    finally:
        process.communicate("", timeout=DEADLINE_SECONDS)


def test_the_flock_and_the_filelock_library_exclude_each_other(tmp_path: Path) -> None:
    import filelock

    path = tmp_path / ".lock"
    with hold_lock(path, 1), pytest.raises(filelock.Timeout):
        filelock.FileLock(str(path), timeout=0.1).acquire()
    with filelock.FileLock(str(path), timeout=1), pytest.raises(TimeoutError), hold_lock(path, 0.1):
        pass
    with hold_lock(path, 1):
        pass


def test_the_lock_file_is_created_readable_like_any_file(tmp_path: Path) -> None:
    path = tmp_path / "new.lock"
    with hold_lock(path, 1):
        assert path.exists()
    assert path.stat().st_mode & 0o044


# -- the spec's index, and the one before it ----------------------------------------------------


def test_index_json_has_the_spec_shape(project: Path) -> None:
    records = fill(project, 3)
    index = json.loads((_analytics(project) / "index.json").read_text())
    assert index["schema_version"] == "3.0"
    assert index["execution_count"] == 3
    assert index["project_name"] == "Demo"
    assert [e["execution_id"] for e in index["executions"]] == [  # jq '.executions[].execution_id'
        r.execution_id for r in reversed(records)
    ]
    first = index["executions"][0]
    assert list(first)[:7] == [
        "execution_id", "filename", "audit_document", "started_at", "status",
        "duration_seconds", "test_delta",
    ]  # fmt: skip
    assert first["filename"] == record_filename(records[2])
    assert index["stats"]["total_executions"] == 3 and index["stats"]["successful"] == 3


def _old_store(project: Path) -> list[str]:
    """A store as the 2.0 index wrote it: rows under ``columns``, index.log, index.stamp."""
    records = fill(project, 3)
    analytics = _analytics(project)
    columns = ["execution_id", "filename", "audit_document"]
    rows = [[r.execution_id, record_filename(r), r.audit_document] for r in records[:2]]
    header = {"schema_version": "2.0", "generation": "ab", "execution_count": 2, "columns": columns}
    text = json.dumps(header)[:-1] + ',"executions":[\n'
    text += ",\n".join(json.dumps(row) for row in rows) + "\n]}\n"
    (analytics / "index.json").write_text(text)
    line = {"base": "ab", "add": [[records[2].execution_id, record_filename(records[2]), "x"]]}
    (analytics / "index.log").write_text(json.dumps(line) + "\n")
    (analytics / "index.stamp").write_text('{"mtime_ns": 1, "checked_ns": 2, "names": [3, 4]}')
    return [r.execution_id for r in records]


def test_a_store_of_the_2_0_index_is_read_and_converted_with_nothing_lost(project: Path) -> None:
    ids = _old_store(project)
    warnings = Warnings()
    store = json_store(project, warnings)
    assert sorted(e.execution_id for e in store.find()) == sorted(ids)
    assert warnings == ["analytics index has schema '2.0'; rebuilt it from the record files."]
    analytics = _analytics(project)
    assert not (analytics / "index.log").exists() and not (analytics / "index.stamp").exists()
    index = json.loads((analytics / "index.json").read_text())
    assert sorted(e["execution_id"] for e in index["executions"]) == sorted(ids)
    again = Warnings()
    assert len(list(json_store(project, again).find())) == 3 and again == []


def test_a_read_only_old_store_is_read_in_memory(project: Path) -> None:
    ids = _old_store(project)
    shown = CliRunner().invoke(
        cli, ["analytics", "show", "--format", "json", "--project", str(project)]
    )
    assert sorted(e["execution_id"] for e in json.loads(shown.stdout)["executions"]) == sorted(ids)


# -- a cloned repository's store (issue 16) ------------------------------------------------------


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file outside the project that nothing may touch."""
    path = tmp_path / "victim" / "secret.txt"
    path.parent.mkdir()
    path.write_text("precious")
    return path


def _poison_index(project: Path, filename: str) -> None:
    path = _analytics(project) / "index.json"
    index = json.loads(path.read_text())
    index["executions"][0]["filename"] = filename
    path.write_text(json.dumps(index))


@pytest.mark.parametrize("how", ["absolute", "relative"])
def test_index_file_names_outside_executions_are_never_touched(
    project: Path, victim: Path, how: str
) -> None:
    """Item 1: a row naming another file is ignored and the index rebuilt, one warning."""
    records = fill(project, 2)
    executions = _analytics(project) / "executions"
    name = str(victim) if how == "absolute" else os.path.relpath(victim, executions)
    _poison_index(project, name)
    shown = _invoke(project, "show", records[1].execution_id)
    assert shown.exit_code == 0, shown.output
    assert shown.stderr.count("Warning") == 1 and "not a record file" in shown.stderr
    _poison_index(project, name)
    cleared = _invoke(project, "clear", "--all", "--force")
    assert cleared.exit_code == 0, cleared.output
    assert "Deleted 2" in cleared.output
    assert victim.read_text() == "precious"
    assert [p.name for p in victim.parent.iterdir()] == ["secret.txt"]


def test_a_planted_index_link_is_not_followed(project: Path, victim: Path) -> None:
    """Item 2: store files are read without following links and replaced, not written
    through."""
    fill(project, 2)
    index = _analytics(project) / "index.json"
    index.unlink()
    index.symlink_to(victim)
    result = _invoke(project, "import", str(REPO / "examples" / "EXECUTION_REPORT.md"))
    assert result.exit_code == 0, result.output
    assert victim.read_text() == "precious"
    assert not index.is_symlink() and json.loads(index.read_text())["execution_count"] == 3


@pytest.mark.parametrize("name", [".lock", "index.log", "index.stamp", ".journal"])
def test_planted_links_to_store_files_never_write_their_target(
    project: Path, victim: Path, name: str
) -> None:
    fill(project, 1)
    link = _analytics(project) / name
    link.unlink(missing_ok=True)
    link.symlink_to(victim)
    result = _invoke(project, "import", str(REPO / "examples" / "EXECUTION_REPORT.md"))
    assert result.exit_code == 0, result.output
    assert _invoke(project, "doctor", "--repair").exit_code == 0
    assert victim.read_text() == "precious"


def test_a_record_file_that_is_a_link_is_left_alone(project: Path, victim: Path) -> None:
    fill(project, 1)
    link = _analytics(project) / "executions" / "2024-01-01T00-00-00-abcdef12.json"
    link.symlink_to(victim)
    for args in (["show"], ["doctor", "--repair"], ["clear", "--all", "--force"]):
        assert _invoke(project, *args).exit_code == 0
    assert link.is_symlink() and victim.read_text() == "precious"
    assert not (_analytics(project) / "quarantine").exists()
    doctor = _invoke(project, "doctor")
    assert "not record files this store wrote; left alone" in doctor.output


@pytest.mark.parametrize("directory", ["executions", "quarantine", "analytics"])
def test_store_directories_linking_out_of_the_project_are_refused(
    project: Path, tmp_path: Path, directory: str
) -> None:
    """Item 3: a read-only show would otherwise quarantine an app's config files."""
    outside = tmp_path / "app-config"
    outside.mkdir()
    (outside / "2024-01-01T00-00-00-abcdef12.json").write_text("{not ours")
    fill(project, 1)
    analytics = _analytics(project)
    if directory == "analytics":
        os.rename(analytics, tmp_path / "moved")
        analytics.symlink_to(outside)
    else:
        target = analytics / directory
        if target.exists():
            for child in target.iterdir():
                child.unlink()
            target.rmdir()
        target.symlink_to(outside)
    before = sorted(p.name for p in outside.iterdir())
    for args in (["show"], ["doctor", "--repair"]):
        result = _invoke(project, *args)
        assert result.exit_code == 1, result.output
        assert result.stderr.count("\n") == 1 and "outside" in result.stderr
    assert sorted(p.name for p in outside.iterdir()) == before


def test_a_link_inside_the_project_is_fine(project: Path) -> None:
    fill(project, 2)
    analytics = _analytics(project)
    os.rename(analytics / "executions", project / "kept")
    (analytics / "executions").symlink_to(project / "kept")
    assert len(json.loads(_invoke(project, "show", "--format", "json").stdout)["executions"]) == 2


def test_files_the_store_did_not_write_are_never_quarantined(project: Path) -> None:
    fill(project, 1)
    executions = _analytics(project) / "executions"
    for name in ("notes.json", "config.yml", "2024-01-01.json"):
        (executions / name).write_text("{not a record")
    for args in (["show"], ["doctor", "--repair"]):
        assert _invoke(project, *args).exit_code == 0
    assert sorted(p.name for p in executions.iterdir() if not p.name.startswith("20")) == [
        "config.yml",
        "notes.json",
    ]
    assert (executions / "2024-01-01.json").exists()
    assert not (_analytics(project) / "quarantine").exists()


def test_a_newer_record_is_never_rewritten_by_an_older_version(
    project: Path, example_report: Path
) -> None:
    """Item 8: a teammate's newer version wrote the record; `import --force` here leaves it
    byte for byte, in place, and says so."""
    first = _invoke(project, "import", str(example_report))
    assert first.exit_code == 0, first.output
    [path] = (_analytics(project) / "executions").glob("*.json")
    data = json.loads(path.read_text())
    data["schema_version"] = "2.0"
    path.write_text(json.dumps(data))
    before = path.read_bytes()
    forced = _invoke(project, "import", "--force", str(example_report))
    assert forced.exit_code == 0, forced.output
    assert "newer phaser-analytics" in forced.stderr
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert not (_analytics(project) / "quarantine").exists()
    doctor = _invoke(project, "doctor", "--repair")
    assert doctor.exit_code == 0 and path.read_bytes() == before
    assert "newer" in doctor.output


def test_a_record_whose_loading_raises_anything_is_quarantined(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 7's contract with the store: whatever ``from_dict`` raises, the record is set
    aside with one warning and every command goes on."""
    from phaser_analytics.models import ExecutionRecord

    records = fill(project, 2)
    real = ExecutionRecord.from_dict.__func__  # type: ignore[attr-defined]

    class Invalid(Exception):
        pass

    def validating(cls: type, data: dict) -> ExecutionRecord:
        if data.get("execution_id") == records[0].execution_id:
            raise Invalid("tokens must be a number")
        return real(cls, data)

    monkeypatch.setattr(ExecutionRecord, "from_dict", classmethod(validating))
    shown = _invoke(project, "show", "--format", "json")
    assert shown.exit_code == 0, shown.output
    assert len(json.loads(shown.stdout)["executions"]) == 1
    assert shown.stderr.count("Warning") == 1 and "tokens must be a number" in shown.stderr
    assert len(list((_analytics(project) / "quarantine").iterdir())) == 1
    assert _invoke(project, "doctor", "--repair").exit_code == 0
    assert make_record  # the helpers stay imported for the process tests above


# -- reading only what a command needs -----------------------------------------------------------


def _damage_row(project: Path, position: int) -> None:
    index = _analytics(project) / "index.json"
    lines = index.read_text().split("\n")
    lines[1 + position] = '{"damaged": '
    index.write_text("\n".join(lines))


def test_show_reads_the_rows_it_shows(project: Path) -> None:
    from phaser_analytics.anomalies import HISTORY_LIMIT

    fill(project, HISTORY_LIMIT + 40)
    _damage_row(project, HISTORY_LIMIT + 30)  # beyond --last 5 and its anomaly window
    shown = _invoke(project, "show", "--format", "json")
    assert shown.exit_code == 0 and shown.stderr == ""
    assert len(json.loads(shown.stdout)["executions"]) == 5


def test_a_damaged_row_met_half_way_rebuilds_and_the_walk_goes_on(project: Path) -> None:
    records = fill(project, 30)
    _damage_row(project, 12)
    exported = _invoke(project, "export", "--format", "json")
    assert exported.exit_code == 0, exported.output
    assert exported.stderr.count("Warning") == 1 and "rebuilt" in exported.stderr
    ids = [e["execution_id"] for e in json.loads(exported.stdout)["executions"]]
    assert ids == [r.execution_id for r in reversed(records)]  # each once, in order
    assert_consistent(project)


def test_executions_are_listed_only_when_the_directory_changed(project: Path, monkeypatch) -> None:
    fill(project, 3)
    executions = _analytics(project) / "executions"
    calls = []  # each listing of executions/
    real = os.scandir

    def scandir(path: Any = ".") -> Any:
        if Path(os.fsdecode(path)) == executions:
            calls.append(1)
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    # The last writer stamped executions/ into the index: nothing changed since.
    assert _invoke(project, "show").exit_code == 0
    assert calls == []
    # Something was added behind the store's back: one command lists it once.
    (_analytics(project) / "executions" / "notes.txt").write_text("mine\n")
    shown = _invoke(project, "show")
    assert shown.exit_code == 0 and "Warning" not in shown.output
    assert len(calls) == 1


def test_an_index_reformatted_by_hand_is_still_read(project: Path) -> None:
    records = fill(project, 3)
    index = _analytics(project) / "index.json"
    index.write_text(json.dumps(json.loads(index.read_text()), indent=4))  # as jq would
    warnings = Warnings()
    found = [e.execution_id for e in json_store(project, warnings).find()]
    assert found == [r.execution_id for r in reversed(records)] and warnings == []


def test_the_index_stats_are_the_records_stats(project: Path) -> None:
    from history import fill_varied

    from phaser_analytics.models import AggregatedStats

    records = fill_varied(project, 40)
    index = json.loads((_analytics(project) / "index.json").read_text())
    assert index["stats"] == AggregatedStats.compute(records).to_dict()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("phases_planned", "6"),
        ("total_tokens", "lots"),
        ("started_at", 7),
        ("started_at", "yesterday"),
        ("cost_usd", "1.0"),
        ("duration_seconds", "1h"),
        ("test_delta", True),
        ("total_tokens", 10**309),
        ("audit_document", ["a"]),
    ],
)
def test_an_index_row_of_the_wrong_types_is_rebuilt_not_a_crash(
    project: Path, field: str, value: object
) -> None:
    """A row's values are checked like a record's: one of the wrong type makes the index
    untrusted (rebuilt from the records with one warning), never an internal error."""
    records = fill(project, 3)
    path = _analytics(project) / "index.json"
    index = json.loads(path.read_text())
    for row in index["executions"]:
        row[field] = value
    path.write_text(json.dumps(index))
    for args in (("show",), ("trends",), ("show", "--format", "json"), ("failures",)):
        result = _invoke(project, *args)
        assert result.exit_code == 0, (args, result.output, result.stderr)
    shown = _invoke(project, "show", "--format", "json")
    assert {e["execution_id"] for e in json.loads(shown.stdout)["executions"]} == {
        r.execution_id for r in records
    }


@pytest.mark.parametrize("command", ["clear", "import", "import --force"])
def test_a_damaged_row_a_writer_meets_rebuilds_the_index(project: Path, command: str) -> None:
    """Writers trust the index by the stamp of executions/ without reading every row: a row
    damaged behind the store's back is found when a command reaches it, rebuilt from the
    record files with one warning, and nothing is lost."""
    records = fill(project, 30)
    _damage_row(project, 12)
    if command == "clear":
        result = _invoke(project, "clear", records[0].execution_id, "--force")
        kept = [r.execution_id for r in reversed(records[2:])]
        _damage_row(project, 12)  # and through the store's interface, which finds it itself
        warnings = Warnings()
        removed = json_store(project, warnings).delete([records[1].execution_id])
        assert [e.execution_id for e in removed] == [records[1].execution_id]
        assert len(warnings) == 1 and "rebuilt" in warnings[0]
    else:
        report = str(REPO / "examples" / "EXECUTION_REPORT.md")
        if command == "import --force":  # a replacement: every row is read
            assert _invoke(project, "import", report).exit_code == 0
        result = _invoke(project, "import", report, *command.split()[1:])
        kept = None
    assert result.exit_code == 0, result.output
    exported = _invoke(project, "export", "--format", "json")
    assert exported.exit_code == 0, exported.output
    ids = [e["execution_id"] for e in json.loads(exported.stdout)["executions"]]
    if kept is not None:
        assert ids == kept
    else:
        assert len(ids) == 31 and set(ids) >= {r.execution_id for r in records}
    warnings = result.stderr.count("Warning") + exported.stderr.count("Warning")
    assert warnings == 1 and "rebuilt" in result.stderr + exported.stderr
    assert_consistent(project)
