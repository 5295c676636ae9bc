"""The ``html`` renderer: one self-contained, offline HTML dashboard.

The page is the Jinja2 template ``dashboard.html.j2``, found on the same search path as the
markdown report's (``--template``, ``.phaser/templates/``, ``$PHASER_HOME/templates/``,
plugins, the built-ins), so a team can ``{% extends "default:dashboard.html.j2" %}`` and
replace a block. It renders in the same sandbox, with autoescaping on.

Everything the page needs is inlined: the data as JSON, the page's own script and styles
(``phaser_analytics/assets/``) and uPlot, the charting library vendored with its licence
in ``phaser_analytics/vendor/uplot/``. A Content-Security-Policy in the page forbids
every network request. Jinja2, uPlot and the dashboard data code are loaded only when this
format renders.

Options: ``by`` (``day``, ``week``, ``month``; the charts' period), ``zone`` (a tzinfo, or
``None`` for local time), ``template``, ``project_dir``, ``template_dirs``, and ``store``
and ``project_key`` (the store the records came from, and the project's key in it), where
the previous period for the headline's change is read (:func:`previous_records`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phaser_analytics.formatting import clean_text

if TYPE_CHECKING:
    from datetime import datetime

    from phaser_analytics.hookspecs import RenderView
    from phaser_analytics.models import ExecutionRecord

PACKAGE_DIR = Path(__file__).resolve().parent.parent
ASSETS_DIR = PACKAGE_DIR / "assets"
UPLOT_DIR = PACKAGE_DIR / "vendor" / "uplot"
DEFAULT_PERIOD = "week"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def script_text(text: str) -> str:
    """Text safe inside ``<script>``: no ``</script`` or ``<!--`` can end or bend it."""
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def json_text(data: Any) -> str:
    """JSON for a ``<script type="application/json">``: ASCII only (so no control or bidi
    character appears raw), with ``<``, ``>`` and ``&`` escaped as JSON escapes, so report
    text can never close the element."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def assets() -> dict[str, Any]:
    """The page's inlined script and styles, uPlot's licence at the head of its script."""
    from markupsafe import Markup

    licence = _read(UPLOT_DIR / "LICENSE").replace("*/", "* /")
    uplot = f"/*!\n uPlot, vendored by phaser-analytics.\n\n{licence}\n*/\n"
    uplot += _read(UPLOT_DIR / "uPlot.iife.min.js")
    return {
        "uplot_js": Markup(script_text(uplot)),
        "uplot_css": Markup(_read(UPLOT_DIR / "uPlot.min.css").replace("</", "<\\/")),
        "dashboard_js": Markup(script_text(_read(ASSETS_DIR / "dashboard.js"))),
        "dashboard_css": Markup(_read(ASSETS_DIR / "dashboard.css").replace("</", "<\\/")),
    }


def previous_records(
    view: RenderView,
) -> tuple[tuple[datetime, datetime] | None, list[ExecutionRecord] | None]:
    """The executions of the period before the selection's, of the same length, with the
    same status and document filters, selected as the view's own records were: from the
    store they came from (the view's option ``store``, with ``project_key`` for one
    project's view; for ``--global``, ``None`` means every registered project's own
    store), so the comparison never reads another store than the page shows. A project
    view without a store (the Python API) reads the store in force for its
    ``project_dir``; ``None`` when the view says nothing about where its records came
    from. Returned with the period: ``(start, end)``, or ``None``."""
    from dataclasses import replace

    from phaser_analytics.dashboard_data import comparison_window
    from phaser_analytics.models import utcnow

    window = comparison_window(view.query.since, view.query.until, view.generated_at or utcnow())
    if window is None:
        return None, None
    query = replace(view.query, since=window[0], until=window[1], limit=None)
    store = view.option("store")
    if view.project is None:
        from phaser_analytics.query import select_global

        # The shown period has said once which registered project is gone or unreadable.
        every = select_global(query, warn=_quiet, store=store)
        return window, [record for _, record in every.load()]
    if store is not None:
        from phaser_analytics.view import select_project

        where = Path(str(view.project.get("path") or ""))
        chosen = select_project(store, view.option("project_key"), query, where)
        return window, list(chosen.records)
    project_dir = view.option("project_dir")
    if project_dir is None:
        return None, None
    from phaser_analytics.query import query_executions

    return window, query_executions(Path(project_dir), query)


def _quiet(_message: str) -> None:
    """A warning already given."""


def page_context(view: RenderView, data_json: str) -> tuple[dict[str, Any], str]:
    """What the page template sees: :func:`~phaser_analytics.templating.view_context`,
    plus ``dashboard`` (the headline, the charts and their tables), ``data_json`` (here the
    text ``data_json``, which stands for the data), ``assets`` and ``execution_count``;
    and the data's JSON itself."""
    from markupsafe import Markup

    from phaser_analytics.dashboard_data import dashboard, project_labels
    from phaser_analytics.templating import view_context

    records = list(view.records)
    labels = project_labels(view)
    window, previous = previous_records(view)
    board = dashboard(
        records,
        labels,
        previous,
        by=view.option("by") or DEFAULT_PERIOD,
        zone=view.option("zone"),
        window=window,
    )
    board["charts"] = [chart.to_dict() for chart in board["charts"]]
    page_data = {
        "generated_at": view.generated_at.isoformat() if view.generated_at else None,
        "charts": board["charts"],
        "executions": board["executions"],
    }
    # What every report template sees, but not the executions as dicts: the page has them
    # in its data, and ten thousand dicts would cost seconds.
    context = view_context(view)
    context.update(
        dashboard=board,
        data_json=Markup(data_json),
        assets=assets(),
        execution_count=len(records),
    )
    return context, json_text(page_data)


def render_page(view: RenderView) -> str:
    """The dashboard page of the view, from its template, the data inlined."""
    from phaser_analytics import templating

    template_file = templating.chosen_template(
        view.option("template"), templating.DASHBOARD_TEMPLATE
    )
    project_dir = view.option("project_dir")
    search_path = templating.template_search_path(
        project_dir, template_file, view.option("template_dirs") or ()
    )
    name = templating.template_name(template_file, templating.DASHBOARD_TEMPLATE)
    private = templating.private_dirs(search_path, template_file)
    # The data goes in after the page is cleaned: it is ASCII JSON already, and cleaning
    # its megabytes would cost a fifth of a second at 10,000 executions.
    import secrets  # here: hmac and OpenSSL, which no other renderer needs

    stand_in = f"PHASER-DATA-{secrets.token_hex(16)}"
    context, data = page_context(view, stand_in)
    page = templating.render_template(
        name, context, search_path, project_dir, private, html=True, zone=view.option("zone")
    )
    # Records and project templates are untrusted: no escape sequence reaches a terminal.
    return clean_text(page, lines=True).replace(stand_in, data, 1)
