"""The JSON store of spec §4: one file per execution, and an ``index.json`` that is a cache.

Layout (docs/storage.md)::

    {project}/.phaser/analytics/
        index.json              spec §4.3: the executions as objects, and the stats
        executions/{timestamp}-{short_id}.json
        quarantine/             record files that could not be loaded, moved aside
        .lock                   the writers' lock file

The record files are the truth; the index is a cache, rebuilt from them with one warning
when it is missing, stale, corrupt or of another schema. Writers take ``.lock`` and write
every file to a temporary file renamed into place. docs/storage.md describes it all,
"Machinery kept" what serves a target beyond that, and "Threat model" why only a plain
record name inside ``executions/`` is ever opened, moved or deleted.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ExecutionNotFoundError, StorageError, StoreWriteError
from ..json_text import dumps_indented
from ..models import (
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
LOCK_NAME = ".lock"
#: Files of the store before 3.0, removed when the index is next written.
OLD_FILES = ("index.log", "index.stamp", ".journal")
#: ``{timestamp}-{short_id}.json`` (spec §4.2): the only names ever opened, moved or removed.
RECORD_NAME = re.compile(r"\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-[A-Za-z0-9_]{1,128}\.json")
#: The index's fields of an execution: the spec's first, then ours.
_SPEC_FIELDS = ("execution_id", "filename", "audit_document", "started_at", "status",
                "duration_seconds", "test_delta")  # fmt: skip
INDEX_FIELDS = (*_SPEC_FIELDS, *(name for name in ENTRY_FIELDS if name not in _SPEC_FIELDS))
#: The most new executions a save adds to the index's text (:meth:`JsonStore._splice`);
#: a larger batch parses every row once instead.
SPLICE_MAX = 16
#: What a walk of the rows reads of index.json at a time (``show`` reads two such pieces).
INDEX_CHUNK = 64 * 1024


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


def _record_bytes(record: ExecutionRecord) -> bytes:
    """A record file's content (spec §4.2: indented JSON)."""
    return (dumps_indented(record.to_dict()) + "\n").encode("utf-8")


# -- the index's rows ------------------------------------------------------------------------


def _row(record: ExecutionRecord, filename: str) -> dict[str, Any]:
    """The index's object for ``record`` (JSON values, :data:`INDEX_FIELDS` order)."""
    row = {name: filename if name == "filename" else getattr(record, name) for name in INDEX_FIELDS}
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


def _identity(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row.get("project_path"), row.get("audit_document"), row.get("started_at"),
            row.get("base_commit"))  # fmt: skip


def _sort_key(row: dict[str, Any]) -> tuple[bool, float, str]:
    """Newest first when reversed (:func:`.base.sort_newest_first`'s order)."""
    started = datetime_from_json(row.get("started_at"))
    return (started is not None, started.timestamp() if started else 0.0, row["execution_id"])


class _BadIndex(ValueError):
    """The index cannot be trusted; the message says why (for the warning)."""


_STATUSES = frozenset(status.value for status in ExecutionStatus)


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


def _parse_row(line: bytes) -> dict[str, Any]:
    try:
        return _check_row(json.loads(line.rstrip(b",")))
    except (ValueError, RecursionError) as exc:
        raise _BadIndex(str(exc) if isinstance(exc, _BadIndex) else "is corrupt") from None


def _check_header(header: Any) -> dict[str, Any]:
    if not isinstance(header, dict):
        raise _BadIndex("is corrupt")
    if header.get("schema_version") != INDEX_SCHEMA_VERSION:
        raise _BadIndex(f"has schema {header.get('schema_version')!r}")
    names, newer = header.get("names"), header.get("newer_records")
    if (
        type(header.get("execution_count")) is not int
        or not (isinstance(names, list) and len(names) == 2)
        or not all(type(n) is int for n in names)
        or not isinstance(newer, list)
        or not all(isinstance(n, dict) and is_record_name(str(n.get("filename"))) for n in newer)
    ):
        raise _BadIndex("is corrupt")
    return header


def _digest(names: Iterable[str]) -> list[int]:
    """How many names, and the sum of their CRC-32s: what the index's ``names`` holds, so a
    reader compares a listing of ``executions/`` with it without reading every row."""
    crcs = [zlib.crc32(name.encode("utf-8")) for name in names]
    return [len(crcs), sum(crcs)]


def _stats(
    rows: Iterable[dict[str, Any]], known: tuple[dict[str, Any], dict[str, Any]] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``stats`` (spec §10.6) and ``tally`` of ``rows``; with ``known`` (the stats and tally
    of the rows before them), those with ``rows`` added, as ``AggregatedStats.compute``
    gives them when it meets ``rows`` after the others."""
    tally = StatsTally() if known is None else StatsTally.resume(*known)
    for row in rows:
        tally.add(_entry(row))
    return tally.result().to_dict(), tally.carried()


#: What a stranger's index may raise when its stats and tally are added to.
_UNUSABLE = (ArithmeticError, LookupError, RecursionError, TypeError, ValueError)
#: index.json's first line ends so: the header, then one execution per line, then a last
#: line ``], "stats": {…}}``.
_ROWS_START = b', "executions": ['
_encode = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode


def _line(value: Any) -> bytes:
    return _encode(value).encode("utf-8")


def _lines(file: OpenFile, offset: int) -> Iterator[bytes]:
    """The lines of ``file`` from ``offset``, read a chunk at a time (without their ends)."""
    rest = b""
    while chunk := file.read(offset, INDEX_CHUNK):
        offset += len(chunk)
        *lines, rest = (rest + chunk).split(b"\n")
        yield from lines
    if rest:
        yield rest


@dataclass
class _State:
    """The index: its header, and its rows newest first, either parsed (``rows``) or still
    in the file (``file``, from byte ``start``), parsed one by one as a walk reaches them."""

    rows: list[dict[str, Any]] | None
    newer: list[dict[str, Any]]
    header: dict[str, Any] | None = None
    file: OpenFile | None = None
    start: int = 0
    #: (st_ino, st_mtime_ns, st_size) of index.json when read or written.
    signature: tuple[int, int, int] | None = None
    #: The stats and tally of ``rows``, once known.
    stats: tuple[dict[str, Any], dict[str, Any]] | None = None
    #: The last line of the file, once read (``], "stats": …``).
    closing: bytes = b""
    #: The stamp of ``executions/`` the index was written with.
    listed: list[int] | None = None

    @property
    def count(self) -> int:
        return len(self.rows) if self.rows is not None else int(self.header["execution_count"])  # type: ignore[index]

    @property
    def project_name(self) -> str | None:
        if self.rows is None:
            name = self.header.get("project_name")  # type: ignore[union-attr]
            return name if isinstance(name, str) else None
        return next((r["project_name"] for r in self.rows if r.get("project_name")), None)

    def names(self) -> list[str]:
        return [r["filename"] for r in self.all_rows()] + [n["filename"] for n in self.newer]

    def digest(self) -> list[int]:
        return list(self.header["names"]) if self.rows is None else _digest(self.names())  # type: ignore[index]

    def walk(self) -> Iterator[dict[str, Any]]:
        """Every row, newest first; :class:`_BadIndex` when a damaged one is reached."""
        if self.rows is not None:
            yield from self.rows
            return
        assert self.file is not None and self.header is not None
        count, last = 0, b""
        for last in _lines(self.file, self.start):
            if last.startswith(b"]"):
                break
            yield _parse_row(last)
            count += 1
        if count != self.header["execution_count"] or not last.startswith(b"]"):
            raise _BadIndex("is corrupt")
        self.closing = last

    def all_rows(self) -> list[dict[str, Any]]:
        if self.rows is None:
            self.rows = list(self.walk())
        return self.rows

    def stored_stats(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The stats and tally the index holds: ``LookupError``, ``TypeError`` or
        ``ValueError`` when there are none, and adding to them raises if they are not ours."""
        if self.stats is None:
            closing = json.loads(b"{" + self.closing[3:])  # ], "stats": {…}}
            self.stats = closing["stats"], self.header["tally"]  # type: ignore[index]
        return self.stats


def _read_state(path: Path) -> _State:
    """index.json as read, its header checked; :class:`_BadIndex`."""
    try:
        file = OpenFile(path)
    except FileNotFoundError:
        raise _BadIndex("is missing") from None
    except OSError as exc:
        raise _BadIndex(f"cannot be read ({exc.strerror})") from None
    try:
        first = next(_lines(file, 0), b"")
        if first.endswith(_ROWS_START):
            header = _check_header(json.loads(first[: -len(_ROWS_START)] + b"}"))
            return _State(None, header["newer_records"], header, file, len(first) + 1,
                          listed=header.get("listed"))  # fmt: skip
        # Not laid out as written (reformatted by hand or by jq, say): read it whole.
        document = _check_header(json.loads(file.read(0, file.size)))
        file.close()
        rows = document.get("executions")
        if not isinstance(rows, list) or len(rows) != document["execution_count"]:
            raise _BadIndex("is corrupt")
        return _State([_check_row(row) for row in rows], document["newer_records"],
                      document, listed=document.get("listed"))  # fmt: skip
    except OSError:
        raise _BadIndex("cannot be read") from None
    except (ValueError, RecursionError) as exc:
        raise _BadIndex(str(exc) if isinstance(exc, _BadIndex) else "is corrupt") from None


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


def _newer_identities(newer: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(n["identity"]): n for n in newer if isinstance(n.get("identity"), list)}


class _Scan:
    """The record files read one by one (a rebuild, ``doctor``)."""

    def __init__(self) -> None:
        self.records: dict[str, ExecutionRecord] = {}
        self.corrupt: dict[str, str] = {}
        self.newer: dict[str, dict[str, Any]] = {}
        self.duplicates: dict[str, str] = {}  # name → the kept name
        self.foreign: list[str] = []  # not ours: left alone

    def state(self) -> _State:
        rows = sorted((_row(r, n) for n, r in self.records.items()), key=_sort_key, reverse=True)
        newer = [_newer_note(name, data) for name, data in sorted(self.newer.items())]
        return _State(rows, newer)


SQLITE_HEADER = b"SQLite format 3\x00"


def _refuse_file(root: Path) -> None:
    """A JSON store is a directory: a path naming a file would read as an empty store (and
    ``store migrate --from history.db`` would copy nothing and call it verified). One line,
    naming ``sqlite:///…`` when the file is a SQLite database (its header is read only
    from a regular file, never through a link)."""
    try:
        st = os.stat(root)
    except OSError:
        return  # missing (created when first written) or unreadable: the store says so later
    if stat.S_ISDIR(st.st_mode):
        return
    header = b""
    with contextlib.suppress(OSError):
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(root, flags)
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                header = os.read(fd, len(SQLITE_HEADER))
        finally:
            os.close(fd)
    if header == SQLITE_HEADER:
        raise StorageError(
            f"The store {root} is a SQLite database, not a JSON store's directory: "
            f"name it sqlite:///{os.path.abspath(root).lstrip('/')}."
        )
    raise StorageError(
        f"The store {root} is a file, not a directory: a JSON store is a directory "
        "(a SQLite database is named sqlite:///path.db)."
    )


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
        #: (index signature, executions/ stamp) when ``_state`` was last found trusted.
        self._checked: tuple[Any, Any] | None = None
        self._locked = self._checked_dirs = False
        #: The index lines of the rows this process last wrote, and the sort keys of the rows
        #: it sorted, by id (while the row is the same object): a bulk import encodes and
        #: sorts each row once, not once per batch.
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
        _refuse_file(root)
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

    def _directory_stamp(self) -> list[int] | None:
        """``executions/``'s inode and modification time (ns): any name added, removed or
        renamed in it changes them."""
        try:
            st = os.stat(self.executions_dir)
        except OSError:
            return None
        return [st.st_ino, st.st_mtime_ns]

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.lstat(self.index_path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    # -- locking --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
        """The writers' lock (re-entrant). ``StoreWriteError`` when the store cannot be
        written, ``StorageError`` when another process holds it too long."""
        if self._locked:
            yield
            return
        self._check_dirs()
        try:
            self.executions_dir.mkdir(parents=True, exist_ok=True)
            lock = hold_lock(self.lock_path, timeout)
            lock.__enter__()
        except TimeoutError:
            raise StorageError(
                f"Another phaser analytics command is writing to {self.root}; waited "
                f"{timeout:g}s for it. Try again when it has finished."
            ) from None
        except OSError as exc:
            raise StoreWriteError(self.root) from exc
        self._locked = True
        try:
            yield
        finally:
            self._locked = False
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

    def _read_index(self, names: list[str] | None) -> _State:
        """The index, checked against the record files ``names`` (by their digest), or with
        ``names`` None against the stamp of ``executions/`` it was written with."""
        signature = self._signature()
        state = self._state
        if state is None or signature != state.signature:
            state = _read_state(self.index_path)
            state.signature = signature
        if names is None:
            in_step = state.listed is not None and state.listed == self._directory_stamp()
        else:
            in_step = state.digest() == _digest(names)
        if not in_step:
            raise _BadIndex("is out of step with the record files")
        if os.path.lexists(self.root / ".journal"):  # left by a write of a version before 3.0
            raise _BadIndex("may be out of step after an interrupted write")
        return state

    def _current(self) -> _State:
        """The trusted index: read, or rebuilt (and written, when the store is writable).
        A process trusts it again while neither it nor ``executions/`` changed."""
        self._check_dirs()
        seen = (self._signature(), self._directory_stamp())
        if not self._locked and self._state is not None and self._checked == seen:
            return self._state
        self._checked = None
        try:
            if seen[0] is not None and seen[1] is not None:
                with contextlib.suppress(_BadIndex):  # nothing changed in executions/
                    self._state = self._read_index(None)
                    self._checked = seen
                    return self._state
            names, _ = self._record_names()
            if not names and seen[0] is None and not self._locked:
                return _State([], [])
            self._state = self._read_index(names)
            self._checked = seen
            return self._state
        except _BadIndex as bad:
            return self._heal(str(bad))

    def _heal(self, reason: str) -> _State:
        """Rebuild the index from the record files, with one warning saying why; write it
        when the store is writable."""
        self._checked = self._state = None
        with self._lock_if_writable() as writable:
            names, _ = self._record_names()
            if writable:  # another writer may have healed it while we waited: every row
                with contextlib.suppress(_BadIndex):
                    state = self._read_index(names)
                    ids = {row["execution_id"].lower() for row in state.all_rows()}
                    if sorted(state.names()) == sorted(names) and len(ids) == state.count:
                        self._state = state
                        return state
            if names or reason != "is missing":
                where = "" if writable else " (in memory only: the store is read-only)"
                self.warn(f"analytics index {reason}; rebuilt it from the record files{where}.")
            scan = self._scan(quarantine=writable)
            state = scan.state()
            if writable:
                try:
                    self._write_index(state)
                except OSError as exc:
                    self.warn(f"the rebuilt index cannot be written ({exc.strerror or exc}).")
            self._state = state
            return state

    def _index_bytes(self, state: _State) -> bytes:
        """The spec's §4.3 document, one execution per line after a first line that holds
        everything else a reader needs. A process that writes several batches (a bulk
        import) encodes each row once: the lines it wrote are kept while their rows are."""
        rows = state.all_rows()
        if state.stats is None:
            state.stats = _stats(rows)
        cache, kept = self._lines, {}
        lines = []
        for row in rows:
            hit = cache.get(row["execution_id"])
            line = hit[1] if hit is not None and hit[0] is row else _line(row)
            kept[row["execution_id"]] = (row, line)
            lines.append(line)
        self._lines = kept
        header = self._header(state.project_name, len(rows), _digest(state.names()), state.newer,
                              state.stats[1], state.listed)  # fmt: skip
        rows_text = [b",\n".join(lines)] if lines else []
        return b"\n".join([header, *rows_text, self._closing(state.stats[0])])

    def _header(
        self, project_name: str | None, count: int, names: list[int],
        newer: list[dict[str, Any]], tally: dict[str, Any], listed: list[int] | None,
    ) -> bytes:  # fmt: skip
        head = {
            "schema_version": INDEX_SCHEMA_VERSION,
            "project_name": project_name or self.confine.resolve().name,
            "updated_at": datetime_to_json(utcnow()),
            "execution_count": count,
            "names": names,
            "newer_records": newer,
            "listed": listed,
            "tally": tally,
        }
        return _line(head)[:-1] + _ROWS_START

    @staticmethod
    def _closing(stats: dict[str, Any]) -> bytes:
        return b"], " + _line({"stats": stats})[1:] + b"\n"

    def _write_index(self, state: _State, data: bytes | None = None) -> None:
        """Write ``index.json`` for ``state`` (``data``, when the caller made it) under the
        lock, stamped with ``executions/`` as it is now, removing the files of the pre-3.0
        index. ``OSError`` if it cannot be written."""
        if data is None:
            state.listed = self._directory_stamp()
            data = self._index_bytes(state)
        atomic_write_bytes(self.index_path, data)
        state.signature = self._signature()
        for name in OLD_FILES:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.root / name)  # unlinking a link never touches its target

    def _finish(
        self, state: _State, outcomes: list[SaveOutcome], data: bytes | None = None
    ) -> None:
        """Write the index of ``state`` (``data`` when given) after the record files changed.
        If it cannot be written the record files stand: say so, and leave no stale index
        behind."""
        try:
            self._write_index(state, data)
        except OSError as exc:
            self._forget_index()
            state.signature = None  # what this process knows stands for the missing index
            self._state = state if state.rows is not None else None
            message = (
                f"the record files are stored, but the index {self.index_path} could not be "
                f"written ({exc.strerror or exc}); the next command rebuilds it from them."
            )
            self.warn(message)
            for outcome in outcomes:
                outcome.warning = message
            return
        # Written under the lock, so it matches the files: the next read in this process
        # need not list them again while neither changes.
        self._state = state if state.rows is not None else None
        self._checked = (state.signature, self._directory_stamp()) if self._state else None

    def _forget_index(self) -> None:
        """Remove an index that could not be rewritten, so the next command rebuilds it."""
        self._state = None
        with contextlib.suppress(OSError):
            os.unlink(self.index_path)

    # -- record files ---------------------------------------------------------------------

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
        say = self.warn if report else lambda message: None
        for name, data in scan.newer.items():
            say(
                f"record file {name} has schema_version {data.get('schema_version')!r}, "
                "written by a newer phaser-analytics; it is left in place and not shown."
            )
        for name, reason in scan.corrupt.items():
            say(f"record file {name} is unreadable ({reason}); "
                      f"{self._set_aside(name, quarantine)}.")  # fmt: skip
        for name, kept in scan.duplicates.items():
            say(f"record file {name} repeats the execution id of {kept}; "
                      f"{self._set_aside(name, quarantine)}.")  # fmt: skip
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
            target, counter = self.quarantine_dir / name, 1
            while os.path.lexists(target):
                target, counter = self.quarantine_dir / f"{name}.{counter}", counter + 1
            os.rename(source, target)
        except OSError as exc:
            return f"left in place (it cannot be moved: {exc.strerror})"
        return f"moved to {target}"

    def _load(self, entry: Entry) -> ExecutionRecord | None:
        name = entry.ref or ""
        if not is_record_name(name):
            return None
        try:
            return parse_record(read_bytes_nofollow(self.executions_dir / name))
        except FileNotFoundError:
            self._state = None
        except NewerRecord as exc:
            self.warn(
                f"record file {name} has been replaced by one of {exc}, written by a newer "
                "phaser-analytics; it is left in place and not shown."
            )
            self._state = None
        except (OSError, UnreadableRecord) as exc:
            self._drop_unreadable(name, getattr(exc, "strerror", None) or str(exc))
        return None

    def _drop_unreadable(self, name: str, reason: str) -> None:
        """A record file found unreadable while reading: set it aside, drop its row."""
        with self._lock_if_writable() as writable:
            where = self._set_aside(name, writable)
            self.warn(f"record file {name} is unreadable ({reason}); {where}.")
            state, self._state = self._state, None
            if writable and where.startswith("moved") and state is not None:
                try:
                    rows = [r for r in state.all_rows() if r["filename"] != name]
                    new = _State(rows, state.newer)
                    self._write_index(new)
                    self._state = new
                except (OSError, _BadIndex):
                    self._forget_index()

    # -- the interface --------------------------------------------------------------------

    def _entries(self) -> Iterator[Entry]:
        """Every entry, newest first. A row found damaged on the way rebuilds the index (one
        warning), and the walk goes on in the rebuilt index after the last entry given."""
        last: tuple[bool, float, str] | None = None
        try:
            for row in self._current().walk():
                yield _entry(row)
                last = _sort_key(row)
            return
        except _BadIndex as bad:
            state = self._heal(str(bad))
        for row in state.walk():
            if last is None or _sort_key(row) < last:
                yield _entry(row)

    def find(
        self, query: AnalyticsQuery | None = None, *, project: str | None = None
    ) -> Iterator[Entry]:
        """Entries newest first (the index's order), up to the query's limit; the walk stops
        at the first that started before ``since``. ``project`` is ignored: a JSON store
        holds one project's executions."""
        entries = self._entries()
        if query is None:
            yield from entries
            return
        if query.limit is not None and query.limit <= 0:
            return
        found = 0
        for entry in entries:
            if query.since is not None and (
                entry.started_at is None or entry.started_at < query.since
            ):
                return
            if query.matches(entry):
                yield entry
                found += 1
                if query.limit is not None and found >= query.limit:
                    return

    def read(self, entries: Iterable[Entry]) -> Iterator[ExecutionRecord]:
        for entry in entries:
            record = self._load(entry)
            if record is not None:
                yield record

    def get(self, execution_id: str) -> ExecutionRecord:
        record = self._load(resolve_id(execution_id, self._entries()))
        if record is None:
            raise ExecutionNotFoundError(execution_id)
        return record

    @property
    def location(self) -> str:
        """What ``info().location`` says: the store's directory."""
        return str(self.root)

    def info(self) -> StoreInfo:
        state = self._current()
        count = state.count
        name = state.project_name or self.confine.resolve().name
        return StoreInfo(
            backend=self.backend,
            location=self.location,
            count=count,
            projects=[ProjectCount(name, str(self.confine), count)] if count else [],
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
            if not replace and len(records) <= SPLICE_MAX and state.rows is None:
                spliced = self._splice(state, records)
                if spliced is not None:
                    return spliced
            return self._save_all(self._parsed(state), records, replace)

    def _parsed(self, state: _State) -> _State:
        """``state`` with every row parsed, or the index rebuilt if a row is damaged (a
        writer trusts the index by the stamp of ``executions/`` without reading its rows)."""
        try:
            state.all_rows()
        except _BadIndex as bad:
            return self._heal(str(bad))
        return state

    def _save_all(
        self, state: _State, records: list[ExecutionRecord], replace: bool
    ) -> list[SaveOutcome]:
        """Save ``records`` with every row of the index parsed."""
        old_rows = state.all_rows()
        rows = {row["execution_id"].lower(): row for row in old_rows}
        by_identity = {_identity(row): row for row in reversed(old_rows)}
        owners = {row["filename"].lower(): row["execution_id"].lower() for row in old_rows}
        for note in state.newer:
            owners[note["filename"].lower()] = ""  # a newer version's: never ours
        newer = _newer_identities(state.newer)
        outcomes: list[SaveOutcome] = []
        writes: dict[str, bytes] = {}  # file name → content (a repeat replaces)
        stale: list[str] = []
        for record in records:
            identity = record.identity
            if identity in newer:
                self.warn(f"{newer[identity]['filename']} holds this execution as a newer "
                          "phaser-analytics wrote it; it is left as it is.")  # fmt: skip
                outcomes.append(
                    SaveOutcome(SaveAction.ALREADY, str(newer[identity].get("execution_id") or ""))
                )
                continue
            existing = by_identity.get(identity) or rows.get(record.execution_id.lower())
            if existing is not None and (not replace or self._newer_on_disk(existing["filename"])):
                outcomes.append(SaveOutcome(SaveAction.ALREADY, existing["execution_id"]))
                continue
            if existing is not None:
                record.execution_id = existing["execution_id"]
                del rows[existing["execution_id"].lower()]
                owners.pop(existing["filename"].lower(), None)
                by_identity.pop(_identity(existing), None)
            name = next((n for n in (record_filename(record), record_filename(record, long=True))
                         if owners.get(n.lower(), record.execution_id.lower())
                         == record.execution_id.lower()), None)  # fmt: skip
            if name is None:
                raise StorageError(
                    f"Cannot name the record file of execution {record.execution_id}."
                )
            if existing is not None and existing["filename"] != name:
                writes.pop(existing["filename"], None)  # replaced before it is on disk
                stale.append(existing["filename"])
            row = _row(record, name)
            rows[record.execution_id.lower()] = by_identity[identity] = row
            owners[name.lower()] = record.execution_id.lower()
            writes[name] = _record_bytes(record)
            action = SaveAction.REPLACED if existing is not None else SaveAction.IMPORTED
            outcomes.append(
                SaveOutcome(action, record.execution_id, str(self.executions_dir / name))
            )
        if not writes:
            return outcomes
        self._commit(writes, [n for n in dict.fromkeys(stale) if n not in writes])
        new = _State(sorted(rows.values(), key=self._sort_key, reverse=True), state.newer)
        if all(o.action is not SaveAction.REPLACED for o in outcomes):
            # Only rows added: their figures are added to the stats, as a splice does.
            with contextlib.suppress(*_UNUSABLE):
                added = [rows[o.execution_id.lower()] for o in outcomes
                         if o.action is SaveAction.IMPORTED]  # fmt: skip
                new.stats = _stats(added, state.stored_stats())
        self._finish(new, outcomes)
        return outcomes

    def _sort_key(self, row: dict[str, Any]) -> tuple[bool, float, str]:
        hit = self._keys.get(row["execution_id"])
        if hit is None or hit[0] is not row:
            hit = self._keys[row["execution_id"]] = (row, _sort_key(row))
        return hit[1]

    def _splice(self, state: _State, records: list[ExecutionRecord]) -> list[SaveOutcome] | None:
        """Save a few new executions by adding their lines to the index's text, each where a
        binary search of the sorted rows puts it, and their figures to its stats, parsing
        only the rows the search reads (one import into 10,000 ≤ 3× the start-up floor,
        docs/performance.md). ``None`` (then every row is parsed) unless each record is
        plainly new: it has a start, and neither its id, its file name nor its start is
        anywhere in the index."""
        file = state.file
        assert file is not None
        try:  # the rows, one per line, each but the last ending in a comma; ], "stats"…
            body = file.read(state.start, file.size - state.start)
            *lines, state.closing, _ = body.split(b"\n")
            known = state.stored_stats()
        except (*_UNUSABLE, OSError):  # _BadIndex included
            return None
        lowered, newer = body.lower(), _newer_identities(state.newer)
        noted = _line(state.newer).lower()  # the newer version's records' names and ids
        seen: set[bytes] = set()
        added: list[tuple[dict[str, Any], bytes]] = []
        for record in records:
            if record.started_at is None or record.identity in newer:
                return None
            name = record_filename(record)
            row = _row(record, name)
            needles = [_line(record.execution_id.lower()), _line(name.lower()),
                       _line({"started_at": row["started_at"]})[1:-1]]  # fmt: skip
            if any(n in seen or n in lowered or n in noted for n in needles[:2]):
                return None
            if needles[2] in body or needles[2] in seen:  # the same start: compare identities
                return None
            seen.update(needles)
            added.append((row, _record_bytes(record)))
        del lowered, body
        try:
            for row, _ in added:
                key, low, high = _sort_key(row), 0, len(lines)
                while low < high:
                    middle = (low + high) // 2
                    if _sort_key(_parse_row(lines[middle])) > key:
                        low = middle + 1
                    else:
                        high = middle
                if low < len(lines):
                    lines.insert(low, _line(row) + b",")
                else:
                    lines[-1:] = [lines[-1] + b",", _line(row)] if lines else [_line(row)]
            stats, tally = _stats([row for row, _ in added], known)
            project_name = next((r["project_name"] for r in map(_parse_row, lines)
                                 if r.get("project_name")), None)  # fmt: skip
        except _UNUSABLE:
            return None
        self._commit({row["filename"]: data for row, data in added}, [])
        outcomes = [SaveOutcome(SaveAction.IMPORTED, row["execution_id"], str(self.executions_dir
                                / row["filename"])) for row, _ in added]  # fmt: skip
        count, total = state.digest()
        names = [count + len(added), total + _digest(r["filename"] for r, _ in added)[1]]
        listed = self._directory_stamp()
        header = self._header(project_name, state.count + len(added), names, state.newer, tally,
                              listed)  # fmt: skip
        data = header + b"\n" + b"\n".join(lines) + b"\n" + self._closing(stats)
        self._finish(_State(None, state.newer), outcomes, data)
        return outcomes

    def _newer_on_disk(self, name: str) -> bool:
        """Whether the record file ``name`` is now of a newer schema (rewritten by a newer
        version since the index was written): it is then never replaced, and said so."""
        try:
            parse_record(read_bytes_nofollow(self.executions_dir / name))
        except NewerRecord as exc:
            self.warn(f"record file {name} has {exc}, written by a newer phaser-analytics; "
                      "it is left as it is.")  # fmt: skip
            return True
        except (OSError, UnreadableRecord):
            pass
        return False

    def _commit(self, writes: dict[str, bytes], removals: list[str]) -> None:
        """Stage every record file, make them durable, rename them into place, remove the
        replaced ones. A failure before the last rename puts everything back."""
        staged: list[tuple[Path, Path]] = []
        try:
            for name, data in writes.items():
                target = self.executions_dir / name
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
        aside = self.root / f".{INDEX_NAME}.{os.getpid()}.aside{TEMP_SUFFIX}"
        if any(t.exists() for _, t in staged):
            try:
                os.rename(self.index_path, aside)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise StoreWriteError(self.root) from exc
        done: list[tuple[Path, bytes | None]] = []
        try:
            for tmp, target in staged:
                previous = read_bytes_nofollow(target) if os.path.lexists(target) else None
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
            with contextlib.suppress(OSError):
                os.rename(aside, self.index_path)
            raise StoreWriteError(self.root) from exc
        with contextlib.suppress(OSError):
            os.unlink(aside)
        for name in removals:
            if is_record_name(name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.executions_dir / name)
        fsync_dir(self.executions_dir)

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
            rows = state.all_rows()
            entries = [_entry(row) for row in rows]
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
            state = _State([r for r in rows if r["execution_id"] not in targets], state.newer)
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
        return list(targets.values())

    # -- doctor ---------------------------------------------------------------------------

    def check(self, *, repair: bool = False) -> list[Finding]:
        if not self.root.is_dir():
            return [Finding("store", f"no analytics store at {self.root}", "note")]
        self._check_dirs()
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(self._lock(self.check_lock_timeout))
                lock = Finding("lock", "the lock is free", "ok")
            except StoreWriteError:
                lock = Finding("lock", f"cannot take the lock: {self.root} is read-only")
            except StorageError:
                lock = Finding("lock", f"another process has held the lock for over "
                               f"{self.check_lock_timeout:g}s (if no phaser command is "
                               "running, it is stuck)")  # fmt: skip
            locked = lock.level == "ok"
            done = self._repair() if repair and locked else []
            return [lock, *done, *self._findings(locked)]

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
        try:
            current: list[Any] | None = self._indexed()
        except (_BadIndex, OSError):
            current = None
        scan = self._scan(quarantine=True, report=False)
        for name in [*scan.corrupt, *scan.duplicates]:
            if not (self.executions_dir / name).exists():
                done.append(Finding("repair", f"moved {name} to quarantine/", "ok"))
        state = scan.state()
        old = [n for n in OLD_FILES if os.path.lexists(self.root / n)]
        if current != [state.rows, state.newer] or old:
            try:
                self._write_index(state)
                self._state = state
                done.append(
                    Finding("repair", f"rebuilt the index ({state.count} executions)", "ok")
                )
            except OSError as exc:
                done.append(Finding("repair", f"cannot write the index ({exc.strerror})"))
        return done

    def _indexed(self) -> list[Any]:
        """[rows, newer records] of index.json, its digest checked; :class:`_BadIndex`."""
        state = _read_state(self.index_path)
        rows = state.all_rows()
        if state.header["names"] != _digest(state.names()):  # type: ignore[index]
            raise _BadIndex("is corrupt")
        return [rows, state.newer]

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
            findings.append(Finding("record", f"{len(scan.foreign)} entries in executions/ are "
                                    "not record files this store wrote; left alone: "
                                    f"{_names(sorted(scan.foreign))}", "note"))  # fmt: skip
        old = [n for n in OLD_FILES if os.path.lexists(self.root / n)]
        if old:
            findings.append(Finding("index", "files of an older index or an interrupted write "
                                    f"remain: {', '.join(old)}"))  # fmt: skip
        temps = self._temp_files()
        if temps:
            message = f"{len(temps)} leftover temporary file(s): {_names(temps)}"
            findings.append(Finding("temp", message, "problem" if locked else "note"))
        with contextlib.suppress(OSError):
            quarantined = [p for p in self.quarantine_dir.iterdir() if p.is_file()]
            if quarantined:
                findings.append(Finding(
                    "quarantine", f"{len(quarantined)} file(s) in {self.quarantine_dir}: inspect "
                    "them, then delete them, or fix them and move them back into executions/",
                    "note"))  # fmt: skip
        return findings

    def _index_findings(self, scan: _Scan) -> list[Finding]:
        """The index against what the record files hold (``scan``)."""
        try:
            rows = self._indexed()[0]
        except _BadIndex as bad:
            if str(bad) != "is missing":
                return [Finding("index", f"the index {bad}")]
            if not scan.records and not scan.corrupt and not scan.newer:
                return [Finding("index", "no executions yet", "ok")]
            return [Finding("index", "the index is missing")]
        indexed = {row["filename"]: row for row in rows}
        wanted = {row["filename"]: row for row in scan.state().rows or ()}
        findings = []
        for names, what in (
            (sorted(set(wanted) - set(indexed)), "record file(s) not in the index"),
            (sorted(set(indexed) - set(wanted)), "index entries without a record file"),
            (sorted(n for n in set(wanted) & set(indexed) if wanted[n] != indexed[n]),
             "index entries disagree with their record file"),
        ):  # fmt: skip
            if names:
                findings.append(Finding("index", f"{len(names)} {what}: {_names(names)}"))
        if not findings:
            message = f"the index agrees with the {len(indexed)} record file(s)"
            findings.append(Finding("index", message, "ok"))
        return findings

    def close(self) -> None:
        self._state = None


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
