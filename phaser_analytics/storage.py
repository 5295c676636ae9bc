"""The JSON store of spec §4: one file per execution, and an index that is only a cache.

Layout: ``{project}/.phaser/analytics/executions/{timestamp}-{short_id}.json`` and
``{project}/.phaser/analytics/index.json``. Every write goes to a temporary file in the same
directory, is flushed and fsynced, then renamed over the target, so a reader never sees a
half-written file. Writers take ``.phaser/analytics/.lock``. The index is rebuilt from the
record files whenever it is missing, unreadable, of another schema or out of step with them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import ExecutionNotFoundError, StorageError, StoreWriteError
from .models import (
    READABLE_SCHEMA_VERSIONS,
    AggregatedStats,
    ExecutionRecord,
    ExecutionStatus,
    datetime_from_json,
    datetime_to_json,
    utcnow,
)

INDEX_SCHEMA_VERSION = "1.1"
LOCK_TIMEOUT_SECONDS = 30.0
_VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

Warn = Callable[[str], None]


def _stderr(message: str) -> None:
    print(f"Warning: {message}", file=sys.stderr)


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


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new, never half."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def record_filename(record: ExecutionRecord) -> str:
    """``{timestamp}-{short_id}.json`` (spec §4.2), the timestamp being the UTC start."""
    moment = record.started_at or record.imported_at
    stamp = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H-%M-%S")
    return f"{stamp}-{record.short_id}.json"


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
        return cls(
            execution_id=record.execution_id,
            filename=filename,
            audit_document=record.audit_document,
            document_title=record.document_title,
            project_name=record.project_name,
            project_path=record.project_path,
            branch=record.branch,
            base_commit=record.base_commit,
            started_at=record.started_at,
            completed_at=record.completed_at,
            status=record.status,
            duration_seconds=record.duration_seconds,
            test_delta=record.test_delta,
            phases_planned=record.phases_planned,
            phases_completed=record.phases_completed,
            total_tokens=record.total_tokens,
            cost_usd=record.cost_usd,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "execution_id": self.execution_id,
            "filename": self.filename,
            "audit_document": self.audit_document,
            "document_title": self.document_title,
            "project_name": self.project_name,
            "project_path": self.project_path,
            "branch": self.branch,
            "base_commit": self.base_commit,
            "started_at": datetime_to_json(self.started_at),
            "completed_at": datetime_to_json(self.completed_at),
            "status": self.status.value,
            "duration_seconds": self.duration_seconds,
            "test_delta": self.test_delta,
            "phases_planned": self.phases_planned,
            "phases_completed": self.phases_completed,
            "total_tokens": self.total_tokens,
            "cost_usd": self.cost_usd,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexEntry:
        return cls(
            execution_id=data["execution_id"],
            filename=data["filename"],
            audit_document=data.get("audit_document"),
            document_title=data.get("document_title"),
            project_name=data.get("project_name"),
            project_path=data.get("project_path"),
            branch=data.get("branch"),
            base_commit=data.get("base_commit"),
            started_at=datetime_from_json(data.get("started_at")),
            completed_at=datetime_from_json(data.get("completed_at")),
            status=ExecutionStatus(data["status"]),
            duration_seconds=data.get("duration_seconds"),
            test_delta=data.get("test_delta"),
            phases_planned=data.get("phases_planned"),
            phases_completed=data.get("phases_completed"),
            total_tokens=data.get("total_tokens"),
            cost_usd=data.get("cost_usd"),
        )


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


@dataclass
class SaveOutcome:
    """What :meth:`Store.add` did with one record."""

    record: ExecutionRecord
    action: str  # "imported", "replaced" or "already"
    path: Path | None = None
    existing_id: str | None = None


class Store:
    """One project's analytics store."""

    def __init__(self, project_dir: Path, *, warn: Warn = _stderr) -> None:
        self.project_dir = Path(project_dir)
        self.analytics_dir = get_analytics_dir(self.project_dir)
        self.executions_dir = self.analytics_dir / "executions"
        self.index_path = self.analytics_dir / "index.json"
        self.warn = warn
        self._entries: list[IndexEntry] | None = None

    # -- locking ----------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
        """Hold the store's writer lock (an advisory lock file)."""
        import filelock

        ensure_analytics_dir(self.project_dir)
        lock = filelock.FileLock(str(self.analytics_dir / ".lock"), timeout=timeout)
        try:
            with lock:
                # Another writer may have changed the store while we waited.
                self._entries = None
                yield
        except filelock.Timeout:
            raise StorageError(
                f"Another phaser analytics command is writing to {self.analytics_dir}; "
                f"waited {timeout:g}s for it. Try again when it has finished."
            ) from None
        except PermissionError as exc:
            raise StoreWriteError(self.analytics_dir) from exc

    # -- reading ----------------------------------------------------------------------

    def exists(self) -> bool:
        return self.executions_dir.is_dir()

    def record_files(self) -> list[str]:
        try:
            with os.scandir(self.executions_dir) as it:
                return sorted(
                    e.name for e in it if e.name.endswith(".json") and not e.name.startswith(".")
                )
        except FileNotFoundError:
            return []

    def entries(self) -> list[IndexEntry]:
        """The index entries, newest first; the index is rebuilt if it is not trustworthy."""
        if self._entries is None:
            entries, reason = self._read_index()
            if reason is not None:
                if self.index_path.exists() or entries:
                    self.warn(f"analytics index {reason}; rebuilt it from the record files.")
                entries = self._rebuild_and_save()
            self._entries = sort_newest_first(entries)
        return self._entries

    def _read_index(self) -> tuple[list[IndexEntry], str | None]:
        files = self.record_files()
        try:
            raw = self.index_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return [], ("is missing" if files else None)
        except OSError as exc:
            return [], f"cannot be read ({exc.strerror})"
        try:
            data = json.loads(raw)
            if data.get("schema_version") != INDEX_SCHEMA_VERSION:
                return [], f"has schema {data.get('schema_version')!r}"
            entries = [IndexEntry.from_dict(item) for item in data["executions"]]
        except (ValueError, KeyError, TypeError, AttributeError):
            return [], "is corrupt"
        if sorted(e.filename for e in entries) != files:
            return entries, "is out of step with the record files"
        return entries, None

    def _rebuild_and_save(self) -> list[IndexEntry]:
        entries = self._scan_records()
        # A read-only store still answers queries from the scan.
        with contextlib.suppress(StoreWriteError):
            self._write_index(entries)
        return entries

    def _scan_records(self) -> list[IndexEntry]:
        entries = []
        for name in self.record_files():
            record = self._read_record_file(self.executions_dir / name)
            if record is not None:
                entries.append(IndexEntry.from_record(record, name))
        return entries

    def _read_record_file(self, path: Path) -> ExecutionRecord | None:
        """Read one record; a corrupt one is moved to ``quarantine/`` with a warning."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("schema_version") not in READABLE_SCHEMA_VERSIONS:
                raise ValueError(f"unknown schema_version {data.get('schema_version')!r}")
            return ExecutionRecord.from_dict(data)
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self._quarantine(path, exc)
            return None

    def _quarantine(self, path: Path, exc: Exception) -> None:
        target_dir = self.analytics_dir / "quarantine"
        try:
            target_dir.mkdir(exist_ok=True)
            os.replace(path, target_dir / path.name)
            where = f"moved to {target_dir / path.name}"
        except OSError:
            where = "left in place (the store is not writable)"
        self.warn(f"record file {path.name} is unreadable ({exc}); {where}.")

    def load(self, execution_id: str) -> ExecutionRecord:
        entry = self.resolve(execution_id)
        record = self._read_record_file(self.executions_dir / entry.filename)
        if record is None:
            self._entries = None
            raise ExecutionNotFoundError(execution_id)
        return record

    def load_entries(self, entries: Sequence[IndexEntry]) -> list[ExecutionRecord]:
        """Full records for ``entries``, in their order; vanished or corrupt ones skipped."""
        records = []
        for entry in entries:
            record = self._read_record_file(self.executions_dir / entry.filename)
            if record is not None:
                records.append(record)
        return records

    def resolve(self, execution_id: str) -> IndexEntry:
        """The entry for a full id or a unique prefix of one (like git's short SHAs)."""
        if not isinstance(execution_id, str) or not _VALID_ID.match(execution_id):
            raise ExecutionNotFoundError(execution_id)
        wanted = execution_id.lower()
        exact = [e for e in self.entries() if e.execution_id.lower() == wanted]
        if exact:
            return exact[0]
        compact = wanted.replace("-", "")
        matches = [
            e
            for e in self.entries()
            if e.execution_id.lower().startswith(wanted)
            or e.execution_id.replace("-", "").lower().startswith(compact)
        ]
        if not matches:
            raise ExecutionNotFoundError(execution_id)
        if len(matches) > 1:
            listed = ", ".join(e.execution_id for e in matches[:10])
            raise StorageError(
                f"Execution id '{execution_id}' is ambiguous; it matches {listed}. "
                "Give more characters."
            )
        return matches[0]

    # -- writing ----------------------------------------------------------------------

    def _write_index(self, entries: Sequence[IndexEntry]) -> None:
        ordered = sort_newest_first(entries)
        project_name = next((e.project_name for e in ordered if e.project_name), None)
        payload = {
            "schema_version": INDEX_SCHEMA_VERSION,
            "project_name": project_name or self.project_dir.resolve().name,
            "updated_at": datetime_to_json(utcnow()),
            "execution_count": len(ordered),
            "executions": [e.to_dict() for e in ordered],
            "stats": AggregatedStats.compute(ordered).to_dict(),
        }
        try:
            ensure_analytics_dir(self.project_dir)
            atomic_write_text(self.index_path, json.dumps(payload, indent=2) + "\n")
        except OSError as exc:
            raise StoreWriteError(self.analytics_dir) from exc
        self._entries = list(ordered)

    def _write_record(self, record: ExecutionRecord, filename: str) -> Path:
        path = self.executions_dir / filename
        try:
            atomic_write_text(path, json.dumps(record.to_dict(), indent=2) + "\n")
        except OSError as exc:
            raise StoreWriteError(self.analytics_dir) from exc
        return path

    def add(self, records: Iterable[ExecutionRecord], *, force: bool = False) -> list[SaveOutcome]:
        """Store ``records`` under the lock, skipping executions already stored (by
        identity) unless ``force``, which replaces them and keeps their id. The index is
        written once, at the end."""
        outcomes: list[SaveOutcome] = []
        with self.lock():
            entries = {e.execution_id: e for e in self.entries()}
            by_identity = {e.identity: e for e in entries.values()}
            written: list[Path] = []
            try:
                for record in records:
                    existing = by_identity.get(record.identity)
                    if existing is not None and not force:
                        outcomes.append(SaveOutcome(record, "already", None, existing.execution_id))
                        continue
                    if existing is not None:
                        record.execution_id = existing.execution_id
                    filename = record_filename(record)
                    path = self._write_record(record, filename)
                    written.append(path)
                    if existing is not None and existing.filename != filename:
                        with contextlib.suppress(FileNotFoundError):
                            (self.executions_dir / existing.filename).unlink()
                    entry = IndexEntry.from_record(record, filename)
                    entries[record.execution_id] = entry
                    by_identity[record.identity] = entry
                    action = "replaced" if existing is not None else "imported"
                    outcomes.append(SaveOutcome(record, action, path, record.execution_id))
            finally:
                # Whatever was written is on disk; the index must say so even on failure.
                if written:
                    self._write_index(list(entries.values()))
        return outcomes

    def delete(self, execution_ids: Iterable[str]) -> list[IndexEntry]:
        """Delete executions by id or unique prefix; return the entries removed."""
        removed: list[IndexEntry] = []
        with self.lock():
            targets = [self.resolve(i) for i in execution_ids]
            remaining = {e.execution_id: e for e in self.entries()}
            try:
                for entry in targets:
                    if entry.execution_id not in remaining:
                        continue
                    try:
                        (self.executions_dir / entry.filename).unlink()
                    except FileNotFoundError:
                        pass
                    except OSError as exc:
                        raise StoreWriteError(self.analytics_dir) from exc
                    del remaining[entry.execution_id]
                    removed.append(entry)
            finally:
                if removed:
                    self._write_index(list(remaining.values()))
        return removed

    def rebuild(self) -> list[IndexEntry]:
        """Rebuild the index from the record files (under the lock) and return its entries."""
        with self.lock():
            entries = self._scan_records()
            self._write_index(entries)
        return self.entries()


# -- the spec's functions (§11.1) ---------------------------------------------------------


def save_execution(record: ExecutionRecord, project_dir: Path) -> Path:
    """Save an execution record to disk and update the index; return the file's path.

    An execution with the same identity already stored is replaced (its id is kept).
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
