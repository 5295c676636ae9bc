"""The JSON store of spec §4: one file per execution, and an ``index.json`` that is a cache.

Layout (docs/storage.md)::

    {project}/.phaser/analytics/
        index.json              spec §4.3: the executions as objects, and the stats
        executions/{timestamp}-{short_id}.json
        quarantine/             record files that could not be loaded, moved aside
        .lock                   the writers' lock file

The record files are the truth. The index is trusted only while it names exactly the record
files in ``executions/``: while that directory keeps the inode and modification time written
into the index (``listed``), else by a listing compared with the index's digest of names;
missing, stale, corrupt or of another schema, it is rebuilt from the record files with one
warning (and written, when the store is writable). Writers take ``.lock``; every file is
written to a ``mkstemp`` file in its directory and renamed into place. A save of a few new
records adds their lines to the index's text (:class:`_Splice`); docs/storage.md names the
target each such piece is kept for.

A cloned repository's store is untrusted input (docs/storage.md, "Threat model"): only a
plain record name inside ``executions/`` is ever opened, moved or deleted; a record file that
is a symbolic link is not ours and is left alone; directories that lead out of the project
are refused; record files of a newer schema are left in place and never rewritten.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ExecutionNotFoundError, StorageError, StoreWriteError
from ..json_text import dumps_indented
from ..models import (
    AggregatedStats,
    ExecutionRecord,
    ExecutionStatus,
    StatsTally,
    datetime_from_json,
    datetime_to_json,
    utcnow,
)
from .base import (
    ENTRY_FIELDS,
    Entry,
    Finding,
    ProjectCount,
    SaveAction,
    SaveOutcome,
    StoreInfo,
    Warn,
    check_ids,
    entry_values_fit,
    is_valid_execution_id,
    resolve_id,
    stderr_warning,
)
from .files import (
    LOCK_TIMEOUT_SECONDS,
    TEMP_SUFFIX,
    OpenFile,
    atomic_write_bytes,
    fsync_dir,
    hold_lock,
    is_temp_name,
    read_bytes_nofollow,
    stage_file,
    sync_files,
)

if TYPE_CHECKING:
    from ..models import AnalyticsQuery

#: 3.0: the spec's §4.3 shape (executions as objects), with more fields per execution.
#: 2.0 (rows under ``columns``, with index.log and index.stamp) and the 1.x indexes of
#: earlier versions are rebuilt from the record files, once.
INDEX_SCHEMA_VERSION = "3.0"
#: Record files of this schema major version are read; another is a newer version's.
READABLE_RECORD_MAJOR = "1"
INDEX_NAME = "index.json"
#: The bytes of index.json read at first: its first line and ~400 rows, what ``show`` needs
#: (its last runs and the 200 before them for the anomaly marks); the rest when reached.
INDEX_FIRST_READ = 256 * 1024
#: What a walk of the rows reads of the rest of index.json at a time.
INDEX_CHUNK = 256 * 1024
LOCK_NAME = ".lock"
#: Files of the store before 3.0, removed when the index is next written.
OLD_FILES = ("index.log", "index.stamp", ".journal")
#: ``{timestamp}-{short_id}.json`` (spec §4.2): the only names ever opened, moved or removed.
RECORD_NAME = re.compile(r"\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-[A-Za-z0-9_]{1,128}\.json")
#: The index's fields of an execution: the spec's first, then ours.
_SPEC_FIELDS = ("execution_id", "filename", "audit_document", "started_at", "status",
                "duration_seconds", "test_delta")  # fmt: skip
INDEX_FIELDS = (*_SPEC_FIELDS, *(name for name in ENTRY_FIELDS if name not in _SPEC_FIELDS))


def is_record_name(name: str) -> bool:
    return RECORD_NAME.fullmatch(name) is not None


def record_filename(record: ExecutionRecord, *, long: bool = False) -> str:
    """``{timestamp}-{short_id}.json`` (spec §4.2), the timestamp being the UTC start;
    ``long`` uses the whole id, for the rare record whose short name is taken."""
    moment = record.started_at or record.imported_at
    stamp = moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H-%M-%S")
    suffix = record.execution_id.replace("-", "") if long else record.short_id
    return f"{stamp}-{suffix}.json"


class UnreadableRecord(Exception):
    """A record file that is not a record: bad JSON, a bad field, an invalid id."""


class NewerRecord(Exception):
    """A record file of a schema this version does not know (a newer phaser-analytics)."""

    def __init__(self, reason: str, data: dict[str, Any]) -> None:
        super().__init__(reason)
        self.data = data


def parse_record(data: bytes) -> ExecutionRecord:
    """A record from a record file's bytes; :class:`UnreadableRecord` or
    :class:`NewerRecord` if it is not one this version reads."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UnreadableRecord(f"not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise UnreadableRecord("not a JSON object")
    version = document.get("schema_version")
    if not isinstance(version, str) or not version:
        raise UnreadableRecord("no schema_version")
    if version.split(".")[0] != READABLE_RECORD_MAJOR:
        raise NewerRecord(f"schema_version {version!r}", document)
    try:
        record = ExecutionRecord.from_dict(document)
    except Exception as exc:  # whatever validation raises: the record is not loadable
        raise UnreadableRecord(f"{type(exc).__name__}: {exc}") from exc
    if not is_valid_execution_id(record.execution_id):
        raise UnreadableRecord(f"invalid execution_id {record.execution_id!r}")
    return record


def _row(record: ExecutionRecord, filename: str) -> dict[str, Any]:
    """The index's object for ``record`` (JSON values, :data:`INDEX_FIELDS` order)."""
    row: dict[str, Any] = {}
    for name in INDEX_FIELDS:
        if name == "filename":
            row[name] = filename
        else:
            row[name] = getattr(record, name)
    row["started_at"] = datetime_to_json(record.started_at)
    row["completed_at"] = datetime_to_json(record.completed_at)
    row["status"] = ExecutionStatus(record.status).value
    return row


def _entry(row: dict[str, Any]) -> Entry:
    values = {name: row.get(name) for name in ENTRY_FIELDS}
    values["started_at"] = datetime_from_json(row.get("started_at"))
    values["completed_at"] = datetime_from_json(row.get("completed_at"))
    values["status"] = ExecutionStatus(row["status"])
    return Entry(ref=row["filename"], **values)


class _RowStats:
    """An index row with the attributes :meth:`AggregatedStats.compute` reads, without
    building an :class:`Entry` (the index is rewritten at every save)."""

    __slots__ = (
        "cost_usd",
        "duration_seconds",
        "phases_completed",
        "phases_planned",
        "started_at",
        "status",
        "test_delta",
        "total_tokens",
    )  # fmt: skip

    def __init__(self, row: dict[str, Any]) -> None:
        get = row.get
        self.status = _STATUS_OF[row["status"]]
        self.started_at = datetime_from_json(get("started_at"))
        self.duration_seconds = get("duration_seconds")
        self.test_delta = get("test_delta")
        self.phases_planned = get("phases_planned")
        self.phases_completed = get("phases_completed")
        self.total_tokens = get("total_tokens")
        self.cost_usd = get("cost_usd")


def _identity(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row.get("project_path"), row.get("audit_document"), row.get("started_at"),
            row.get("base_commit"))  # fmt: skip


def _row_sort_key(row: dict[str, Any]) -> tuple[bool, float, str]:
    started = datetime_from_json(row.get("started_at"))
    return (started is not None, started.timestamp() if started else 0.0, row["execution_id"])


class _BadIndex(ValueError):
    """The index cannot be trusted; the message says why (for the warning)."""


def _check_row(row: Any) -> dict[str, Any]:
    if (
        not isinstance(row, dict)
        or not is_valid_execution_id(row.get("execution_id"))
        or not isinstance(row.get("filename"), str)
        or row.get("status") not in _STATUSES
        or not entry_values_fit(row)
    ):
        raise _BadIndex("is corrupt")
    if not RECORD_NAME.fullmatch(row["filename"]):
        raise _BadIndex(f"names a file that is not a record file ({row['filename']!r})")
    return row


def _check_header(header: Any) -> dict[str, Any]:
    if not isinstance(header, dict):
        raise _BadIndex("is corrupt")
    version = header.get("schema_version")
    if version != INDEX_SCHEMA_VERSION:
        raise _BadIndex(f"has schema {version!r}")
    names, newer = header.get("names"), header.get("newer_records")
    if (
        not isinstance(header.get("execution_count"), int)
        or not (isinstance(names, list) and len(names) == 2)
        or not all(isinstance(n, int) for n in names)
        or not isinstance(newer, list)
    ):
        raise _BadIndex("is corrupt")
    for note in newer:
        if not isinstance(note, dict) or not RECORD_NAME.fullmatch(str(note.get("filename"))):
            raise _BadIndex("is corrupt")
    return header


def _header_listed(header: dict[str, Any]) -> list[int] | None:
    """The header's stamp of ``executions/`` (inode, modification time in ns) when the index
    was written; ``None`` if absent or not two integers (an older index, or not ours)."""
    listed = header.get("listed")
    if isinstance(listed, list) and len(listed) == 2 and all(type(v) is int for v in listed):
        return listed
    return None


def _header_tally(header: dict[str, Any]) -> dict[str, Any] | None:
    """What the header keeps besides ``stats`` to add rows to them (:func:`_add_stats`):
    how many durations and test deltas are known, and the unrounded sum of the costs."""
    tally = header.get("tally")
    if not isinstance(tally, dict):
        return None
    durations, deltas, cost = (
        tally.get("durations"),
        tally.get("test_deltas"),
        tally.get("cost_usd"),
    )
    if type(durations) is not int or type(deltas) is not int or durations < 0 or deltas < 0:
        return None
    if cost is not None and type(cost) not in (int, float):
        return None
    return tally


#: The stats and tally of no executions, to add every row to.
_NO_STATS = AggregatedStats.compute([]).to_dict()
_NOTHING_CARRIED = StatsTally().carried()


def _add_stats(
    stats: dict[str, Any], carried: dict[str, Any], rows: Sequence[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``stats`` (``AggregatedStats.to_dict()``, with its ``tally``) with ``rows`` added, as
    ``AggregatedStats.compute`` gives them when it meets ``rows`` after the others."""
    tally = StatsTally.resume(stats, carried)
    for row in rows:
        tally.add(_RowStats(row))
    return tally.result().to_dict(), tally.carried()


def _digest(names: Iterable[str]) -> list[int]:
    """How many names, and the sum of their CRC-32s: what the index's ``names`` holds, so a
    reader compares a listing of ``executions/`` with it without reading every row."""
    count = total = 0
    for name in names:
        count += 1
        total += zlib.crc32(name.encode("utf-8"))
    return [count, total]


#: The end of index.json's first line: the header, then one execution per line.
_ROWS_START = b', "executions": ['
_encode_text = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode


def _encode_row(value: dict[str, Any]) -> bytes:
    """One line of the index (the C encoder: no indent)."""
    return _encode_text(value).encode("utf-8")


def _closing(stats: dict[str, Any]) -> bytes:
    """The index's last line: the end of ``executions``, and ``stats``."""
    return b"], " + _encode_row({"stats": stats})[1:] + b"\n"


class _Lazy:
    """``index.json`` as read: its first line (the header) parsed, its rows parsed one by
    one as they are reached (``show --last 5`` parses five); :class:`_BadIndex` for an
    index this version did not write, when it is found."""

    def __init__(self, data: bytes, file: OpenFile | None = None) -> None:
        #: What was read of the file; with ``file``, the rest is read from it when a walk
        #: reaches it (``show`` reads the first rows of a large index, not all of it), a
        #: chunk at a time, so a walk of every row holds one chunk of the file, not all of it.
        self._data, self._file = data, file
        end = data.find(b"\n")
        if end < 0 and file is not None:
            data = self.data
        end = data.find(b"\n")
        first = data[:end] if end >= 0 else data
        self._parsed: list[dict[str, Any]] | None = None
        #: Laid out as this version writes it: the header, then one row per line.
        self.laid_out = end >= 0 and first.endswith(_ROWS_START)
        if not self.laid_out:
            # Not laid out as written (reformatted by hand or by jq, say): read it whole.
            try:
                document = json.loads(self.data)
            except (ValueError, RecursionError):
                raise _BadIndex("is corrupt") from None
            self.header = _check_header(document)
            rows = document.get("executions")
            if not isinstance(rows, list) or len(rows) != document["execution_count"]:
                raise _BadIndex("is corrupt")
            self._parsed = [_check_row(row) for row in rows]
            return
        try:
            header = json.loads(first[: -len(_ROWS_START)] + b"}")
        except (ValueError, RecursionError):
            raise _BadIndex("is corrupt") from None
        self.header = _check_header(header)
        self.start = end + 1

    @property
    def data(self) -> bytes:
        """The whole file."""
        if self._file is not None:
            self._data += self._read(len(self._data), self._file.size - len(self._data))
            self._file.close()
            self._file = None
        return self._data

    def _read(self, offset: int, size: int) -> bytes:
        assert self._file is not None
        try:
            return self._file.read(offset, size)
        except OSError:
            raise _BadIndex("cannot be read") from None

    @functools.cached_property
    def end(self) -> int:
        """Where the closing line (``], "stats": …``) starts: the rows lie between
        :attr:`start` and here, each one line ending in a newline."""
        end = self.data.rfind(b"\n]", self.start - 1) + 1
        if end < self.start:
            raise _BadIndex("is corrupt")
        return end

    def stats(self) -> dict[str, Any]:
        """The ``stats`` of the closing line."""
        try:
            stats = json.loads(b"{" + self.data[self.end + 3 :])["stats"]
        except (ValueError, RecursionError, KeyError, TypeError):
            raise _BadIndex("is corrupt") from None
        if not isinstance(stats, dict) or not all(
            isinstance(stats.get(k), int) for k in _STATS_COUNTS
        ):
            raise _BadIndex("is corrupt")
        return stats

    def row_at(self, position: int) -> tuple[dict[str, Any], int, int]:
        """The row whose line holds byte ``position`` of the rows, with where its line
        starts and where the next one does."""
        data = self.data
        first = data.rfind(b"\n", self.start, position) + 1 or self.start
        after = data.find(b"\n", first) + 1
        if not self.start <= first < after <= self.end:
            raise _BadIndex("is corrupt")
        try:
            row = json.loads(data[first : after - 1].rstrip(b","))
        except (ValueError, RecursionError):
            raise _BadIndex("is corrupt") from None
        return _check_row(row), first, after

    def all_rows(self) -> list[dict[str, Any]]:
        """Every row, parsed at once (faster than one by one when all are needed)."""
        if self._parsed is None:
            end = self.data.rfind(b"\n]", self.start - 1)
            try:
                rows = json.loads(b"[" + self.data[self.start : max(end, self.start)] + b"]")
            except (ValueError, RecursionError):
                raise _BadIndex("is corrupt") from None
            if len(rows) != self.header["execution_count"]:
                raise _BadIndex("is corrupt")
            self._parsed = [_check_row(row) for row in rows]
        return self._parsed

    def rows(self) -> Iterator[dict[str, Any]]:
        if self._parsed is not None:
            yield from self._parsed
            return
        data, position, count = self._data, self.start, 0
        offset = len(data)  # where the file's next chunk starts
        while True:
            stop = data.find(b"\n", position)
            while stop < 0 and self._file is not None and offset < self._file.size:
                chunk = self._read(offset, INDEX_CHUNK)
                if not chunk:
                    break
                offset += len(chunk)
                data, position = data[position:] + chunk, 0
                stop = data.find(b"\n")
            line = data[position:stop] if stop >= 0 else data[position:]
            if stop < 0 or line.startswith(b"]"):
                break
            try:
                row = json.loads(line.rstrip(b","))
            except (ValueError, RecursionError):
                raise _BadIndex("is corrupt") from None
            yield _check_row(row)
            count += 1
            position = stop + 1
        if count != self.header["execution_count"] or not line.startswith(b"]"):
            raise _BadIndex("is corrupt")


_STATUS_OF = {status.value: status for status in ExecutionStatus}
_STATUSES = frozenset(_STATUS_OF)
#: The integer counts of ``stats`` that :func:`_add_stats` carries on.
_STATS_COUNTS = ("total_executions", "successful", "partial", "failed",
                 "total_phases_executed", "total_phases_completed")  # fmt: skip


class _State:
    """The store as the index describes it: rows newest first (parsed when first needed,
    for a state read from ``index.json``), and what they map."""

    def __init__(
        self,
        rows: list[dict[str, Any]] | None = None,
        newer: Iterable[dict[str, Any]] = (),
        signature: tuple[int, int, int] | None = None,
        *,
        source: _Lazy | None = None,
    ) -> None:
        self._rows = rows if rows is not None or source is not None else []
        self._source = source
        self.newer = list(newer) if source is None else list(source.header["newer_records"])
        #: (st_ino, st_mtime_ns, st_size) of the index this state was read from or written as.
        self.signature = signature
        #: The stamp of ``executions/`` written into the index, when this process wrote it.
        self.written_listed: list[int] | None = None
        #: The index's ``stats`` and ``tally`` for these rows, once known.
        self.stats: dict[str, Any] | None = None
        self.tally: dict[str, Any] | None = None

    def known_stats(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """``stats`` and ``tally``: computed, or as the index read gives them."""
        if self.stats is not None and self.tally is not None:
            return self.stats, self.tally
        source = self._source
        if source is None or not source.laid_out:
            return None
        tally = _header_tally(source.header)
        try:
            return (source.stats(), tally) if tally is not None else None
        except _BadIndex:
            return None

    @property
    def rows(self) -> list[dict[str, Any]]:
        if self._rows is None:
            assert self._source is not None
            self._rows = self._source.all_rows()
        return self._rows

    @property
    def listed(self) -> list[int] | None:
        """The stamp of ``executions/`` the index was written with."""
        if self.written_listed is not None:
            return self.written_listed
        return _header_listed(self._source.header) if self._source is not None else None

    @property
    def spliceable(self) -> _Lazy | None:
        """The index as read, when rows can be added to its text (laid out as written, rows
        not parsed yet, a tally to add to its stats)."""
        source = self._source
        if source is None or self._rows is not None or not source.laid_out:
            return None
        return source if _header_tally(source.header) is not None else None

    @property
    def count(self) -> int:
        if self._rows is None and self._source is not None:
            return int(self._source.header["execution_count"])
        return len(self.rows)

    @property
    def digest(self) -> list[int]:
        if self._rows is None and self._source is not None:
            return list(self._source.header["names"])
        return _digest(self.names)

    @property
    def project_name(self) -> str | None:
        if self._rows is None and self._source is not None:
            name = self._source.header.get("project_name")
            return name if isinstance(name, str) else None
        return next((r["project_name"] for r in self.rows if r.get("project_name")), None)

    @functools.cached_property
    def by_id(self) -> dict[str, dict[str, Any]]:
        return {row["execution_id"].lower(): row for row in self.rows}

    @functools.cached_property
    def by_identity(self) -> dict[tuple[Any, ...], dict[str, Any]]:
        found: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in reversed(self.rows):
            found.setdefault(_identity(row), row)
        return found

    @functools.cached_property
    def names(self) -> set[str]:
        return {row["filename"] for row in self.rows} | {n["filename"] for n in self.newer}

    @functools.cached_property
    def newer_identities(self) -> dict[tuple[Any, ...], dict[str, Any]]:
        return {tuple(n["identity"]): n for n in self.newer if isinstance(n.get("identity"), list)}

    def entries(self) -> Iterator[Entry]:
        rows = self._rows if self._rows is not None else self._source.rows()  # type: ignore[union-attr]
        return (_entry(row) for row in rows)


@dataclass
class _Scan:
    """The record files read one by one (a rebuild, ``doctor``)."""

    records: dict[str, ExecutionRecord] = field(default_factory=dict)
    corrupt: dict[str, str] = field(default_factory=dict)
    newer: dict[str, dict[str, Any]] = field(default_factory=dict)
    duplicates: dict[str, str] = field(default_factory=dict)  # name → the kept name
    foreign: list[str] = field(default_factory=list)  # not ours: left alone


class JsonStore:
    """One project's store of spec §4 JSON files (implements :class:`.base.Store`)."""

    backend = "json"
    multi_project = False
    #: How long ``check`` waits for the lock before reporting it held.
    check_lock_timeout = 5.0

    def __init__(self, root: Path, *, url: str, confine: Path, warn: Warn = stderr_warning):
        self.root = Path(root)
        self.url = url
        self.confine = confine
        self.warn = warn
        self.executions_dir = self.root / "executions"
        self.quarantine_dir = self.root / "quarantine"
        self.index_path = self.root / INDEX_NAME
        self.lock_path = self.root / LOCK_NAME
        self._state: _State | None = None
        #: (index signature, executions/ time) when ``_state`` was last checked by a reader.
        self._checked: tuple[Any, Any] | None = None
        self._locked = 0
        self._checked_dirs = False
        #: The index lines and sort keys of the rows this process last wrote, by id.
        self._lines: dict[str, tuple[dict[str, Any], bytes]] = {}
        self._keys: dict[str, tuple[dict[str, Any], tuple[bool, float, str]]] = {}

    @classmethod
    def for_project(cls, project_dir: Path, *, warn: Warn = stderr_warning) -> JsonStore:
        """The default store: ``{project}/.phaser/analytics``."""
        root = Path(project_dir) / ".phaser" / "analytics"
        return cls(root, url=str(root), confine=Path(project_dir), warn=warn)

    @classmethod
    def from_url(cls, url: str, *, warn: Warn = stderr_warning) -> JsonStore:
        """A store at a path or ``file:///abs/dir`` the user named (trusted: it may be
        anywhere, but its subdirectories may not lead out of it)."""
        path = url[len("file://") :] if url.startswith("file://") else url
        if url.startswith("file:") and not url.startswith("file://"):
            path = url[len("file:") :]
        root = Path(path).expanduser()
        return cls(root, url=url, confine=root, warn=warn)

    # -- the directories ------------------------------------------------------------------

    def _check_dirs(self) -> None:
        """Refuse a store whose directories are symbolic links that leave the project."""
        if self._checked_dirs:
            return
        base = os.path.realpath(self.confine)
        for directory in (self.root.parent, self.root, self.executions_dir, self.quarantine_dir):
            if directory == self.root.parent and self.confine == self.root:
                continue
            if not os.path.islink(directory):
                continue
            target = os.path.realpath(directory)
            if target != base and not target.startswith(base.rstrip(os.sep) + os.sep):
                raise StorageError(
                    f"The analytics store's directory {directory} is a symbolic link to "
                    f"{target}, outside {self.confine}; refusing to use it."
                )
        self._checked_dirs = True

    def _record_names(self) -> tuple[list[str], list[str]]:
        """(record files, other entries) in ``executions/``: a record file is a regular
        file (not a link) with a record's name; anything else is not ours."""
        records, foreign = [], []
        try:
            with os.scandir(self.executions_dir) as it:
                for item in it:
                    name = item.name
                    if name[0] == "." and is_temp_name(name):
                        continue
                    if RECORD_NAME.fullmatch(name) and item.is_file(follow_symlinks=False):
                        records.append(name)
                    else:
                        foreign.append(name)
        except (FileNotFoundError, NotADirectoryError):
            return [], []
        except OSError as exc:
            raise StorageError(
                f"Cannot read analytics directory: {self.executions_dir} ({exc.strerror})"
            ) from exc
        return records, foreign

    # -- locking --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
        """The writers' lock (re-entrant). ``StoreWriteError`` when the store cannot be
        written, ``StorageError`` when another process holds it too long."""
        if self._locked:
            self._locked += 1
            try:
                yield
            finally:
                self._locked -= 1
            return
        self._check_dirs()
        try:
            self.executions_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreWriteError(self.root) from exc
        try:
            lock = hold_lock(self.lock_path, timeout)
            lock.__enter__()
        except TimeoutError:
            raise StorageError(
                f"Another phaser analytics command is writing to {self.root}; waited "
                f"{timeout:g}s for it. Try again when it has finished."
            ) from None
        except OSError as exc:
            raise StoreWriteError(self.root) from exc
        self._locked = 1
        try:
            yield
        finally:
            self._locked = 0
            lock.__exit__(None, None, None)

    @contextlib.contextmanager
    def _lock_if_writable(self) -> Iterator[bool]:
        """The lock when the store can be written; else nothing (a read-only store is still
        read, never healed)."""
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self._lock())
            except StoreWriteError:
                yield False
            else:
                yield True

    # -- the index ------------------------------------------------------------------------

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.lstat(self.index_path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _read_index(self, names: list[str] | None, *, full: bool = True) -> _State:
        """The index, checked against the record files ``names`` (by their digest, unless
        ``full``: then name by name, every row read), or with ``names`` None against the
        stamp of ``executions/`` it was written with; :class:`_BadIndex`."""
        signature = self._signature()
        if self._state is not None and signature == self._state.signature:
            state = self._state
        else:
            try:
                file = OpenFile(self.index_path)
                data = file.read(0, INDEX_FIRST_READ)
            except FileNotFoundError:
                raise _BadIndex("is missing") from None
            except OSError as exc:
                raise _BadIndex(f"cannot be read ({exc.strerror})") from None
            rest: OpenFile | None = file
            if len(data) >= file.size:
                file.close()
                rest = None
            state = _State(signature=signature, source=_Lazy(data, rest))
        if names is None:
            in_step = state.listed is not None and state.listed == self._directory_stamp()
        else:
            in_step = state.digest == _digest(names) and not (
                full and (state.names != set(names) or len(state.by_id) != len(state.rows))
            )
        if not in_step:
            raise _BadIndex("is out of step with the record files")
        if os.path.lexists(self.root / ".journal"):  # left by a write of a version before 3.0
            raise _BadIndex("may be out of step after an interrupted write")
        return state

    def _directory_stamp(self) -> list[int] | None:
        """``executions/``'s inode and modification time (ns): any name added, removed or
        renamed in it changes them."""
        try:
            st = os.stat(self.executions_dir)
        except OSError:
            return None
        return [st.st_ino, st.st_mtime_ns]

    def _current(self) -> _State:
        """The trusted index: read, or rebuilt (and written, when the store is writable).

        A reader that already checked the index against a listing of ``executions/`` in
        this process trusts it again while neither the index nor the directory changed
        (their times and the index's inode and size), so one command lists it once."""
        self._check_dirs()
        seen = (self._signature(), self._directory_stamp())
        if not self._locked and self._state is not None and self._checked == seen:
            return self._state
        self._checked = None
        if seen[0] is not None and seen[1] is not None:
            # Nothing was added to, removed from or renamed in executions/ since the index
            # was written: it names the record files without listing them.
            with contextlib.suppress(_BadIndex):
                self._state = self._read_index(None)
                self._checked = seen
                return self._state
        names, _ = self._record_names()
        if not names and not self.index_path.exists() and not self._locked:
            return _State([])
        try:
            self._state = self._read_index(names, full=False)
            self._checked = seen
            return self._state
        except _BadIndex as bad:
            reason = str(bad)
        return self._heal(reason)

    def _heal(self, reason: str) -> _State:
        """Rebuild the index from the record files, with one warning saying why; write it
        when the store is writable."""
        self._checked = None
        names, _ = self._record_names()
        with self._lock_if_writable() as writable:
            if writable:  # another writer may have healed it while we waited
                names, _ = self._record_names()
                try:
                    self._state = self._read_index(names)
                    return self._state
                except _BadIndex as bad:
                    reason = str(bad)
            if names or reason != "is missing":
                where = "" if writable else " (in memory only: the store is read-only)"
                self.warn(f"analytics index {reason}; rebuilt it from the record files{where}.")
            scan = self._scan(quarantine=writable)
            state = self._state_of(scan)
            if writable:
                try:
                    self._write_index(state)
                except OSError as exc:
                    self.warn(f"the rebuilt index cannot be written ({exc.strerror or exc}).")
            self._state = state
            return state

    def _state_of(self, scan: _Scan) -> _State:
        rows = [_row(record, name) for name, record in scan.records.items()]
        rows.sort(key=_row_sort_key, reverse=True)
        newer = [_newer_note(name, data) for name, data in sorted(scan.newer.items())]
        return _State(rows, newer)

    def _index_bytes(self, state: _State) -> bytes:
        """The spec's §4.3 document, laid out one execution per line after a first line
        that holds everything else a reader needs (:class:`_Lazy`)."""
        if state.stats is None or state.tally is None:
            state.stats, state.tally = _add_stats(_NO_STATS, _NOTHING_CARRIED, state.rows)
        head = self._head(
            state.project_name, len(state.rows), _digest(state.names), state.newer,
            state.tally, state.written_listed,
        )  # fmt: skip
        # A process that writes several batches encodes each row once (bulk import ≤ 1.5×
        # the parse floor): the lines it wrote are kept while their rows are.
        cache, fresh = self._lines, {}
        lines = []
        for row in state.rows:
            hit = cache.get(row["execution_id"])
            line = hit[1] if hit is not None and hit[0] is row else _encode_row(row) + b","
            fresh[row["execution_id"]] = (row, line)
            lines.append(line)
        self._lines = fresh
        if lines:
            lines[-1] = lines[-1][:-1]
        return b"\n".join([head, *lines, _closing(state.stats)])

    def _sort_key(self, row: dict[str, Any]) -> tuple[bool, float, str]:
        """:func:`_row_sort_key`, kept for the rows this process sorted before."""
        hit = self._keys.get(row["execution_id"])
        if hit is not None and hit[0] is row:
            return hit[1]
        key = _row_sort_key(row)
        self._keys[row["execution_id"]] = (row, key)
        return key

    def _head(
        self,
        project_name: str | None,
        count: int,
        digest: list[int],
        newer: list[dict[str, Any]],
        tally: dict[str, Any],
        listed: list[int] | None,
    ) -> bytes:
        """The index's first line: everything but the rows and the stats, then the opening
        of ``executions``. ``listed`` is the stamp of ``executions/`` after the record files
        changed (readers trust the index while it stays so)."""
        head = {
            "schema_version": INDEX_SCHEMA_VERSION,
            "project_name": project_name or self.confine.resolve().name,
            "updated_at": datetime_to_json(utcnow()),
            "execution_count": count,
            "names": digest,
            "newer_records": newer,
            "listed": listed,
            "tally": tally,
        }
        return _encode_row(head)[:-1] + _ROWS_START

    def _write_index(self, state: _State, data: bytes | None = None) -> None:
        """Write ``index.json`` for ``state`` (``data``, when the caller made it) under the
        lock, removing the files of the pre-3.0 index. ``OSError`` if it cannot be
        written."""
        if data is None:
            state.written_listed = self._directory_stamp()
            data = self._index_bytes(state)
        atomic_write_bytes(self.index_path, data)
        state.signature = self._signature()
        for name in OLD_FILES:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.root / name)  # unlinking a link never touches its target

    def _index_aside(self) -> Path | None:
        """Rename ``index.json`` to a temporary name (no space needed); return it."""
        aside = self.root / f".{INDEX_NAME}.{os.getpid()}.aside{TEMP_SUFFIX}"
        try:
            os.rename(self.index_path, aside)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreWriteError(self.root) from exc
        return aside

    def _forget_index(self) -> None:
        """Remove an index that could not be rewritten, so the next command rebuilds it."""
        self._state = None
        with contextlib.suppress(OSError):
            os.unlink(self.index_path)

    # -- reading record files -------------------------------------------------------------

    def _scan(self, *, quarantine: bool, report: bool = True) -> _Scan:
        scan = _Scan()
        names, scan.foreign = self._record_names()
        for name in names:
            try:
                scan.records[name] = parse_record(read_bytes_nofollow(self.executions_dir / name))
            except FileNotFoundError:
                continue
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.EINVAL):  # a link or not a file: not ours
                    scan.foreign.append(name)
                else:
                    scan.corrupt[name] = exc.strerror or str(exc)
            except UnreadableRecord as exc:
                scan.corrupt[name] = str(exc)
            except NewerRecord as exc:
                scan.newer[name] = exc.data
        by_id: dict[str, list[str]] = {}
        for name, record in scan.records.items():
            by_id.setdefault(record.execution_id.lower(), []).append(name)
        for same in by_id.values():
            same.sort(key=lambda n: (scan.records[n].imported_at, n), reverse=True)
            for name in same[1:]:
                scan.duplicates[name] = same[0]
                del scan.records[name]
        warn = self.warn if report else _silent
        for name, data in scan.newer.items():
            warn(
                f"record file {name} has schema_version {data.get('schema_version')!r}, "
                "written by a newer phaser-analytics; it is left in place and not shown."
            )
        for name, reason in scan.corrupt.items():
            where = self._set_aside(name, quarantine)
            warn(f"record file {name} is unreadable ({reason}); {where}.")
        for name, kept in scan.duplicates.items():
            where = self._set_aside(name, quarantine)
            warn(f"record file {name} repeats the execution id of {kept}; {where}.")
        return scan

    def _set_aside(self, name: str, move: bool) -> str:
        """Move a record file into ``quarantine/`` when ``move``; say where it is. Only a
        regular file with a record's name in ``executions/`` is ever moved."""
        source = self.executions_dir / name
        if not is_record_name(name) or not source.is_file() or source.is_symlink():
            return "left in place (it is not a record file this store wrote)"
        if not move:
            return "left in place (the store is not writable)"
        try:
            self.quarantine_dir.mkdir(exist_ok=True)
            self._checked_dirs = False
            self._check_dirs()
            target = self.quarantine_dir / name
            counter = 1
            while os.path.lexists(target):
                target = self.quarantine_dir / f"{name}.{counter}"
                counter += 1
            os.rename(source, target)
        except OSError as exc:
            return f"left in place (it cannot be moved: {exc.strerror})"
        return f"moved to {target}"

    def _load(self, entry: Entry) -> ExecutionRecord | None:
        name = entry.ref or ""
        if not is_record_name(name):
            return None
        try:
            record = parse_record(read_bytes_nofollow(self.executions_dir / name))
        except FileNotFoundError:
            self._state = None
            return None
        except (OSError, UnreadableRecord) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            self._drop_unreadable(name, reason)
            return None
        except NewerRecord as exc:
            self.warn(
                f"record file {name} has been replaced by one of {exc}, written by a newer "
                "phaser-analytics; it is left in place and not shown."
            )
            self._state = None
            return None
        return record

    def _drop_unreadable(self, name: str, reason: str) -> None:
        """A record file found unreadable while reading: set it aside, drop its row."""
        with self._lock_if_writable() as writable:
            where = self._set_aside(name, writable)
            self.warn(f"record file {name} is unreadable ({reason}); {where}.")
            if writable and where.startswith("moved") and self._state is not None:
                try:
                    rows = [r for r in self._state.rows if r["filename"] != name]
                    state = _State(rows, self._state.newer)
                    self._write_index(state)
                    self._state = state
                except (OSError, _BadIndex):
                    self._forget_index()
            else:
                self._state = None

    # -- the interface --------------------------------------------------------------------

    def _entries(self) -> Iterator[Entry]:
        """Every entry, newest first. A row found damaged on the way rebuilds the index (one
        warning), and the walk goes on in the rebuilt index after the last entry given."""
        last: Entry | None = None
        try:
            for entry in self._current().entries():
                yield entry
                last = entry
            return
        except _BadIndex as bad:
            state = self._heal(str(bad))
        for entry in state.entries():
            if last is None or _entry_key(entry) < _entry_key(last):
                yield entry

    def find(
        self, query: AnalyticsQuery | None = None, *, project: str | None = None
    ) -> Iterator[Entry]:
        """Entries newest first (the index's order); ``project`` is ignored: a JSON store
        holds one project's executions."""
        return _matching(self._entries(), query)

    def read(self, entries: Iterable[Entry]) -> Iterator[ExecutionRecord]:
        for entry in entries:
            record = self._load(entry)
            if record is not None:
                yield record

    def get(self, execution_id: str) -> ExecutionRecord:
        if not is_valid_execution_id(execution_id):
            raise ExecutionNotFoundError(execution_id)
        entry = resolve_id(execution_id, self._entries())
        record = self._load(entry)
        if record is None:
            raise ExecutionNotFoundError(execution_id)
        return record

    def info(self) -> StoreInfo:
        state = self._current()
        count = state.count
        name = state.project_name or self.confine.resolve().name
        project = ProjectCount(name, str(self.confine), count)
        return StoreInfo(
            backend=self.backend,
            location=str(self.root),
            count=count,
            projects=[project] if count else [],
            schema_version=INDEX_SCHEMA_VERSION,
        )

    def save(
        self, records: Sequence[ExecutionRecord], *, replace: bool = False
    ) -> list[SaveOutcome]:
        records = list(records)
        check_ids(records)
        if not records:
            return []
        with self._lock():
            state = self._current()
            spliced = self._save_spliced(state, records, replace)
            if spliced is not None:
                return spliced
            state = self._parsed(state)
            rows = {row["execution_id"].lower(): row for row in state.rows}
            by_identity = dict(state.by_identity)
            owners = {row["filename"].lower(): row["execution_id"].lower() for row in state.rows}
            for note in state.newer:
                owners[note["filename"].lower()] = ""  # a newer version's: never ours
            outcomes: list[SaveOutcome] = []
            writes: dict[str, bytes] = {}  # file name → content (a repeat replaces)
            stale: list[str] = []
            for record in records:
                identity = record.identity
                if identity in state.newer_identities:
                    note = state.newer_identities[identity]
                    self.warn(
                        f"{note['filename']} holds this execution as a newer "
                        "phaser-analytics wrote it; it is left as it is."
                    )
                    outcomes.append(
                        SaveOutcome(SaveAction.ALREADY, str(note.get("execution_id") or ""))
                    )
                    continue
                existing = by_identity.get(identity) or rows.get(record.execution_id.lower())
                if existing is not None and not replace:
                    outcomes.append(SaveOutcome(SaveAction.ALREADY, existing["execution_id"]))
                    continue
                if existing is not None and self._newer_on_disk(existing["filename"]):
                    outcomes.append(SaveOutcome(SaveAction.ALREADY, existing["execution_id"]))
                    continue
                if existing is not None:
                    record.execution_id = existing["execution_id"]
                    del rows[existing["execution_id"].lower()]
                    owners.pop(existing["filename"].lower(), None)
                    by_identity.pop(_identity(existing), None)
                name = _free_name(record, owners)
                if existing is not None and existing["filename"] != name:
                    # A file this batch wrote is replaced before it is on disk.
                    writes.pop(existing["filename"], None)
                    stale.append(existing["filename"])
                row = _row(record, name)
                rows[record.execution_id.lower()] = row
                by_identity[identity] = row
                owners[name.lower()] = record.execution_id.lower()
                writes[name] = _record_bytes(record)
                action = SaveAction.REPLACED if existing is not None else SaveAction.IMPORTED
                where = str(self.executions_dir / name)
                outcomes.append(SaveOutcome(action, record.execution_id, where))
            if not writes:
                return outcomes
            stale = [n for n in dict.fromkeys(stale) if n not in writes]
            self._commit([(self.executions_dir / n, d) for n, d in writes.items()], stale)
            new_rows = sorted(rows.values(), key=self._sort_key, reverse=True)
            new = _State(new_rows, state.newer)
            known = state.known_stats()
            if known is not None and all(o.action is SaveAction.IMPORTED for o in outcomes
                                         if o.action is not SaveAction.ALREADY):  # fmt: skip
                # Only rows added: their figures are added to the stats (as a splice does).
                added = [rows[o.execution_id.lower()] for o in outcomes
                         if o.action is SaveAction.IMPORTED]  # fmt: skip
                with contextlib.suppress(ArithmeticError, KeyError, TypeError, ValueError):
                    new.stats, new.tally = _add_stats(*known, added)  # else computed anew
            self._finish(new, outcomes)
        return outcomes

    def _parsed(self, state: _State) -> _State:
        """``state`` with every row parsed, or the index rebuilt if a row is damaged (a
        writer trusts the index by the stamp of ``executions/`` without reading its rows)."""
        try:
            state.rows  # noqa: B018 - parse them now
        except _BadIndex as bad:
            return self._heal(str(bad))
        return state

    def _save_spliced(
        self, state: _State, records: list[ExecutionRecord], replace: bool
    ) -> list[SaveOutcome] | None:
        """Save a few new records by adding their rows to the index's text, each at the
        place a binary search of the sorted rows finds, and their figures to its stats,
        instead of parsing and encoding every row (one import into 10,000 ≤ 3× the start-up
        floor, docs/performance.md). ``None`` when this cannot be done exactly as
        :meth:`save` does it (a replacement, a record without a start, an index not laid out
        as written): then :meth:`save` parses every row."""
        source = state.spliceable
        if source is None or len(records) > SPLICE_MAX:
            return None
        splice = _Splice(source, state.newer_identities, self.executions_dir)
        try:
            for record in records:
                splice.add(record, replace)
            rows = [row for _, _, _, row in splice.inserts]
            tally = _header_tally(source.header)
            assert tally is not None
            stats, tally = _add_stats(source.stats(), tally, rows)
            project_name = splice.project_name()
        except (_Unspliceable, _BadIndex, ArithmeticError, KeyError, TypeError, ValueError):
            return None
        for message in splice.warnings:
            self.warn(message)
        if not splice.inserts:
            return splice.outcomes
        names = [row["filename"] for row in rows]
        self._commit([(self.executions_dir / n, d) for n, d in splice.writes], [])
        listed = self._directory_stamp()
        count, total = source.header["names"]
        digest = [count + len(names), total + _digest(names)[1]]
        head = self._head(
            project_name, source.header["execution_count"] + len(rows), digest,
            source.header["newer_records"], tally, listed,
        )  # fmt: skip
        data = b"".join([head, b"\n", splice.body(), _closing(stats)])
        new = _State(source=_Lazy(data))
        new.written_listed = listed
        self._finish(new, splice.outcomes, data)
        return splice.outcomes

    def _newer_on_disk(self, name: str) -> bool:
        """Whether the record file ``name`` is now of a newer schema (rewritten by a newer
        version since the index was written): it is then never replaced, and said so."""
        try:
            parse_record(read_bytes_nofollow(self.executions_dir / name))
        except NewerRecord as exc:
            self.warn(
                f"record file {name} has {exc}, written by a newer phaser-analytics; it is "
                "left as it is."
            )
            return True
        except (OSError, UnreadableRecord):
            return False
        return False

    def _commit(self, writes: list[tuple[Path, bytes]], removals: list[str]) -> None:
        """Stage every record file, make them durable, rename them into place, remove the
        replaced ones. A failure before the last rename puts everything back."""
        staged: list[tuple[Path, Path]] = []
        try:
            for target, data in writes:
                staged.append((stage_file(target, data, sync=False), target))
            sync_files([tmp for tmp, _ in staged])
        except OSError as exc:
            for tmp, _ in staged:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            raise StoreWriteError(self.root) from exc
        # A replaced record keeps its name, so a crash during the renames would leave an
        # index naming the right files with the old content: the index steps aside until
        # the new one is written (a crash leaves none, and the next command rebuilds it).
        aside = self._index_aside() if any(t.exists() for _, t in staged) else None
        done: list[tuple[Path, bytes | None]] = []
        try:
            for tmp, target in staged:
                previous = None
                if os.path.lexists(target):
                    previous = read_bytes_nofollow(target)
                os.replace(tmp, target)
                done.append((target, previous))
        except OSError as exc:
            for target, previous in reversed(done):
                with contextlib.suppress(OSError):
                    if previous is None:
                        os.unlink(target)
                    else:
                        atomic_write_bytes(target, previous)
            for tmp, _ in staged[len(done) :]:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            if aside is not None:
                with contextlib.suppress(OSError):
                    os.rename(aside, self.index_path)
            raise StoreWriteError(self.root) from exc
        if aside is not None:
            with contextlib.suppress(OSError):
                os.unlink(aside)
        for name in removals:
            if is_record_name(name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.executions_dir / name)
        fsync_dir(self.executions_dir)

    def _finish(
        self, state: _State, outcomes: list[SaveOutcome] | None = None, data: bytes | None = None
    ) -> None:
        """Write the index of ``state`` (``data`` when given) after the record files changed.
        If it cannot be written the record files stand: say so, and leave no stale index
        behind."""
        try:
            self._write_index(state, data)
        except OSError as exc:
            self._forget_index()
            state.signature = None  # what this process knows stands for the missing index
            self._state = state
            message = (
                f"the record files are stored, but the index {self.index_path} could not be "
                f"written ({exc.strerror or exc}); the next command rebuilds it from them."
            )
            self.warn(message)
            for outcome in outcomes or []:
                outcome.warning = message
            return
        self._state = state
        # Written under the lock, so it matches the files: the next read in this process
        # need not list them again while neither changes.
        self._checked = (state.signature, self._directory_stamp())

    def delete(self, execution_ids: Iterable[str], *, missing_ok: bool = False) -> list[Entry]:
        wanted = list(execution_ids)
        if not missing_ok:
            for execution_id in wanted:
                if not is_valid_execution_id(execution_id):
                    raise ExecutionNotFoundError(execution_id)
        if not self.executions_dir.is_dir():
            if wanted and not missing_ok:
                raise ExecutionNotFoundError(wanted[0])
            return []
        with self._lock():
            state = self._parsed(self._current())
            entries = list(state.entries())
            targets: dict[str, Entry] = {}
            for execution_id in wanted:
                try:
                    entry = resolve_id(execution_id, entries)
                except ExecutionNotFoundError:
                    if missing_ok:
                        continue
                    raise
                targets[entry.execution_id] = entry
            if not targets:
                return []
            gone = set(targets)
            state = _State([r for r in state.rows if r["execution_id"] not in gone], state.newer)
            # The index first: a full disk stops here with nothing changed, and a crash
            # before the files are gone only brings them back (the index is rebuilt).
            try:
                self._write_index(state)
            except OSError as exc:
                raise StoreWriteError(self.root) from exc
            self._state = state
            try:
                for entry in targets.values():
                    if entry.ref and is_record_name(entry.ref):
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(self.executions_dir / entry.ref)
            except OSError as exc:
                raise StoreWriteError(self.root) from exc
            fsync_dir(self.executions_dir)
            removed = list(targets.values())
        return removed

    def check(self, *, repair: bool = False) -> list[Finding]:
        if not self.root.is_dir():
            return [Finding("store", f"no analytics store at {self.root}", "note")]
        self._check_dirs()
        with contextlib.ExitStack() as stack:
            lock = self._try_lock(stack, self.check_lock_timeout)
            locked = lock.level == "ok"
            done: list[Finding] = []
            if repair and locked:
                done = self._repair()
            return [lock, *done, *self._findings(locked)]

    def _try_lock(self, stack: contextlib.ExitStack, timeout: float) -> Finding:
        try:
            stack.enter_context(self._lock(timeout))
        except StoreWriteError:
            return Finding("lock", f"cannot take the lock: {self.root} is read-only")
        except StorageError:
            return Finding(
                "lock",
                f"another process has held the lock for over {timeout:g}s "
                "(if no phaser command is running, it is stuck)",
            )
        return Finding("lock", "the lock is free", "ok")

    def _temp_files(self) -> list[Path]:
        found: list[Path] = []
        for directory in (self.root, self.executions_dir):
            with contextlib.suppress(OSError), os.scandir(directory) as it:
                found += [Path(e.path) for e in it if is_temp_name(e.name) and not e.is_symlink()]
        return sorted(found)

    def _repair(self) -> list[Finding]:
        done = []
        for path in self._temp_files():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                done.append(Finding("repair", f"removed the temporary file {path.name}", "ok"))
        names, _ = self._record_names()
        try:
            current: _State | None = self._read_index(names)
        except _BadIndex:
            current = None
        scan = self._scan(quarantine=True, report=False)
        for name in [*scan.corrupt, *scan.duplicates]:
            if not (self.executions_dir / name).exists():
                done.append(Finding("repair", f"moved {name} to quarantine/", "ok"))
        state = self._state_of(scan)
        old = [n for n in OLD_FILES if os.path.lexists(self.root / n)]
        if current is None or current.rows != state.rows or current.newer != state.newer or old:
            try:
                self._write_index(state)
                self._state = state
                done.append(
                    Finding("repair", f"rebuilt the index ({len(state.rows)} executions)", "ok")
                )
            except OSError as exc:
                done.append(Finding("repair", f"cannot write the index ({exc.strerror})"))
        return done

    def _findings(self, locked: bool) -> list[Finding]:
        scan = self._scan(quarantine=False, report=False)
        findings = self._index_findings(scan)
        findings += [
            Finding("record", f"corrupt record file {n}: {r}") for n, r in scan.corrupt.items()
        ]
        findings += [
            Finding("record", f"{n} repeats the execution id of {k}")
            for n, k in scan.duplicates.items()
        ]
        findings += [
            Finding("record", f"{n} has schema_version {d.get('schema_version')!r} (a newer "
                    "phaser-analytics); left in place", "note")
            for n, d in scan.newer.items()
        ]  # fmt: skip
        if scan.foreign:
            findings.append(
                Finding(
                    "record",
                    f"{len(scan.foreign)} entries in executions/ are not record files this "
                    f"store wrote; left alone: {_names(sorted(scan.foreign))}",
                    "note",
                )
            )
        old = [n for n in OLD_FILES if os.path.lexists(self.root / n)]
        if old:
            findings.append(
                Finding("index", f"files of an older index or an interrupted write remain: "
                        f"{', '.join(old)}")
            )  # fmt: skip
        temps = self._temp_files()
        if temps:
            message = f"{len(temps)} leftover temporary file(s): {_names(temps)}"
            findings.append(Finding("temp", message, "problem" if locked else "note"))
        with contextlib.suppress(OSError):
            quarantined = [p for p in self.quarantine_dir.iterdir() if p.is_file()]
            if quarantined:
                findings.append(
                    Finding(
                        "quarantine",
                        f"{len(quarantined)} file(s) in {self.quarantine_dir}: inspect them, "
                        "then delete them, or fix them and move them back into executions/",
                        "note",
                    )
                )
        return findings

    def _index_findings(self, scan: _Scan) -> list[Finding]:
        """The index against what the record files hold (``scan``)."""
        try:
            index = _Lazy(read_bytes_nofollow(self.index_path))
            rows = list(index.rows())
            if index.header["names"] != _digest(
                [r["filename"] for r in rows]
                + [n["filename"] for n in index.header["newer_records"]]
            ):
                raise _BadIndex("is corrupt")
        except FileNotFoundError:
            if not scan.records and not scan.corrupt and not scan.newer:
                return [Finding("index", "no executions yet", "ok")]
            return [Finding("index", "the index is missing")]
        except (OSError, ValueError, RecursionError):
            return [Finding("index", "the index is corrupt")]
        except _BadIndex as bad:
            return [Finding("index", f"the index {bad}")]
        indexed = {row["filename"]: row for row in rows}
        expected = self._state_of(scan)
        wanted = {row["filename"]: row for row in expected.rows}
        findings = []
        unindexed = sorted(set(wanted) - set(indexed))
        if unindexed:
            findings.append(
                Finding("index", f"{len(unindexed)} record file(s) not in the index: "
                        f"{_names(unindexed)}")
            )  # fmt: skip
        vanished = sorted(set(indexed) - set(wanted))
        if vanished:
            findings.append(
                Finding("index", f"{len(vanished)} index entries without a record file: "
                        f"{_names(vanished)}")
            )  # fmt: skip
        differing = sorted(n for n in set(wanted) & set(indexed) if wanted[n] != indexed[n])
        if differing:
            findings.append(
                Finding("index", f"{len(differing)} index entries disagree with their record "
                        f"file: {_names(differing)}")
            )  # fmt: skip
        if not findings:
            message = f"the index agrees with the {len(indexed)} record file(s)"
            findings.append(Finding("index", message, "ok"))
        return findings

    def close(self) -> None:
        self._state = None


#: The most records :meth:`JsonStore._save_spliced` adds to the index's text: each costs a
#: few searches of it, so a larger batch parses the rows once instead.
SPLICE_MAX = 16


class _Unspliceable(Exception):
    """This save cannot be made by adding rows to the index's text: parse every row."""


def _record_bytes(record: ExecutionRecord) -> bytes:
    """A record file's content (spec §4.2: indented JSON)."""
    return (dumps_indented(record.to_dict()) + "\n").encode("utf-8")


class _Splice:
    """New rows for an index as read (:class:`_Lazy`), found without parsing its rows: the
    execution of the same identity is next to the new row's place (the rows are sorted by
    start), and one of the same id or file name is where the text holds that string."""

    def __init__(
        self, source: _Lazy, newer: dict[tuple[Any, ...], dict[str, Any]], directory: Path
    ) -> None:
        self.source = source
        self.newer = newer
        self.directory = directory
        self.outcomes: list[SaveOutcome] = []
        self.warnings: list[str] = []
        self.writes: list[tuple[str, bytes]] = []
        #: (position in the text, sort key, line, row) of each new row.
        self.inserts: list[tuple[int, tuple[bool, float, str], bytes, dict[str, Any]]] = []
        self._ids: dict[str, str] = {}  # this save's rows: lower-case id → id
        self._identities: dict[tuple[Any, ...], str] = {}
        self._names: set[str] = set()  # lower-case file names
        self._lower: bytes | None = None

    def add(self, record: ExecutionRecord, replace: bool) -> None:
        identity = record.identity
        note = self.newer.get(identity)
        if note is not None:
            self.warnings.append(
                f"{note['filename']} holds this execution as a newer phaser-analytics wrote "
                "it; it is left as it is."
            )
            self.outcomes.append(
                SaveOutcome(SaveAction.ALREADY, str(note.get("execution_id") or ""))
            )
            return
        if record.started_at is None:
            raise _Unspliceable
        probe = _row(record, "")
        key = _row_sort_key(probe)
        position, same = self._place(key, identity)
        lower_id = record.execution_id.lower()
        existing = (
            self._identities.get(identity)
            or same
            or self._ids.get(lower_id)
            or self._row_with("execution_id", lower_id)
        )
        if existing is not None:
            if replace:
                raise _Unspliceable
            self.outcomes.append(SaveOutcome(SaveAction.ALREADY, existing))
            return
        name = next(
            (n for n in (record_filename(record), record_filename(record, long=True))
             if n.lower() not in self._names and not self._owned(n.lower())),
            None,
        )  # fmt: skip
        if name is None:
            raise _Unspliceable
        row = _row(record, name)
        self.inserts.append((position, key, _encode_row(row), row))
        self._ids[lower_id] = record.execution_id
        self._identities[identity] = record.execution_id
        self._names.add(name.lower())
        self.writes.append((name, _record_bytes(record)))
        where = str(self.directory / name)
        self.outcomes.append(SaveOutcome(SaveAction.IMPORTED, record.execution_id, where))

    def _place(
        self, key: tuple[bool, float, str], identity: tuple[Any, ...]
    ) -> tuple[int, str | None]:
        """Where a row of ``key`` goes (before the first row that sorts after it), and the
        id of the execution of ``identity`` there, if any (the rows that started at the same
        moment are next to that place; of several, the last, as :attr:`_State.by_identity`)."""
        source = self.source
        low, high = source.start, source.end
        while low < high:
            row, first, after = source.row_at((low + high) // 2)
            if _row_sort_key(row) > key:
                low = after
            else:
                high = first
        found: list[tuple[int, str]] = []
        moment = key[:2]
        position = low
        while position > source.start:  # backwards over the rows of the same moment
            row, first, _ = source.row_at(position - 1)
            if _row_sort_key(row)[:2] != moment:
                break
            if _identity(row) == identity:
                found.append((first, row["execution_id"]))
            position = first
        position = low
        while position < source.end:  # and forwards
            row, _, after = source.row_at(position)
            if _row_sort_key(row)[:2] != moment:
                break
            if _identity(row) == identity:
                found.append((position, row["execution_id"]))
            position = after
        return low, max(found)[1] if found else None

    def _lowered(self) -> bytes:
        if self._lower is None:
            self._lower = self.source.data.lower()
        return self._lower

    def _row_with(self, name: str, lower_value: str) -> str | None:
        """The id of the row whose ``name`` is ``lower_value`` whatever its case."""
        text, source = self._lowered(), self.source
        needle = b'"' + lower_value.encode("utf-8") + b'"'
        position = text.find(needle, source.start, source.end)
        while position >= 0:
            row, _, after = source.row_at(position)
            value = row.get(name)
            if isinstance(value, str) and value.lower() == lower_value:
                return str(row["execution_id"])
            position = text.find(needle, after, source.end)
        return None

    def _owned(self, lower_name: str) -> bool:
        """Whether a row or a newer version's record (listed in the first line) has the file
        name ``lower_name``."""
        needle = b'"' + lower_name.encode("utf-8") + b'"'
        if self._lowered().find(needle, 0, self.source.start) >= 0:
            return True
        return self._row_with("filename", lower_name) is not None

    def project_name(self) -> str | None:
        """The first project name of the rows, newest first, as :attr:`_State.project_name`."""
        source = self.source
        top = sorted((i for i in self.inserts if i[0] == source.start), key=lambda i: i[1],
                     reverse=True)  # fmt: skip
        for _, _, _, row in top:
            if row.get("project_name"):
                return str(row["project_name"])
        if source.start == source.end:  # no rows before these
            return None
        first, _, _ = source.row_at(source.start)
        if first.get("project_name"):
            return str(first["project_name"])
        raise _Unspliceable  # the name is further down: parse every row

    def body(self) -> bytes:
        """The rows, old and new, one per line, each but the last ending in a comma."""
        data, start, end = self.source.data, self.source.start, self.source.end
        ordered = sorted(self.inserts, key=lambda i: i[1], reverse=True)
        ordered.sort(key=lambda i: i[0])
        pieces: list[bytes] = []
        previous = start
        for position, _, line, _ in ordered:
            if position == end and previous < end:  # after the last old row: give it a comma
                pieces.append(data[previous : end - 1] + b",\n")
                previous = end
            elif position > previous:
                pieces.append(data[previous:position])
                previous = position
            pieces.append(line + b",\n")
        if previous < end:
            pieces.append(data[previous:end])
        else:
            pieces[-1] = pieces[-1][:-2] + b"\n"
        return b"".join(pieces)


def _free_name(record: ExecutionRecord, owners: dict[str, str]) -> str:
    """The record's short file name, unless another execution (or a newer version's file)
    owns it: then the whole id."""
    mine = record.execution_id.lower()
    for name in (record_filename(record), record_filename(record, long=True)):
        if owners.get(name.lower(), mine) == mine:
            return name
    raise StorageError(f"Cannot name the record file of execution {record.execution_id}.")


def _newer_note(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """What the index keeps of a newer version's record: enough never to overwrite it."""
    keys = ("project_path", "audit_document", "started_at", "base_commit")
    identity = [data.get(k) for k in keys]
    plain = all(v is None or isinstance(v, str) for v in identity)
    if plain and isinstance(data.get("started_at"), str):
        with contextlib.suppress(ValueError, TypeError):
            identity[2] = datetime_to_json(datetime_from_json(data["started_at"]))
    execution_id = data.get("execution_id")
    return {
        "filename": name,
        "execution_id": execution_id if is_valid_execution_id(execution_id) else None,
        "schema_version": str(data.get("schema_version")),
        "identity": identity if plain else None,
    }


def _entry_key(entry: Entry) -> tuple[bool, float, str]:
    """The order of :func:`.base.sort_newest_first` (reversed)."""
    started = entry.started_at
    return (started is not None, started.timestamp() if started else 0.0, entry.execution_id)


def _matching(entries: Iterable[Entry], query: AnalyticsQuery | None) -> Iterator[Entry]:
    """The entries (newest first) matching ``query``, up to its limit; the walk stops at the
    first that started before ``since`` (every later one did too)."""
    if query is None:
        yield from entries
        return
    if query.limit is not None and query.limit <= 0:
        return
    found = 0
    for entry in entries:
        if query.since is not None and (entry.started_at is None or entry.started_at < query.since):
            return
        if query.matches(entry):
            yield entry
            found += 1
            if query.limit is not None and found >= query.limit:
                return


def _silent(message: str) -> None:
    """A warn callback for callers that report findings themselves."""


def _names(items: Sequence[Any], shown: int = 5) -> str:
    names = [getattr(item, "name", str(item)) for item in items]
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


__all__ = [
    "INDEX_SCHEMA_VERSION",
    "JsonStore",
    "is_record_name",
    "parse_record",
    "record_filename",
]
