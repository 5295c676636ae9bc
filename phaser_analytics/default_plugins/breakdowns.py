"""What the built-in formats share to show a :class:`~phaser_analytics.hookspecs.Breakdown`
(the tables of ``trends``, ``projects``, ``phases`` and ``failures``): the order of its
sections, and its values as text or as data.

Each built-in renderer draws a breakdown in its own module (``table``, ``json_format``,
``csv_format``, ``markdown_format``); a breakdown's further ``sections`` follow it: another
framed table, another markdown table, another JSON object, another CSV block after a blank
line. Values are shown by their column's ``kind``; an unknown value is :data:`UNKNOWN` in
text and ``null`` (empty in CSV) in data. This module imports no renderer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from phaser_analytics.formatting import (
    UNKNOWN,
    clean_text,
    format_cost,
    format_count,
    format_delta,
    format_duration,
    format_percent,
)
from phaser_analytics.models import datetime_to_json

if TYPE_CHECKING:
    from phaser_analytics.hookspecs import Breakdown

NO_ROWS = "No executions match."
#: Column kinds shown right-aligned.
NUMERIC = frozenset({"int", "rate", "duration", "duration_delta", "delta", "tokens", "cost"})


def _duration_delta(seconds: Any) -> str:
    """A change of duration: ``+5m 10s``, ``-1h 02m``, ``0``."""
    if not seconds:
        return format_duration(seconds) if seconds is None else "0"
    return ("+" if seconds > 0 else "-") + format_duration(abs(seconds))


_FORMATTERS: dict[str, Callable[[Any], str]] = {
    "rate": format_percent,
    "duration": format_duration,
    "duration_delta": _duration_delta,
    "delta": format_delta,
    "tokens": format_count,
    "cost": format_cost,
}


def all_breakdowns(breakdown: Breakdown) -> Iterator[Breakdown]:
    """The breakdown, then its sections (and theirs), in order."""
    yield breakdown
    for section in breakdown.sections:
        yield from all_breakdowns(section)


def show_value(value: Any, kind: str) -> str:
    """A value as people read it, by its column's kind."""
    if value is None:
        return UNKNOWN
    shown = _FORMATTERS.get(kind)
    if shown is not None:
        return shown(value)
    if isinstance(value, datetime):
        # Already in the zone the command was asked for; the offset is in the title.
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return clean_text(value)


def data_value(value: Any) -> Any:
    """A value for JSON and CSV: datetimes as ISO 8601 with their offset."""
    if isinstance(value, datetime):
        return datetime_to_json(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def row_keys(breakdown: Breakdown) -> list[str]:
    """The shown columns first, then any other key the rows carry (``start``, ``path``…)."""
    keys = [column.key for column in breakdown.columns]
    for row in breakdown.rows:
        keys.extend(key for key in row if key not in keys)
    return keys
