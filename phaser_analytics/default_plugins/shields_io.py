"""The badge renderers' plugin (``phaser analytics badge``, spec §9.3): ``shields-io``, the
endpoint JSON shields.io reads, and ``svg``, the same badge as a standalone flat SVG. Their
names, help and registration; the badge itself is :mod:`.badge_render`'s, imported when one
renders: every command loads the plugins, and only ``badge`` draws one
(docs/performance.md, "Start-up")."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from phaser_analytics.hookspecs import Renderer, hookimpl

if TYPE_CHECKING:
    from phaser_analytics.hookspecs import RenderView


class ShieldsIoRenderer(Renderer):
    name = "shields-io"
    help = "shields.io endpoint JSON for a README badge."
    suffix = ".json"
    commands = ("badge",)

    def render(self, view: RenderView) -> str:
        from .badge_render import render_endpoint

        return render_endpoint(view)


class SvgBadgeRenderer(Renderer):
    name = "svg"
    help = "Standalone flat SVG badge (no network)."
    suffix = ".svg"
    commands = ("badge",)

    def render(self, view: RenderView) -> str:
        from .badge_render import badge_from_view, render_svg

        return render_svg(badge_from_view(view))


@hookimpl(trylast=True)
def register_renderers(register: Callable[[Any], None]) -> None:
    register(ShieldsIoRenderer())
    register(SvgBadgeRenderer())
