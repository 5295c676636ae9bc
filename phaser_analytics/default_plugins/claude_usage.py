"""The tokens an execution used, and an estimate of what they cost (the ``claude_tokens``
plugin's ``enrich_record`` calls :func:`usage_fields`).

Two sources:

1. Claude Code's session transcripts, ``$CLAUDE_CONFIG_DIR/projects/<slug>/*.jsonl``
   (default root ``~/.claude``): the ``message.usage`` of every assistant line of the
   project whose timestamp lies in ``[started_at, completed_at]``, each
   ``(message.id, requestId)`` counted once. These are the API's own figures.
2. A ``## Token Usage`` table in the report itself, written by the model that ran the
   audit: used only when no transcript line matches (another machine, a CI runner), and
   otherwise kept in ``extra["reported_token_usage"]`` for comparison. The built-in
   dialect has the tables already, from its own parse, and hands them over under
   :data:`~phaser_analytics.default_plugins.report_parser.REPORT_TOKEN_TABLES`; for a
   report of another dialect the plugin reads the file.

``docs/metrics.md`` explains both, the price table and the caveats. The plugin is
``trylast``: a plugin that already set ``record.tokens`` wins, and this one leaves the
record alone.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phaser_analytics.models import read_iso_datetime

if TYPE_CHECKING:
    from phaser_analytics.default_plugins.report_parser import TokenTable
    from phaser_analytics.models import ExecutionRecord
    from phaser_analytics.pricing import PriceBook

TOKEN_KINDS = ("input", "output", "cache_creation", "cache_read")
_USAGE_FIELDS = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_creation": "cache_creation_input_tokens",
    "cache_read": "cache_read_input_tokens",
}
_TIMESTAMP_KEY = '"timestamp":"'
_SECOND = "%Y-%m-%dT%H:%M:%S"
#: The longest transcript line read (docs/metrics.md); a longer one is skipped unread.
MAX_TRANSCRIPT_LINE = 32 * 1024 * 1024
#: A transcript last written this long before the execution started cannot hold a line of
#: it; the slack covers file systems that store modification times in 2-second steps.
MTIME_SLACK_SECONDS = 2.0

Counts = dict[str, int]


def usage_fields(record: ExecutionRecord, source: Path | None) -> dict[str, Any] | None:
    """The fields ``enrich_record`` adds: tokens and cost, or ``None`` to leave the record."""
    if record.tokens is not None:
        return None
    measured = transcript_usage(record)
    reported = reported_usage(record, source)
    if measured:
        fields = measured_fields(measured, price_book(record, source))
        if reported is not None:
            fields["extra"]["reported_token_usage"] = reported
        return fields
    if reported is not None:
        return reported_fields(reported)
    return None


# -- transcripts --------------------------------------------------------------------------


def claude_root() -> Path:
    """``$CLAUDE_CONFIG_DIR``, else ``~/.claude``."""
    configured = os.environ.get("CLAUDE_CONFIG_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".claude"


def project_slug(project_path: str) -> str:
    """Claude Code's directory name for a project: every character other than an ASCII
    letter or digit becomes ``-`` (so two paths can share one slug)."""
    return re.sub(r"[^A-Za-z0-9]", "-", project_path)


#: Where Claude Code writes a session's sub-agent transcripts, from the directory of the
#: session's own ``<session-id>.jsonl``.
SUBAGENTS = "subagents"


def transcript_files(root: Path, project_path: str) -> list[Path]:
    """The project's session transcripts, ``<slug>/<session-id>.jsonl``, then its sessions'
    sub-agent transcripts, ``<slug>/<session-id>/subagents/*.jsonl``: a sub-agent's tokens
    are part of the run."""
    slug = root / "projects" / project_slug(project_path)
    if not slug.is_dir():  # most imports: one stat instead of two directory scans
        return []
    return sorted(slug.glob("*.jsonl")) + sorted(slug.glob(f"*/{SUBAGENTS}/*.jsonl"))


def session_files(transcript: Path) -> list[Path]:
    """One session's transcript and its sub-agents' (``capture`` counts one session)."""
    subagents = transcript.with_suffix("") / SUBAGENTS
    return [transcript, *sorted(subagents.glob("*.jsonl"))]


@dataclass(frozen=True)
class Window:
    """The execution's time span, inclusive at both ends."""

    start: datetime
    end: datetime
    low: str = field(init=False)
    high: str = field(init=False)

    def __post_init__(self) -> None:
        # The bounds as transcript text, to the second, computed once: this runs per line.
        object.__setattr__(self, "low", self.start.astimezone(timezone.utc).strftime(_SECOND))
        object.__setattr__(self, "high", self.end.astimezone(timezone.utc).strftime(_SECOND))

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment <= self.end

    def may_hold(self, line: str) -> bool:
        """Whether a ``"timestamp":"…Z"`` of ``line`` falls in the window, to the second,
        without parsing the JSON. Every occurrence is tried, because a tool's output
        nested in the line may carry a key of that name too; a timestamp that is not UTC
        ``Z`` text cannot be compared as text, so it says yes and the JSON decides."""
        low, high = self.low, self.high
        start = line.find(_TIMESTAMP_KEY)
        if start < 0:
            return '"timestamp"' in line  # written with spaces: let the JSON decide
        while start >= 0:
            value_start = start + len(_TIMESTAMP_KEY)
            end = line.find('"', value_start)
            value = line[value_start:end]
            if not value.endswith(("Z", "z")) or low <= value[:19] <= high:
                return True
            start = line.find(_TIMESTAMP_KEY, end)
        return False


def execution_window(record: ExecutionRecord) -> Window | None:
    """The window to count, or ``None`` when the report gives no usable span (a bare date
    says the day, not the hours the execution ran)."""
    if record.started_at is None or record.completed_at is None or record.date_only:
        return None
    if record.completed_at < record.started_at:
        return None
    return Window(record.started_at, record.completed_at)


@dataclass(frozen=True)
class UsageLine:
    model: str
    key: tuple[Any, Any] | None  # (message.id, requestId); None when the line has neither
    counts: Counts


def within_project(cwd: str, project_path: str) -> bool:
    """The line's working directory is the project or a directory inside it (Claude Code
    records where its shell has ``cd``-ed to)."""
    here, project = os.path.normpath(cwd), os.path.normpath(project_path)
    return here == project or here.startswith(project.rstrip(os.sep) + os.sep)


def _count(value: Any) -> int | None:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def usage_counts(usage: Mapping[str, Any]) -> Counts | None:
    """Token counts of a ``message.usage`` object; ``None`` when a count is not a count."""
    counts: Counts = {}
    for kind, name in _USAGE_FIELDS.items():
        number = _count(usage.get(name))
        if number is None:
            return None
        counts[kind] = number
    split = usage.get("cache_creation")
    if isinstance(split, Mapping):
        hour = _count(split.get("ephemeral_1h_input_tokens"))
        if hour:
            counts["cache_creation_1h"] = min(hour, counts["cache_creation"])
    return counts


def read_usage_line(line: str, window: Window, project_path: str) -> UsageLine | None:
    """The usage of one transcript line, if it is an assistant line of the project inside
    the window; malformed lines are ``None``, like every other line that does not count."""
    if not window.may_hold(line) or '"usage"' not in line:
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("type") != "assistant":
        return None
    cwd = data.get("cwd")
    if cwd is not None and not (isinstance(cwd, str) and within_project(cwd, project_path)):
        return None
    moment = read_iso_datetime(data.get("timestamp"))
    message = data.get("message")
    if moment is None or not window.contains(moment) or not isinstance(message, dict):
        return None
    usage = message.get("usage")
    counts = usage_counts(usage) if isinstance(usage, dict) else None
    # Zero usage marks Claude Code's synthetic messages (errors, interruptions).
    if counts is None or not any(counts[kind] for kind in TOKEN_KINDS):
        return None
    model = message.get("model")
    ids = (message.get("id"), data.get("requestId"))
    return UsageLine(
        model=model if isinstance(model, str) and model else "unknown",
        key=ids if any(ids) else None,
        counts=counts,
    )


def _file_lines(path: Path) -> Iterator[str]:
    """The lines of a transcript, each of at most :data:`MAX_TRANSCRIPT_LINE` bytes: a longer
    line is read past in pieces and skipped, never held whole (a transcript is untrusted
    input, and one 500 MB line must not cost a gigabyte)."""
    from phaser_analytics.untrusted_files import bounded_lines

    for line in bounded_lines(path, MAX_TRANSCRIPT_LINE):
        # A bad byte spoils one line, not the file.
        yield line.decode("utf-8", errors="replace")


def _written_before(path: Path, window: Window) -> bool:
    try:
        modified = path.stat().st_mtime
    except OSError:
        return True
    return modified < window.start.timestamp() - MTIME_SLACK_SECONDS


def scan_transcripts(files: Iterable[Path], project_path: str, window: Window) -> dict[str, Counts]:
    """Token counts per model of every counted line, a ``(message.id, requestId)`` pair
    once across all files (Claude Code writes one line per content block of a message,
    each with the message's usage, and a resumed session repeats earlier lines)."""
    seen: set[tuple[Any, Any]] = set()
    by_model: dict[str, Counts] = {}
    for path in files:
        if _written_before(path, window):
            continue
        for line in _file_lines(path):
            usage = read_usage_line(line, window, project_path)
            if usage is None:
                continue
            if usage.key is not None:
                if usage.key in seen:
                    continue
                seen.add(usage.key)
            totals = by_model.setdefault(usage.model, dict.fromkeys(TOKEN_KINDS, 0))
            for kind, number in usage.counts.items():
                totals[kind] = totals.get(kind, 0) + number
    return by_model


def transcript_usage(record: ExecutionRecord, root: Path | None = None) -> dict[str, Counts]:
    """Token counts per model of the execution, from the transcripts; empty when none."""
    if not record.project_path:
        return {}
    # The files first: most imports have none, and then the window need not be made.
    files = transcript_files(root or claude_root(), record.project_path)
    window = execution_window(record) if files else None
    return scan_transcripts(files, record.project_path, window) if window is not None else {}


# -- cost ---------------------------------------------------------------------------------


def price_book(record: ExecutionRecord, source: Path | None) -> PriceBook:
    from phaser_analytics.pricing import PriceBook, config_prices

    return PriceBook(config_prices(_project_dir(record, source)))


def _project_dir(record: ExecutionRecord, source: Path | None) -> Path | None:
    """Whose config prices the tokens: the project the record is imported into (wherever
    the report lives), else the record's project, else the report's."""
    from phaser_analytics.pipeline import import_project_dir

    importing = import_project_dir()
    if importing is not None:
        return importing
    if record.project_path and Path(record.project_path).is_dir():
        return Path(record.project_path)
    if source is not None:
        from phaser_analytics.pipeline import infer_project_dir

        return infer_project_dir(source)
    return None


def with_total(counts: Mapping[str, int]) -> Counts:
    tokens = {kind: counts.get(kind, 0) for kind in TOKEN_KINDS}
    return {**tokens, "total": sum(tokens.values())}


def measured_fields(by_model: Mapping[str, Counts], book: PriceBook) -> dict[str, Any]:
    """The record fields of measured usage: tokens, the per-model breakdown and the cost.
    The cost is unknown when a model used has no price: a total without it would look
    complete and be too low."""
    from phaser_analytics.pricing import COST_DIGITS, cost_usd, warn_unpriced

    breakdown: dict[str, dict[str, Any]] = {}
    costs: list[float | None] = []
    for model in sorted(by_model):
        counts = by_model[model]
        price = book.price(model)
        if price is None:
            warn_unpriced(model)
        cost = cost_usd(counts, price) if price is not None else None
        costs.append(cost)
        entry: dict[str, Any] = with_total(counts)
        if counts.get("cache_creation_1h"):
            entry["cache_creation_1h"] = counts["cache_creation_1h"]
        breakdown[model] = {**entry, "cost_usd": cost}
    known = [cost for cost in costs if cost is not None]
    return {
        "tokens": with_total(
            {kind: sum(c.get(kind, 0) for c in by_model.values()) for kind in TOKEN_KINDS}
        ),
        "tokens_by_model": breakdown,
        "cost_usd": round(sum(known), COST_DIGITS) if len(known) == len(costs) else None,
        "extra": {"token_source": "transcripts"},
    }


# -- the report's ## Token Usage table ----------------------------------------------------

_NUMBER = re.compile(r"\d[\d,_'\u00a0\u202f ]*(?:\.\d+)?(?:\s?[kKmM]\b)?")
_SCALE = {"k": 1_000, "m": 1_000_000}


def row_kind(label: str) -> str | None:
    """What a row of the table counts: ``Cache creation tokens`` → ``cache_creation``."""
    words = re.sub(r"[^a-z]+", " ", label.lower()).split()
    if "cost" in words:
        return "cost"
    if "cache" in words:
        if {"read", "reads", "hit", "hits"} & set(words):
            return "cache_read"
        if {"creation", "write", "writes"} & set(words):
            return "cache_creation"
        return None
    return {"input": "input", "output": "output", "total": "total"}.get(words[0] if words else "")


def read_number(text: str) -> float | None:
    """The first number of a cell: ``12,345``, ``12 345 tokens``, ``$1.23``, ``1.2M``."""
    match = _NUMBER.search(text)
    if match is None:
        return None
    found = match.group().strip()
    scale = 1
    if found[-1].lower() in _SCALE:
        scale = _SCALE[found[-1].lower()]
        found = found[:-1]
    digits = re.sub(r"[,_'\u00a0\u202f ]", "", found)
    try:
        return float(digits) * scale
    except ValueError:
        return None


def token_table_values(rows: Iterable[tuple[str, ...]]) -> dict[str, Any] | None:
    """Tokens and cost from label/value rows; ``None`` when no row is a token count."""
    found: dict[str, float] = {}
    for cells in rows:
        if len(cells) < 2:
            continue
        kind = row_kind(cells[0])
        numbers = [read_number(cell) for cell in cells[1:]] if kind else []
        number = next((n for n in numbers if n is not None), None)
        if kind is not None and number is not None:
            found.setdefault(kind, number)
    parts = {kind: round(found[kind]) for kind in TOKEN_KINDS if kind in found}
    if not parts and "total" not in found:
        return None
    tokens: dict[str, int | None] = {kind: parts.get(kind) for kind in TOKEN_KINDS}
    # Without a Total row the table's total is the sum of the rows it has.
    tokens["total"] = round(found["total"]) if "total" in found else sum(parts.values())
    cost = found.get("cost")
    return {"tokens": tokens, "cost_usd": round(cost, 6) if cost is not None else None}


def usage_from_tables(tables: Iterable[TokenTable]) -> dict[str, Any] | None:
    """Tokens and cost of the first table that holds token counts."""
    for rows in tables:
        values = token_table_values(rows)
        if values is not None:
            return values
    return None


def reported_usage(record: ExecutionRecord, source: Path | None) -> dict[str, Any] | None:
    """The report's Token Usage table: as the dialect handed it over, else from the file."""
    from phaser_analytics.default_plugins.report_parser import REPORT_TOKEN_TABLES

    if REPORT_TOKEN_TABLES in record.extra:
        return usage_from_tables(record.extra[REPORT_TOKEN_TABLES] or [])
    return report_token_usage(source) if source is not None else None


def report_token_usage(path: Path) -> dict[str, Any] | None:
    """The ``## Token Usage`` table of the report at ``path``, if it has one."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig", errors="replace")
    except OSError:
        return None
    from phaser_analytics.default_plugins.report_parser import token_tables_in

    return usage_from_tables(token_tables_in(text))


def reported_fields(reported: Mapping[str, Any]) -> dict[str, Any]:
    """The record fields of the report's own Token Usage table."""
    return {
        "tokens": dict(reported["tokens"]),
        "cost_usd": reported["cost_usd"],
        "extra": {"token_source": "report"},
    }
