"""The ``openmetrics`` and ``prometheus`` renderers' plugin: their names, help and
registration. The metrics they write are :mod:`.openmetrics_render`'s, imported when one
renders: every command loads the plugins, and only ``export`` writes metrics
(docs/performance.md, "Start-up")."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from phaser_analytics.hookspecs import Renderer, hookimpl

if TYPE_CHECKING:
    from phaser_analytics.hookspecs import RenderView


class OpenMetricsRenderer(Renderer):
    name = "openmetrics"
    help = "Prometheus metrics in the OpenMetrics text format (ends with # EOF)."
    # OpenMetrics names no file suffix; ".prom" (node_exporter's) picks the classic format.
    suffix = ".om"
    commands = ("export",)

    def render(self, view: RenderView) -> str:
        from .openmetrics_render import render_metrics

        return render_metrics(view)


class PrometheusTextRenderer(Renderer):
    """The same metrics in the classic text format, which node_exporter's textfile collector
    and the Pushgateway read with their types (they read OpenMetrics counters as untyped)."""

    name = "prometheus"
    help = "The same metrics in Prometheus' classic text format (node_exporter, Pushgateway)."
    suffix = ".prom"
    commands = ("export",)

    def render(self, view: RenderView) -> str:
        from .openmetrics_render import render_metrics

        return render_metrics(view, openmetrics=False)


@hookimpl(trylast=True)
def register_renderers(register: Callable[[Any], None]) -> None:
    register(OpenMetricsRenderer())
    register(PrometheusTextRenderer())
