"""The store under damage: corrupt and stale indexes, corrupt records, quarantine, schemas
of other versions, interrupted writes, full disks, read-only directories, hostile ids."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

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
    run_cli_unprivileged,
    tree_snapshot,
    unprivileged,
)

from phaser_analytics.cli import cli
from phaser_analytics.errors import ExecutionNotFoundError, StorageError, StoreWriteError
from phaser_analytics.stores import get_analytics_dir
from phaser_analytics.stores.json_files import INDEX_SCHEMA_VERSION, JsonStore, record_filename


def _analytics(project: Path) -> Path:
    return get_analytics_dir(project)


def _store(project: Path) -> tuple[JsonStore, Warnings]:
    warnings = Warnings()
    return json_store(project, warn=warnings), warnings


# -- the index is a cache ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "is corrupt"),
        (f'{{"schema_version": "{INDEX_SCHEMA_VERSION}"}}', "is corrupt"),
        (
            f'{{"schema_version": "{INDEX_SCHEMA_VERSION}", "executions": [], '
            '"execution_count": 3}',
            "is corrupt",
        ),
        ('{"schema_version": "1.0", "executions": [], "execution_count": 0}', "has schema '1.0'"),
        ('{"schema_version": "1.1", "executions": [], "execution_count": 0}', "has schema '1.1'"),
        ('{"schema_version": "9.9", "executions": []}', "has schema '9.9'"),
        ("[]", "is corrupt"),
        ("", "is corrupt"),
    ],
)
def test_bad_index_is_rebuilt_with_one_warning(project: Path, content: str, reason: str) -> None:
    fill(project, 3)
    (_analytics(project) / "index.json").write_text(content)
    store, warnings = _store(project)
    assert len(list(store.find())) == 3
    assert warnings == [f"analytics index {reason}; rebuilt it from the record files."]
    assert_consistent(project)


def test_missing_index_is_rebuilt(project: Path) -> None:
    fill(project, 2)
    (_analytics(project) / "index.json").unlink()
    store, warnings = _store(project)
    assert len(list(store.find())) == 2
    assert len(warnings) == 1 and "is missing" in warnings[0]
    assert (_analytics(project) / "index.json").exists()


def test_healthy_index_warns_nothing(project: Path) -> None:
    fill(project, 2)
    store, warnings = _store(project)
    list(store.find())
    assert warnings == []


def test_record_added_behind_the_index_is_picked_up(project: Path) -> None:
    fill(project, 2)
    stranger = make_record(project, hours=50)
    path = _analytics(project) / "executions" / record_filename(stranger)
    path.write_text(json.dumps(stranger.to_dict()))
    store, warnings = _store(project)
    assert stranger.execution_id in [e.execution_id for e in list(store.find())]
    assert warnings == [
        "analytics index is out of step with the record files; rebuilt it from the record files."
    ]
    assert_consistent(project)


def test_record_removed_behind_the_index_is_dropped(project: Path) -> None:
    records = fill(project, 3)
    (_analytics(project) / "executions" / record_filename(records[0])).unlink()
    store, _ = _store(project)
    assert records[0].execution_id not in [e.execution_id for e in list(store.find())]
    assert_consistent(project)


def test_interrupted_write_journal_triggers_a_rebuild(project: Path) -> None:
    fill(project, 2)
    (_analytics(project) / ".journal").write_text('{"pid": 1}')
    store, warnings = _store(project)
    assert len(list(store.find())) == 2
    assert "interrupted write" in warnings[0]
    assert not (_analytics(project) / ".journal").exists()


# -- corrupt record files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "{truncated",
        "[1, 2]",
        '{"schema_version": "1.1"}',
        '{"schema_version": "1.1", "execution_id": "../../escape", "status": "success"}',
        '{"schema_version": "1.1", "execution_id": "abc", "status": "exploded"}',
        '{"execution_id": "abc"}',
    ],
)
def test_corrupt_record_is_quarantined_not_dropped(project: Path, content: str) -> None:
    fill(project, 2)
    bad = _analytics(project) / "executions" / "2024-01-01T00-00-00-bad00000.json"
    bad.write_text(content, encoding="utf-8")
    store, warnings = _store(project)
    assert len(list(store.find())) == 2
    quarantined = _analytics(project) / "quarantine" / bad.name
    assert quarantined.read_text(encoding="utf-8") == content
    assert any(bad.name in w and "moved to" in w and "quarantine" in w for w in warnings)
    assert_consistent(project)


def test_record_corrupted_after_indexing_never_crashes_a_query(project: Path) -> None:
    records = fill(project, 3)
    victim = _analytics(project) / "executions" / record_filename(records[1])
    victim.write_text("garbage")
    store, warnings = _store(project)
    loaded = list(store.read(store.find()))
    assert len(loaded) == 2
    assert (_analytics(project) / "quarantine" / victim.name).read_text() == "garbage"
    assert len(warnings) == 1 and victim.name in warnings[0]
    # The index was told, so the next command has nothing to heal.
    again, later = _store(project)
    list(again.find())
    assert later == []
    assert_consistent(project)


def test_load_of_a_corrupted_record_is_not_found(project: Path) -> None:
    records = fill(project, 1)
    (_analytics(project) / "executions" / record_filename(records[0])).write_text("{")
    store, _ = _store(project)
    with pytest.raises(ExecutionNotFoundError):
        store.get(records[0].execution_id)


def test_quarantine_never_overwrites_an_earlier_file(project: Path) -> None:
    fill(project, 1)
    executions = _analytics(project) / "executions"
    for content in ("first", "second"):
        (executions / "2024-01-01T00-00-00-bad00000.json").write_text(content)
        list(_store(project)[0].find())
    quarantine = _analytics(project) / "quarantine"
    assert sorted(p.read_text() for p in quarantine.iterdir()) == ["first", "second"]


def test_record_of_a_newer_schema_is_left_in_place(project: Path) -> None:
    fill(project, 2)
    future = make_record(project, hours=40).to_dict()
    future["schema_version"] = "2.0"
    path = _analytics(project) / "executions" / "2024-12-03T01-00-00-future00.json"
    path.write_text(json.dumps(future))
    store, warnings = _store(project)
    assert len(list(store.find())) == 2
    assert path.exists()
    assert any("newer phaser-analytics" in w for w in warnings)
    again, later = _store(project)
    assert len(list(again.find())) == 2
    assert later == []  # the index remembers it skipped the file
    index = json.loads((_analytics(project) / "index.json").read_text())
    assert [n["filename"] for n in index["newer_records"]] == [path.name]


def test_two_files_with_one_id_keep_the_newest(project: Path) -> None:
    record = make_record(project)
    location = json_store(project).save([record])[0].location
    assert location is not None
    save_path = Path(location)
    older = record.to_dict()
    older["imported_at"] = "2020-01-01T00:00:00Z"
    copy = save_path.with_name("2024-01-01T00-00-00-copy0000.json")
    copy.write_text(json.dumps(older))
    store, warnings = _store(project)
    assert [e.ref for e in list(store.find())] == [save_path.name]
    assert (_analytics(project) / "quarantine" / copy.name).exists()
    assert any("repeats the execution id" in w for w in warnings)


# -- ids ----------------------------------------------------------------------------------------


HOSTILE_IDS = [
    "",
    ".",
    "..",
    "../x",
    "../../etc/passwd",
    "/etc/passwd",
    "a/b",
    "a\\b",
    "abcd\n",
    "-abc",
    "x" * 500,
    "id with space",
    "ünï",
]


@pytest.mark.parametrize("bad_id", HOSTILE_IDS)
def test_hostile_ids_are_not_found_and_touch_nothing(tmp_path: Path, bad_id: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    fill(project, 2)
    # A file outside the store that a traversing id might reach.
    (tmp_path / "passwd.json").write_text(json.dumps(make_record(project).to_dict()))
    before = tree_snapshot(tmp_path)
    store, _ = _store(project)
    with pytest.raises(ExecutionNotFoundError) as info:
        store.get(bad_id)
    assert str(info.value) == f"Execution not found: {bad_id}"
    with pytest.raises(ExecutionNotFoundError):
        store.delete([bad_id])
    assert tree_snapshot(tmp_path) == before


def test_unique_prefix_works_like_a_short_sha(project: Path) -> None:
    one = make_record(project, execution_id="1234abcd-0000-4000-8000-000000000001")
    two = make_record(project, execution_id="5678abcd-0000-4000-8000-000000000002", hours=1)
    json_store(project).save([one, two])
    store = json_store(project)
    assert store.get("1234").execution_id == one.execution_id
    assert store.get("5678ABCD").execution_id == two.execution_id  # case does not matter
    assert store.get("5678abcd0000").execution_id == two.execution_id  # dashes optional
    assert store.get(two.execution_id).execution_id == two.execution_id


def test_ambiguous_prefix_lists_the_candidates(project: Path) -> None:
    one = make_record(project, execution_id="abcd1111-0000-4000-8000-000000000001")
    two = make_record(project, execution_id="abcd2222-0000-4000-8000-000000000002", hours=1)
    json_store(project).save([one, two])
    with pytest.raises(StorageError) as info:
        json_store(project).get("abcd")
    message = str(info.value)
    assert "ambiguous" in message
    assert one.execution_id in message and two.execution_id in message
    assert "document-1.md" in message


def test_prefix_shorter_than_four_is_refused(project: Path) -> None:
    record = make_record(project, execution_id="abcd1111-0000-4000-8000-000000000001")
    json_store(project).save([record])
    with pytest.raises(StorageError, match="too short"):
        json_store(project).get("abc")
    with pytest.raises(ExecutionNotFoundError):
        json_store(project).get("fff")


def test_cli_show_id_prefix_and_errors(project: Path) -> None:
    record = make_record(project, execution_id="feed1234-0000-4000-8000-000000000001")
    other = make_record(project, execution_id="feed5678-0000-4000-8000-000000000002", hours=1)
    json_store(project).save([record, other])
    runner = CliRunner()
    shown = runner.invoke(
        cli, ["analytics", "show", "feed1234", "--project", str(project), "--format", "json"]
    )
    assert shown.exit_code == 0, shown.output
    assert record.execution_id in shown.output
    assert other.execution_id not in shown.output
    missing = runner.invoke(
        cli, ["analytics", "show", "../../etc/passwd", "--project", str(project)]
    )
    assert missing.exit_code == 1
    assert "Error: Execution not found: ../../etc/passwd" in missing.output
    ambiguous = runner.invoke(cli, ["analytics", "show", "feed", "--project", str(project)])
    assert ambiguous.exit_code == 1
    assert "ambiguous" in ambiguous.output and other.execution_id in ambiguous.output


# -- full disks and permission errors -------------------------------------------------------


def _enospc(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_while_staging_changes_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(project, 3)
    before = tree_snapshot(project)
    monkeypatch.setattr(os, "fsync", _enospc)
    with pytest.raises(StoreWriteError) as info:
        json_store(project).save([make_record(project, hours=h) for h in range(10, 15)])
    assert str(info.value) == f"Cannot write to analytics directory: {_analytics(project)}"
    assert tree_snapshot(project) == before


@pytest.mark.parametrize("failing_call", [1, 2, 3, 4])
def test_failure_while_renaming_puts_everything_back(
    project: Path, monkeypatch: pytest.MonkeyPatch, failing_call: int
) -> None:
    """Renames 1-4 are the records (one of them replacing a stored one): whichever fails,
    the store is as it was. (A failure at the index, after them, is the next test.)"""
    records = fill(project, 3)
    before = tree_snapshot(project)
    replacement = make_record(project, hours=1, status=records[1].status, final_tests=999)
    batch = [make_record(project, hours=h) for h in (20, 21)] + [replacement]
    batch.append(make_record(project, hours=22))
    real_replace = os.replace
    calls = []

    def flaky_replace(src: object, dst: object) -> None:
        calls.append(dst)
        if len(calls) == failing_call:
            _enospc()
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", flaky_replace)
    with pytest.raises(StoreWriteError):
        json_store(project).save(batch, replace=True)
    monkeypatch.setattr(os, "replace", real_replace)
    assert tree_snapshot(project) == before
    assert_consistent(project)


def test_a_full_disk_at_the_index_reports_the_truth(
    project: Path, monkeypatch: pytest.MonkeyPatch, example_report: Path
) -> None:
    """Issue 16 item 11: the record is stored, so the import says so, with a warning that
    the index will be rebuilt; the next command rebuilds it and lists the execution."""
    fill(project, 2)
    real_replace = os.replace

    def full_at_the_index(src: object, dst: object) -> None:
        if str(dst).endswith("index.json"):
            _enospc()
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", full_at_the_index)
    result = CliRunner().invoke(
        cli, ["analytics", "import", str(example_report), "--project", str(project)]
    )
    monkeypatch.undo()
    assert result.exit_code == 0, result.output
    assert "✓ Imported" in result.stdout
    assert "could not be written (No space left on device)" in result.stderr
    assert "the next command rebuilds it" in result.stderr
    assert "Error" not in result.output
    assert len(record_names(project)) == 3
    assert not (_analytics(project) / "index.json").exists()  # no stale index left behind
    shown = CliRunner().invoke(
        cli, ["analytics", "show", "--format", "json", "--project", str(project)]
    )
    assert len(json.loads(shown.stdout)["executions"]) == 3
    assert_consistent(project)


def test_cli_reports_disk_full_in_the_spec_words(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(project, 2)
    before = tree_snapshot(project)
    monkeypatch.setattr(os, "replace", _enospc)
    result = CliRunner().invoke(
        cli, ["analytics", "clear", "--all", "--force", "--project", str(project)]
    )
    assert result.exit_code == 1
    assert f"Error: Cannot write to analytics directory: {_analytics(project)}" in result.output
    monkeypatch.undo()
    assert tree_snapshot(project) == before


def test_unwritable_store_raises_the_spec_message(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(project, 1)
    before = tree_snapshot(project)

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("phaser_analytics.stores.files.make_temp", denied)
    with pytest.raises(StoreWriteError, match="Cannot write to analytics directory"):
        json_store(project).save([make_record(project, hours=9)])
    assert tree_snapshot(project) == before


def _read_only(path: Path) -> None:
    for directory in [path, *[p for p in path.rglob("*") if p.is_dir()]]:
        directory.chmod(0o555)


def _writable(path: Path) -> None:
    for directory in [path, *[p for p in path.rglob("*") if p.is_dir()]]:
        directory.chmod(0o755)


@pytest.fixture
def read_only_store(project: Path):
    fill(project, 3)
    analytics = _analytics(project)
    (analytics / ".lock").unlink()
    _read_only(analytics)
    yield project
    _writable(analytics)


def test_read_only_store_is_read(read_only_store: Path) -> None:
    before = tree_snapshot(read_only_store)
    result = run_cli_unprivileged(["analytics", "show", "--format", "json"], cwd=read_only_store)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["executions"]) == 3
    assert tree_snapshot(read_only_store) == before


def test_read_only_store_with_a_stale_index_is_read_and_left_alone(
    read_only_store: Path,
) -> None:
    index = _analytics(read_only_store) / "index.json"
    index.chmod(0o644)
    index.write_text("{corrupt")
    before = tree_snapshot(read_only_store)
    result = run_cli_unprivileged(["analytics", "show", "--format", "json"], cwd=read_only_store)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["executions"]) == 3
    assert "rebuilt it from the record files" in result.stderr
    assert tree_snapshot(read_only_store) == before


def test_read_only_store_refuses_writes_and_stays_as_it_was(read_only_store: Path) -> None:
    before = tree_snapshot(read_only_store)
    result = run_cli_unprivileged(["analytics", "clear", "--all", "--force"], cwd=read_only_store)
    assert result.returncode == 1
    analytics = _analytics(read_only_store)
    assert f"Error: Cannot write to analytics directory: {analytics}" in result.stderr
    assert tree_snapshot(read_only_store) == before


def test_read_only_store_refuses_an_import(read_only_store: Path, example_report: Path) -> None:
    before = tree_snapshot(read_only_store)
    result = run_cli_unprivileged(["analytics", "import", str(example_report)], cwd=read_only_store)
    assert result.returncode == 1
    analytics = _analytics(read_only_store)
    assert f"Error: Cannot write to analytics directory: {analytics}" in result.stderr
    assert tree_snapshot(read_only_store) == before


def test_read_only_project_cannot_create_a_store(tmp_path: Path) -> None:
    project = tmp_path / "locked"
    project.mkdir()
    project.chmod(0o555)
    try:
        code = (
            "from pathlib import Path; from phaser_analytics.stores import open_store;"
            "from phaser_analytics.models import ExecutionRecord as R;"
            f"open_store(None, project_dir=Path({str(project)!r}))"
            ".save([R(execution_id=R.generate_id())])"
        )
        result = subprocess.run(
            unprivileged([sys.executable, "-c", code]),
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode != 0
        assert "Cannot write to analytics directory" in result.stderr
        assert list(project.iterdir()) == []
    finally:
        project.chmod(0o755)


def test_stray_temporary_files_are_not_records(project: Path) -> None:
    fill(project, 2)
    executions = _analytics(project) / "executions"
    (executions / ".2024-01-01T00-00-00-abcd.json.x1y2.tmp").write_text("{half")
    (executions / "notes.txt").write_text("hello")
    (executions / "folder.json").mkdir()
    store, warnings = _store(project)
    assert len(list(store.find())) == 2
    assert warnings == []
    assert record_names(project) == sorted(record_names(project))


def test_copying_a_store_keeps_it_readable(project: Path, tmp_path: Path) -> None:
    fill(project, 2)
    copy = tmp_path / "copy"
    shutil.copytree(project, copy)
    assert len(list(json_store(copy).find())) == 2
