"""The JSON store (spec §4, §11.1, §14.2 TestStorage): create, read, delete, the index."""

from __future__ import annotations

import json
import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from storage_helpers import (
    assert_consistent,
    fill,
    index_filenames,
    json_store,
    make_record,
    record_names,
)

from phaser_analytics import (
    AnalyticsError,
    ExecutionRecord,
    ExecutionStatus,
    delete_execution,
    ensure_analytics_dir,
    get_analytics_dir,
    load_execution,
    save_execution,
    update_index,
)
from phaser_analytics.errors import ExecutionNotFoundError, StorageError
from phaser_analytics.stores.json_files import INDEX_SCHEMA_VERSION, record_filename


def _index(project: Path) -> dict:
    """index.json, its rows as objects (the file holds them as rows under ``columns``)."""
    return json.loads((get_analytics_dir(project) / "index.json").read_text())


class TestStorage:
    def test_save_execution_creates_file(self, project: Path) -> None:
        record = make_record(project)
        path = save_execution(record, project)
        assert path == get_analytics_dir(project) / "executions" / record_filename(record)
        assert path.name == f"2024-12-01T09-00-00-{record.execution_id.replace('-', '')[:8]}.json"
        data = json.loads(path.read_text())
        assert data["execution_id"] == record.execution_id
        assert data["schema_version"] == "1.1"

    def test_save_execution_updates_index(self, project: Path) -> None:
        record = make_record(project)
        save_execution(record, project)
        index = _index(project)
        assert index["schema_version"] == INDEX_SCHEMA_VERSION
        assert index["execution_count"] == 1
        assert index["executions"][0]["execution_id"] == record.execution_id
        assert index["executions"][0]["filename"] == record_filename(record)
        assert index["stats"]["total_executions"] == 1

    def test_load_execution_returns_record(self, project: Path) -> None:
        record = make_record(project, document="document-7-reverse.md")
        save_execution(record, project)
        loaded = load_execution(record.execution_id, project)
        assert loaded.to_dict() == record.to_dict()

    def test_load_execution_not_found(self, project: Path) -> None:
        fill(project, 2)
        with pytest.raises(ExecutionNotFoundError, match="Execution not found: deadbeef"):
            load_execution("deadbeef", project)

    def test_load_execution_not_found_is_an_analytics_error(self, project: Path) -> None:
        with pytest.raises(AnalyticsError):
            load_execution("deadbeef", project)
        assert not (project / ".phaser").exists()

    def test_delete_execution_removes_file(self, project: Path) -> None:
        records = fill(project, 3)
        path = get_analytics_dir(project) / "executions" / record_filename(records[1])
        assert path.exists()
        delete_execution(records[1].execution_id, project)
        assert not path.exists()
        assert len(record_names(project)) == 2

    def test_delete_execution_updates_index(self, project: Path) -> None:
        records = fill(project, 3)
        delete_execution(records[0].execution_id, project)
        ids = [e["execution_id"] for e in _index(project)["executions"]]
        assert records[0].execution_id not in ids
        assert _index(project)["execution_count"] == 2
        assert_consistent(project)

    def test_delete_execution_not_found(self, project: Path) -> None:
        fill(project, 1)
        with pytest.raises(ExecutionNotFoundError):
            delete_execution("0123456789", project)
        assert len(record_names(project)) == 1

    def test_update_index_rebuilds(self, project: Path) -> None:
        fill(project, 3)
        index_path = get_analytics_dir(project) / "index.json"
        index_path.write_text('{"schema_version": "1.1", "executions": [], "execution_count": 0}')
        update_index(project)
        assert _index(project)["execution_count"] == 3
        assert index_filenames(project) == record_names(project)

    def test_ensure_analytics_dir_creates(self, tmp_path: Path) -> None:
        analytics = ensure_analytics_dir(tmp_path / "fresh")
        assert analytics == tmp_path / "fresh" / ".phaser" / "analytics"
        assert (analytics / "executions").is_dir()
        assert ensure_analytics_dir(tmp_path / "fresh") == analytics  # idempotent

    def test_get_analytics_dir_does_not_create(self, tmp_path: Path) -> None:
        assert get_analytics_dir(tmp_path) == tmp_path / ".phaser" / "analytics"
        assert not (tmp_path / ".phaser").exists()


class TestAdd:
    def test_same_identity_is_already_imported(self, project: Path) -> None:
        first = make_record(project)
        twin = make_record(project)  # same identity, new id
        store = json_store(project)
        store.save([first])
        outcome = store.save([twin])[0]
        assert outcome.action == "already"
        assert outcome.execution_id == first.execution_id
        assert outcome.location is None
        assert len(record_names(project)) == 1

    def test_force_replaces_and_keeps_the_stored_id(self, project: Path) -> None:
        first = make_record(project, status=ExecutionStatus.FAILED)
        json_store(project).save([first])
        newer = make_record(project, status=ExecutionStatus.SUCCESS)
        outcome = json_store(project).save([newer], replace=True)[0]
        assert outcome.action == "replaced"
        assert newer.execution_id == first.execution_id
        assert load_execution(first.execution_id, project).status is ExecutionStatus.SUCCESS
        assert len(record_names(project)) == 1

    def test_same_id_with_a_new_start_replaces_the_old_file(self, project: Path) -> None:
        record = make_record(project)
        old_name = save_execution(record, project).name
        record.started_at = record.started_at + timedelta(days=1)
        new_name = save_execution(record, project).name
        assert new_name != old_name
        assert record_names(project) == [new_name]
        assert_consistent(project)

    def test_identity_fields(self, project: Path) -> None:
        store = json_store(project)
        store.save([make_record(project)])
        different = [
            make_record(project, document="other.md"),
            make_record(project, base_commit="zzz"),
            make_record(project, hours=1, base_commit="c0"),
            make_record("/elsewhere"),
        ]
        assert [o.action for o in store.save(different)] == ["imported"] * 4

    def test_a_batch_is_one_index_write(self, project: Path) -> None:
        fill(project, 20)
        assert _index(project)["execution_count"] == 20
        assert_consistent(project)

    @pytest.mark.parametrize("bad_id", ["", "..", "../x", "a/b", "a\\b", ".hidden", "x" * 200])
    def test_invalid_ids_are_refused_before_writing(self, project: Path, bad_id: str) -> None:
        record = make_record(project, execution_id=bad_id)
        with pytest.raises(StorageError, match="Cannot store an execution"):
            json_store(project).save([make_record(project, hours=5), record])
        assert record_names(project) == []
        assert not list(project.parent.glob("*.json"))

    def test_colliding_short_ids_get_the_long_name(self, project: Path) -> None:
        one = make_record(project, execution_id="abcd1234-0000-0000-0000-000000000001")
        two = make_record(
            project, execution_id="abcd1234-0000-0000-0000-000000000002", base_commit="x"
        )
        json_store(project).save([one, two])
        names = record_names(project)
        assert len(names) == 2
        assert "2024-12-01T09-00-00-abcd1234000000000000000000000002.json" in names
        assert_consistent(project)

    def test_unknown_start_uses_the_import_time_in_the_name(self, project: Path) -> None:
        record = make_record(project, started_at=None, completed_at=None)
        path = save_execution(record, project)
        stamp = record.imported_at.strftime("%Y-%m-%dT%H-%M-%S")
        assert path.name.startswith(stamp)

    def test_files_get_ordinary_permissions(self, project: Path) -> None:
        old = os.umask(0o022)
        try:
            path = save_execution(make_record(project), project)
        finally:
            os.umask(old)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        assert stat.S_IMODE((get_analytics_dir(project) / "index.json").stat().st_mode) == 0o644

    def test_no_temporary_files_are_left(self, project: Path) -> None:
        fill(project, 5)
        analytics = get_analytics_dir(project)
        leftovers = [p.name for p in analytics.rglob(".*.tmp")]
        assert leftovers == []
        assert not (analytics / ".journal").exists()


class TestQueries:
    def test_entries_newest_first(self, project: Path) -> None:
        fill(project, 4)
        starts = [e.started_at for e in list(json_store(project).find())]
        assert starts == sorted(starts, reverse=True)

    def test_index_stats_match_records(self, project: Path) -> None:
        fill(project, 3)
        make = make_record(project, hours=10, status=ExecutionStatus.FAILED)
        save_execution(make, project)
        stats = _index(project)["stats"]
        assert stats["total_executions"] == 4
        assert stats["failed"] == 1
        assert stats["successful"] == 3

    def test_load_entries_in_order(self, project: Path) -> None:
        records = fill(project, 3)
        store = json_store(project)
        loaded = list(store.read(store.find()))
        assert [r.execution_id for r in loaded] == [r.execution_id for r in reversed(records)]

    def test_empty_project_reads_as_empty_without_creating_anything(self, project: Path) -> None:
        assert list(json_store(project).find()) == []
        assert not (project / ".phaser").exists()

    def test_record_of_schema_1_0_still_loads(self, project: Path) -> None:
        record = make_record(project)
        data = record.to_dict()
        data["schema_version"] = "1.0"
        for key in ("date_only", "tag", "tokens", "extra", "failure_reasons"):
            data.pop(key)
        executions = ensure_analytics_dir(project) / "executions"
        (executions / record_filename(record)).write_text(json.dumps(data))
        loaded = load_execution(record.execution_id, project)
        assert loaded.audit_document == record.audit_document


def test_delete_many_at_once(project: Path) -> None:
    records = fill(project, 10)
    removed = json_store(project).delete([r.execution_id for r in records[:7]])
    assert len(removed) == 7
    assert len(record_names(project)) == 3
    assert_consistent(project)


def test_delete_missing_ok_skips_what_is_gone(project: Path) -> None:
    records = fill(project, 2)
    removed = json_store(project).delete(
        [records[0].execution_id, ExecutionRecord.generate_id()], missing_ok=True
    )
    assert [e.execution_id for e in removed] == [records[0].execution_id]


def test_delete_on_missing_store_creates_nothing(project: Path) -> None:
    with pytest.raises(ExecutionNotFoundError):
        delete_execution("abcdef12", project)
    assert not (project / ".phaser").exists()
