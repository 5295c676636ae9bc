"""``export`` and ``badge``: their options; the store, the selection and the writing are
:mod:`.viewing`'s, shared with ``show``. Their own module, so that ``show`` does not build
their options (docs/performance.md, "Start-up")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..hookspecs import optional
from ..models import BADGE_METRICS
from ..view import render_chunks, write_output
from .configured import config_defaults
from .main import (
    AppContext,
    RendererChoice,
    date_options,
    document_option,
    global_option,
    project_option,
    resolve_project,
    status_option,
    store_option,
    zone_option,
)
from .render_view import filter_query, make_view
from .viewing import (
    TemplateArg,
    explain_templates_option,
    format_for_output,
    output_option,
    say_where_templates_come_from,
    select,
    select_streaming,
)


@click.command()
@click.option(
    "--format",
    "output_format",
    type=RendererChoice("export"),
    default="json",
    show_default=True,
    help="Output format.",
)
@output_option
@date_options
@status_option
@document_option
@click.option("--phases", is_flag=True, help="CSV: one row per phase instead of per execution.")
@click.option(
    "--by",
    type=click.Choice(["day", "week", "month"], case_sensitive=False),
    default="week",
    show_default=True,
    help="HTML: chart runs, durations, tests, tokens and cost per day, week or month.",
)
@click.option(
    "--template",
    type=TemplateArg(),
    help="Jinja2 template for --format markdown or html: a file, or the name of one on the "
    "search path (.phaser/templates/, $PHASER_HOME/templates/, plugins', the built-ins).",
)
@global_option
@project_option
@zone_option
@store_option
@explain_templates_option
@click.pass_context
@config_defaults("export")
def export(
    ctx: click.Context,
    output_format: str,
    output: Path | None,
    since: Any,
    until: Any,
    status: str,
    document: str | None,
    phases: bool,
    by: str,
    template: Path | None,
    global_: bool,
    project: Path | None,
    zone: Any,
    explain_templates: bool,
) -> None:
    """--format html writes a self-contained dashboard page (charts, tables, offline).
    --format prometheus (or openmetrics) writes Prometheus metrics, e.g. for
    node_exporter's textfile collector.
    """
    project_dir = resolve_project(project)
    app: AppContext = ctx.obj
    output_format = format_for_output(ctx, "export", output, output_format)
    query = filter_query(None, since, until, status, document)
    renderer = app.host().renderer(output_format)
    streams = optional(renderer, "render_iter") is not None
    selection = (select_streaming if streams else select)(project_dir, query, global_)
    view = make_view(
        ctx, "export", selection, query, project_dir,
        phases=phases, template=template, by=by.lower(),
    )  # fmt: skip
    if explain_templates:
        say_where_templates_come_from(output_format, view)
    write_output(render_chunks(renderer, view), output)
    if output is not None:
        click.echo(f"Exported to {output}")


@click.command()
@click.option(
    "--format",
    "output_format",
    type=RendererChoice("badge"),
    default="shields-io",
    show_default=True,
    help="Badge format.",
)
@click.option(
    "--metric",
    type=click.Choice(BADGE_METRICS),
    default="success-rate",
    show_default=True,
    help="What the badge shows.",
)
@click.option("--label", default="audits", show_default=True, help="The badge's label.")
@output_option
@date_options
@document_option
@global_option
@project_option
@zone_option
@store_option
@click.pass_context
@config_defaults("badge")
def badge(
    ctx: click.Context,
    output_format: str,
    metric: str,
    label: str,
    output: Path | None,
    since: Any,
    until: Any,
    document: str | None,
    global_: bool,
    project: Path | None,
    zone: Any,
) -> None:
    project_dir = resolve_project(project)
    app: AppContext = ctx.obj
    output_format = format_for_output(ctx, "badge", output, output_format)
    query = filter_query(None, since, until, None, document)
    selection = select(project_dir, query, global_)
    renderer = app.host().renderer(output_format)
    view = make_view(ctx, "badge", selection, query, project_dir, metric=metric, label=label)
    write_output(render_chunks(renderer, view), output)
    if output is not None:
        click.echo(f"Badge written to {output}")
