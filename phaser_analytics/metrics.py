"""Aggregates for ``trends``, ``projects``, ``phases`` and ``failures``: pure functions from
index entries (or records) to :class:`~phaser_analytics.hookspecs.Breakdown` tables.

Days, weeks and hours are those of a time zone: ``zone=None`` is the machine's local zone,
applied moment by moment, so a run at 01:30 after a daylight-saving change lands in the
hour the wall clock showed. Nothing is bucketed in UTC unless UTC is asked for.
Executions whose start is unknown have no day or hour; :func:`undated` counts them so the
command can say they were left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from .aggregates import (
    PERIODS,
    period_start,
    phase_summaries,
    reason_counts,
    reason_key,
    stats_by_period,
    usage,
)
from .dates import zone_label
from .hookspecs import Breakdown, Column
from .models import AggregatedStats, ExecutionRecord, PhaseSummary, ReasonCount, Usage

__all__ = ["PERIODS", "period_start", "reason_key"]  # kept here for their callers
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
#: Eighths of a block, for bars that are not a whole number of blocks long.
BAR_EIGHTHS = " ▏▎▍▌▋▊▉█"
BAR_WIDTH = 20


# -- periods ------------------------------------------------------------------------------


def in_zone(moment: datetime | None, zone: tzinfo | None) -> datetime | None:
    return moment.astimezone(zone) if moment is not None else None


def period_label(start: date, by: str) -> str:
    """``2025-06-01``, ``2025-W23`` (ISO week) or ``2025-06``."""
    if by == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if by == "month":
        return start.strftime("%Y-%m")
    return start.isoformat()


def undated(items: Iterable[Any]) -> int:
    """How many executions have no start, and so no day or hour."""
    return sum(1 for item in items if item.started_at is None)


# -- little pictures ----------------------------------------------------------------------


def sparkline(values: Sequence[float | None], top: float | None = None) -> str:
    """One block per value, its height in eighths of ``top`` (default the largest value);
    a value that is unknown is a space, so the line keeps its time axis."""
    known = [v for v in values if v is not None]
    ceiling = top if top is not None else max(known, default=0)
    blocks = []
    for value in values:
        if value is None:
            blocks.append(" ")
        elif ceiling <= 0:
            blocks.append(SPARK_BLOCKS[0])
        else:
            # Half up, not Python's half to even: equal steps must look equal.
            index = int(max(value, 0) / ceiling * (len(SPARK_BLOCKS) - 1) + 0.5)
            blocks.append(SPARK_BLOCKS[min(index, len(SPARK_BLOCKS) - 1)])
    return "".join(blocks)


def bar(value: int, top: int, width: int = BAR_WIDTH) -> str:
    """A horizontal bar ``value / top`` of ``width`` blocks, to an eighth of a block; any
    value above zero shows at least a sliver."""
    if top <= 0 or value <= 0:
        return ""
    eighths = max(int(value / top * width * 8 + 0.5), 1)
    full, rest = divmod(eighths, 8)
    return "█" * full + (BAR_EIGHTHS[rest] if rest else "")


# -- trends -------------------------------------------------------------------------------

TREND_COLUMNS = [
    Column("period", "Period"),
    Column("executions", "Runs", "int"),
    Column("success_rate", "Success", "rate"),
    Column("avg_duration_seconds", "Avg duration", "duration"),
    Column("test_delta", "Δ Tests", "delta"),
    Column("tokens", "Tokens", "tokens"),
    Column("cost_usd", "Cost", "cost"),
]
SPARKLINE_COLUMNS = [
    Column("metric", "Trend"),
    Column("sparkline", "Oldest → newest", "sparkline"),
    Column("low", "Low", "text"),
    Column("high", "High", "text"),
]


def _stats_row(stats: AggregatedStats) -> dict[str, Any]:
    return {
        "executions": stats.total_executions,
        "successful": stats.successful,
        "success_rate": stats.success_rate if stats.total_executions else None,
        "avg_duration_seconds": stats.avg_duration_seconds,
        "test_delta": stats.total_test_delta,
        "tokens": stats.total_tokens,
        "cost_usd": stats.total_cost_usd,
    }


def trends(items: Iterable[Any], by: str = "day", zone: tzinfo | None = None) -> Breakdown:
    """Executions, success rate, average duration, test delta, tokens and cost per day,
    ISO week or month, oldest first; only periods with executions are listed."""
    if by not in PERIODS:
        raise ValueError(f"by must be one of {', '.join(PERIODS)}, not {by!r}")
    return trends_of(stats_by_period(items, by, zone), by, zone)


def trends_of(
    periods: dict[date, AggregatedStats], by: str = "day", zone: tzinfo | None = None
) -> Breakdown:
    """:func:`trends` of the statistics of each period (first day → stats)."""
    rows = [
        {"period": period_label(start, by), "start": start, **_stats_row(periods[start])}
        for start in sorted(periods)
    ]
    return Breakdown(
        name="trends",
        title=f"Trends by {by} ({zone_label(zone)})",
        columns=TREND_COLUMNS,
        rows=rows,
        sections=[trend_sparklines(rows, by)] if rows else [],
    )


def _stats(items: Sequence[Any]) -> AggregatedStats:
    return AggregatedStats.compute(items)


#: The most marks a trend sparkline draws: more periods than this (a year by day) are
#: averaged in runs of consecutive periods, and the column says how many a mark spans.
MAX_SPARK_MARKS = 40


def _in_groups(values: Sequence[float | None], size: int) -> list[float | None]:
    """The mean of the known values of each run of ``size`` consecutive values."""
    means: list[float | None] = []
    for start in range(0, len(values), size):
        known = [v for v in values[start : start + size] if v is not None]
        means.append(sum(known) / len(known) if known else None)
    return means


def trend_sparklines(rows: Sequence[dict[str, Any]], by: str = "day") -> Breakdown:
    """Average duration and success rate over the periods of ``rows``, as sparklines of
    at most :data:`MAX_SPARK_MARKS` marks (each a run of periods when there are more)."""
    from .formatting import format_duration, format_percent

    durations = [row["avg_duration_seconds"] for row in rows]
    rates = [row["success_rate"] for row in rows]
    known_durations = [d for d in durations if d is not None]
    known_rates = [r for r in rates if r is not None]
    size = -(-len(rows) // MAX_SPARK_MARKS) if len(rows) > MAX_SPARK_MARKS else 1
    columns = SPARKLINE_COLUMNS
    title = "Trends at a glance"
    if size > 1:
        columns = [
            column if column.key != "sparkline"
            else Column("sparkline", f"Oldest → newest, a mark per {size} {by}s", "sparkline")
            for column in SPARKLINE_COLUMNS
        ]  # fmt: skip
        title = f"Trends at a glance, {rows[0]['period']} to {rows[-1]['period']}"
    return Breakdown(
        name="sparklines",
        title=title,
        columns=columns,
        rows=[
            {
                "metric": "Avg duration",
                "sparkline": sparkline(_in_groups(durations, size)),
                "low": format_duration(min(known_durations, default=None)),
                "high": format_duration(max(known_durations, default=None)),
            },
            {
                "metric": "Success rate",
                "sparkline": sparkline(_in_groups(rates, size), top=1.0),
                "low": format_percent(min(known_rates, default=None)),
                "high": format_percent(max(known_rates, default=None)),
            },
        ],
    )


# -- projects -----------------------------------------------------------------------------

PROJECT_COLUMNS = [
    Column("project", "Project"),
    Column("executions", "Runs", "int"),
    Column("success_rate", "Success", "rate"),
    Column("avg_duration_seconds", "Avg duration", "duration"),
    Column("tokens", "Tokens", "tokens"),
    Column("cost_usd", "Cost", "cost"),
    Column("last_run", "Last run", "datetime"),
]


@dataclass
class ProjectGroup:
    """One project's executions (index entries or records), or their ``stats`` when a store
    computed them."""

    name: str
    path: str | None
    items: list[Any] = field(default_factory=list)
    stats: AggregatedStats | None = None


def projects(groups: Iterable[ProjectGroup], zone: tzinfo | None = None) -> Breakdown:
    """Executions, success rate, average duration, tokens, cost and last run per project,
    most executions first."""
    rows = []
    for group in groups:
        stats = group.stats if group.stats is not None else _stats(group.items)
        row = {"project": group.name, "path": group.path, **_stats_row(stats)}
        row["last_run"] = in_zone(stats.latest_execution, zone)
        rows.append(row)
    rows.sort(key=lambda row: (-row["executions"], row["project"].lower()))
    return Breakdown(
        name="projects",
        title=f"Executions by project ({zone_label(zone)})",
        columns=PROJECT_COLUMNS,
        rows=rows,
    )


# -- phases -------------------------------------------------------------------------------

PHASE_COLUMNS = [
    Column("phase", "Phase", "int"),
    Column("title", "Title"),
    Column("runs", "Runs", "int"),
    Column("failures", "Failed", "int"),
    Column("failure_rate", "Failure rate", "rate"),
    Column("last_error", "Last error"),
]


def phases(records: Sequence[ExecutionRecord], zone: tzinfo | None = None) -> Breakdown:
    """Runs, failures, failure rate and the latest error per phase number (spec §7.2,
    §7.3); the title is the most recent one. Highest failure rate first."""
    return phases_of(phase_summaries(records), zone)


def phases_of(summaries: Iterable[PhaseSummary], zone: tzinfo | None = None) -> Breakdown:
    """:func:`phases` of the phase numbers' summaries."""
    rows: list[dict[str, Any]] = [
        {
            "phase": summary.phase,
            "title": summary.title,
            "runs": summary.runs,
            "failures": summary.failures,
            "failure_rate": summary.failure_rate,
            "last_error": summary.last_error,
            "last_failed": in_zone(summary.last_failed, zone),
        }
        for summary in summaries
    ]
    rows.sort(key=lambda row: (-row["failure_rate"], -row["failures"], row["phase"]))
    return Breakdown(
        name="phases", title="Phases by failure rate", columns=PHASE_COLUMNS, rows=rows
    )


# -- failures and peak hours --------------------------------------------------------------

REASON_COLUMNS = [
    Column("reason", "Reason"),
    Column("count", "Executions", "int"),
    Column("last_seen", "Last seen", "datetime"),
]


def failure_reasons(records: Iterable[ExecutionRecord], zone: tzinfo | None = None) -> Breakdown:
    """Each reason of the reports' Issues Encountered, with the number of executions that
    give it (once per execution) and when it was last seen; the newest wording is shown."""
    return failure_reasons_of(reason_counts(records), zone)


def failure_reasons_of(counts: Iterable[ReasonCount], zone: tzinfo | None = None) -> Breakdown:
    """:func:`failure_reasons` of the reasons' counts, in their order."""
    rows: list[dict[str, Any]] = [
        {"reason": c.reason, "count": c.count, "last_seen": in_zone(c.last_seen, zone)}
        for c in counts
    ]
    return Breakdown(
        name="failure_reasons",
        title="Failure reasons",
        columns=REASON_COLUMNS,
        rows=rows,
    )


def _usage_rows(
    labels: Sequence[Any], slots: Sequence[int], failed: Sequence[int], key: str
) -> list[dict[str, Any]]:
    top = max(slots, default=0)
    return [
        {key: label, "executions": count, "failed": bad, "bar": bar(count, top)}
        for label, count, bad in zip(labels, slots, failed, strict=True)
    ]


def peak_usage(items: Iterable[Any], zone: tzinfo | None = None) -> list[Breakdown]:
    """Executions (and failed ones) per hour of day and per weekday, every hour and day
    listed, zeros included, so the peaks stand out."""
    return peak_usage_of(usage(items, zone), zone)


def peak_usage_of(counts: Usage, zone: tzinfo | None = None) -> list[Breakdown]:
    """:func:`peak_usage` of the counts per hour and weekday."""
    hours, hours_failed = counts.hours, counts.hours_failed
    days, days_failed = counts.days, counts.days_failed
    label = zone_label(zone)
    counts = [Column("executions", "Runs", "int"), Column("failed", "Failed", "int")]
    return [
        Breakdown(
            name="by_hour",
            title=f"Executions by hour of day ({label})",
            columns=[Column("hour", "Hour", "int"), *counts, Column("bar", "", "sparkline")],
            rows=_usage_rows(range(24), hours, hours_failed, "hour"),
        ),
        Breakdown(
            name="by_weekday",
            title=f"Executions by weekday ({label})",
            columns=[Column("weekday", "Day"), *counts, Column("bar", "", "sparkline")],
            rows=_usage_rows(WEEKDAYS, days, days_failed, "weekday"),
        ),
    ]


def failures(records: Sequence[ExecutionRecord], zone: tzinfo | None = None) -> Breakdown:
    """Failure reasons, then executions per hour of day and per weekday."""
    return failures_of(reason_counts(records), usage(records, zone), zone)


def failures_of(
    counts: Iterable[ReasonCount], per_hour: Usage, zone: tzinfo | None = None
) -> Breakdown:
    """:func:`failures` of the reasons' counts and the counts per hour and weekday."""
    reasons = failure_reasons_of(counts, zone)
    reasons.sections = peak_usage_of(per_hour, zone)
    return reasons
