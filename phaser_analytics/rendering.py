"""The spec's ``format_*`` functions (§11.4), each a thin call into a renderer plugin, so
the CLI and the Python API share one code path per format."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .hookspecs import RenderView
from .models import AggregatedStats, AnalyticsQuery, ExecutionRecord, utcnow
from .plugins import get_host


def render(
    format_name: str,
    records: Sequence[ExecutionRecord],
    stats: AggregatedStats | None = None,
    *,
    query: AnalyticsQuery | None = None,
    project: dict[str, Any] | None = None,
    command: str = "show",
    **options: Any,
) -> str:
    """Render ``records`` with the registered renderer ``format_name``."""
    view = RenderView(
        records=list(records),
        stats=stats if stats is not None else AggregatedStats.compute(records),
        query=query or AnalyticsQuery(),
        project=project,
        generated_at=utcnow(),
        command=command,
        options={"color": False, **options},
    )
    return get_host().renderer(format_name).render(view)


def _project_of(records: Sequence[ExecutionRecord], project_name: str | None) -> dict[str, Any]:
    path = next((r.project_path for r in records if r.project_path), None)
    return {"name": project_name, "path": path}


def format_table(
    records: list[ExecutionRecord],
    stats: AggregatedStats,
    verbose: bool = False,
    project_name: str = "",
) -> str:
    """Format execution data as a box-drawn table (spec §8.1, §8.2 with ``verbose``)."""
    name = project_name or (records[0].project_name if records else None)
    return render("table", records, stats, project=_project_of(records, name), verbose=verbose)


def format_json(
    records: list[ExecutionRecord],
    stats: AggregatedStats,
    query: AnalyticsQuery | None = None,
    project_name: str = "",
) -> str:
    """Format execution data as JSON (spec §8.3)."""
    name = project_name or (records[0].project_name if records else None)
    return render("json", records, stats, query=query, project=_project_of(records, name))


def format_markdown(
    records: list[ExecutionRecord], stats: AggregatedStats, project_name: str = ""
) -> str:
    """Format execution data as a markdown report (spec §8.4)."""
    name = project_name or (records[0].project_name if records else None)
    return render("markdown", records, stats, project=_project_of(records, name))


def format_csv(records: list[ExecutionRecord]) -> str:
    """Format execution data as CSV with a header row (spec §8.5)."""
    name = records[0].project_name if records else None
    return render("csv", records, project=_project_of(records, name), command="export")
