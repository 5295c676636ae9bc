"""A save of a few records into the JSON store adds their rows to index.json's text instead
of rewriting every row (docs/storage.md, "Machinery kept"): the index, the record files and
the outcomes must be exactly those of the full rewrite, whatever the store holds."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storage_helpers import DAY0, Warnings, assert_consistent, json_store, make_record

from phaser_analytics.models import AggregatedStats, ExecutionRecord, ExecutionStatus
from phaser_analytics.stores import json_files

#: Few moments, so rows often start at the same second (the search's hardest case).
MOMENTS = [DAY0 + timedelta(hours=h) for h in (0, 0, 1, 5, 9)]
#: Durations and costs whose sums are exact, so the stats compare exactly.
DURATIONS = [None, 60.0, 1800.0, 4523.0]
COSTS = [None, 0.25, 1.5, 3.0]


@st.composite
def records(draw: Any, project: str) -> ExecutionRecord:
    """A record that often shares its start, identity, id prefix or file name with others."""
    started = draw(st.sampled_from([*MOMENTS, None]))
    execution_id = draw(
        st.sampled_from(
            ["abcd1234-0000-4000-8000-000000000001", "ABCD1234-0000-4000-8000-000000000002",
             "abcd1234-0000-4000-8000-000000000003"]
        )
        | st.uuids(version=4).map(str)
    )  # fmt: skip
    duration = draw(st.sampled_from(DURATIONS))
    record = make_record(
        project,
        document=draw(st.sampled_from(["a.md", "b.md"])),
        base_commit=draw(st.sampled_from(["c1", "c2"])),
        status=draw(st.sampled_from(list(ExecutionStatus))),
        project_name=draw(st.sampled_from(["Demo", None, "Other"])),
        cost_usd=draw(st.sampled_from(COSTS)),
        phases_completed=draw(st.sampled_from([None, 2, 6, 7])),
        final_tests=draw(st.sampled_from([None, 90, 120])),
    )
    record.started_at = started
    if started is not None and duration is not None:
        record.completed_at = started + timedelta(seconds=duration)
    elif started is None:
        record.completed_at = None
    record.execution_id = execution_id
    return record


def _saved(store_dir: Path, batches: list[list[ExecutionRecord]], replace: list[bool]) -> Any:
    outcomes = []
    warnings = Warnings()
    store = json_store(store_dir, warnings)
    for batch, force in zip(batches, replace, strict=True):
        for outcome in store.save(copy.deepcopy(batch), replace=force):
            where = outcome.location.replace(str(store_dir), "ROOT") if outcome.location else None
            outcomes.append((outcome.action, outcome.execution_id, where, outcome.warning))
        store = json_store(store_dir, warnings)  # a new process, as each import is
    return outcomes, warnings


def _index(project: Path) -> dict[str, Any]:
    document = json.loads((project / ".phaser" / "analytics" / "index.json").read_text())
    for key in ("updated_at", "listed"):
        document.pop(key)
    return document


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(data=st.data())
def test_a_spliced_save_writes_what_a_full_rewrite_writes(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, data: Any
) -> None:
    root = tmp_path_factory.mktemp("splice")
    # The same directory name: a store without project names is named after it.
    spliced, rewritten = root / "spliced" / "project", root / "rewritten" / "project"
    monkeypatch.setattr("os.fsync", lambda fd: None)  # durability is not what is tested
    first = data.draw(st.lists(records(str(spliced)), min_size=1, max_size=6), label="first")
    later = data.draw(
        st.lists(st.lists(records(str(spliced)), min_size=1, max_size=3), max_size=4),
        label="later batches",
    )
    force = data.draw(st.lists(st.booleans(), min_size=len(later), max_size=len(later)))
    got = _saved(spliced, [first, *later], [False, *force])
    with monkeypatch.context() as patch:
        patch.setattr(json_files, "SPLICE_MAX", 0)  # every save parses and rewrites every row
        expected = _saved(rewritten, [first, *later], [False, *force])
    assert expected[0] == got[0]
    assert [m.replace(str(rewritten), str(spliced)) for m in expected[1]] == got[1]
    assert sorted(p.name for p in (spliced / ".phaser/analytics/executions").iterdir()) == sorted(
        p.name for p in (rewritten / ".phaser/analytics/executions").iterdir()
    )
    assert _index(spliced) == _index(rewritten)
    # The stats carried on from save to save are those of every execution stored.
    store = json_store(spliced)
    stored = list(store.read(store.find()))
    assert _index(spliced)["stats"] == AggregatedStats.compute(stored).to_dict()
    assert_consistent(spliced)


def test_one_import_into_a_store_keeps_index_json_the_spec_s_shape(tmp_path: Path) -> None:
    project = tmp_path / "project"
    store = json_store(project)
    batch = [make_record(project, hours=h) for h in range(40)]
    store.save(batch)
    added = [make_record(project, hours=h + 0.5) for h in (-3, 7, 39, 50)]  # type: ignore[arg-type]
    for record in added:
        store = json_store(project)  # a new process, as each import is
        state = store._current()
        assert state.rows is None  # the rows are not parsed: they will be spliced
        outcome = store.save([copy.deepcopy(record)])
        assert outcome[0].action.value == "imported"
        assert state.rows is None  # and they were not
    text = (project / ".phaser" / "analytics" / "index.json").read_text()
    document = json.loads(text)
    ids = [e["execution_id"] for e in document["executions"]]
    everything = sorted([*batch, *added], key=lambda r: r.started_at, reverse=True)
    assert ids == [r.execution_id for r in everything]
    assert document["execution_count"] == 44
    assert document["stats"] == AggregatedStats.compute(everything).to_dict()
    assert document["tally"]["durations"] == 44
    # One execution per line, the last without a comma: what `git diff` and readers rely on.
    lines = text.splitlines()
    assert len(lines) == 46 and lines[-2].endswith("}") and lines[1].endswith("},")
    assert_consistent(project)


def test_an_index_read_in_two_parts_reads_as_one(tmp_path: Path, monkeypatch) -> None:
    """``show`` reads the first part of a large index.json; the rest is read when a command
    reaches it, from the same file even if a writer has renamed a new one over it since."""
    monkeypatch.setattr(json_files, "INDEX_CHUNK", 300)  # less than a row at a time
    project = tmp_path / "project"
    records = [make_record(project, hours=h) for h in range(30)]
    json_store(project).save(records)
    newest_first = [r.execution_id for r in reversed(records)]
    store = json_store(project)
    assert [e.execution_id for e in store.find()] == newest_first
    reader = json_store(project)
    walk = iter(reader.find())
    first = next(walk)  # the first part only
    json_store(project).save([make_record(project, hours=100)])  # renamed over it
    rest = [e.execution_id for e in walk]
    assert [first.execution_id, *rest] == newest_first  # the file it began with
    assert len(list(json_store(project).find())) == 31
    json_store(project).save([make_record(project, hours=-5)])  # spliced at the far end
    document = json.loads((project / ".phaser" / "analytics" / "index.json").read_text())
    assert document["execution_count"] == 32 == len(document["executions"])
    assert_consistent(project)


@pytest.mark.parametrize(
    ("tally", "stats"),
    [
        ({"durations": "many", "test_deltas": 1, "cost_usd": None}, None),
        ({"durations": 3, "test_deltas": 3, "cost_usd": "lots"}, None),
        (None, {"total_executions": "3"}),
        (
            None,
            {
                "total_executions": 3,
                "successful": 3,
                "partial": 0,
                "failed": 0,
                "total_phases_executed": 1,
                "total_phases_completed": 1,
                "total_duration_seconds": "long",
            },
        ),
    ],
)
def test_damaged_stats_or_tally_are_computed_again(tmp_path: Path, tally: Any, stats: Any) -> None:
    """A stranger's index can hold anything in ``tally`` and ``stats``: an import then
    computes them from the rows instead of adding to them, and says nothing."""
    project = tmp_path / "project"
    json_store(project).save([make_record(project, hours=h) for h in range(3)])
    path = project / ".phaser" / "analytics" / "index.json"
    first, *rows, last = path.read_bytes().split(b"\n")[:-1]
    header = json.loads(first[: -len(b', "executions": [')] + b"}")
    if tally is not None:
        header["tally"] = tally
    closing = json.loads(b"{" + last[3:])
    if stats is not None:
        closing["stats"] = stats
    text = json.dumps(header)[:-1] + ', "executions": ['
    path.write_bytes(
        b"\n".join([text.encode(), *rows, b"], " + json.dumps(closing)[1:].encode()]) + b"\n"
    )
    warnings = Warnings()
    record = make_record(project, hours=9)
    assert json_store(project, warnings).save([record])[0].action.value == "imported"
    store = json_store(project)
    assert _index(project)["stats"] == AggregatedStats.compute(store.read(store.find())).to_dict()
    assert warnings == []
