"""The ``csv`` renderer's plugin: its name, help and registration. The rows it writes
(spec §8.5) are :mod:`.csv_render`'s, imported when it renders: every command loads the
plugins, and most never render CSV (docs/performance.md, "Start-up")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from phaser_analytics.hookspecs import BREAKDOWNS, Renderer, hookimpl

if TYPE_CHECKING:
    from phaser_analytics.hookspecs import RenderView


class CsvRenderer(Renderer):
    name = "csv"
    help = "CSV for spreadsheets: one row per execution (--phases: one per phase)."
    suffix = ".csv"
    #: It renders the aggregate commands' breakdowns too.
    commands = ("show", "export", BREAKDOWNS)

    def render(self, view: RenderView) -> str:
        from . import csv_render

        if view.breakdown is not None:
            return csv_render.render_breakdown(view)
        return "".join(csv_render.render_iter(view))

    def render_iter(self, view: RenderView) -> Iterator[str]:
        from . import csv_render

        if view.breakdown is not None:
            return iter([csv_render.render_breakdown(view)])
        return csv_render.render_iter(view)


@hookimpl(trylast=True)
def register_renderers(register: Callable[[Any], None]) -> None:
    register(CsvRenderer())
