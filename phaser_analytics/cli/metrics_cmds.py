"""``trends``, ``phases`` and ``failures``: aggregates of the selected executions, shown by
any renderer (``--format``) through the view's ``breakdown``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import stderr_warning
from ..query import compute_stats, select_global
from ..view import Selection, write_output
from .main import (
    AppContext,
    RendererChoice,
    command_zone,
    date_options,
    document_option,
    err,
    global_option,
    project_option,
    resolve_project,
    status_option,
    store_option,
    zone_option,
)
from .viewing import _query, make_view

if TYPE_CHECKING:
    from ..hookspecs import Breakdown
    from ..metrics import ProjectGroup
    from ..models import AnalyticsQuery, ExecutionRecord

F = TypeVar("F", bound=Callable[..., Any])


def aggregate_options(format_default: str | None = "table") -> Callable[[F], F]:
    """The options every aggregate command shares; ``format_default=None`` lets a command
    tell an explicit ``--format`` from none."""

    def decorate(func: F) -> F:
        func = store_option(func)
        func = project_option(func)
        func = global_option(func)
        func = zone_option(func)
        func = click.option(
            "--format",
            "output_format",
            type=RendererChoice("breakdowns"),
            default=format_default,
            show_default=format_default is not None,
            help="Output format.",
        )(func)
        func = document_option(func)
        func = status_option(func)
        return date_options(func)

    return decorate


@dataclass
class Scope:
    """The executions an aggregate command reads: index entries always, full records only
    when the command needs phases or failure reasons."""

    entries: list[Any]
    groups: list[ProjectGroup]
    project: dict[str, Any] | None
    projects: list[dict[str, Any]]
    load: Callable[[], list[ExecutionRecord]]


def select_scope(project_dir: Path, query: AnalyticsQuery, global_: bool) -> Scope:
    from ..metrics import ProjectGroup

    if global_:
        from .main import global_store

        chosen = select_global(query, warn=stderr_warning, store=global_store(project_dir))
        groups = {p.path: ProjectGroup(p.name, p.path) for p in chosen.projects}
        for project, entry in chosen.items:
            groups[project.path].items.append(entry)
        return Scope(
            entries=chosen.entries,
            groups=list(groups.values()),
            project=None,
            projects=[p.to_dict() for p in chosen.projects],
            load=lambda: [record for _, record in chosen.load()],
        )
    from ..query import project_key
    from .main import open_command_store

    store = open_command_store(project_dir)
    key = project_key(project_dir, store)
    entries = list(store.find(query, project=key))
    name = store.info().project_name(key) or project_dir.name
    return Scope(
        entries=entries,
        groups=[ProjectGroup(name, str(project_dir), list(entries))],
        project={"name": name, "path": str(project_dir)},
        projects=[],
        load=lambda: list(store.read(entries)),
    )


def aggregate_scope(
    ctx: click.Context,
    project: Path | None,
    since: Any,
    until: Any,
    status: str,
    document: str | None,
    global_: bool,
) -> tuple[Path, tzinfo | None, AnalyticsQuery, Scope]:
    """What every aggregate command starts from: the project, the zone, the query of its
    filters and the executions they select."""
    project_dir = resolve_project(project)
    query = _query(None, since, until, status, document)
    return project_dir, command_zone(ctx), query, select_scope(project_dir, query, global_)


def emit(
    ctx: click.Context,
    command: str,
    scope: Scope,
    query: AnalyticsQuery,
    project_dir: Path,
    breakdown: Breakdown,
    output_format: str,
    zone: tzinfo | None,
    records: list[ExecutionRecord] | None = None,
) -> None:
    """Render ``breakdown`` with the chosen renderer and print it."""
    from ..dates import zone_label

    app: AppContext = ctx.obj
    selection = Selection(
        records=records or [],
        stats=compute_stats(scope.entries),
        project=scope.project,
        projects=scope.projects,
    )
    view = make_view(ctx, command, selection, query, project_dir, time_zone=zone_label(zone))
    view.breakdown = breakdown
    # render(), not render_iter(): the built-in renderers dispatch breakdowns in render.
    write_output([app.host().renderer(output_format).render(view)], None)


def note_undated(entries: list[Any]) -> None:
    from ..metrics import undated

    count = undated(entries)
    if count:
        err(
            f"Warning: {count} execution(s) without a start time have no day or hour; "
            "they are left out of the periods and hours."
        )


@click.command()
@click.option(
    "--by",
    type=click.Choice(["day", "week", "month"], case_sensitive=False),
    default="day",
    show_default=True,
    help="One row per day, ISO week (Monday to Sunday) or month.",
)
@aggregate_options()
@click.pass_context
def trends(
    ctx: click.Context,
    by: str,
    since: Any,
    until: Any,
    status: str,
    document: str | None,
    output_format: str,
    zone: tzinfo | None,
    global_: bool,
    project: Path | None,
) -> None:
    from .. import metrics

    project_dir, zone, query, scope = aggregate_scope(
        ctx, project, since, until, status, document, global_
    )
    note_undated(scope.entries)
    breakdown = metrics.trends(scope.entries, by.lower(), zone)
    emit(ctx, "trends", scope, query, project_dir, breakdown, output_format, zone)


@click.command()
@aggregate_options()
@click.pass_context
def phases(
    ctx: click.Context,
    since: Any,
    until: Any,
    status: str,
    document: str | None,
    output_format: str,
    zone: tzinfo | None,
    global_: bool,
    project: Path | None,
) -> None:
    from .. import metrics

    project_dir, zone, query, scope = aggregate_scope(
        ctx, project, since, until, status, document, global_
    )
    records = scope.load()
    breakdown = metrics.phases(records, zone)
    emit(ctx, "phases", scope, query, project_dir, breakdown, output_format, zone, records)


@click.command()
@aggregate_options()
@click.pass_context
def failures(
    ctx: click.Context,
    since: Any,
    until: Any,
    status: str,
    document: str | None,
    output_format: str,
    zone: tzinfo | None,
    global_: bool,
    project: Path | None,
) -> None:
    from .. import metrics

    project_dir, zone, query, scope = aggregate_scope(
        ctx, project, since, until, status, document, global_
    )
    note_undated(scope.entries)
    records = scope.load()
    breakdown = metrics.failures(records, zone)
    emit(ctx, "failures", scope, query, project_dir, breakdown, output_format, zone, records)


def wants_statistics(params: dict[str, Any]) -> bool:
    """Whether ``projects`` was asked for statistics: a filter, a zone, a project,
    ``--global``, or a format the registry listing has not (it is a table or JSON)."""
    asked = ("since", "until", "zone", "project", "document")
    return (
        any(params.get(name) is not None for name in asked)
        or params.get("status", "all") != "all"
        or bool(params.get("global_"))
        or params.get("output_format") not in (None, "table", "json")
    )


def project_statistics(
    ctx: click.Context,
    since: Any,
    until: Any,
    status: str,
    document: str | None,
    output_format: str | None,
    zone: tzinfo | None,
    global_: bool,
    project: Path | None,
) -> None:
    """The ``projects`` statistics: executions, success rate, average duration, tokens,
    cost and last run per project; every registered project unless ``--project`` names
    one."""
    from .. import metrics

    project_dir, zone, query, scope = aggregate_scope(
        ctx, project, since, until, status, document, global_ or project is None
    )
    breakdown = metrics.projects(scope.groups, zone)
    emit(ctx, "projects", scope, query, project_dir, breakdown, output_format or "table", zone)
