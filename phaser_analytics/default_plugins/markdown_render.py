"""The ``markdown`` renderer (spec §8.4), written by a Jinja2 template a team can replace.

The template is found on :func:`phaser_analytics.templating.template_search_path` from the
view's options ``project_dir``, ``template`` (the ``--template`` file) and
``template_dirs`` (the plugins' directories).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from phaser_analytics.dates import zone_label
from phaser_analytics.default_plugins import breakdowns
from phaser_analytics.formatting import clean_text
from phaser_analytics.models import datetime_to_json, utcnow

if TYPE_CHECKING:
    from phaser_analytics.hookspecs import RenderView
    from phaser_analytics.models import ExecutionRecord

_SCALARS = (str, int, float, bool, type(None))
#: The template of the aggregate views (``trends``, ``phases``, ``failures``, …).
BREAKDOWN_TEMPLATE = "breakdown.md.j2"


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
    command, options, zone. Datetimes are ISO strings in UTC; the ``date`` filters show
    them in the command's zone, which ``zone`` names. For
    ``show``, each execution also has ``anomalies`` (reasons; empty when it is not one).
    """
    from phaser_analytics.templating import view_context

    return {
        **view_context(view),
        "executions": [_execution(record, view.option("anomalies")) for record in view.records],
        "verbose": bool(view.option("verbose")),
    }


# -- breakdowns (trends, projects, phases, failures) ---------------------------------


def breakdown_context(view: RenderView) -> dict[str, Any]:
    """What ``breakdown.md.j2`` sees: the view's breakdown and its sections, each with its
    rows as shown (text) and as data (the JSON export's values)."""
    assert view.breakdown is not None
    return {
        "command": view.command,
        "generated_at": datetime_to_json(view.generated_at or utcnow()),
        "project": dict(view.project) if view.project is not None else None,
        "projects": [dict(project) for project in view.projects],
        "is_global": view.project is None,
        "options": {k: v for k, v in view.options.items() if isinstance(v, _SCALARS)},
        "zone": zone_label(view.option("zone")),
        "no_rows": breakdowns.NO_ROWS,
        "breakdowns": [
            {
                "name": b.name,
                "title": b.title,
                "empty": b.empty,
                "columns": [
                    {
                        "key": c.key,
                        "title": c.title,
                        "kind": c.kind,
                        "numeric": c.kind in breakdowns.NUMERIC,
                    }
                    for c in b.columns
                ],
                "rows": [
                    {c.key: breakdowns.show_value(row.get(c.key), c.kind) for c in b.columns}
                    for row in b.rows
                ],
                "data": [{k: breakdowns.data_value(v) for k, v in row.items()} for row in b.rows],
            }
            for b in breakdowns.all_breakdowns(view.breakdown)
        ],
    }


def render_markdown(view: RenderView) -> str:
    """The report (or, for an aggregate command, the breakdown) from its template."""
    from phaser_analytics import templating

    if view.breakdown is not None:
        # Aggregates have their own template; --template names the report's.
        template_file, default = None, BREAKDOWN_TEMPLATE
        context = breakdown_context(view)
    else:
        template_file, default = view.option("template"), templating.DEFAULT_TEMPLATE
        context = template_context(view)
    project_dir = view.option("project_dir")
    search_path = templating.template_search_path(
        project_dir, template_file, view.option("template_dirs") or ()
    )
    name = templating.template_name(template_file, default)
    private = templating.private_dirs(search_path, template_file)
    text = templating.render_template(
        name, context, search_path, project_dir, private, zone=view.option("zone")
    )
    # Records and project templates are untrusted: no escape sequence reaches a terminal.
    return clean_text(text, lines=True).strip("\n")
