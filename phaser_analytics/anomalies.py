"""Anomalies: executions whose duration, cost, tokens or test delta lie far outside the
history they belong to, by a robust rule (median and MAD), and the robust statistics that
``estimate`` shares.

The rule (docs/insights.md explains it with examples):

* The history of an execution is the executions of its project that started before it,
  the :data:`HISTORY_LIMIT` most recent of them: of those, the ones of the same audit
  document that have a value for the figure; when they are fewer than
  :data:`MIN_HISTORY`, all of them (labelled "of the project"); when those are too few as
  well, the figure is not judged: nothing is ever flagged on too little history. An
  execution without a start time is judged against the most recent executions that have
  one.
* The usual spread is the median absolute deviation scaled to a standard deviation
  (``1.4826 × MAD``), never below the figure's floor (:data:`FIGURES`, so that a history
  of identical values does not make every small change an outlier).
* A value is an anomaly when it lies more than :data:`THRESHOLD` spreads from the median
  (Iglewicz and Hoaglin's modified z-score above 3.5); the usual range is
  ``median ± THRESHOLD × spread``.

Everything here reads plain attributes (``audit_document``, ``started_at``,
``duration_seconds``, ``cost_usd``, ``total_tokens``, ``test_delta``), which both stored
records and the store's index entries have, so anomalies are found without reading record
files.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from typing import Any

#: Values a history needs before anything is judged against it.
MIN_HISTORY = 5
#: The most recent executions before a run that make its history: recent runs say more
#: about the next one than last year's, and ``show`` reads no more of the store than this.
HISTORY_LIMIT = 200
#: How many spreads from the median make an anomaly (modified z-score, Iglewicz–Hoaglin).
THRESHOLD = 3.5
#: MAD × this estimates the standard deviation of normally distributed values.
MAD_SCALE = 1.4826


# Figure, Spread and Anomaly are plain classes, not dataclasses: ``show`` imports this
# module, and a frozen dataclass costs ~0.5 ms to define (docs/performance.md, "Start-up").


class Judged:
    """What the rule reads of an execution of the history, and no more: what a store that
    can read only these (the SQLite store's ``history``) gives ``show`` instead of whole
    index entries (a plain class, as the others here)."""

    __slots__ = ("audit_document", "cost_usd", "duration_seconds", "execution_id",
                 "started_at", "test_delta", "total_tokens")  # fmt: skip

    def __init__(self, execution_id: str, audit_document: str | None, started_at: Any,
                 duration_seconds: float | None, cost_usd: float | None,
                 total_tokens: int | None, test_delta: int | None) -> None:  # fmt: skip
        self.execution_id = execution_id
        self.audit_document = audit_document
        self.started_at = started_at
        self.duration_seconds = duration_seconds
        self.cost_usd = cost_usd
        self.total_tokens = total_tokens
        self.test_delta = test_delta

    def __repr__(self) -> str:
        return f"Judged({self.execution_id!r})"


class Figure:
    """One measured figure of an execution: ``key``, the attribute read and the name in
    JSON and CSV; ``label``, for people; ``kind``, a breakdown column kind (how to show
    values); ``floor``, the smallest spread (a change smaller than this is never unusual)."""

    __slots__ = ("floor", "key", "kind", "label")

    def __init__(self, key: str, label: str, kind: str, floor: float) -> None:
        self.key = key
        self.label = label
        self.kind = kind
        self.floor = floor

    def __repr__(self) -> str:
        return f"Figure({self.key!r})"


FIGURES: tuple[Figure, ...] = (
    Figure("duration_seconds", "duration", "duration", 60.0),
    Figure("cost_usd", "cost", "cost", 0.05),
    Figure("total_tokens", "tokens", "tokens", 1000.0),
    Figure("test_delta", "test delta", "delta", 2.0),
)


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def figure_value(item: Any, key: str) -> float | None:
    return number(getattr(item, key, None))


class Spread:
    """A robust summary of a history of values: how many, their median, and ``spread``,
    1.4826 × MAD, at least the figure's floor."""

    __slots__ = ("count", "median", "spread")

    def __init__(self, count: int, median: float, spread: float) -> None:
        self.count = count
        self.median = median
        self.spread = spread

    def usual_range(self, threshold: float = THRESHOLD) -> tuple[float, float]:
        return (self.median - threshold * self.spread, self.median + threshold * self.spread)

    def score(self, value: float) -> float:
        """How many spreads ``value`` lies from the median (signed)."""
        return (value - self.median) / self.spread


def robust_spread(values: Sequence[float], floor: float) -> Spread:
    """Median and scaled MAD (at least ``floor``) of ``values`` (not empty)."""
    median = _median(values)
    mad = _median([abs(v - median) for v in values])
    return Spread(len(values), median, max(MAD_SCALE * mad, floor))


def _median(values: Iterable[float]) -> float:
    """``statistics.median``, whose module (with fractions and decimal) costs ``show`` a few
    milliseconds to import: the middle value, or the mean of the two middle ones."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


class Anomaly:
    """One figure of one execution that lies outside its history's usual range (``low`` to
    ``high``, around ``median``) of ``history`` values; ``scope`` is ``"document"`` or
    ``"project"``."""

    __slots__ = ("audit_document", "execution_id", "figure", "high", "history", "low",
                 "median", "scope", "started_at", "value")  # fmt: skip

    def __init__(
        self,
        *,
        execution_id: str,
        audit_document: str | None,
        started_at: Any,
        figure: Figure,
        value: float,
        low: float,
        high: float,
        median: float,
        history: int,
        scope: str,
    ) -> None:
        self.execution_id = execution_id
        self.audit_document = audit_document
        self.started_at = started_at
        self.figure = figure
        self.value = value
        self.low = low
        self.high = high
        self.median = median
        self.history = history
        self.scope = scope

    def __repr__(self) -> str:
        return f"Anomaly({self.execution_id!r}, {self.figure.key!r}, value={self.value!r})"

    @property
    def direction(self) -> str:
        return "above" if self.value > self.high else "below"

    def history_text(self) -> str:
        """``12 runs of this document`` or ``40 runs of the project`` (the execution
        itself is never among them)."""
        if self.scope == "document":
            return f"{self.history} runs of this document"
        return f"{self.history} runs of the project"

    def shown(self, value: float) -> str:
        """``value`` as people read this figure."""
        from .formatting import format_cost, format_count, format_delta, format_duration

        if self.figure.kind == "duration":
            return format_duration(value)
        if self.figure.kind == "cost":
            return format_cost(value)
        if self.figure.kind == "tokens":
            return format_count(round(value))
        return format_delta(round(value, 1))

    def reason(self) -> str:
        """One line: ``duration 3h 02m is above the usual 40m 10s to 1h 05m (other 12 runs
        of this document)``."""
        return (
            f"{self.figure.label} {self.shown(self.value)} is {self.direction} the usual "
            f"{self.shown(self.low)} to {self.shown(self.high)} (other "
            f"{self.history_text()})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "figure": self.figure.key,
            "value": self.value,
            "usual_low": round(self.low, 6),
            "usual_high": round(self.high, 6),
            "median": round(self.median, 6),
            "history": self.history,
            "history_scope": self.scope,
            "reason": self.reason(),
        }


def _clip(low: float, figure: Figure) -> float:
    # Durations, costs and token counts are never negative; a test delta may be.
    return low if figure.key == "test_delta" else max(low, 0.0)


def judge(
    item: Any, history: Iterable[Any], project: Iterable[Any], min_history: int = MIN_HISTORY
) -> list[Anomaly]:
    """The anomalies of ``item`` against ``history`` (earlier runs of its document), or
    ``project`` (the project's earlier runs) where the document's is too short."""
    history = [h for h in history if h.execution_id != item.execution_id]
    project = [p for p in project if p.execution_id != item.execution_id]
    found: list[Anomaly] = []
    for figure in FIGURES:
        value = figure_value(item, figure.key)
        if value is None:
            continue
        values, scope = _values(history, figure), "document"
        if len(values) < min_history:
            values, scope = _values(project, figure), "project"
        if len(values) < min_history:
            continue
        spread = robust_spread(values, figure.floor)
        low, high = spread.usual_range()
        if abs(spread.score(value)) > THRESHOLD:
            found.append(
                Anomaly(
                    execution_id=item.execution_id,
                    audit_document=getattr(item, "audit_document", None),
                    started_at=getattr(item, "started_at", None),
                    figure=figure,
                    value=value,
                    low=_clip(low, figure),
                    high=high,
                    median=spread.median,
                    history=len(values),
                    scope=scope,
                )
            )
    return found


def _values(items: Iterable[Any], figure: Figure) -> list[float]:
    """:func:`figure_value` of each item that has one (its common types inline: ``show``
    judges a few hundred executions of history four figures each)."""
    key = figure.key
    values: list[float] = []
    for item in items:
        value = getattr(item, key, None)
        kind = type(value)
        if kind is float:
            values.append(value)
        elif kind is int:
            values.append(float(value))
        elif value is not None and (found := number(value)) is not None:
            values.append(found)
    return values


class _Timeline:
    """Executions ordered by start, to take "the most recent ones before" quickly."""

    def __init__(self, items: Iterable[Any]) -> None:
        dated = [i for i in items if getattr(i, "started_at", None) is not None]
        dated.sort(key=lambda i: i.started_at)
        self.items = dated
        self.starts = [i.started_at for i in dated]

    def before(self, item: Any, limit: int) -> list[Any]:
        start = getattr(item, "started_at", None)
        end = len(self.items) if start is None else bisect.bisect_left(self.starts, start)
        return self.items[max(0, end - limit - 1) : end + (1 if start is None else 0)]


def find_anomalies(
    items: Iterable[Any],
    history: Sequence[Any],
    min_history: int = MIN_HISTORY,
    limit: int = HISTORY_LIMIT,
) -> dict[str, list[Anomaly]]:
    """Anomalies of each of ``items`` (by execution id; only those with any) judged
    against ``history``, the project's executions (``items`` may be among them): each
    against the ``limit`` most recent that started before it."""
    items = list(items)
    project = _Timeline(history)
    # A timeline for each document judged only (a history may hold hundreds of others).
    judged = {getattr(item, "audit_document", None) for item in items}
    by_document: dict[Any, list[Any]] = {}
    for entry in project.items:
        document = getattr(entry, "audit_document", None)
        if document in judged:
            by_document.setdefault(document, []).append(entry)
    documents = {name: _Timeline(entries) for name, entries in by_document.items()}
    found: dict[str, list[Anomaly]] = {}
    for item in items:
        earlier = _without(project.before(item, limit), item, limit)
        document = getattr(item, "audit_document", None)
        timeline = documents.get(document) if document else None
        same = _without(timeline.before(item, limit), item, limit) if timeline else []
        anomalies = judge(item, same, earlier, min_history)
        if anomalies:
            found[item.execution_id] = anomalies
    return found


def _without(items: list[Any], item: Any, limit: int) -> list[Any]:
    """``items`` but ``item`` itself, the ``limit`` most recent."""
    kept = [i for i in items if i.execution_id != item.execution_id]
    return kept[-limit:]


def reasons(anomalies: dict[str, list[Anomaly]]) -> dict[str, list[str]]:
    """Each execution's anomalies as one-line reasons, for renderers."""
    return {key: [a.reason() for a in found] for key, found in anomalies.items()}
