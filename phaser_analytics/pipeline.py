"""The import half of the pipeline: discover → parse → record → store.

Each stage is a function taking data and returning data; the plugin host supplies the
dialects (parse) and the ``enrich_record`` implementations (record).
"""

from __future__ import annotations

import codecs
import contextlib
import contextvars
import dataclasses
import fnmatch
import os
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import AnalyticsError, ReportNotFoundError, ReportParseError, stderr_warning
from .hookspecs import optional
from .machine import EXTRA_KEY, machine_name
from .models import (
    ExecutionRecord,
    ExecutionStatus,
    InvalidRecord,
    bound_numbers,
    datetime_to_json,
    utcnow,
)
from .plugins import PluginHost, get_host
from .project_registry import register_project
from .stores.base import SaveAction, holds_many_projects, shared_store_url
from .untrusted_files import UnsafeFile, read_regular_file

#: Directories discovery never enters: version control, our own store, dependencies,
#: virtual environments and tool caches.
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".phaser",
        "node_modules",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".idea",
        ".vscode",
        "site-packages",
        ".eggs",
    }
)
#: How much of a file is sniffed for NUL bytes to call it binary.
_BINARY_SNIFF = 8192
#: The largest report read (docs/report-format.md): 20 MiB, twice a report whose pytest log
#: fills a code fence. A larger file is refused unread.
MAX_REPORT_BYTES = 20 * 1024 * 1024
#: Byte-order marks of the encodings read besides UTF-8, the longest first (UTF-32 LE's
#: starts with UTF-16 LE's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
#: Records handed to the store at once by default (``import_reports(batch_size=…)``):
#: bounds memory and the work lost to a crash.
SAVE_BATCH = 500

_RECORD_FIELDS = frozenset(f.name for f in dataclasses.fields(ExecutionRecord))


# -- discover -----------------------------------------------------------------------------


def _skip_dir(entry: os.DirEntry[str]) -> bool:
    if entry.name in SKIPPED_DIRS or entry.name.endswith(".egg-info"):
        return True
    # A virtual environment under any name.
    return os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))


class DiscoveryTimeout(TimeoutError):
    """:func:`discover` passed its deadline."""


def discover(
    root: Path,
    patterns: Sequence[str],
    *,
    recursive: bool,
    warn: Callable[[str], None] | None = None,
    deadline: float | None = None,
) -> list[Path]:
    """Report files under ``root`` whose names match one of ``patterns``, sorted.

    Symlinked directories are followed once each: a link back up the tree is not a loop.
    A directory that cannot be read is skipped with one ``warn`` each. With ``deadline``
    (a :func:`time.monotonic` value), a walk still going then raises
    :class:`DiscoveryTimeout` (``capture`` must finish within Claude Code's time limit).
    """
    found: list[Path] = []
    seen: set[str] = set()
    pending = [Path(root)]
    while pending:
        if deadline is not None and time.monotonic() > deadline:
            raise DiscoveryTimeout(f"the search of {root} took too long")
        directory = pending.pop()
        real = os.path.realpath(directory)
        if real in seen:
            continue
        seen.add(real)
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as exc:
            if warn is not None:
                warn(
                    f"cannot read the directory {directory} ({exc.strerror or exc}); "
                    "reports in it were not imported"
                )
            continue
        for entry in entries:
            try:
                if entry.is_dir():
                    if recursive and not _skip_dir(entry):
                        pending.append(Path(entry.path))
                elif entry.is_file() and any(fnmatch.fnmatch(entry.name, p) for p in patterns):
                    found.append(Path(entry.path))
            except OSError:
                continue
    return sorted(found)


def detect_execution_reports(project_dir: Path) -> list[Path]:
    """Find execution reports in a project directory, recursively, by every dialect's
    file patterns."""
    return discover(Path(project_dir), get_host().report_patterns(), recursive=True)


def report_paths(
    target: Path,
    *,
    recursive: bool,
    host: PluginHost | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[Path]:
    """The reports an ``import`` of ``target`` (a file or a directory) covers; ``warn``
    hears of each directory that cannot be read."""
    if not target.exists():
        raise ReportNotFoundError(target)
    if target.is_dir():
        patterns = (host or get_host()).report_patterns()
        return discover(target, patterns, recursive=recursive, warn=warn)
    return [target]


# -- parse --------------------------------------------------------------------------------


def read_report_text(path: Path) -> str:
    """The report's text, newlines normalised: UTF-8 (with or without a byte-order mark), or
    UTF-16 or UTF-32 with a byte-order mark.

    Only a regular file of at most :data:`MAX_REPORT_BYTES` is read: a device
    (``/dev/zero``), a FIFO (which would wait for a writer) or a socket is refused without
    reading, and so is a larger file, whatever its size said when opened. Empty, binary
    and undecodable files raise :class:`ReportParseError` with one clear line.
    """
    raw = _read_regular_file(Path(path))
    if not raw.strip():
        raise ReportParseError("the file is empty")
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                text = raw[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                label = encoding.split("-")[0].upper() + "-" + encoding.split("-")[1][:2]
                raise ReportParseError(
                    f"the file is not {label} text (invalid data at offset {exc.start + len(bom)})"
                ) from None
            return text.replace("\r\n", "\n").replace("\r", "\n")
    sniff = raw[:_BINARY_SNIFF]
    if b"\x00" in sniff:
        if _looks_like_utf16(sniff):
            raise ReportParseError(
                "the file is not UTF-8 text (it looks like UTF-16 without a byte-order mark; "
                "save it as UTF-8)"
            )
        raise ReportParseError("the file is binary, not a markdown report")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReportParseError(
            f"the file is not UTF-8 text (invalid byte at offset {exc.start})"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _looks_like_utf16(sniff: bytes) -> bool:
    """Whether every other byte is NUL, as in ASCII text written as UTF-16."""
    even, odd = sniff[0::2], sniff[1::2]
    return len(sniff) >= 4 and (even.count(0) == len(even) or odd.count(0) == len(odd))


def _read_regular_file(path: Path) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most :data:`MAX_REPORT_BYTES`
    (:func:`~phaser_analytics.untrusted_files.read_regular_file`: no device, no waiting on
    a FIFO, no more than the limit whatever the size said)."""
    try:
        return read_regular_file(path, MAX_REPORT_BYTES)
    except FileNotFoundError:
        raise ReportNotFoundError(path) from None
    except IsADirectoryError:
        raise ReportParseError("it is a directory, not a report file") from None
    except UnsafeFile as exc:
        if "regular" in str(exc):
            raise ReportParseError(
                "it is not a regular file (a device, FIFO or socket); only files are read"
            ) from None
        raise ReportParseError(
            f"the file is larger than {MAX_REPORT_BYTES:,} bytes "
            f"({MAX_REPORT_BYTES // (1024 * 1024)} MiB), the limit for a report"
        ) from None
    except OSError as exc:
        raise ReportParseError(f"the file cannot be read ({exc.strerror})") from None


def parse_execution_report(content: str) -> dict[str, Any]:
    """Parse report text into a dict of record fields, with the dialect that detects it.

    The same parse as ``import`` (:func:`parse_text`), for text in hand: the fields only,
    without the dialect's warnings or the keys it hands to the ``enrich_record`` hooks.
    Raises :class:`ReportParseError` (the spec's ``ParseError``) if it cannot be read,
    also when the dialect itself fails.
    """
    text = content.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    parsed = parse_text(text, None)
    for key in parsed.transient:
        parsed.data.pop(key, None)
    return parsed.data


def _transient_keys(dialect: Any) -> tuple[str, ...]:
    """Keys of ``dialect``'s parse meant for the ``enrich_record`` hooks, not the record
    (``transient_keys``, optional): they are in ``extra`` while the hooks run, ``None``
    when the parse gave none, and removed before the record is stored."""
    return tuple(optional(dialect, "transient_keys"))


@dataclass
class ParsedReport:
    data: dict[str, Any]
    dialect: str
    warnings: list[str] = field(default_factory=list)
    #: The dialect's transient keys, which ``data`` holds (``None`` when not given).
    transient: tuple[str, ...] = ()


def parse_report(
    path: Path, *, dialect: str | None = None, host: PluginHost | None = None
) -> ParsedReport:
    """Read the report file at ``path`` (:func:`read_report_text`) and parse it."""
    return parse_text(read_report_text(path), path, dialect=dialect, host=host)


def parse_text(
    text: str,
    path: Path | None,
    *,
    dialect: str | None = None,
    host: PluginHost | None = None,
) -> ParsedReport:
    """Parse report text (newlines normalised) with ``dialect``, else the one that detects
    it. A dialect that fails with anything but :class:`ReportParseError` fails the report
    the same way: a dialect's bug must not take a batch down."""
    host = host or get_host()
    chosen = host.dialect_for(text, forced=dialect)
    try:
        data = dict(chosen.parse(text, path))
    except ReportParseError:
        raise
    except Exception as exc:
        raise ReportParseError(f"the '{chosen.name}' dialect failed: {exc}") from exc
    warnings = [str(w) for w in data.pop("warnings", None) or []]
    transient = _transient_keys(chosen)
    for key in transient:
        data.setdefault(key, None)
    return ParsedReport(data, chosen.name, warnings, transient)


# -- record -------------------------------------------------------------------------------


#: The project a record is being imported into, while the ``enrich_record`` hooks run.
_IMPORT_PROJECT: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "phaser_analytics_import_project", default=None
)


def import_project_dir() -> Path | None:
    """The project directory the record being enriched is imported into (``--project``, or
    the one found from the working directory or the report), for ``enrich_record``
    implementations: its ``.phaser/config.json`` is the one that applies, wherever the
    report lives. ``None`` outside an import."""
    return _IMPORT_PROJECT.get()


def infer_project_dir(report_path: Path) -> Path:
    """The project of a report imported without a project directory: the one rule of
    :func:`phaser_analytics.project_root.find_project_root`, from the report's folder."""
    from .project_root import find_project_root

    return find_project_root(Path(report_path).resolve().parent)


def build_record(
    data: dict[str, Any], report_path: Path | None, project_dir: Path
) -> ExecutionRecord:
    """An :class:`ExecutionRecord` from a dialect's dict; what the report leaves out of the
    project's name and path comes from ``project_dir``, unknown keys go to ``extra``."""
    known = {k: v for k, v in data.items() if k in _RECORD_FIELDS}
    extra = dict(known.pop("extra", None) or {})
    extra.update({k: v for k, v in data.items() if k not in _RECORD_FIELDS})
    for name in ("execution_id", "imported_at", "report_path"):
        known.pop(name, None)
    status = known.get("status")
    if isinstance(status, str):
        known["status"] = ExecutionStatus(status)
    resolved = Path(project_dir).resolve()
    known.setdefault("project_name", None)
    known.setdefault("project_path", None)
    known["project_name"] = known["project_name"] or resolved.name
    known["project_path"] = known["project_path"] or str(resolved)
    return ExecutionRecord(
        execution_id=ExecutionRecord.generate_id(),
        report_path=str(Path(report_path).resolve()) if report_path else "",
        imported_at=utcnow(),
        extra=extra,
        **known,
    )


def import_execution_report(
    report_path: Path,
    project_dir: Path | None = None,
) -> ExecutionRecord:
    """Parse an EXECUTION_REPORT.md and create an execution record (not yet stored).

    ``project_dir`` is inferred from the report's location when not given. Raises
    :class:`ReportParseError` (the spec's ``ParseError``) if the report is invalid.
    """
    record, _ = load_report(Path(report_path), project_dir)
    return record


def load_report(
    report_path: Path,
    project_dir: Path | None = None,
    *,
    dialect: str | None = None,
    host: PluginHost | None = None,
    enrich: bool = True,
    skip_plugins: Collection[str] = (),
    prepare: Callable[[ExecutionRecord], None] | None = None,
) -> tuple[ExecutionRecord, list[str]]:
    """Parse and build one record, running the ``enrich_record`` hooks (but those of the
    plugins in ``skip_plugins``); return it with its warnings.

    ``prepare``, if given, sees the record before the hooks do (``capture`` sets the
    session's token usage there, which the ``claude_tokens`` plugin then leaves alone).
    """
    host = host or get_host()
    parsed = parse_report(report_path, dialect=dialect, host=host)
    target = project_dir or infer_project_dir(report_path)
    record = build_record(parsed.data, report_path, target)
    warnings = list(parsed.warnings)
    if prepare is not None:
        prepare(record)
    if enrich:
        token = _IMPORT_PROJECT.set(Path(target))
        try:
            warnings.extend(host.enrich(record, Path(report_path), skip_plugins))
        finally:
            _IMPORT_PROJECT.reset(token)
    for key in parsed.transient:
        record.extra.pop(key, None)
    warnings.extend(bound_numbers(record))
    warnings.extend(check_times(record))
    _check_storable(record)
    return record, warnings


def check_times(record: ExecutionRecord) -> list[str]:
    """A warning when the report's Completed is before its Started: both are kept as the
    report states them, and the record has no duration."""
    start, end = record.started_at, record.completed_at
    if start is None or end is None or record.date_only or end >= start:
        return []
    return [
        f"Completed ({datetime_to_json(end)}) is before Started ({datetime_to_json(start)}); "
        "no duration is stored"
    ]


def _check_storable(record: ExecutionRecord) -> None:
    """What import stores must load again: the record as its file will hold it passes
    :meth:`ExecutionRecord.from_dict`'s checks (a dialect or plugin that set a field of
    the wrong type fails this report, not every later command)."""
    try:
        ExecutionRecord.from_dict(record.to_dict())
    except InvalidRecord as exc:
        raise ReportParseError(f"the record read from it is invalid: {exc}") from None


# -- store --------------------------------------------------------------------------------


@dataclass
class ReportOutcome:
    """What happened to one report of a batch."""

    path: Path
    #: ``None`` until the report's batch is saved.
    action: SaveAction | None
    #: The record read, until the outcome is reported (``import_reports`` drops it then).
    record: ExecutionRecord | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    existing_id: str | None = None


@dataclass
class ImportSummary:
    outcomes: list[ReportOutcome] = field(default_factory=list)

    def count(self, *actions: SaveAction) -> int:
        return sum(1 for o in self.outcomes if o.action in actions)

    @property
    def imported(self) -> int:
        return self.count(SaveAction.IMPORTED, SaveAction.REPLACED)

    @property
    def already(self) -> int:
        return self.count(SaveAction.ALREADY)

    @property
    def failed(self) -> int:
        return self.count(SaveAction.FAILED)


def import_reports(
    paths: Iterable[Path],
    project_dir: Path,
    *,
    force: bool = False,
    dialect: str | None = None,
    host: PluginHost | None = None,
    on_report: Callable[[ReportOutcome], None] | None = None,
    warn: Callable[[str], None] | None = None,
    skip_plugins: Collection[str] = (),
    prepare: Callable[[ExecutionRecord], None] | None = None,
    origin: str = "import",
    store: Any = None,
    jobs: int | None = 1,
    batch_size: int = SAVE_BATCH,
    claim: bool = True,
    shared: bool | None = None,
) -> ImportSummary:
    """Import many reports into one store (``store``, else the one in force for
    ``project_dir``).

    One bad report never stops the batch: it becomes a ``failed`` outcome. Records are
    saved in batches of ``batch_size`` (default :data:`SAVE_BATCH`), one transaction each.
    Each outcome is reported through ``on_report`` once it is settled: failures at once, the
    others when their batch is stored. ``jobs`` > 1 parses in that many worker processes
    while this process alone writes (``None``: one per core, when there are enough reports
    to pay for the workers); the records are the same either way.

    Every execution saved (imported or replaced) is handed to the ``record_stored`` hooks
    once, after its batch is committed and before it is reported; ``origin`` says which
    command imported it (``import``, ``capture``, ``drain``).

    In a store of many projects, ``claim`` files the executions under ``project_dir`` (the
    project they are imported into) whatever path their reports state
    (:func:`.stores.base.claim_for_project`); without it they keep the stated path.

    ``shared`` says whether ``store``'s URL came from where any project's commands find it
    (``--store``, ``PHASER_STORE``, the user's config: :func:`.stores.base.shared_store_url`;
    ``None``: decided from ``PHASER_STORE`` and the config). An import into a shared store
    of many projects leaves the project registry alone.
    """
    from .query import project_key, project_store
    from .stores.base import claim_for_project

    host = host or get_host()
    own_store = store is None
    if store is None:
        store = project_store(project_dir, **({"warn": warn} if warn is not None else {}))
    where = {**store_info(store, Path(project_dir)), "import_id": uuid.uuid4().hex}
    stack = contextlib.ExitStack()
    claim = claim and holds_many_projects(store)
    machine = machine_name()
    summary = ImportSummary()
    pending: list[ReportOutcome] = []

    def settle(outcome: ReportOutcome) -> None:
        """Report the outcome, then drop its record: once reported and stored it is not
        needed, and an import of 10,000 reports then holds one batch of records, not all
        of them (peak memory and the garbage collector's work both grew with N)."""
        if on_report is not None:
            on_report(outcome)
        outcome.record = None

    def flush() -> None:
        if not pending:
            return
        records = [o.record for o in pending if o.record is not None]
        for record in records:  # where this run came from, in a team's shared history
            record.extra.setdefault(EXTRA_KEY, machine)
        if claim:
            for record in records:
                claim_for_project(record, where["project_dir"])
        saved = store.save(records, replace=force)
        for outcome, result in zip(pending, saved, strict=True):
            outcome.action = result.action
            outcome.existing_id = result.execution_id
            if result.action.stored and outcome.record is not None:
                info = {**where, "action": result.action.value, "origin": origin}
                host.stored(outcome.record, info, warn or stderr_warning)
            settle(outcome)
        pending.clear()

    paths = list(paths)
    try:
        if len(paths) >= FEWER_COLLECTIONS_FROM:
            stack.enter_context(_fewer_collections())
        parsed = _parse_all(paths, project_dir, dialect, host, skip_plugins, prepare, jobs)
        for path, record, warnings, error in parsed:
            if record is None:
                outcome = ReportOutcome(path, SaveAction.FAILED, error=error)
                summary.outcomes.append(outcome)
                settle(outcome)
                continue
            outcome = ReportOutcome(path, None, record=record, warnings=warnings)
            summary.outcomes.append(outcome)
            pending.append(outcome)
            if len(pending) >= batch_size:
                flush()
        flush()
        # The registry serves `projects` and --global when no store of many projects is
        # in force. One shared between projects (SQLite, PostgreSQL named by --store,
        # PHASER_STORE or the user's config) answers them itself, so an import into it
        # skips the registry's lock and fsync; a project's own store (its JSON store, or
        # a SQLite store its config names, always inside it) is found elsewhere only
        # through the registry (docs/storage.md).
        if shared is None:
            shared = shared_store_url(None, Path(project_dir))
        if summary.imported and not (shared and holds_many_projects(store)):
            key = project_key(project_dir, store)
            info = store.info()
            register_project(
                Path(project_dir),
                info.project_name(key) or Path(project_dir).resolve().name,
                info.count_for(key),
                warn=warn or stderr_warning,
            )
    finally:
        stack.close()
        if own_store:
            store.close()
    return summary


#: From this many reports an import makes the cyclic garbage collector run less often.
FEWER_COLLECTIONS_FROM = 64
#: The youngest generation's threshold during such an import (Python's default is 700).
IMPORT_GC_THRESHOLD = 20_000


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often for a bulk import (bulk import ≤ 1.5×
    and parallel import ≤ 0.75× the parse floor, docs/performance.md).

    markdown-it-py makes thousands of short-lived token objects per report, which reference
    counting frees, so the youngest generation fills and is scanned every few hundred
    allocations for nothing. ``gc.freeze()`` first moves everything alive now (modules,
    plugins) to a generation never scanned again, which forked workers inherit too. Both are
    undone at the end; cycles made meanwhile are still collected, only less often."""
    import gc

    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], IMPORT_GC_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def store_info(store: Any, project_dir: Path) -> dict[str, Any]:
    """What the ``record_stored`` hooks are told about the store that saved a record."""
    return {
        "backend": getattr(store, "backend", "unknown"),
        "location": store.url,
        "project_dir": str(Path(project_dir).resolve()),
    }


#: Below this many reports one process parses them all: starting workers costs more.
PARALLEL_FROM = 64

_Parsed = tuple[Path, "ExecutionRecord | None", list[str], "str | None"]


def _parse_one(
    path: Path,
    project_dir: Path,
    dialect: str | None,
    host: PluginHost,
    skip_plugins: Collection[str],
    prepare: Callable[[ExecutionRecord], None] | None,
) -> _Parsed:
    try:
        record, warnings = load_report(
            path,
            project_dir,
            dialect=dialect,
            host=host,
            skip_plugins=skip_plugins,
            prepare=prepare,
        )
    except AnalyticsError as exc:
        return path, None, [], _reason(exc)
    return path, record, warnings, None


#: What a worker process parses with: set before the workers are forked.
_worker_args: tuple[Any, ...] = ()


def _parse_in_worker(path: Path) -> _Parsed:
    return _parse_one(path, *_worker_args)


def _parse_all(
    paths: list[Path],
    project_dir: Path,
    dialect: str | None,
    host: PluginHost,
    skip_plugins: Collection[str],
    prepare: Callable[[ExecutionRecord], None] | None,
    jobs: int | None,
) -> Iterator[_Parsed]:
    """Each report parsed, in order: here, or in ``jobs`` worker processes (forked, so they
    share the plugins already loaded)."""
    if jobs is None:
        jobs = (os.cpu_count() or 1) if len(paths) >= PARALLEL_FROM else 1
    if jobs > 1 and len(paths) >= 2:
        import multiprocessing  # here: ~5 ms that an import of one report does not need

        if "fork" not in multiprocessing.get_all_start_methods():
            jobs = 1
    if jobs <= 1 or len(paths) < 2:
        for path in paths:
            yield _parse_one(path, project_dir, dialect, host, skip_plugins, prepare)
        return
    from concurrent.futures import ProcessPoolExecutor

    global _worker_args
    _worker_args = (project_dir, dialect, host, tuple(skip_plugins), prepare)
    context = multiprocessing.get_context("fork")
    chunk = max(1, min(64, len(paths) // (jobs * 8) or 1))
    with ProcessPoolExecutor(max_workers=min(jobs, len(paths)), mp_context=context) as pool:
        yield from pool.map(_parse_in_worker, paths, chunksize=chunk)


def _reason(exc: AnalyticsError) -> str:
    """The part of an error worth printing after ``✗ Failed: {path} -``."""
    return str(exc)
