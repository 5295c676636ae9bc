"""What every command that shows executions builds from its options: the query of its
filters (:func:`filter_query`), and the :class:`~phaser_analytics.hookspecs.RenderView`
its renderer reads, with the options every renderer knows (zone, width, colour, the
config's view options; :func:`make_view`).

Its own module, not :mod:`.viewing`'s: ``trends``, ``phases``, ``failures`` and the insight
commands use these and none of ``show``'s, ``export``'s and ``badge``'s options.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from ..hookspecs import RenderView
from ..models import AnalyticsQuery, ExecutionStatus, utcnow
from ..query import project_key
from ..view import Selection
from .configured import view_options
from .main import AppContext, command_zone, err, open_command_store


def filter_query(
    limit: int | None, since: Any, until: Any, status: str | None, document: str | None = None
) -> AnalyticsQuery:
    """The query of the filter options (``--last``, ``--since``, ``--until``, ``--status``,
    ``--document``); a ``--since`` after ``--until`` is said once on stderr."""
    if since is not None and until is not None and since > until:
        err(
            f"Warning: --since ({since.isoformat(timespec='minutes')}) is after --until "
            f"({until.isoformat(timespec='minutes')}): no execution can match."
        )
    return AnalyticsQuery(
        limit=limit,
        since=since,
        until=until,
        status=ExecutionStatus(status.lower()) if status and status.lower() != "all" else None,
        document=document,
    )


def history(project_dir: Path) -> list[Any]:
    """Every stored execution of the project, as entries (newest first)."""
    store = open_command_store(project_dir)
    return list(store.find(project=project_key(project_dir, store)))


def terminal_width() -> int | None:
    """``COLUMNS`` when set, else the terminal's width; ``None`` (no limit: nothing is cut)
    when stdout is not a terminal, so that piped output is whole rather than cut at an
    arbitrary 100 columns."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if not sys.stdout.isatty():
        return None
    import shutil  # here: it imports bz2 and lzma, ~2 ms at every command's start

    return shutil.get_terminal_size((100, 24)).columns


def use_color(no_color: bool) -> bool:
    """Colour only on a terminal, never with ``--no-color`` (the command's or the
    ``analytics`` group's) or ``NO_COLOR``."""
    ctx = click.get_current_context(silent=True)
    app = ctx.find_object(AppContext) if ctx is not None else None
    if no_color or (app is not None and app.no_color) or "NO_COLOR" in os.environ:
        return False
    return sys.stdout.isatty()


def make_view(
    ctx: click.Context,
    command: str,
    selection: Selection,
    query: AnalyticsQuery,
    project_dir: Path,
    **options: Any,
) -> RenderView:
    app: AppContext = ctx.obj
    from ..dates import zone_label

    zone = command_zone(ctx)
    options.setdefault("zone", zone)
    options.setdefault("time_zone", zone_label(zone))
    options.setdefault("project_dir", project_dir)
    options.setdefault("store_empty", selection.store_empty)
    # Where the records came from, for a renderer that reads more of the same (the
    # dashboard's previous period): the open store (None with --global over the registry)
    # and the project's key in it.
    options.setdefault("store", selection.store)
    options.setdefault("project_key", selection.key)
    options.setdefault("template_dirs", app.host().template_dirs())
    options.setdefault("width", terminal_width())
    options.setdefault("color", False)
    for key, value in view_options(ctx).items():
        options.setdefault(key, value)
    return RenderView(
        records=selection.records,
        stats=selection.stats,
        query=query,
        project=selection.project,
        projects=selection.projects,
        generated_at=utcnow(),
        command=command,
        options=options,
        origins=selection.origins,
    )
