"""What the ``html`` dashboard shows, as plain data: headline figures against the previous
period, one chart spec per chart (each also shown as a table), and the executions in a
compact column form the page pages through in the browser.

Everything here is computed from records in one module so the page, its tables and the
tests agree; the page's script only draws and pages what it is given. Periods are those
of ``trends`` (:func:`phaser_analytics.metrics.period_start`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from .dates import zone_label
from .metrics import failure_reasons, period_label, period_start, phases
from .models import AggregatedStats, ExecutionRecord, ExecutionStatus, PhaseStatus
from .usage import TOKEN_KINDS as USAGE_KINDS
from .usage import ModelUsage, model_usage

if TYPE_CHECKING:
    from .hookspecs import RenderView

#: Status codes of the compact execution rows (the page's script knows them).
STATUS_CODES = {ExecutionStatus.SUCCESS: 0, ExecutionStatus.PARTIAL: 1, ExecutionStatus.FAILED: 2}
PHASE_CODES = {PhaseStatus.COMPLETED: 0, PhaseStatus.SKIPPED: 1, PhaseStatus.FAILED: 2}
#: Columns of a compact execution row, in order.
EXECUTION_COLUMNS = (
    "id", "document", "project", "started", "status", "duration", "test_delta",
    "tokens", "cost", "phases_completed", "phases_planned", "branch",
)  # fmt: skip
#: At most this many failure reasons are charted; the table lists them all.
TOP_REASONS = 10


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of sorted ``values``, interpolated between the closest ranks
    (numpy's default, ``statistics.quantiles(method="inclusive")``); ``None`` when empty."""
    if not values:
        return None
    position = (len(values) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return values[low] + (values[high] - values[low]) * (position - low)


@dataclass
class Figures:
    """The headline figures of a set of executions."""

    runs: int
    success_rate: float | None
    median_duration: float | None
    p90_duration: float | None
    test_delta: int | None
    tokens: int | None
    cost_usd: float | None

    @classmethod
    def of(cls, records: Iterable[ExecutionRecord]) -> Figures:
        records = list(records)
        stats = AggregatedStats.compute(records)
        durations = sorted(d for r in records if (d := r.duration_seconds) is not None)
        return cls(
            runs=stats.total_executions,
            success_rate=stats.success_rate if stats.total_executions else None,
            median_duration=percentile(durations, 0.5),
            p90_duration=percentile(durations, 0.9),
            test_delta=stats.total_test_delta,
            tokens=stats.total_tokens,
            cost_usd=stats.total_cost_usd,
        )


#: (key, label, kind) of each headline figure; kind picks the formatter.
HEADLINE = (
    ("runs", "Runs", "int"),
    ("success_rate", "Success rate", "rate"),
    ("median_duration", "Median duration", "duration"),
    ("p90_duration", "p90 duration", "duration"),
    ("test_delta", "Tests added", "delta"),
    ("tokens", "Tokens", "tokens"),
    ("cost_usd", "Cost", "cost"),
)


def headline(current: Figures, previous: Figures | None) -> list[dict[str, Any]]:
    """Each figure with the previous period's value and the change (``None`` when either
    is unknown, or there is no previous period to compare with)."""
    cards = []
    for key, label, kind in HEADLINE:
        value = getattr(current, key)
        before = getattr(previous, key) if previous is not None and previous.runs else None
        change = value - before if value is not None and before is not None else None
        cards.append(
            {"key": key, "label": label, "kind": kind, "value": value,
             "previous": before, "change": change}
        )  # fmt: skip
    return cards


def comparison_window(
    since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime] | None:
    """The period of the same length just before the selection's, ``since`` to ``until``
    (else now). Without ``since`` the selection holds every matching execution, so nothing
    before it could match: ``None``."""
    if since is None:
        return None
    end = until or now
    if end <= since:
        return None
    return since - (end - since), since - timedelta(microseconds=1)


def project_labels(view: RenderView) -> list[str]:
    """The project each of the view's records belongs to. For ``--global``, the registered
    project's name (its path when two projects share a name); in one project's store, the
    project its report names (a store may hold several), else the store's project."""
    if view.project is not None:
        name = str(view.project.get("name") or view.project.get("path") or "unknown")
        return [record.project_name or name for record in view.records]
    origins = [view.origin(i) or {} for i in range(len(view.records))]
    paths_of: dict[str, set[str]] = defaultdict(set)
    for origin in origins:
        paths_of[str(origin.get("name"))].add(str(origin.get("path")))
    return [
        str(o.get("name")) if len(paths_of[str(o.get("name"))]) == 1 else str(o.get("path"))
        for o in origins
    ]


# -- charts -------------------------------------------------------------------------------


@dataclass
class Series:
    label: str
    unit: str  # count, rate, seconds, delta, tokens, usd
    values: list[float | int | None]
    style: str = "line"  # line or bars


@dataclass
class Chart:
    """One chart: categories along x (periods, projects, phases, reasons) and its series.
    The page draws it and shows the same numbers as a table."""

    id: str
    title: str
    x_title: str
    x: list[str]
    series: list[Series] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "x_title": self.x_title,
            "x": self.x,
            "series": [dict(s.__dict__) for s in self.series],
            "note": self.note,
        }


def _period_charts(
    records: Sequence[ExecutionRecord],
    usages: Sequence[Sequence[ModelUsage]],
    by: str,
    zone: tzinfo | None,
) -> list[Chart]:
    groups: dict[Any, list[ExecutionRecord]] = defaultdict(list)
    period_of: list[Any] = []
    for record in records:
        start = period_start(record.started_at, by, zone) if record.started_at else None
        period_of.append(start)
        if start is not None:
            groups[start].append(record)
    starts = sorted(groups)
    position = {start: i for i, start in enumerate(starts)}
    labels = [period_label(start, by) for start in starts]
    figures = [Figures.of(groups[start]) for start in starts]
    models = sorted({u.model for usage in usages for u in usage})
    tokens = {m: [0] * len(starts) for m in models}
    costs: dict[str, list[float | None]] = {m: [None] * len(starts) for m in models}
    for start, usage in zip(period_of, usages, strict=True):
        if start is None:
            continue
        i = position[start]
        for u in usage:
            tokens[u.model][i] += u.total
            if u.cost_usd is not None:
                costs[u.model][i] = (costs[u.model][i] or 0) + u.cost_usd
    for model in models:
        costs[model] = [_usd(cost) for cost in costs[model]]
    per = f"per {by}"
    charts = [
        Chart("runs", f"Runs and success rate {per}", by.capitalize(), labels, [
            Series("Runs", "count", [f.runs for f in figures], "bars"),
            Series("Success rate", "rate", [f.success_rate for f in figures]),
        ]),
        Chart("duration", f"Duration {per}", by.capitalize(), labels, [
            Series("Median", "seconds", [f.median_duration for f in figures]),
            Series("p90", "seconds", [f.p90_duration for f in figures]),
        ]),
        Chart("tests", f"Tests added {per}", by.capitalize(), labels, [
            Series("Δ Tests", "delta", [f.test_delta for f in figures], "bars"),
        ]),
    ]  # fmt: skip
    if models:
        charts.append(
            Chart("tokens", f"Tokens {per} by model", by.capitalize(), labels,
                  [Series(m, "tokens", list(tokens[m]), "bars") for m in models])
        )  # fmt: skip
        if any(v is not None for m in models for v in costs[m]):
            charts.append(
                Chart("cost", f"Cost {per} by model", by.capitalize(), labels,
                      [Series(m, "usd", costs[m], "bars") for m in models])
            )  # fmt: skip
    return charts


def _project_chart(records: Sequence[ExecutionRecord], labels: Sequence[str]) -> Chart | None:
    groups: dict[str, list[ExecutionRecord]] = defaultdict(list)
    for label, record in zip(labels, records, strict=True):
        groups[label].append(record)
    if len(groups) < 2:
        return None
    names = sorted(groups, key=lambda name: (-len(groups[name]), name.lower()))
    figures = [Figures.of(groups[name]) for name in names]
    return Chart("projects", "Projects side by side", "Project", names, [
        Series("Runs", "count", [f.runs for f in figures], "bars"),
        Series("Success rate", "rate", [f.success_rate for f in figures]),
    ])  # fmt: skip


def _phase_chart(records: Sequence[ExecutionRecord]) -> Chart | None:
    rows = sorted(phases(records).rows, key=lambda row: row["phase"])
    if not rows:
        return None
    return Chart(
        "phases", "Phase failure rates", "Phase",
        [f"{row['phase']}" for row in rows],
        [Series("Failure rate", "rate", [row["failure_rate"] for row in rows], "bars")],
        note="; ".join(f"{row['phase']}: {row['title']}" for row in rows),
    )  # fmt: skip


def _reason_chart(records: Sequence[ExecutionRecord]) -> Chart | None:
    rows = failure_reasons(records).rows[:TOP_REASONS]
    if not rows:
        return None
    return Chart(
        "reasons", "Failure reasons", "Reason", [row["reason"] for row in rows],
        [Series("Executions", "count", [row["count"] for row in rows], "bars")],
    )  # fmt: skip


def charts(
    records: Sequence[ExecutionRecord],
    project_labels: Sequence[str],
    by: str,
    zone: tzinfo | None,
    usages: Sequence[Sequence[ModelUsage]] | None = None,
) -> list[Chart]:
    """Every chart the dashboard draws, in page order; charts with nothing to show are
    left out (no tokens, one project, no phases, no failure reasons). ``usages`` are the
    records' :func:`model_usage`, when known."""  # fmt: skip
    if usages is None:
        usages = [list(model_usage(record)) for record in records]
    found = _period_charts(records, usages, by, zone)
    for extra in (_project_chart(records, project_labels), _phase_chart(records),
                  _reason_chart(records)):  # fmt: skip
        if extra is not None:
            found.append(extra)
    return found


# -- executions ---------------------------------------------------------------------------


class Strings:
    """Each distinct text once: rows refer to texts by index, which keeps ten thousand
    executions with the same phase titles small."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, text: str | None) -> int | None:
        if text is None:
            return None
        found = self._index.get(text)
        if found is None:
            found = self._index[text] = len(self.items)
            self.items.append(text)
        return found


def _seconds(value: float | None) -> int | None:
    return None if value is None else round(value)


def _usd(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def executions(
    records: Sequence[ExecutionRecord],
    project_labels: Sequence[str],
    usages: Sequence[Sequence[ModelUsage]] | None = None,
) -> dict[str, Any]:
    """The executions, newest first, as compact rows plus each one's details: phases
    ``[number, title, status, error, Δ tests, seconds]``, failure reasons, and usage per
    model ``[model, input, output, cache_creation, cache_read, cost]``; texts are indexes
    into ``strings``. ``usages`` are the records' :func:`model_usage`, when known."""
    strings = Strings()
    text = strings.__call__
    status_codes, phase_codes = STATUS_CODES, PHASE_CODES
    if usages is None:
        usages = [list(model_usage(record)) for record in records]
    rows, details = [], []
    for label, record, usage in zip(project_labels, records, usages, strict=True):
        started = record.started_at
        rows.append([
            record.execution_id, text(record.audit_document), text(label),
            int(started.timestamp()) if started is not None else None,
            status_codes[record.status], _seconds(record.duration_seconds),
            record.test_delta, record.total_tokens, _usd(record.cost_usd),
            record.phases_completed, record.phases_planned, text(record.branch),
        ])  # fmt: skip
        phase_rows = []
        for p in record.phases:
            before, after = p.tests_before, p.tests_after
            phase_rows.append([
                p.phase_number, text(p.title), phase_codes[p.status], text(p.error_message),
                after - before if before is not None and after is not None else None,
                _seconds(p.duration_seconds),
            ])  # fmt: skip
        details.append([
            phase_rows,
            [text(reason) for reason in record.failure_reasons],
            [[text(u.model), *(u.tokens.get(k) for k in USAGE_KINDS), _usd(u.cost_usd)]
             for u in usage],
        ])  # fmt: skip
    return {
        "columns": list(EXECUTION_COLUMNS),
        "rows": rows,
        "details": details,
        "strings": strings.items,
    }


def dashboard(
    records: Sequence[ExecutionRecord],
    project_labels: Sequence[str],
    previous: Sequence[ExecutionRecord] | None,
    *,
    by: str,
    zone: tzinfo | None,
    window: tuple[datetime, datetime] | None = None,
) -> dict[str, Any]:
    """Headline cards, charts and executions: everything the page shows. ``previous`` are
    the executions of ``window``, the period the headline compares with."""
    usages = [list(model_usage(record)) for record in records]
    return {
        "by": by,
        "zone": zone_label(zone),
        "headline": headline(Figures.of(records), Figures.of(previous) if previous else None),
        "has_previous": bool(previous),
        "window": [w.isoformat(timespec="seconds") for w in window] if window else None,
        "charts": charts(records, project_labels, by, zone, usages),
        "executions": executions(records, project_labels, usages),
    }
