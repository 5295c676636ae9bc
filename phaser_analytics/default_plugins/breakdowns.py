"""How the built-in formats show a :class:`~phaser_analytics.hookspecs.Breakdown`: the tables
of ``trends``, ``projects``, ``phases`` and ``failures``.

Each built-in renderer's ``render`` hands a view that carries a breakdown to the function
of its format here. A breakdown's further ``sections`` follow it: another framed table,
another markdown table, another JSON object, another CSV block after a blank line.
Values are shown by their column's ``kind``; an unknown value is :data:`UNKNOWN` in text
and ``null`` (empty in CSV) in data.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
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
    json_safe,
)
from phaser_analytics.models import datetime_to_json, utcnow

if TYPE_CHECKING:
    from phaser_analytics.hookspecs import Breakdown, Column, RenderView

#: Output document version of ``render_json``; bump the major on a breaking change.
OUTPUT_SCHEMA_VERSION = "1.0"
NO_ROWS = "No executions match."
_NUMERIC = frozenset({"int", "rate", "duration", "duration_delta", "delta", "tokens", "cost"})


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


# -- table --------------------------------------------------------------------------------


def _box(breakdown: Breakdown, width: int) -> list[str]:
    from phaser_analytics.default_plugins import table

    columns = [
        table.Column(
            column.title,
            align="right" if column.kind in _NUMERIC else "left",
            flexible=column.kind == "text",
            min_width=min(len(column.title), 8) or 1,
        )
        for column in breakdown.columns
    ]
    rows = [
        [table.Cell(show_value(row.get(c.key), c.kind)) for c in breakdown.columns]
        for row in breakdown.rows
    ]
    lines = [] if rows else [table.Cell(NO_ROWS)]
    box = table.Box(breakdown.title, lines, columns if rows else [], rows)
    return table.draw_box(box, max_width=width)


def render_table(view: RenderView) -> str:
    """Framed tables in the table renderer's rounded style, then its summary line."""
    from phaser_analytics.default_plugins import table

    assert view.breakdown is not None
    width = view.option("width")
    width = width if isinstance(width, int) and width > 0 else table.DEFAULT_WIDTH
    blocks = ["\n".join(_box(b, width)) for b in all_breakdowns(view.breakdown)]
    return "\n\n".join([*blocks, table.summary_line(view.stats)])


# -- json ---------------------------------------------------------------------------------


def breakdown_dict(breakdown: Breakdown) -> dict[str, Any]:
    return {
        "name": breakdown.name,
        "title": breakdown.title,
        "columns": [{"key": c.key, "title": c.title, "kind": c.kind} for c in breakdown.columns],
        "rows": [{k: data_value(v) for k, v in row.items()} for row in breakdown.rows],
        "sections": [breakdown_dict(section) for section in breakdown.sections],
    }


def render_json(view: RenderView) -> str:
    """``{schema_version, command, query, project | projects, time_zone, breakdown, stats,
    generated_at}``; every row keeps all its keys, shown columns or not."""
    assert view.breakdown is not None
    document: dict[str, Any] = {
        "schema_version": OUTPUT_SCHEMA_VERSION,
        "command": view.command,
        "query": view.query.to_dict(),
        "project": dict(view.project) if view.project is not None else None,
    }
    if view.project is None:
        document["projects"] = list(view.projects)
    document["time_zone"] = view.option("time_zone")
    document["breakdown"] = breakdown_dict(view.breakdown)
    document["stats"] = view.stats.to_dict()
    document["generated_at"] = datetime_to_json(view.generated_at or utcnow())
    return json_safe(json.dumps(document, indent=2, ensure_ascii=False, default=str))


# -- csv ----------------------------------------------------------------------------------


def _csv_cell(value: Any) -> str:
    from phaser_analytics.default_plugins.csv_format import cell

    return cell(data_value(value))


def _csv_block(breakdown: Breakdown) -> str:
    keys = _row_keys(breakdown)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(keys)
    for row in breakdown.rows:
        writer.writerow([_csv_cell(row.get(key)) for key in keys])
    return buffer.getvalue().rstrip("\n")


def _row_keys(breakdown: Breakdown) -> list[str]:
    """The shown columns first, then any other key the rows carry (``start``, ``path``…)."""
    keys = [column.key for column in breakdown.columns]
    for row in breakdown.rows:
        keys.extend(key for key in row if key not in keys)
    return keys


def render_csv(view: RenderView) -> str:
    """One CSV block per breakdown, header row first, blocks separated by a blank line;
    cells are the csv renderer's (numbers as numbers, formulas defused)."""
    assert view.breakdown is not None
    return "\n\n".join(_csv_block(b) for b in all_breakdowns(view.breakdown))


# -- markdown -----------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _md_table(breakdown: Breakdown) -> str:
    columns: Sequence[Column] = breakdown.columns
    lines = [f"## {_md_cell(breakdown.title)}", ""]
    if not breakdown.rows:
        return "\n".join([*lines, NO_ROWS])
    lines.append("| " + " | ".join(_md_cell(c.title) or " " for c in columns) + " |")
    lines.append("|" + "|".join("---:" if c.kind in _NUMERIC else "---" for c in columns) + "|")
    for row in breakdown.rows:
        cells = [_md_cell(show_value(row.get(c.key), c.kind)) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_markdown(view: RenderView) -> str:
    """A ``#`` heading naming the command and the project, then one table per breakdown."""
    assert view.breakdown is not None
    where = view.project["name"] if view.project else "all projects"
    heading = f"# Phaser Analytics: {view.command} ({_md_cell(str(where))})"
    tables = [_md_table(b) for b in all_breakdowns(view.breakdown)]
    return "\n\n".join([heading, *tables])
