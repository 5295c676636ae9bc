"""The aggregates the reading commands show, and where they are computed.

``show``'s statistics, ``trends``' periods, ``phases``' per-phase figures and ``failures``'
reasons and peak hours each have one Python implementation here, over a store's entries
(or, for phases and failure reasons, its records). A store may compute the same thing in
its database: the optional methods of :class:`~phaser_analytics.stores.base.Aggregates`
(the SQLite store has them all). :class:`Selected` is the one place that chooses: the
store's method when the store has it, else the Python path. Either way the result is the
same objects (tests/test_sql_aggregates.py compares them on the same records).

The helpers at the end (:class:`StatsPart`, :func:`offset_changes`) are for a backend that
aggregates in SQL: partial statistics merged in Python, and a zone's offsets over a span of
time, so that the database turns starts into local days and hours as Python does.
"""

from __future__ import annotations

import math
import operator
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any

from .models import (
    AggregatedStats,
    ExecutionStatus,
    PhaseStatus,
    PhaseSummary,
    ReasonCount,
    Usage,
    sort_newest_first,
)

if TYPE_CHECKING:
    from .models import AnalyticsQuery, ExecutionRecord
    from .stores.base import Entry, Store


# -- the Python path -----------------------------------------------------------------------

PERIODS = ("day", "week", "month")


def period_start(moment: datetime, by: str, zone: tzinfo | None) -> date:
    """The first day of the day, ISO week (Monday) or month holding ``moment`` in ``zone``
    (``None``: the machine's local zone)."""
    return period_of_day(moment.astimezone(zone).date(), by)


def period_of_day(day: date, by: str) -> date:
    """The first day of the day, ISO week (Monday) or month holding ``day``."""
    if by == "week":
        return day - timedelta(days=day.weekday())
    if by == "month":
        return day.replace(day=1)
    return day


def stats_by_period(
    items: Iterable[Any], by: str, zone: tzinfo | None
) -> dict[date, AggregatedStats]:
    """The statistics of the dated executions of each period (its first day), oldest
    first."""
    groups: dict[date, list[Any]] = defaultdict(list)
    for item in items:
        if item.started_at is not None:
            groups[period_start(item.started_at, by, zone)].append(item)
    return {start: AggregatedStats.compute(groups[start]) for start in sorted(groups)}


def phase_summaries(records: Iterable[ExecutionRecord]) -> list[PhaseSummary]:
    """Every phase number of ``records``, in number order (spec §7.2, §7.3)."""
    found: dict[int, PhaseSummary] = {}
    for record in sort_newest_first(records):
        for phase in record.phases:
            summary = found.get(phase.phase_number)
            if summary is None:
                summary = found[phase.phase_number] = PhaseSummary(phase.phase_number)
            summary.runs += 1
            summary.title = summary.title or phase.title
            if phase.status is PhaseStatus.FAILED:
                if not summary.failures:
                    summary.last_failed = record.started_at
                    summary.last_error = phase.error_message
                summary.failures += 1
    return [found[number] for number in sorted(found)]


def reason_key(reason: str) -> str:
    """Reasons that differ only in case, spacing or final punctuation are one reason."""
    return " ".join(reason.lower().split()).rstrip(".!;:")


def reasons_of(record_reasons: Sequence[str]) -> list[tuple[str, str]]:
    """``(key, wording)`` of each distinct reason of one execution, in order: the key of
    every non-blank reason, once, with the first wording that has that key."""
    keys = dict.fromkeys(reason_key(r) for r in record_reasons if r.strip())
    return [(key, next(r for r in record_reasons if reason_key(r) == key)) for key in keys]


def reason_counts(
    records: Iterable[ExecutionRecord], top: int | None = None
) -> list[ReasonCount]:
    """Each failure reason of the reports' Issues Encountered, most executions first: the
    first ``top`` (``None``: every one)."""
    return count_reasons(
        (
            (key, wording, record.started_at)
            for record in sort_newest_first(records)
            for key, wording in reasons_of(record.failure_reasons)
        ),
        top=top,
    )


def count_reasons(
    occurrences: Iterable[tuple[str, str, Any]],
    when: Callable[[Any], Any] = lambda x: x,
    top: int | None = None,
) -> list[ReasonCount]:
    """:func:`reason_counts` of each execution's distinct reasons as ``(key, wording,
    start)``, newest execution first: the newest wording and start of each key (``when``
    makes a start a datetime, for the ``top`` kept only), most executions first, newest
    first among equals."""
    found: dict[str, list[Any]] = {}
    for key, wording, started in occurrences:
        if key in found:
            found[key][1] += 1
        else:
            found[key] = [wording, 1, started]
    kept = sorted(found.values(), key=lambda r: r[1], reverse=True)[:top]  # stable
    return [ReasonCount(wording, count, when(started)) for wording, count, started in kept]


def usage(items: Iterable[Any], zone: tzinfo | None) -> Usage:
    """Executions and failed ones per local hour and weekday."""
    counts = Usage()
    for item in items:
        if item.started_at is not None:
            counts.add(item.started_at, zone, 1, item.status is ExecutionStatus.FAILED)
    return counts


# -- choosing: the store's database, else Python ---------------------------------------------


class NotAggregated(Exception):
    """A store's aggregate method raises this when it cannot give the exact answer (say, a
    sum beyond its integers): the Python path is used instead."""


class Selected:
    """The executions ``query`` selects in ``store`` (of ``project``; ``None``: every
    project), aggregated by the store when it has the method, else in Python over its
    entries, found once and kept, and its records, read once when needed.

    ``entries`` and ``load`` instead of a store: executions selected elsewhere (``--global``
    over the registered projects' own stores), aggregated in Python.
    """

    def __init__(
        self,
        store: Store | None,
        query: AnalyticsQuery | None,
        project: str | None = None,
        *,
        entries: Sequence[Entry] | None = None,
        load: Callable[[], Sequence[ExecutionRecord]] | None = None,
    ) -> None:
        self.store, self.query, self.project = store, query, project
        self._entries = list(entries) if entries is not None else None
        self._load = load
        self._records: Sequence[ExecutionRecord] | None = None
        self._stats: AggregatedStats | None = None

    def _method(self, name: str) -> Callable[..., Any] | None:
        method = getattr(self.store, name, None) if self.store is not None else None
        return method if callable(method) else None

    def _in_store(self, name: str, *args: Any) -> Any:
        method = self._method(name)
        if method is None:
            return NotImplemented
        try:
            return method(self.query, *args, project=self.project)
        except NotAggregated:
            return NotImplemented

    @property
    def entries(self) -> list[Entry]:
        if self._entries is None:
            assert self.store is not None
            self._entries = list(self.store.find(self.query, project=self.project))
        return self._entries

    def found(self) -> Iterable[Entry]:
        """The entries, found again at each iteration unless they are kept already."""
        if self._entries is not None or self.store is None:
            return self.entries
        return _Found(self.store, self.query, self.project)

    @property
    def has_records(self) -> bool:
        """Whether the records were read already."""
        return self._records is not None

    @property
    def records(self) -> Sequence[ExecutionRecord]:
        """The selected records, read once and kept."""
        if self._records is None:
            if self._load is not None:
                self._records = list(self._load())
            else:
                assert self.store is not None
                self._records = list(self.store.read(self.entries))
        return self._records

    def stats(self) -> AggregatedStats:
        if self._stats is None:
            stats = self._in_store("stats")
            if stats is NotImplemented:  # one pass, keeping no entry unless kept already
                stats = AggregatedStats.compute(self.found())
            self._stats = stats
        return self._stats

    def stats_by_period(self, by: str, zone: tzinfo | None) -> dict[date, AggregatedStats]:
        if by not in PERIODS:
            raise ValueError(f"by must be one of {', '.join(PERIODS)}, not {by!r}")
        both = self._in_store("periods_with_stats", by, zone)
        if both is not NotImplemented:
            found, stats = both
            self._stats = self._stats or stats  # the same sums: no second pass for them
            return found
        found = self._in_store("stats_by_period", by, zone)
        return stats_by_period(self.entries, by, zone) if found is NotImplemented else found

    def phase_summaries(self) -> list[PhaseSummary]:
        found = self._in_store("phase_summaries")
        return phase_summaries(self.records) if found is NotImplemented else found

    def reason_counts(self, top: int | None = None) -> list[ReasonCount]:
        found = self._in_store("reason_counts", top)
        return reason_counts(self.records, top) if found is NotImplemented else found

    def usage(self, zone: tzinfo | None) -> Usage:
        both = self._in_store("usage_with_stats", zone)
        if both is not NotImplemented:
            found, stats = both
            self._stats = self._stats or stats
            return found
        found = self._in_store("usage", zone)
        return usage(self.entries, zone) if found is NotImplemented else found


class _Found:
    """The entries of a query, found in the store again at each iteration."""

    def __init__(self, store: Store, query: AnalyticsQuery | None, project: str | None) -> None:
        self.store, self.query, self.project = store, query, project

    def __iter__(self) -> Iterator[Entry]:
        return self.store.find(self.query, project=self.project)


# -- for backends that aggregate in SQL ------------------------------------------------------


#: StatsPart's figures, in the order of a row of ``_PARTS``, and where a part starts.
_DEFAULTS: dict[str, Any] = {
    "total": 0, "successful": 0, "partial": 0, "failed": 0,
    "durations": 0, "duration_sum": 0.0, "duration_min": None, "duration_max": None,
    "deltas": 0, "delta_sum": 0, "planned": 0, "completed": 0,
    "first_ts": None, "last_ts": None, "tokens": 0, "token_sum": 0, "costs": 0, "cost_sum": 0.0,
}  # fmt: skip
_FIELDS = list(_DEFAULTS)


class StatsPart:
    """Partial statistics of some executions, as a database sums them (see the SQLite
    store's ``_PARTS``): merged with :meth:`add`, finished with :meth:`stats`. Starts are
    timestamps here; :meth:`stats` is given the datetimes of the earliest and latest.

    Made from the figures of :data:`_DEFAULTS` by position or name (the others start at
    their default). A plain class: the SQLite store imports this module for ``show``, and
    a dataclass of 18 fields costs ~1 ms to define (docs/performance.md, "Start-up")."""

    __slots__ = tuple(_FIELDS)

    total: int
    successful: int
    partial: int
    failed: int
    durations: int
    duration_sum: float
    duration_min: float | None
    duration_max: float | None
    deltas: int
    delta_sum: int
    planned: int
    completed: int
    first_ts: float | None
    last_ts: float | None
    tokens: int
    token_sum: int
    costs: int
    cost_sum: float

    def __init__(self, *values: Any, **named: Any) -> None:
        if len(values) > len(_FIELDS):
            raise TypeError(f"StatsPart takes at most {len(_FIELDS)} figures")
        figures = {**_DEFAULTS, **dict(zip(_FIELDS, values, strict=False))}
        for name, value in named.items():
            if name not in _DEFAULTS or name in _FIELDS[: len(values)]:
                raise TypeError(f"StatsPart got an unknown or repeated figure {name!r}")
            figures[name] = value
        for name, value in figures.items():
            setattr(self, name, value)

    def __repr__(self) -> str:
        figures = ", ".join(f"{name}={getattr(self, name)!r}" for name in _FIELDS)
        return f"StatsPart({figures})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StatsPart):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in _FIELDS)

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def of_row(cls, row: Sequence[Any]) -> StatsPart:
        """From a row of the 18 values, in the order of the fields; ``NULL`` sums are 0."""
        if len(row) != len(_FIELDS):  # fewer: the rest at their defaults; more: TypeError
            return cls(*[0 if v is None and i in _SUMS else v for i, v in enumerate(row)])
        # A row per period or hour (trends reads a year of days): set the slots directly.
        part = cls.__new__(cls)
        for name, value in zip(_FIELDS, row, strict=True):
            setattr(part, name, 0 if value is None and name in _SUM_NAMES else value)
        return part

    def add(self, other: StatsPart) -> None:
        for name, mine, theirs in zip(_ADDED, _added(self), _added(other), strict=True):
            setattr(self, name, mine + theirs)
        self.duration_min = _low(self.duration_min, other.duration_min)
        self.first_ts = _low(self.first_ts, other.first_ts)
        self.duration_max = _high(self.duration_max, other.duration_max)
        self.last_ts = _high(self.last_ts, other.last_ts)

    def stats(self, earliest: datetime | None, latest: datetime | None) -> AggregatedStats:
        cost = self.cost_sum if self.costs else None
        return AggregatedStats(
            total_executions=self.total,
            successful=self.successful,
            partial=self.partial,
            failed=self.failed,
            avg_duration_seconds=self.duration_sum / self.durations if self.durations else None,
            min_duration_seconds=self.duration_min,
            max_duration_seconds=self.duration_max,
            total_duration_seconds=self.duration_sum if self.durations else None,
            total_test_delta=self.delta_sum if self.deltas else None,
            avg_test_delta=self.delta_sum / self.deltas if self.deltas else None,
            total_phases_executed=self.planned,
            total_phases_completed=self.completed,
            earliest_execution=earliest,
            latest_execution=latest,
            total_tokens=self.token_sum if self.tokens else None,
            total_cost_usd=round(cost, 6) if cost is not None else None,
        )


_SUMS = {_FIELDS.index(n) for n in ("duration_sum", "delta_sum", "planned", "completed",
                                    "token_sum", "cost_sum")}  # fmt: skip
_SUM_NAMES = frozenset(_FIELDS[i] for i in _SUMS)
_ADDED = [n for n in _FIELDS if not n.endswith(("_min", "_max", "_ts"))]
_added = operator.attrgetter(*_ADDED)


def _low(a: Any, b: Any) -> Any:
    return b if a is None or (b is not None and b < a) else a


def _high(a: Any, b: Any) -> Any:
    return b if a is None or (b is not None and b > a) else a


#: How far apart :func:`offset_changes` looks at a zone's offset: no zone changes it twice
#: within six hours.
PROBE_SECONDS = 6 * 3600
EPOCH_DAY = date(1970, 1, 1)


def utc_moment(timestamp: float) -> datetime:
    """The instant of a POSIX timestamp, in UTC (to the microsecond)."""
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=timestamp)


def _offset(zone: tzinfo | None, timestamp: float) -> float:
    if zone is None:  # what astimezone() reads for the local zone, without the datetimes
        return float(time.localtime(math.floor(timestamp)).tm_gmtoff)
    offset = utc_moment(timestamp).astimezone(zone).utcoffset()
    return offset.total_seconds() if offset is not None else 0.0


def offset_changes(
    zone: tzinfo | None, low: float, high: float
) -> tuple[float, list[tuple[int, float]]]:
    """``zone``'s UTC offset in seconds at ``low``, and each change of it up to ``high``
    as ``(first second of the new offset, new offset)``: what a database needs to turn
    starts into local times (``started + offset``) the way ``astimezone(zone)`` does,
    daylight saving included. Zones change offsets at whole seconds."""
    if isinstance(zone, timezone):  # a fixed offset (UTC, --zone +05:30): nothing to probe
        return _offset(zone, low), []
    moment, end = math.floor(low), math.floor(high)
    current = first = _offset(zone, moment)
    changes: list[tuple[int, float]] = []
    while moment < end:
        probe = min(moment + PROBE_SECONDS, end)
        if _offset(zone, probe) == current:
            moment = probe
            continue
        before, after = moment, probe  # the first second of the new offset is in (before, after]
        while after - before > 1:
            middle = (before + after) // 2
            if _offset(zone, middle) == current:
                before = middle
            else:
                after = middle
        current = _offset(zone, after)
        changes.append((after, current))
        moment = after
    return first, changes


def whole_hour_offsets(
    zone: tzinfo | None, low: float, high: float
) -> tuple[int, list[tuple[int, int]]] | None:
    """:func:`offset_changes` in whole hours (the offset at ``low``, and each change as
    ``(first hour of the new offset, new offset)``), or ``None`` when an offset or a
    change of it is not a whole hour (+05:30, +05:45): then a UTC hour can span two local
    hours, and a store's per-hour partial sums cannot be bucketed by local hour."""
    first, changes = offset_changes(zone, low, high)
    if first % 3600 or any(at % 3600 or offset % 3600 for at, offset in changes):
        return None
    return int(first) // 3600, [(at // 3600, int(offset) // 3600) for at, offset in changes]


def local_day(number: int) -> date:
    """The date of a day number counted from 1970-01-01 (a local day, in SQL)."""
    return EPOCH_DAY + timedelta(days=number)


def local_seconds_sql(zone: tzinfo | None, low: float, high: float, seconds: str) -> str:
    """SQL for a start as seconds of local time in ``zone``: ``seconds`` (the start as a POSIX
    timestamp, an SQL expression) plus the zone's offset at that moment, from
    :func:`offset_changes` over the starts from ``low`` to ``high``. Both database stores
    bucket local days and hours with it, so they count in a zone as ``astimezone`` does."""
    first, changes = offset_changes(zone, low, high)
    if not changes:
        return f"({seconds} + {first!r})"
    offsets = [first, *(offset for _, offset in changes)]
    cases = [f"WHEN {seconds} < {moment} THEN {offsets[i]!r}"
             for i, (moment, _) in enumerate(changes)]  # fmt: skip
    return f"({seconds} + CASE {' '.join(cases)} ELSE {offsets[-1]!r} END)"


#: SQL over ``hour``, a start's local hour counted from 1970-01-01 00:00 (an integer): its
#: local day number (``floor(hour / 24)``, for :func:`local_day`), its hour of the day, and
#: its weekday (Monday 0; 1970-01-01 was a Thursday).
LOCAL_DAY_SQL = "((hour - ((hour % 24) + 24) % 24) / 24)"
HOUR_OF_DAY_SQL = "((hour % 24) + 24) % 24"
WEEKDAY_SQL = f"(({LOCAL_DAY_SQL} + 3) % 7 + 7) % 7"


def parts_by_period(
    rows: Iterable[tuple[tuple[int], StatsPart]], by: str
) -> dict[date, StatsPart]:
    """Partial statistics by local day number (rows grouped by :data:`LOCAL_DAY_SQL`)
    merged into the periods (``day``, ``week``, ``month``) their days fall in."""
    parts: dict[date, StatsPart] = {}
    for (day,), part in rows:
        start = period_of_day(local_day(day), by)
        if start in parts:
            parts[start].add(part)
        else:
            parts[start] = part
    return parts


def usage_of_parts(rows: Iterable[tuple[tuple[int, int], StatsPart]]) -> Usage:
    """:class:`Usage` from partial statistics grouped by :data:`HOUR_OF_DAY_SQL` and
    :data:`WEEKDAY_SQL`."""
    counts = Usage()
    for (hour, day), part in rows:
        counts.hours[hour] += part.total
        counts.days[day] += part.total
        counts.hours_failed[hour] += part.failed
        counts.days_failed[day] += part.failed
    return counts
