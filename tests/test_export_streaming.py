"""``export`` streams: a renderer with ``render_iter`` gets the records one at a time, read
from the store as it reaches them, so memory stays flat however many executions."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from storage_helpers import fill, json_store, no_fsync  # noqa: F401 (a fixture)

from phaser_analytics import ExecutionRecord, hookimpl, plugins
from phaser_analytics.cli import cli
from phaser_analytics.stores import open_store
from phaser_analytics.stores.base import Entry, Store
from phaser_analytics.view import LazyRecords

pytestmark = pytest.mark.usefixtures("no_fsync")


@pytest.fixture
def store_of_six(project: Path) -> Path:
    fill(project, 6)
    return project


def _executions_dir(project: Path) -> Path:
    return next(project.rglob("executions"))


def test_lazy_records_are_the_loaded_records(store_of_six: Path):
    store = json_store(store_of_six)
    entries = list(store.find())
    lazy = LazyRecords(store, entries)
    expected = list(store.read(entries))
    assert list(lazy) == expected
    assert list(lazy) == expected  # iterated again: read again
    assert len(lazy) == 6 and lazy[0] == expected[0] and lazy[-2:] == expected[-2:]
    assert bool(lazy) and not LazyRecords(store, [])


def test_lazy_records_take_any_iterable_that_iterates_again(store_of_six: Path):
    store = json_store(store_of_six)
    entries = list(store.find())

    class Streamed:
        def __iter__(self) -> Iterator[Entry]:
            return iter(entries)

    lazy = LazyRecords(store, Streamed())
    assert list(lazy) == list(lazy) == list(store.read(entries))
    assert len(lazy) == 6


def test_lazy_records_skip_what_cannot_be_read(store_of_six: Path, capsys):
    store = json_store(store_of_six, warn=lambda m: print(m))
    entries = list(store.find())
    (_executions_dir(store_of_six) / entries[1].ref).write_text("{not json")
    (_executions_dir(store_of_six) / entries[3].ref).unlink()
    records = list(LazyRecords(store, entries))
    assert [r.execution_id for r in records] == [
        e.execution_id for i, e in enumerate(entries) if i not in (1, 3)
    ]
    assert "is unreadable" in capsys.readouterr().out


#: What the spying store writes into the output as it hands over each record.
READ = "\x00read\x00"


class ReadSpy:
    """A JSON store, as a plugin's store (``register_stores``) would wrap one, that writes
    :data:`READ` to stdout, where the command's own output goes, as it hands over each
    record: the output then shows when each record was read, relative to what was
    written."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def read(self, entries: Iterable[Entry]) -> Iterator[ExecutionRecord]:
        for record in self._store.read(entries):
            sys.stdout.write(READ)
            yield record

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class SpyPlugin:
    @hookimpl
    def register_stores(self, register: Any) -> None:
        register(
            "spy",
            lambda url, *, project_dir, warn: ReadSpy(
                open_store(None, project_dir=project_dir, warn=warn)
            ),
        )


def _events(output: str) -> list[str]:
    """``read`` for each record read from the store, ``chunk`` for each run of output
    between two reads."""
    events: list[str] = []
    for number, piece in enumerate(output.split(READ)):
        if number:
            events.append("read")
        if piece.strip():
            events.append("chunk")
    return events


def _export(project: Path, fmt: str, *store: str) -> str:
    result = CliRunner().invoke(
        cli, ["analytics", "export", "--format", fmt, "--project", str(project), *store]
    )
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def events(store_of_six: Path) -> Callable[[str], list[str]]:
    """The events of an export of the six records in the given format, through the spy."""
    plugins.set_host(plugins.build_host([("spy", SpyPlugin())]))  # conftest resets it
    return lambda fmt: _events(_export(store_of_six, fmt, "--store", "spy:"))


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_export_reads_each_record_as_the_renderer_reaches_it(
    events: Callable[[str], list[str]], fmt: str
):
    seen = events(fmt)
    assert seen.count("read") == 6
    first_chunk = seen.index("chunk")
    assert seen[:first_chunk].count("read") < 6  # output began before the last read
    assert "chunk" in seen[seen.index("read") + 1 :]


def test_a_renderer_without_render_iter_gets_the_records_read_at_once(
    store_of_six: Path, events: Callable[[str], list[str]]
):
    assert "document-5.md" in _export(store_of_six, "markdown")
    assert events("markdown") == ["read"] * 6 + ["chunk"]


@pytest.mark.parametrize("fmt", ["csv", "markdown"])
def test_a_damaged_index_is_rebuilt_and_the_export_goes_on(store_of_six: Path, fmt: str):
    index = next(store_of_six.rglob("index.json"))
    lines = index.read_text(encoding="utf-8").split("\n")
    row = next(i for i, line in enumerate(lines) if line.startswith('{"execution_id"'))
    lines[row] = '{"damaged",'
    index.write_text("\n".join(lines), encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["analytics", "export", "--format", fmt, "--project", str(store_of_six)]
    )
    assert result.exit_code == 0, result.output
    assert "rebuilt" in result.stderr
    assert all(f"document-{n}.md" in result.stdout for n in range(6))
