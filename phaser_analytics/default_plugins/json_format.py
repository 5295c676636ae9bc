"""The ``json`` renderer's plugin: its name, help and registration. The document it writes
(spec §8.3) is :mod:`.json_render`'s, imported when it renders: every command loads the
plugins, and most never render JSON (docs/performance.md, "Start-up")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from phaser_analytics.hookspecs import BREAKDOWNS, Renderer, hookimpl

if TYPE_CHECKING:
    from phaser_analytics.hookspecs import RenderView


class JsonRenderer(Renderer):
    name = "json"
    help = "JSON document: query, project, executions, stats (--ci-minimal: counts only)."
    suffix = ".json"
    #: It renders the aggregate commands' breakdowns too.
    commands = ("show", "export", BREAKDOWNS)

    def render(self, view: RenderView) -> str:
        from . import json_render

        if view.breakdown is not None:
            return json_render.render_breakdown(view)
        return "".join(json_render.render_iter(view))

    def render_iter(self, view: RenderView) -> Iterator[str]:
        from . import json_render

        if view.breakdown is not None:
            return iter([json_render.render_breakdown(view)])
        return json_render.render_iter(view)


@hookimpl(trylast=True)
def register_renderers(register: Callable[[Any], None]) -> None:
    register(JsonRenderer())
