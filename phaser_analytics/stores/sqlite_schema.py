"""The SQLite store's schema: the migrations that build it, applied in order and recorded
in the ``_migrations`` table (as simonw/llm's ``llm/migrations.py`` does), and what keeps its
derived tables in step with the ``executions`` rows: the phase and failure-reason rows of
each record, and the pre-aggregates (``execution_hours``, ``phase_counts``,
``reason_counts``, ``projects``) the writer adds to once per batch and triggers undo on a
deletion or an update; and the index that answers ``show``'s history window.

A migration is never edited once released: a change of schema is a new one. The store
(:mod:`.sqlite`) opens the database, calls :func:`migrate` and reads and writes the rows.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator

from ..aggregates import reasons_of
from ..models import (
    ExecutionRecord,
    ExecutionStatus,
    PhaseStatus,
    datetime_to_json,
    utcnow,
)


def floor_sql(value: str, size: int) -> str:
    """``floor(value / size)`` as an integer, with no need of SQLite's math functions."""
    quotient = f"(({value}) / {int(size)})"
    return f"(CAST({quotient} AS INTEGER) - ({quotient} < CAST({quotient} AS INTEGER)))"


# -- migrations -----------------------------------------------------------------------------

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(function: Migration) -> Migration:
    """Add ``function`` to the migrations, in the order they are defined. A migration is
    never edited once released: a change of schema is a new one."""
    MIGRATIONS.append(function)
    return function


@migration
def m001_executions(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE executions (
            execution_id TEXT NOT NULL,
            identity TEXT NOT NULL UNIQUE,
            audit_document TEXT,
            document_title TEXT,
            project_name TEXT,
            project_path TEXT,
            branch TEXT,
            base_commit TEXT,
            started_at TEXT,
            started_ts REAL,
            completed_at TEXT,
            status TEXT NOT NULL,
            duration_seconds REAL,
            test_delta INTEGER,
            phases_planned INTEGER,
            phases_completed INTEGER,
            total_tokens INTEGER,
            cost_usd REAL,
            record TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE UNIQUE INDEX executions_id ON executions (lower(execution_id))")
    db.execute("CREATE INDEX executions_newest ON executions (started_ts DESC, execution_id DESC)")
    db.execute(
        "CREATE INDEX executions_project ON executions "
        "(project_path, started_ts DESC, execution_id DESC)"
    )


@migration
def m002_quarantine(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE quarantine (
            execution_id TEXT,
            record TEXT NOT NULL,
            reason TEXT NOT NULL,
            moved_at TEXT NOT NULL
        )
        """
    )


@migration
def m003_phases_and_reasons(db: sqlite3.Connection) -> None:
    """One row per phase and per distinct failure reason of each execution, with the
    execution's filter columns, so ``phases`` and ``failures`` aggregate in SQL; filled
    from the records already stored (a record that does not load gets none, as it is
    quarantined when read)."""
    shared = """
        execution_key TEXT NOT NULL,
        execution_id TEXT NOT NULL,
        project_path TEXT,
        started_ts REAL,
        started_at TEXT,
        status TEXT NOT NULL,
        audit_document TEXT,
        position INTEGER NOT NULL,
    """
    db.execute(
        f"""
        CREATE TABLE phases ({shared}
            phase_number INTEGER NOT NULL,
            title TEXT NOT NULL,
            phase_status TEXT NOT NULL,
            error_message TEXT
        )
        """
    )
    db.execute(
        f"""
        CREATE TABLE failure_reasons ({shared}
            reason TEXT NOT NULL,
            reason_key TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX phases_execution ON phases (execution_key)")
    db.execute(
        "CREATE INDEX phases_newest ON phases (project_path, phase_number, started_ts DESC, "
        "execution_id DESC, position, phase_status)"
    )
    db.execute("CREATE INDEX failure_reasons_execution ON failure_reasons (execution_key)")
    # Aggregates and info() read these columns only: an index holding them is read instead
    # of rows that carry the whole record.
    db.execute(
        "CREATE INDEX executions_aggregates ON executions (project_path, started_ts, status, "
        "duration_seconds, test_delta, phases_planned, phases_completed, total_tokens, "
        "cost_usd)"
    )
    db.execute("CREATE INDEX executions_projects ON executions (project_path, project_name)")
    db.execute(
        """
        CREATE TRIGGER executions_children AFTER DELETE ON executions BEGIN
            DELETE FROM phases WHERE execution_key = lower(old.execution_id);
            DELETE FROM failure_reasons WHERE execution_key = lower(old.execution_id);
        END
        """
    )
    for (text,) in db.execute("SELECT record FROM executions").fetchall():
        try:
            record = ExecutionRecord.from_dict(json.loads(text))
        except Exception:  # left for read and doctor to quarantine
            continue
        write_children(db, record)


#: The pre-aggregates of migration m004 (docs/storage.md, "The SQLite store"): per project
#: and UTC hour, the partial statistics of the executions (``trends``, ``failures``' hours,
#: every command's totals), and per project, status and phase number, the runs and failures
#: (``phases``). Triggers keep them in the transaction that writes the rows.
HOUR_COLUMNS = ("project_path", "utc_hour", "total", "successful", "partial", "failed",
                 "durations", "duration_sum", "duration_min", "duration_max", "deltas",
                 "delta_sum", "planned", "completed", "first_ts", "last_ts", "tokens",
                 "token_sum", "costs", "cost_sum")  # fmt: skip
#: A NULL project or hour is a key of its own (NULLs are never equal in a UNIQUE index).
_HOUR_KEY = "coalesce(project_path, X''), coalesce(utc_hour, '')"
#: A row whose integer sums went beyond 64 bits, which SQLite then adds as floats.
INEXACT = "'real' IN (typeof(delta_sum), typeof(planned), typeof(completed), typeof(token_sum))"
_PHASE_KEY = "coalesce(project_path, X''), status, phase_number"


def utc_hour(started: str) -> str:
    """SQL: the UTC hour (counted from 1970-01-01 00:00) of a start as a timestamp."""
    return floor_sql(started, 3600)


def _execution_parts(row: str) -> str:
    """SQL: the values of ``execution_hours``' columns for one execution (``row``: ``new.``,
    ``old.`` or nothing)."""
    d, c = f"{row}duration_seconds", f"{row}cost_usd"
    return ", ".join((
        f"{row}project_path", utc_hour(f"{row}started_ts"), "1",
        *(f"{row}status = '{status}'" for status in ("success", "partial", "failed")),
        f"{d} IS NOT NULL", d, d, d, f"{row}test_delta IS NOT NULL", f"{row}test_delta",
        f"{row}phases_planned", f"min(coalesce({row}phases_completed, 0), {row}phases_planned)",
        f"{row}started_ts", f"{row}started_ts", f"{row}total_tokens IS NOT NULL",
        f"{row}total_tokens", f"{c} IS NOT NULL", c,
    ))  # fmt: skip


def _plus(name: str) -> str:
    """SQL: ``name`` plus the new row's, as ``sum()`` adds (NULL when both are NULL)."""
    return (f"{name} = CASE WHEN excluded.{name} IS NULL THEN {name} WHEN {name} IS NULL "
            f"THEN excluded.{name} ELSE {name} + excluded.{name} END")  # fmt: skip


def _least(name: str, pick: str) -> str:
    return f"{name} = coalesce({pick}({name}, excluded.{name}), {name}, excluded.{name})"


#: Adds one execution's values to its row of ``execution_hours`` (or makes that row).
_HOURS_UPSERT = (
    f"ON CONFLICT ({_HOUR_KEY}) DO UPDATE SET total = total + 1, "
    "successful = successful + excluded.successful, partial = partial + excluded.partial, "
    "failed = failed + excluded.failed, "
    "durations = durations + excluded.durations, deltas = deltas + excluded.deltas, "
    "tokens = tokens + excluded.tokens, costs = costs + excluded.costs, "
    + ", ".join(_plus(n) for n in ("duration_sum", "delta_sum", "planned", "completed",
                                   "token_sum", "cost_sum"))
    + ", " + ", ".join((_least("duration_min", "min"), _least("duration_max", "max"),
                        _least("first_ts", "min"), _least("last_ts", "max")))
)  # fmt: skip
_HOURS_INSERT = f"INSERT INTO execution_hours ({', '.join(HOUR_COLUMNS)})"


def _hour_recount(row: str) -> str:
    """SQL (statements of a trigger): the ``execution_hours`` row of ``row``'s project and
    hour made again from the executions (a deletion cannot be undone from sums: not a
    minimum, and not a float sum exactly)."""
    same = f"project_path IS {row}project_path"
    hour = utc_hour(f"{row}started_ts")
    return f"""
        DELETE FROM execution_hours WHERE coalesce(project_path, X'') =
            coalesce({row}project_path, X'') AND coalesce(utc_hour, '') = coalesce({hour}, '');
        {_HOURS_INSERT} SELECT {_execution_parts('')} FROM executions
            WHERE {row}started_ts IS NULL AND {same} AND started_ts IS NULL {_HOURS_UPSERT};
        {_HOURS_INSERT} SELECT {_execution_parts('')} FROM executions
            WHERE {row}started_ts IS NOT NULL AND {same}
            AND started_ts >= {hour} * 3600 - 1 AND started_ts < {hour} * 3600 + 3601
            AND {utc_hour('started_ts')} = {hour} {_HOURS_UPSERT};
    """


_PHASES_UPSERT = (
    "INSERT INTO phase_counts (project_path, status, phase_number, runs, failures) "
    "SELECT project_path, status, phase_number, count(*), "
    "count(*) FILTER (WHERE phase_status = 'failed') FROM phases NOT INDEXED WHERE rowid > ? "
    f"GROUP BY project_path, status, phase_number ON CONFLICT ({_PHASE_KEY}) DO UPDATE SET "
    "runs = runs + excluded.runs, failures = failures + excluded.failures"
)


class Counting:
    """Adds the ``executions``, ``phases`` and ``failure_reasons`` rows inserted since it
    began (or since the last :meth:`flush`) to the pre-aggregates: four statements per
    batch instead of a trigger per row. A batch's new rows are those after the largest
    rowid it began with (SQLite gives a new row the largest plus one). Call :meth:`flush`
    before deleting or updating rows in the same transaction (the triggers recount from
    rows) and at its end."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.marks = self._marks()

    def _marks(self) -> tuple[int, int, int]:
        row = self.db.execute(
            "SELECT (SELECT coalesce(max(rowid), 0) FROM executions), "
            "(SELECT coalesce(max(rowid), 0) FROM phases), "
            "(SELECT coalesce(max(rowid), 0) FROM failure_reasons)"
        ).fetchone()
        return row[0], row[1], row[2]

    def flush(self) -> None:
        executions, phases, reasons = self.marks
        self.db.execute(  # (NOT INDEXED: the new rows by rowid, never an index's scan)
            f"{_HOURS_INSERT} SELECT {_execution_parts('')} FROM executions NOT INDEXED "
            "WHERE rowid > ? "
            f"{_HOURS_UPSERT}",
            (executions,),
        )
        self.db.execute(
            f"{_PROJECTS_INSERT} {PROJECT_TOTALS.format(' NOT INDEXED WHERE rowid > ?')} "
            f"{_PROJECTS_UPSERT}",
            (executions,),
        )
        self.db.execute(_PHASES_UPSERT, (phases,))
        self.db.execute(
            f"{_REASONS_INSERT} {reason_totals('NOT INDEXED WHERE rowid > ?')} {_REASONS_UPSERT}",
            (reasons,),
        )
        self.marks = self._marks()

    def deleted(self) -> None:
        """Rows were just deleted, after a :meth:`flush`: SQLite gives a new row the largest
        rowid plus one, which is a deleted row's when the largest was deleted, so the marks
        are taken again (else a row replacing the newest would never be counted)."""
        self.marks = self._marks()


def fill_pre_aggregates(db: sqlite3.Connection) -> None:
    """Both pre-aggregate tables, emptied and made again from the rows."""
    db.execute("DELETE FROM execution_hours")
    db.execute("DELETE FROM phase_counts")
    db.execute(
        f"{_HOURS_INSERT} SELECT {_execution_parts('')} FROM executions WHERE true "
        f"{_HOURS_UPSERT}"
    )
    db.execute(
        "INSERT INTO phase_counts (project_path, status, phase_number, runs, failures) "
        "SELECT project_path, status, phase_number, count(*), "
        "count(*) FILTER (WHERE phase_status = 'failed') FROM phases "
        "GROUP BY project_path, status, phase_number"
    )


@migration
def m004_pre_aggregates(db: sqlite3.Connection) -> None:
    """``execution_hours`` and ``phase_counts`` (see :data:`HOUR_COLUMNS`), filled from
    the rows already stored. Rows inserted are added by :class:`Counting` once per batch
    (a trigger per row costs an import more); a deletion or an update is undone by
    triggers, whoever makes it."""
    db.execute(
        """
        CREATE TABLE execution_hours (
            project_path TEXT,
            utc_hour INTEGER,
            total INTEGER NOT NULL,
            successful INTEGER NOT NULL,
            partial INTEGER NOT NULL,
            failed INTEGER NOT NULL,
            durations INTEGER NOT NULL,
            duration_sum REAL,
            duration_min REAL,
            duration_max REAL,
            deltas INTEGER NOT NULL,
            delta_sum INTEGER,
            planned INTEGER,
            completed INTEGER,
            first_ts REAL,
            last_ts REAL,
            tokens INTEGER NOT NULL,
            token_sum INTEGER,
            costs INTEGER NOT NULL,
            cost_sum REAL
        )
        """
    )
    db.execute(f"CREATE UNIQUE INDEX execution_hours_key ON execution_hours ({_HOUR_KEY})")
    # Empty unless a sum overflowed: finding whether one did is one look-up, not a scan.
    db.execute(
        f"CREATE INDEX execution_hours_inexact ON execution_hours (utc_hour) WHERE {INEXACT}"
    )
    db.execute(
        """
        CREATE TABLE phase_counts (
            project_path TEXT,
            status TEXT NOT NULL,
            phase_number INTEGER NOT NULL,
            runs INTEGER NOT NULL,
            failures INTEGER NOT NULL
        )
        """
    )
    db.execute(f"CREATE UNIQUE INDEX phase_counts_key ON phase_counts ({_PHASE_KEY})")
    db.execute(
        f"CREATE TRIGGER execution_hours_delete AFTER DELETE ON executions BEGIN "
        f"{_hour_recount('old.')} END"
    )
    db.execute(
        f"CREATE TRIGGER execution_hours_update AFTER UPDATE ON executions BEGIN "
        f"{_hour_recount('old.')} {_hour_recount('new.')} END"
    )
    db.execute(
        """
        CREATE TRIGGER phase_counts_delete AFTER DELETE ON phases BEGIN
            UPDATE phase_counts SET runs = runs - 1,
                failures = failures - (old.phase_status = 'failed')
            WHERE coalesce(project_path, X'') = coalesce(old.project_path, X'')
                AND status = old.status AND phase_number = old.phase_number;
            DELETE FROM phase_counts WHERE runs <= 0
                AND coalesce(project_path, X'') = coalesce(old.project_path, X'')
                AND status = old.status AND phase_number = old.phase_number;
        END
        """
    )
    fill_pre_aggregates(db)


@migration
def m005_project_counts(db: sqlite3.Connection) -> None:
    """Each project's count (``store info``, which ``show`` reads first) from an index of
    ``execution_hours`` in project order: 3 ms instead of 16 ms of grouping the table's
    39,000 rows at 100,000 executions (``show`` ≤ 1.5× the floor)."""
    db.execute("CREATE INDEX execution_hours_counts ON execution_hours (project_path, total)")


#: The failure reasons pre-counted by migration m006 (docs/storage.md, "The SQLite store"):
#: per project and reason key, how many executions give it and the newest of them (its
#: wording and start, and its place in :meth:`~.sqlite.SqliteStore.find`'s order: start,
#: then id, descending, then the reason's position), which ``failures`` reads instead of
#: every reason row. The writer adds a batch's rows once (:class:`Counting`); triggers
#: take a deleted or updated reason row out, whoever deletes or updates it.
REASON_COLUMNS = ("project_path", "reason_key", "executions", "wording", "started_at",
                  "newest_ts", "newest_id", "newest_position")  # fmt: skip
_REASON_KEY = "coalesce(project_path, X''), reason_key"
#: The order of the newest reason row first (SQLite sorts a NULL start last, as the oldest).
NEWEST_REASON = "newest_ts DESC, newest_id DESC, newest_position"
_REASONS_INSERT = f"INSERT INTO reason_counts ({', '.join(REASON_COLUMNS)})"
#: Whether the upsert's row is newer than the one kept (a NULL start is older than any).
_NEWER_REASON = (
    "(coalesce(excluded.newest_ts, -9e999), excluded.newest_id, -excluded.newest_position) > "
    "(coalesce(newest_ts, -9e999), newest_id, -newest_position)"
)
_REASONS_UPSERT = (
    f"ON CONFLICT ({_REASON_KEY}) DO UPDATE SET executions = executions + excluded.executions, "
    + ", ".join(f"{name} = CASE WHEN {_NEWER_REASON} THEN excluded.{name} ELSE {name} END"
                for name in REASON_COLUMNS[3:])
)  # fmt: skip


def reason_totals(where: str = "") -> str:
    """SQL: ``reason_counts``' rows of the ``failure_reasons`` rows ``where`` selects (a
    ``WHERE`` clause, or nothing): per project and key, their count and the newest."""
    return f"""
        SELECT project_path, reason_key, executions, reason, started_at, started_ts,
            execution_id, position
        FROM (SELECT *, count(*) OVER key AS executions, row_number() OVER
                (key ORDER BY started_ts DESC, execution_id DESC, position) AS newest
            FROM failure_reasons {where}
            WINDOW key AS (PARTITION BY coalesce(project_path, X''), reason_key))
        WHERE newest = 1
    """


def fill_reason_counts(db: sqlite3.Connection) -> None:
    """``reason_counts``, emptied and made again from the reason rows."""
    db.execute("DELETE FROM reason_counts")
    db.execute(f"{_REASONS_INSERT} {reason_totals()}")


def _reason_out(row: str) -> str:
    """SQL (statements of a trigger): the reason row ``row`` (``old.``) taken out of its
    count; when it was the newest of its key, the newest found again (one index look-up)."""
    same = (f"coalesce(project_path, X'') = coalesce({row}project_path, X'') "
            f"AND reason_key = {row}reason_key")  # fmt: skip
    return f"""
        UPDATE reason_counts SET executions = executions - 1 WHERE {same};
        DELETE FROM reason_counts WHERE {same} AND executions <= 0;
        UPDATE reason_counts SET ({', '.join(REASON_COLUMNS[3:])}) = (
            SELECT reason, started_at, started_ts, execution_id, position FROM failure_reasons
            WHERE project_path IS {row}project_path AND reason_key = {row}reason_key
            ORDER BY started_ts DESC, execution_id DESC, position LIMIT 1)
        WHERE {same} AND newest_id = {row}execution_id AND newest_position = {row}position;
    """


@migration
def m006_reason_counts(db: sqlite3.Connection) -> None:
    """``reason_counts`` (see :data:`REASON_COLUMNS`), filled from the reason rows already
    stored, with an index in ``failures``' order (a project's top reasons are its first
    entries) and one of the reason rows by project and key (the newest of a key found
    again when it is deleted)."""
    db.execute(
        """
        CREATE TABLE reason_counts (
            project_path TEXT,
            reason_key TEXT NOT NULL,
            executions INTEGER NOT NULL,
            wording TEXT NOT NULL,
            started_at TEXT,
            newest_ts REAL,
            newest_id TEXT NOT NULL,
            newest_position INTEGER NOT NULL
        )
        """
    )
    db.execute(f"CREATE UNIQUE INDEX reason_counts_key ON reason_counts ({_REASON_KEY})")
    db.execute(
        "CREATE INDEX reason_counts_top ON reason_counts "
        f"(project_path, executions DESC, {NEWEST_REASON})"
    )
    db.execute(
        "CREATE INDEX failure_reasons_key ON failure_reasons "
        "(project_path, reason_key, started_ts DESC, execution_id DESC, position)"
    )
    db.execute(
        "CREATE TRIGGER reason_counts_delete AFTER DELETE ON failure_reasons BEGIN "
        f"{_reason_out('old.')} END"
    )
    db.execute(
        "CREATE TRIGGER reason_counts_update AFTER UPDATE ON failure_reasons BEGIN "
        f"{_reason_out('old.')} {_REASONS_INSERT} VALUES (new.project_path, new.reason_key, 1, "
        "new.reason, new.started_at, new.started_ts, new.execution_id, new.position) "
        f"{_REASONS_UPSERT}; END"
    )
    fill_reason_counts(db)


#: Each project's count of executions (migration m007), a row per project path.
_PROJECT_KEY = "coalesce(project_path, X'')"
_PROJECTS_INSERT = "INSERT INTO projects (project_path, executions)"
_PROJECTS_UPSERT = (
    f"ON CONFLICT ({_PROJECT_KEY}) DO UPDATE SET executions = executions + excluded.executions"
)
#: The projects' counts from the rows (a fill, a check, a batch's new rows with a WHERE).
PROJECT_TOTALS = "SELECT project_path, count(*) FROM executions{} GROUP BY project_path"


def fill_projects(db: sqlite3.Connection) -> None:
    """``projects``, emptied and made again from the rows."""
    db.execute("DELETE FROM projects")
    db.execute(f"{_PROJECTS_INSERT} {PROJECT_TOTALS.format('')}")


def _project_out(row: str) -> str:
    """SQL (statements of a trigger): the execution ``row`` (``old.``) taken out of its
    project's count."""
    same = f"{_PROJECT_KEY} = coalesce({row}project_path, X'')"
    return f"""
        UPDATE projects SET executions = executions - 1 WHERE {same};
        DELETE FROM projects WHERE {same} AND executions <= 0;
    """


@migration
def m007_projects(db: sqlite3.Connection) -> None:
    """``projects``: each project's count of executions, which ``store info`` (read first by
    ``show`` and most commands) reads instead of an index of every project's hours (6–8 ms
    at 100,000 executions: ``show`` ≤ 1.5× the floor). The writer adds a batch's rows once
    (:class:`Counting`); triggers take out a deleted execution, or one moved to another
    project, whoever deletes or moves it."""
    db.execute("CREATE TABLE projects (project_path TEXT, executions INTEGER NOT NULL)")
    db.execute(f"CREATE UNIQUE INDEX projects_key ON projects ({_PROJECT_KEY})")
    db.execute(
        "CREATE TRIGGER projects_delete AFTER DELETE ON executions BEGIN "
        f"{_project_out('old.')} END"
    )
    db.execute(
        "CREATE TRIGGER projects_update AFTER UPDATE OF project_path ON executions BEGIN "
        f"{_project_out('old.')} {_PROJECTS_INSERT} VALUES (new.project_path, 1) "
        f"{_PROJECTS_UPSERT}; END"
    )
    fill_projects(db)


#: What the anomaly rule judges of an execution (:class:`~..anomalies.Judged`'s fields).
JUDGED_COLUMNS = ("execution_id", "audit_document", "started_at", "duration_seconds",
                  "cost_usd", "total_tokens", "test_delta")  # fmt: skip


@migration
def m008_history_index(db: sqlite3.Connection) -> None:
    """The index of a project's executions newest first also holds what the anomaly rule
    judges (:data:`JUDGED_COLUMNS`), so ``show``'s history window (the 200 executions
    before those shown) is read from the index alone instead of from 200 rows that each
    carry a whole record (``show`` ≤ 1.5× the floor)."""
    db.execute("DROP INDEX executions_project")
    db.execute(
        "CREATE INDEX executions_project ON executions (project_path, started_ts DESC, "
        f"execution_id DESC, {', '.join(JUDGED_COLUMNS[1:])})"
    )


def migrate(db: sqlite3.Connection, upto: str | None = None) -> list[str]:
    """Apply the migrations the database has not had, each in its own transaction (with
    ``upto``, those up to that one only: a database as an earlier release left it); return
    the names applied."""
    try:  # a read first: a database that is up to date is never written to here
        done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    except sqlite3.OperationalError:
        db.execute(
            "CREATE TABLE IF NOT EXISTS _migrations "
            "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        done = set()
    applied = []
    for function in MIGRATIONS:
        if function.__name__ not in done and _apply(db, function):
            applied.append(function.__name__)
        if function.__name__ == upto:
            break
    return applied


def migrated(db: sqlite3.Connection) -> list[str]:
    """Bring the database up to date (:func:`migrate`; one read when it is); return the
    migrations a newer phaser-analytics applied, which this one does not know."""
    known = [function.__name__ for function in MIGRATIONS]
    try:
        names = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    except sqlite3.OperationalError:  # a new database
        names = set()
    if not names.issuperset(known):
        migrate(db)
        names = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    return sorted(names.difference(known))


def _apply(db: sqlite3.Connection, function: Migration) -> bool:
    """Apply ``function`` and record it, in one transaction, unless another process got
    there first; whether it was applied here."""
    with transaction(db):
        if _applied(db, function.__name__):
            return False
        function(db)
        db.execute(
            "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
            (function.__name__, datetime_to_json(utcnow())),
        )
    return True


def _applied(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone() is not None


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` (the write lock, waited for up to the busy timeout) … COMMIT;
    ROLLBACK on any error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


# -- the rows of the derived tables -------------------------------------------------------

CHILD_SHARED = ("execution_key", "execution_id", "project_path", "started_ts", "started_at",
                 "status", "audit_document", "position")  # fmt: skip
INSERT_PHASE = (
    f"INSERT INTO phases ({', '.join(CHILD_SHARED)}, phase_number, title, phase_status, "
    f"error_message) VALUES ({', '.join('?' * (len(CHILD_SHARED) + 4))})"
)
INSERT_REASON = (
    f"INSERT INTO failure_reasons ({', '.join(CHILD_SHARED)}, reason, reason_key) "
    f"VALUES ({', '.join('?' * (len(CHILD_SHARED) + 2))})"
)


def child_rows(record: ExecutionRecord, phases: list[tuple], reasons: list[tuple]) -> None:
    """Append the ``phases`` and ``failure_reasons`` rows of ``record`` to the lists."""
    key = record.execution_id.lower()
    started = record.started_at
    shared = (key, record.execution_id, record.project_path,
              started.timestamp() if started else None, datetime_to_json(started),
              ExecutionStatus(record.status).value, record.audit_document)  # fmt: skip
    phases.extend(
        (*shared, i, p.phase_number, p.title, PhaseStatus(p.status).value, p.error_message)
        for i, p in enumerate(record.phases)
    )
    reasons.extend((*shared, i, wording, key_) for i, (key_, wording)
                   in enumerate(reasons_of(record.failure_reasons)))  # fmt: skip


def write_children(
    db: sqlite3.Connection, record: ExecutionRecord, counting: Counting | None = None
) -> None:
    """The ``phases`` and ``failure_reasons`` rows of ``record``: with ``counting`` (a
    replacement, everything before it counted), the rows it had are deleted first. From
    m004 on, the writer adds the new phase rows to ``phase_counts`` (:class:`Counting`)."""
    key = record.execution_id.lower()
    if counting is not None:
        db.execute("DELETE FROM phases WHERE execution_key = ?", (key,))
        db.execute("DELETE FROM failure_reasons WHERE execution_key = ?", (key,))
        counting.deleted()
    phases: list[tuple] = []
    reasons: list[tuple] = []
    child_rows(record, phases, reasons)
    if phases:
        db.executemany(INSERT_PHASE, phases)
    if reasons:
        db.executemany(INSERT_REASON, reasons)
