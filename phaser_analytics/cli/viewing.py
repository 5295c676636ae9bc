"""``show``: its options, store and renderer, and what ``export`` and ``badge``
(:mod:`.exporting`) share with it; the reading itself (select → view → write) is
:mod:`phaser_analytics.view`'s."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from ..errors import stderr_warning
from ..hookspecs import RenderView
from ..models import AggregatedStats, AnalyticsQuery
from ..query import compute_stats, project_key, select_global
from ..view import (
    Selection,
    render_chunks,
    select_all_projects,
    select_project,
    select_project_streaming,
    write_output,
)
from .configured import config_defaults
from .main import (
    EXIT_FAILED,
    AppContext,
    RendererChoice,
    date_options,
    document_option,
    err,
    global_option,
    global_store,
    open_command_store,
    project_option,
    resolve_project,
    status_option,
    store_option,
    zone_option,
)
from .render_view import filter_query, history, make_view, use_color


def select(project_dir: Path, query: AnalyticsQuery, global_: bool) -> Selection:
    """The selection of ``query`` (:mod:`phaser_analytics.view`) from the command's store:
    the project's, or with ``global_`` every registered project's."""
    if global_:
        return select_all_projects(global_store(project_dir), query)
    store = open_command_store(project_dir)
    return select_project(store, project_key(project_dir, store), query, project_dir)


def select_streaming(project_dir: Path, query: AnalyticsQuery, global_: bool) -> Selection:
    """:func:`select` for a renderer that streams (``--global`` selections are
    :func:`select`'s)."""
    if global_:
        return select(project_dir, query, global_)
    store = open_command_store(project_dir)
    return select_project_streaming(store, project_key(project_dir, store), query, project_dir)


def anomaly_reasons(
    records: Sequence[Any],
    origins: Sequence[dict[str, Any]] | None,
    project_dir: Path,
    known: Sequence[Any] | None = None,
    opened: tuple[Any, str | None] | None = None,
) -> dict[str, list[str]]:
    """``show``'s anomalies: each shown execution judged against its own project's history
    (with ``--global``, the project each came from). ``known`` is the project's history
    when the caller has read it already; otherwise only the part the rule needs is read
    (:func:`history_before`), so ``show`` stays as quick on a long history as on a short
    one. ``opened`` is ``(store, project key)`` of a store the command has open; with
    ``origins``, a store that holds every project (``--global`` on a database), whose
    projects' histories are read from it rather than from a store opened for each."""
    from ..anomalies import find_anomalies, reasons

    if not records:
        return {}
    if known is not None and origins is None:
        return reasons(find_anomalies(records, known))
    groups: dict[str, list[Any]] = {}
    for index, record in enumerate(records):
        where = origins[index]["path"] if origins is not None else str(project_dir)
        groups.setdefault(where, []).append(record)
    found: dict[str, list[str]] = {}
    for where, members in groups.items():
        if origins is None:
            window = history_before(Path(where), members, opened)
        elif opened is not None:  # every project in the one store, keyed by its path
            window = history_before(Path(where), members, (opened[0], where))
        else:
            window = history_before(Path(where), members)
        found.update(reasons(find_anomalies(members, window)))
    return found


def history_before(
    project_dir: Path, records: Sequence[Any], opened: tuple[Any, str | None] | None = None
) -> list[Any]:
    """The project's executions that the anomaly rule needs to judge ``records``: for each,
    the :data:`~phaser_analytics.anomalies.HISTORY_LIMIT` most recent that started
    before it, read newest first from the index and no further."""
    from ..anomalies import HISTORY_LIMIT
    from ..query import project_key

    if opened is not None:
        store, key = opened
    else:
        store = open_command_store(project_dir)
        key = project_key(project_dir, store)
    # A store that can read only what the rule judges (the SQLite store, from an index)
    # does; any other gives its entries.
    find = getattr(store, "history", None) or store.find
    dated = sorted(
        (r for r in records if r.started_at is not None), key=lambda r: r.started_at,
        reverse=True,
    )  # fmt: skip
    if len(dated) < len(records):  # an undated one is judged against the newest
        return list(find(AnalyticsQuery(limit=HISTORY_LIMIT + len(records)), project=key))
    pool: dict[str, Any] = {}
    for record in dated:
        before = sum(
            1 for e in pool.values()
            if e.started_at is not None and e.started_at < record.started_at
        )  # fmt: skip
        if before >= HISTORY_LIMIT:
            continue
        window = find(
            AnalyticsQuery(until=record.started_at, limit=HISTORY_LIMIT + len(dated) + 1),
            project=key,
        )
        pool.update((e.execution_id, e) for e in window)
    return list(pool.values())


#: Formats whose output comes from a Jinja2 template, the ones --explain-templates explains,
#: with the name of each one's template when no --template is given.
TEMPLATE_FORMATS = {"markdown": "report.md.j2", "html": "dashboard.html.j2"}


def explain_templates_option(func: Any) -> Any:
    return click.option(
        "--explain-templates",
        is_flag=True,
        help="--format markdown or html: print on stderr which template is used and every "
        "directory searched for it; the output is unchanged.",
    )(func)


def say_where_templates_come_from(output_format: str, view: RenderView) -> None:
    """Say on stderr where the template for ``view`` comes from, from the very options the
    markdown renderer reads (``--template``, the project, plugins' directories, config)."""
    if output_format not in TEMPLATE_FORMATS:
        err(f"--explain-templates: --format {output_format} uses no template.")
        return
    from .. import templating

    err(
        templating.explain(
            view.option("project_dir"),
            view.option("template"),
            view.option("template_dirs") or (),
            TEMPLATE_FORMATS[output_format],
        )
    )


def parse_rate(value: str) -> float:
    """``80%``, ``80`` and ``0.8`` all mean 80 %.

    The rule: a value with ``%``, or a whole number (``80``, ``1``), is a percentage; a
    number with a decimal point is a ratio when it is at most 1 (``0.8``, ``1.0``), a
    percentage above (``99.5``). So ``1`` is 1 % and ``1.0`` is 100 %.
    """
    stripped = value.strip()
    text = stripped.rstrip("%").strip()
    try:
        number = float(text)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not a rate; use 80% or 0.8.") from None
    ratio = not stripped.endswith("%") and "." in text and number <= 1
    if not ratio:
        number /= 100
    if not 0 <= number <= 1:
        raise click.BadParameter(f"'{value}' is outside 0–100%.")
    return number


class TemplateArg(click.ParamType):
    """``--template``: a template file, or a bare name (``weekly-digest.md.j2``) that is
    not a file here, looked up on the template search path when rendering."""

    name = "template"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from ..templating import TemplateName, is_template_name

        if not isinstance(value, (str, Path)) or isinstance(value, TemplateName):
            return value  # a config's name stays a name, whatever the working directory holds

        if is_template_name(value):
            return str(value)
        path = Path(value).expanduser()
        if not path.exists():
            self.fail(f"File '{value}' does not exist.", param, ctx)
        if not path.is_file():
            self.fail(f"'{value}' is not a file.", param, ctx)
        return path


class RateType(click.ParamType):
    name = "rate"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, float):
            return value
        try:
            return parse_rate(str(value))
        except click.BadParameter as exc:
            self.fail(exc.message, param, ctx)


output_option = click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of stdout (without --format, the file's suffix picks "
    "the format: .csv, .md, .json, .svg, .html, .prom): a regular file atomically, keeping an "
    "existing file's mode (a new one gets the umask's), through a symlink to its target, "
    "directly to a device or pipe such as /dev/stdout.",
)


def format_for_output(ctx: click.Context, command: str, output: Path | None, chosen: str) -> str:
    """``chosen``, or, when ``--format`` was not given on the command line, the format whose
    renderer writes ``output``'s suffix (``-o out.csv`` is CSV, ``-o badge.svg`` an SVG).
    Of several renderers with one suffix, the default (or configured) format wins."""
    if output is None or _given(ctx, "output_format"):
        return chosen
    suffix = output.suffix.lower()
    if not suffix:
        return chosen
    app: AppContext = ctx.obj
    host = app.host()
    matching = [
        name
        for name in host.renderer_names(command)
        if str(getattr(host.renderer(name), "suffix", "")).lower() == suffix
    ]
    if chosen in matching:
        return chosen  # the default (or configured) format writes this suffix anyway
    return matching[0] if matching else chosen


#: ``show``'s default ``--last`` (the config's ``show.last`` may change it); with a date
#: filter no default limit applies.
DEFAULT_LAST = 5


@click.command()
@click.argument("execution_id", required=False)
@click.option(
    "--last",
    "limit",
    type=click.IntRange(min=1),
    default=DEFAULT_LAST,
    help=f"Show the last N executions [default: {DEFAULT_LAST}; every match when --since or "
    "--until is given]. The CI gates judge every match either way.",
)
@date_options
@status_option
@document_option
@click.option(
    "--format",
    "output_format",
    type=RendererChoice("show"),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option("--verbose", "-v", is_flag=True, help="Show per-phase details.")
@global_option
@project_option
@zone_option
@store_option
@click.option(
    "--template",
    type=TemplateArg(),
    help="Jinja2 template for --format markdown: a file, or the name of one on the search "
    "path (.phaser/templates/, $PHASER_HOME/templates/, plugins', the built-ins).",
)
@click.option("--no-color", is_flag=True, help="Never colour the output (NO_COLOR works too).")
@click.option(
    "--ci-exit-code",
    is_flag=True,
    help="Exit 1 when the selection holds a failed or partial execution.",
)
@click.option(
    "--ci-minimal",
    is_flag=True,
    help="Print compact JSON of the stats and counts only (implies --format json).",
)
@click.option(
    "--fail-under",
    type=RateType(),
    metavar="RATE",
    help="Exit 1 when the success rate of every matching execution is below RATE: 80% or "
    "80 (a whole number is a percentage), or 0.8 (a ratio has a decimal point).",
)
@click.option(
    "--fail-on-anomaly",
    is_flag=True,
    help="Exit 1 when an execution shown is an anomaly (see `phaser analytics anomalies`).",
)
@explain_templates_option
@click.pass_context
@config_defaults("show")
def show(
    ctx: click.Context,
    execution_id: str | None,
    limit: int,
    since: Any,
    until: Any,
    status: str,
    document: str | None,
    output_format: str,
    verbose: bool,
    global_: bool,
    project: Path | None,
    zone: Any,
    template: Path | None,
    no_color: bool,
    ci_exit_code: bool,
    ci_minimal: bool,
    fail_under: float | None,
    fail_on_anomaly: bool,
    explain_templates: bool,
) -> None:
    """With EXECUTION_ID (or a unique prefix of one), show that execution in full. An
    execution far outside its history is marked "!" and its reasons listed (JSON and CSV
    carry them as "anomalies").
    """
    project_dir = resolve_project(project)
    app: AppContext = ctx.obj
    if ci_minimal:
        output_format = "json"
    if (since is not None or until is not None) and not _given(ctx, "limit"):
        limit = None  # a date filter shows every match (spec §2.1's example)
    query = filter_query(limit, since, until, status, document)
    gated = ci_exit_code or ci_minimal or fail_under is not None
    if execution_id is not None:
        record = open_command_store(project_dir).get(execution_id)
        selection = Selection(
            records=[record],
            stats=compute_stats([record]),
            project={"name": record.project_name, "path": str(project_dir)},
        )
        verbose = True
    else:
        selection = select(project_dir, query, global_)
    judged = selection.stats
    if gated and execution_id is None and query.limit is not None:
        # The gates judge every execution the filters match, not the last N shown.
        judged = judged_stats(project_dir, replace(query, limit=None), global_)
        if ci_minimal:
            selection.stats = judged
    renderer = app.host().renderer(output_format)
    flagged = anomaly_reasons(
        selection.records,
        selection.origins,
        project_dir,
        opened=(selection.store, selection.key) if selection.store is not None else None,
    )
    view = make_view(
        ctx,
        "show",
        selection,
        query,
        project_dir,
        verbose=verbose,
        color=use_color(no_color),
        template=template,
        ci_minimal=ci_minimal,
        anomalies=flagged,
    )
    if explain_templates:
        say_where_templates_come_from(output_format, view)
    write_output(render_chunks(renderer, view), None)
    _gate(judged, ci_exit_code, fail_under)
    if fail_on_anomaly:
        _anomaly_gate(project_dir, query, global_, selection, flagged, execution_id is None)


def _anomaly_gate(
    project_dir: Path,
    query: AnalyticsQuery,
    global_: bool,
    selection: Selection,
    flagged: dict[str, list[str]],
    filtered: bool,
) -> None:
    """``--fail-on-anomaly``: like the other gates, it judges every execution the filters
    match (not only the last N shown), from the index; ``--global`` judges those shown."""
    judged = len(selection.records)
    if filtered and not global_ and query.limit is not None:
        store = open_command_store(project_dir)
        unlimited = replace(query, limit=None)
        every = list(store.find(unlimited, project=project_key(project_dir, store)))
        judged = len(every)
        flagged = anomaly_reasons(every, None, project_dir, history(project_dir))
    if flagged:
        count = sum(len(reasons) for reasons in flagged.values())
        err(
            f"CI gate: {len(flagged)} of the {judged} execution(s) judged are anomalies "
            f"({count} figure(s))."
        )
        sys.exit(EXIT_FAILED)


def _given(ctx: click.Context, name: str) -> bool:
    """Whether the user gave parameter ``name`` on the command line (or in the environment),
    not a built-in or configured default."""
    from click.core import ParameterSource

    return ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)


def judged_stats(project_dir: Path, query: AnalyticsQuery, global_: bool) -> AggregatedStats:
    """The stats of every execution ``query`` matches, from the index alone (no record is
    read): what the CI gates judge."""
    store = global_store(project_dir) if global_ else open_command_store(project_dir)
    if store is None:  # --global over the registered projects' own stores
        return compute_stats(select_global(query, warn=stderr_warning).entries)
    try:
        from ..aggregates import Selected

        project = None if global_ else project_key(project_dir, store)
        return Selected(store, query, project).stats()
    finally:
        store.close()


def _judged(stats: AggregatedStats) -> str:
    count = stats.total_executions
    return f"{count} execution{'' if count == 1 else 's'} judged"


def _gate(stats: AggregatedStats, ci_exit_code: bool, fail_under: float | None) -> None:
    """Exit 1 when a gate fails; either way say on stderr what was judged."""
    if ci_exit_code:
        if stats.failed or stats.partial:
            err(
                f"CI gate: {stats.failed} failed and {stats.partial} partial execution(s) "
                f"({_judged(stats)})."
            )
            sys.exit(EXIT_FAILED)
        err(f"CI gate: no failed or partial execution ({_judged(stats)}).")
    if fail_under is not None:
        if stats.total_executions == 0:
            err("CI gate: no executions match, so there is no success rate to check.")
            sys.exit(EXIT_FAILED)
        if stats.success_rate < fail_under:
            err(
                f"CI gate: success rate {stats.success_rate:.0%} is below {fail_under:.0%} "
                f"({_judged(stats)})."
            )
            sys.exit(EXIT_FAILED)
        err(
            f"CI gate: success rate {stats.success_rate:.0%} is at least {fail_under:.0%} "
            f"({_judged(stats)})."
        )
