"""The SQLite store (stdlib ``sqlite3``): one database file, many projects.

Each execution is one row: the full record as JSON, plus indexed columns for what queries
filter and sort on (the :class:`.base.Entry` fields). The execution's identity is UNIQUE, and
so is its id (case-insensitively). WAL mode lets readers read while a writer writes; a busy
timeout replaces a hand-made lock. The schema (its migrations, and the rows and
pre-aggregates derived from each record) is :mod:`.sqlite_schema`'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..aggregates import (
    HOUR_OF_DAY_SQL,
    LOCAL_DAY_SQL,
    WEEKDAY_SQL,
    NotAggregated,
    StatsPart,
    count_reasons,
    local_seconds_sql,
    parts_by_period,
    usage_of_parts,
    whole_hour_offsets,
)
from ..anomalies import Judged
from ..errors import ExecutionNotFoundError, StorageError
from ..models import (
    ExecutionRecord,
    ExecutionStatus,
    PhaseSummary,
    ReasonCount,
    Usage,
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
    loaded_in_order,
    pick_match,
    redact,
    stderr_warning,
)
from .sqlite_schema import (
    CHILD_SHARED,
    HOUR_COLUMNS,
    INEXACT,
    INSERT_PHASE,
    INSERT_REASON,
    JUDGED_COLUMNS,
    MIGRATIONS,
    NEWEST_REASON,
    PROJECT_TOTALS,
    REASON_COLUMNS,
    Counting,
    child_rows,
    fill_pre_aggregates,
    fill_projects,
    fill_reason_counts,
    floor_sql,
    migrated,
    reason_totals,
    transaction,
    utc_hour,
    write_children,
)

if TYPE_CHECKING:
    from datetime import date, tzinfo

    from ..models import AggregatedStats, AnalyticsQuery

BUSY_TIMEOUT_SECONDS = 30.0
#: The page cache of a connection (KiB), the WAL's size (pages) that starts a checkpoint,
#: and the size (bytes) a checkpoint leaves the WAL file at, at most.
CACHE_KIB = 64 * 1024
CHECKPOINT_PAGES = 50_000
JOURNAL_LIMIT_BYTES = 64 * 1024 * 1024
#: The settings of a connection, in one call. WAL mode: readers read while one writer
#: writes. In WAL mode a commit is in the WAL file before COMMIT returns: it survives a
#: crash of the process (not of the machine: that needs FULL, an fsync per commit);
#: checkpoints sync the database file. A batch of 500 executions touches thousands of
#: pages of the indexes: a cache of 64 MiB (not 2) keeps the upper levels and the
#: pre-aggregates in memory, and checkpoints every 50,000 pages (not SQLite's 1,000, nor
#: 10,000: at 100,000 executions a batch writes ~10,300 to the WAL, so 10,000 checkpointed
#: at every batch) copy a page changed by several batches once (bulk import linearity,
#: docs/performance.md). The WAL file can so grow to ~200 MiB: a checkpoint that restarts
#: it cuts it to 64 MiB (journal_size_limit), and a connection that wrote truncates it
#: when it closes (:meth:`SqliteStore.close`), so no other open connection keeps it at its
#: largest beside the database for the next opener to read. A database
#: can come from a stranger (a project's config may name one inside the project): its
#: views and triggers call no function with side effects (trusted_schema).
_OPENING = (
    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
    f"PRAGMA cache_size = {-CACHE_KIB}; PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}; "
    f"PRAGMA journal_size_limit = {JOURNAL_LIMIT_BYTES}; PRAGMA trusted_schema = OFF;"
)
#: Rows fetched at a time by :meth:`SqliteStore.find` and read by :meth:`SqliteStore.read`.
_CHUNK = 500

# -- rows -------------------------------------------------------------------------------------

_COLUMNS = ", ".join(ENTRY_FIELDS)
_SELECT = f"SELECT {_COLUMNS} FROM executions"
_SELECT_JUDGED = f"SELECT {', '.join(JUDGED_COLUMNS)} FROM executions"


def _newest_first(
    select: str, query: AnalyticsQuery | None, project: str | None
) -> tuple[str, list[Any]]:
    """``select`` of the executions ``query`` and ``project`` choose, newest first (ties
    by id), to the query's limit: what :meth:`SqliteStore.find` and
    :meth:`SqliteStore.history` read. ``""`` when the limit asks for none."""
    limit = query.limit if query is not None else None
    if limit is not None and limit <= 0:
        return "", []
    where, params = _where(query, project)
    sql = f"{select}{where} ORDER BY started_ts DESC, execution_id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql, params


_STATUS_VALUES = frozenset(status.value for status in ExecutionStatus)


class DamagedRow(StorageError):
    """A row whose indexed columns are not of an entry's types (a database from elsewhere)."""

    def __init__(self, execution_id: Any) -> None:
        super().__init__(
            f"The SQLite store holds a damaged row (execution {execution_id!r}): "
            "'phaser analytics doctor --repair' moves it to the quarantine table."
        )


def _entry(row: Sequence[Any]) -> Entry:
    values = dict(zip(ENTRY_FIELDS, row, strict=True))
    if (
        not is_valid_execution_id(values["execution_id"])
        or values["status"] not in _STATUS_VALUES
        or not entry_values_fit(values)
    ):
        raise DamagedRow(values["execution_id"])
    values["started_at"] = datetime_from_json(values["started_at"])
    values["completed_at"] = datetime_from_json(values["completed_at"])
    values["status"] = ExecutionStatus(values["status"])
    return Entry(**values)


def _judged(row: Sequence[Any]) -> Judged:
    """A row of :data:`JUDGED_COLUMNS` as the rule reads it; a damaged one is refused as
    :func:`_entry` refuses it (the same checks of the same columns)."""
    values = dict(zip(JUDGED_COLUMNS, row, strict=True))
    if not is_valid_execution_id(values["execution_id"]) or not entry_values_fit(values):
        raise DamagedRow(values["execution_id"])
    values["started_at"] = datetime_from_json(values["started_at"])
    return Judged(**values)


def _columns(record: ExecutionRecord) -> dict[str, Any]:
    values = {name: getattr(record, name) for name in ENTRY_FIELDS}
    values["started_at"] = datetime_to_json(record.started_at)
    values["completed_at"] = datetime_to_json(record.completed_at)
    values["status"] = ExecutionStatus(record.status).value
    values["started_ts"] = record.started_at.timestamp() if record.started_at else None
    values["identity"] = json.dumps(record.identity)
    values["record"] = json.dumps(record.to_dict(), ensure_ascii=False)
    return values


_INSERT_NAMES = (*ENTRY_FIELDS, "started_ts", "identity", "record")
_INSERT = (
    f"INSERT INTO executions ({', '.join(_INSERT_NAMES)}) "
    f"VALUES ({', '.join(':' + n for n in _INSERT_NAMES)})"
)
_UPDATE = (
    f"UPDATE executions SET {', '.join(f'{n} = :{n}' for n in _INSERT_NAMES)} "
    "WHERE lower(execution_id) = lower(:execution_id)"
)


#: The stored rows of ``phases`` and ``failure_reasons`` of some executions (``{}``: their
#: keys' marks), in :func:`.sqlite_schema.child_rows`'s columns and order.
_STORED_PHASES = (
    f"SELECT {', '.join(CHILD_SHARED)}, phase_number, title, phase_status, error_message "
    "FROM phases WHERE execution_key IN ({}) ORDER BY execution_key, position"
)
_STORED_REASONS = (
    f"SELECT {', '.join(CHILD_SHARED)}, reason, reason_key FROM failure_reasons "
    "WHERE execution_key IN ({}) ORDER BY execution_key, position"
)
#: What an execution's child rows repeat of its row (``doctor`` makes them from the row).
_CHILD_FROM_ROW = ("execution_id", "project_path", "started_at", "status", "audit_document")


def _where(query: AnalyticsQuery | None, project: str | None) -> tuple[str, list[Any]]:
    """`` WHERE …`` (or nothing) and its parameters for ``query``'s filters (not its limit)
    and ``project``; the child tables (``phases``, ``failure_reasons``) have the columns
    it names too."""
    where: list[str] = []
    params: list[Any] = []
    if project is not None:
        where.append("project_path = ?")
        params.append(project)
    if query is not None:
        if query.since is not None:
            where.append("started_ts >= ?")
            params.append(query.since.timestamp())
        if query.until is not None:
            where.append("started_ts <= ?")
            params.append(query.until.timestamp())
        if query.status is not None:
            where.append("status = ?")
            params.append(ExecutionStatus(query.status).value)
        if query.document is not None:
            where.append("instr(coalesce(audit_document, ''), ?) > 0")
            params.append(query.document)
    return (" WHERE " + " AND ".join(where) if where else ""), params


#: The partial statistics of a group of rows, in :class:`~..aggregates.StatsPart`'s order.
_PARTS = """
    count(*),
    count(*) FILTER (WHERE status = 'success'),
    count(*) FILTER (WHERE status = 'partial'),
    count(*) FILTER (WHERE status = 'failed'),
    count(duration_seconds), sum(duration_seconds), min(duration_seconds),
    max(duration_seconds),
    count(test_delta), sum(test_delta),
    sum(phases_planned), sum(min(coalesce(phases_completed, 0), phases_planned)),
    min(started_ts), max(started_ts),
    count(total_tokens), sum(total_tokens),
    count(cost_usd), sum(cost_usd)
"""


#: :data:`_PARTS` of rows of ``execution_hours``.
_HOUR_PARTS = """
    coalesce(sum(total), 0), coalesce(sum(successful), 0), coalesce(sum(partial), 0),
    coalesce(sum(failed), 0),
    coalesce(sum(durations), 0), sum(duration_sum), min(duration_min), max(duration_max),
    coalesce(sum(deltas), 0), sum(delta_sum),
    sum(planned), sum(completed),
    min(first_ts), max(last_ts),
    coalesce(sum(tokens), 0), sum(token_sum),
    coalesce(sum(costs), 0), sum(cost_sum)
"""


def _pre_aggregated(query: AnalyticsQuery | None) -> bool:
    """Whether ``execution_hours`` holds the answer for ``query``: it filters by project
    (the caller's) at most. A time range, a status, a document or a limit selects rows,
    which the row queries read (from an index, as many as selected)."""
    return query is None or (
        query.limit is None and query.since is None and query.until is None
        and query.document is None and query.status is None
    )  # fmt: skip


def _phases_pre_aggregated(query: AnalyticsQuery | None) -> bool:
    """Whether ``phase_counts`` holds the answer for ``query``: project and status."""
    return query is None or _pre_aggregated(dataclasses.replace(query, status=None))


def _local_hour_sql(zone: tzinfo | None, low: float | None, high: float) -> str | None:
    """SQL for the local hour in ``zone`` of a row of ``execution_hours`` (its ``utc_hour``
    plus the zone's offset then, in whole hours), or ``None`` when a UTC hour can span two
    local hours: an offset or a change of it between ``low`` and ``high`` (the starts in
    the database) that is not a whole hour (+05:30, +05:45; those read the rows)."""
    if low is None:
        return "NULL"
    whole = whole_hour_offsets(zone, low, high)
    if whole is None:
        return None
    first, changes = whole
    offsets = [first, *(offset for _, offset in changes)]
    if not changes:
        return f"(utc_hour + {first})"
    cases = " ".join(f"WHEN utc_hour < {hour} THEN {offsets[i]}"
                     for i, (hour, _) in enumerate(changes))  # fmt: skip
    return f"(utc_hour + CASE {cases} ELSE {offsets[-1]} END)"


#: The columns the aggregates read (an index covers all but the last two).
_AGGREGATED = (
    "project_path, started_ts, status, duration_seconds, test_delta, phases_planned, "
    "phases_completed, total_tokens, cost_usd, execution_id, started_at"
)


def _memo_key(name: str, query: AnalyticsQuery | None, project: str | None) -> tuple:
    return (name, tuple(query.to_dict().items()) if query is not None else None, project)


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def path_of(url: str) -> Path:
    """``sqlite:///abs/path.db`` → ``/abs/path.db``; ``sqlite:relative.db`` → relative."""
    body = url[len("sqlite:") :]
    if body.startswith("//"):  # sqlite://host/… names no file; sqlite:////abs is /abs
        if not body[2:].startswith("/"):
            raise StorageError(
                f"Bad SQLite store URL {redact(url)}: use sqlite:///absolute/path.db or "
                "sqlite:relative/path.db."
            )
        body = "/" + body[2:].lstrip("/")
    if not body or body == "/":
        raise StorageError(f"Bad SQLite store URL {redact(url)}: it names no file.")
    return Path(body).expanduser()


class SqliteStore:
    """A store in one SQLite database (implements :class:`.base.Store`)."""

    backend = "sqlite"
    multi_project = True

    def __init__(self, path: Path, *, url: str | None = None, warn: Warn = stderr_warning):
        self.path = Path(path)
        self.url = redact(url or f"sqlite:///{self.path}")
        self.warn = warn
        self._db: sqlite3.Connection | None = None
        #: What a read computed that another read of this command may reuse (the store
        #: info, a selection's sums); emptied by every write.
        self._memo: dict[Any, Any] = {}
        #: Migrations of a newer phaser-analytics in the database: it is read, never written
        #: (the newer version's tables, such as pre-aggregates, would miss the writes).
        self._newer: list[str] = []

    @classmethod
    def from_url(
        cls, url: str, *, project_dir: Path | None = None, warn: Warn = stderr_warning
    ) -> SqliteStore:
        return cls(path_of(url), url=url, warn=warn)

    # -- the connection -----------------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                # (connect's timeout is SQLite's busy timeout: a writer waits for another.)
                db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
                db.executescript(_OPENING)
                self._newer = migrated(db)
            except sqlite3.Error as exc:
                raise self._error(exc, "open") from exc
            self._db = db
        return self._db

    def _fresh_memo(self) -> dict[Any, Any]:
        """The memo, emptied first if another connection has written since it was kept
        (SQLite's ``data_version``)."""
        with self._errors("read"):
            version = self.db.execute("PRAGMA data_version").fetchone()[0]
        if self._memo.get("data_version") != version:
            self._memo.clear()
            self._memo["data_version"] = version
        return self._memo

    @contextlib.contextmanager
    def _write(self) -> Iterator[None]:
        """A write transaction; what reads kept in the memo is forgotten. A database of a
        newer phaser-analytics is refused (it is read as it is)."""
        db = self.db
        if self._newer:
            raise StorageError(
                f"The SQLite store {self.path} was written by a newer phaser-analytics "
                f"(migrations {', '.join(self._newer)}); upgrade phaser-analytics to write "
                "to it."
            )
        self._memo.clear()
        with transaction(db):
            yield

    def _error(self, exc: sqlite3.Error, doing: str) -> StorageError:
        return StorageError(f"Cannot {doing} the SQLite store {self.path}: {exc}.")

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self._error(exc, doing) from exc

    # -- the interface ------------------------------------------------------------------

    def find(
        self, query: AnalyticsQuery | None = None, *, project: str | None = None
    ) -> Iterator[Entry]:
        sql, params = _newest_first(_SELECT, query, project)
        return self._rows(sql, params) if sql else iter(())

    def history(
        self, query: AnalyticsQuery | None = None, *, project: str | None = None
    ) -> list[Judged]:
        """The executions :meth:`find` gives, with only what the anomaly rule judges (its
        history window, for ``show``): read from the index of a project's executions
        alone, not from rows that carry whole records."""
        sql, params = _newest_first(_SELECT_JUDGED, query, project)
        if not sql:
            return []
        with self._errors("read"):
            rows = self.db.execute(sql, params).fetchall()
        return [_judged(row) for row in rows]

    def _rows(self, sql: str, params: Sequence[Any]) -> Iterator[Entry]:
        with self._errors("read"):
            cursor = self.db.execute(sql, params)
            rows = cursor.fetchmany(_CHUNK)
        while rows:
            for row in rows:
                yield _entry(row)
            with self._errors("read"):
                rows = cursor.fetchmany(_CHUNK)

    def read(self, entries: Iterable[Entry]) -> Iterator[ExecutionRecord]:
        chunk: list[Entry] = []
        for entry in entries:
            chunk.append(entry)
            if len(chunk) >= _CHUNK:
                yield from self._read_chunk(chunk)
                chunk = []
        yield from self._read_chunk(chunk)

    def _read_chunk(self, entries: list[Entry]) -> Iterator[ExecutionRecord]:
        if not entries:
            return
        keys = [e.execution_id.lower() for e in entries]
        yield from loaded_in_order(keys, self._texts(keys), self._load)

    def record_texts(self, entries: Sequence[Entry]) -> dict[str, str]:
        """The JSON text of each entry's record as stored, not loaded, by lower-cased id (an
        entry whose row is gone is left out): what ``store migrate`` copies into a store
        that takes it as it is (PostgreSQL's ``save_stored``)."""
        found: dict[str, str] = {}
        for chunk in _chunks(entries):
            found.update(self._texts([e.execution_id.lower() for e in chunk]))
        return found

    def _texts(self, keys: Sequence[str]) -> dict[str, str]:
        """The stored JSON text of the records of ``keys`` (lower-cased ids; at most
        :data:`_CHUNK`) that have a row."""
        marks = ", ".join("?" * len(keys))
        with self._errors("read"):
            return dict(
                self.db.execute(
                    "SELECT lower(execution_id), record FROM executions "
                    f"WHERE lower(execution_id) IN ({marks})",
                    keys,
                ).fetchall()
            )

    def _load(self, key: str, text: str) -> ExecutionRecord | None:
        """The record of a row; a row that does not load is quarantined, with one warning."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return ExecutionRecord.from_dict(data)
        except Exception as exc:  # whatever validation raises: the record is not loadable
            reason = f"{type(exc).__name__}: {exc}"
            self._quarantine(key, text, reason)
            self.warn(
                f"execution {key} in {self.path} cannot be loaded ({reason}); moved to the "
                "quarantine table."
            )
            return None

    def _quarantine(self, key: str, text: str, reason: str) -> None:
        with contextlib.suppress(sqlite3.Error), self._write():
            self.db.execute(
                "INSERT INTO quarantine (execution_id, record, reason, moved_at) "
                "VALUES (?, ?, ?, ?)",
                (key, text, reason, datetime_to_json(utcnow())),
            )
            self.db.execute("DELETE FROM executions WHERE lower(execution_id) = ?", (key,))

    def _resolve(self, execution_id: str) -> Entry:
        if not is_valid_execution_id(execution_id):
            raise ExecutionNotFoundError(execution_id)
        wanted = execution_id.lower()
        with self._errors("read"):
            exact = self.db.execute(
                _SELECT + " WHERE lower(execution_id) = ?", (wanted,)
            ).fetchone()
            if exact is not None:
                return _entry(exact)
            escaped = wanted.replace("_", "\\_")
            compact = escaped.replace("-", "")
            rows = self.db.execute(
                _SELECT + " WHERE lower(execution_id) LIKE ? ESCAPE '\\' "
                "OR replace(lower(execution_id), '-', '') LIKE ? ESCAPE '\\' LIMIT 11",
                (escaped + "%", compact + "%"),
            ).fetchall()
        return pick_match(execution_id, [_entry(row) for row in rows])

    def get(self, execution_id: str) -> ExecutionRecord:
        entry = self._resolve(execution_id)
        for record in self.read([entry]):
            return record
        raise ExecutionNotFoundError(execution_id)

    @property
    def location(self) -> str:
        """What ``info().location`` says: the URL, password removed."""
        return self.url

    def info(self) -> StoreInfo:
        if "info" in self._fresh_memo():  # a command asks more than once
            return self._memo["info"]
        with self._errors("read"):
            # The count of each project from `projects` (a row per project, not one per
            # execution: show's store-side cost), its name by one index look-up.
            counts = self.db.execute(
                "SELECT project_path, executions FROM projects ORDER BY project_path"
            ).fetchall()
            projects = [
                ProjectCount(self._project_name(path), path, count) for path, count in counts
            ]
            names = [r[0] for r in self.db.execute("SELECT name FROM _migrations")]
        known = [m.__name__ for m in MIGRATIONS]
        version = next((n for n in reversed(known) if n in names), "")
        info = self._memo["info"] = StoreInfo(
            backend=self.backend,
            location=self.location,
            count=sum(p.count for p in projects),
            projects=projects,
            schema_version=version,
            multi_project=True,
        )
        return info

    def _project_name(self, path: str | None) -> str | None:
        """The project name stored with ``path`` (the greatest, if its executions differ)."""
        return self.db.execute(
            "SELECT max(project_name) FROM executions WHERE project_path IS ?", (path,)
        ).fetchone()[0]

    def save(
        self, records: Sequence[ExecutionRecord], *, replace: bool = False
    ) -> list[SaveOutcome]:
        records = list(records)
        check_ids(records)
        if not records:
            return []
        with self._errors("write to"), self._write():
            counting = Counting(self.db)
            if replace:
                outcomes = self._save_each(records, counting)
            else:
                outcomes = self._save_new(records)
            counting.flush()
        return outcomes

    def _save_new(self, records: list[ExecutionRecord]) -> list[SaveOutcome]:
        """Insert the records not stored yet (by identity, else by id), in a few statements
        for the whole batch; the others are ``already`` there."""
        values = [_columns(record) for record in records]
        by_identity = self._found("identity", [v["identity"] for v in values])
        by_id = self._found("lower(execution_id)", [r.execution_id.lower() for r in records])
        outcomes, rows, phases, reasons = [], [], [], []
        for record, row in zip(records, values, strict=True):
            key = record.execution_id.lower()
            existing = by_identity.get(row["identity"]) or by_id.get(key)
            if existing is not None:
                outcomes.append(SaveOutcome(SaveAction.ALREADY, existing, self.url))
                continue
            by_identity[row["identity"]] = by_id[key] = record.execution_id
            rows.append(row)
            child_rows(record, phases, reasons)
            outcomes.append(SaveOutcome(SaveAction.IMPORTED, record.execution_id, self.url))
        self.db.executemany(_INSERT, rows)
        self.db.executemany(INSERT_PHASE, phases)
        self.db.executemany(INSERT_REASON, reasons)
        return outcomes

    def _found(self, column: str, wanted: list[str]) -> dict[str, str]:
        """The execution id of each stored row whose ``column`` is one of ``wanted``."""
        found: dict[str, str] = {}
        for chunk in _chunks(sorted(set(wanted))):
            marks = ", ".join("?" * len(chunk))
            found.update(
                self.db.execute(
                    f"SELECT {column}, execution_id FROM executions WHERE {column} IN ({marks})",
                    chunk,
                ).fetchall()
            )
        return found

    def _save_each(self, records: list[ExecutionRecord], counting: Counting) -> list[SaveOutcome]:
        """``save(replace=True)``: one record after the other, each replacing the stored
        execution of its identity (else its id)."""
        outcomes = []
        for record in records:
            counting.flush()  # the triggers of a replacement recount from counted rows
            values = _columns(record)
            existing = (
                self.db.execute(
                    "SELECT execution_id FROM executions WHERE identity = ?",
                    (values["identity"],),
                ).fetchone()
                or self.db.execute(
                    "SELECT execution_id FROM executions WHERE lower(execution_id) = ?",
                    (record.execution_id.lower(),),
                ).fetchone()
            )
            if existing is None:
                self.db.execute(_INSERT, values)
                write_children(self.db, record)
                outcomes.append(SaveOutcome(SaveAction.IMPORTED, record.execution_id, self.url))
                continue
            record.execution_id = existing[0]
            values = _columns(record)
            self.db.execute(
                "DELETE FROM executions WHERE identity = ? AND lower(execution_id) != ?",
                (values["identity"], record.execution_id.lower()),
            )
            self.db.execute(_UPDATE, values)
            write_children(self.db, record, counting)
            outcomes.append(SaveOutcome(SaveAction.REPLACED, record.execution_id, self.url))
        return outcomes

    def delete(self, execution_ids: Iterable[str], *, missing_ok: bool = False) -> list[Entry]:
        targets: dict[str, Entry] = {}
        for execution_id in execution_ids:
            try:
                entry = self._resolve(execution_id)
            except ExecutionNotFoundError:
                if missing_ok:
                    continue
                raise
            targets[entry.execution_id.lower()] = entry
        if targets:
            with self._errors("write to"), self._write():
                self.db.executemany(
                    "DELETE FROM executions WHERE lower(execution_id) = ?",
                    [(key,) for key in targets],
                )
        return list(targets.values())

    def check(self, *, repair: bool = False) -> list[Finding]:
        findings: list[Finding] = []
        try:
            db = self.db
            result = db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.Error as exc:
            return [Finding("database", f"{self.path} cannot be checked: {exc}")]
        except StorageError as exc:
            return [Finding("database", str(exc))]
        if result != "ok":
            findings.append(Finding("database", f"the database is damaged: {result}"))
        else:
            findings.append(Finding("database", "the database passes SQLite's checks", "ok"))
        names = {r[0] for r in db.execute("SELECT name FROM _migrations")}
        unknown = sorted(names - {m.__name__ for m in MIGRATIONS})
        if unknown:
            findings.append(
                Finding(
                    "schema",
                    f"migrations of a newer phaser-analytics: {', '.join(unknown)}",
                    "note",
                )
            )
        bad = []
        mismatched: list[ExecutionRecord] = []
        cursor = db.execute(f"SELECT lower(execution_id), record, {_COLUMNS} FROM executions")
        while rows := cursor.fetchmany(_CHUNK):
            stored = self._children_of([row[0] for row in rows])
            for key, text, *columns in rows:
                try:
                    entry = _entry(columns)
                    record = ExecutionRecord.from_dict(json.loads(text))
                except Exception as exc:
                    reason = "its columns are damaged" if isinstance(exc, DamagedRow) else None
                    bad.append((key, text, reason or f"{type(exc).__name__}: {exc}"))
                    continue
                # The child rows follow the execution's row (what queries filter on), also
                # where a hand edit moved it to another project or time.
                for name in _CHILD_FROM_ROW:
                    setattr(record, name, getattr(entry, name))
                phases: list[tuple] = []
                reasons: list[tuple] = []
                child_rows(record, phases, reasons)
                if stored.get(key, ([], [])) != (phases, reasons):
                    mismatched.append(record)
        orphans = [
            key for (key,) in db.execute(
                "SELECT execution_key FROM phases UNION SELECT execution_key FROM "
                "failure_reasons EXCEPT SELECT lower(execution_id) FROM executions"
            )
        ] + [key for key, _, _ in bad if self._children_of([key])]  # fmt: skip
        findings += self._check_children(mismatched, orphans, repair)
        for key, text, reason in bad:
            if repair:
                self._quarantine(key, text, reason)
                findings.append(Finding("repair", f"moved {key} to the quarantine table", "ok"))
            else:
                findings.append(Finding("record", f"execution {key} cannot be loaded: {reason}"))
        findings += self._check_pre_aggregates(repair)
        findings += self._check_counts(
            "the failure-reason counts (reason_counts) do not match the reason rows",
            f"SELECT {', '.join(REASON_COLUMNS)} FROM reason_counts ORDER BY 1, 2",
            f"{reason_totals()} ORDER BY 1, 2", fill_reason_counts, repair,
        )  # fmt: skip
        findings += self._check_counts(
            "the projects' counts (projects) do not match the executions",
            "SELECT project_path, executions FROM projects ORDER BY 1",
            f"{PROJECT_TOTALS.format('')} ORDER BY 1", fill_projects, repair,
        )  # fmt: skip
        count = db.execute("SELECT count(*) FROM quarantine").fetchone()[0]
        if count:
            findings.append(
                Finding(
                    "quarantine",
                    f"{count} record(s) in the quarantine table: inspect them with sqlite3",
                    "note",
                )
            )
        return findings

    # -- aggregates in SQL (the optional base.Aggregates) -----------------------------------

    def _selected(self, query: AnalyticsQuery | None, project: str | None) -> tuple[str, list]:
        """``WITH selected AS (…)``: the rows ``find(query, project=project)`` yields."""
        where, params = _where(query, project)
        sql = f"SELECT {_AGGREGATED} FROM executions" + where
        if query is not None and query.limit is not None:
            sql += f" ORDER BY started_ts DESC, execution_id DESC LIMIT {max(int(query.limit), 0)}"
        return f"WITH selected AS ({sql}) ", params

    def _aggregate(self, sql: str, params: Sequence[Any]) -> list[Any]:
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "integer overflow" in str(exc):  # a sum beyond 64 bits: Python sums it
                raise NotAggregated(str(exc)) from exc
            raise self._error(exc, "read") from exc
        except sqlite3.Error as exc:
            raise self._error(exc, "read") from exc

    def _start_times(
        self, selected: str, params: Sequence[Any], stamps: Iterable[float | None]
    ) -> dict[float, Any]:
        """The start of the selected row at each timestamp as the row states it (its own
        offset): of several at one instant, the first in :meth:`find`'s order, as
        :meth:`AggregatedStats.compute` keeps the first of equal starts."""
        wanted = sorted({s for s in stamps if s is not None})
        found: dict[float, Any] = {}
        for chunk in _chunks(wanted):
            marks = ", ".join("?" * len(chunk))
            rows = self._aggregate(
                f"{selected}SELECT started_ts, started_at FROM selected "
                f"WHERE started_ts IN ({marks}) ORDER BY execution_id DESC",
                [*params, *chunk],
            )
            for stamp, text in rows:
                found.setdefault(stamp, text)
        return {stamp: datetime_from_json(text) for stamp, text in found.items()}

    def stats(
        self, query: AnalyticsQuery | None = None, *, project: str | None = None
    ) -> AggregatedStats:
        """:meth:`AggregatedStats.compute` of ``find(query, project=project)``, in SQL (or
        from the partial sums a grouped query of the same selection kept)."""
        selected, params = self._selected(query, project)
        part = self._fresh_memo().get(_memo_key("parts", query, project))
        if part is None and _pre_aggregated(query):
            where, kept = self._hours_where(query, project)
            sql = f"SELECT {_HOUR_PARTS} FROM execution_hours{where}"
            part = StatsPart.of_row(self._aggregate(sql, kept)[0])
        if part is None:
            part = StatsPart.of_row(
                self._aggregate(f"{selected}SELECT {_PARTS} FROM selected", params)[0]
            )
        starts = self._start_times(selected, params, (part.first_ts, part.last_ts))
        return part.stats(starts.get(part.first_ts), starts.get(part.last_ts))  # type: ignore[arg-type]

    def _parts_by(
        self,
        query: AnalyticsQuery | None,
        project: str | None,
        zone: tzinfo | None,
        keys: Sequence[str],
    ) -> tuple[list[tuple[tuple[Any, ...], StatsPart]], str, list]:
        """The partial statistics of the dated selected executions by ``keys`` (SQL over
        ``hour``: the start's local hour in ``zone``, counted from 1970-01-01 00:00), in one
        scan that also sums the whole selection, kept for :meth:`stats`."""
        selected, params = self._selected(query, project)
        # The zone's offsets over every start in the database: two index lookups, where
        # the selection's own range would cost a scan.
        low, high = self._aggregate(
            "SELECT (SELECT min(started_ts) FROM executions), "
            "(SELECT max(started_ts) FROM executions)",
            (),
        )[0]
        grouping = ", ".join(keys)
        hour = _local_hour_sql(zone, low, high) if _pre_aggregated(query) else None
        if hour is not None:
            # Each UTC hour is within one local hour: sum the hours' partial statistics.
            # (LIMIT -1: the local hour is computed once per row, not in every key.)
            where, kept = self._hours_where(query, project)
            rows = self._aggregate(
                f"SELECT {grouping}, {_HOUR_PARTS} FROM (SELECT *, {hour} AS hour FROM "
                f"execution_hours{where} LIMIT -1) GROUP BY {grouping}",
                kept,
            )
        else:
            local = local_seconds_sql(zone, low, high, "started_ts") if low is not None else "NULL"
            rows = self._aggregate(
                f"{selected}, located AS (SELECT *, {floor_sql(local, 3600)} AS hour "
                "FROM selected) "
                f"SELECT {grouping}, {_PARTS} FROM located GROUP BY {grouping}",
                params,
            )
        whole, grouped = StatsPart(), []
        for row in rows:
            part = StatsPart.of_row(row[len(keys) :])
            whole.add(part)
            if row[0] is not None:
                grouped.append((tuple(row[: len(keys)]), part))
        self._fresh_memo()[_memo_key("parts", query, project)] = whole
        return grouped, selected, params

    def _hours_where(
        self, query: AnalyticsQuery | None, project: str | None
    ) -> tuple[str, list[Any]]:
        """The filters of a pre-aggregated ``query`` on ``execution_hours`` (project and
        status); :class:`NotAggregated` if a sum of its integers went beyond 64 bits (SQLite
        then kept it as a float)."""
        memo = self._fresh_memo()
        if "inexact_hours" not in memo:
            memo["inexact_hours"] = self._aggregate(
                f"SELECT EXISTS (SELECT 1 FROM execution_hours WHERE {INEXACT})", ()
            )[0][0]
        if memo["inexact_hours"]:
            raise NotAggregated("a sum beyond SQLite's integers")
        return _where(query, project)

    def stats_by_period(
        self,
        query: AnalyticsQuery | None,
        by: str,
        zone: tzinfo | None,
        *,
        project: str | None = None,
    ) -> dict[date, AggregatedStats]:
        """:func:`~..aggregates.stats_by_period` of the selected entries, in SQL: by local
        day, merged into weeks or months."""
        rows, selected, params = self._parts_by(query, project, zone, [LOCAL_DAY_SQL])
        parts = parts_by_period(rows, by)
        stamps = [s for p in parts.values() for s in (p.first_ts, p.last_ts)]
        starts = self._start_times(selected, params, stamps)
        return {
            start: parts[start].stats(starts[parts[start].first_ts], starts[parts[start].last_ts])  # type: ignore[index]
            for start in sorted(parts)
        }

    def usage(
        self, query: AnalyticsQuery | None, zone: tzinfo | None, *, project: str | None = None
    ) -> Usage:
        """:func:`~..aggregates.usage` of the selected entries, in SQL."""
        rows, _, _ = self._parts_by(query, project, zone, [HOUR_OF_DAY_SQL, WEEKDAY_SQL])
        return usage_of_parts(rows)

    def _children_of(self, keys: Sequence[str]) -> dict[str, tuple[list[tuple], list[tuple]]]:
        """The stored phase and reason rows of each of ``keys`` that has any, as
        :func:`.sqlite_schema.child_rows` makes them (in their order)."""
        found: dict[str, tuple[list[tuple], list[tuple]]] = {}
        marks = ", ".join("?" * len(keys))
        for index, sql in enumerate((_STORED_PHASES, _STORED_REASONS)):
            for row in self.db.execute(sql.format(marks), keys):
                found.setdefault(row[0], ([], []))[index].append(row)
        return found

    def _check_children(
        self, mismatched: list[ExecutionRecord], orphans: list[str], repair: bool
    ) -> list[Finding]:
        """Findings on the phase and reason rows: those of ``mismatched`` records do not
        match them (rebuilt on repair); ``orphans`` are keys of no execution (removed)."""
        if not mismatched and not orphans:
            return []
        what = (
            f"the phase and failure-reason rows of {len(mismatched) + len(orphans)} "
            "execution(s) do not match their records"
        )
        if not repair:
            return [Finding("aggregates", f"{what}: 'doctor --repair' rebuilds them")]
        with self._errors("write to"), self._write():
            counting = Counting(self.db)
            for record in mismatched:
                write_children(self.db, record, counting)
                counting.flush()
            for key in orphans:
                self.db.execute("DELETE FROM phases WHERE execution_key = ?", (key,))
                self.db.execute("DELETE FROM failure_reasons WHERE execution_key = ?", (key,))
        return [Finding("repair", f"{what}; rebuilt them from the records", "ok")]

    def _pre_aggregates_match(self) -> bool:
        """Whether ``execution_hours`` and ``phase_counts`` hold what the rows sum to (float
        sums to a relative 1e-9: the triggers add in another order)."""
        import math

        db = self.db
        names = ", ".join(HOUR_COLUMNS)
        kept = {(r[0], r[1]): r[2:] for r in db.execute(f"SELECT {names} FROM execution_hours")}
        try:
            fresh = {
                (r[0], r[1]): r[2:]
                for r in db.execute(
                    f"SELECT project_path, {utc_hour('started_ts')}, {_PARTS} FROM executions "
                    "GROUP BY 1, 2"
                )
            }
        except sqlite3.OperationalError:  # a sum beyond 64 bits: compared no further
            return True
        if kept.keys() != fresh.keys():
            return False
        for key, row in fresh.items():
            for a, b in zip(kept[key], row, strict=True):
                if isinstance(a, float) and isinstance(b, (int, float)):
                    if not math.isclose(a, b, rel_tol=1e-9):
                        return False
                elif a != b:
                    return False
        counts = "SELECT project_path, status, phase_number, {} FROM {} ORDER BY 1, 2, 3"
        return db.execute(counts.format("runs, failures", "phase_counts")).fetchall() == [
            tuple(r) for r in db.execute(
                counts.format("count(*), count(*) FILTER (WHERE phase_status = 'failed')",
                              "phases GROUP BY project_path, status, phase_number")
            )
        ]  # fmt: skip

    def _check_pre_aggregates(self, repair: bool) -> list[Finding]:
        if self._pre_aggregates_match():
            return []
        what = "the pre-aggregated totals (execution_hours, phase_counts) do not match the rows"
        if not repair:
            return [Finding("aggregates", f"{what}: 'doctor --repair' rebuilds them")]
        with self._errors("write to"), self._write():
            fill_pre_aggregates(self.db)
        return [Finding("repair", f"{what}; rebuilt them from the rows", "ok")]

    def _check_counts(
        self,
        what: str,
        kept: str,
        fresh: str,
        fill: Callable[[sqlite3.Connection], None],
        repair: bool,
    ) -> list[Finding]:
        """A finding (``what``) when a table of counts (``kept``: its rows) does not hold
        what the rows count to (``fresh``); rebuilt by ``fill`` on repair."""
        if self.db.execute(kept).fetchall() == self.db.execute(fresh).fetchall():
            return []
        if not repair:
            return [Finding("aggregates", f"{what}: 'doctor --repair' rebuilds them")]
        with self._errors("write to"), self._write():
            fill(self.db)
        return [Finding("repair", f"{what}; rebuilt them from the rows", "ok")]

    def phase_summaries(
        self, query: AnalyticsQuery | None, *, project: str | None = None
    ) -> list[PhaseSummary]:
        """:func:`~..aggregates.phase_summaries` of the selected records, in SQL."""
        where, params = self._child_where("phases", query, project)
        summaries = []
        if _phases_pre_aggregated(query):
            rows = self._aggregate(
                f"SELECT phase_number, sum(runs), sum(failures) FROM phase_counts{where} "
                "GROUP BY phase_number HAVING sum(runs) > 0 ORDER BY phase_number",
                params,
            )
        else:
            rows = self._aggregate(
                "SELECT phase_number, count(*), count(*) FILTER (WHERE phase_status = "
                f"'failed') FROM phases{where} GROUP BY phase_number ORDER BY phase_number",
                params,
            )
        # Without a project the index on (project, phase number, start, …) serves no
        # look-up: one per project, the newest of their answers (not a scan of every phase).
        per_project = project is None and (query is None or query.limit is None)
        for number, runs, failures in rows:
            summary = PhaseSummary(number, runs=runs, failures=failures)
            titled = self._newest_phase("title", where, params, "title != ''", number,
                                        per_project)  # fmt: skip
            summary.title = titled[0] if titled else ""
            if failures:
                failed = self._newest_phase(
                    "error_message, started_at", where, params, "phase_status = 'failed'",
                    number, per_project,
                )  # fmt: skip
                if failed is not None:
                    summary.last_error = failed[0]
                    summary.last_failed = datetime_from_json(failed[1])
            summaries.append(summary)
        return summaries

    def _newest_phase(
        self,
        columns: str,
        where: str,
        params: list[Any],
        condition: str,
        number: int,
        per_project: bool,
    ) -> tuple | None:
        """``columns`` of the newest selected phase row of ``number`` that meets
        ``condition`` (newest: start, then id, descending, then position), or ``None``."""
        more = " AND " if where else " WHERE "
        sql = (f"SELECT {columns}, started_ts, execution_id, position FROM phases{where}{more}"
               f"phase_number = ? AND {condition}")  # fmt: skip
        newest = " ORDER BY started_ts DESC, execution_id DESC, position LIMIT 1"
        if not per_project:
            rows = self._aggregate(sql + newest, [*params, number])
            return tuple(rows[0]) if rows else None
        found = []
        for (path,) in self._aggregate(
            "SELECT DISTINCT project_path FROM phase_counts WHERE phase_number = ?", [number]
        ):
            found += self._aggregate(f"{sql} AND project_path IS ?{newest}",
                                     [*params, number, path])  # fmt: skip
        if not found:
            return None
        # SQLite's order: a NULL start is the oldest; ids compare as UTF-8 bytes, which is
        # the order of their code points.
        best = max(found, key=lambda r: (r[-3] is not None, r[-3] or 0.0, r[-2], -r[-1]))
        return tuple(best)

    def reason_counts(
        self, query: AnalyticsQuery | None, top: int | None = None, *,
        project: str | None = None,
    ) -> list[ReasonCount]:  # fmt: skip
        """:func:`~..aggregates.reason_counts` of the selected records: from
        ``reason_counts`` when it holds the answer (no filter but the project), else from
        their rows of ``failure_reasons`` (newest first), as the Python path counts them."""
        if _pre_aggregated(query):
            return self._counted_reasons(top, project)
        where, params = self._child_where("failure_reasons", query, project)
        rows = self._aggregate(
            f"SELECT reason_key, reason, started_at FROM failure_reasons{where} "
            "ORDER BY started_ts DESC, execution_id DESC, position",
            params,
        )
        return count_reasons(rows, datetime_from_json, top)

    def _counted_reasons(self, top: int | None, project: str | None) -> list[ReasonCount]:
        """The reasons of ``project`` (``None``: every project's, summed by key) from
        ``reason_counts``, most executions first, then the newest first, as
        :func:`~..aggregates.count_reasons` orders them: a project's first ``top`` are the
        first entries of an index."""
        limit = f" LIMIT {int(top)}" if top is not None else ""
        if project is not None:
            rows = self._aggregate(
                "SELECT wording, executions, started_at FROM reason_counts "
                f"WHERE project_path = ? ORDER BY executions DESC, {NEWEST_REASON}{limit}",
                [project],
            )
        else:
            rows = self._aggregate(
                "SELECT wording, total, started_at FROM (SELECT *, sum(executions) OVER key "
                f"AS total, row_number() OVER (key ORDER BY {NEWEST_REASON}) AS newest "
                "FROM reason_counts WINDOW key AS (PARTITION BY reason_key)) "
                f"WHERE newest = 1 ORDER BY total DESC, {NEWEST_REASON}{limit}",
                [],
            )
        return [ReasonCount(w, n, datetime_from_json(s)) for w, n, s in rows]

    def _child_where(
        self, table: str, query: AnalyticsQuery | None, project: str | None
    ) -> tuple[str, list[Any]]:
        """The filters of ``query`` on a child table (which has the columns they name);
        with a limit, the rows of the executions :meth:`find` keeps."""
        where, params = _where(query, project)
        if query is not None and query.limit is not None:
            selected, more = self._selected(query, project)
            keys = f"execution_key IN ({selected}SELECT lower(execution_id) FROM selected)"
            return f" WHERE {keys}", more
        return where, params

    def close(self) -> None:
        """Close the connection. One that wrote (a migration included) first checkpoints
        the WAL and truncates it, if no other connection is reading it (busy: left to the
        next checkpoint, without waiting); SQLite removes it when the last connection
        closes."""
        if self._db is not None:
            if self._db.total_changes:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("PRAGMA busy_timeout = 0")
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            self._db.close()
            self._db = None
