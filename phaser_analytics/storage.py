"""The JSON store of spec §4: one file per execution, and an index that is only a cache.

Layout (docs/storage.md)::

    {project}/.phaser/analytics/
        index.json              the cache: one summary per execution, and the stats
        executions/{timestamp}-{short_id}.json
        quarantine/             record files that could not be read, moved aside
        .lock                   the writers' lock file
        .journal                present only while a write is being committed

Every file is written to a temporary file in the same directory, flushed and fsynced, then
renamed over its target, so a reader sees the old file or the new, never half of one. A
change of several files (an import batch, a delete) is first staged in temporary files, where
a full disk or a permission error shows before anything is changed; then the ``.journal``
marks the store as changing while the temporary files are renamed into place. A process
killed in the middle leaves the journal behind, and the next command rebuilds the index from
the record files. Writers take ``.lock``; readers take it only to heal the index.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import ExecutionNotFoundError, StorageError, StoreWriteError
from .models import (
    AggregatedStats,
    ExecutionRecord,
    ExecutionStatus,
    datetime_from_json,
    datetime_to_json,
    utcnow,
)

INDEX_SCHEMA_VERSION = "1.1"
#: Record files of this schema major version are read (1.0 is the spec's, 1.1 ours; a
#: later 1.x only adds fields). Another major version is left alone, not quarantined.
READABLE_RECORD_MAJOR = "1"
LOCK_TIMEOUT_SECONDS = 30.0
#: Prefixes shorter than this never select an execution, as with git's short SHAs.
MIN_PREFIX_LENGTH = 4
MAX_ID_LENGTH = 128
TEMP_SUFFIX = ".tmp"
JOURNAL_NAME = ".journal"
LOCK_NAME = ".lock"
_VALID_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")

Warn = Callable[[str], None]


def _stderr(message: str) -> None:
    print(f"Warning: {message}", file=sys.stderr)


def is_valid_execution_id(value: object) -> bool:
    """True for an id that is safe as part of a file name: letters, digits, ``-`` and ``_``,
    starting with a letter or digit (so never empty, ``..`` or a path)."""
    return (
        isinstance(value, str)
        and len(value) <= MAX_ID_LENGTH
        and _VALID_ID.fullmatch(value) is not None
    )


def get_analytics_dir(project_dir: Path) -> Path:
    """Get the analytics directory for a project: ``{project}/.phaser/analytics``."""
    return Path(project_dir) / ".phaser" / "analytics"


def ensure_analytics_dir(project_dir: Path) -> Path:
    """Ensure the analytics directory (and its ``executions/``) exists; return it."""
    analytics_dir = get_analytics_dir(project_dir)
    try:
        (analytics_dir / "executions").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreWriteError(analytics_dir) from exc
    return analytics_dir


# -- atomic files ---------------------------------------------------------------------------

_file_mode: int | None = None


def _new_file_mode() -> int:
    """The mode an ordinary new file gets (0o666 less the umask).

    ``mkstemp`` creates files readable by their owner only; a record must read like any
    other file of the project, for a teammate or a CI job running as another user.
    """
    global _file_mode
    if _file_mode is None:
        mask = os.umask(0)
        os.umask(mask)
        _file_mode = 0o666 & ~mask
    return _file_mode


def _fsync_dir(directory: Path) -> None:
    """Make renames in ``directory`` durable; a no-op where directories cannot be opened."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def stage_file(path: Path, data: bytes) -> Path:
    """Write ``data`` to a fsynced temporary file beside ``path``; return the temporary path.

    The temporary name starts with a dot and ends in ``.tmp``, so nothing reads it as a record.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), _new_file_mode())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new, never half."""
    tmp = stage_file(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text with ``\\n`` line ends."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode("utf-8")


def _is_temp_name(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


class _Change:
    """Several files written and removed as one change.

    Everything new is staged first (a full disk or a permission error shows here and
    changes nothing); :meth:`commit` then marks the store with the journal, renames the
    staged files into place in order and removes what is to go, then clears the journal.
    A rename that fails puts back what the earlier ones replaced. A removal that fails
    leaves the journal, so the next command rebuilds the index from what is really there.
    """

    def __init__(self, journal: Path) -> None:
        self.journal = journal
        self.staged: list[tuple[Path, Path, bool]] = []  # (temporary, target, restorable)
        self.removals: list[Path] = []

    def write(self, path: Path, data: bytes, *, restorable: bool = True) -> None:
        """Stage ``data`` for ``path``. ``restorable`` False: nothing is renamed after this
        file, so its old content never needs putting back (and is not read)."""
        self.staged.append((stage_file(path, data), path, restorable))

    def remove(self, path: Path) -> None:
        self.removals.append(path)

    def discard(self) -> None:
        for tmp, _, _ in self.staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        self.staged.clear()

    def commit(self) -> None:
        try:
            atomic_write_bytes(self.journal, _json_bytes(self._journal_payload()))
        except BaseException:
            self.discard()
            raise
        self._rename_all()
        for path in self.removals:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        for directory in {target.parent for _, target, _ in self.staged} | {
            path.parent for path in self.removals
        }:
            _fsync_dir(directory)
        self.staged.clear()
        self._clear_journal()

    def _rename_all(self) -> None:
        done: list[tuple[Path, bytes | None]] = []
        try:
            for tmp, target, restorable in self.staged:
                previous = _read_bytes_or_none(target) if restorable else None
                os.replace(tmp, target)
                done.append((target, previous))
        except BaseException:
            for target, previous in reversed(done):
                with contextlib.suppress(OSError):
                    if previous is None:
                        os.unlink(target)
                    else:
                        atomic_write_bytes(target, previous)
            self.discard()
            self._clear_journal()
            raise

    def _journal_payload(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "started_at": datetime_to_json(utcnow()),
            "writes": [target.name for _, target, _ in self.staged],
            "removals": [path.name for path in self.removals],
        }

    def _clear_journal(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.journal)


def _read_bytes_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


# -- records and index entries ----------------------------------------------------------------


def record_filename(record: ExecutionRecord, *, long: bool = False) -> str:
    """``{timestamp}-{short_id}.json`` (spec §4.2), the timestamp being the UTC start.

    ``long`` uses the whole id, for the rare record whose short name is already taken.
    """
    moment = record.started_at or record.imported_at
    stamp = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H-%M-%S")
    suffix = record.execution_id.replace("-", "") if long else record.short_id
    return f"{stamp}-{suffix}.json"


@dataclass
class IndexEntry:
    """What the index keeps of an execution: enough to filter, sort and aggregate without
    opening the record file. It has the attributes :meth:`AggregatedStats.compute` and
    :meth:`AnalyticsQuery.matches` read."""

    execution_id: str
    filename: str
    audit_document: str | None
    document_title: str | None
    project_name: str | None
    project_path: str | None
    branch: str | None
    base_commit: str | None
    started_at: datetime | None
    completed_at: datetime | None
    status: ExecutionStatus
    duration_seconds: float | None
    test_delta: int | None
    phases_planned: int | None
    phases_completed: int | None
    total_tokens: int | None
    cost_usd: float | None

    @property
    def identity(self) -> tuple[str | None, str | None, str | None, str | None]:
        return (
            self.project_path,
            self.audit_document,
            datetime_to_json(self.started_at),
            self.base_commit,
        )

    @classmethod
    def from_record(cls, record: ExecutionRecord, filename: str) -> IndexEntry:
        # Every entry field is a field or property of the record of the same name.
        values = {name: getattr(record, name) for name in _ENTRY_FIELDS if name != "filename"}
        return cls(filename=filename, **values)

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in _ENTRY_FIELDS}
        for name in _ENTRY_DATETIMES:
            data[name] = datetime_to_json(data[name])
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexEntry:
        values = {name: data.get(name) for name in _ENTRY_FIELDS}
        for name in _ENTRY_DATETIMES:
            values[name] = datetime_from_json(values[name])
        values["execution_id"] = data["execution_id"]
        values["filename"] = data["filename"]
        values["status"] = ExecutionStatus(data["status"])
        return cls(**values)


_ENTRY_FIELDS = tuple(f.name for f in dataclasses.fields(IndexEntry))
_ENTRY_DATETIMES = ("started_at", "completed_at")


def sort_newest_first(items: Iterable[Any]) -> list[Any]:
    """Newest start first; executions with an unknown start last, then by id for stability."""
    return sorted(
        items,
        key=lambda item: (
            item.started_at is not None,
            item.started_at.timestamp() if item.started_at else 0.0,
            item.execution_id,
        ),
        reverse=True,
    )


class UnreadableRecord(Exception):
    """A record file that is not a record: bad JSON, a bad field, an invalid id."""


class FutureRecord(Exception):
    """A record file of a schema this version does not know (a newer phaser-analytics)."""


def parse_record_file(path: Path) -> ExecutionRecord:
    """Read one record file. Raises :class:`UnreadableRecord`, :class:`FutureRecord` or
    ``FileNotFoundError``; never moves anything."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UnreadableRecord(str(exc)) from exc
    if not isinstance(data, dict):
        raise UnreadableRecord("not a JSON object")
    version = data.get("schema_version")
    if not isinstance(version, str) or not version:
        raise UnreadableRecord("no schema_version")
    if version.split(".")[0] != READABLE_RECORD_MAJOR:
        raise FutureRecord(f"schema_version {version!r}")
    try:
        record = ExecutionRecord.from_dict(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UnreadableRecord(f"{type(exc).__name__}: {exc}") from exc
    if not is_valid_execution_id(record.execution_id):
        raise UnreadableRecord(f"invalid execution_id {record.execution_id!r}")
    return record


@dataclass
class SaveOutcome:
    """What :meth:`Store.add` did with one record."""

    record: ExecutionRecord
    action: str  # "imported", "replaced" or "already"
    path: Path | None = None
    existing_id: str | None = None


@dataclass
class IndexState:
    """The index as read from disk, and why it cannot be trusted.

    ``problem`` is ``None`` (trust it), ``"missing"``, ``"unreadable"``, ``"schema"``,
    ``"corrupt"``, ``"stale"`` (record files added or removed behind its back) or
    ``"journal"`` (a write was interrupted); ``reason`` says it in words.
    """

    entries: list[IndexEntry] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problem: str | None = None
    reason: str = ""


@dataclass
class Scan:
    """The record files as read one by one (what a rebuild or ``doctor`` sees)."""

    records: dict[str, ExecutionRecord] = field(default_factory=dict)  # filename → record
    corrupt: dict[str, str] = field(default_factory=dict)  # filename → reason
    future: dict[str, str] = field(default_factory=dict)  # filename → reason
    duplicates: dict[str, str] = field(default_factory=dict)  # filename → kept filename

    def entries(self) -> list[IndexEntry]:
        return [IndexEntry.from_record(record, name) for name, record in self.records.items()]

    def keep_newest_of_duplicates(self) -> None:
        """Two files with one execution id (a crash while a record was renamed, a copied
        file): keep the one imported last and set the others aside."""
        by_id: dict[str, list[str]] = {}
        for name, record in self.records.items():
            by_id.setdefault(record.execution_id.lower(), []).append(name)
        for names in by_id.values():
            if len(names) < 2:
                continue
            names.sort(key=lambda n: (self.records[n].imported_at, n), reverse=True)
            for name in names[1:]:
                self.duplicates[name] = names[0]
                del self.records[name]


@dataclass
class Finding:
    """One thing ``doctor`` found: ``level`` is ``"ok"``, ``"note"`` (worth knowing, not
    wrong) or ``"problem"``."""

    check: str
    message: str
    level: str = "problem"

    @property
    def problem(self) -> bool:
        return self.level == "problem"


class Store:
    """One project's analytics store."""

    def __init__(self, project_dir: Path, *, warn: Warn = _stderr) -> None:
        self.project_dir = Path(project_dir)
        self.analytics_dir = get_analytics_dir(self.project_dir)
        self.executions_dir = self.analytics_dir / "executions"
        self.quarantine_dir = self.analytics_dir / "quarantine"
        self.index_path = self.analytics_dir / "index.json"
        self.journal_path = self.analytics_dir / JOURNAL_NAME
        self.lock_path = self.analytics_dir / LOCK_NAME
        self.warn = warn
        self._entries: list[IndexEntry] | None = None
        self._skipped: list[str] = []
        self._lock_depth = 0

    # -- locking ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
        """Hold the store's writer lock (an advisory lock file). Re-entrant.

        Raises :class:`StoreWriteError` when the lock file cannot be created (the store is
        not writable) and :class:`StorageError` when another process holds it too long.
        """
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        import filelock

        ensure_analytics_dir(self.project_dir)
        lock = filelock.FileLock(str(self.lock_path), timeout=timeout)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise StorageError(
                f"Another phaser analytics command is writing to {self.analytics_dir}; "
                f"waited {timeout:g}s for it. Try again when it has finished."
            ) from None
        except OSError as exc:
            raise StoreWriteError(self.analytics_dir) from exc
        self._lock_depth = 1
        # Another writer may have changed the store while we waited.
        self._entries = None
        try:
            yield
        finally:
            self._lock_depth = 0
            lock.release()

    @contextlib.contextmanager
    def _lock_if_writable(self) -> Iterator[bool]:
        """The lock when the store can be written, else nothing: a read-only store (a
        mounted artifact, another user's project) is still read, just never healed."""
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self.lock())
            except StoreWriteError:
                yield False
            else:
                yield True

    # -- reading ------------------------------------------------------------------------------

    def exists(self) -> bool:
        return self.executions_dir.is_dir()

    def record_files(self) -> list[str]:
        """Names of the record files, sorted (temporary files and folders are not records)."""
        try:
            with os.scandir(self.executions_dir) as it:
                return sorted(
                    e.name
                    for e in it
                    if e.name.endswith(".json") and not e.name.startswith(".") and e.is_file()
                )
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise StorageError(
                f"Cannot read analytics directory: {self.executions_dir} ({exc.strerror})"
            ) from exc

    def entries(self) -> list[IndexEntry]:
        """The index entries, newest first; the index is rebuilt if it is not trustworthy."""
        if self._entries is None:
            state = self.read_index()
            if state.problem is not None:
                state = self._heal(state)
            self._entries = sort_newest_first(state.entries)
            self._skipped = state.skipped
        return self._entries

    def read_index(self) -> IndexState:
        """The index as it is on disk, checked against the record files and the journal."""
        files = self.record_files()
        try:
            raw = self.index_path.read_bytes()
        except FileNotFoundError:
            return IndexState(problem="missing", reason="is missing") if files else IndexState()
        except OSError as exc:
            return IndexState(problem="unreadable", reason=f"cannot be read ({exc.strerror})")
        try:
            data = json.loads(raw)
            version = data.get("schema_version")
            if version != INDEX_SCHEMA_VERSION:
                return IndexState(problem="schema", reason=f"has schema {version!r}")
            entries = [IndexEntry.from_dict(item) for item in data["executions"]]
            skipped = [str(name) for name in data.get("skipped_files", [])]
            if data.get("execution_count") != len(entries):
                raise ValueError("execution_count disagrees with executions")
        except (ValueError, KeyError, TypeError, AttributeError):
            return IndexState(problem="corrupt", reason="is corrupt")
        if sorted([e.filename for e in entries] + skipped) != files:
            return IndexState(entries, skipped, "stale", "is out of step with the record files")
        if self.journal_path.exists():
            return IndexState(
                entries, skipped, "journal", "may be out of step after an interrupted write"
            )
        return IndexState(entries, skipped)

    def _heal(self, state: IndexState) -> IndexState:
        """Rebuild an untrustworthy index, under the lock when the store can be written.

        A writer holding the lock may be mid-commit: once we have the lock it has finished,
        and the index may be good again without our help.
        """
        with self._lock_if_writable() as locked:
            if locked:
                state = self.read_index()
                if state.problem is None:
                    return state
            scan = self.scan(repair=locked)
            self.warn(f"analytics index {state.reason}; rebuilt it from the record files.")
            if locked:
                self._write_index(scan.entries(), list(scan.future))
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.journal_path)
            return IndexState(scan.entries(), list(scan.future))

    def scan(self, *, repair: bool, report: bool = True) -> Scan:
        """Read every record file.

        With ``repair`` (under the lock), corrupt files and duplicates are moved to
        ``quarantine/``. With ``report``, each of them (and each file of a newer schema,
        which stays where it is) is one warning.
        """
        scan = Scan()
        for name in self.record_files():
            try:
                scan.records[name] = parse_record_file(self.executions_dir / name)
            except FileNotFoundError:
                continue
            except UnreadableRecord as exc:
                scan.corrupt[name] = str(exc)
            except FutureRecord as exc:
                scan.future[name] = str(exc)
        scan.keep_newest_of_duplicates()
        warn = self.warn if report else _silent
        for name, reason in scan.future.items():
            warn(
                f"record file {name} has {reason}, written by a newer phaser-analytics; "
                "it is left in place and not shown. Upgrade phaser-analytics to read it."
            )
        for name, reason in scan.corrupt.items():
            warn(f"record file {name} is unreadable ({reason}); {self._set_aside(name, repair)}.")
        for name, kept in scan.duplicates.items():
            warn(
                f"record file {name} repeats the execution id of {kept}; "
                f"{self._set_aside(name, repair)}."
            )
        return scan

    def _set_aside(self, name: str, move: bool) -> str:
        """Move a record file into ``quarantine/`` (under a name no earlier one has) when
        ``move``; say where it is."""
        if not move:
            return "left in place (the store is not writable)"
        try:
            self.quarantine_dir.mkdir(exist_ok=True)
            target = self.quarantine_dir / name
            counter = 1
            while target.exists():
                target = self.quarantine_dir / f"{name}.{counter}"
                counter += 1
            os.replace(self.executions_dir / name, target)
        except OSError as exc:
            return f"left in place (it cannot be moved: {exc.strerror})"
        return f"moved to {target}"

    def _read_record(self, entry: IndexEntry) -> ExecutionRecord | None:
        """The record an index entry points at; ``None`` if it has vanished or cannot be
        read (it is then set aside and dropped from the index, with a warning)."""
        try:
            return parse_record_file(self.executions_dir / entry.filename)
        except FileNotFoundError:
            self._entries = None
            return None
        except (UnreadableRecord, FutureRecord) as exc:
            self._forget_unreadable(entry, str(exc))
            return None

    def _forget_unreadable(self, entry: IndexEntry, reason: str) -> None:
        with self._lock_if_writable() as locked:
            where = self._set_aside(entry.filename, locked)
            self.warn(f"record file {entry.filename} is unreadable ({reason}); {where}.")
            state = self.read_index()
            # An index that is wrong in some other way is left for the next read to heal.
            if locked and where.startswith("moved") and state.problem == "stale":
                kept = [e for e in state.entries if e.filename != entry.filename]
                with contextlib.suppress(StoreWriteError):
                    self._write_index(kept, state.skipped)
        self._entries = None

    def load(self, execution_id: str) -> ExecutionRecord:
        """The execution with this id or unique id prefix."""
        entry = self.resolve(execution_id)
        record = self._read_record(entry)
        if record is None:
            raise ExecutionNotFoundError(execution_id)
        return record

    def load_entries(self, entries: Sequence[IndexEntry]) -> list[ExecutionRecord]:
        """Full records for ``entries``, in their order; vanished or corrupt ones skipped."""
        records = []
        for entry in entries:
            record = self._read_record(entry)
            if record is not None:
                records.append(record)
        return records

    def resolve(self, execution_id: str) -> IndexEntry:
        """The entry for a full id or a unique prefix of one (like git's short SHAs).

        An id that could not be an execution id (empty, ``..``, a path) is not found before
        anything is read.
        """
        if not is_valid_execution_id(execution_id):
            raise ExecutionNotFoundError(execution_id)
        return _Resolver(self.entries()).resolve(execution_id)

    # -- writing ------------------------------------------------------------------------------

    def _index_bytes(self, entries: Sequence[IndexEntry], skipped: Sequence[str]) -> bytes:
        ordered = sort_newest_first(entries)
        project_name = next((e.project_name for e in ordered if e.project_name), None)
        payload = {
            "schema_version": INDEX_SCHEMA_VERSION,
            "project_name": project_name or self.project_dir.resolve().name,
            "updated_at": datetime_to_json(utcnow()),
            "execution_count": len(ordered),
            "executions": [e.to_dict() for e in ordered],
            "stats": AggregatedStats.compute(ordered).to_dict(),
            "skipped_files": sorted(skipped),
        }
        return _json_bytes(payload)

    def _write_index(self, entries: Sequence[IndexEntry], skipped: Sequence[str]) -> None:
        try:
            atomic_write_bytes(self.index_path, self._index_bytes(entries, skipped))
        except OSError as exc:
            raise StoreWriteError(self.analytics_dir) from exc
        self._entries = sort_newest_first(entries)
        self._skipped = list(skipped)

    def _commit(self, change: _Change, entries: Sequence[IndexEntry]) -> None:
        """Stage the index for ``entries`` last in ``change``, and commit it all."""
        skipped = list(self._skipped)
        try:
            change.write(self.index_path, self._index_bytes(entries, skipped), restorable=False)
            change.commit()
        except OSError as exc:
            change.discard()
            raise StoreWriteError(self.analytics_dir) from exc
        except BaseException:
            change.discard()
            raise
        self._entries = sort_newest_first(entries)

    def add(self, records: Iterable[ExecutionRecord], *, force: bool = False) -> list[SaveOutcome]:
        """Store ``records`` as one change, under the lock.

        An execution already stored (the same id, or the same identity) is skipped, unless
        ``force``, which replaces it and keeps its stored id. Either every record and the
        index are written, or (a full disk, a permission error) nothing is.
        """
        outcomes: list[SaveOutcome] = []
        with self.lock():
            batch = _Batch(self.entries(), self.executions_dir)
            change = _Change(self.journal_path)
            try:
                for record in records:
                    outcome = batch.place(record, force=force)
                    outcomes.append(outcome)
                    if outcome.path is not None:
                        change.write(outcome.path, _json_bytes(record.to_dict()))
                for stale in batch.stale_files:
                    change.remove(self.executions_dir / stale)
                if change.staged:
                    self._commit(change, batch.entries())
            except OSError as exc:
                change.discard()
                raise StoreWriteError(self.analytics_dir) from exc
            except BaseException:
                change.discard()
                raise
        return outcomes

    def delete(self, execution_ids: Iterable[str], *, missing_ok: bool = False) -> list[IndexEntry]:
        """Delete executions by id or unique prefix; return the entries removed.

        An id that matches nothing raises :class:`ExecutionNotFoundError` before anything
        is deleted, unless ``missing_ok`` (for a caller deleting what it listed a moment
        ago, which another command may have deleted since).
        """
        wanted = list(execution_ids)
        for execution_id in wanted:
            if not is_valid_execution_id(execution_id) and not missing_ok:
                raise ExecutionNotFoundError(execution_id)
        if not self.exists():
            if wanted and not missing_ok:
                raise ExecutionNotFoundError(wanted[0])
            return []
        with self.lock():
            entries = self.entries()
            resolver = _Resolver(entries)
            targets: dict[str, IndexEntry] = {}
            for execution_id in wanted:
                try:
                    if not is_valid_execution_id(execution_id):
                        raise ExecutionNotFoundError(execution_id)
                    entry = resolver.resolve(execution_id)
                except ExecutionNotFoundError:
                    if missing_ok:
                        continue
                    raise
                targets[entry.execution_id] = entry
            if targets:
                change = _Change(self.journal_path)
                for entry in targets.values():
                    change.remove(self.executions_dir / entry.filename)
                self._commit(change, [e for e in entries if e.execution_id not in targets])
        return list(targets.values())

    def rebuild(self) -> list[IndexEntry]:
        """Rebuild the index from the record files (under the lock) and return its entries."""
        with self.lock():
            scan = self.scan(repair=True)
            self._write_index(scan.entries(), list(scan.future))
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.journal_path)
            return self.entries()

    # -- doctor -------------------------------------------------------------------------------

    def diagnose(self, *, lock_timeout: float = 5.0) -> list[Finding]:
        """Check the store and say what is wrong; change nothing (but create the lock file).

        The checks run under the lock when it can be had, so a command writing at the same
        time is not mistaken for damage.
        """
        if not self.analytics_dir.is_dir():
            return [Finding("store", f"no analytics store at {self.analytics_dir}", "note")]
        with contextlib.ExitStack() as stack:
            lock = self._try_lock(stack, lock_timeout)
            return [lock, *self._check(locked=lock.level == "ok")]

    def _try_lock(self, stack: contextlib.ExitStack, timeout: float) -> Finding:
        """Take the lock into ``stack`` if it can be had; say how that went."""
        try:
            stack.enter_context(self.lock(timeout=timeout))
        except StoreWriteError:
            return Finding("lock", f"cannot take the lock: {self.analytics_dir} is read-only")
        except StorageError:
            return Finding(
                "lock",
                f"another process has held the lock for over {timeout:g}s "
                "(if no phaser command is running, it is stuck)",
            )
        return Finding("lock", "the lock is free", "ok")

    def _check(self, *, locked: bool) -> list[Finding]:
        state = self.read_index()
        scan = self.scan(repair=False, report=False)
        findings = self._check_index(state, scan)
        if self.journal_path.exists() and locked:
            findings.append(Finding("journal", "an earlier write was interrupted (.journal)"))
        findings += [
            Finding("record", f"corrupt record file {n}: {r}") for n, r in scan.corrupt.items()
        ]
        findings += [
            Finding("record", f"{n} repeats the execution id of {k}")
            for n, k in scan.duplicates.items()
        ]
        findings += [
            Finding("record", f"{n} has {r} (a newer phaser-analytics)", "note")
            for n, r in scan.future.items()
        ]
        temps = self.temp_files()
        if temps:
            # Without the lock they may belong to a command that is writing right now.
            message = f"{len(temps)} leftover temporary file(s): {_names(temps)}"
            findings.append(Finding("temp", message, "problem" if locked else "note"))
        quarantined = self.quarantined_files()
        if quarantined:
            message = (
                f"{len(quarantined)} file(s) in {self.quarantine_dir}: inspect them, then "
                "delete them, or fix them and move them back into executions/"
            )
            findings.append(Finding("quarantine", message, "note"))
        return findings

    def _check_index(self, state: IndexState, scan: Scan) -> list[Finding]:
        if state.problem in ("missing", "unreadable", "schema", "corrupt"):
            return [Finding("index", f"the index {state.reason}")]
        indexed = {e.filename: e for e in state.entries}
        files = set(self.record_files())
        findings = []
        # Corrupt files and duplicates are reported on their own; they are never indexed.
        unindexed = sorted(
            files - set(indexed) - set(state.skipped) - set(scan.corrupt) - set(scan.duplicates)
        )
        if unindexed:
            message = f"{len(unindexed)} record file(s) not in the index: {_names(unindexed)}"
            findings.append(Finding("index", message))
        vanished = sorted(set(indexed) - files)
        if vanished:
            message = f"{len(vanished)} index entries without a record file: {_names(vanished)}"
            findings.append(Finding("index", message))
        differing = sorted(
            name
            for name, record in scan.records.items()
            if name in indexed and indexed[name] != IndexEntry.from_record(record, name)
        )
        if differing:
            message = (
                f"{len(differing)} index entries disagree with their record file: "
                f"{_names(differing)}"
            )
            findings.append(Finding("index", message))
        if not findings:
            message = f"the index agrees with the {len(indexed)} record file(s)"
            findings.append(Finding("index", message, "ok"))
        return findings

    def temp_files(self) -> list[Path]:
        """Temporary files of writes that never finished (or are finishing right now)."""
        found: list[Path] = []
        for directory in (self.analytics_dir, self.executions_dir):
            with contextlib.suppress(OSError), os.scandir(directory) as it:
                found.extend(Path(e.path) for e in it if _is_temp_name(e.name))
        return sorted(found)

    def quarantined_files(self) -> list[Path]:
        try:
            return sorted(p for p in self.quarantine_dir.iterdir() if p.is_file())
        except OSError:
            return []

    def repair(self) -> list[str]:
        """Fix what :meth:`diagnose` finds that can be fixed; return what was done."""
        done: list[str] = []
        with self.lock():
            for path in self.temp_files():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    done.append(f"removed the temporary file {path.name}")
            state = self.read_index()
            before = set(self.quarantined_files())
            scan = self.scan(repair=True, report=False)
            moved = sorted(set(self.quarantined_files()) - before)
            done += [f"moved {path.name} to quarantine/" for path in moved]
            entries = scan.entries()
            current = {e.filename: e for e in state.entries}
            if state.problem is not None or current != {e.filename: e for e in entries}:
                self._write_index(entries, list(scan.future))
                done.append(f"rebuilt the index ({len(entries)} executions)")
            if self.journal_path.exists():
                os.unlink(self.journal_path)
                done.append("cleared the journal of the interrupted write")
        return done


def _silent(message: str) -> None:
    """A warn callback for callers that report findings themselves."""


def _names(items: Sequence[Any], shown: int = 5) -> str:
    names = [getattr(item, "name", str(item)) for item in items]
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


class _Resolver:
    """Finds a full id or unique prefix among entries. Ids compare case-insensitively, and
    a prefix may leave out the dashes."""

    def __init__(self, entries: Sequence[IndexEntry]) -> None:
        self.entries = entries
        self.by_id = {e.execution_id.lower(): e for e in entries}

    def resolve(self, execution_id: str) -> IndexEntry:
        wanted = execution_id.lower()
        if wanted in self.by_id:
            return self.by_id[wanted]
        compact = wanted.replace("-", "")
        matches = [
            e
            for e in self.entries
            if e.execution_id.lower().startswith(wanted)
            or e.execution_id.replace("-", "").lower().startswith(compact)
        ]
        if not matches:
            raise ExecutionNotFoundError(execution_id)
        if len(compact) < MIN_PREFIX_LENGTH:
            raise StorageError(
                f"Execution id prefix '{execution_id}' is too short; give at least "
                f"{MIN_PREFIX_LENGTH} characters."
            )
        if len(matches) > 1:
            raise StorageError(
                f"Execution id '{execution_id}' is ambiguous; it matches "
                f"{_candidates(matches)}. Give more characters."
            )
        return matches[0]


def _candidates(matches: Sequence[IndexEntry], shown: int = 10) -> str:
    described = []
    for entry in sort_newest_first(matches)[:shown]:
        day = entry.started_at.date().isoformat() if entry.started_at else "unknown date"
        described.append(f"{entry.execution_id} ({entry.audit_document or '?'}, {day})")
    more = f" and {len(matches) - shown} more" if len(matches) > shown else ""
    return "; ".join(described) + more


class _Batch:
    """The store's entries as :meth:`Store.add` changes them, record by record."""

    def __init__(self, entries: Sequence[IndexEntry], executions_dir: Path) -> None:
        self.executions_dir = executions_dir
        self.by_id = {e.execution_id.lower(): e for e in entries}
        self.by_identity = {e.identity: e for e in entries}
        self.owners = {e.filename.lower(): e.execution_id.lower() for e in entries}
        #: Files of replaced executions whose new file has another name.
        self.stale_files: list[str] = []

    def entries(self) -> list[IndexEntry]:
        return list(self.by_id.values())

    def place(self, record: ExecutionRecord, *, force: bool) -> SaveOutcome:
        """Decide what becomes of ``record``; the outcome's path is set when it is written."""
        if not is_valid_execution_id(record.execution_id):
            raise StorageError(
                f"Cannot store an execution with the id {record.execution_id!r}: an id is "
                "letters, digits, '-' and '_'."
            )
        existing = self.by_identity.get(record.identity) or self.by_id.get(
            record.execution_id.lower()
        )
        if existing is not None and not force:
            return SaveOutcome(record, "already", None, existing.execution_id)
        if existing is not None:
            record.execution_id = existing.execution_id
            self._forget(existing)
        filename = self._filename_for(record)
        if existing is not None and existing.filename != filename:
            self.stale_files.append(existing.filename)
        entry = IndexEntry.from_record(record, filename)
        self.by_id[record.execution_id.lower()] = entry
        self.by_identity[record.identity] = entry
        self.owners[filename.lower()] = record.execution_id.lower()
        action = "replaced" if existing is not None else "imported"
        return SaveOutcome(record, action, self.executions_dir / filename, record.execution_id)

    def _forget(self, entry: IndexEntry) -> None:
        self.by_id.pop(entry.execution_id.lower(), None)
        if self.by_identity.get(entry.identity) is entry:
            del self.by_identity[entry.identity]
        self.owners.pop(entry.filename.lower(), None)

    def _filename_for(self, record: ExecutionRecord) -> str:
        """The short name, unless another execution owns it (two ids sharing their first
        eight characters and their start second): then the whole id."""
        mine = record.execution_id.lower()
        for name in (record_filename(record), record_filename(record, long=True)):
            if self.owners.get(name.lower(), mine) == mine:
                return name
        raise StorageError(f"Cannot name the record file of execution {record.execution_id}.")


# -- the spec's functions (§11.1) -------------------------------------------------------------


def save_execution(record: ExecutionRecord, project_dir: Path) -> Path:
    """Save an execution record to disk and update the index; return the file's path.

    An execution already stored with the same id or identity is replaced (its id is kept).
    """
    outcome = Store(project_dir).add([record], force=True)[0]
    assert outcome.path is not None
    return outcome.path


def load_execution(execution_id: str, project_dir: Path) -> ExecutionRecord:
    """Load an execution record by id (or unique id prefix).

    Raises :class:`ExecutionNotFoundError` (an ``AnalyticsError``) if there is none.
    """
    return Store(project_dir).load(execution_id)


def delete_execution(execution_id: str, project_dir: Path) -> None:
    """Delete an execution record and update the index.

    Raises :class:`ExecutionNotFoundError` (an ``AnalyticsError``) if there is none.
    """
    Store(project_dir).delete([execution_id])


def update_index(project_dir: Path) -> None:
    """Rebuild the analytics index from the execution files."""
    Store(project_dir).rebuild()
