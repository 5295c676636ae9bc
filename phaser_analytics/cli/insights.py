"""``compare``, ``anomalies`` and ``estimate``: what the history says about one execution
or one audit, shown by any renderer through the view's breakdown (docs/insights.md)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ..errors import AnalyticsError
from ..hookspecs import BREAKDOWNS
from ..models import AnalyticsQuery
from ..view import Selection, write_output
from .main import (
    EXIT_FAILED,
    AppContext,
    RendererChoice,
    date_options,
    err,
    global_option,
    project_option,
    resolve_project,
    status_option,
    store_option,
)
from .render_view import filter_query, history, make_view


def _store(project_dir: Path) -> Any:
    from .main import open_command_store

    return open_command_store(project_dir)


def format_option(func: Any) -> Any:
    return click.option(
        "--format",
        "output_format",
        type=RendererChoice(BREAKDOWNS),
        default="table",
        show_default=True,
        help="Output format.",
    )(func)


def _everything(project_dir: Path) -> Any:
    """``--global``: every execution of every project, each with its project (the one
    store's projects when it holds several, else every registered project's store)."""
    from ..errors import stderr_warning
    from ..query import select_global
    from .main import global_store

    return select_global(AnalyticsQuery(), warn=stderr_warning, store=global_store(project_dir))


def _emit(
    ctx: click.Context,
    command: str,
    project_dir: Path,
    breakdown: Any,
    output_format: str,
    records: Sequence[Any],
    query: AnalyticsQuery | None = None,
    everything: Any = None,
) -> None:
    """Render ``breakdown``; ``everything`` is the ``--global`` selection, if any."""
    from ..query import compute_stats

    app: AppContext = ctx.obj
    query = query or AnalyticsQuery()
    selection = Selection(
        records=list(records),
        stats=compute_stats(records),
        project=None
        if everything is not None
        else {"name": _project_name(project_dir, records), "path": str(project_dir)},
        projects=[p.to_dict() for p in everything.projects] if everything is not None else [],
    )
    view = make_view(ctx, command, selection, query, project_dir)
    view.breakdown = breakdown
    write_output([app.host().renderer(output_format).render(view)], None)


def _project_name(project_dir: Path, records: Sequence[Any]) -> str:
    return next((r.project_name for r in records if r.project_name), project_dir.name)


# -- compare --------------------------------------------------------------------------------


@click.command()
@click.argument("first", required=False)
@click.argument("second", required=False)
@click.option(
    "--last",
    is_flag=True,
    help="Compare the newest two runs of one audit document (the newest run's, or --document's).",
)
@click.option("--document", help="With --last: the audit document whose name contains TEXT.")
@format_option
@project_option
@global_option
@store_option
@click.pass_context
def compare(
    ctx: click.Context,
    first: str | None,
    second: str | None,
    last: bool,
    document: str | None,
    output_format: str,
    project: Path | None,
    global_: bool,
) -> None:
    """FIRST and SECOND are execution ids or unique prefixes (A and B); --last compares the
    newest two runs of the same audit document, the older as A. With --global, ids are
    looked up in every project, and --last takes the newest run's project and document.
    """
    from ..comparison import compare as side_by_side

    project_dir = resolve_project(project)
    if last and (first or second):
        raise click.UsageError("Give two execution ids or --last, not both.")
    if not last and not (first and second):
        raise click.UsageError("Give two execution ids (or unique prefixes), or --last.")
    if not last and document:
        raise click.UsageError("--document goes with --last.")
    everything = _everything(project_dir) if global_ else None
    if everything is not None:
        a, b = _global_pair(everything, first, second, document, last)
    elif last:
        a, b = _last_two(_store(project_dir), document)
    else:
        store = _store(project_dir)
        a, b = store.get(first), store.get(second)
    _emit(ctx, "compare", project_dir, side_by_side(a, b), output_format, [b, a],
          everything=everything)  # fmt: skip


class CompareError(AnalyticsError):
    exit_code = 1


def _last_two(store: Any, document: str | None) -> tuple[Any, Any]:
    entries = list(store.find(AnalyticsQuery(document=document) if document else None))
    if not entries:
        where = f" of a document matching '{document}'" if document else ""
        raise CompareError(f"No executions{where} to compare.")
    name = entries[0].audit_document
    runs = [e for e in entries if e.audit_document == name]
    if len(runs) < 2:
        raise CompareError(
            f"Only one run of {name or 'the newest execution'}; compare --last needs two."
        )
    newer, older = store.read(runs[:2])
    return older, newer


def _global_pair(
    everything: Any, first: str | None, second: str | None, document: str | None, last: bool
) -> tuple[Any, Any]:
    """``compare --global``: the two executions, found among every project's."""
    from ..query import GlobalSelection
    from ..stores.base import resolve_id

    items = everything.items
    if last:
        if document:
            items = [(p, e) for p, e in items if document.lower() in e.audit_document.lower()]
        if not items:
            where = f" of a document matching '{document}'" if document else ""
            raise CompareError(f"No executions{where} to compare.")
        project, newest = items[0]
        name = newest.audit_document
        runs = [(p, e) for p, e in items if p.path == project.path and e.audit_document == name]
        if len(runs) < 2:
            raise CompareError(
                f"Only one run of {name or 'the newest execution'} in {project.name}; "
                "compare --last needs two."
            )
        chosen = runs[1::-1]
    else:
        by_id = {e.execution_id: (p, e) for p, e in items}
        entries = [e for _, e in items]
        chosen = [by_id[resolve_id(given, entries).execution_id] for given in (first, second)]
    chosen_only = GlobalSelection(chosen, everything.projects, store=everything.store)
    a, b = (record for _, record in chosen_only.load())
    return a, b


# -- anomalies ------------------------------------------------------------------------------


@click.command()
@date_options
@status_option
@click.option("--document", help="Only executions whose audit document name contains TEXT.")
@format_option
@project_option
@global_option
@store_option
@click.option(
    "--fail-on-anomaly", is_flag=True, help="Exit 1 when an execution listed is an anomaly."
)
@click.pass_context
def anomalies(
    ctx: click.Context,
    since: Any,
    until: Any,
    status: str,
    document: str | None,
    output_format: str,
    project: Path | None,
    global_: bool,
    fail_on_anomaly: bool,
) -> None:
    """Executions far outside their own project's usual range; with --global, those of
    every project, each judged against the history of the project it belongs to."""
    from ..anomalies import find_anomalies
    from ..hookspecs import Breakdown, Column

    project_dir = resolve_project(project)
    query = filter_query(None, since, until, status, document)
    from ..query import select_entries
    from ..stores.base import sort_newest_first

    everything = _everything(project_dir) if global_ else None
    if everything is not None:
        histories: dict[str, list[Any]] = {}
        names: dict[str, str] = {}
        for project_entry, entry in everything.items:
            histories.setdefault(project_entry.path, []).append(entry)
            names[entry.execution_id] = project_entry.name
    else:
        histories = {str(project_dir): history(project_dir)}
        names = {}
    chosen: list[Any] = []
    found: dict[str, Any] = {}
    for every in histories.values():
        picked = select_entries(every, query)
        chosen.extend(picked)
        found.update(find_anomalies(picked, every))
    chosen = sort_newest_first(chosen)
    rows = []
    for entry in chosen:
        for anomaly in found.get(entry.execution_id, ()):
            usual = anomaly.shown(anomaly.low) + " to " + anomaly.shown(anomaly.high)
            rows.append(
                {
                    "id": entry.execution_id.replace("-", "")[:8],
                    **({"project": names.get(entry.execution_id, "")} if global_ else {}),
                    "document": entry.audit_document,
                    "figure_label": anomaly.figure.label,
                    "value_text": anomaly.shown(anomaly.value),
                    "usual": usual,
                    "history_text": anomaly.history_text(),
                    "execution_id": entry.execution_id,
                    "started_at": entry.started_at,
                    **anomaly.to_dict(),
                }
            )
    flagged = len({r["execution_id"] for r in rows})
    breakdown = Breakdown(
        name="anomalies",
        title=f"Anomalies: {flagged} of {len(chosen)} execution(s)",
        columns=[
            Column("id", "Id"),
            *([Column("project", "Project")] if global_ else []),
            Column("document", "Document"),
            Column("figure_label", "Figure"),
            Column("value_text", "Value"),
            Column("usual", "Usual range"),
            Column("history_text", "History"),
        ],
        rows=rows,
        empty=(
            f"No anomalies among these {len(chosen)} execution(s)."
            if chosen
            else None
        ),
    )
    _emit(ctx, "anomalies", project_dir, breakdown, output_format, chosen, query, everything)
    if fail_on_anomaly and rows:
        err(f"CI gate: {len(rows)} anomal{'y' if len(rows) == 1 else 'ies'} in the selection.")
        raise SystemExit(EXIT_FAILED)


# -- estimate -------------------------------------------------------------------------------


@click.command()
@click.argument("target")
@format_option
@project_option
@global_option
@store_option
@click.pass_context
def estimate(
    ctx: click.Context, target: str, output_format: str, project: Path | None, global_: bool
) -> None:
    """TARGET is an audit document's name (as reports name it), or the path of an audit
    document or report, whose phase count is read. The estimate rests on that document's
    runs, else on runs of documents with a similar number of phases, and says how many;
    with --global, on the runs of every project (a team's whole history).
    """
    from .. import estimates

    project_dir = resolve_project(project)
    everything = _everything(project_dir) if global_ else None
    every = everything.entries if everything is not None else history(project_dir)
    path = Path(target)
    if path.is_file():
        chosen = estimates.target_from_path(path)
    else:
        chosen = estimates.target_from_name(target, every)
    found, basis, runs = estimates.estimate(chosen, every)
    breakdown = estimates.breakdown(chosen, found, basis)
    _emit(ctx, "estimate", project_dir, breakdown, output_format, runs, everything=everything)
