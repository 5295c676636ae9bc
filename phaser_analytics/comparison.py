"""``compare``: two executions side by side, with the deltas, as a breakdown every format
shows (docs/insights.md).

Each row carries the values as people read them (``a``, ``b``, ``delta``, shown by the
table and markdown) and as data (``a_value``, ``b_value``, ``delta_value``, which JSON and
CSV carry too).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .formatting import (
    UNKNOWN,
    clean_text,
    format_cost,
    format_count,
    format_delta,
    format_duration,
    format_timestamp,
)
from .hookspecs import Breakdown, Column
from .models import ExecutionRecord, datetime_to_json

_TOKEN_KINDS = ("input", "output", "cache_creation", "cache_read", "total")


def _signed(shown: Callable[[float], str]) -> Callable[[float], str]:
    def signed(value: float) -> str:
        if value == 0:
            return "0"
        text = shown(abs(value))
        return ("+" if value > 0 else "-") + text

    return signed


def _difference(a: Any, b: Any) -> Any:
    if isinstance(a, bool) or isinstance(b, bool):
        return None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        delta = b - a
        return round(delta, 6) if isinstance(delta, float) else delta
    return None


def _row(
    field: str, a: Any, b: Any, shown: Callable[[Any], str], delta_shown: Callable[[Any], str]
) -> dict[str, Any]:
    delta = _difference(a, b)
    return {
        "field": field,
        "a": shown(a) if a is not None else UNKNOWN,
        "b": shown(b) if b is not None else UNKNOWN,
        "delta": delta_shown(delta) if delta is not None else "",
        "a_value": a,
        "b_value": b,
        "delta_value": delta,
    }


def _text_row(field: str, a: Any, b: Any) -> dict[str, Any]:
    same = a == b
    return {
        "field": field,
        "a": clean_text(a) if a is not None else UNKNOWN,
        "b": clean_text(b) if b is not None else UNKNOWN,
        "delta": "same" if same else "changed",
        "a_value": a,
        "b_value": b,
        "delta_value": None,
    }


def _tokens(record: ExecutionRecord, kind: str) -> int | None:
    return record.tokens.get(kind) if record.tokens else None


def _phases(record: ExecutionRecord) -> str | None:
    if record.phases_planned is None and record.phases_completed is None:
        return None
    planned = record.phases_planned if record.phases_planned is not None else "?"
    return f"{record.phases_completed if record.phases_completed is not None else '?'}/{planned}"


def compare(a: ExecutionRecord, b: ExecutionRecord) -> Breakdown:
    """``a`` and ``b`` (usually the older first) side by side, then their phases matched
    by number."""
    integer = format_count
    delta = format_delta
    rows = [
        _text_row("document", a.audit_document, b.audit_document),
        {
            "field": "started",
            "a": format_timestamp(a.started_at, date_only=a.date_only),
            "b": format_timestamp(b.started_at, date_only=b.date_only),
            "delta": "",
            "a_value": datetime_to_json(a.started_at),
            "b_value": datetime_to_json(b.started_at),
            "delta_value": None,
        },
        _text_row("status", a.status.value, b.status.value),
        _text_row("phases completed", _phases(a), _phases(b)),
        _row(
            "duration",
            a.duration_seconds,
            b.duration_seconds,
            format_duration,
            _signed(format_duration),
        ),
        _row("tests before", a.baseline_tests, b.baseline_tests, integer, delta),
        _row("tests after", a.final_tests, b.final_tests, integer, delta),
        _row("test delta", a.test_delta, b.test_delta, format_delta, delta),
        _row("lines added", a.lines_added, b.lines_added, integer, delta),
        _row("lines removed", a.lines_removed, b.lines_removed, integer, delta),
        _row("files changed", a.files_changed, b.files_changed, integer, delta),
        _row("commits", a.commit_count, b.commit_count, integer, delta),
    ]
    tokens_delta = _signed(format_count)
    for kind in _TOKEN_KINDS:
        label = "tokens" if kind == "total" else f"tokens {kind.replace('_', ' ')}"
        rows.append(_row(label, _tokens(a, kind), _tokens(b, kind), integer, tokens_delta))
    rows.append(_row("cost", a.cost_usd, b.cost_usd, format_cost, _signed(format_cost)))
    return Breakdown(
        name="compare",
        title=f"Compare {a.short_id} (A) with {b.short_id} (B)",
        columns=[
            Column("field", ""),
            Column("a", f"A {a.short_id}"),
            Column("b", f"B {b.short_id}"),
            Column("delta", "Δ B − A"),
        ],
        rows=rows,
        sections=[compare_phases(a, b)],
    )


def compare_phases(a: ExecutionRecord, b: ExecutionRecord) -> Breakdown:
    """The phases of both, matched by number: status, duration and commit of each."""
    by_a = {p.phase_number: p for p in a.phases}
    by_b = {p.phase_number: p for p in b.phases}
    rows = []
    for number in sorted(set(by_a) | set(by_b)):
        pa, pb = by_a.get(number), by_b.get(number)
        da = pa.duration_seconds if pa else None
        db = pb.duration_seconds if pb else None
        rows.append(
            {
                "phase": number,
                "title": (pb or pa).title if (pb or pa) else "",
                "a_status": pa.status.value if pa else None,
                "b_status": pb.status.value if pb else None,
                "a_duration": da,
                "b_duration": db,
                "duration_delta": _difference(da, db),
                "a_commit": pa.commit_sha if pa else None,
                "b_commit": pb.commit_sha if pb else None,
            }
        )
    return Breakdown(
        name="compare_phases",
        title="Phases, matched by number",
        columns=[
            Column("phase", "Phase", "int"),
            Column("title", "Title"),
            Column("a_status", "A status"),
            Column("b_status", "B status"),
            Column("a_duration", "A time", "duration"),
            Column("b_duration", "B time", "duration"),
            Column("duration_delta", "Δ time", "duration_delta"),
            Column("a_commit", "A commit"),
            Column("b_commit", "B commit"),
        ],
        rows=rows,
    )
