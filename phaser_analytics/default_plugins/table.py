"""The ``table`` renderer's plugin: its name, help and registration. The framed terminal
table it draws (spec §8.1, and §8.2 with --verbose) is :mod:`.table_render`'s, imported when
it renders: every command loads the plugins, and ``import``, ``export`` and ``capture``
draw no table (docs/performance.md, "Start-up")."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from phaser_analytics.hookspecs import BREAKDOWNS, Renderer, hookimpl

if TYPE_CHECKING:
    from phaser_analytics.hookspecs import RenderView


class TableRenderer(Renderer):
    name = "table"
    help = "Framed terminal table with a summary line (--verbose: per-phase details)."
    suffix = ".txt"
    #: It renders the aggregate commands' breakdowns too.
    commands = ("show", "export", BREAKDOWNS)

    def render(self, view: RenderView) -> str:
        from .table_render import render_table

        return render_table(view)


@hookimpl(trylast=True)
def register_renderers(register: Callable[[Any], None]) -> None:
    register(TableRenderer())
