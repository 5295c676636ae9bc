"""Reading: select → view → write, as :mod:`phaser_analytics.pipeline` is the home of
import (discover → parse → record → store).

A command that shows stored executions selects them from a store (:func:`select_project`,
:func:`select_project_streaming`, :func:`select_all_projects`: the records, the statistics
of every execution the query keeps, and what the view says about where they came from),
builds a :class:`~phaser_analytics.hookspecs.RenderView` of the selection for a renderer,
and writes what the renderer gives (:func:`render_chunks`, :func:`write_output`). The
command line only chooses the store, the options and the renderer (``cli/viewing.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO, overload

from .errors import stderr_warning
from .hookspecs import RenderView, optional
from .models import AggregatedStats, AnalyticsQuery, ExecutionRecord
from .query import compute_stats, select_global
from .stores.base import Entry, Store


class Selection:
    """What a command shows: the selected records and the statistics of every execution
    the query keeps. ``store`` and ``key`` are the store a project view was read from and
    the project's key in it; for ``--global``, the store that holds every project, or
    ``None`` for the registered projects' own stores: what later steps of the command
    (``show``'s anomalies, the dashboard's previous period) read more from. (A plain
    class: a dataclass costs every command ~0.5 ms to define; docs/performance.md,
    "Start-up".)"""

    __slots__ = ("key", "origins", "project", "projects", "records", "stats", "store",
                 "store_empty")  # fmt: skip

    def __init__(
        self,
        records: Sequence[ExecutionRecord],
        stats: AggregatedStats,
        project: dict[str, Any] | None,
        projects: list[dict[str, Any]] | None = None,
        store_empty: bool = False,
        origins: list[dict[str, Any]] | None = None,
        store: Any = None,
        key: str | None = None,
    ) -> None:
        self.records = records
        self.stats = stats
        self.project = project
        self.projects = projects if projects is not None else []
        self.store_empty = store_empty
        self.origins = origins
        self.store = store
        self.key = key


def select_project(store: Store, key: str, query: AnalyticsQuery, project_dir: Path) -> Selection:
    """Records and stats of the project ``key`` in ``store`` for ``query``: stats come from
    the store's entries, and only the selected records are read."""
    # Only the entries the query keeps are built: `show --last 5` reads five.
    entries = list(store.find(query, project=key))
    info = store.info()
    return Selection(
        records=list(store.read(entries)),
        stats=compute_stats(entries),
        project={"name": info.project_name(key) or project_dir.name, "path": str(project_dir)},
        store_empty=not info.count_for(key),
        store=store,
        key=key,
    )


def select_all_projects(store: Store | None, query: AnalyticsQuery) -> Selection:
    """``--global``: records and stats for ``query`` across every registered project (each
    record with the project it came from)."""
    chosen = select_global(query, warn=stderr_warning, store=store)
    pairs = chosen.load()
    return Selection(
        records=[record for _, record in pairs],
        origins=[{"name": p.name, "path": p.path} for p, _ in pairs],
        stats=compute_stats(chosen.entries),
        project=None,
        projects=[p.to_dict() for p in chosen.projects],
        store_empty=not chosen.items and not any(p.execution_count for p in chosen.projects),
        store=store,
    )


class LazyRecords(Sequence[ExecutionRecord]):
    """The records of ``entries``, read from the store one at a time as they are iterated,
    so a renderer that streams (``render_iter``) holds one record at a time: ``export`` of
    ten thousand executions needs the memory of one.

    Vanished or unreadable records are skipped, as :meth:`Store.read` skips them. Iterating
    reads them again each time; ``len``, indexing and ``bool`` read them all once and keep
    them, so a renderer that needs them all still gets a sequence. ``entries`` may be any
    iterable that can be iterated again.
    """

    def __init__(self, store: Store, entries: Iterable[Entry]) -> None:
        self._store = store
        self._entries = entries
        self._loaded: list[ExecutionRecord] | None = None

    def __iter__(self) -> Iterator[ExecutionRecord]:
        if self._loaded is not None:
            yield from self._loaded
            return
        yield from self._store.read(self._entries)

    def _all(self) -> list[ExecutionRecord]:
        if self._loaded is None:
            self._loaded = list(self._store.read(self._entries))
        return self._loaded

    def __len__(self) -> int:
        return len(self._all())

    @overload
    def __getitem__(self, index: int) -> ExecutionRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[ExecutionRecord]: ...

    def __getitem__(self, index: int | slice) -> ExecutionRecord | list[ExecutionRecord]:
        return self._all()[index]

    def __bool__(self) -> bool:
        return bool(self._all())


def select_project_streaming(
    store: Store, key: str, query: AnalyticsQuery, project_dir: Path
) -> Selection:
    """:func:`select_project` for a renderer that streams: the entries are found again for
    each pass (the stats, then the records) and the records are a :class:`LazyRecords`, so
    memory holds one entry and one record at a time, however many executions."""
    from .aggregates import Selected

    chosen = Selected(store, query, key)
    info = store.info()
    return Selection(
        records=LazyRecords(store, chosen.found()),
        stats=chosen.stats(),
        project={"name": info.project_name(key) or project_dir.name, "path": str(project_dir)},
        store_empty=not info.count_for(key),
        store=store,
        key=key,
    )


def render_chunks(renderer: Any, view: RenderView) -> Iterable[str]:
    """What ``renderer`` makes of ``view``, in pieces when it streams (``render_iter``)."""
    render_iter = optional(renderer, "render_iter")
    if render_iter is not None:
        return render_iter(view)
    return [renderer.render(view)]


def _write_chunks(stream: TextIO, chunks: Iterable[str]) -> None:
    """Write ``chunks`` as they come, ending with exactly one newline."""
    last = ""
    for chunk in chunks:
        if chunk:
            stream.write(chunk)
            last = chunk
    if not last.endswith("\n"):
        stream.write("\n")


def write_output(chunks: Iterable[str], output: Path | None) -> None:
    """Write rendered output to ``output`` (see :mod:`phaser_analytics.output_file`: atomic
    for a regular file, through a symlink, directly to a device or pipe), or stream it to
    stdout; either way it ends with exactly one newline."""
    if output is None:
        _write_chunks(sys.stdout, chunks)
        sys.stdout.flush()
        return
    from .output_file import open_output

    with open_output(output) as handle:
        _write_chunks(handle, chunks)
