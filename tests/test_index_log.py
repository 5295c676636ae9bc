"""The index of schema 2.0: one row per line, read lazily; index.log for the rows added since
index.json was written; index.stamp for the cheap check that the record files are still the
ones listed; one batch object per import. And their crash-safety: whatever fails or dies
half-way, the store is as it was or heals on the next command.

Stores in these tests are small; ``large`` makes them behave as a store of thousands does
(append to the log rather than rewrite index.json).
"""

from __future__ import annotations

import errno
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storage_helpers import (
    Warnings,
    assert_consistent,
    fill,
    make_record,
    record_names,
    run_python,
    tree_snapshot,
)

from phaser_analytics import storage
from phaser_analytics.errors import StoreWriteError
from phaser_analytics.models import AnalyticsQuery, ExecutionStatus
from phaser_analytics.query import select_entries
from phaser_analytics.storage import (
    INDEX_SCHEMA_VERSION,
    Store,
    get_analytics_dir,
    hold_lock,
    record_filename,
)

DEADLINE_SECONDS = 60


def _analytics(project: Path) -> Path:
    return get_analytics_dir(project)


def _log_lines(project: Path) -> list[dict[str, Any]]:
    log = _analytics(project) / "index.log"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def large(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every store counts as a large one: additions go to index.log."""
    monkeypatch.setattr(storage, "COMPACT_UP_TO", 0)


# -- the layout ---------------------------------------------------------------------------------


def test_index_json_is_one_json_document_one_row_per_line(project: Path) -> None:
    fill(project, 4)
    text = (_analytics(project) / "index.json").read_text(encoding="utf-8")
    data = json.loads(text)
    lines = text.splitlines()
    assert data["schema_version"] == INDEX_SCHEMA_VERSION
    assert data["columns"] == list(storage._ENTRY_FIELDS)
    assert lines[0].endswith('"executions":[') and lines[-1] == "]}"
    assert [json.loads(line.rstrip(",")) for line in lines[1:-1]] == data["executions"]
    starts = [row[data["columns"].index("started_at")] for row in data["executions"]]
    assert starts == sorted(starts, reverse=True)  # newest first
    assert data["execution_count"] == 4 and data["stats"]["total_executions"] == 4
    assert data["names"] == list(storage._names_digest(record_names(project)))


def test_an_empty_store_has_an_index_with_no_rows(project: Path) -> None:
    records = fill(project, 1)
    Store(project).delete([records[0].execution_id])
    text = (_analytics(project) / "index.json").read_text(encoding="utf-8")
    assert json.loads(text)["executions"] == [] and text.count("\n") == 2
    assert Store(project).entries() == []


def test_an_old_index_is_rebuilt_once_with_one_warning(project: Path) -> None:
    records = fill(project, 3)
    old = {
        "schema_version": "1.1",
        "execution_count": 3,
        "executions": [
            storage.IndexEntry.from_record(r, record_filename(r)).to_dict() for r in records
        ],
    }
    (_analytics(project) / "index.json").write_text(json.dumps(old, indent=2))
    store, warnings = Store(project, warn=(w := Warnings())), w
    assert len(store.entries()) == 3
    assert warnings == ["analytics index has schema '1.1'; rebuilt it from the record files."]
    again = Warnings()
    assert len(Store(project, warn=again).entries()) == 3 and again == []
    assert_consistent(project)


# -- reading only what a query needs -----------------------------------------------------------


def test_show_last_five_builds_five_entries(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(project, 40)
    built = []
    real = storage.IndexEntry.from_row.__func__  # type: ignore[attr-defined]

    def counting(cls: type, row: list[Any]) -> Any:
        built.append(row[0])
        return real(cls, row)

    monkeypatch.setattr(storage.IndexEntry, "from_row", classmethod(counting))
    chosen = Store(project).select(AnalyticsQuery(limit=5))
    assert len(chosen) == 5 and len(built) == 5


def test_a_damaged_row_out_of_reach_is_found_by_a_full_read(project: Path) -> None:
    """show --last 2 never reaches the last row; reading every entry does, and rebuilds."""
    fill(project, 6)
    index = _analytics(project) / "index.json"
    lines = index.read_text(encoding="utf-8").splitlines()
    lines[-2] = '["not", "a", "row"]'
    index.write_text("\n".join(lines) + "\n", encoding="utf-8")
    quiet = Warnings()
    assert len(Store(project, warn=quiet).select(AnalyticsQuery(limit=2))) == 2
    assert quiet == []
    warnings = Warnings()
    assert len(Store(project, warn=warnings).entries()) == 6
    assert warnings == ["analytics index is corrupt; rebuilt it from the record files."]
    assert_consistent(project)


def test_rows_out_of_order_are_a_corrupt_index(project: Path) -> None:
    fill(project, 4)
    index = _analytics(project) / "index.json"
    lines = index.read_text(encoding="utf-8").splitlines()
    rows = [line.rstrip(",") for line in lines[1:-1]]
    rows[0], rows[1] = rows[1], rows[0]
    index.write_text("\n".join([lines[0], ",\n".join(rows), lines[-1]]) + "\n")
    warnings = Warnings()
    assert len(Store(project, warn=warnings).select(AnalyticsQuery(limit=3))) == 3
    assert warnings == ["analytics index is corrupt; rebuilt it from the record files."]


def test_a_header_that_disagrees_with_its_rows_is_corrupt(project: Path) -> None:
    fill(project, 3)
    index = _analytics(project) / "index.json"
    text = index.read_text(encoding="utf-8")
    index.write_text(text.replace('"execution_count":3', '"execution_count":2'))
    warnings = Warnings()
    assert len(Store(project, warn=warnings).entries()) == 3
    assert warnings == ["analytics index is corrupt; rebuilt it from the record files."]


_QUERIES = st.builds(
    AnalyticsQuery,
    limit=st.none() | st.integers(min_value=1, max_value=12),
    since=st.none() | st.sampled_from([make_record(hours=h).started_at for h in (-1, 3, 7)]),
    until=st.none() | st.sampled_from([make_record(hours=h).started_at for h in (2, 6, 20)]),
    status=st.none() | st.sampled_from(list(ExecutionStatus)),
    document=st.none() | st.sampled_from(["document-1", "-3.md", "nothing"]),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=_QUERIES)
def test_select_is_select_entries(tmp_path_factory: pytest.TempPathFactory, query: Any) -> None:
    project = _mixed_store(tmp_path_factory)
    store = Store(project)
    assert store.select(query) == select_entries(store.entries(), query)
    assert list(Store(project).iter_select(query)) == store.select(query)


def test_iter_select_keeps_neither_rows_nor_entries(project: Path) -> None:
    """What export streams: the index is read row by row, nothing is accumulated."""
    fill(project, 30)
    store = Store(project)
    seen = sum(1 for _ in store.iter_select(AnalyticsQuery()))
    assert seen == 30
    view = store._view
    assert view is not None and view._rows is None and view._entries is None


_MIXED: dict[str, Path] = {}


def _mixed_store(factory: pytest.TempPathFactory) -> Path:
    """A store with unknown starts, ties, statuses, and rows in index.log too."""
    if "project" not in _MIXED:
        project = factory.mktemp("mixed")
        statuses = list(ExecutionStatus)
        records = [
            make_record(project, hours=h % 9, status=statuses[h % 3], document=f"document-{h}.md")
            for h in range(14)
        ]
        records += [make_record(project, hours=0, started_at=None, document="undated.md")]
        Store(project).add(records[:8])
        original = storage.COMPACT_UP_TO
        storage.COMPACT_UP_TO = 0
        try:
            for record in records[8:]:
                Store(project).add([record])
        finally:
            storage.COMPACT_UP_TO = original
        assert _log_lines(project)
        _MIXED["project"] = project
    return _MIXED["project"]


# -- index.log ----------------------------------------------------------------------------------


def test_a_large_store_appends_to_the_log(project: Path, large: None) -> None:
    fill(project, 5)  # the first write of a store is a whole index.json
    before = (_analytics(project) / "index.json").read_bytes()
    records = [make_record(project, hours=h) for h in (10, 11)]
    Store(project).add(records[:1])
    Store(project).add(records[1:])
    assert (_analytics(project) / "index.json").read_bytes() == before
    lines = _log_lines(project)
    assert [len(line["add"]) for line in lines] == [1, 1]
    assert len({line["base"] for line in lines}) == 1
    entries = Store(project).entries()
    assert [e.execution_id for e in entries[:2]] == [r.execution_id for r in reversed(records)]
    assert_consistent(project)


def test_the_log_is_folded_into_index_json_when_it_grows(
    project: Path, large: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "LOG_MAX_ROWS", 2)
    fill(project, 3)
    for hours in (10, 11):
        Store(project).add([make_record(project, hours=hours)])
    assert len(_log_lines(project)) == 2
    Store(project).add([make_record(project, hours=12)])  # the third row: over the limit
    assert not (_analytics(project) / "index.log").exists()
    assert json.loads((_analytics(project) / "index.json").read_text())["execution_count"] == 6
    assert_consistent(project)


def test_replacing_through_the_log_keeps_one_entry_per_execution(
    project: Path, large: None
) -> None:
    records = fill(project, 3)
    again = make_record(
        project, hours=1, execution_id=records[1].execution_id, final_tests=999
    )  # the same execution, new content, the same file name
    moved = make_record(project, hours=2, started_at=None)  # its file name changes
    moved.execution_id = records[2].execution_id
    Store(project).add([again, moved], force=True)
    assert _log_lines(project)[-1]["remove"] == [record_filename(records[2])]
    entries = {e.execution_id: e for e in Store(project).entries()}
    assert len(entries) == 3
    assert entries[records[1].execution_id].test_delta == 899
    assert entries[records[2].execution_id].started_at is None
    assert_consistent(project)


def test_deleting_writes_index_json_and_drops_the_log(project: Path, large: None) -> None:
    fill(project, 3)
    extra = make_record(project, hours=9)
    Store(project).add([extra])
    assert _log_lines(project)
    Store(project).delete([extra.execution_id])
    assert not (_analytics(project) / "index.log").exists()
    assert len(Store(project).entries()) == 3
    assert_consistent(project)


def test_a_log_line_of_another_generation_is_ignored(project: Path, large: None) -> None:
    """Left behind when a compaction died between writing index.json and removing the log:
    index.json already holds its rows."""
    fill(project, 2)
    Store(project).add([make_record(project, hours=5)])
    log = (_analytics(project) / "index.log").read_text(encoding="utf-8")
    Store(project).rebuild()  # a new generation; the log is gone
    (_analytics(project) / "index.log").write_text(log, encoding="utf-8")
    warnings = Warnings()
    assert len(Store(project, warn=warnings).entries()) == 3
    assert warnings == []


def test_a_damaged_log_is_a_corrupt_index(project: Path, large: None) -> None:
    fill(project, 2)
    Store(project).add([make_record(project, hours=5)])
    with open(_analytics(project) / "index.log", "a", encoding="utf-8") as handle:
        handle.write("{not json}\n")
    warnings = Warnings()
    assert len(Store(project, warn=warnings).entries()) == 3
    assert warnings == ["analytics index is corrupt; rebuilt it from the record files."]
    assert_consistent(project)


def test_an_unfinished_last_log_line_is_not_read(project: Path, large: None) -> None:
    """A line without its newline is one a process was writing when it died; it left the
    journal, so the next command rebuilds (and lists everything on disk)."""
    fill(project, 2)
    added = make_record(project, hours=5)
    Store(project).add([added])
    log = _analytics(project) / "index.log"
    with open(log, "a", encoding="utf-8") as handle:
        handle.write('{"base": "x", "add": [[')
    view = storage._IndexView.parse((_analytics(project) / "index.json").read_bytes())
    view.apply_log(log.read_bytes())
    assert [row[0] for row in view.added.values()] == [added.execution_id]
    (_analytics(project) / ".journal").write_text("{}")
    warnings = Warnings()
    assert len(Store(project, warn=warnings).entries()) == 3
    assert len(warnings) == 1 and "interrupted write" in warnings[0]
    assert_consistent(project)


def _enospc(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_while_appending_changes_nothing(
    project: Path, large: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(project, 3)
    Store(project).add([make_record(project, hours=7)])
    before = tree_snapshot(project)
    real_write = os.write

    def write(fd: int, data: Any) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("index.log"):
            real_write(fd, bytes(data)[:10])  # half a line, then the disk is full
            _enospc()
        return real_write(fd, data)

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to tell the log's descriptor")
    monkeypatch.setattr(os, "write", write)
    with pytest.raises(StoreWriteError):
        Store(project).add([make_record(project, hours=h) for h in (20, 21)])
    monkeypatch.undo()
    assert tree_snapshot(project) == before
    assert_consistent(project)


@pytest.mark.parametrize("failing_call", [2, 3])
def test_a_failed_rename_after_the_append_cuts_the_log_back(
    project: Path, large: None, monkeypatch: pytest.MonkeyPatch, failing_call: int
) -> None:
    """Rename 1 is the journal, 2-3 the records; the log was appended before them."""
    fill(project, 3)
    Store(project).add([make_record(project, hours=7)])
    before = tree_snapshot(project)
    real_replace = os.replace
    calls: list[object] = []

    def flaky_replace(src: object, dst: object) -> None:
        calls.append(dst)
        if len(calls) == failing_call:
            _enospc()
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", flaky_replace)
    with pytest.raises(StoreWriteError):
        Store(project).add([make_record(project, hours=h) for h in (20, 21)])
    monkeypatch.undo()
    assert tree_snapshot(project) == before
    assert_consistent(project)


def test_killed_after_the_append_before_the_records_heals(tmp_path: Path) -> None:
    """The log lists records that never reached executions/: the journal is left, and the
    next command rebuilds from the files that are there."""
    project = tmp_path / "project"
    project.mkdir()
    code = f"""
import os, signal
from pathlib import Path
import phaser_analytics.storage as storage
from storage_helpers import make_record
storage.COMPACT_UP_TO = 0
project = Path({str(project)!r})
storage.Store(project).add([make_record(project, hours=i) for i in range(4)])
real_replace = os.replace

def replace(src, dst):
    if str(dst).endswith(".json") and "/executions/" in str(dst):
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)

os.replace = replace
storage.Store(project).add([make_record(project, hours=i) for i in range(10, 13)])
"""
    tests = Path(__file__).resolve().parent
    process = run_python(code, env={"PYTHONPATH": f"{tests.parent}{os.pathsep}{tests}"})
    process.wait(timeout=DEADLINE_SECONDS)
    assert process.returncode == -signal.SIGKILL
    analytics = _analytics(project)
    assert (analytics / ".journal").exists()
    assert len(_log_lines(project)[-1]["add"]) == 3 and len(record_names(project)) == 4
    warnings = Warnings()
    assert len(Store(project, warn=warnings).entries()) == 4
    # Out of step (the log lists three files that are not there), and interrupted.
    assert len(warnings) == 1 and "rebuilt it from the record files" in warnings[0]
    assert not (analytics / ".journal").exists()
    assert_consistent(project)


# -- index.stamp -----------------------------------------------------------------------------


class _Listings:
    """Counts the listings of executions/ (the check the stamp saves)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = os.listdir

        def listdir(path: Any = ".") -> Any:
            if os.fsdecode(path).endswith("executions"):
                self.count += 1
            return real(path)

        monkeypatch.setattr(os, "listdir", listdir)


def _settle(project: Path) -> None:
    """Make the last change to executions/ look three seconds old."""
    executions = _analytics(project) / "executions"
    moment = executions.stat().st_mtime_ns - 3_000_000_000
    os.utime(executions, ns=(moment, moment))


def test_a_reader_lists_once_then_trusts_the_stamp(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(project, 3)
    _settle(project)
    listings = _Listings(monkeypatch)
    assert len(Store(project).entries()) == 3
    assert listings.count == 1
    assert (_analytics(project) / "index.stamp").exists()
    assert len(Store(project).entries()) == 3
    assert listings.count == 1  # the directory has not changed since


def test_a_file_added_after_the_stamp_is_found(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(project, 2)
    _settle(project)
    Store(project).entries()  # stamps
    stranger = make_record(project, hours=50)
    path = _analytics(project) / "executions" / record_filename(stranger)
    path.write_text(json.dumps(stranger.to_dict()))
    warnings = Warnings()
    assert stranger.execution_id in [
        e.execution_id for e in Store(project, warn=warnings).entries()
    ]
    assert warnings == [
        "analytics index is out of step with the record files; rebuilt it from the record files."
    ]


def test_a_stamp_taken_right_after_a_change_proves_nothing_to_a_reader(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system clock may not have ticked since the last change: a file copied in now
    could leave the directory's time as it was. Readers list until the change is old."""
    monkeypatch.setattr(storage, "SETTLED_NS", 600_000_000_000)  # "right after", however slow
    fill(project, 2)  # the writer leaves a stamp of its own, not a settled one
    assert (_analytics(project) / "index.stamp").exists()
    listings = _Listings(monkeypatch)
    Store(project).entries()
    Store(project).entries()
    assert listings.count == 2


def test_the_next_writer_trusts_the_last_writers_stamp(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(project, 2)
    listings = _Listings(monkeypatch)
    Store(project).add([make_record(project, hours=9)])
    assert listings.count == 0
    assert_consistent(project)


def test_whole_second_times_wait_for_the_slowest_clock() -> None:
    """FAT, ext3 and HFS+ keep whole seconds (FAT two): a listing proves nothing until the
    directory has been quiet for two seconds; elsewhere a clock ticks within milliseconds."""
    second = 1_795_000_000 * 1_000_000_000
    assert not storage._settled(second, second + 1_000_000_000)
    assert storage._settled(second, second + 2_000_000_000)
    assert not storage._settled(second + 1_234_567, second + 1_234_567 + 10_000_000)
    assert storage._settled(second + 1_234_567, second + 1_234_567 + 50_000_000)


def test_a_mangled_stamp_costs_a_listing_and_nothing_else(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(project, 2)
    (_analytics(project) / "index.stamp").write_text("{nonsense")
    listings = _Listings(monkeypatch)
    warnings = Warnings()
    assert len(Store(project, warn=warnings).entries()) == 2
    assert listings.count == 1 and warnings == []


def test_a_wrong_digest_of_the_right_names_is_a_corrupt_index(project: Path) -> None:
    fill(project, 3)
    index = _analytics(project) / "index.json"
    data = json.loads(index.read_text(encoding="utf-8"))
    wrong = json.dumps(data["names"], separators=(",", ":"))
    text = index.read_text(encoding="utf-8")
    index.write_text(text.replace(wrong, f"[{data['names'][0]},1]", 1), encoding="utf-8")
    warnings = Warnings()
    assert len(Store(project, warn=warnings).entries()) == 3
    assert warnings == ["analytics index is corrupt; rebuilt it from the record files."]
    assert_consistent(project)


def test_a_folder_named_like_a_record_is_not_a_stale_index(project: Path) -> None:
    """The listing's digest counts it; the exact comparison that follows does not."""
    fill(project, 2)
    (_analytics(project) / "executions" / "folder.json").mkdir()
    warnings = Warnings()
    assert len(Store(project, warn=warnings).entries()) == 2
    assert warnings == []


# -- one batch per import --------------------------------------------------------------------


def test_an_import_reads_the_index_rows_once(
    tmp_path: Path, project: Path, large: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from phaser_analytics import pipeline

    fill(project, 3)
    reports = []
    example = (
        Path(__file__).resolve().parent.parent / "examples" / "EXECUTION_REPORT.md"
    ).read_text()
    for number in range(7):
        folder = tmp_path / "reports" / f"r{number}"
        folder.mkdir(parents=True)
        text = example.replace("document-7-reverse.md", f"document-{number}-x.md")
        (folder / "EXECUTION_REPORT.md").write_text(text, encoding="utf-8")
        reports.append(folder / "EXECUTION_REPORT.md")
    monkeypatch.setattr(pipeline, "_SAVE_BATCH", 2)
    built = []
    real_init = storage._Batch.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(kwargs.get("lazy"))
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(storage._Batch, "__init__", counting)
    summary = pipeline.import_reports(reports, project)
    assert summary.imported == 7
    assert len(built) == 1  # four batches, one batch object
    assert not (_analytics(project) / "index.log").exists() or _log_lines(project)
    assert len(Store(project).entries()) == 10
    assert_consistent(project)


def test_a_file_copied_in_between_two_batches_is_picked_up(
    tmp_path: Path, project: Path, large: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next batch of an import reuses what it knows only while nothing else changed
    executions/."""
    from phaser_analytics import pipeline

    fill(project, 2)
    example = (
        Path(__file__).resolve().parent.parent / "examples" / "EXECUTION_REPORT.md"
    ).read_text()
    reports = []
    for number in range(4):
        folder = tmp_path / "reports" / f"r{number}"
        folder.mkdir(parents=True)
        text = example.replace("document-7-reverse.md", f"document-{number}-x.md")
        (folder / "EXECUTION_REPORT.md").write_text(text, encoding="utf-8")
        reports.append(folder / "EXECUTION_REPORT.md")
    monkeypatch.setattr(pipeline, "_SAVE_BATCH", 2)
    stranger = make_record(project, hours=70)
    executions = _analytics(project) / "executions"

    def copy_in_once(outcome: Any) -> None:
        target = executions / record_filename(stranger)
        if not target.exists():
            target.write_text(json.dumps(stranger.to_dict()))
            moment = executions.stat().st_mtime_ns + 1_000_000  # a clock that moved on
            os.utime(executions, ns=(moment, moment))

    warnings = Warnings()
    summary = pipeline.import_reports(
        reports, project, on_report=copy_in_once, warn=lambda message: warnings.append(message)
    )
    assert summary.imported == 4
    assert stranger.execution_id in [e.execution_id for e in Store(project).entries()]
    assert warnings == [
        "analytics index is out of step with the record files; rebuilt it from the record files."
    ]
    assert_consistent(project)


def test_an_import_writes_index_json_once_at_the_end(
    tmp_path: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from phaser_analytics import pipeline

    reports = []
    example = (
        Path(__file__).resolve().parent.parent / "examples" / "EXECUTION_REPORT.md"
    ).read_text()
    for number in range(6):
        folder = tmp_path / "reports" / f"r{number}"
        folder.mkdir(parents=True)
        text = example.replace("document-7-reverse.md", f"document-{number}-x.md")
        (folder / "EXECUTION_REPORT.md").write_text(text, encoding="utf-8")
        reports.append(folder / "EXECUTION_REPORT.md")
    monkeypatch.setattr(pipeline, "_SAVE_BATCH", 2)
    fill(project, 1)
    writes = []
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        if str(dst).endswith("index.json"):
            writes.append(dst)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    pipeline.import_reports(reports, project)
    assert len(writes) == 1  # three batches appended to the log, one index.json at the end
    assert not (_analytics(project) / "index.log").exists()
    assert len(Store(project).entries()) == 7
    assert_consistent(project)


# -- a lazy batch decides as a full one does -------------------------------------------------

_STARTS = st.sampled_from([0, 1, 1, 2, None])


@st.composite
def _scenario(draw: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
    def spec() -> dict[str, Any]:
        return {
            "hours": draw(_STARTS),
            "document": draw(st.sampled_from(["a.md", "b.md"])),
            "commit": draw(st.sampled_from(["c1", "c2"])),
            "id": draw(
                st.sampled_from(
                    [
                        "ABCD1234-0000-4000-8000-00000000000",
                        "abcd1234-0000-4000-8000-00000000000",
                        "ef01",
                    ]
                )
            ),
            "n": draw(st.integers(0, 3)),
        }

    # A store never holds two ids equal but for case (the rebuild keeps one of them).
    stored = list(
        {
            f"{s['id']}{s['n']}".lower(): s
            for s in [spec() for _ in range(draw(st.integers(0, 6)))]
        }.values()
    )
    added = [spec() for _ in range(draw(st.integers(1, 4)))]
    return stored, added, draw(st.booleans())


def _record(project: Path, spec: dict[str, Any]) -> Any:
    started = None if spec["hours"] is None else make_record(hours=spec["hours"]).started_at
    return make_record(
        project,
        hours=spec["hours"] or 0,
        started_at=started,
        document=spec["document"],
        base_commit=spec["commit"],
        execution_id=f"{spec['id']}{spec['n']}"[:36]
        if len(spec["id"]) > 10
        else f"{spec['id']}-{spec['n']}",
    )


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scenario=_scenario())
def test_a_lazy_batch_decides_like_a_full_one(
    tmp_path_factory: pytest.TempPathFactory, scenario: Any
) -> None:
    stored, added, force = scenario
    project = tmp_path_factory.mktemp("lazy")
    rows, names = [], set()
    for spec in stored:  # a store as the files make it: one file name per execution
        record = _record(project, spec)
        name = record_filename(record, long=spec["n"] == 2)
        if name.lower() in names:
            name = record_filename(record, long=True)
        names.add(name.lower())
        rows.append(storage._row_of(record, name))
    header = {
        "generation": "g",
        "skipped_files": [],
        "names": [0, 0],
        "execution_count": len(rows),
        "columns": list(storage._ENTRY_FIELDS),
        "schema_version": INDEX_SCHEMA_VERSION,
    }
    storage._sort_rows(rows)
    data = storage._encode_index(header, rows)
    outcomes = {}
    for lazy in (False, True):
        view = storage._IndexView.parse(data)
        batch = storage._Batch(view, project, lazy=lazy)
        results = []
        for spec in added:
            record = _record(project, spec)
            try:
                outcome = batch.place(record, force=force)
                results.append((outcome.action, outcome.existing_id, outcome.path))
            except Exception as exc:
                results.append((type(exc).__name__, str(exc), None))
        outcomes[lazy] = (
            results,
            sorted(map(tuple, batch.rows_list())),
            batch.stale_files,
            batch.names,
        )
    assert outcomes[True] == outcomes[False]


# -- the lock ----------------------------------------------------------------------------------


def test_the_flock_and_the_filelock_library_exclude_each_other(tmp_path: Path) -> None:
    import filelock

    path = tmp_path / ".lock"
    with hold_lock(path, 1), pytest.raises(filelock.Timeout):
        filelock.FileLock(str(path), timeout=0.1).acquire()
    with filelock.FileLock(str(path), timeout=1), pytest.raises(TimeoutError), hold_lock(path, 0.1):
        pass
    with hold_lock(path, 1):
        pass  # released, by either


def test_the_lock_file_is_created_readable_like_any_file(tmp_path: Path) -> None:
    path = tmp_path / "new.lock"
    with hold_lock(path, 1):
        assert path.exists()
    assert path.stat().st_mode & 0o044  # not mkstemp's owner-only mode
