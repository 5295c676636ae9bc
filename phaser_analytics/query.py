"""Queries and aggregation (spec §7, §11.3): filters on the index, then records as needed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import AnalyticsError, stderr_warning
from .models import (
    AggregatedStats,
    AnalyticsQuery,
    ExecutionRecord,
    ExecutionStatus,
    PhaseStatus,
)
from .stores import open_store, project_store
from .stores.base import (
    Entry,
    Store,
    global_store_url,
    resolve_store_url,
    sort_newest_first,
    url_scheme,
)

if TYPE_CHECKING:
    # Imported where --global needs it: show of one project never reads the registry.
    from .project_registry import ProjectEntry


def select_entries(entries: Iterable[Entry], query: AnalyticsQuery) -> list[Entry]:
    """Entries matching ``query``, newest first, at most ``query.limit`` of them.

    For a store's entries, :meth:`Store.find` returns the same, building only the entries
    it reaches.
    """
    matching = sort_newest_first(e for e in entries if query.matches(e))
    return matching[: query.limit] if query.limit is not None else matching


def project_key(project_dir: Path, store: Store | None = None) -> str:
    """How a store that holds several projects knows ``project_dir``: the project path its
    records carry. That is the project's resolved path, unless its reports state another
    (a report written on another machine): then, when exactly one project in ``store`` has
    the directory's name, that project's path."""
    path = str(Path(project_dir).resolve())
    if store is None:
        return path
    info = store.info()
    if not info.multi_project or any(p.path == path for p in info.projects):
        return path
    named = [p for p in info.projects if p.name == Path(path).name and p.path]
    return named[0].path if len(named) == 1 and named[0].path else path


def query_executions(
    project_dir: Path, query: AnalyticsQuery | None = None
) -> list[ExecutionRecord]:
    """Execution records matching ``query`` (every one when ``None``), newest first."""
    store = project_store(project_dir)
    try:
        return list(store.read(store.find(query, project=project_key(project_dir, store))))
    finally:
        store.close()


def compute_stats(records: Iterable[Any]) -> AggregatedStats:
    """Aggregated statistics of execution records (or index entries)."""
    return AggregatedStats.compute(records)


def get_recent_executions(project_dir: Path, limit: int = 10) -> list[ExecutionRecord]:
    """The most recent executions."""
    return query_executions(project_dir, AnalyticsQuery(limit=limit))


def get_executions_by_status(project_dir: Path, status: ExecutionStatus) -> list[ExecutionRecord]:
    """All executions with a given status, newest first."""
    return query_executions(project_dir, AnalyticsQuery(status=status))


def compute_phase_failure_rates(records: Iterable[ExecutionRecord]) -> dict[int, float]:
    """Failure rate (0.0 to 1.0) per phase number across the executions that ran it."""
    runs: dict[int, int] = defaultdict(int)
    failures: dict[int, int] = defaultdict(int)
    for record in records:
        for phase in record.phases:
            runs[phase.phase_number] += 1
            if phase.status is PhaseStatus.FAILED:
                failures[phase.phase_number] += 1
    return {number: failures[number] / runs[number] for number in sorted(runs)}


def compute_duration_trend(records: Iterable[Any]) -> list[tuple[datetime, float]]:
    """``(started_at, duration_seconds)`` of executions where both are known, oldest first."""
    points = [
        (r.started_at, r.duration_seconds)
        for r in records
        if r.started_at is not None and r.duration_seconds is not None
    ]
    return sorted(points, key=lambda point: point[0])


def failed_phases(records: Iterable[ExecutionRecord]) -> list[tuple[int, str, int]]:
    """``(phase_number, title, failure_count)`` of failed phases, most failures first.

    The title is the one of the most recent failure of that phase number.
    """
    counts: dict[int, int] = defaultdict(int)
    titles: dict[int, str] = {}
    for record in sort_newest_first(records):
        for phase in record.phases:
            if phase.status is PhaseStatus.FAILED:
                counts[phase.phase_number] += 1
                titles.setdefault(phase.phase_number, phase.title)
    return sorted(
        ((number, titles[number], count) for number, count in counts.items()),
        key=lambda item: (-item[2], item[0]),
    )


def get_failed_phases(project_dir: Path) -> list[tuple[int, str, int]]:
    """Phases that have failed: ``(phase_number, title, failure_count)``, most first."""
    return failed_phases(query_executions(project_dir, AnalyticsQuery()))


class GlobalSelection:
    """Executions across projects, each with the project it came from. ``store`` is the
    one store that holds every project, when one is in force (else each registered
    project's own store is opened). (A plain class: a dataclass costs every command
    ~0.5 ms to define; docs/performance.md, "Start-up".)"""

    __slots__ = ("items", "missing", "projects", "store", "unreadable")

    def __init__(
        self,
        items: list[tuple[ProjectEntry, Entry]] | None = None,
        projects: list[ProjectEntry] | None = None,
        missing: list[ProjectEntry] | None = None,
        unreadable: list[ProjectEntry] | None = None,
        store: Store | None = None,
    ) -> None:
        self.items = items if items is not None else []
        self.projects = projects if projects is not None else []
        self.missing = missing if missing is not None else []
        self.unreadable = unreadable if unreadable is not None else []
        self.store = store

    @property
    def entries(self) -> list[Entry]:
        return [entry for _, entry in self.items]

    def load(self) -> list[tuple[ProjectEntry, ExecutionRecord]]:
        if self.store is not None:  # one store: its records in one read, in order
            project_of = {entry.execution_id: project for project, entry in self.items}
            return [(project_of[record.execution_id], record)
                    for record in self.store.read(self.entries)]
        loaded = []
        stores: dict[str, Store] = {}
        try:
            for project, entry in self.items:
                store = stores.get(project.path)
                if store is None:
                    store = stores[project.path] = project_store(Path(project.path))
                for record in store.read([entry]):
                    loaded.append((project, record))
        finally:
            for store in stores.values():
                store.close()
        return loaded


def projects_in(store: Store) -> dict[str | None, ProjectEntry]:
    """The projects of a store that holds several, by path, with their counts."""
    from .project_registry import ProjectEntry

    return {
        p.path: ProjectEntry(p.name or Path(p.path or "").name, p.path or "", None, p.count)
        for p in store.info().projects
    }


def select_global(
    query: AnalyticsQuery,
    *,
    warn: Callable[[str], None] = stderr_warning,
    store: Store | None = None,
) -> GlobalSelection:
    """Select executions of every project: of every project in ``store`` when it holds
    several (one query), else of every registered project's own store; a vanished or
    unreadable project is reported once and skipped."""
    from .project_registry import ProjectEntry, load_projects

    selection = GlobalSelection(store=store)
    if store is not None:
        by_path = projects_in(store)
        selection.projects = list(by_path.values())
        for entry in store.find(query):
            project = by_path.get(entry.project_path)
            if project is None:
                project = by_path[entry.project_path] = ProjectEntry(
                    entry.project_name or "", entry.project_path or "", None, 0
                )
                selection.projects.append(project)
            selection.items.append((project, entry))
        return selection
    pairs: list[tuple[ProjectEntry, Entry]] = []
    for project in load_projects():
        if not project.exists():
            selection.missing.append(project)
            warn(
                f"project '{project.name}' at {project.path} no longer exists; skipped "
                "(run 'phaser analytics projects --prune' to forget it)."
            )
            continue
        try:
            entries = _entries_of(Path(project.path), warn)
        except (AnalyticsError, OSError) as exc:
            # One unreadable project (a damaged store, a config naming none) must not hide
            # every other one.
            selection.unreadable.append(project)
            warn(f"project '{project.name}' at {project.path} cannot be read ({exc}); skipped.")
            continue
        selection.projects.append(project)
        pairs.extend((project, entry) for entry in entries if query.matches(entry))
    ordered = sort_newest_first(_EntryOfProject(p, e) for p, e in pairs)
    if query.limit is not None:
        ordered = ordered[: query.limit]
    selection.items = [(t.project, t.entry) for t in ordered]
    return selection


def _entries_of(project_dir: Path, warn: Callable[[str], None]) -> list[Entry]:
    """A registered project's executions, from the store its own config names (a store
    inside it: :func:`~.stores.base.store_url_from_config`), else its JSON store. A SQLite
    store that is not there holds nothing: reading is no reason to create it."""
    url = resolve_store_url(None, project_dir)
    if url is not None and url_scheme(url) == "sqlite":
        from .stores.sqlite import path_of

        if not path_of(url).is_file():
            return []
    store = open_store(url, project_dir=project_dir, warn=warn)
    try:
        return list(store.find(project=project_key(project_dir, store)))
    finally:
        store.close()


class _EntryOfProject:
    """An entry with its project, sorted by the entry (a plain class: defining a dataclass
    costs every command that imports this module about half a millisecond)."""

    __slots__ = ("entry", "project")

    def __init__(self, project: ProjectEntry, entry: Entry) -> None:
        self.project = project
        self.entry = entry

    @property
    def started_at(self) -> datetime | None:
        return self.entry.started_at

    @property
    def execution_id(self) -> str:
        return self.entry.execution_id


def get_global_executions(
    query: AnalyticsQuery, *, project_dir: Path | None = None
) -> list[tuple[str, ExecutionRecord]]:
    """Executions across all known projects, as ``(project_name, record)``, newest first.

    Read as ``show --global`` reads them: when a store shared between projects is in force
    for ``project_dir`` (the project of the working directory when ``None``) —
    ``PHASER_STORE``, else ``analytics.store`` of the user's config — every project in that
    store, in one query; else every registered project, each from its own store.
    """
    from .project_root import find_project_root

    where = Path(project_dir) if project_dir is not None else find_project_root()
    url = global_store_url(None, where)
    store = open_store(url, project_dir=where) if url is not None else None
    try:
        return [(p.name, record) for p, record in select_global(query, store=store).load()]
    finally:
        if store is not None:
            store.close()
