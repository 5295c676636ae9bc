"""The ``markdown`` renderer (spec §8.4), written by a Jinja2 template a team can replace.

The template is found on :func:`phaser_analytics.templating.template_search_path` from the
view's options ``project_dir``, ``template`` (the ``--template`` file) and
``template_dirs`` (the plugins' directories).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from phaser_analytics.default_plugins import breakdowns
from phaser_analytics.formatting import clean_text
from phaser_analytics.hookspecs import hookimpl
from phaser_analytics.models import datetime_to_json, utcnow

if TYPE_CHECKING:
    from phaser_analytics.hookspecs import Breakdown, Column, RenderView
    from phaser_analytics.models import ExecutionRecord

_SCALARS = (str, int, float, bool, type(None))


def _execution(record: ExecutionRecord, anomalies: dict[str, list[str]] | None) -> dict[str, Any]:
    """The record's dict, each phase with its computed ``test_delta`` (``None`` if unknown),
    and for ``show`` the reasons it is an anomaly (``anomalies``, docs/insights.md)."""
    data = record.to_dict()
    for phase, phase_data in zip(record.phases, data["phases"], strict=True):
        phase_data["test_delta"] = phase.test_delta
    if anomalies is not None:
        data["anomalies"] = list(anomalies.get(record.execution_id, ()))
    return data


def template_context(view: RenderView) -> dict[str, Any]:
    """What a template sees: plain data (the JSON export's dicts), no live objects.

    Keys: generated_at, project, projects, is_global, query, stats, executions, verbose,
    command, options. Datetimes are ISO strings; the ``date`` filters read them. For
    ``show``, each execution also has ``anomalies`` (reasons; empty when it is not one).
    """
    return {
        "generated_at": datetime_to_json(view.generated_at or utcnow()),
        "project": dict(view.project) if view.project is not None else None,
        "projects": [dict(project) for project in view.projects],
        "is_global": view.project is None,
        "query": view.query.to_dict(),
        "stats": view.stats.to_dict(),
        "executions": [_execution(record, view.option("anomalies")) for record in view.records],
        "verbose": bool(view.option("verbose")),
        "command": view.command,
        # Paths and other objects stay out: a template gets values, not methods.
        "options": {k: v for k, v in view.options.items() if isinstance(v, _SCALARS)},
    }


# -- breakdowns (trends, projects, phases, failures) ---------------------------------


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _md_table(breakdown: Breakdown) -> str:
    columns: Sequence[Column] = breakdown.columns
    lines = [f"## {_md_cell(breakdown.title)}", ""]
    if not breakdown.rows:
        return "\n".join([*lines, breakdowns.NO_ROWS])
    lines.append("| " + " | ".join(_md_cell(c.title) or " " for c in columns) + " |")
    lines.append(
        "|" + "|".join("---:" if c.kind in breakdowns.NUMERIC else "---" for c in columns) + "|"
    )
    for row in breakdown.rows:
        cells = [_md_cell(breakdowns.show_value(row.get(c.key), c.kind)) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_breakdown(view: RenderView) -> str:
    """A ``#`` heading naming the command and the project, then one table per breakdown."""
    assert view.breakdown is not None
    where = view.project["name"] if view.project else "all projects"
    heading = f"# Phaser Analytics: {view.command} ({_md_cell(str(where))})"
    tables = [_md_table(b) for b in breakdowns.all_breakdowns(view.breakdown)]
    return "\n\n".join([heading, *tables])


class MarkdownRenderer:
    name = "markdown"
    help = "Markdown report from a Jinja2 template (--template, .phaser/templates/)."
    suffix = ".md"
    #: It renders the aggregate commands' breakdowns too (plugins.BREAKDOWNS).
    commands = ("show", "export", "breakdowns")

    def render(self, view: RenderView) -> str:
        if view.breakdown is not None:
            return render_breakdown(view)
        from phaser_analytics import templating

        template_file = view.option("template")
        project_dir = view.option("project_dir")
        search_path = templating.template_search_path(
            project_dir, template_file, view.option("template_dirs") or ()
        )
        name = templating.template_name(template_file)
        private = templating.private_dirs(search_path, template_file)
        text = templating.render_template(
            name, template_context(view), search_path, project_dir, private
        )
        # Records and project templates are untrusted: no escape sequence reaches a terminal.
        return clean_text(text, lines=True).strip("\n")


@hookimpl(trylast=True)
def register_renderers(register: Callable[[Any], None]) -> None:
    register(MarkdownRenderer())
