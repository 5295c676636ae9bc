"""The data model of spec §3 and §10.

Everything a report does not say is ``None``, never a made-up ``0``: an execution whose
report gives bare dates has an unknown duration, and unknown values are left out of
averages. Datetimes are timezone-aware; naive values read from old files or reports are
taken as UTC.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from enum import Enum
from typing import Any, Protocol

#: Written into every new execution file; ``"1.0"`` files (spec §4.2) still load.
SCHEMA_VERSION = "1.1"


#: The largest magnitude a number in a record may have: 2**53, the largest integer every JSON
#: reader holds exactly. Larger numbers (a report stating a 309-digit token count) are left
#: unknown on import (:func:`bound_numbers`) and make a record file invalid on load.
MAX_NUMBER = 2**53


class InvalidRecord(ValueError):
    """A record (a record file's dict) with a field of the wrong type or out of range.

    Raised by :meth:`ExecutionRecord.from_dict`; the store treats it as it treats any
    corrupt record file (it sets the file aside in ``quarantine/`` with one warning). The
    message names the field: ``'phases[0].tests_before' must be a whole number or null,
    not "1"``.
    """


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def ensure_aware(value: datetime) -> datetime:
    """Return ``value`` with a zone; a naive value is taken as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def datetime_to_json(value: datetime | None) -> str | None:
    """ISO 8601 with ``Z`` for UTC, as the spec's files show (``2024-12-06T10:30:00Z``)."""
    if value is None:
        return None
    text = (value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def datetime_from_json(value: str | None) -> datetime | None:
    """Read what :func:`datetime_to_json` wrote (and naive values of spec 1.0 files)."""
    if not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return ensure_aware(datetime.fromisoformat(text))


def identity_of(item: Any) -> tuple[str | None, str | None, str | None, str | None]:
    """What makes one execution, however often imported: the project path, the audit
    document, the start and the base commit of a record or of an index entry."""
    return (
        item.project_path,
        item.audit_document,
        datetime_to_json(item.started_at),
        item.base_commit,
    )


def read_iso_datetime(value: Any) -> datetime | None:
    """:func:`datetime_from_json` for a value from outside the store (a record dict, a
    transcript line): ``None`` when it is not an ISO 8601 timestamp."""
    if not isinstance(value, str):
        return None
    try:
        return datetime_from_json(value)
    except ValueError:
        return None


#: What a badge can show (``badge --metric``, the badge renderers' ``metric`` option): each
#: is a figure of :class:`AggregatedStats`.
BADGE_METRICS = ("success-rate", "phase-success-rate", "executions", "avg-duration", "test-delta")


# -- validating what a record file holds ---------------------------------------------------


def _shown(value: Any) -> str:
    """A value, as JSON and short, for an error message."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
        return f"a number of {len(str(abs(value)))} digits"
    try:
        text = json.dumps(value, ensure_ascii=True, allow_nan=True)
    except (TypeError, ValueError):
        text = type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def _bad(name: str, kind: str, value: Any, where: str | None = None) -> InvalidRecord:
    """The error naming the field ``name`` (of ``where``, a phase: ``phases[0].title``)."""
    if where is not None:
        name = f"{where}.{name}"
    return InvalidRecord(f"'{name}' must be {kind}, not {_shown(value)}")


# Each check below takes the field's name, its value and where the field is (``None``: the
# record itself; else the phase or object holding it, named only in an error), and tries
# the common, valid case first (exact types compared, no call): loading a record checks
# ~100 fields, a store of 100,000 records ten million.


def _text(name: str, value: Any, where: str | None = None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise _bad(name, "text or null", value, where)


def in_range(value: Any) -> bool:
    """Whether ``value`` is a number (not ``bool``) that is finite and within
    :data:`MAX_NUMBER`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return abs(value) <= MAX_NUMBER and (isinstance(value, int) or math.isfinite(value))


def _whole(name: str, value: Any, where: str | None = None) -> int | None:
    if type(value) is int and -MAX_NUMBER <= value <= MAX_NUMBER:
        return value
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(name, "a whole number or null", value, where)
    if not in_range(value):
        raise _bad(name, f"a whole number within ±{MAX_NUMBER}", value, where)
    return value


def _number(name: str, value: Any, where: str | None = None) -> float | int | None:
    if value is None:
        return None
    # A NaN fails the comparison, an infinity the bound: both go on to the error.
    if (type(value) is int or type(value) is float) and -MAX_NUMBER <= value <= MAX_NUMBER:
        return value
    if not in_range(value):
        raise _bad(name, f"a finite number within ±{MAX_NUMBER} or null", value, where)
    return value


def _moment(name: str, value: Any, where: str | None = None) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _bad(name, "an ISO 8601 time or null", value, where)
    try:
        return datetime_from_json(value)
    except ValueError:
        raise _bad(name, "an ISO 8601 time or null", value, where) from None


def _choice(name: str, kind: type[Enum], value: Any, where: str | None = None) -> Any:
    if type(value) is str:
        member = _members(kind).get(value)
        if member is not None:
            return member
    try:
        return kind(value)
    except (ValueError, TypeError):
        choices = ", ".join(str(member.value) for member in kind)  # type: ignore[attr-defined]
        raise _bad(name, f"one of {choices}", value, where) from None


@functools.cache
def _members(kind: type[Enum]) -> dict[str, Any]:
    """An enumeration's members by value (``kind(value)`` without its machinery)."""
    return {member.value: member for member in kind}


def _flag(name: str, value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise _bad(name, "true or false", value)


def _mapping(name: str, value: Any, where: str | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(name, "an object", value, where)
    return value


def _list(name: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(name, "a list", value)
    return value


def _texts(name: str, value: Any) -> list[str]:
    items = _list(name, value)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise _bad(f"{name}[{i}]", "text", item)
    return list(items)


def _numbers_by_key(
    name: str, value: Any, check: Callable[[str, Any, str | None], Any]
) -> dict[str, Any] | None:
    """An object of numbers (each passed through ``check``) or null."""
    if value is None:
        return None
    items = _mapping(name, value)
    return {key: check(key, number, name) for key, number in items.items()}


def _by_model(name: str, value: Any) -> dict[str, dict[str, Any]] | None:
    if value is None:
        return None
    items = _mapping(name, value)
    return {
        model: _numbers_by_key(f"{name}.{model}", _mapping(f"{name}.{model}", counts), _number)
        or {}
        for model, counts in items.items()
    }


# Status symbols as Phaser writes them, and as they look after a UTF-8 → Windows-1252
# round trip (REPORT_FORMAT.md: Phaser's own prompt template once carried these).
_MOJIBAKE = {"âœ…": "✅", "âŒ": "❌", "âš ï¸": "⚠️", "âš": "⚠"}


def normalize_status_text(text: str) -> str:
    """Repair mis-decoded status symbols and drop variation selectors and outer spaces."""
    for broken, symbol in _MOJIBAKE.items():
        text = text.replace(broken, symbol)
    return text.replace("\ufe0f", "").strip()


class ExecutionStatus(str, Enum):
    """Status of an audit execution."""

    SUCCESS = "success"  # All phases completed successfully
    PARTIAL = "partial"  # Some phases completed, some failed/skipped
    FAILED = "failed"  # Execution failed entirely

    @classmethod
    def from_report(cls, result_text: str) -> ExecutionStatus:
        """Parse status from an execution report's ``**Result:**`` line."""
        text = normalize_status_text(result_text)
        lowered = text.lower()
        if "❌" in text or "fail" in lowered:
            return cls.FAILED
        if "⚠" in text or "completed with issues" in lowered or "partial" in lowered:
            return cls.PARTIAL
        if "✅" in text or "all phases completed" in lowered or "success" in lowered:
            return cls.SUCCESS
        return cls.FAILED

    @property
    def symbol(self) -> str:
        return {"success": "✅", "partial": "⚠️", "failed": "❌"}[self.value]

    @property
    def label(self) -> str:
        """The words Phaser's reports use for this result."""
        return {
            "success": "All phases completed",
            "partial": "Completed with issues",
            "failed": "Failed",
        }[self.value]


_PHASE_WORDS = {
    "completed": "completed",
    "complete": "completed",
    "done": "completed",
    "passed": "completed",
    "pass": "completed",
    "success": "completed",
    "succeeded": "completed",
    "ok": "completed",
    "failed": "failed",
    "fail": "failed",
    "failure": "failed",
    "error": "failed",
    "errored": "failed",
    "blocked": "failed",
    "aborted": "failed",
    "skipped": "skipped",
    "skip": "skipped",
    "partial": "skipped",
    "pending": "skipped",
    "not started": "skipped",
}


class PhaseStatus(str, Enum):
    """Status of a single phase."""

    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"

    @classmethod
    def from_symbol(cls, symbol: str) -> PhaseStatus:
        """Parse status from a phase table cell: ``✅``, ``❌``, ``⚠️`` or words beside them.

        A symbol wins over words; ``⚠️`` and anything unrecognised is ``SKIPPED``, as in
        spec §10.3.
        """
        text = normalize_status_text(symbol)
        if "✅" in text or "✔" in text:
            return cls.COMPLETED
        if "❌" in text or "✗" in text:
            return cls.FAILED
        if "⚠" in text:
            return cls.SKIPPED
        words = text.lower().strip(" .!*_`")
        for word, status in _PHASE_WORDS.items():
            if words == word or words.startswith(word + " "):
                return cls(status)
        return cls.SKIPPED

    @property
    def symbol(self) -> str:
        return {"completed": "✅", "failed": "❌", "skipped": "⚠️"}[self.value]


@dataclass
class PhaseRecord:
    """Record of a single phase within an execution."""

    phase_number: int  # 36
    title: str  # "Reverse Audit Specification"
    status: PhaseStatus  # COMPLETED, FAILED, SKIPPED
    commit_sha: str | None = None  # Commit hash if completed

    started_at: datetime | None = None  # Estimated from commit timestamps
    completed_at: datetime | None = None  # From commit timestamp
    duration_seconds: float | None = None

    tests_before: int | None = None  # If trackable
    tests_after: int | None = None  # If trackable

    error_message: str | None = None  # If failed
    retry_count: int = 0  # Number of retries attempted

    @property
    def test_delta(self) -> int | None:
        if self.tests_before is None or self.tests_after is None:
            return None
        return self.tests_after - self.tests_before

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase_number": self.phase_number,
            "title": self.title,
            "status": self.status.value,
            "commit_sha": self.commit_sha,
            "started_at": datetime_to_json(self.started_at),
            "completed_at": datetime_to_json(self.completed_at),
            "duration_seconds": self.duration_seconds,
            "tests_before": self.tests_before,
            "tests_after": self.tests_after,
            "error_message": self.error_message,
            "retry_count": self.retry_count,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "phase") -> PhaseRecord:
        """Read what :meth:`to_dict` wrote; :class:`InvalidRecord` (naming the field as
        ``where.field``) for a field of the wrong type or out of range."""
        data = _mapping(where, data)
        get = data.get
        number = _whole("phase_number", get("phase_number"), where)
        if number is None:
            raise _bad("phase_number", "a whole number", None, where)
        title = _text("title", get("title"), where)
        return cls(
            phase_number=number,
            title=title if title is not None else "",
            status=_choice("status", PhaseStatus, get("status"), where),
            commit_sha=_text("commit_sha", get("commit_sha"), where),
            started_at=_moment("started_at", get("started_at"), where),
            completed_at=_moment("completed_at", get("completed_at"), where),
            duration_seconds=_number("duration_seconds", get("duration_seconds"), where),
            tests_before=_whole("tests_before", get("tests_before"), where),
            tests_after=_whole("tests_after", get("tests_after"), where),
            error_message=_text("error_message", get("error_message"), where),
            retry_count=_whole("retry_count", get("retry_count"), where) or 0,
        )


@dataclass
class ExecutionRecord:
    """Complete record of a single audit execution.

    The fields and their order are spec §10.5; every field after ``execution_id`` may be
    ``None`` when the report does not give it. The fields after ``imported_at`` are this
    package's additions (schema 1.1); ``extra`` holds whatever a dialect or plugin adds
    that the model does not name.
    """

    # Identity
    execution_id: str
    audit_document: str | None = None
    document_title: str | None = None

    # Location
    project_name: str | None = None
    project_path: str | None = None
    branch: str | None = None

    # Timing
    started_at: datetime | None = None
    completed_at: datetime | None = None

    # Versions
    phaser_version: str | None = None

    # Results
    status: ExecutionStatus = ExecutionStatus.FAILED
    phases_planned: int | None = None
    phases_completed: int | None = None

    # Tests
    baseline_tests: int | None = None
    final_tests: int | None = None

    # Git
    base_commit: str | None = None
    final_commit: str | None = None
    commit_count: int | None = None
    files_changed: int | None = None

    # Phases
    phases: list[PhaseRecord] = field(default_factory=list)

    # Raw
    report_path: str = ""
    imported_at: datetime = field(default_factory=utcnow)

    # Schema 1.1
    date_only: bool = False
    """True when Started or Completed was a bare date: the day is known, the duration is not."""
    reported_test_delta: int | None = None
    """The report's own ``**Delta:**``; kept as stated even when it disagrees."""
    tag: str | None = None
    lines_added: int | None = None
    lines_removed: int | None = None
    failure_reasons: list[str] = field(default_factory=list)
    tokens: dict[str, int] | None = None
    """``{input, output, cache_creation, cache_read, total}`` when known."""
    tokens_by_model: dict[str, dict[str, Any]] | None = None
    cost_usd: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("started_at", "completed_at", "imported_at"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, ensure_aware(value))

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from start to completion; ``None`` when either is unknown or a bare date,
        or when the completion is before the start (a wrong time must not spread into
        averages as a negative duration)."""
        if self.started_at is None or self.completed_at is None or self.date_only:
            return None
        seconds = (self.completed_at - self.started_at).total_seconds()
        return seconds if seconds >= 0 else None

    @property
    def test_delta(self) -> int | None:
        """The report's stated delta, else ``final - baseline``, else ``None``."""
        if self.reported_test_delta is not None:
            return self.reported_test_delta
        if self.final_tests is None or self.baseline_tests is None:
            return None
        return self.final_tests - self.baseline_tests

    @property
    def success_rate(self) -> float | None:
        """Phase success rate: completed / planned (``0.0`` when none were planned)."""
        if self.phases_planned is None or self.phases_completed is None:
            return None
        if self.phases_planned == 0:
            return 0.0
        return self.phases_completed / self.phases_planned

    @property
    def total_tokens(self) -> int | None:
        return self.tokens.get("total") if self.tokens else None

    @property
    def short_id(self) -> str:
        return self.execution_id.replace("-", "")[:8]

    @property
    def identity(self) -> tuple[str | None, str | None, str | None, str | None]:
        """Two reports describe one execution when these four agree (REPORT_FORMAT.md)."""
        return identity_of(self)

    def update(self, fields: Mapping[str, Any]) -> None:
        """Set what ``fields`` names (an ``enrich_record`` hook's result): record fields
        are replaced, ``extra`` is merged into this record's ``extra``, and any other key
        goes to ``extra`` (as a dialect's unknown keys do)."""
        names = {f.name for f in dataclasses.fields(self)}
        for name, value in fields.items():
            if name == "extra":
                self.extra.update(value or {})
            elif name in names:
                setattr(self, name, value)
            else:
                self.extra[name] = value

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "execution_id": self.execution_id,
            "audit_document": self.audit_document,
            "document_title": self.document_title,
            "project_name": self.project_name,
            "project_path": self.project_path,
            "branch": self.branch,
            "started_at": datetime_to_json(self.started_at),
            "completed_at": datetime_to_json(self.completed_at),
            "duration_seconds": self.duration_seconds,
            "phaser_version": self.phaser_version,
            "status": self.status.value,
            "phases_planned": self.phases_planned,
            "phases_completed": self.phases_completed,
            "baseline_tests": self.baseline_tests,
            "final_tests": self.final_tests,
            "test_delta": self.test_delta,
            "base_commit": self.base_commit,
            "final_commit": self.final_commit,
            "commit_count": self.commit_count,
            "files_changed": self.files_changed,
            "phases": [p.to_dict() for p in self.phases],
            "report_path": self.report_path,
            "imported_at": datetime_to_json(self.imported_at),
            "date_only": self.date_only,
            "reported_test_delta": self.reported_test_delta,
            "tag": self.tag,
            "lines_added": self.lines_added,
            "lines_removed": self.lines_removed,
            "failure_reasons": list(self.failure_reasons),
            "tokens": dict(self.tokens) if self.tokens is not None else None,
            "tokens_by_model": self.tokens_by_model,
            "cost_usd": self.cost_usd,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExecutionRecord:
        """Read a record written by :meth:`to_dict`, of schema 1.0 or 1.1, checking every
        field: :class:`InvalidRecord` (a ``ValueError``) names the first field of the wrong
        type or out of range (numbers within :data:`MAX_NUMBER`). A record file is a
        stranger's input in a cloned repository; nothing it holds may crash a command."""
        data = _mapping("record", data)
        get = data.get
        execution_id = get("execution_id")
        if not isinstance(execution_id, str) or not execution_id:
            raise _bad("execution_id", "text", execution_id)
        extra = get("extra")
        phases = _list("phases", get("phases"))
        return cls(
            execution_id=execution_id,
            audit_document=_text("audit_document", get("audit_document")),
            document_title=_text("document_title", get("document_title")),
            project_name=_text("project_name", get("project_name")),
            project_path=_text("project_path", get("project_path")),
            branch=_text("branch", get("branch")),
            started_at=_moment("started_at", get("started_at")),
            completed_at=_moment("completed_at", get("completed_at")),
            phaser_version=_text("phaser_version", get("phaser_version")),
            status=_choice("status", ExecutionStatus, get("status", "failed")),
            phases_planned=_whole("phases_planned", get("phases_planned")),
            phases_completed=_whole("phases_completed", get("phases_completed")),
            baseline_tests=_whole("baseline_tests", get("baseline_tests")),
            final_tests=_whole("final_tests", get("final_tests")),
            base_commit=_text("base_commit", get("base_commit")),
            final_commit=_text("final_commit", get("final_commit")),
            commit_count=_whole("commit_count", get("commit_count")),
            files_changed=_whole("files_changed", get("files_changed")),
            phases=[PhaseRecord.from_dict(p, f"phases[{i}]") for i, p in enumerate(phases)],
            report_path=_text("report_path", get("report_path")) or "",
            imported_at=_moment("imported_at", get("imported_at")) or utcnow(),
            date_only=_flag("date_only", get("date_only")),
            reported_test_delta=_whole("reported_test_delta", get("reported_test_delta")),
            tag=_text("tag", get("tag")),
            lines_added=_whole("lines_added", get("lines_added")),
            lines_removed=_whole("lines_removed", get("lines_removed")),
            failure_reasons=_texts("failure_reasons", get("failure_reasons")),
            tokens=_numbers_by_key("tokens", get("tokens"), _whole),
            tokens_by_model=_by_model("tokens_by_model", get("tokens_by_model")),
            cost_usd=_number("cost_usd", get("cost_usd")),
            extra=dict(_mapping("extra", extra)) if extra is not None else {},
        )

    @classmethod
    def generate_id(cls) -> str:
        """Generate a new execution ID."""
        return str(uuid.uuid4())


_RECORD_NUMBERS = (
    "phases_planned",
    "phases_completed",
    "baseline_tests",
    "final_tests",
    "commit_count",
    "files_changed",
    "reported_test_delta",
    "lines_added",
    "lines_removed",
    "cost_usd",
)
_PHASE_NUMBERS = ("duration_seconds", "tests_before", "tests_after", "retry_count")


def bound_numbers(record: ExecutionRecord) -> list[str]:
    """Leave unknown (``None``) every number of ``record`` that is not finite or beyond
    :data:`MAX_NUMBER` (a report stating a 309-digit token count), and say which, one
    warning each. Import calls it before a record is stored, so what it stores loads again.
    """
    warnings: list[str] = []

    def bounded(name: str, value: Any) -> Any:
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return value
        if in_range(value):
            return value
        warnings.append(f"'{name}' is out of range ({_shown(value)}); left unknown")
        return None

    for name in _RECORD_NUMBERS:
        setattr(record, name, bounded(name, getattr(record, name)))
    for i, phase in enumerate(record.phases):
        for name in _PHASE_NUMBERS:
            setattr(phase, name, bounded(f"phases[{i}].{name}", getattr(phase, name)))
        phase.retry_count = phase.retry_count or 0
    if isinstance(record.tokens, dict):
        record.tokens = {k: bounded(f"tokens.{k}", v) for k, v in record.tokens.items()}
    if isinstance(record.tokens_by_model, dict):
        for model, counts in record.tokens_by_model.items():
            if isinstance(counts, dict):
                for k, v in list(counts.items()):
                    counts[k] = bounded(f"tokens_by_model.{model}.{k}", v)
    return warnings


class StatsSource(Protocol):
    """What aggregation reads: an :class:`ExecutionRecord` or an index entry."""

    status: ExecutionStatus
    started_at: datetime | None
    phases_planned: int | None
    phases_completed: int | None
    cost_usd: float | None

    @property
    def duration_seconds(self) -> float | None: ...

    @property
    def test_delta(self) -> int | None: ...

    @property
    def total_tokens(self) -> int | None: ...


@dataclass
class AggregatedStats:
    """Computed statistics across multiple executions (spec §10.6).

    Duration and test figures are computed over the executions where they are known;
    ``None`` where none is.
    """

    total_executions: int
    successful: int
    partial: int
    failed: int

    avg_duration_seconds: float | None
    min_duration_seconds: float | None
    max_duration_seconds: float | None
    total_duration_seconds: float | None

    total_test_delta: int | None
    avg_test_delta: float | None

    total_phases_executed: int
    total_phases_completed: int

    earliest_execution: datetime | None
    latest_execution: datetime | None

    total_tokens: int | None = None
    total_cost_usd: float | None = None

    @property
    def success_rate(self) -> float:
        if self.total_executions == 0:
            return 0.0
        return self.successful / self.total_executions

    @property
    def phase_success_rate(self) -> float:
        if self.total_phases_executed == 0:
            return 0.0
        return self.total_phases_completed / self.total_phases_executed

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_executions": self.total_executions,
            "successful": self.successful,
            "partial": self.partial,
            "failed": self.failed,
            "success_rate": self.success_rate,
            "avg_duration_seconds": self.avg_duration_seconds,
            "min_duration_seconds": self.min_duration_seconds,
            "max_duration_seconds": self.max_duration_seconds,
            "total_duration_seconds": self.total_duration_seconds,
            "total_test_delta": self.total_test_delta,
            "avg_test_delta": self.avg_test_delta,
            "total_phases_executed": self.total_phases_executed,
            "total_phases_completed": self.total_phases_completed,
            "phase_success_rate": self.phase_success_rate,
            "earliest_execution": datetime_to_json(self.earliest_execution),
            "latest_execution": datetime_to_json(self.latest_execution),
            "total_tokens": self.total_tokens,
            "total_cost_usd": self.total_cost_usd,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AggregatedStats:
        return cls(
            total_executions=data["total_executions"],
            successful=data["successful"],
            partial=data["partial"],
            failed=data["failed"],
            avg_duration_seconds=data.get("avg_duration_seconds"),
            min_duration_seconds=data.get("min_duration_seconds"),
            max_duration_seconds=data.get("max_duration_seconds"),
            total_duration_seconds=data.get("total_duration_seconds"),
            total_test_delta=data.get("total_test_delta"),
            avg_test_delta=data.get("avg_test_delta"),
            total_phases_executed=data.get("total_phases_executed", 0),
            total_phases_completed=data.get("total_phases_completed", 0),
            earliest_execution=datetime_from_json(data.get("earliest_execution")),
            latest_execution=datetime_from_json(data.get("latest_execution")),
            total_tokens=data.get("total_tokens"),
            total_cost_usd=data.get("total_cost_usd"),
        )

    @classmethod
    def empty(cls) -> AggregatedStats:
        """The stats of no executions (Phaser's ``AggregatedStats.empty()``)."""
        return cls.compute(())

    @classmethod
    def compute(cls, records: Iterable[StatsSource]) -> AggregatedStats:
        """Compute statistics from execution records (or index entries, which carry the same
        attributes), in one pass."""
        tally = StatsTally()
        for record in records:
            tally.add(record)
        return tally.result()


class StatsTally:
    """The running counts and sums behind :class:`AggregatedStats`, in constant memory:
    executions are added one at a time (:meth:`AggregatedStats.compute` adds them all), and
    a store that keeps ``stats`` with :meth:`carried` resumes adding where it left off."""

    __slots__ = ("completed", "costs", "counts", "deltas", "durations", "planned", "starts",
                 "tokens", "total")  # fmt: skip

    def __init__(self) -> None:
        self.counts = {status: 0 for status in ExecutionStatus}
        self.durations, self.deltas, self.starts = _Running(), _Running(), _Running()
        self.tokens, self.costs = _Running(), _Running()
        self.planned = self.completed = self.total = 0

    def add(self, record: StatsSource) -> None:
        self.total += 1
        self.counts[record.status] += 1
        self.durations.add(record.duration_seconds)
        self.deltas.add(record.test_delta)
        self.starts.add(record.started_at)
        if record.phases_planned is not None:
            self.planned += record.phases_planned
            # A report may state "7 of 6 completed"; the record keeps that, the rate never
            # exceeds 1.
            self.completed += min(record.phases_completed or 0, record.phases_planned)
        self.tokens.add(record.total_tokens)
        self.costs.add(record.cost_usd)

    def result(self) -> AggregatedStats:
        durations, deltas, costs = self.durations, self.deltas, self.costs
        return AggregatedStats(
            total_executions=self.total,
            successful=self.counts[ExecutionStatus.SUCCESS],
            partial=self.counts[ExecutionStatus.PARTIAL],
            failed=self.counts[ExecutionStatus.FAILED],
            avg_duration_seconds=durations.mean,
            min_duration_seconds=durations.low,
            max_duration_seconds=durations.high,
            total_duration_seconds=durations.total,
            total_test_delta=deltas.total,
            avg_test_delta=deltas.mean,
            total_phases_executed=self.planned,
            total_phases_completed=self.completed,
            earliest_execution=self.starts.low,
            latest_execution=self.starts.high,
            total_tokens=self.tokens.total,
            total_cost_usd=round(costs.total, 6) if costs.total is not None else None,
        )

    def carried(self) -> dict[str, Any]:
        """What :meth:`resume` needs besides ``result().to_dict()``: how many durations and
        test deltas are known (the means' divisors), and the unrounded sum of the costs."""
        return {"durations": self.durations.count, "test_deltas": self.deltas.count,
                "cost_usd": self.costs.total}  # fmt: skip

    @classmethod
    def resume(cls, stats: dict[str, Any], carried: dict[str, Any]) -> StatsTally:
        """The tally whose ``result().to_dict()`` was ``stats`` and whose :meth:`carried`
        was ``carried``; adding executions to it gives what :meth:`AggregatedStats.compute`
        gives over all of them in that order."""
        tally = cls()
        tally.total = stats["total_executions"]
        tally.counts = {ExecutionStatus.SUCCESS: stats["successful"],
                        ExecutionStatus.PARTIAL: stats["partial"],
                        ExecutionStatus.FAILED: stats["failed"]}  # fmt: skip
        tally.durations.resume(carried["durations"], stats["total_duration_seconds"],
                               stats["min_duration_seconds"], stats["max_duration_seconds"])
        tally.deltas.resume(carried["test_deltas"], stats["total_test_delta"])
        earliest = datetime_from_json(stats["earliest_execution"])
        tally.starts.resume(int(earliest is not None), 0, earliest,
                            datetime_from_json(stats["latest_execution"]))
        tally.tokens.resume(int(stats["total_tokens"] is not None), stats["total_tokens"])
        tally.costs.resume(int(carried["cost_usd"] is not None), carried["cost_usd"])
        tally.planned = stats["total_phases_executed"]
        tally.completed = stats["total_phases_completed"]
        return tally


def _sort_key(item: Any) -> tuple[bool, float, str]:
    started = item.started_at
    return (started is not None, started.timestamp() if started else 0.0, item.execution_id)


def sort_newest_first(items: Iterable[Any]) -> list[Any]:
    """Newest start first; executions with an unknown start last, then by id descending.
    Every store's ``find`` yields entries in this order."""
    return sorted(items, key=_sort_key, reverse=True)


class _Figures:
    """``repr`` and equality by the fields of ``_fields``, as a dataclass has them. The
    aggregates' results below are plain classes on it: the SQLite store imports them for
    every ``show``, and a dataclass costs ~0.3-0.5 ms to define (docs/performance.md,
    "Start-up"); the spec's records above stay dataclasses."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]


class PhaseSummary(_Figures):
    """One phase number across the selected executions: how often it ran and failed, its
    most recent non-empty title, and the error and start of its most recent failure."""

    __slots__ = ("failures", "last_error", "last_failed", "phase", "runs", "title")
    _fields = ("phase", "title", "runs", "failures", "last_error", "last_failed")

    def __init__(
        self,
        phase: int,
        title: str = "",
        runs: int = 0,
        failures: int = 0,
        last_error: str | None = None,
        last_failed: datetime | None = None,
    ) -> None:
        self.phase = phase
        self.title = title
        self.runs = runs
        self.failures = failures
        self.last_error = last_error
        self.last_failed = last_failed

    @property
    def failure_rate(self) -> float:
        return self.failures / self.runs if self.runs else 0.0


class ReasonCount(_Figures):
    """One failure reason: the executions that give it (once each), its newest wording and
    when it was last seen. Lists of them are most executions first, newest first among
    equals."""

    __slots__ = ("count", "last_seen", "reason")
    _fields = ("reason", "count", "last_seen")

    def __init__(self, reason: str, count: int, last_seen: datetime | None) -> None:
        self.reason = reason
        self.count = count
        self.last_seen = last_seen


class Usage(_Figures):
    """Executions (and failed ones) per local hour of day (24) and weekday (7, Monday
    first); executions without a start are in none."""

    __slots__ = ("days", "days_failed", "hours", "hours_failed")
    _fields = ("hours", "hours_failed", "days", "days_failed")

    def __init__(
        self,
        hours: list[int] | None = None,
        hours_failed: list[int] | None = None,
        days: list[int] | None = None,
        days_failed: list[int] | None = None,
    ) -> None:
        self.hours = hours if hours is not None else [0] * 24
        self.hours_failed = hours_failed if hours_failed is not None else [0] * 24
        self.days = days if days is not None else [0] * 7
        self.days_failed = days_failed if days_failed is not None else [0] * 7

    def add(self, moment: datetime, zone: tzinfo | None, count: int, failed: int) -> None:
        local = moment.astimezone(zone)
        self.hours[local.hour] += count
        self.days[local.weekday()] += count
        self.hours_failed[local.hour] += failed
        self.days_failed[local.weekday()] += failed

    @property
    def dated(self) -> int:
        return sum(self.hours)


class _Running:
    """Count, sum, minimum and maximum of the known values, in constant memory, so stats
    over a streamed export of any size cost nothing per execution. Unknown values
    (``None``) are left out."""

    __slots__ = ("count", "high", "low", "sum")

    def __init__(self) -> None:
        self.count = 0
        self.sum: Any = 0
        self.low: Any = None
        self.high: Any = None

    def add(self, value: Any) -> None:
        if value is None:
            return
        self.count += 1
        if not isinstance(value, datetime):
            self.sum += value
        if self.low is None or value < self.low:
            self.low = value
        if self.high is None or value > self.high:
            self.high = value

    def resume(self, count: int, total: Any, low: Any = None, high: Any = None) -> None:
        """Carry on from ``count`` known values summing to ``total``; ``ValueError`` when
        the two disagree (a count of values with no sum)."""
        if count and total is None:
            raise ValueError("a count of known values without their sum")
        self.count, self.sum = count, total if count else 0
        self.low, self.high = low, high

    @property
    def total(self) -> Any:
        return self.sum if self.count else None

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None


class QueryTarget(Protocol):
    status: ExecutionStatus
    started_at: datetime | None
    audit_document: str | None


@dataclass
class AnalyticsQuery:
    """Query parameters for analytics data (spec §10.7).

    ``since`` and ``until`` are inclusive bounds on ``started_at``; a naive value is taken
    in the local time zone. An execution whose start is unknown matches no date bound.
    """

    limit: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    status: ExecutionStatus | None = None
    document: str | None = None

    def __post_init__(self) -> None:
        # Naive and aware datetimes never meet in a comparison: a naive bound is local time.
        if self.since is not None and self.since.tzinfo is None:
            self.since = self.since.astimezone()
        if self.until is not None and self.until.tzinfo is None:
            self.until = self.until.astimezone()

    def matches(self, record: QueryTarget) -> bool:
        """Check if a record (or index entry) matches this query."""
        if self.since or self.until:
            if record.started_at is None:
                return False
            if self.since and record.started_at < self.since:
                return False
            if self.until and record.started_at > self.until:
                return False
        if self.status and record.status != self.status:
            return False
        if self.document and self.document not in (record.audit_document or ""):
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "since": datetime_to_json(self.since),
            "until": datetime_to_json(self.until),
            "status": self.status.value if self.status else None,
            "document": self.document,
        }
