"""Queries and aggregation (spec §7, §11.3): filters on the index, then records as needed."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import StorageError
from .models import (
    AggregatedStats,
    AnalyticsQuery,
    ExecutionRecord,
    ExecutionStatus,
    PhaseStatus,
)
from .storage import IndexEntry, Store, sort_newest_first

if TYPE_CHECKING:
    # Imported where --global needs it: show of one project never reads the registry.
    from .registry import ProjectEntry


def _stderr(message: str) -> None:
    print(f"Warning: {message}", file=sys.stderr)


def select_entries(entries: Iterable[IndexEntry], query: AnalyticsQuery) -> list[IndexEntry]:
    """Entries matching ``query``, newest first, at most ``query.limit`` of them.

    For a store's entries, :meth:`Store.select` returns the same, building only the entries
    it reaches.
    """
    matching = sort_newest_first(e for e in entries if query.matches(e))
    return matching[: query.limit] if query.limit is not None else matching


def query_executions(project_dir: Path, query: AnalyticsQuery) -> list[ExecutionRecord]:
    """Execution records matching ``query``, sorted by date descending."""
    store = Store(project_dir)
    return store.load_entries(store.select(query))


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


@dataclass
class GlobalSelection:
    """Executions across projects, each with the project it came from."""

    items: list[tuple[ProjectEntry, IndexEntry]] = field(default_factory=list)
    projects: list[ProjectEntry] = field(default_factory=list)
    missing: list[ProjectEntry] = field(default_factory=list)
    unreadable: list[ProjectEntry] = field(default_factory=list)

    @property
    def entries(self) -> list[IndexEntry]:
        return [entry for _, entry in self.items]

    def load(self) -> list[tuple[ProjectEntry, ExecutionRecord]]:
        loaded = []
        stores: dict[str, Store] = {}
        for project, entry in self.items:
            store = stores.setdefault(project.path, Store(Path(project.path)))
            for record in store.load_entries([entry]):
                loaded.append((project, record))
        return loaded


def select_global(
    query: AnalyticsQuery, *, warn: Callable[[str], None] = _stderr
) -> GlobalSelection:
    """Select executions of every registered project; a vanished or unreadable project is
    reported once and skipped."""
    from .registry import load_projects

    selection = GlobalSelection()
    pairs: list[tuple[ProjectEntry, IndexEntry]] = []
    for project in load_projects():
        if not project.exists():
            selection.missing.append(project)
            warn(
                f"project '{project.name}' at {project.path} no longer exists; skipped "
                "(run 'phaser analytics projects --prune' to forget it)."
            )
            continue
        store = Store(Path(project.path), warn=warn)
        try:
            entries = store.entries()
        except (StorageError, OSError) as exc:
            # One unreadable project must not hide every other one.
            selection.unreadable.append(project)
            warn(f"project '{project.name}' at {project.path} cannot be read ({exc}); skipped.")
            continue
        selection.projects.append(project)
        pairs.extend((project, entry) for entry in entries if query.matches(entry))
    ordered = sort_newest_first(_Tagged(p, e) for p, e in pairs)
    if query.limit is not None:
        ordered = ordered[: query.limit]
    selection.items = [(t.project, t.entry) for t in ordered]
    return selection


class _Tagged:
    """An entry with its project, sorted by the entry (a plain class: defining a dataclass
    costs every command that imports this module about half a millisecond)."""

    __slots__ = ("entry", "project")

    def __init__(self, project: ProjectEntry, entry: IndexEntry) -> None:
        self.project = project
        self.entry = entry

    @property
    def started_at(self) -> datetime | None:
        return self.entry.started_at

    @property
    def execution_id(self) -> str:
        return self.entry.execution_id


def get_global_executions(query: AnalyticsQuery) -> list[tuple[str, ExecutionRecord]]:
    """Executions across all known projects, as ``(project_name, record)``, newest first."""
    return [(project.name, record) for project, record in select_global(query).load()]


def records_only(pairs: Sequence[tuple[Any, ExecutionRecord]]) -> list[ExecutionRecord]:
    return [record for _, record in pairs]
