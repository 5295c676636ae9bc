"""The JSON store of spec §4: one file per execution, and an index that is only a cache.

Layout (docs/storage.md)::

    {project}/.phaser/analytics/
        index.json              the cache: one row per execution, and the stats
        index.log               executions added or removed since index.json was written
        index.stamp             when the record files were last seen to match the index
        executions/{timestamp}-{short_id}.json
        quarantine/             record files that could not be read, moved aside
        .lock                   the writers' lock file
        .journal                present only while a write is being committed

Every file is written to a temporary file in the same directory, then renamed over its
target, so a reader sees the old file or the new, never half of one; the data of a batch of
files is made durable (fsync) before the first of them is renamed. A change of several files
(an import batch, a delete) is first staged in temporary files, where a full disk or a
permission error shows before anything is changed; then the ``.journal`` marks the store as
changing while the index log is appended to and the temporary files are renamed into place.
A process killed in the middle leaves the journal behind, and the next command rebuilds the
index from the record files. Writers take ``.lock``; readers take it only to heal the index.

The index is read lazily: ``show --last 5`` parses the header of ``index.json``, the
(short) ``index.log`` and five rows, and builds five :class:`IndexEntry` objects, whatever
the number of executions. Whether the record files are still the ones the index lists is
checked by the modification time of ``executions/`` against ``index.stamp`` when that can
be trusted, else by listing the directory (see :meth:`Store.read_index`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import gc
import heapq
import json
import operator
import os
import re
import sys
import time
import zlib
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

#: 2.0: one row per execution under ``columns``, one row per line, newest first, with
#: the ``generation`` that ``index.log`` lines extend and the digest of the record file
#: names. An index of another schema (the spec's 1.0, our 1.1) is rebuilt once.
INDEX_SCHEMA_VERSION = "2.0"
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
INDEX_NAME = "index.json"
INDEX_LOG_NAME = "index.log"
INDEX_STAMP_NAME = "index.stamp"
#: ``index.log`` is folded into ``index.json`` once it holds more rows than this (and at
#: the end of an import that added more), so a reader never parses many log rows.
LOG_MAX_ROWS = 256
#: A store of at most this many executions keeps them all in ``index.json``: rewriting it
#: costs less than a log would save.
COMPACT_UP_TO = 1024
#: ``executions/``'s modification time proves that no record file was added or removed only
#: when the directory had not changed for longer than one tick of the file system's clock
#: when it was listed: a change within the tick of the last one leaves the time as it was.
#: A clock ticks every few milliseconds (ext4 before Linux 6.13: the kernel's tick, at most
#: 10 ms), or every second or two where times are whole seconds (FAT, ext3, HFS+).
SETTLED_NS = 50_000_000
SETTLED_WHOLE_SECONDS_NS = 2_000_000_000


def _settled(mtime: int, checked: int) -> bool:
    """Whether a listing at ``checked`` saw every change that left the directory's time at
    ``mtime``."""
    margin = SETTLED_WHOLE_SECONDS_NS if mtime % 1_000_000_000 == 0 else SETTLED_NS
    return checked - mtime >= margin


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


# -- locks ----------------------------------------------------------------------------------


@contextlib.contextmanager
def hold_lock(path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if need be) for the block.

    ``flock`` where the system has it, which is what the filelock library takes on POSIX
    too (so a holder of either excludes the other), without the library's ~10 ms import;
    elsewhere, and where the file system has no ``flock``, the filelock library. The
    operating system releases the lock of a process that dies. Raises ``TimeoutError`` when
    another process holds it for ``timeout`` seconds and ``OSError`` when the lock file
    cannot be opened.
    """
    fd = _flock(path, timeout)
    if fd is None:
        import filelock

        lock = filelock.FileLock(str(path), timeout=timeout)
        lock.acquire()
        try:
            yield
        finally:
            lock.release()
        return
    try:
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


_CONTENDED = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES})
_POLL_SECONDS = 0.05


def _flock(path: Path, timeout: float) -> int | None:
    """The descriptor of ``path`` with an exclusive ``flock`` on it; ``None`` where there is
    no ``flock``."""
    try:
        import fcntl
    except ImportError:
        return None
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, _new_file_mode())
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except OSError as exc:
                if exc.errno == errno.ENOSYS:
                    os.close(fd)
                    return None
                if exc.errno not in _CONTENDED:
                    raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(errno.EAGAIN, f"{path} is locked by another process")
            time.sleep(min(_POLL_SECONDS, remaining))
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise


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


def stage_file(path: Path, data: bytes, *, sync: bool = True) -> Path:
    """Write ``data`` to a temporary file beside ``path``; return the temporary path.

    ``sync`` fsyncs it; a caller staging many files passes ``False`` and makes them durable
    together with :func:`sync_files` before renaming any. The temporary name starts with a
    dot and ends in ``.tmp``, so nothing reads it as a record.
    """
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), _new_file_mode())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


#: From this many files on, one ``syncfs`` of their file system (Linux) replaces one
#: ``fsync`` per file.
_SYNCFS_FROM = 32
_syncfs: Callable[[int], int] | bool | None = False  # False: not looked up yet


def sync_files(paths: Sequence[Path]) -> None:
    """Make the data of the files ``paths`` (all in one directory) durable: one ``syncfs``
    of their file system on Linux for a large batch, else an ``fsync`` of each."""
    if not paths:
        return
    if len(paths) >= _SYNCFS_FROM and _syncfs_call(paths[0].parent):
        return
    flags = os.O_RDONLY if os.name == "posix" else os.O_RDWR
    for path in paths:
        fd = os.open(path, flags)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _syncfs_call(directory: Path) -> bool:
    """``syncfs`` of the file system holding ``directory``; False where there is none (or it
    failed: the caller then fsyncs file by file, which reports the error)."""
    global _syncfs
    if _syncfs is False:
        _syncfs = None
        if sys.platform.startswith("linux"):
            with contextlib.suppress(Exception):
                import ctypes

                libc = ctypes.CDLL(None, use_errno=True)
                _syncfs = libc.syncfs
    if not callable(_syncfs):
        return False
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return False
    try:
        return _syncfs(fd) == 0
    finally:
        os.close(fd)


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
    """Several files written and removed, and a line appended to a log, as one change.

    Everything new is staged first (a full disk or a permission error shows here and
    changes nothing) and made durable together; :meth:`commit` then marks the store with
    the journal, appends the log line, renames the staged files into place in order and
    removes what is to go, then clears the journal. An append or a rename that fails puts
    back what the earlier steps changed. A removal that fails leaves the journal, so the
    next command rebuilds the index from what is really there.
    """

    def __init__(self, journal: Path) -> None:
        self.journal = journal
        self.staged: list[tuple[Path, Path, bool]] = []  # (temporary, target, restorable)
        self.removals: list[Path] = []
        self.appended: tuple[Path, bytes] | None = None

    def write(self, path: Path, data: bytes, *, restorable: bool = True) -> None:
        """Stage ``data`` for ``path``. ``restorable`` False: nothing is renamed after this
        file, so its old content never needs putting back (and is not read)."""
        self.staged.append((stage_file(path, data, sync=False), path, restorable))

    def append(self, path: Path, data: bytes) -> None:
        """Append ``data`` to ``path`` once the journal is written, before any rename."""
        self.appended = (path, data)

    def remove(self, path: Path) -> None:
        self.removals.append(path)

    def discard(self) -> None:
        for tmp, _, _ in self.staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        self.staged.clear()

    def commit(self) -> None:
        try:
            for directory in {target.parent for _, target, _ in self.staged}:
                sync_files([tmp for tmp, target, _ in self.staged if target.parent == directory])
            atomic_write_bytes(self.journal, _json_bytes(self._journal_payload()))
        except BaseException:
            self.discard()
            raise
        undo_append: Callable[[], None] | None = None
        try:
            if self.appended is not None:
                undo_append = _append(*self.appended)
            self._rename_all()
        except BaseException:
            if undo_append is not None:
                with contextlib.suppress(OSError):
                    undo_append()
            self.discard()
            self._clear_journal()
            raise
        for path in self.removals:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        directories = {target.parent for _, target, _ in self.staged}
        directories |= {path.parent for path in self.removals}
        if self.appended is not None:
            directories.add(self.appended[0].parent)
        for directory in directories:
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
            raise

    def _journal_payload(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "started_at": datetime_to_json(utcnow()),
            "writes": [target.name for _, target, _ in self.staged],
            "removals": [path.name for path in self.removals],
            "appends": [self.appended[0].name] if self.appended else [],
        }

    def _clear_journal(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.journal)


def _append(path: Path, data: bytes) -> Callable[[], None]:
    """Append ``data`` to ``path`` durably; return what cuts it back to its old length. A
    failed append (a full disk) is cut back before the error is raised."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, _new_file_mode())
    try:
        size = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)

    def undo() -> None:
        if size:
            os.truncate(path, size)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    return undo


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


@dataclass(slots=True)
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
        return dict(zip(_ENTRY_FIELDS, self.to_row(), strict=True))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexEntry:
        row = [data.get(name) for name in _ENTRY_FIELDS]
        row[_ID], row[_FILENAME], row[_STATUS] = (
            data["execution_id"],
            data["filename"],
            data["status"],
        )
        return cls.from_row(row)

    def to_row(self) -> list[Any]:
        """The entry as an index row: its fields in order, as JSON values."""
        row: list[Any] = [getattr(self, name) for name in _ENTRY_FIELDS]
        row[_STARTED] = datetime_to_json(self.started_at)
        row[_COMPLETED] = datetime_to_json(self.completed_at)
        row[_STATUS] = self.status.value
        return row

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> IndexEntry:
        """Read a row :meth:`to_row` wrote; ``ValueError`` (or ``TypeError``) if it is not
        one."""
        if len(row) != len(_ENTRY_FIELDS):
            raise ValueError(f"an index row has {len(row)} values, not {len(_ENTRY_FIELDS)}")
        values = list(row)
        if not isinstance(values[_ID], str) or not isinstance(values[_FILENAME], str):
            raise ValueError("an index row without an execution id or file name")
        values[_STARTED] = datetime_from_json(values[_STARTED])
        values[_COMPLETED] = datetime_from_json(values[_COMPLETED])
        values[_STATUS] = ExecutionStatus(values[_STATUS])
        return cls(*values)


_ENTRY_FIELDS = tuple(f.name for f in dataclasses.fields(IndexEntry))
_ID = _ENTRY_FIELDS.index("execution_id")
_FILENAME = _ENTRY_FIELDS.index("filename")
_STARTED = _ENTRY_FIELDS.index("started_at")
_COMPLETED = _ENTRY_FIELDS.index("completed_at")
_STATUS = _ENTRY_FIELDS.index("status")
_IDENTITY = tuple(
    _ENTRY_FIELDS.index(name)
    for name in ("project_path", "audit_document", "started_at", "base_commit")
)
_PROJECT_NAME = _ENTRY_FIELDS.index("project_name")


def _sort_key(item: Any) -> tuple[bool, float, str]:
    return (
        item.started_at is not None,
        item.started_at.timestamp() if item.started_at else 0.0,
        item.execution_id,
    )


def sort_newest_first(items: Iterable[Any]) -> list[Any]:
    """Newest start first; executions with an unknown start last, then by id for stability."""
    return sorted(items, key=_sort_key, reverse=True)


#: A start as the index writes it: ``2024-12-06T10:30:00Z``. Two of these compare as text
#: exactly as the moments they name do.
_PLAIN_START = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _sort_rows(rows: list[list[Any]]) -> None:
    """Sort index rows newest first, in :func:`sort_newest_first`'s order."""
    starts = [row[_STARTED] for row in rows]
    if all(start is None or _PLAIN_START.fullmatch(start) for start in starts):
        rows.sort(key=lambda row: (row[_STARTED] is not None, row[_STARTED] or "", row[_ID]))
    else:

        def key(row: list[Any]) -> tuple[bool, float, str]:
            started = datetime_from_json(row[_STARTED])
            return (started is not None, started.timestamp() if started else 0.0, row[_ID])

        rows.sort(key=key)
    rows.reverse()


def _names_digest(names: Iterable[str]) -> tuple[int, int]:
    """How many ``names`` there are, and the sum of their CRC-32s: equal for the same set of
    names in any order (what :meth:`Store.read_index` compares with a listing)."""
    count = total = 0
    for name in names:
        count += 1
        total += zlib.crc32(os.fsencode(name))
    return count, total


def _digest_plus(
    digest: tuple[int, int], added: Iterable[str], removed: Iterable[str]
) -> tuple[int, int]:
    plus, minus = _names_digest(added), _names_digest(removed)
    return digest[0] + plus[0] - minus[0], digest[1] + plus[1] - minus[1]


class _RowStats:
    """An index row with the attributes :meth:`AggregatedStats.compute` reads."""

    __slots__ = ("row",)

    def __init__(self, row: list[Any]) -> None:
        self.row = row

    def __getattr__(self, name: str) -> Any:
        return self.row[_COLUMN[name]]

    @property
    def status(self) -> ExecutionStatus:
        return ExecutionStatus(self.row[_STATUS])

    @property
    def started_at(self) -> datetime | None:
        return datetime_from_json(self.row[_STARTED])


_COLUMN = {name: index for index, name in enumerate(_ENTRY_FIELDS)}


def _row_stats(rows: Iterable[list[Any]]) -> Iterator[Any]:
    """``rows`` as what :meth:`AggregatedStats.compute` reads, without building entries."""
    return (_RowStats(row) for row in rows)


# -- the index file -----------------------------------------------------------------------------
#
# index.json is one JSON document laid out one row per line, so that a reader can parse its
# header and then only the rows it needs:
#
#   {"schema_version":"2.0",…,"columns":[…],"executions":[
#   ["…id…","…file…",…],
#   ["…id…","…file…",…]
#   ]}
#
# index.log holds one JSON object per line, each the rows one commit added and the file
# names it removed, applied in order over the index.json of the same "generation".

_EXECUTIONS_OPEN = b',"executions":['
_ROW_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def _encode_row(row: list[Any]) -> bytes:
    return _ROW_ENCODER.encode(row).encode("utf-8")


class _CorruptIndex(ValueError):
    """The index (or its log) is not what this module writes."""


class _OtherSchema(ValueError):
    def __init__(self, version: object) -> None:
        super().__init__(f"schema {version!r}")
        self.version = version


def _encode_index(header: dict[str, Any], rows: Sequence[list[Any]]) -> bytes:
    head = _ROW_ENCODER.encode(header)
    lines = [head[:-1].encode("utf-8") + _EXECUTIONS_OPEN]
    lines.extend(_encode_row(row) + b"," for row in rows)
    if rows:
        lines[-1] = lines[-1][:-1]
    lines.append(b"]}")
    return b"\n".join(lines) + b"\n"


class _IndexView:
    """The index as read: ``index.json``'s header, its rows (parsed when first needed), and
    what ``index.log`` changed since. Rows are newest first in ``index.json``; the log's
    rows are merged in by start."""

    def __init__(
        self,
        header: dict[str, Any],
        data: bytes | None = None,
        span: tuple[int, int] = (0, 0),
        rows: list[list[Any]] | None = None,
        *,
        written: bool = True,
    ) -> None:
        self.header = header
        #: Whether ``index.json`` on disk is this one (a read-only store's rebuilt index
        #: lives in memory only, as does the empty index of a store without one).
        self.written = written
        self.generation: str = header["generation"]
        self.skipped: list[str] = list(header["skipped_files"])
        self.names: tuple[int, int] = tuple(header["names"])  # type: ignore[assignment]
        self._data = data
        self._span = span
        self._rows = rows
        #: The log's effect: rows added (by lower-case id), files and ids they replace.
        self.added: dict[str, list[Any]] = {}
        self.dropped_files: set[str] = set()
        self.dropped_ids: set[str] = set()
        self.log_rows = 0
        self.log_size = 0
        self._entries: list[IndexEntry] | None = None
        self._lowered: bytes | None = None

    @classmethod
    def of_rows(cls, rows: list[list[Any]], skipped: list[str], *, written: bool) -> _IndexView:
        """A view of ``rows`` (sorted here, newest first) not read from ``index.json``."""
        _sort_rows(rows)
        header = {
            "generation": "",
            "skipped_files": skipped,
            "names": list(_names_digest([row[_FILENAME] for row in rows] + skipped)),
        }
        return cls(header, rows=rows, written=written)

    @property
    def version(self) -> tuple[str, int]:
        """Which index this is: its generation, and how much of its log was applied."""
        return self.generation, self.log_size

    # -- reading -----------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes) -> _IndexView:
        """Read ``index.json``'s bytes: ``_OtherSchema`` or ``_CorruptIndex`` if it is not
        an index of :data:`INDEX_SCHEMA_VERSION`. Rows are not parsed here."""
        end = data.find(b"\n")
        first = data[:end] if end >= 0 else data
        if end < 0 or not first.endswith(_EXECUTIONS_OPEN):
            raise _OtherSchema(_schema_of(data))
        try:
            header = json.loads(first[: -len(_EXECUTIONS_OPEN)] + b"}")
        except ValueError as exc:
            raise _CorruptIndex(str(exc)) from exc
        if not isinstance(header, dict):
            raise _CorruptIndex("not an object")
        if header.get("schema_version") != INDEX_SCHEMA_VERSION:
            raise _OtherSchema(header.get("schema_version"))
        count = header.get("execution_count")
        names = header.get("names")
        if (
            header.get("columns") != list(_ENTRY_FIELDS)
            or not isinstance(header.get("generation"), str)
            or not isinstance(count, int)
            or not (isinstance(names, list) and len(names) == 2)
            or not all(isinstance(n, int) for n in names)
            or not isinstance(header.get("skipped_files"), list)
            or not all(isinstance(n, str) for n in header["skipped_files"])
            or not data.endswith(b"\n]}\n")
        ):
            raise _CorruptIndex("its header disagrees with its rows")
        # The number of rows is checked when they are all read (counting the lines of a
        # large index costs as much as the rest of `show --last 5`).
        return cls(header, data, (end + 1, len(data) - len(b"]}\n")))

    def apply_log(self, data: bytes) -> None:
        """Apply ``index.log``'s lines of this generation (a line of another one is left
        over from before the last compaction: index.json already holds it). A last line
        without its newline was being written when a process died (the journal says so)."""
        complete = data[: data.rfind(b"\n") + 1]
        for line in complete.splitlines():
            try:
                entry = json.loads(line)
                if entry["base"] != self.generation:
                    continue
                self.apply(entry["add"], entry["remove"], tuple(entry["names"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise _CorruptIndex(f"index.log: {exc}") from exc
        self.log_size = len(complete)

    def apply(self, add: list[list[Any]], remove: list[str], names: tuple[int, int]) -> None:
        """One commit's change: ``remove`` these files, then add (or replace, by id) these
        rows."""
        for name in remove:
            self.dropped_files.add(name)
            for key, row in list(self.added.items()):
                if row[_FILENAME] == name:
                    del self.added[key]
        for row in add:
            if not isinstance(row, list) or len(row) != len(_ENTRY_FIELDS):
                raise _CorruptIndex("index.log: a row of the wrong length")
            key = row[_ID].lower()
            self.dropped_ids.add(key)
            self.added[key] = row
        if len(names) != 2:
            raise _CorruptIndex("index.log: bad names")
        self.names = (int(names[0]), int(names[1]))
        self.log_rows += len(add)
        self._entries = None

    @property
    def count(self) -> int:
        """Executions listed (every record file but the skipped ones)."""
        return self.names[0] - len(self.skipped)

    def _lines(self) -> Iterator[bytes]:
        data, (start, end) = self._data, self._span
        assert data is not None
        while start < end:
            stop = data.find(b"\n", start, end)
            if stop < 0:
                stop = end
            yield data[start:stop].rstrip(b",")
            start = stop + 1

    def base_rows(self) -> list[list[Any]]:
        """Every row of ``index.json``, parsed at once."""
        if self._rows is None:
            assert self._data is not None
            start, end = self._span
            try:
                rows = json.loads(b"[" + self._data[start:end] + b"]")
            except ValueError as exc:
                raise _CorruptIndex(str(exc)) from exc
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _CorruptIndex("a row is not a list")
            if len(rows) != self.header["execution_count"]:
                raise _CorruptIndex("execution_count disagrees with its rows")
            self._rows = rows
        return self._rows

    def _iter_base_rows(self) -> Iterator[list[Any]]:
        if self._rows is not None:
            yield from self._rows
            return
        count = 0
        for line in self._lines():
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise _CorruptIndex(str(exc)) from exc
            if not isinstance(row, list):
                raise _CorruptIndex("a row is not a list")
            count += 1
            yield row
        if count != self.header["execution_count"]:
            raise _CorruptIndex("execution_count disagrees with its rows")

    def _kept(self, row: list[Any]) -> bool:
        return (not self.dropped_files or row[_FILENAME] not in self.dropped_files) and (
            not self.dropped_ids or row[_ID].lower() not in self.dropped_ids
        )

    def rows(self) -> list[list[Any]]:
        """Every row, the log applied, in no particular order."""
        if not self.dropped_files and not self.dropped_ids:
            return self.base_rows() + list(self.added.values())
        kept = [row for row in self.base_rows() if self._kept(row)]
        return kept + list(self.added.values())

    def entries(self) -> list[IndexEntry]:
        """Every entry, newest first."""
        if self._entries is None:
            with _collector_paused():
                self._entries = sort_newest_first(_entry(row) for row in self.rows())
        return self._entries

    def iter_entries(self) -> Iterator[IndexEntry]:
        """The entries newest first, each built when reached: ``show --last 5`` builds five."""
        if self._entries is not None:
            yield from self._entries
            return
        base = (_entry(row) for row in self._iter_base_rows() if self._kept(row))
        if not self.added:
            yield from _checked_order(base)
            return
        added = sort_newest_first(_entry(row) for row in self.added.values())
        yield from heapq.merge(_checked_order(base), added, key=_sort_key, reverse=True)

    @property
    def searchable(self) -> bool:
        """Whether :meth:`search` can look through ``index.json``'s text."""
        return self._data is not None and self._rows is None

    def search(self, text: str | None) -> list[tuple[int, list[Any]]]:
        """``(position, row)`` of the rows of ``index.json`` that hold the JSON string
        ``text`` (compared case-insensitively; every row for ``None``), in the file's order,
        but those the log dropped."""
        data = self._data
        assert data is not None
        start, end = self._span
        found: list[tuple[int, list[Any]]] = []
        if text is None:
            for position, row in enumerate(self.base_rows()):
                if self._kept(row):
                    found.append((position, row))
            return found
        if self._lowered is None:
            self._lowered = data.lower()
        needle = json.dumps(text.lower(), ensure_ascii=False).encode("utf-8")
        at = self._lowered.find(needle, start, end)
        while at >= 0:
            first = self._lowered.rfind(b"\n", start - 1, at) + 1
            last = self._lowered.find(b"\n", at, end)
            last = end if last < 0 else last
            try:
                row = json.loads(data[first:last].rstrip(b","))
            except ValueError as exc:
                raise _CorruptIndex(str(exc)) from exc
            if not isinstance(row, list) or len(row) != len(_ENTRY_FIELDS):
                raise _CorruptIndex("a row of the wrong length")
            if self._kept(row):
                found.append((self._ordinal(first), row))
            at = self._lowered.find(needle, last, end)
        return found

    def _ordinal(self, offset: int) -> int:
        """The number of the row that starts at ``offset`` (0 for the first)."""
        assert self._data is not None
        return self._data.count(b"\n", self._span[0], offset)

    def filenames(self) -> list[str]:
        return [row[_FILENAME] for row in self.rows()]

    def project_name(self) -> str | None:
        """The project name of the newest entry that has one."""
        return next((e.project_name for e in self.iter_entries() if e.project_name), None)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Build many objects without the cyclic garbage collector: it would walk the growing
    heap again and again (a fifth of the time of reading 10,000 entries), for rows and
    entries that hold no cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _checked_order(entries: Iterable[IndexEntry]) -> Iterator[IndexEntry]:
    """``entries`` as they come, checking they are newest first (as written)."""
    previous: tuple[bool, float, str] | None = None
    for entry in entries:
        key = _sort_key(entry)
        if previous is not None and key > previous:
            raise _CorruptIndex("its rows are out of order")
        previous = key
        yield entry


def _entry(row: list[Any]) -> IndexEntry:
    try:
        return IndexEntry.from_row(row)
    except (ValueError, TypeError, AttributeError) as exc:
        raise _CorruptIndex(str(exc)) from exc


def _schema_of(data: bytes) -> object:
    """The ``schema_version`` of an index that is not laid out as ours: an old one (the
    spec's 1.0, our 1.1) or a damaged one (``_CorruptIndex``)."""
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise _CorruptIndex(str(exc)) from exc
    if not isinstance(document, dict) or "schema_version" not in document:
        raise _CorruptIndex("no schema_version")
    version = document["schema_version"]
    if version == INDEX_SCHEMA_VERSION:
        raise _CorruptIndex("not laid out one row per line")
    return version


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


class IndexState:
    """The index as read from disk, and why it cannot be trusted.

    ``problem`` is ``None`` (trust it), ``"missing"``, ``"unreadable"``, ``"schema"``,
    ``"corrupt"``, ``"stale"`` (record files added or removed behind its back) or
    ``"journal"`` (a write was interrupted); ``reason`` says it in words. ``entries`` are
    built from the rows when first asked for.
    """

    def __init__(
        self, view: _IndexView | None = None, problem: str | None = None, reason: str = ""
    ) -> None:
        self.view = view
        self.problem = problem
        self.reason = reason

    @property
    def entries(self) -> list[IndexEntry]:
        return self.view.entries() if self.view is not None else []

    @property
    def skipped(self) -> list[str]:
        return list(self.view.skipped) if self.view is not None else []


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


def _matching(view: _IndexView, query: Any) -> Iterator[IndexEntry]:
    """The entries of ``view`` matching ``query``, newest first, up to its limit; the walk
    stops at the first entry that started before ``since`` (every later one did too)."""
    found = 0
    dated = query.since is not None or query.until is not None
    for entry in view.iter_entries():
        if dated and (
            entry.started_at is None or (query.since is not None and entry.started_at < query.since)
        ):
            return  # every later entry started earlier, or at an unknown time
        if query.matches(entry):
            yield entry
            found += 1
            if query.limit is not None and found >= query.limit:
                return


class Store:
    """One project's analytics store."""

    def __init__(self, project_dir: Path, *, warn: Warn = _stderr) -> None:
        self.project_dir = Path(project_dir)
        self.analytics_dir = get_analytics_dir(self.project_dir)
        self.executions_dir = self.analytics_dir / "executions"
        self.quarantine_dir = self.analytics_dir / "quarantine"
        self.index_path = self.analytics_dir / INDEX_NAME
        self.log_path = self.analytics_dir / INDEX_LOG_NAME
        self.stamp_path = self.analytics_dir / INDEX_STAMP_NAME
        self.journal_path = self.analytics_dir / JOURNAL_NAME
        self.lock_path = self.analytics_dir / LOCK_NAME
        self.warn = warn
        #: The index as last read or written, trusted (healed if it had to be).
        self._view: _IndexView | None = None
        #: The entries of the last import batch, kept for the next batch of the same import
        #: while nobody else writes in between.
        self._batch: _Batch | None = None
        #: The view before the lock was last taken (see :meth:`_own_view`).
        self._last_view: _IndexView | None = None
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
        ensure_analytics_dir(self.project_dir)
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(hold_lock(self.lock_path, timeout))
            except TimeoutError:
                raise StorageError(
                    f"Another phaser analytics command is writing to {self.analytics_dir}; "
                    f"waited {timeout:g}s for it. Try again when it has finished."
                ) from None
            except OSError as exc:
                raise StoreWriteError(self.analytics_dir) from exc
            self._lock_depth = 1
            # Another writer may have changed the store while we waited.
            self._last_view, self._view = self._view, None
            try:
                yield
            finally:
                self._lock_depth = 0

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
        return self._using_index(lambda view: view.entries())

    def select(self, query: Any) -> list[IndexEntry]:
        """The entries matching ``query`` (an :class:`AnalyticsQuery`), newest first, at most
        ``query.limit``: what ``query.select_entries(store.entries(), query)`` returns, but
        building only the entries it reaches (``show --last 5`` builds five)."""
        if query.limit is not None and query.limit <= 0:
            from .query import select_entries

            return select_entries(self.entries(), query)
        return self._using_index(lambda view: list(_matching(view, query)))

    def iter_select(self, query: Any) -> Iterator[IndexEntry]:
        """:meth:`select`, one entry at a time, each built when reached and not kept: for a
        caller that streams every execution (``export``), whose memory then does not grow
        with the number of executions. A row found damaged on the way rebuilds the index
        and raises ``StorageError`` (the entries already yielded may not be the newest)."""
        if query.limit is not None and query.limit <= 0:
            yield from self.select(query)
            return
        view = self._trusted_view()
        try:
            yield from _matching(view, query)
        except _CorruptIndex:
            self._view = None
            self._view = self._heal(IndexState(problem="corrupt", reason="is corrupt"), force=True)
            raise StorageError(
                f"The analytics index of {self.project_dir} was damaged and has been "
                "rebuilt; run the command again."
            ) from None

    def count(self) -> int:
        """How many executions the index lists."""
        return self._using_index(lambda view: view.count)

    def project_name(self) -> str | None:
        """The project name of the newest execution that has one."""
        return self._using_index(lambda view: view.project_name())

    def _using_index(self, use: Callable[[_IndexView], Any]) -> Any:
        """``use(view)`` of the trusted index; a row found damaged on the way rebuilds it."""
        try:
            return use(self._trusted_view())
        except _CorruptIndex:
            self._view = None
            self._view = self._heal(IndexState(problem="corrupt", reason="is corrupt"), force=True)
            return use(self._view)

    def _own_view(self, *, checked: bool = False) -> _IndexView | None:
        """Under the lock: the view this store last wrote or read, if ``index.json`` and
        ``index.log`` are still the ones it describes (every writer changes one of them),
        so the next batch of an import need not read the log again. Record files changed
        behind the store's back in the meantime are looked for only when ``checked`` (by
        the writer's stamp, as :meth:`_names_agree` does, and the journal): only what
        does not change them (compacting the log) may do without."""
        view = self._view or self._last_view
        if view is None or not view.written or not self._lock_depth:
            return None
        try:
            with open(self.index_path, "rb") as handle:
                first = handle.readline().rstrip(b"\n")
            if not first.endswith(_EXECUTIONS_OPEN):
                return None
            generation = json.loads(first[: -len(_EXECUTIONS_OPEN)] + b"}")["generation"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        try:
            log_size = os.stat(self.log_path).st_size
        except FileNotFoundError:
            log_size = 0
        except OSError:
            return None
        if (generation, log_size) != view.version:
            return None
        if checked:
            if self.journal_path.exists():
                return None
            try:
                mtime = os.stat(self.executions_dir).st_mtime_ns
            except OSError:
                return None
            if self._stamp(settled=False) != (mtime, view.names):
                return None
        self._view = view
        return view

    def _trusted_view(self) -> _IndexView:
        if self._view is None:
            state = self._read_index(full=False, stamp=not self._lock_depth)
            self._view = state.view if state.problem is None else self._heal(state)
        assert self._view is not None
        return self._view

    def read_index(self, *, stamp: bool = True) -> IndexState:
        """The index as it is on disk, checked against the record files and the journal,
        every row read (a damaged one makes it ``"corrupt"``)."""
        return self._read_index(full=True, stamp=stamp and not self._lock_depth)

    def _read_index(self, *, full: bool, stamp: bool = False) -> IndexState:
        """:meth:`read_index`; ``full`` False leaves the rows unread until they are needed,
        ``stamp`` lets it record in ``index.stamp`` that the record files matched."""
        try:
            data = self.index_path.read_bytes()
        except FileNotFoundError:
            if self.record_files():
                return IndexState(problem="missing", reason="is missing")
            return IndexState(_IndexView.of_rows([], [], written=False))
        except OSError as exc:
            return IndexState(problem="unreadable", reason=f"cannot be read ({exc.strerror})")
        try:
            view = _IndexView.parse(data)
            log = self._read_log()
            if log:
                view.apply_log(log)
            if full:
                view.entries()
        except _OtherSchema as exc:
            return IndexState(problem="schema", reason=f"has schema {exc.version!r}")
        except _CorruptIndex:
            return IndexState(problem="corrupt", reason="is corrupt")
        try:
            agree = self._names_agree(view, stamp=stamp)
        except _CorruptIndex:
            return IndexState(problem="corrupt", reason="is corrupt")
        if not agree:
            return IndexState(view, "stale", "is out of step with the record files")
        if self.journal_path.exists():
            return IndexState(view, "journal", "may be out of step after an interrupted write")
        return IndexState(view)

    def _read_log(self) -> bytes:
        try:
            return self.log_path.read_bytes()
        except FileNotFoundError:
            return b""
        except OSError as exc:
            raise _CorruptIndex(f"index.log cannot be read ({exc.strerror})") from exc

    def _names_agree(self, view: _IndexView, *, stamp: bool) -> bool:
        """Are the record files exactly the ones the index lists (and skips)?

        Cheapest first: the modification time of ``executions/`` is the one ``index.stamp``
        recorded when it last found the names matching (a change to the directory changes
        that time, once the clock has moved on: the stamp is only written then). Else a
        listing of ``executions/``, compared by the digest of its names (and, when ``stamp``,
        recorded); else, when the digests differ, the names themselves (``_CorruptIndex``
        when they agree but the index's digest of them is wrong).
        """
        try:
            mtime: int | None = os.stat(self.executions_dir).st_mtime_ns
        except FileNotFoundError:
            return view.names[0] == 0
        except OSError:
            mtime = None
        if mtime is not None and self._stamp(settled=not self._lock_depth) == (mtime, view.names):
            return True
        checked = time.time_ns()
        listed = self._listed_digest()
        if listed is not None and listed == view.names:
            if stamp and mtime is not None and _settled(mtime, checked):
                self._write_stamp(mtime, checked, listed)
            return True
        files = self.record_files()
        if sorted(view.filenames() + view.skipped) != files:
            return False
        if _names_digest(files) != view.names:
            raise _CorruptIndex("its digest of the file names is wrong")
        return True

    def _listed_digest(self) -> tuple[int, int] | None:
        """The digest of the names in ``executions/`` that may be record files (a folder
        named ``x.json`` counts here; the exact comparison leaves it out)."""
        try:
            names = os.listdir(os.fsencode(self.executions_dir))
        except FileNotFoundError:
            return (0, 0)
        except OSError:
            return None
        chosen = [n for n in names if n.endswith(b".json") and not n.startswith(b".")]
        return len(chosen), sum(map(zlib.crc32, chosen))

    def _stamp(self, *, settled: bool) -> tuple[int, tuple[int, int]] | None:
        """``(mtime, names)`` from ``index.stamp``; with ``settled``, only if it was taken
        long enough after the directory last changed to be proof (see
        :meth:`_names_agree`). A writer's own stamp is not: the next writer, holding the
        lock, may still take it as proof that no other writer came in between."""
        try:
            data = json.loads(self.stamp_path.read_bytes())
            mtime, checked = int(data["mtime_ns"]), int(data["checked_ns"])
            names = (int(data["names"][0]), int(data["names"][1]))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None
        return (mtime, names) if not settled or _settled(mtime, checked) else None

    def _stamp_own_write(self, names: tuple[int, int]) -> None:
        """After a commit, under the lock: the names are ``names`` (this writer just made
        them so). Not settled, so readers still list the directory once (a file copied in
        within the same clock tick would not change its time); the next writer need not."""
        with contextlib.suppress(OSError):
            self._write_stamp(os.stat(self.executions_dir).st_mtime_ns, time.time_ns(), names)

    def _write_stamp(self, mtime: int, checked: int, names: tuple[int, int]) -> None:
        """Record that at ``checked`` the names in ``executions/`` (modified at ``mtime``)
        had the digest ``names``. A hint for the next reader, written without the lock or an
        fsync: a lost or mangled stamp only costs that reader a listing. Never an error."""
        payload = {"mtime_ns": mtime, "checked_ns": checked, "names": list(names)}
        tmp = self.analytics_dir / f".{INDEX_STAMP_NAME}.{os.getpid()}{TEMP_SUFFIX}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _new_file_mode())
            try:
                os.write(fd, json.dumps(payload).encode("ascii") + b"\n")
            finally:
                os.close(fd)
            os.replace(tmp, self.stamp_path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def _heal(self, state: IndexState, *, force: bool = False) -> _IndexView:
        """Rebuild an untrustworthy index, under the lock when the store can be written.

        A writer holding the lock may be mid-commit: once we have the lock it has finished,
        and the index may be good again without our help (unless ``force``: a damaged row
        was found after the index was read).
        """
        with self._lock_if_writable() as locked:
            if locked and not force:
                state = self._read_index(full=False)
                if state.problem is None:
                    assert state.view is not None
                    return state.view
            scan = self.scan(repair=locked)
            self.warn(f"analytics index {state.reason}; rebuilt it from the record files.")
            if locked:
                view = self._write_index(scan.entries(), list(scan.future))
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.journal_path)
                return view
            rows = [entry.to_row() for entry in scan.entries()]
            return _IndexView.of_rows(rows, list(scan.future), written=False)

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
            self._view = None
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
        self._view = None

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

    def _index_bytes(self, rows: list[list[Any]], skipped: Sequence[str]) -> tuple[bytes, dict]:
        """``index.json`` for ``rows`` (sorted here, newest first) and its header."""
        _sort_rows(rows)
        project_name = next((row[_PROJECT_NAME] for row in rows if row[_PROJECT_NAME]), None)
        header = {
            "schema_version": INDEX_SCHEMA_VERSION,
            "project_name": project_name or self.project_dir.resolve().name,
            "updated_at": datetime_to_json(utcnow()),
            "execution_count": len(rows),
            "generation": os.urandom(8).hex(),
            "names": list(_names_digest([row[_FILENAME] for row in rows] + list(skipped))),
            "skipped_files": sorted(skipped),
            "stats": AggregatedStats.compute(_row_stats(rows)).to_dict(),
            "columns": list(_ENTRY_FIELDS),
        }
        return _encode_index(header, rows), header

    def _write_index(self, entries: Sequence[IndexEntry], skipped: Sequence[str]) -> _IndexView:
        """Write ``index.json`` for ``entries`` and drop ``index.log`` (its lines name the
        old generation, so one left behind by a crash is ignored)."""
        rows = [entry.to_row() for entry in entries]
        data, header = self._index_bytes(rows, skipped)
        try:
            atomic_write_bytes(self.index_path, data)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.log_path)
        except OSError as exc:
            raise StoreWriteError(self.analytics_dir) from exc
        self._view = _IndexView(header, rows=rows)
        self._batch = None
        self._stamp_own_write(self._view.names)
        return self._view

    def _commit_index(
        self, change: _Change, rows: list[list[Any]], skipped: Sequence[str]
    ) -> _IndexView:
        """Stage ``index.json`` for ``rows`` last in ``change`` (dropping ``index.log``), and
        commit it all."""
        with self._discarding(change):
            data, header = self._index_bytes(rows, skipped)
            change.write(self.index_path, data, restorable=False)
            if self.log_path.exists():
                change.remove(self.log_path)
            change.commit()
        self._view = _IndexView(header, rows=rows)
        self._stamp_own_write(self._view.names)
        return self._view

    @contextlib.contextmanager
    def _discarding(self, change: _Change) -> Iterator[None]:
        """Run a step of ``change``; on any failure discard it, so the store is as it was,
        and report an OS error as the store being unwritable."""
        try:
            yield
        except OSError as exc:
            change.discard()
            raise StoreWriteError(self.analytics_dir) from exc
        except BaseException:
            change.discard()
            raise

    def _commit_log(self, change: _Change, view: _IndexView, batch: _Batch) -> None:
        """Append what ``batch`` changed to ``index.log`` within ``change``, and commit it."""
        added = list(batch.added.values())
        line = {
            "base": view.generation,
            "add": added,
            "remove": list(batch.stale_files),
            "names": list(batch.names),
        }
        data = _ROW_ENCODER.encode(line).encode("utf-8") + b"\n"
        with self._discarding(change):
            change.append(self.log_path, data)
            change.commit()
        view.apply(added, list(batch.stale_files), batch.names)
        view.log_size += len(data)
        self._view = view
        self._stamp_own_write(view.names)

    def add(
        self, records: Iterable[ExecutionRecord], *, force: bool = False, compact: bool = True
    ) -> list[SaveOutcome]:
        """Store ``records`` as one change, under the lock.

        An execution already stored (the same id, or the same identity) is skipped, unless
        ``force``, which replaces it and keeps its stored id. Either every record and the
        index are written, or (a full disk, a permission error) nothing is.

        A large store gets the new rows appended to ``index.log`` rather than ``index.json``
        rewritten; ``compact`` False (an import, between its batches) always appends, and
        :meth:`compact` folds the log in at the end.
        """
        outcomes: list[SaveOutcome] = []
        with self.lock():
            view = self._own_view(checked=True) or self._trusted_view()
            records = list(records)
            batch, self._batch = self._batch, None
            if batch is None or batch.version != view.version:
                lazy = len(records) <= _LAZY_BATCH
                batch = _Batch(view, self.executions_dir, lazy=lazy)
            batch.begin()
            change = _Change(self.journal_path)
            with self._discarding(change):
                for record in records:
                    outcome = batch.place(record, force=force)
                    outcomes.append(outcome)
                    if outcome.path is not None:
                        change.write(outcome.path, _json_bytes(record.to_dict()))
                for stale in batch.stale_files:
                    change.remove(self.executions_dir / stale)
            if not change.staged:
                self._batch = batch
                return outcomes
            log_rows = view.log_rows + len(batch.added)
            total = batch.names[0] - len(view.skipped)
            if not view.written or (
                compact and (total <= COMPACT_UP_TO or log_rows > LOG_MAX_ROWS)
            ):
                view = self._commit_index(change, batch.rows_list(), view.skipped)
            else:
                self._commit_log(change, view, batch)
            batch.version = view.version
            self._batch = batch
        return outcomes

    def compact(self) -> None:
        """Fold ``index.log`` into ``index.json`` when it holds more than a few rows, or the
        store is small (the end of an import that added with ``compact=False``)."""
        with self.lock():
            view = self._own_view() or self._trusted_view()
            if not view.written or not view.log_rows:
                return
            if view.count <= COMPACT_UP_TO or view.log_rows > LOG_MAX_ROWS:
                self._write_index(view.entries(), view.skipped)

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
                skipped = self._trusted_view().skipped
                change = _Change(self.journal_path)
                for entry in targets.values():
                    change.remove(self.executions_dir / entry.filename)
                rows = [e.to_row() for e in entries if e.execution_id not in targets]
                self._batch = None
                self._commit_index(change, rows, skipped)
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
        state = self.read_index(stamp=False)
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
    """The store's rows as :meth:`Store.add` changes them, record by record.

    It is kept from one batch of an import to the next (``version`` says which index it
    matches), so an import of N reports reads the index's rows once, not once per batch.
    A ``lazy`` batch (one import of a report or a few) does not read them all: it finds the
    rows a record could clash with (the same start, id or file name) by searching the
    index's text, and knows only those.
    """

    def __init__(self, view: _IndexView, executions_dir: Path, *, lazy: bool = False) -> None:
        self.executions_dir = executions_dir
        self.rows: dict[str, list[Any]] = {}  # lower-case id → row
        self.by_identity: dict[tuple[Any, ...], str] = {}  # identity → lower-case id
        self.owners: dict[str, str] = {}  # lower-case file name → lower-case id
        #: Of several rows with one identity the last wins, as in the index's order (its
        #: rows, then its log's): the position of the row ``by_identity`` names.
        self._rank: dict[tuple[Any, ...], float] = {}
        #: The index whose rows are searched on demand (lazy), else ``None``: all known.
        self._base: _IndexView | None = view if lazy and view.searchable else None
        self._searched: set[str] = set()
        #: Ids whose row this batch replaced: the index's old row of one is never taken up.
        self._gone: set[str] = set()
        if self._base is None:
            for position, row in enumerate(view.rows()):
                self._know(row, position)
        else:
            for row in view.added.values():
                self._know(row, _LATEST)
        #: The digest of every record file's name once this batch is written.
        self.names = view.names
        self.version: tuple[str, int] | None = None
        self.begin()

    def begin(self) -> None:
        """Start a batch: forget what the previous one added and removed."""
        #: Rows added or replaced by this batch, by lower-case id.
        self.added: dict[str, list[Any]] = {}
        #: Files of replaced executions whose new file has another name.
        self.stale_files: list[str] = []

    def _know(self, row: list[Any], rank: float) -> None:
        key = row[_ID].lower()
        self.rows[key] = row
        identity = _identity(row)
        if rank >= self._rank.get(identity, -1):
            self.by_identity[identity] = key
            self._rank[identity] = rank
        self.owners[row[_FILENAME].lower()] = key

    def _find(self, text: str | None) -> None:
        """Know every row of the index that holds the JSON string ``text`` (every row, for
        ``None``)."""
        base = self._base
        if base is None or text in self._searched:
            return
        if text is None:
            self._base = None
            found = base.search(None)
        else:
            self._searched.add(text)
            found = base.search(text)
        for offset, row in found:
            key = row[_ID].lower()
            if key not in self.rows and key not in self._gone:
                self._know(row, offset)

    def count(self) -> int:
        self._find(None)
        return len(self.rows)

    def rows_list(self) -> list[list[Any]]:
        self._find(None)
        return list(self.rows.values())

    def place(self, record: ExecutionRecord, *, force: bool) -> SaveOutcome:
        """Decide what becomes of ``record``; the outcome's path is set when it is written."""
        if not is_valid_execution_id(record.execution_id):
            raise StorageError(
                f"Cannot store an execution with the id {record.execution_id!r}: an id is "
                "letters, digits, '-' and '_'."
            )
        identity = record.identity
        self._find(identity[2])  # the start: a row of the same identity holds it
        self._find(record.execution_id)
        key = self.by_identity.get(identity)
        if key is None and record.execution_id.lower() in self.rows:
            key = record.execution_id.lower()
        existing = self.rows[key] if key is not None else None
        if existing is not None and not force:
            return SaveOutcome(record, "already", None, existing[_ID])
        if existing is not None:
            record.execution_id = existing[_ID]
            self._forget(existing)
        filename = self._filename_for(record)
        if existing is not None and existing[_FILENAME] != filename:
            self.stale_files.append(existing[_FILENAME])
        row = _row_of(record, filename)
        key = record.execution_id.lower()
        self._know(row, _LATEST)
        self.added[key] = row
        gone = [existing[_FILENAME]] if existing is not None else []
        self.names = _digest_plus(self.names, [filename], gone)
        action = "replaced" if existing is not None else "imported"
        return SaveOutcome(record, action, self.executions_dir / filename, record.execution_id)

    def _forget(self, row: list[Any]) -> None:
        key = row[_ID].lower()
        self._gone.add(key)
        self.rows.pop(key, None)
        identity = _identity(row)
        if self.by_identity.get(identity) == key:
            # Its rank stays: a row of the same identity found later ranked below it, and
            # a full batch would not have let that one take the identity either.
            del self.by_identity[identity]
        self.owners.pop(row[_FILENAME].lower(), None)

    def _filename_for(self, record: ExecutionRecord) -> str:
        """The short name, unless another execution owns it (two ids sharing their first
        eight characters and their start second): then the whole id."""
        mine = record.execution_id.lower()
        for name in (record_filename(record), record_filename(record, long=True)):
            self._find(name)
            if self.owners.get(name.lower(), mine) == mine:
                return name
        raise StorageError(f"Cannot name the record file of execution {record.execution_id}.")


#: The rank of a row of the log or of this import: later than any row of index.json.
_LATEST = float("inf")
#: At most this many records make a lazy batch (see :class:`_Batch`).
_LAZY_BATCH = 8


#: :attr:`IndexEntry.identity` of a row (its start is already the JSON text).
_identity: Callable[[list[Any]], tuple[Any, ...]] = operator.itemgetter(*_IDENTITY)


def _row_of(record: ExecutionRecord, filename: str) -> list[Any]:
    """The index row of ``record``: ``IndexEntry.from_record(record, filename).to_row()``."""
    row: list[Any] = [
        filename if name == "filename" else getattr(record, name) for name in _ENTRY_FIELDS
    ]
    row[_STARTED] = datetime_to_json(record.started_at)
    row[_COMPLETED] = datetime_to_json(record.completed_at)
    row[_STATUS] = ExecutionStatus(record.status).value
    return row


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
