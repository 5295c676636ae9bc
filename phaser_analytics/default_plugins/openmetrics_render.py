"""The ``openmetrics`` and ``prometheus`` renderers: the history as Prometheus metrics, in
the OpenMetrics text format (ending in ``# EOF``) or in Prometheus' classic text format, for
node_exporter's textfile collector, a Pushgateway or any scraper.

node_exporter's textfile collector (1.5, as Debian ships it) and the Pushgateway parse the
classic format: they read an OpenMetrics file without error, but counters come through as
``untyped`` (an OpenMetrics counter is typed under its name without ``_total``). So
``--format prometheus`` is the one for them; ``--format openmetrics`` is for scrapers and
tools that speak OpenMetrics.

The text is written by ``prometheus_client`` (imported only when this format renders), so
names, escaping and layout are the client library's. Names follow Prometheus conventions:
one prefix (``phaser_``), base units in the name (seconds), ``_total`` on counters, and
no execution ids as labels (one series per execution would grow without bound).

Every metric is computed from the view's records, so it covers exactly what ``export``
selects (the same filters). Labels: ``project`` (the registered project's name, or its
path when two projects share a name), ``status``, ``model`` and ``kind``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from phaser_analytics.errors import AnalyticsError
from phaser_analytics.models import ExecutionStatus
from phaser_analytics.usage import model_usage

if TYPE_CHECKING:
    from datetime import datetime

    from phaser_analytics.hookspecs import RenderView
    from phaser_analytics.models import ExecutionRecord

PREFIX = "phaser"
#: Upper bounds (seconds) of the duration histogram's buckets: 1 min to 8 h, then +Inf.
DURATION_BUCKETS = (60.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0)
INSTALL_HINT = (
    "--format openmetrics and prometheus need prometheus_client, which is not installed: "
    "pip install prometheus-client"
)


@dataclass
class _Project:
    """Everything the metrics need about one project's executions, gathered in one pass."""

    runs: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in ExecutionStatus})
    durations: list[float] = field(default_factory=list)
    last_started: datetime | None = None
    last_duration: float | None = None
    last_by_status: dict[str, float] = field(default_factory=dict)
    tests_added: int = 0
    tests_removed: int = 0
    tokens: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    cost_usd: float | None = None

    def add(self, record: ExecutionRecord) -> None:
        status = record.status.value
        self.runs[status] += 1
        duration = record.duration_seconds
        if duration is not None:
            self.durations.append(duration)
        started = record.started_at
        if started is not None:
            stamp = started.timestamp()
            if stamp > self.last_by_status.get(status, -math.inf):
                self.last_by_status[status] = stamp
            if self.last_started is None or started > self.last_started:
                self.last_started = started
                self.last_duration = duration
        delta = record.test_delta
        if delta is not None:
            if delta > 0:
                self.tests_added += delta
            else:
                self.tests_removed -= delta
        for usage in model_usage(record):
            for kind, count in usage.tokens.items():
                self.tokens[(usage.model, kind)] += count
        if record.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + record.cost_usd


def gather(view: RenderView) -> dict[str, _Project]:
    """Per-project facts of the view's records, projects in name order."""
    from phaser_analytics.dashboard_data import project_labels

    projects: dict[str, _Project] = defaultdict(_Project)
    records: Sequence[ExecutionRecord] = view.records
    for label, record in zip(project_labels(view), records, strict=True):
        projects[label].add(record)
    return dict(sorted(projects.items()))


def _histogram(durations: Iterable[float]) -> tuple[list[tuple[str, float]], float]:
    """Cumulative bucket counts (OpenMetrics' ``le`` text) and the sum, of ``durations``."""
    values = sorted(durations)
    buckets = []
    for bound in DURATION_BUCKETS:
        buckets.append((_le(bound), float(sum(1 for v in values if v <= bound))))
    buckets.append(("+Inf", float(len(values))))
    return buckets, float(sum(values))


def _le(bound: float) -> str:
    return f"{bound:.1f}"


def metric_families(projects: dict[str, _Project]) -> list[Any]:
    """The metric families, built with prometheus_client's own classes."""
    from prometheus_client.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
    )

    runs = CounterMetricFamily(
        f"{PREFIX}_executions", "Audit executions, by project and status.",
        labels=["project", "status"],
    )  # fmt: skip
    durations = HistogramMetricFamily(
        f"{PREFIX}_execution_duration_seconds",
        "Durations of the executions whose duration is known.",
        labels=["project"],
        unit="seconds",
    )
    last_duration = GaugeMetricFamily(
        f"{PREFIX}_last_execution_duration_seconds",
        "Duration of the project's most recently started execution.",
        labels=["project"],
        unit="seconds",
    )
    last_started = GaugeMetricFamily(
        f"{PREFIX}_last_execution_timestamp_seconds",
        "Start time (Unix seconds) of the project's most recent execution of each status.",
        labels=["project", "status"],
        unit="seconds",
    )
    tests_added = CounterMetricFamily(
        f"{PREFIX}_tests_added", "Tests added, summed over executions whose test count grew.",
        labels=["project"],
    )  # fmt: skip
    tests_removed = CounterMetricFamily(
        f"{PREFIX}_tests_removed",
        "Tests removed, summed over executions whose test count shrank.",
        labels=["project"],
    )
    tokens = CounterMetricFamily(
        f"{PREFIX}_tokens",
        "Tokens used, by project, model and kind (input, output, cache_creation, cache_read).",
        labels=["project", "model", "kind"],
    )
    cost = CounterMetricFamily(
        f"{PREFIX}_cost_usd", "Cost in US dollars of the executions whose cost is known.",
        labels=["project"],
    )  # fmt: skip
    for name, facts in projects.items():
        for status, count in facts.runs.items():
            runs.add_metric([name, status], count)
        buckets, total = _histogram(facts.durations)
        durations.add_metric([name], buckets, total)
        if facts.last_duration is not None:
            last_duration.add_metric([name], facts.last_duration)
        for status, stamp in sorted(facts.last_by_status.items()):
            last_started.add_metric([name, status], stamp)
        tests_added.add_metric([name], facts.tests_added)
        tests_removed.add_metric([name], facts.tests_removed)
        for (model, kind), count in sorted(facts.tokens.items()):
            tokens.add_metric([name, model, kind], count)
        if facts.cost_usd is not None:
            cost.add_metric([name], round(facts.cost_usd, 6))
    return [runs, durations, last_duration, last_started, tests_added, tests_removed, tokens, cost]


class _Collector:
    def __init__(self, families: list[Any]) -> None:
        self._families = families

    def collect(self) -> list[Any]:
        return self._families


def render_metrics(view: RenderView, *, openmetrics: bool = True) -> str:
    """The metrics of ``view`` in the OpenMetrics text format (ending in ``# EOF``), or
    with ``openmetrics=False`` in Prometheus' classic text format (0.0.4)."""
    try:
        from prometheus_client import CollectorRegistry

        if openmetrics:
            from prometheus_client.openmetrics.exposition import generate_latest
        else:
            from prometheus_client.exposition import generate_latest
    except ImportError:
        raise AnalyticsError(INSTALL_HINT) from None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(metric_families(gather(view))))  # type: ignore[arg-type]
    return generate_latest(registry).decode("utf-8")
