"""The ``table`` renderer: the framed terminal table of spec §8.1, and §8.2 with --verbose.

Every width is a display width (wcwidth), so ✅, ⚠️, ❌ and CJK text take the two columns
a terminal gives them and never push the frame out of line. The table fits
``options["width"]``: long documents, projects and phase titles are shortened with "…".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from phaser_analytics.default_plugins import breakdowns
from phaser_analytics.formatting import (
    UNKNOWN,
    clean_text,
    display_width,
    format_cost,
    format_count,
    format_delta,
    format_duration,
    format_percent,
    format_timestamp,
    format_when,
    truncate_to_width,
)
from phaser_analytics.machine import imported_from

if TYPE_CHECKING:
    from phaser_analytics.hookspecs import Breakdown, RenderView
    from phaser_analytics.models import AggregatedStats, ExecutionRecord, PhaseRecord

NO_DATA = "No analytics data found. Run 'phaser analytics import EXECUTION_REPORT.md' to import."
DEFAULT_WIDTH = 100

# ANSI SGR colours for statuses (execution and phase values share the words' colours).
_STATUS_STYLE = {
    "success": "32",
    "completed": "32",
    "partial": "33",
    "skipped": "33",
    "failed": "31",
}
_LABEL_WIDTH = 12  # "Completed:" plus the spacing spec §8.2 shows


# GridColumn, Cell and Box are plain classes, not dataclasses: every command that draws a
# table imports this module, and a frozen dataclass costs ~0.4 ms to define
# (docs/performance.md, "Start-up").


class GridColumn:
    """A column of a framed grid (not a breakdown's :class:`~phaser_analytics.hookspecs.Column`).

    Flexible columns shrink (down to ``min_width``) to fit the width, and grow to fill the
    frame when the title is wider than the grid."""

    __slots__ = ("align", "flexible", "header", "min_width")

    def __init__(
        self, header: str, align: str = "left", flexible: bool = False, min_width: int = 1
    ) -> None:
        self.header = header
        self.align = align
        self.flexible = flexible
        self.min_width = min_width


class Cell:
    """A cell's text; ``style`` is an ANSI SGR code, used only when colour is on, from
    ``style_from`` on (a label stays uncoloured)."""

    __slots__ = ("style", "style_from", "text")

    def __init__(self, text: str, style: str | None = None, style_from: int = 0) -> None:
        self.text = text
        self.style = style
        self.style_from = style_from


def _cell(value: Any, style: str | None = None, style_from: int = 0) -> Cell:
    return Cell(clean_text(UNKNOWN if value is None else value), style, style_from)


def _grid_inner(widths: Sequence[int]) -> int:
    """Columns between the outer │ of a grid line ``│ a │ b │``."""
    return sum(widths) + 3 * (len(widths) - 1) + 2


def _fit_widths(
    columns: Sequence[GridColumn], natural: list[int], wanted_inner: int, max_inner: int
) -> list[int]:
    """Column widths whose grid is ``min(wanted_inner, max_inner)`` wide, or as close as the
    columns' minimum widths allow."""
    widths = list(natural)
    target = min(max(_grid_inner(widths), wanted_inner), max_inner)
    flexible = [i for i, column in enumerate(columns) if column.flexible]
    excess = _grid_inner(widths) - target
    if excess < 0:
        widths[flexible[-1] if flexible else -1] -= excess
    while excess > 0:
        shrinkable = [i for i in flexible if widths[i] > columns[i].min_width]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    return widths


def _styled(text: str, style: str | None, color: bool) -> str:
    return f"\x1b[{style}m{text}\x1b[0m" if color and style else text


def _place(cell: Cell, width: int, align: str, color: bool) -> str:
    """The cell in exactly ``width`` columns; colour wraps the text, not the padding."""
    text = cell.text
    measured = display_width(text)  # once: most cells fit, and are not measured again
    if measured > width:
        text = truncate_to_width(text, width)
        measured = display_width(text)
    gap = width - measured
    left = gap if align == "right" else gap // 2 if align == "center" else 0
    start = cell.style_from
    shown = text[:start] + _styled(text[start:], cell.style, color)
    return " " * left + shown + " " * (gap - left)


#: A text line of a box (an execution's Issues, its branch) wider than this wraps; in a
#: box with a grid, one wider than the grid (but not narrower than LINE_MIN) does.
LINE_WRAP = 76
LINE_MIN = 40


def _wrapped(cell: Cell, width: int) -> list[Cell]:
    """``cell`` in lines of at most ``width`` columns, broken at spaces, the continuation
    lines indented as far as its label (``style_from``); a word longer than a line is cut
    with "…" by :func:`_place`."""
    if display_width(cell.text) <= width or width <= cell.style_from + 1:
        return [cell]
    indent = " " * cell.style_from
    lines: list[str] = []
    current, has_words = cell.text[: cell.style_from], False
    for word in cell.text[cell.style_from :].split(" "):
        candidate = current + (" " if has_words else "") + word
        if has_words and display_width(candidate) > width:
            lines.append(current)
            current = indent + word
        else:
            current = candidate
        has_words = True
    lines.append(current)
    return [Cell(text, cell.style, cell.style_from) for text in lines]


def _rule(left: str, joint: str, right: str, widths: Sequence[int]) -> str:
    return left + joint.join("─" * (width + 2) for width in widths) + right


class Box:
    """A rounded frame: a centred title, free text lines, then a grid (if ``columns``)."""

    __slots__ = ("_natural", "columns", "lines", "rows", "title")

    def __init__(
        self,
        title: str,
        lines: Sequence[Cell] = (),
        columns: Sequence[GridColumn] = (),
        rows: Sequence[Sequence[Cell]] = (),
    ) -> None:
        self.title = title
        self.lines = lines
        self.columns = columns
        self.rows = rows
        self._natural: list[int] | None = None

    def text_inner(self) -> int:
        """The width the title and text lines ask for; a text line asks for at most
        :data:`LINE_WRAP` columns (a longer one wraps rather than widening the box and
        stretching its grid)."""
        # With a grid, lines wrap at the grid's own width (columns sized to their content,
        # never stretched by a long line), but no narrower than LINE_MIN.
        cap = LINE_WRAP
        if self.columns:
            cap = max(_grid_inner(self.natural_column_widths()) - 2, LINE_MIN)
        widths = [display_width(clean_text(self.title))]
        widths += [min(display_width(line.text), cap) for line in self.lines]
        return max(widths) + 2

    def natural_column_widths(self) -> list[int]:
        """Each column's widest cell, measured once (drawing a box asks up to four times:
        a trends table of a year is ~2,500 cells)."""
        if self._natural is None:
            self._natural = [
                max([display_width(column.header)]
                    + [display_width(row[i].text) for row in self.rows])
                for i, column in enumerate(self.columns)
            ]  # fmt: skip
        return list(self._natural)

    def natural_width(self) -> int:
        """The frame's width when nothing is shortened."""
        grid = _grid_inner(self.natural_column_widths()) if self.columns else 0
        return max(self.text_inner(), grid) + 2


def draw_box(box: Box, *, max_width: int, min_width: int = 0, color: bool = False) -> list[str]:
    """The lines of ``box``, every one of the same display width: at least ``min_width``, at
    most ``max_width`` unless the grid's minimum column widths need more."""
    max_inner = max(max_width - 2, 4)
    wanted = max(box.text_inner(), min_width - 2)
    if box.columns:
        widths = _fit_widths(box.columns, box.natural_column_widths(), wanted, max_inner)
        inner = _grid_inner(widths)
    else:
        widths = []
        inner = min(wanted, max_inner)

    def text_line(cell: Cell, align: str = "left") -> str:
        return "│ " + _place(cell, inner - 2, align, color) + " │"

    out = ["╭" + "─" * inner + "╮", text_line(_cell(box.title), "center")]
    if box.lines:
        out.append("├" + "─" * inner + "┤")
        for line in box.lines:
            out.extend(text_line(piece) for piece in _wrapped(line, inner - 2))
    if not box.columns:
        out.append("╰" + "─" * inner + "╯")
        return out
    out.append(_rule("├", "┬", "┤", widths))
    headers = [Cell(column.header) for column in box.columns]
    for i, row in enumerate([headers, *box.rows]):
        cells = [
            _place(cell, width, column.align, color)
            for cell, width, column in zip(row, widths, box.columns, strict=True)
        ]
        out.append("│ " + " │ ".join(cells) + " │")
        if i == 0:
            out.append(_rule("├", "┼", "┤", widths))
    out.append(_rule("╰", "┴", "╯", widths))
    return out


def _document(record: ExecutionRecord) -> str:
    return record.audit_document or record.document_title or record.short_id


def _project(record: ExecutionRecord, origin: dict[str, Any] | None = None) -> str | None:
    if origin is not None and origin.get("name"):
        return str(origin["name"])
    if record.project_name:
        return record.project_name
    return PurePath(record.project_path).name if record.project_path else None


def _overview(view: RenderView, max_width: int, color: bool) -> list[str]:
    """The executions, one row each. On a narrow terminal the time of day goes first, then
    the ID column, before the frame would overflow the width."""
    count = len(view.records)
    title = f"Phaser Analytics - Last {count} Execution{'' if count == 1 else 's'}"
    box = None
    for with_id, with_time in ((True, True), (True, False), (False, False)):
        box = _overview_box(view, title, with_id, with_time)
        if _minimum_width(box) <= max_width:
            break
    assert box is not None
    return draw_box(box, max_width=max_width, color=color)


def _minimum_width(box: Box) -> int:
    """The narrowest frame ``box``'s grid can take, its flexible columns at their minimum."""
    widths = [
        min(natural, column.min_width) if column.flexible else natural
        for column, natural in zip(box.columns, box.natural_column_widths(), strict=True)
    ]
    return _grid_inner(widths) + 2


def _overview_box(view: RenderView, title: str, with_id: bool, with_time: bool) -> Box:
    is_global = view.project is None
    columns = [
        *([GridColumn("ID")] if with_id else []),
        GridColumn("Date"),
        *([GridColumn("Project", flexible=True, min_width=7)] if is_global else []),
        GridColumn("Document", flexible=True, min_width=8),
        GridColumn("Status"),
        GridColumn("Duration"),
        GridColumn("Δ Tests"),
    ]
    rows = []
    zone = view.option("zone")
    flagged = view.option("anomalies") or {}
    for index, record in enumerate(view.records):
        delta = record.test_delta
        when = format_when(record.started_at, zone, date_only=record.date_only)
        mark = f" {ANOMALY_MARK}" if record.execution_id in flagged else ""
        rows.append(
            [
                *([_cell(record.short_id)] if with_id else []),
                _cell(when if with_time else when[:10]),
                *([_cell(_project(record, view.origin(index)))] if is_global else []),
                _cell(_document(record)),
                _cell(record.status.symbol + mark, _STATUS_STYLE[record.status.value]),
                _cell(format_duration(record.duration_seconds)),
                _cell(format_delta(delta), "31" if delta is not None and delta < 0 else None),
            ]
        )
    return Box(title, (), columns, rows)


def _detail_lines(
    record: ExecutionRecord,
    is_global: bool,
    origin: dict[str, Any] | None = None,
    zone: Any = None,
) -> list[Cell]:
    def line(label: str, value: Any, style: str | None = None) -> Cell:
        shown = UNKNOWN if value is None else value
        caption = f"{label}:" if label else ""
        return _cell(f"{caption:<{_LABEL_WIDTH}}{shown}", style, _LABEL_WIDTH)

    lines = []
    if is_global:
        lines.append(line("Project", _project(record, origin)))
    status = record.status
    lines += [
        line("Started", format_timestamp(record.started_at, date_only=record.date_only, zone=zone)),
        line(
            "Completed",
            format_timestamp(record.completed_at, date_only=record.date_only, zone=zone),
        ),
        line("Duration", format_duration(record.duration_seconds, precise=True)),
        line("Status", f"{status.symbol} {status.label}", _STATUS_STYLE[status.value]),
    ]
    if record.branch or not record.tag:
        lines.append(line("Branch", record.branch))
    if record.tag:
        lines.append(line("Tag", record.tag))
    lines.append(line("Commits", record.commit_count))
    files = None if record.files_changed is None else f"{record.files_changed} changed"
    if files and (record.lines_added is not None or record.lines_removed is not None):
        files += f" (+{record.lines_added or 0} -{record.lines_removed or 0} lines)"
    lines.append(line("Files", files))
    if record.total_tokens is not None:
        lines.append(line("Tokens", format_count(record.total_tokens)))
    if record.cost_usd is not None:
        lines.append(line("Cost", format_cost(record.cost_usd)))
    machine = imported_from(record.extra)
    if machine is not None:
        lines.append(line("Machine", machine))
    for i, reason in enumerate(record.failure_reasons):
        lines.append(line("Issues" if i == 0 else "", reason))
    return lines


def _phase_grid(phases: Sequence[PhaseRecord]) -> tuple[list[GridColumn], list[list[Cell]]]:
    """Phase | Title | Status | Commit, plus Tests and Duration when some phase knows them."""
    with_tests = any(phase.test_delta is not None for phase in phases)
    with_duration = any(phase.duration_seconds is not None for phase in phases)
    columns = [
        GridColumn("Phase", align="right"),
        GridColumn("Title", flexible=True, min_width=8),
        GridColumn("Status"),
        GridColumn("Commit"),
        *([GridColumn("Tests")] if with_tests else []),
        *([GridColumn("Duration")] if with_duration else []),
    ]
    rows = []
    for phase in phases:
        row = [
            _cell(phase.phase_number),
            _cell(phase.title),
            _cell(phase.status.symbol, _STATUS_STYLE[phase.status.value]),
            _cell(phase.commit_sha[:7] if phase.commit_sha else None),
        ]
        if with_tests:
            row.append(_cell(format_delta(phase.test_delta)))
        if with_duration:
            row.append(_cell(format_duration(phase.duration_seconds)))
        rows.append(row)
    return columns, rows


def _details_box(
    record: ExecutionRecord,
    is_global: bool,
    max_width: int,
    origin: dict[str, Any] | None = None,
    zone: Any = None,
) -> Box:
    columns, rows = _phase_grid(record.phases) if record.phases else ([], [])
    suffix = " - Details"
    # Shorten the document, not the words that say what the box is.
    room = max(max_width - 4 - display_width(suffix), 1)
    title = truncate_to_width(clean_text(_document(record)), room) + suffix
    return Box(title, _detail_lines(record, is_global, origin, zone), columns, rows)


def _details(view: RenderView, max_width: int, color: bool) -> list[list[str]]:
    """One box per execution (spec §8.2), all as wide as the widest, so they line up."""
    boxes = [
        _details_box(r, view.project is None, max_width, view.origin(i), view.option("zone"))
        for i, r in enumerate(view.records)
    ]
    width = min(max(box.natural_width() for box in boxes), max_width)
    return [draw_box(b, max_width=max_width, min_width=width, color=color) for b in boxes]


def _tests(delta: int | None) -> str:
    if delta is None:
        return UNKNOWN
    return f"{format_delta(delta)} test{'' if abs(delta) == 1 else 's'}"


def summary_line(stats: AggregatedStats) -> str:
    """``Summary: 5 executions | 3 successful (60%) | Avg: 1h 11m | Total Δ: +172 tests``."""
    count = stats.total_executions
    parts = [
        f"{count} execution{'' if count == 1 else 's'}",
        f"{stats.successful} successful ({format_percent(stats.success_rate)})",
        f"Avg: {format_duration(stats.avg_duration_seconds)}",
        f"Total Δ: {_tests(stats.total_test_delta)}",
    ]
    if stats.total_tokens is not None:
        parts.append(f"Tokens: {format_count(stats.total_tokens)}")
    if stats.total_cost_usd is not None:
        parts.append(f"Cost: {format_cost(stats.total_cost_usd)}")
    return "Summary: " + " | ".join(parts)


#: The width of output that is not to be cut: piped without COLUMNS (the view's width is
#: ``None``), every column keeps its content.
UNLIMITED = 1_000_000


def wrap_summary(summary: str, width: int) -> str:
    """The summary line in ``width`` columns: broken between its ``|``-separated parts, the
    continuation lines indented under the first part, never in the middle of a word."""
    head, _, rest = summary.partition(": ")
    parts = rest.split(" | ")
    indent = " " * (len(head) + 2)
    lines = [f"{head}: {parts[0]}"]
    for part in parts[1:]:
        candidate = f"{lines[-1]} | {part}"
        if display_width(candidate) <= width:
            lines[-1] = candidate
        else:
            lines[-1] += " |"
            lines.append(indent + part)
    return "\n".join(lines)


def _width_option(value: Any) -> int:
    try:
        width = int(value)
    except (TypeError, ValueError):
        return DEFAULT_WIDTH
    return width if width > 0 else DEFAULT_WIDTH


def no_match(view: RenderView) -> str:
    """The line for a store with executions of which the filters keep none."""
    query = view.query
    zone = view.option("zone")
    filters = []
    if query.since is not None:
        filters.append(f"--since {format_when(query.since, zone)}")
    if query.until is not None:
        filters.append(f"--until {format_when(query.until, zone)}")
    if query.status is not None:
        filters.append(f"--status {query.status.value}")
    if query.document:
        filters.append(f"--document {query.document}")
    described = f" {', '.join(filters)}" if filters else " the filters"
    return clean_text(f"No executions match{described}.")


# -- breakdowns (trends, projects, phases, failures) ---------------------------------


def _breakdown_box(breakdown: Breakdown, width: int) -> list[str]:
    columns = [
        GridColumn(
            column.title,
            align="right" if column.kind in breakdowns.NUMERIC else "left",
            flexible=column.kind == "text",
            min_width=min(len(column.title), 8) or 1,
        )
        for column in breakdown.columns
    ]
    rows = [
        [Cell(breakdowns.show_value(row.get(c.key), c.kind)) for c in breakdown.columns]
        for row in breakdown.rows
    ]
    lines = [] if rows else [Cell(breakdown.empty or breakdowns.NO_ROWS)]
    box = Box(breakdown.title, lines, columns if rows else [], rows)
    return draw_box(box, max_width=width)


def render_breakdown(view: RenderView) -> str:
    """Framed tables in the table renderer's rounded style, then its summary line."""
    assert view.breakdown is not None
    width = _view_width(view)
    blocks = [
        "\n".join(_breakdown_box(b, width)) for b in breakdowns.all_breakdowns(view.breakdown)
    ]
    return "\n\n".join([*blocks, wrap_summary(summary_line(view.stats), width)])


def _view_width(view: RenderView) -> int:
    """The view's ``width``: :data:`DEFAULT_WIDTH` when it has none (the Python API),
    :data:`UNLIMITED` when it says ``None`` (output piped without COLUMNS)."""
    if "width" in view.options and view.options["width"] is None:
        return UNLIMITED
    return _width_option(view.option("width", DEFAULT_WIDTH))


#: Marks the status of an execution flagged as an anomaly (``show``).
ANOMALY_MARK = "!"


def anomaly_notes(view: RenderView) -> list[str]:
    """One block listing why each shown execution is flagged; none when none is."""
    flagged = view.option("anomalies") or {}
    lines = []
    for record in view.records:
        for reason in flagged.get(record.execution_id, ()):
            lines.append(f"{ANOMALY_MARK} {record.short_id} {clean_text(reason)}")
    if not lines:
        return []
    return ["Anomalies (phaser analytics anomalies):\n" + "\n".join(lines)]


def render_table(view: RenderView) -> str:
    """The framed table of the view's executions (or its breakdown), the summary line and
    the anomaly notes."""
    if view.breakdown is not None:
        return render_breakdown(view)
    if not view.records:
        # An empty store invites an import; filters that match nothing say so instead.
        return NO_DATA if view.option("store_empty", True) else no_match(view)
    width = _view_width(view)
    color = bool(view.option("color"))
    if view.option("verbose"):
        blocks = _details(view, width, color)
    else:
        blocks = [_overview(view, width, color)]
    notes = anomaly_notes(view)
    return "\n\n".join(
        ["\n".join(block) for block in blocks]
        + [wrap_summary(summary_line(view.stats), width), *notes]
    )
