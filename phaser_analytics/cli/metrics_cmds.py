"""``trends``, ``phases`` and ``failures``: aggregates of the selected executions, shown by
any renderer (``--format``) through the view's ``breakdown``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import stderr_warning
from ..hookspecs import BREAKDOWNS
from ..query import select_global
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
from .render_view import filter_query, make_view

if TYPE_CHECKING:
    from ..aggregates import Selected
    from ..hookspecs import Breakdown
    from ..metrics import ProjectGroup
    from ..models import AnalyticsQuery, ExecutionRecord
    from ..query import GlobalSelection

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
            type=RendererChoice(BREAKDOWNS),
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
    """The executions an aggregate command reads, as a :class:`~phaser_analytics.aggregates.
    Selected` (aggregated in the store's database when it can), with the project(s) they
    are of."""

    selected: Selected
    project: dict[str, Any] | None
    projects: list[dict[str, Any]]
    groups: Callable[[], list[ProjectGroup]]

    def records(self) -> Sequence[ExecutionRecord]:
        """The records for the view, read only if a renderer asks for them (the built-in
        ones draw the breakdown alone)."""
        chosen = self.selected
        if chosen.store is None or chosen.has_records:
            return chosen.records
        from ..view import LazyRecords

        return LazyRecords(chosen.store, chosen.found())


def select_scope(project_dir: Path, query: AnalyticsQuery, global_: bool) -> Scope:
    from ..aggregates import Selected
    from ..metrics import ProjectGroup

    if global_:
        from .main import global_store

        store = global_store(project_dir)
        if store is not None:  # one store holds every project: one query per aggregate
            from ..query import projects_in

            def groups_in_store() -> list[ProjectGroup]:
                found = projects_in(store)
                if None in found:  # executions of no project: grouped from the entries
                    return _groups(select_global(query, warn=stderr_warning, store=store))
                return [
                    ProjectGroup(p.name, p.path, stats=Selected(store, query, p.path).stats())
                    for p in found.values()
                ]

            return Scope(
                selected=Selected(store, query),
                project=None,
                projects=[p.to_dict() for p in projects_in(store).values()],
                groups=groups_in_store,
            )
        chosen = select_global(query, warn=stderr_warning)
        return Scope(
            selected=Selected(
                None, query, entries=chosen.entries, load=lambda: [r for _, r in chosen.load()]
            ),
            project=None,
            projects=[p.to_dict() for p in chosen.projects],
            groups=lambda: _groups(chosen),
        )
    from ..query import project_key
    from .main import open_command_store

    store = open_command_store(project_dir)
    key = project_key(project_dir, store)
    selected = Selected(store, query, key)
    name = store.info().project_name(key) or project_dir.name
    return Scope(
        selected=selected,
        project={"name": name, "path": str(project_dir)},
        projects=[],
        groups=lambda: [ProjectGroup(name, str(project_dir), stats=selected.stats())],
    )


def _groups(chosen: GlobalSelection) -> list[ProjectGroup]:
    from ..metrics import ProjectGroup

    groups = {p.path: ProjectGroup(p.name, p.path) for p in chosen.projects}
    for project, entry in chosen.items:
        groups[project.path].items.append(entry)
    return list(groups.values())


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
    query = filter_query(None, since, until, status, document)
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
    records: Sequence[ExecutionRecord] = (),
) -> None:
    """Render ``breakdown`` with the chosen renderer and print it."""
    from ..dates import zone_label

    app: AppContext = ctx.obj
    selection = Selection(
        records=records,
        stats=scope.selected.stats(),
        project=scope.project,
        projects=scope.projects,
    )
    view = make_view(ctx, command, selection, query, project_dir, time_zone=zone_label(zone))
    view.breakdown = breakdown
    # render(), not render_iter(): the built-in renderers dispatch breakdowns in render.
    write_output([app.host().renderer(output_format).render(view)], None)


def note_undated(count: int) -> None:
    """Say how many executions without a start the periods or hours leave out."""
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
    periods = scope.selected.stats_by_period(by.lower(), zone)
    dated = sum(stats.total_executions for stats in periods.values())
    note_undated(scope.selected.stats().total_executions - dated)
    breakdown = metrics.trends_of(periods, by.lower(), zone)
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
    breakdown = metrics.phases_of(scope.selected.phase_summaries(), zone)
    emit(ctx, "phases", scope, query, project_dir, breakdown, output_format, zone,
         scope.records())  # fmt: skip


#: How many failure reasons ``failures`` shows in a format made to be read unless
#: ``--top`` says otherwise: a long history gives thousands of distinct reasons, and a
#: screen holds a few dozen. The data formats (JSON, CSV, a plugin's) give every reason.
TOP_REASONS = 20
READ_FORMATS = ("table", "markdown")


@click.command()
@aggregate_options()
@click.option(
    "--top",
    type=click.IntRange(min=0),
    metavar="N",
    help=f"Show the N reasons the most executions give; 0 shows every reason. Default: "
    f"{TOP_REASONS} in the table and markdown, every reason in JSON and CSV.",
)
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
    top: int | None,
) -> None:
    from .. import metrics

    project_dir, zone, query, scope = aggregate_scope(
        ctx, project, since, until, status, document, global_
    )
    per_hour = scope.selected.usage(zone)
    note_undated(scope.selected.stats().total_executions - per_hour.dated)
    if top is None:
        top = TOP_REASONS if output_format in READ_FORMATS else 0
    counts = scope.selected.reason_counts(top + 1 if top else None)  # one more: are there?
    if top and len(counts) > top:
        err(f"Showing the {top} reasons the most executions give; --top 0 shows every one.")
        counts = counts[:top]
    breakdown = metrics.failures_of(counts, per_hour, zone)
    emit(ctx, "failures", scope, query, project_dir, breakdown, output_format, zone,
         scope.records())  # fmt: skip


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
    breakdown = metrics.projects(scope.groups(), zone)
    emit(ctx, "projects", scope, query, project_dir, breakdown, output_format or "table", zone)
