"""The ``html`` renderer's plugin: its name, help and registration. The self-contained,
offline dashboard it writes is :mod:`.html_render`'s, imported when it renders: every
command loads the plugins, and only ``export --format html`` writes a page
(docs/performance.md, "Start-up")."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from phaser_analytics.hookspecs import Renderer, hookimpl

if TYPE_CHECKING:
    from phaser_analytics.hookspecs import RenderView


class HtmlRenderer(Renderer):
    name = "html"
    help = "Self-contained HTML dashboard with charts (offline; --template to restyle)."
    suffix = ".html"
    commands = ("export",)

    def render(self, view: RenderView) -> str:
        from .html_render import render_page

        return render_page(view)


@hookimpl(trylast=True)
def register_renderers(register: Callable[[Any], None]) -> None:
    register(HtmlRenderer())
