"""The ``markdown`` renderer's plugin: its name, help and registration. The report it writes
from a Jinja2 template (spec §8.4) is :mod:`.markdown_render`'s, imported when it renders:
every command loads the plugins, and most never render Markdown (docs/performance.md,
"Start-up")."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from phaser_analytics.hookspecs import BREAKDOWNS, Renderer, hookimpl

if TYPE_CHECKING:
    from phaser_analytics.hookspecs import RenderView


class MarkdownRenderer(Renderer):
    name = "markdown"
    help = "Markdown report from a Jinja2 template (--template, .phaser/templates/)."
    suffix = ".md"
    #: It renders the aggregate commands' breakdowns too.
    commands = ("show", "export", BREAKDOWNS)

    def render(self, view: RenderView) -> str:
        from .markdown_render import render_markdown

        return render_markdown(view)


@hookimpl(trylast=True)
def register_renderers(register: Callable[[Any], None]) -> None:
    register(MarkdownRenderer())
