"""``export`` streams: a renderer with ``render_iter`` gets the records one at a time, read
from the store as it reaches them, so memory stays flat however many executions."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner
from storage_helpers import fill, no_fsync  # noqa: F401 (a fixture)

from phaser_analytics.cli import cli
from phaser_analytics.cli.viewing import LazyRecords
from phaser_analytics.models import ExecutionRecord
from phaser_analytics.storage import IndexEntry, Store

pytestmark = pytest.mark.usefixtures("no_fsync")


@pytest.fixture
def store_of_six(project: Path) -> Path:
    fill(project, 6)
    return project


def _executions_dir(project: Path) -> Path:
    return next(project.rglob("executions"))


def test_lazy_records_are_the_loaded_records(store_of_six: Path):
    store = Store(store_of_six)
    entries = store.entries()
    lazy = LazyRecords(store, entries)
    expected = store.load_entries(entries)
    assert list(lazy) == expected
    assert list(lazy) == expected  # iterated again: read again
    assert len(lazy) == 6 and lazy[0] == expected[0] and lazy[-2:] == expected[-2:]
    assert bool(lazy) and not LazyRecords(store, [])


def test_lazy_records_take_any_iterable_that_iterates_again(store_of_six: Path):
    store = Store(store_of_six)
    entries = store.entries()

    class Streamed:  # what a view streaming the index's rows would be
        def __iter__(self) -> Iterator[IndexEntry]:
            return iter(entries)

    lazy = LazyRecords(store, Streamed())
    assert list(lazy) == list(lazy) == store.load_entries(entries)
    assert len(lazy) == 6


def test_lazy_records_skip_what_cannot_be_read(store_of_six: Path, capsys):
    store = Store(store_of_six, warn=lambda m: print(m))
    entries = store.entries()
    (_executions_dir(store_of_six) / entries[1].filename).write_text("{not json")
    (_executions_dir(store_of_six) / entries[3].filename).unlink()
    records = list(LazyRecords(store, entries))
    assert [r.execution_id for r in records] == [
        e.execution_id for i, e in enumerate(entries) if i not in (1, 3)
    ]
    assert "is unreadable" in capsys.readouterr().out


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many records each call of Store.load_entries reads."""
    counts: list[int] = []
    real = Store.load_entries

    def counting(self: Store, entries: Sequence[IndexEntry]) -> list[ExecutionRecord]:
        counts.append(len(entries))
        return real(self, entries)

    monkeypatch.setattr(Store, "load_entries", counting)
    return counts


def _export(project: Path, fmt: str) -> str:
    result = CliRunner().invoke(
        cli, ["analytics", "export", "--format", fmt, "--project", str(project)]
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_export_reads_each_record_as_the_renderer_reaches_it(store_of_six: Path, reads):
    assert len(json.loads(_export(store_of_six, "json"))["executions"]) == 6
    assert reads == [1] * 6  # one record at a time, never the whole list
    reads.clear()
    assert len(_export(store_of_six, "csv").splitlines()) == 7
    assert reads == [1] * 6


def test_a_renderer_without_render_iter_gets_the_records_read_at_once(store_of_six: Path, reads):
    assert "document-5.md" in _export(store_of_six, "markdown")
    assert reads == [6]


def test_export_streams_the_index_too(store_of_six: Path, monkeypatch: pytest.MonkeyPatch):
    def whole_list(self: Store, query: object) -> list[IndexEntry]:
        raise AssertionError("export built the list of every selected entry")

    monkeypatch.setattr(Store, "select", whole_list)
    document = json.loads(_export(store_of_six, "json"))
    assert len(document["executions"]) == 6
    assert document["stats"]["total_executions"] == 6
    assert [e["audit_document"] for e in document["executions"]] == [
        f"document-{n}.md" for n in range(5, -1, -1)
    ]


@pytest.mark.parametrize("fmt", ["csv", "markdown"])
def test_a_damaged_index_row_is_rebuilt_and_the_export_goes_on(store_of_six: Path, fmt: str):
    index = next(store_of_six.rglob("index.json"))
    lines = index.read_text(encoding="utf-8").split("\n")
    row = next(i for i, line in enumerate(lines) if line.startswith('["'))
    lines[row] = '["damaged",'
    index.write_text("\n".join(lines), encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["analytics", "export", "--format", fmt, "--project", str(store_of_six)]
    )
    assert result.exit_code == 0, result.output
    assert "rebuilt" in result.stderr
    assert all(f"document-{n}.md" in result.stdout for n in range(6))
