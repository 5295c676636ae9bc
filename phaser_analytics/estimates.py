"""``estimate``: the expected duration, tokens and cost of an audit, with an interval, from
the history (docs/insights.md).

The runs it rests on are the stored runs of the same audit document; when there are none,
the runs of any document with a similar number of phases (within :data:`PHASE_TOLERANCE`
of it, at least one phase either way). From no runs it refuses. For each figure, the
estimate is the median of the runs that have it, and the interval:

* 5 runs or more: the 10th to the 90th percentile;
* 2 to 4 runs: the lowest to the highest;
* 1 run: that run's value (no spread is known; the output says so).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import AnalyticsError
from .hookspecs import Breakdown, Column

PHASE_TOLERANCE = 0.25
PERCENTILES_FROM = 5
_PHASE_HEADING = re.compile(r"^#{1,6}\s*Phase\s+(\d+)\b", re.IGNORECASE | re.MULTILINE)


class NoHistoryError(AnalyticsError):
    """Nothing to estimate from."""


@dataclass
class Target:
    """What to estimate: a document name, and its phase count when known."""

    document: str
    phases: int | None = None
    source: str = "document"  # "document", "report" or "audit document"


@dataclass
class Estimate:
    figure: str
    kind: str
    runs: int
    median: float | None = None
    low: float | None = None
    high: float | None = None
    values: list[float] = field(default_factory=list)


def interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Median, low and high of ``values`` (not empty) by the rule above."""
    ordered = sorted(values)
    median = statistics.median(ordered)
    if len(ordered) >= PERCENTILES_FROM:
        deciles = statistics.quantiles(ordered, n=10, method="inclusive")
        return median, deciles[0], deciles[-1]
    return median, ordered[0], ordered[-1]


def similar(phases: int, other: int | None) -> bool:
    if other is None:
        return False
    tolerance = max(1.0, phases * PHASE_TOLERANCE)
    return abs(other - phases) <= tolerance


def choose_runs(target: Target, history: Sequence[Any]) -> tuple[list[Any], str]:
    """The runs an estimate rests on, and how they were chosen (said to the user)."""
    name = target.document
    same = [e for e in history if e.audit_document and _same_document(e.audit_document, name)]
    if same:
        return same, "of this document"
    if target.phases is not None:
        alike = [e for e in history if similar(target.phases, e.phases_planned)]
        if alike:
            return alike, f"with about {target.phases} phases"
    why = f"no stored run of {name}"
    if target.phases is not None:
        why += f" and none of a document with about {target.phases} phases"
    else:
        why += " (and its phase count is unknown: pass the audit document's path)"
    raise NoHistoryError(f"Cannot estimate from no history: {why}.")


def _same_document(stored: str, name: str) -> bool:
    return stored == name or Path(stored).name == Path(name).name


_FIGURES = (
    ("duration", "duration_seconds", "duration"),
    ("tokens", "total_tokens", "tokens"),
    ("cost", "cost_usd", "cost"),
)


def estimate(target: Target, history: Sequence[Any]) -> tuple[list[Estimate], str, list[Any]]:
    """The estimates, the basis in words, and the runs it rests on."""
    runs, basis = choose_runs(target, history)
    found = []
    for label, key, kind in _FIGURES:
        values = [
            float(v)
            for v in (getattr(run, key, None) for run in runs)
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        one = Estimate(label, kind, len(values), values=values)
        if values:
            one.median, one.low, one.high = interval(values)
        found.append(one)
    return found, basis, runs


def breakdown(target: Target, estimates: list[Estimate], basis: str) -> Breakdown:
    from .formatting import UNKNOWN, format_cost, format_count, format_duration

    shown = {
        "duration": format_duration,
        "tokens": lambda v: format_count(round(v)),
        "cost": format_cost,
    }
    rows = []
    for one in estimates:
        show = shown[one.kind]
        if one.median is None:
            text, span = UNKNOWN, "no run has it"
        elif one.runs == 1:
            text, span = show(one.median), "1 run: no spread known"
        else:
            rule = "10th–90th percentile" if one.runs >= PERCENTILES_FROM else "lowest–highest"
            text, span = show(one.median), f"{show(one.low)} to {show(one.high)} ({rule})"
        rows.append(
            {
                "figure": one.figure,
                "estimate": text,
                "interval": span,
                "based_on": f"{one.runs} run{'' if one.runs == 1 else 's'} {basis}",
                "runs": one.runs,
                "median": one.median,
                "low": one.low,
                "high": one.high,
            }
        )
    phases = f" ({target.phases} phases)" if target.phases is not None else ""
    return Breakdown(
        name="estimate",
        title=f"Estimate for {target.document}{phases}",
        columns=[
            Column("figure", "Figure"),
            Column("estimate", "Expected"),
            Column("interval", "Interval"),
            Column("based_on", "Based on"),
        ],
        rows=rows,
    )


def target_from_path(path: Path) -> Target:
    """The target an existing file names: an execution report (its document and phase
    count, read by the dialects) or an audit document (its name, and its ``Phase N``
    headings counted)."""
    from .errors import ReportParseError
    from .pipeline import parse_report, read_report_text

    try:
        parsed = parse_report(path)
    except ReportParseError:
        text = read_report_text(path)
        numbers = set(_PHASE_HEADING.findall(text))
        return Target(path.name, len(numbers) or None, "audit document")
    data = parsed.data
    planned = data.get("phases_planned") or len(data.get("phases") or []) or None
    return Target(data.get("audit_document") or path.name, planned, "report")


def target_from_name(name: str, history: Sequence[Any]) -> Target:
    """A document by name; its phase count is that of its latest run, when it has one."""
    runs = [e for e in history if e.audit_document and _same_document(e.audit_document, name)]
    phases = next((e.phases_planned for e in runs if e.phases_planned is not None), None)
    return Target(name, phases)
