"""The PostgreSQL store: one database holds a team's history, every project and machine.

URLs are libpq's: ``postgresql://user@host:port/dbname`` (or ``postgres://``); a bare
``postgresql://`` takes everything from the ``PG*`` environment variables, as ``psql`` does.
psycopg 3 (the ``phaser-analytics[postgres]`` extra) is imported only when such a URL is
opened.

Layout (docs/team.md): ``phaser_executions`` holds one row per execution: the full record
as ``jsonb``, and in typed columns what queries filter, sort and aggregate on (``timestamptz``
times, ``numeric`` cost), the machine or CI runner it was imported from, and
``identity_key``, a digest of the execution's identity (project path, document, start as
written, base commit) under a UNIQUE constraint, so ``INSERT … ON CONFLICT DO NOTHING``
makes imports idempotent however many machines import at once. ``phaser_projects`` holds
the executions per project, kept by statement triggers in the writing transaction, so
``info()`` reads a row per project instead of counting every execution; so are
``phaser_phases`` and ``phaser_reasons`` (one row per phase and per failure reason, the
latter with its execution's start and project) and ``phaser_hours`` (partial statistics per
project and UTC hour of start), which the aggregates read instead of every execution.
``phaser_schema`` records the migrations applied; the tables and migrations are in
``postgres_schema.py``.

Schema: an empty database gets the tables on first use when the role may create them; a
database of an older schema is upgraded only by ``phaser analytics store migrate-schema``
(a shared database is changed on purpose, never as a side effect of an import), and one of
a newer schema is refused: this version would not know what it writes.

Every write is one transaction (``save`` copies a batch into a temporary table with COPY,
then inserts from it); big reads go through a server-side cursor. Connect and statement
timeouts (``analytics.postgres.connect_timeout`` and ``…statement_timeout`` in the config,
or the URL's ``connect_timeout`` / ``statement_timeout`` parameters) keep a dead server
from hanging a CI job. Every error is one line naming host and database, never the password.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from ..aggregates import (
    HOUR_OF_DAY_SQL,
    LOCAL_DAY_SQL,
    WEEKDAY_SQL,
    StatsPart,
    local_seconds_sql,
    parts_by_period,
    reason_key,
    usage_of_parts,
    whole_hour_offsets,
)
from ..errors import ExecutionNotFoundError, StorageError
from ..machine import imported_from, machine_name
from ..models import SCHEMA_VERSION as RECORD_SCHEMA
from ..models import (
    AggregatedStats,
    ExecutionRecord,
    ExecutionStatus,
    PhaseSummary,
    ReasonCount,
    Usage,
    datetime_from_json,
    datetime_to_json,
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
    is_valid_execution_id,
    loaded_in_order,
    pick_match,
    redact,
    stderr_warning,
)
from .postgres_schema import (
    HOUR_PARTS,
    HOURS_TABLE,
    MIGRATIONS,
    PHASES_TABLE,
    PROJECTS_TABLE,
    QUARANTINE_TABLE,
    REASONS_TABLE,
    SCHEMA_TABLE,
    SCHEMA_VERSION,
    TABLE,
    VERSION_FUNCTION,
    VERSION_FUNCTION_FROM,
    version_function,
)

if TYPE_CHECKING:
    from ..models import AnalyticsQuery

SCHEMES = ("postgresql", "postgres")
INSTALL_HINT = "pip install 'phaser-analytics[postgres]'"

#: Seconds; the config keys ``analytics.postgres.connect_timeout`` / ``statement_timeout``
#: and the URL parameters of the same names override them.
DEFAULT_CONNECT_TIMEOUT = 10
DEFAULT_STATEMENT_TIMEOUT = 120
CONFIG_KEY = "postgres"
TIMEOUT_KEYS = ("connect_timeout", "statement_timeout")

#: Rows fetched per round trip from a server-side cursor, and ids per query in ``read``.
FETCH_ROWS = 2000
READ_CHUNK = 1000
#: The session's work_mem: room for the aggregates' sorts without spilling to disk.
WORK_MEM = "32MB"
#: Serialises schema changes between clients (pg_advisory_xact_lock's key).
_SCHEMA_LOCK = 0x7068_6173  # "phas"

#: The record-derived columns, in the order ``_row`` gives them and COPY writes them.
COLUMNS = (
    "execution_id",
    "identity_key",
    "project_name",
    "project_path",
    "audit_document",
    "document_title",
    "branch",
    "base_commit",
    "started_at",
    "started_text",
    "completed_at",
    "completed_text",
    "status",
    "duration_seconds",
    "test_delta",
    "phases_planned",
    "phases_completed",
    "total_tokens",
    "cost_usd",
    "imported_at",
    "imported_from",
    "record",
)
#: What ``find`` selects to build an :class:`Entry` (times as written, cost as float).
_ENTRY_SELECT = (
    "execution_id, audit_document, document_title, project_name, project_path, branch, "
    "base_commit, started_text, completed_text, status, duration_seconds, test_delta, "
    "phases_planned, phases_completed, total_tokens, cost_usd::float8"
)
#: What ``to_dict`` writes of a record's properties (derived from its fields), which
#: ``save_stored`` requires a text to state as the record has them.
_DERIVED = ("duration_seconds", "test_delta")
_NEWEST_FIRST = 'started_at DESC NULLS LAST, execution_id COLLATE "C" DESC'
#: Each column's parameter in an INSERT (the values ``_row`` gives, cost and record as text).
_PLACEHOLDERS = tuple(
    {"cost_usd": "%s::numeric", "record": "%s::jsonb"}.get(column, "%s") for column in COLUMNS
)
#: From this many executions written by one store object, ``close`` runs ANALYZE.
ANALYZE_FROM = 5000
#: Batches up to this size are saved by one INSERT statement (``_insert_few``), bigger
#: ones by COPY in a transaction.
FEW_ROWS = 20


# -- URLs, settings and errors -------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """How to reach the server: the libpq URL (our own parameters removed) and timeouts."""

    conninfo: str
    where: str
    password: str | None
    connect_timeout: float
    statement_timeout: float
    #: libpq parameters the URL sets itself (ours only fill in what it leaves out).
    given: frozenset[str] = frozenset()


def _seconds(value: Any, name: str, source: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if isinstance(value, bool) or not seconds > 0:
        raise StorageError(f"{source}: {name} must be a number of seconds above 0, not {value!r}.")
    return seconds


def _configured_timeouts(project_dir: Path | None) -> dict[str, tuple[Any, str]]:
    """``analytics.postgres.*`` timeouts from the user's config, then the project's."""
    if project_dir is None:
        from ..project_registry import phaser_home

        files = [phaser_home() / "config.json"]
    else:
        from ..config import config_files

        files = [path for path, _base in config_files(project_dir)]
    from ..config import read_config_file

    found: dict[str, tuple[Any, str]] = {}
    for path in files:
        section = read_config_file(path).get(CONFIG_KEY)
        if section is None:
            continue
        if not isinstance(section, dict):
            raise StorageError(f"Config file {path}: 'analytics.{CONFIG_KEY}' must be an object.")
        for key, value in section.items():
            if key not in TIMEOUT_KEYS:
                raise StorageError(
                    f"Config file {path}: unknown key 'analytics.{CONFIG_KEY}.{key}' "
                    f"(known: {', '.join(TIMEOUT_KEYS)})."
                )
            found[key] = (value, f"Config file {path}: 'analytics.{CONFIG_KEY}.{key}'")
    return found


def settings(url: str, project_dir: Path | None = None) -> Settings:
    """Parse ``url`` (libpq's rules) and the timeouts: URL parameter, else config, else
    ``PGCONNECT_TIMEOUT`` (connect only), else the defaults."""
    parts = urlsplit(url)
    ours: dict[str, str] = {}
    kept = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        (ours.__setitem__(key, value) if key in TIMEOUT_KEYS else kept.append((key, value)))
    conninfo = url
    if ours:  # rebuilt by hand: urlunsplit would drop the "//" of a bare postgresql://
        conninfo = url.split("?", 1)[0] + (f"?{urlencode(kept, quote_via=quote)}" if kept else "")
    shown = redact(url)
    configured = _configured_timeouts(project_dir)
    timeouts: dict[str, float] = {}
    for key, default in (
        ("connect_timeout", DEFAULT_CONNECT_TIMEOUT),
        ("statement_timeout", DEFAULT_STATEMENT_TIMEOUT),
    ):
        if key in ours:
            timeouts[key] = _seconds(ours[key], key, f"Store URL {shown}")
        elif key in configured:
            value, source = configured[key]
            timeouts[key] = _seconds(value, "the value", source)
        elif key == "connect_timeout" and os.environ.get("PGCONNECT_TIMEOUT"):
            timeouts[key] = _seconds(os.environ["PGCONNECT_TIMEOUT"], key, "PGCONNECT_TIMEOUT")
        else:
            timeouts[key] = float(default)
    params = _conninfo_params(conninfo, shown)
    return Settings(
        conninfo=conninfo,
        where=_where(params),
        password=params.get("password") or os.environ.get("PGPASSWORD") or None,
        connect_timeout=timeouts["connect_timeout"],
        statement_timeout=timeouts["statement_timeout"],
        given=frozenset(params),
    )


def _conninfo_params(conninfo: str, shown: str) -> dict[str, str]:
    from psycopg import conninfo as pg_conninfo

    try:
        return pg_conninfo.conninfo_to_dict(conninfo)  # type: ignore[return-value]
    except Exception as exc:  # psycopg.ProgrammingError: libpq refused to parse it
        reason = _one_line(str(exc)) or "not a valid libpq URL"
        raise StorageError(f"Invalid PostgreSQL store URL {shown}: {reason}.") from None


def _where(params: dict[str, str]) -> str:
    """``host:port/dbname`` as libpq will resolve them (URL, else PG* variables, else its
    defaults), for messages; never the password."""
    env = os.environ
    host = params.get("host") or params.get("hostaddr") or env.get("PGHOST") or "localhost"
    port = params.get("port") or env.get("PGPORT") or "5432"
    user = params.get("user") or env.get("PGUSER") or _login_name()
    dbname = params.get("dbname") or env.get("PGDATABASE") or user
    return f"{host}:{port}/{dbname}"


def _login_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user name from the environment or the password database
        return "?"


def _one_line(text: str) -> str:
    """The useful part of a libpq message, on one line: ``FATAL:`` prefixes and the
    ``connection to server at … failed:`` preamble dropped, hints kept short."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if not lines:
        return ""
    first = lines[0]
    first = re.sub(r"^connection failed:\s*", "", first)
    first = re.sub(
        r'^connection to server at "[^"]*"(?: \([^)]*\))?, port \d+ failed:\s*', "", first
    )
    first = re.sub(r"^(FATAL|ERROR):\s*", "", first)
    if first in ("", "FATAL:") and len(lines) > 1:
        first = re.sub(r"^(FATAL|ERROR):\s*", "", lines[1])
    return first.rstrip(".")


def identity_key(identity: tuple[str | None, ...]) -> str:
    """The digest the UNIQUE constraint holds: one per execution, whatever its id."""
    import hashlib  # writes only: the readers (trends, failures, show) do without it

    return hashlib.sha256(json.dumps(list(identity)).encode("utf-8")).hexdigest()


def _import_psycopg() -> Any:
    from ..long_lived import long_lived_import

    try:
        with long_lived_import():
            import psycopg
    except ImportError:
        raise StorageError(
            f"PostgreSQL stores need psycopg, which is not installed: {INSTALL_HINT}"
        ) from None
    import logging

    # psycopg logs what it ignores while cleaning up after a lost connection ("error
    # ignored terminating Copy"); the error itself reaches the user as our one line.
    # Without a handler of its own, logging would print those records to stderr.
    logger = logging.getLogger("psycopg")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    return psycopg


# -- the store ---------------------------------------------------------------------------------


class PostgresStore:
    """A store in one PostgreSQL database (module docstring). Not thread-safe: one per
    command, like every store."""

    backend = "postgresql"
    multi_project = True

    def __init__(
        self,
        url: str,
        *,
        project_dir: Path | None = None,
        warn: Warn = stderr_warning,
        create: bool = True,
        check_version: bool = True,
    ) -> None:
        """Connect; create the tables in an empty database (``create``, when the role may);
        refuse a database of another schema version (``check_version``; ``store
        migrate-schema`` opens without it, then calls :meth:`migrate_schema`)."""
        self._psycopg = _import_psycopg()
        self.url = redact(url)
        self.settings = settings(url, project_dir)
        self.warn = warn
        self.machine = machine_name()
        #: A statement failed or was cancelled: the command is failing, and ``close``
        #: leaves ANALYZE out (the server may be gone: it would wait for the timeouts).
        self._failed = False
        self._conn, version = self._connect()
        self._cursors = 0
        self._new_rows = 0
        self._info: StoreInfo | None = None
        try:
            self.schema_version = self._schema_version() if version is None else version
            if self.schema_version == 0 and create:
                self.migrate_schema(automatic=True)
            elif check_version:
                self._check_schema()
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> PostgresStore:
        return cls(url, **kwargs)

    # -- connection and errors -----------------------------------------------------------------

    @property
    def where(self) -> str:
        return self.settings.where

    @property
    def location(self) -> str:
        """What ``info().location`` says: the URL, password removed (no query to the
        server: ``import`` names the store it wrote to without counting its executions)."""
        return self.url

    def _error(self, exc: BaseException, doing: str) -> StorageError:
        """One line for the user: what failed, where, and libpq's reason (no password)."""
        self._failed = True
        errors = self._psycopg.errors
        if isinstance(exc, errors.QueryCanceled) and "statement timeout" in str(exc):
            reason = (
                f"a statement took longer than {self.settings.statement_timeout:g} s "
                "(analytics.postgres.statement_timeout)"
            )
        else:
            reason = _one_line(str(exc)) or type(exc).__name__
        message = f"PostgreSQL store {self.where}: {doing} failed: {reason}."
        password = self.settings.password
        if password:
            message = message.replace(password, "***")
        return StorageError(message)

    @contextlib.contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        try:
            yield
        except self._psycopg.Error as exc:
            raise self._error(exc, doing) from None

    def _connect(self) -> tuple[Any, int | None]:
        """The connection, set up (timeouts, UTC), and the schema version when the
        database has phaser-analytics' tables (else ``None``: :meth:`_schema_version`
        looks closer). Set-up and version are one round trip: a team's server may be far."""
        s = self.settings
        # A server that vanishes mid-query (host down, network cut) must not hang the
        # client: keepalives notice an idle wait, tcp_user_timeout a stuck send. What the
        # URL (or PGAPPNAME) sets itself is left as it is.
        extra: dict[str, Any] = {
            "keepalives": 1,
            "keepalives_idle": 15,
            "keepalives_interval": 5,
            "keepalives_count": 3,
            "tcp_user_timeout": int(max(s.connect_timeout, 30) * 1000),
        }
        if not os.environ.get("PGAPPNAME"):
            extra["application_name"] = "phaser-analytics"
        extra = {k: v for k, v in extra.items() if k not in s.given}
        try:
            conn = self._psycopg.connect(
                s.conninfo,
                autocommit=True,
                connect_timeout=max(1, round(s.connect_timeout)),
                **extra,
            )
        except self._psycopg.Error as exc:
            raise self._connect_error(exc) from None
        # work_mem: failures sorts ~30,000 reasons per 100,000 executions, which spills to
        # disk at the server's default (4 MB). jit off: a query estimated above
        # jit_above_cost was compiled first, ~130 ms for a 50 ms query; these are
        # aggregates over at most a few hundred thousand narrow rows.
        settings = (
            f"SET statement_timeout = {int(s.statement_timeout * 1000)}",
            "SET TimeZone = 'UTC'",
            f"SET work_mem = '{WORK_MEM}'",
            "SET jit = off",
        )
        session = "; ".join(settings)
        try:
            # Simple-query protocol: the statements run in order, as one implicit
            # transaction; the last result is the version, from the function schema
            # version 7 adds (reading SCHEMA_TABLE costs the new server process ~0.7 ms
            # more CPU: opening and planning a table it needs for nothing else).
            cursor = conn.execute(f"{session}; SELECT {VERSION_FUNCTION}()")
            for _ in settings:
                cursor.nextset()
            row = cursor.fetchone()
            return conn, int(row[0] or 0) if row is not None and row[0] is not None else None
        except self._psycopg.Error:
            # No such function (a database of version 6 or older, an empty one), or no
            # right to call it: _schema_version reads the table.
            pass
        try:
            conn.execute(session)  # the failed statement took the SETs with it
        except self._psycopg.Error as exc:
            conn.close()
            raise self._error(exc, "setting up the session") from None
        return conn, None

    def _connect_error(self, exc: BaseException) -> StorageError:
        text = str(exc)
        if "timeout expired" in text:
            reason = (
                f"no answer within {self.settings.connect_timeout:g} s "
                "(analytics.postgres.connect_timeout)"
            )
        else:
            reason = _one_line(text) or type(exc).__name__
        message = f"Cannot connect to the PostgreSQL store {self.where}: {reason}."
        if self.settings.password:
            message = message.replace(self.settings.password, "***")
        return StorageError(message)

    def cancel(self) -> None:
        """Ask the server to stop the statement this store's connection is running, from
        another thread (``store migrate``'s write under way when the user interrupts it):
        its transaction is rolled back. Nothing happens when none runs."""
        self._failed = True
        conn = self._conn
        with contextlib.suppress(Exception):
            (getattr(conn, "cancel_safe", None) or conn.cancel)()

    def close(self, *, analyze: bool = True) -> None:
        """Close the connection; after a bulk write (``store migrate``, a big import) first
        bring the planner's statistics up to date, so the next command's queries are planned
        for the rows there are (autovacuum would get to it within minutes; until then a
        project's newest runs were read by a sort of all its rows instead of its index).
        ``analyze=False`` skips that (a ``with`` block left by an exception), as does a
        statement of this store's that failed or was cancelled (the command is failing; the
        server may be gone); the connection is closed whatever ANALYZE does, a
        ``KeyboardInterrupt`` included."""
        try:
            if analyze:
                with contextlib.suppress(Exception):
                    if (
                        self._new_rows >= ANALYZE_FROM
                        and not self._failed
                        and not self._conn.closed
                    ):
                        # A role that does not own the tables gets a warning, not an
                        # error: skipped.
                        self._conn.execute(
                            f"ANALYZE {TABLE}, {PROJECTS_TABLE}, {PHASES_TABLE}, "
                            f"{REASONS_TABLE}, {HOURS_TABLE}"
                        )
        finally:
            with contextlib.suppress(Exception):
                self._conn.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(analyze=exc_type is None)

    # -- schema ----------------------------------------------------------------------------------

    def _schema_version(self) -> int:
        with self._guard("reading the schema version"):
            # pg_class read with this statement's snapshot (not to_regclass's catalog
            # cache), so a client that waited for the schema lock sees the tables the
            # client before it created.
            names = {
                row[0]
                for row in self._conn.execute(
                    "SELECT relname FROM pg_catalog.pg_class WHERE relname IN (%s, %s) "
                    "AND relnamespace IN (SELECT oid FROM pg_catalog.pg_namespace "
                    "WHERE nspname = ANY(current_schemas(false)))",
                    (SCHEMA_TABLE, TABLE),
                ).fetchall()
            }
            if SCHEMA_TABLE not in names:
                if TABLE in names:
                    raise StorageError(
                        f"PostgreSQL store {self.where}: table {TABLE} exists without "
                        f"{SCHEMA_TABLE}; it was not made by phaser-analytics."
                    )
                return 0
            row = self._conn.execute(f"SELECT max(version) FROM {SCHEMA_TABLE}").fetchone()
        return int(row[0] or 0)

    def _check_schema(self) -> None:
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"PostgreSQL store {self.where} has schema version {version}, newer than this "
                f"phaser-analytics knows ({SCHEMA_VERSION}): upgrade phaser-analytics."
            )
        if version < SCHEMA_VERSION:
            raise StorageError(
                f"PostgreSQL store {self.where} has schema version {version}, older than this "
                f"phaser-analytics ({SCHEMA_VERSION}): run 'phaser analytics store "
                "migrate-schema' (as a role that may alter its tables)."
            )

    def migrate_schema(self, *, automatic: bool = False) -> tuple[int, int]:
        """Apply the migrations the database lacks, in one transaction under an advisory
        lock (so two clients never apply one twice); ``(version before, version after)``.
        A database of a newer schema is refused, untouched."""
        errors = self._psycopg.errors
        try:
            with self._conn.transaction():
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                before = self._schema_version()
                if before > SCHEMA_VERSION:
                    self.schema_version = before
                    self._check_schema()
                if before == 0:
                    self._conn.execute(
                        f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (version integer PRIMARY KEY, "
                        "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), "
                        "applied_by text)"
                    )
                for version, name, sql in MIGRATIONS:
                    if version <= before:
                        continue
                    self._conn.execute(sql)
                    self._conn.execute(
                        f"INSERT INTO {SCHEMA_TABLE} (version, name, applied_by) "
                        "VALUES (%s, %s, current_user || '@' || %s)",
                        (version, name, self.machine),
                    )
                if SCHEMA_VERSION >= VERSION_FUNCTION_FROM and before < SCHEMA_VERSION:
                    # What _connect asks; written here, so every later version keeps it.
                    self._conn.execute(version_function(SCHEMA_VERSION))
        except errors.InsufficientPrivilege:
            what = "has no phaser-analytics tables" if automatic else "needs a schema upgrade"
            raise StorageError(
                f"PostgreSQL store {self.where} {what}, and this role may not create them: "
                "run 'phaser analytics store migrate-schema' as the database's owner "
                "(docs/team.md)."
            ) from None
        except self._psycopg.Error as exc:
            raise self._error(exc, "migrating the schema") from None
        self.schema_version = SCHEMA_VERSION
        return before, SCHEMA_VERSION

    # -- reading -----------------------------------------------------------------------------------

    def _where_clause(
        self, query: AnalyticsQuery | None, project: str | None
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if project is not None:
            clauses.append("project_path = %s")
            params.append(project)
        if query is not None:
            if query.since is not None:
                clauses.append("started_at >= %s")
                params.append(query.since)
            if query.until is not None:
                clauses.append("started_at <= %s")
                params.append(query.until)
            if query.status is not None:
                clauses.append("status = %s")
                params.append(query.status.value)
            if query.document:
                clauses.append("strpos(audit_document, %s) > 0")
                params.append(query.document)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def find(
        self, query: AnalyticsQuery | None = None, *, project: str | None = None
    ) -> Iterator[Entry]:
        where, params = self._where_clause(query, project)
        sql = f"SELECT {_ENTRY_SELECT} FROM {TABLE}{where} ORDER BY {_NEWEST_FIRST}"
        limit = query.limit if query is not None else None
        if limit is not None:
            if limit <= 0:
                return iter(())
            sql += " LIMIT %s"
            params.append(limit)
        return self._entries(sql, params, big=limit is None or limit > FETCH_ROWS)

    def _entries(self, sql: str, params: Sequence[Any], *, big: bool) -> Iterator[Entry]:
        for row in self._rows(sql, params, big=big, doing="reading executions"):
            yield _entry(row)

    def _rows(
        self, sql: str, params: Sequence[Any], *, big: bool, doing: str
    ) -> Iterator[tuple[Any, ...]]:
        """Rows of ``sql``: a small result in one fetch, a big one through a server-side
        cursor ``FETCH_ROWS`` at a time (WITH HOLD, so a write in between does not end it)."""
        if not big:
            with self._guard(doing):
                rows = self._conn.execute(sql, params).fetchall()
            yield from rows
            return
        self._cursors += 1
        cursor = self._conn.cursor(name=f"phaser_read_{self._cursors}", withhold=True)
        try:
            with self._guard(doing):
                cursor.itersize = FETCH_ROWS
                cursor.execute(sql, params)
            while True:
                with self._guard(doing):
                    rows = cursor.fetchmany(FETCH_ROWS)
                if not rows:
                    break
                yield from rows
        finally:
            with contextlib.suppress(Exception):
                cursor.close()

    def read(self, entries: Iterable[Entry]) -> Iterator[ExecutionRecord]:
        chunk: list[str] = []
        for entry in entries:
            chunk.append(entry.execution_id)
            if len(chunk) >= READ_CHUNK:
                yield from self._read_chunk(chunk)
                chunk = []
        if chunk:
            yield from self._read_chunk(chunk)

    def _read_chunk(self, ids: list[str]) -> Iterator[ExecutionRecord]:
        with self._guard("reading executions"):
            rows = self._conn.execute(
                f"SELECT execution_id, record FROM {TABLE} WHERE execution_id = ANY(%s)",
                (ids,),
            ).fetchall()
        yield from loaded_in_order(ids, dict(rows), self._load)

    def record_texts(self, entries: Sequence[Entry]) -> dict[str, str]:
        """The JSON text of each entry's record as stored (``jsonb`` as text), not loaded,
        by lower-cased id; an entry whose row is gone is left out (``store migrate``)."""
        found: dict[str, str] = {}
        for start in range(0, len(entries), READ_CHUNK):
            ids = [e.execution_id for e in entries[start : start + READ_CHUNK]]
            with self._guard("reading executions"):
                rows = self._conn.execute(
                    f"SELECT lower(execution_id), record::text FROM {TABLE} "
                    "WHERE execution_id = ANY(%s)",
                    (ids,),
                ).fetchall()
            found.update(rows)
        return found

    def _load(self, execution_id: str, data: Any) -> ExecutionRecord | None:
        """The record of a row; a row that does not load is moved to the quarantine table
        (when this role may), with one warning."""
        try:
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return ExecutionRecord.from_dict(data)
        except Exception as exc:  # from_dict may raise anything on a damaged record
            reason = f"{type(exc).__name__}: {exc}"
            moved = self._quarantine(execution_id, reason)
            self.warn(
                f"execution {execution_id} in {self.where} cannot be loaded ({reason}); "
                + (
                    "moved to the phaser_quarantine table."
                    if moved
                    else "skipped (this role may not move it aside: run 'phaser analytics doctor "
                    "--repair' as one that may)."
                )
            )
            return None

    def _quarantine(self, execution_id: str, reason: str) -> bool:
        """Move a row to the quarantine table, in its own transaction; False if that
        failed (a read-only role), leaving it in place."""
        try:
            with self._conn.transaction():
                self._conn.execute(
                    f"INSERT INTO {QUARANTINE_TABLE} (execution_id, record, reason, moved_by) "
                    f"SELECT execution_id, record, %s, %s FROM {TABLE} WHERE execution_id = %s",
                    (reason, self.machine, execution_id),
                )
                self._conn.execute(f"DELETE FROM {TABLE} WHERE execution_id = %s", (execution_id,))
        except self._psycopg.Error:
            return False
        self._info = None
        return True

    def get(self, execution_id: str) -> ExecutionRecord:
        entry = self._resolve(execution_id)
        with self._guard("reading an execution"):
            row = self._conn.execute(
                f"SELECT record FROM {TABLE} WHERE execution_id = %s", (entry.execution_id,)
            ).fetchone()
        record = None if row is None else self._load(entry.execution_id, row[0])
        if record is None:
            raise ExecutionNotFoundError(execution_id)
        return record

    def _resolve(self, execution_id: str) -> Entry:
        """The entry of a full id or unique prefix (base.pick_match's messages)."""
        if not is_valid_execution_id(execution_id):
            raise ExecutionNotFoundError(execution_id)
        wanted = execution_id.lower()
        compact = wanted.replace("-", "")
        with self._guard("looking up an execution"):
            rows = self._conn.execute(
                f"SELECT {_ENTRY_SELECT} FROM {TABLE} WHERE lower(execution_id) = %s", (wanted,)
            ).fetchall()
            if not rows:
                rows = self._conn.execute(
                    f"SELECT {_ENTRY_SELECT} FROM {TABLE} WHERE lower(execution_id) LIKE %s "
                    "OR replace(lower(execution_id), '-', '') LIKE %s",
                    (_like_prefix(wanted), _like_prefix(compact)),
                ).fetchall()
        matches = [_entry(row) for row in rows]
        if len(matches) == 1 and matches[0].execution_id.lower() == wanted:
            return matches[0]
        return pick_match(execution_id, matches)

    def info(self) -> StoreInfo:
        """Counts per project, kept for the life of this store object (one command) until
        it saves or deletes: a command asks several times."""
        if self._info is not None:
            return self._info
        with self._guard("counting executions"):
            try:
                rows = self._conn.execute(
                    f"SELECT project_name, project_path, executions FROM {PROJECTS_TABLE} "
                    "ORDER BY executions DESC, project_path"
                ).fetchall()
            except self._psycopg.errors.InsufficientPrivilege:
                # A role granted version 1's tables only (docs/team.md: repeat the GRANTs
                # after an upgrade): the same counts, the slow way.
                rows = self._conn.execute(
                    f"SELECT project_name, project_path, count(*) FROM {TABLE} "
                    "GROUP BY project_name, project_path ORDER BY count(*) DESC, project_path"
                ).fetchall()
        projects = [ProjectCount(name, path, int(count)) for name, path, count in rows]
        self._info = StoreInfo(
            backend=self.backend,
            location=self.location,
            count=sum(p.count for p in projects),
            projects=projects,
            schema_version=str(self.schema_version),
            multi_project=True,
        )
        return self._info

    def identities(self) -> set[tuple[str | None, ...]]:
        """``{entry.identity for entry in self.find()}`` without building the entries:
        the four columns, the start as its entry's (``store migrate``'s verification)."""
        sql = f"SELECT project_path, audit_document, started_text, base_commit FROM {TABLE}"
        return {
            (path, document, datetime_to_json(datetime_from_json(start)), commit)
            for path, document, start, commit in self._rows(
                sql, (), big=True, doing="reading executions"
            )
        }

    def machines(self) -> list[tuple[str | None, int]]:
        """How many executions each machine or CI runner imported, most first."""
        with self._guard("counting executions"):
            return [
                (m, int(n))
                for m, n in self._conn.execute(
                    f"SELECT imported_from, count(*) FROM {TABLE} GROUP BY imported_from "
                    "ORDER BY count(*) DESC, imported_from"
                ).fetchall()
            ]

    # -- writing -----------------------------------------------------------------------------------

    def save(
        self, records: Sequence[ExecutionRecord], *, replace: bool = False
    ) -> list[SaveOutcome]:
        """One transaction. The executions not stored yet are COPied straight in; when
        another client stores one of them meanwhile, or ``replace`` has some to overwrite,
        the batch goes through a temporary table and INSERT … ON CONFLICT DO NOTHING
        instead, then what was already there is looked up (and with ``replace`` updated)."""
        check_ids(records)
        outcomes: list[SaveOutcome | None] = [None] * len(records)
        # Records repeated within the batch count once: the first is written, with
        # ``replace`` the last one's content.
        first_of: dict[str, int] = {}
        first_by_id: dict[str, int] = {}
        batch: dict[int, ExecutionRecord] = {}
        repeats: list[tuple[int, int]] = []
        for index, record in enumerate(records):
            key = identity_key(record.identity)
            lowered = record.execution_id.lower()
            earlier = first_of.get(key, first_by_id.get(lowered))
            if earlier is not None:
                repeats.append((index, earlier))
                if replace:
                    batch[earlier] = record
                continue
            first_of[key] = first_by_id[lowered] = index
            batch[index] = record
        if not batch:
            return []
        existing = self._write_rows(
            {index: self._row(record) for index, record in batch.items()}, replace
        )
        kept = SaveAction.REPLACED if replace else SaveAction.ALREADY
        for index, record in batch.items():
            if index in existing:
                record.execution_id = existing[index]
                outcomes[index] = SaveOutcome(kept, existing[index])
            else:
                outcomes[index] = SaveOutcome(SaveAction.IMPORTED, record.execution_id)
        for index, earlier in repeats:
            stored_id = batch[earlier].execution_id
            records[index].execution_id = stored_id
            outcomes[index] = SaveOutcome(kept, stored_id)
        return [o for o in outcomes if o is not None]

    def _write_rows(self, rows: dict[int, tuple[Any, ...]], replace: bool) -> dict[int, str]:
        """Write a batch's rows (each execution once) in one transaction; for those already
        stored, the stored execution's id."""
        self._info = None
        try:
            existing = self._insert_few(rows) if len(rows) <= FEW_ROWS and not replace else None
            if existing is None:
                with self._conn.transaction():
                    if replace:
                        self._lock_hours()
                    existing = self._stored_ids(rows)
                    if (replace and existing) or not self._copy_new(rows, existing):
                        existing = self._insert_or_replace(rows, replace)
        except self._psycopg.Error as exc:
            raise self._error(exc, f"saving {len(rows)} execution(s)") from None
        self._new_rows += len(rows) - len(existing)
        return existing

    def save_stored(
        self, stored: Sequence[tuple[Entry, str]]
    ) -> tuple[list[SaveOutcome], list[Entry]]:
        """``save`` for ``store migrate`` from a store that keeps each record's JSON text
        (SQLite, PostgreSQL: their ``record_texts``): each text is loaded and checked as
        ``read`` would (``_stored_row``) and goes in as it is, its row built by ``_row`` as
        ``save`` builds it, instead of writing every record out again. Never replaces.
        Returns the outcomes, and the entries whose text ``_stored_row`` refuses (not a
        current record that loads, or not of that entry): the caller copies those the
        ordinary way, which loads (or quarantines) them."""
        rows, refused = self.stored_rows(stored)
        return self.write_stored(rows), refused

    def stored_rows(
        self, stored: Sequence[tuple[Entry, str]]
    ) -> tuple[dict[int, tuple[Any, ...]], list[Entry]]:
        """The first half of :meth:`save_stored`, all in this process (no round trip): the
        rows to write, and the entries refused. ``store migrate`` builds a batch's rows
        with it while the previous batch is written (:meth:`write_stored`)."""
        rows: dict[int, tuple[Any, ...]] = {}
        seen: set[str] = set()
        refused: list[Entry] = []
        for index, (entry, text) in enumerate(stored):
            row = self._stored_row(entry, text)
            if row is None:
                refused.append(entry)
                continue
            keys = (row[1], row[0].lower())
            if seen.intersection(keys):  # a source holds each execution once: not expected
                refused.append(entry)
                continue
            seen.update(keys)
            rows[index] = row
        return rows, refused

    def write_stored(self, rows: dict[int, tuple[Any, ...]]) -> list[SaveOutcome]:
        """The second half of :meth:`save_stored`: write the rows of :meth:`stored_rows` in
        one transaction (as ``save``, all or nothing); their outcomes. It may run in a
        thread of its own while the caller builds the next batch's rows, provided nothing
        else uses this store meanwhile: it mostly waits on the server (psycopg releases
        the GIL), and holds the GIL only to send the rows."""
        existing = self._write_rows(rows, replace=False) if rows else {}
        return [
            SaveOutcome(SaveAction.ALREADY, existing[index])
            if index in existing
            else SaveOutcome(SaveAction.IMPORTED, row[0])
            for index, row in rows.items()
        ]

    def _stored_row(self, entry: Entry, text: str) -> tuple[Any, ...] | None:
        """The row ``save`` would write for the record stored as ``text``, with ``text``
        itself as its ``record``: its columns are the loaded record's (``_row``), never the
        source's index. ``None`` (the caller copies it the ordinary way, which quarantines
        what does not load) unless ``text`` is a record of the current schema that
        :meth:`ExecutionRecord.from_dict` takes (every check, numbers within its bound),
        that agrees with ``entry`` (its store's index of it) on every column the entry
        gives, and whose times, status and derived figures are written as ``to_dict``
        writes them, so the jsonb and the columns say the same."""
        try:
            data = _decode_record(text)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("schema_version") != RECORD_SCHEMA:
            return None
        try:
            record = ExecutionRecord.from_dict(data)
        except Exception:  # from_dict may raise anything on a damaged record
            return None
        if (
            Entry.of(record, entry.ref) != entry
            or data.get("status") != record.status.value
            or any(
                data.get(name) != datetime_to_json(getattr(record, name))
                for name in ("started_at", "completed_at", "imported_at")
            )
            or any(data.get(name) != getattr(record, name) for name in _DERIVED)
        ):
            return None
        return self._row(record, text)

    def _insert_few(self, rows: dict[int, tuple[Any, ...]]) -> dict[int, str]:
        """The path of one import (a report or a few): one ``INSERT … ON CONFLICT DO
        NOTHING`` statement, atomic by itself, one round trip where the general path takes
        five (BEGIN, look-up, SAVEPOINT, COPY, COMMIT); then, only if some were already
        there, their stored ids."""
        one = f"({', '.join(_PLACEHOLDERS)})"
        inserted = {
            row[0]
            for row in self._conn.execute(
                f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES "
                f"{', '.join([one] * len(rows))} ON CONFLICT DO NOTHING RETURNING execution_id",
                [value for row in rows.values() for value in row],
            ).fetchall()
        }
        pending = {index: row for index, row in rows.items() if row[0] not in inserted}
        if not pending:
            return {}
        existing = self._stored_ids(pending)
        if len(existing) < len(pending):  # a conflict names a stored row; never say half
            raise StorageError(
                f"PostgreSQL store {self.where}: a conflicting execution "
                "vanished during the import; run it again."
            )
        return existing

    def _stored_ids(self, rows: dict[int, tuple[Any, ...]]) -> dict[int, str]:
        """For the batch's rows already stored (same identity first, else same id): the
        stored execution's id."""
        keys = [row[1] for row in rows.values()]
        ids = [row[0].lower() for row in rows.values()]
        found = self._conn.execute(
            f"SELECT identity_key, lower(execution_id), execution_id FROM {TABLE} "
            "WHERE identity_key = ANY(%s) OR lower(execution_id) = ANY(%s)",
            (keys, ids),
        ).fetchall()
        by_key = {key: stored for key, _lowered, stored in found}
        by_id = {lowered: stored for _key, lowered, stored in found}
        existing: dict[int, str] = {}
        for index, row in rows.items():
            stored = by_key.get(row[1]) or by_id.get(row[0].lower())
            if stored is not None:
                existing[index] = stored
        return existing

    def _copy_new(self, rows: dict[int, tuple[Any, ...]], existing: dict[int, str]) -> bool:
        """The fast path: COPY the rows not stored straight into the table, in a savepoint.
        False (and nothing written) if another client stored one of them meanwhile: the
        caller then takes the ON CONFLICT path."""
        new = [row for index, row in rows.items() if index not in existing]
        if not new:
            return True
        try:
            with (
                self._conn.transaction(),
                self._conn.cursor().copy(f"COPY {TABLE} ({', '.join(COLUMNS)}) FROM STDIN") as copy,
            ):
                for row in new:
                    copy.write_row(row)
        except self._psycopg.errors.UniqueViolation:
            return False
        return True

    def _insert_or_replace(self, rows: dict[int, tuple[Any, ...]], replace: bool) -> dict[int, str]:
        """The general path: COPY into a temporary table, INSERT … ON CONFLICT DO NOTHING,
        then find (and with ``replace`` overwrite) what was there; the stored ids."""
        self._conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS phaser_incoming "
            f"(seq integer, LIKE {TABLE} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        columns = ", ".join(("seq", *COLUMNS))
        with self._conn.cursor().copy(f"COPY phaser_incoming ({columns}) FROM STDIN") as copy:
            for index, row in rows.items():
                copy.write_row((index, *row))
        inserted = {
            row[0]
            for row in self._conn.execute(
                f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) "
                f"SELECT {', '.join(COLUMNS)} FROM phaser_incoming ORDER BY seq "
                "ON CONFLICT DO NOTHING RETURNING execution_id"
            ).fetchall()
        }
        pending = [index for index, row in rows.items() if row[0] not in inserted]
        existing = self._existing_ids(pending) if pending else {}
        if replace and existing:
            self._replace(existing)
        return existing

    def _row(self, record: ExecutionRecord, text: str | None = None) -> tuple[Any, ...]:
        """The values of COLUMNS for ``record``; its ``record`` column ``text`` when given
        (the JSON it was loaded from: ``save_stored``), else the record written out."""
        if text is None:
            text = json.dumps(record.to_dict(), ensure_ascii=False, allow_nan=False)
        return (
            record.execution_id,
            identity_key(record.identity),
            record.project_name,
            record.project_path,
            record.audit_document,
            record.document_title,
            record.branch,
            record.base_commit,
            record.started_at,
            datetime_to_json(record.started_at),
            record.completed_at,
            datetime_to_json(record.completed_at),
            record.status.value,
            record.duration_seconds,
            record.test_delta,
            record.phases_planned,
            record.phases_completed,
            record.total_tokens,
            None if record.cost_usd is None else repr(float(record.cost_usd)),
            record.imported_at,
            imported_from(record.extra) or self.machine,
            text,
        )

    def _existing_ids(self, pending: list[int]) -> dict[int, str]:
        """For the batch rows not inserted: the id of the execution already stored (the
        same identity first, else the same id)."""
        rows = self._conn.execute(
            "SELECT i.seq, e.execution_id, e.identity_key = i.identity_key "
            f"FROM phaser_incoming i JOIN {TABLE} e ON e.identity_key = i.identity_key "
            "OR lower(e.execution_id) = lower(i.execution_id) WHERE i.seq = ANY(%s) "
            "ORDER BY i.seq, 3 DESC",
            (pending,),
        ).fetchall()
        found: dict[int, str] = {}
        for seq, execution_id, _same_identity in rows:
            found.setdefault(seq, execution_id)
        missing = [seq for seq in pending if seq not in found]
        if missing:  # cannot happen: a conflict names a stored row; never write half
            raise StorageError(
                f"PostgreSQL store {self.where}: a conflicting execution "
                "vanished during the import; run it again."
            )
        return found

    def _lock_hours(self) -> None:
        """Take first, in a transaction that replaces or deletes executions, the lock its
        statement trigger takes to recount their hours: two such transactions then wait
        for each other at the start instead of each holding the insert's lock that the
        other's trigger waits for (a deadlock)."""
        self._conn.execute(f"LOCK TABLE {HOURS_TABLE} IN SHARE ROW EXCLUSIVE MODE")

    def _replace(self, existing: dict[int, str]) -> None:
        """Overwrite the stored executions with the batch's, keeping their stored ids."""
        self._conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS phaser_replacing (seq integer, execution_id text) "
            "ON COMMIT DELETE ROWS"
        )
        with self._conn.cursor().copy("COPY phaser_replacing FROM STDIN") as copy:
            for seq, execution_id in existing.items():
                copy.write_row((seq, execution_id))
        assigned = ", ".join(f"{c} = i.{c}" for c in COLUMNS if c not in ("execution_id", "record"))
        self._conn.execute(
            f"UPDATE {TABLE} e SET {assigned}, stored_at = now(), "
            "record = jsonb_set(i.record, '{execution_id}', to_jsonb(r.execution_id)) "
            "FROM phaser_replacing r JOIN phaser_incoming i ON i.seq = r.seq "
            "WHERE e.execution_id = r.execution_id"
        )

    def delete(self, execution_ids: Iterable[str], *, missing_ok: bool = False) -> list[Entry]:
        chosen: dict[str, Entry] = {}
        wanted = list(execution_ids)
        # Full ids (what `clear` passes, thousands at a time) in one query; prefixes and
        # anything else one by one, with get()'s messages.
        with self._guard("looking up executions"):
            found = [
                _entry(row)
                for row in self._conn.execute(
                    f"SELECT {_ENTRY_SELECT} FROM {TABLE} WHERE lower(execution_id) = ANY(%s)",
                    ([i.lower() for i in wanted if isinstance(i, str)],),
                ).fetchall()
            ]
        exact = {entry.execution_id.lower(): entry for entry in found}
        for execution_id in wanted:
            try:
                entry = exact.get(execution_id.lower()) or self._resolve(execution_id)
            except ExecutionNotFoundError:
                if missing_ok:
                    continue
                raise
            chosen[entry.execution_id] = entry
        if not chosen:
            return []
        with self._guard("deleting executions"), self._conn.transaction():
            self._lock_hours()
            gone = {
                row[0]
                for row in self._conn.execute(
                    f"DELETE FROM {TABLE} WHERE execution_id = ANY(%s) RETURNING execution_id",
                    (list(chosen),),
                ).fetchall()
            }
        self._info = None
        return [entry for execution_id, entry in chosen.items() if execution_id in gone]

    # -- doctor ------------------------------------------------------------------------------------

    def check(self, *, repair: bool = False) -> list[Finding]:
        """The schema version, and every row: its record loads, and its columns (identity
        included) agree with it. ``repair`` moves rows that do not load to the quarantine
        table and rewrites disagreeing columns from the record."""
        findings = [
            Finding(
                "schema",
                f"schema version {self.schema_version} (this phaser-analytics: {SCHEMA_VERSION})",
                "ok",
            )
        ]
        unreadable: list[tuple[str, str]] = []
        stale: list[ExecutionRecord] = []
        sql = f"SELECT {_ENTRY_SELECT}, identity_key, record FROM {TABLE} ORDER BY {_NEWEST_FIRST}"
        total = 0
        for row in self._rows(sql, (), big=True, doing="checking executions"):
            total += 1
            entry, key, data = _entry(row[:-2]), row[-2], row[-1]
            try:
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
                record = ExecutionRecord.from_dict(data)
            except Exception as exc:  # whatever validation raises: not loadable
                unreadable.append((entry.execution_id, f"{type(exc).__name__}: {exc}"))
                continue
            if (
                record.execution_id != entry.execution_id
                or key != identity_key(record.identity)
                or Entry.of(record) != entry
            ):
                stale.append(record)
        findings.append(Finding("rows", f"{total} execution(s) in {self.where}", "ok"))
        for execution_id, reason in unreadable:
            if repair and self._quarantine(execution_id, reason):
                findings.append(
                    Finding("repair", f"moved {execution_id} to the {QUARANTINE_TABLE} table", "ok")
                )
            else:
                findings.append(
                    Finding("record", f"execution {execution_id} cannot be loaded: {reason}")
                )
        if stale:
            fixed = False
            if repair:
                with self._guard("repairing executions"), self._conn.transaction():
                    for record in stale:
                        row = self._row(record)
                        assigned = ", ".join(f"{c} = %s" for c in COLUMNS[1:-2])
                        self._conn.execute(
                            f"UPDATE {TABLE} SET {assigned} WHERE execution_id = %s",
                            (*row[1:-2], record.execution_id),
                        )
                fixed = True
                self._info = None
            findings.append(
                Finding(
                    "columns",
                    f"{len(stale)} execution(s) whose columns disagree with their "
                    f"record{': rewritten from the record' if fixed else ''}",
                    "note" if fixed else "problem",
                )
            )
        with self._guard("checking executions"):
            (quarantined,) = self._conn.execute(
                f"SELECT count(*) FROM {QUARANTINE_TABLE}"
            ).fetchone()
        if quarantined:
            findings.append(
                Finding(
                    "quarantine",
                    f"{quarantined} record(s) in the {QUARANTINE_TABLE} table: "
                    "inspect them with psql",
                    "note",
                )
            )
        return findings

    # -- aggregates in SQL (the optional base.Aggregates) ---------------------------------------

    def _selected(
        self, query: AnalyticsQuery | None, project: str | None, positions: bool = False
    ) -> tuple[str, list[Any]]:
        """``WITH selected AS (…)``: the rows ``find(query, project=project)`` yields; with
        ``positions``, each with ``position``, its place in find's order (newest first)."""
        where, params = self._where_clause(query, project)
        numbered = f", row_number() OVER (ORDER BY {_NEWEST_FIRST}) AS position"
        inner = f"SELECT *{numbered if positions else ''} FROM {TABLE}{where}"
        if query is not None and query.limit is not None:
            inner += f" ORDER BY {_NEWEST_FIRST} LIMIT %s"
            params.append(max(query.limit, 0))
        return f"WITH selected AS ({inner}) ", params

    def _aggregate(self, sql: str, params: Sequence[Any], doing: str) -> list[tuple[Any, ...]]:
        with self._guard(doing):
            return self._conn.execute(sql, params).fetchall()

    def stats(
        self, query: AnalyticsQuery | None = None, *, project: str | None = None
    ) -> AggregatedStats:
        """:meth:`AggregatedStats.compute` of ``find(query, project=project)``, in SQL
        (tests/test_postgres_aggregates.py holds it to the Python path). Cost is summed as
        ``numeric``, so it does not drift. From the partial sums per hour when the query
        allows (:meth:`_hours_of`), else from the selected rows."""
        selected, params = self._selected(query, project)
        doing = "computing statistics"
        hours = self._hours_of(query, project, None, doing)
        if hours is None:
            (row,) = self._aggregate(f"{selected}SELECT {_PARTS} FROM selected", params, doing)
            part = _part(row)
        else:
            part = StatsPart()
            for row in self._aggregate(*hours.sums("", ""), doing):
                if row[0] is not None:  # sums over no hour at all are NULL
                    part.add(_part(row))
        written = self._written(selected, params, [part.first_ts, part.last_ts], doing)
        return part.stats(written.get(part.first_ts), written.get(part.last_ts))

    def _hours_of(
        self,
        query: AnalyticsQuery | None,
        project: str | None,
        zone: tzinfo | None,
        doing: str,
        zoned: bool = False,
        counts_only: bool = False,
    ) -> _Hours | None:
        """How to read the selection's partial sums from HOURS_TABLE: whole UTC hours
        within ``since``/``until`` from it, the executions of the hours either end cuts
        from their rows. ``None`` (read the rows) when the query filters on anything else
        (status, document, limit), or, with ``zoned``, when ``zone`` does not keep whole
        hours over the selection's starts (an offset of 5:30, a change at half past): an
        hour's executions would fall in two local hours."""
        if query is not None and (query.document or query.limit is not None):
            return None
        status = query.status.value if query is not None and query.status else None
        if status is not None and not counts_only:  # the hours' sums mix every status
            return None
        since = _epoch(query.since) if query is not None else None
        until = _epoch(query.until) if query is not None else None
        hours = _Hours(project, since, until, zoned, status=status)
        if query is not None:
            hours.bounds = (query.since, query.until)
        if zoned:
            where, params = hours.where("", dated=True, touching=True)
            # The first and last hour (by the index): their bounds hold every start.
            ((low, high),) = self._aggregate(
                f"SELECT min(hour), max(hour) FROM {HOURS_TABLE}{where}", params, doing
            )
            if low is None:
                hours.empty = True
                return hours
            low, high = low * 3600.0, (high + 1) * 3600.0
            offsets = whole_hour_offsets(zone, low, high)
            if offsets is None:
                return None
            hours.zone_range = (zone, low, high)
            hours.offsets = offsets
        return hours

    def _written(
        self, selected: str, params: list[Any], moments: Iterable[Any], doing: str
    ) -> dict[datetime, datetime | None]:
        """Each start instant of ``moments`` as the selection writes it (its offset): of
        several at one instant, the first in find's order, as AggregatedStats.compute keeps
        the first of equal starts."""
        wanted = sorted({m for m in moments if m is not None})
        if not wanted:
            return {}
        rows = self._aggregate(
            f"{selected}SELECT DISTINCT ON (started_at) started_at, started_text "
            "FROM selected WHERE started_at = ANY(%s) "
            'ORDER BY started_at, execution_id COLLATE "C" DESC',
            [*params, wanted],
            doing,
        )
        return {moment: datetime_from_json(text) for moment, text in rows}

    def _parts_by(
        self,
        query: AnalyticsQuery | None,
        project: str | None,
        zone: tzinfo | None,
        keys: Sequence[str],
        doing: str,
        counts_only: bool = False,
    ) -> tuple[list[tuple[tuple[Any, ...], StatsPart]], str, list[Any], StatsPart | None]:
        """The partial statistics of the dated selected rows by ``keys`` (SQL over ``hour``:
        the start's local hour in ``zone`` counted from 1970-01-01 00:00), with the zone's
        offsets from Python's rules (aggregates.local_seconds_sql), as the SQLite store
        groups them: the periods are exactly the Python path's whatever the server's time
        zone data. From HOURS_TABLE where :meth:`_hours_of` may; rows of equal keys are
        merged by the caller. ``counts_only``: only the executions and the failed ones,
        unless the hours give every sum (no status chosen) for the same scan.

        The fourth value: the statistics of the whole selection when the hours gave every
        sum (undated executions included, as their own group), else ``None``."""
        status = query.status if query is not None else None
        hours = self._hours_of(query, project, zone, doing, zoned=True, counts_only=counts_only)
        if counts_only and hours is not None and status is None:
            counts_only = False  # as cheap as a second scan for stats, which needs them
        parts, hour_parts = (_COUNTS, _HOUR_COUNTS) if counts_only else (_PARTS, _HOUR_SUMS)
        if counts_only and status is not None:
            # Of one status, the hours' count of it; failed ones only if it is "failed".
            column = _STATUS_COUNTS[query.status.value]
            failed = column if query.status.value == "failed" else "0"
            hour_parts = f"sum({column})::bigint, sum({failed})::bigint"
        selected, params = self._selected(query, project)
        grouping = ", ".join(keys).replace("%", "%%")  # psycopg's placeholders use %
        total: StatsPart | None = None
        if hours is not None:
            if not counts_only:
                total = StatsPart()
                # Unbounded: the undated executions too (keys NULL), for the total.
                hours.undated = hours.since is None and hours.until is None
            if hours.empty and not hours.undated:
                return [], selected, params, total
            sql, sql_params = hours.sums(grouping, f"GROUP BY {grouping}", hour_parts, parts)
            rows = self._aggregate(sql, sql_params, doing)
        else:
            epoch = "extract(epoch FROM started_at)::float8"
            ((low, high),) = self._aggregate(
                f"{selected}SELECT min({epoch}), max({epoch}) FROM selected", params, doing
            )
            if low is None:
                return [], selected, params, None
            hour = f"floor({local_seconds_sql(zone, low, high, epoch)} / 3600)::bigint"
            rows = self._aggregate(
                f"{selected.rstrip()}, located AS (SELECT *, {hour} AS hour FROM selected "
                f"WHERE started_at IS NOT NULL) SELECT {grouping}, {parts} FROM located "
                f"GROUP BY {grouping}",
                params,
                doing,
            )
        of_row = _counts if counts_only else _part
        grouped = []
        for row in rows:
            part = of_row(row[len(keys) :])
            if total is not None and part.total:
                total.add(part)
            if row[0] is not None:  # None: the undated executions, in the total only
                grouped.append((tuple(int(key) for key in row[: len(keys)]), part))
        return grouped, selected, params, total

    @staticmethod
    def _total_stats(
        total: StatsPart | None, written: dict[datetime, datetime | None]
    ) -> AggregatedStats | None:
        """The selection's statistics from :meth:`_parts_by`'s total (``written``: the
        start as written of each first and last instant), if it gave one."""
        if total is None:
            return None
        return total.stats(written.get(total.first_ts), written.get(total.last_ts))

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
        return self.periods_with_stats(query, by, zone, project=project)[0]

    def periods_with_stats(
        self,
        query: AnalyticsQuery | None,
        by: str,
        zone: tzinfo | None,
        *,
        project: str | None = None,
    ) -> tuple[dict[date, AggregatedStats], AggregatedStats | None]:
        """:meth:`stats_by_period`, and the selection's :meth:`stats` when the same sums
        give them (``None``: ask :meth:`stats`), as trends needs both."""
        doing = "computing statistics per period"
        rows, selected, params, total = self._parts_by(
            query, project, zone, [LOCAL_DAY_SQL], doing
        )
        parts = parts_by_period(rows, by)
        moments = [m for p in parts.values() for m in (p.first_ts, p.last_ts)]
        if total is not None:
            moments += [total.first_ts, total.last_ts]
        written = self._written(selected, params, moments, doing)
        periods = {
            start: parts[start].stats(written[parts[start].first_ts], written[parts[start].last_ts])
            for start in sorted(parts)
        }
        return periods, self._total_stats(total, written)

    def usage(
        self, query: AnalyticsQuery | None, zone: tzinfo | None, *, project: str | None = None
    ) -> Usage:
        """:func:`~..aggregates.usage` of the selected entries, in SQL."""
        return self.usage_with_stats(query, zone, project=project)[0]

    def usage_with_stats(
        self, query: AnalyticsQuery | None, zone: tzinfo | None, *, project: str | None = None
    ) -> tuple[Usage, AggregatedStats | None]:
        """:meth:`usage`, and the selection's :meth:`stats` when the same sums give them
        (``None``: ask :meth:`stats`), as failures needs both."""
        doing = "counting executions per hour"
        rows, selected, params, total = self._parts_by(
            query, project, zone, [HOUR_OF_DAY_SQL, WEEKDAY_SQL], doing, counts_only=True
        )
        stats = None
        if total is not None:
            moments = [total.first_ts, total.last_ts]
            stats = self._total_stats(total, self._written(selected, params, moments, doing))
        return usage_of_parts(rows), stats

    def phase_summaries(
        self, query: AnalyticsQuery | None, *, project: str | None = None
    ) -> list[PhaseSummary]:
        """:func:`~..aggregates.phase_summaries` of the selected records, from their rows of
        ``phaser_phases``: runs and failures per phase number, its most recent non-empty
        title, and the error and start of its most recent failure."""
        selected, params = self._selected(query, project, positions=True)
        newest = "ORDER BY s.position, p.ordinality"
        doing = "summarising phases"
        rows = self._aggregate(
            f"{selected}SELECT p.phase_number::bigint, count(*), "
            "count(*) FILTER (WHERE p.status = 'failed'), "
            f"(array_agg(p.title {newest}) FILTER (WHERE coalesce(p.title, '') <> ''))[1], "
            f"(array_agg(p.error_message {newest}) FILTER (WHERE p.status = 'failed'))[1], "
            f"(array_agg(s.execution_id {newest}) FILTER (WHERE p.status = 'failed'))[1] "
            f"FROM selected s JOIN {PHASES_TABLE} p ON p.execution_id = s.execution_id "
            "GROUP BY 1 ORDER BY 1",
            params,
            doing,
        )
        started = self._starts_of([row[5] for row in rows if row[5] is not None], doing)
        return [
            PhaseSummary(
                phase=int(number),
                title=title or "",
                runs=int(runs),
                failures=int(failures),
                last_error=error if failures else None,
                last_failed=started.get(failed) if failures else None,
            )
            for number, runs, failures, title, error, failed in rows
        ]

    def _starts_of(self, ids: list[str], doing: str) -> dict[str, datetime | None]:
        """The start, as written, of each execution of ``ids``."""
        if not ids:
            return {}
        rows = self._aggregate(
            f"SELECT execution_id, started_text FROM {TABLE} WHERE execution_id = ANY(%s)",
            [sorted(set(ids))],
            doing,
        )
        return {execution_id: datetime_from_json(text) for execution_id, text in rows}

    def reason_counts(
        self, query: AnalyticsQuery | None, top: int | None = None, *,
        project: str | None = None,
    ) -> list[ReasonCount]:  # fmt: skip
        """:func:`~..aggregates.reason_counts` of the selected records, the first ``top``
        (``None``: every one): the distinct wordings are read first and keyed here by
        ``aggregates.reason_key`` (Python's case folding and white space, whatever the
        server's locale), then the server counts each key once per execution. Without a
        filter that needs the executions, the first statement counts per wording too
        (:meth:`_reasons_of_own_keys`), which is the answer when no two wordings share a
        key."""
        doing = "counting failure reasons"
        conditions: list[str] = []
        condition_params: list[Any] = []
        if query is not None and (query.status is not None or query.document
                                  or query.limit is not None):  # fmt: skip
            # The selected executions' reasons.
            head, head_params = self._selected(query, project)
            joined = f"selected s JOIN {REASONS_TABLE} r ON r.execution_id = s.execution_id"
            source, of = joined, "s"
        else:
            # phaser_reasons carries each reason's start and project (schema version 5):
            # this selection needs no execution.
            head, head_params, source, of = "", [], f"{REASONS_TABLE} r", "r"
            for condition, value in (("r.project_path = %s", project),
                                     ("r.started_at >= %s", query and query.since),
                                     ("r.started_at <= %s", query and query.until)):  # fmt: skip
                if value is not None:
                    conditions.append(condition)
                    condition_params.append(value)
        if head:
            wordings = [
                row[0]
                for row in self._aggregate(
                    f"{head}SELECT DISTINCT r.wording FROM {source} WHERE r.wording IS NOT NULL",
                    head_params,
                    doing,
                )
            ]
        else:
            # One statement gives every wording its count and newest execution as if no
            # two wordings shared a key (the usual case); the keys are checked here.
            own = self._reasons_of_own_keys(conditions, condition_params)
            wordings = [wording for wording, _, _, _ in own]
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        # As aggregates.reasons_of: a record's keys are those of its non-blank reasons, in
        # the order they first appear; each key's wording is the record's first reason
        # with that key, blank or not.
        if not any(w.strip() for w in wordings):
            return []
        keys = [reason_key(w) for w in wordings]
        if not head and len(set(keys)) == len(keys):
            counted = [ReasonCount(wording, int(count), datetime_from_json(started))
                       for wording, count, _, started in own if wording.strip()]  # fmt: skip
            return counted if top is None else counted[:top]
        # pairs: one row per selected execution and key it counts: the wording of its first
        # reason with that key and where its first counted one stands; then per key the
        # executions counted and the newest of them (find's order), whose wording is shown.
        newest = 'p.started_at DESC NULLS LAST, p.execution_id COLLATE "C" DESC'
        rows = self._aggregate(
            f"{head.rstrip()}{', ' if head else 'WITH '}"
            "keys AS (SELECT * FROM unnest(%s::text[], %s::text[], %s::boolean[]) "
            "AS k(wording, key, counted)), "
            # Hashed, not sorted: an execution's one reason of a key (the usual case) is
            # its wording; of several, the first one's is looked up by its ordinality.
            f"grouped AS (SELECT {of}.execution_id, {of}.started_at, k.key, "
            "count(*) AS reasons, min(r.wording) AS wording, min(r.ordinality) AS first_at, "
            "min(r.ordinality) FILTER (WHERE k.counted) AS counted_at "
            f"FROM {source} JOIN keys k ON k.wording = r.wording{where} "
            f"GROUP BY {of}.execution_id, {of}.started_at, k.key "
            "HAVING bool_or(k.counted)), "
            "pairs AS (SELECT g.execution_id, g.started_at, g.key, g.counted_at, "
            "CASE WHEN g.reasons = 1 THEN g.wording ELSE (SELECT f.wording "
            f"FROM {REASONS_TABLE} f WHERE f.execution_id = g.execution_id "
            "AND f.ordinality = g.first_at) END AS wording FROM grouped g), "
            "counts AS (SELECT key, count(*) AS n FROM pairs GROUP BY key), "
            "newest AS (SELECT DISTINCT ON (p.key) p.* FROM pairs p "
            f"ORDER BY p.key, {newest}) "
            "SELECT p.wording, c.n, p.execution_id FROM newest p JOIN counts c USING (key) "
            f"ORDER BY c.n DESC, {newest}, p.counted_at LIMIT %s",  # NULL: no limit
            [
                *head_params,
                wordings,
                keys,
                [bool(w.strip()) for w in wordings],
                *condition_params,
                top,
            ],
            doing,
        )
        started = self._starts_of([row[2] for row in rows], doing)
        return [
            ReasonCount(wording, int(count), started.get(newest)) for wording, count, newest in rows
        ]

    def _reasons_of_own_keys(
        self, conditions: list[str], params: list[Any]
    ) -> list[tuple[Any, ...]]:
        """Per wording of the selection's reasons (``conditions`` on ``phaser_reasons r``):
        the executions that have it, its newest one in find's order and that one's start as
        written, most executions first, then as ``reason_counts`` orders them. These are
        ``reason_counts``' rows when no two wordings share a key (then an execution has a
        key exactly when it has that key's one wording, the wording shown).

        One pass groups the reasons by wording: the executions are its rows but those an
        execution repeats (a later reason of the same wording, looked up by the execution's
        index: no distinct count that sorts every id, ~40 ms at 100,000), and the newest
        start; then each wording's reasons at that start are found through the executions
        that started then (the index on starts), the first of them in find's order being
        its newest."""
        where = " AND ".join(["r.wording IS NOT NULL", *conditions])
        repeated = (
            f"r.ordinality > 1 AND EXISTS (SELECT 1 FROM {REASONS_TABLE} f "
            "WHERE f.execution_id = r.execution_id AND f.ordinality < r.ordinality "
            "AND f.wording = r.wording)"
        )
        return self._aggregate(
            # GROUP BY in "C": the same groups (equal texts are equal bytes), compared as
            # bytes instead of by the database's locale. The repeats are counted apart, from
            # the reasons after an execution's first only: in the same pass (a FILTER) the
            # look-up's estimate, charged for every reason, made the planner sort the
            # ~30,000 reasons by wording instead of hashing them (~20 against ~10 ms).
            f"WITH per AS (SELECT w.wording, w.n - coalesce(d.repeats, 0) AS n, w.newest "
            f'FROM (SELECT r.wording COLLATE "C" AS wording, count(*) AS n, '
            f"max(r.started_at) AS newest FROM {REASONS_TABLE} r WHERE {where} "
            "GROUP BY 1) w "
            f'LEFT JOIN (SELECT r.wording COLLATE "C" AS wording, count(*) AS repeats '
            f"FROM {REASONS_TABLE} r WHERE {where} AND {repeated} GROUP BY 1) d "
            "USING (wording)), "
            # The reasons at each wording's newest start: through the executions that
            # started then (by the index on starts), or, for a wording of undated
            # executions only, from a scan that runs only if there is one.
            "newest AS (SELECT DISTINCT ON (c.wording) c.* FROM ("
            "SELECT r.wording, r.execution_id, r.ordinality FROM per p "
            f"JOIN {TABLE} e ON e.started_at = p.newest JOIN {REASONS_TABLE} r "
            f"ON r.execution_id = e.execution_id AND r.wording = p.wording WHERE {where} "
            "UNION ALL SELECT r.wording, r.execution_id, r.ordinality "
            f"FROM {REASONS_TABLE} r JOIN per p ON p.wording = r.wording "
            f"WHERE p.newest IS NULL AND r.started_at IS NULL AND {where} "
            "AND EXISTS (SELECT FROM per WHERE newest IS NULL)) c "
            # "C": sorted by bytes, not by the database's locale (equal ids are equal).
            'ORDER BY c.wording, c.execution_id COLLATE "C" DESC, c.ordinality) '
            "SELECT p.wording, p.n, n.execution_id, e.started_text "
            f"FROM per p JOIN newest n USING (wording) LEFT JOIN {TABLE} e "
            "ON e.execution_id = n.execution_id "
            'ORDER BY p.n DESC, p.newest DESC NULLS LAST, n.execution_id COLLATE "C" DESC, '
            "n.ordinality",
            [*params, *params, *params, *params],
            "counting failure reasons",
        )


#: The partial statistics of a group of rows, in :class:`~..aggregates.StatsPart`'s order
#: (first and last start as ``timestamptz``; cost summed as ``numeric``).
_PARTS = """
    count(*),
    count(*) FILTER (WHERE status = 'success'),
    count(*) FILTER (WHERE status = 'partial'),
    count(*) FILTER (WHERE status = 'failed'),
    count(duration_seconds), sum(duration_seconds), min(duration_seconds),
    max(duration_seconds),
    count(test_delta), sum(test_delta),
    sum(phases_planned),
    sum(least(coalesce(phases_completed, 0), phases_planned))
        FILTER (WHERE phases_planned IS NOT NULL),
    min(started_at), max(started_at),
    count(total_tokens), sum(total_tokens),
    count(cost_usd), sum(cost_usd)::float8
"""


def _part(row: Sequence[Any]) -> StatsPart:
    """A row of ``_PARTS`` as a StatsPart: bigint sums come back as ``numeric``."""
    values = list(row)
    for index in _NUMERIC_SUMS:
        if values[index] is not None:
            values[index] = int(values[index])
    return StatsPart.of_row(values)


def _epoch(moment: datetime | None) -> float | None:
    """A query's bound as a POSIX timestamp (a naive one is UTC, as the server reads it)."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def _local_hour_sql(hour: str, first: int, changes: list[tuple[int, int]]) -> str:
    """SQL for ``hour`` (a UTC hour counted from 1970-01-01) as the local hour in a zone
    whose offsets are whole hours (:func:`~..aggregates.whole_hour_offsets`' ``first`` and
    ``changes``): integer arithmetic, nothing at all in UTC. The same local hour as
    ``floor(local_seconds_sql(…, hour * 3600) / 3600)``: a change at a whole hour takes
    effect from that hour."""
    if not changes:
        return hour if first == 0 else f"({hour} + {first})"
    offsets = [first, *(offset for _, offset in changes)]
    cases = " ".join(f"WHEN {hour} < {at} THEN {offsets[i]}" for i, (at, _) in enumerate(changes))
    return f"({hour} + CASE {cases} ELSE {offsets[-1]} END)"


#: HOURS_TABLE's columns summed as ``_PARTS`` gives them, in the same types.
_HOUR_SUMS = ", ".join(
    f"{'min' if name.endswith(('_min', 'first_ts')) else 'max'}({name})"
    if name.endswith(("_min", "_max", "_ts"))
    else f"sum({name})::{ {'duration_sum': 'float8', 'cost_sum': 'float8'}.get(name, kind) }"
    for name, kind, _ in HOUR_PARTS
)


@dataclass
class _Hours:
    """A selection read from HOURS_TABLE (:meth:`PostgresStore._hours_of`): its project,
    its bounds as POSIX timestamps, and the zone whose local ``hour`` it is grouped by."""

    project: str | None
    since: float | None
    until: float | None
    zoned: bool
    zone_range: tuple[tzinfo | None, float, float] | None = None
    empty: bool = False
    #: A status the selection has (counts only: the hours count each status, no more).
    status: str | None = None
    #: since and until as given (the rows are compared with them, as find compares).
    bounds: tuple[datetime | None, datetime | None] = (None, None)
    #: The zone's offsets over zone_range in whole hours (aggregates.whole_hour_offsets).
    offsets: tuple[int, list[tuple[int, int]]] | None = None
    #: Whether the zoned sums take the undated executions too (their hour is NULL).
    undated: bool = False

    @property
    def full(self) -> tuple[int | None, int | None]:
        """The first whole hour within the bounds, and the hour after the last one."""
        first = None if self.since is None else -int(-self.since // 3600)
        end = None if self.until is None else int(self.until // 3600)
        return first, end

    def where(self, alias: str, *, dated: bool, touching: bool = False) -> tuple[str, list[Any]]:
        """HOURS_TABLE's rows of the selection: whole hours only, or (``touching``) every
        hour with a selected start."""
        clauses, params = [], []
        if self.project is not None:
            # Never an ``everything`` row: those have no project path.
            clauses.append(f"{alias}project_path = %s")
            params.append(self.project)
        else:  # every project: the rows of every project's executions per hour (version 7)
            clauses.append(f"{alias}everything")
        if dated or self.since is not None or self.until is not None:
            clauses.append(f"{alias}hour IS NOT NULL")
        first, end = self.full
        if touching:
            first = None if self.since is None else int(self.since // 3600)
            end = None if self.until is None else int(self.until // 3600) + 1
        if first is not None:
            clauses.append(f"{alias}hour >= %s")
            params.append(first)
        if end is not None:
            clauses.append(f"{alias}hour < %s")
            params.append(end)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def sums(
        self, keys: str, grouping: str, hour_parts: str = "", row_parts: str = ""
    ) -> tuple[str, list[Any]]:
        """SQL (and its parameters) of ``keys`` (over ``hour``, the local hour) and
        ``_PARTS`` by ``grouping``: the whole hours' sums, then, if the bounds cut hours,
        the sums of those hours' selected executions from their rows."""
        prefix = f"{keys}, " if keys else ""
        hour_parts, row_parts = hour_parts or _HOUR_SUMS, row_parts or _PARTS
        local = "h.hour"
        if self.offsets is not None:
            local = _local_hour_sql("h.hour", *self.offsets)
        columns = ", ".join(name for name, _, _ in HOUR_PARTS)
        where, params = self.where("h.", dated=self.zoned and not self.undated)
        sql = (
            f"SELECT {prefix}{hour_parts} FROM (SELECT {local} AS hour, {columns} "
            f"FROM {HOURS_TABLE} h{where}) x {grouping}"
        )
        if self.since is None and self.until is None:
            return sql, params
        first, end = self.full
        bounds, edges = [], []
        rows = ["started_at IS NOT NULL"]
        if self.project is not None:
            rows.append("project_path = %s")
            bounds.append(self.project)
        if self.status is not None:
            rows.append("status = %s")
            bounds.append(self.status)
        for bound, sign in zip(self.bounds, (">=", "<="), strict=True):
            if bound is not None:
                rows.append(f"started_at {sign} %s")
                bounds.append(bound)
        if first is not None:
            edges.append("started_at < to_timestamp(%s)")
            bounds.append(first * 3600)
        if end is not None:
            edges.append("started_at >= to_timestamp(%s)")
            bounds.append(end * 3600)
        rows.append(f"({' OR '.join(edges)})")
        hour = "floor(extract(epoch FROM started_at) / 3600)"
        if self.zone_range is not None:
            zone, low, high = self.zone_range
            epoch = "extract(epoch FROM started_at)::float8"
            hour = f"floor({local_seconds_sql(zone, low, high, epoch)} / 3600)"
        sql += (
            f" UNION ALL SELECT {prefix}{row_parts} FROM (SELECT *, {hour}::bigint AS hour "
            f"FROM {TABLE} WHERE {' AND '.join(rows)}) y {grouping}"
        )
        return sql, [*params, *bounds]


#: What usage needs of a group of rows, or of HOURS_TABLE's rows: executions and failed ones.
_COUNTS = "count(*), count(*) FILTER (WHERE status = 'failed')"
_HOUR_COUNTS = "sum(total)::bigint, sum(failed)::bigint"
#: HOURS_TABLE's count of each status.
_STATUS_COUNTS = {"success": "successful", "partial": "partial", "failed": "failed"}


def _counts(row: Sequence[Any]) -> StatsPart:
    return StatsPart(total=int(row[0] or 0), failed=int(row[1] or 0))


#: Which of ``_PARTS`` PostgreSQL sums as ``numeric`` (sums of bigint and integer columns).
_NUMERIC_SUMS = (9, 10, 11, 15)


def _no_constant(name: str) -> Any:
    """json.loads' ``parse_constant``: NaN and Infinity are no record's (nor jsonb's)."""
    raise ValueError(f"{name} in a record")


#: ``json.loads(text, parse_constant=_no_constant)`` without a new decoder per record.
_decode_record = json.JSONDecoder(parse_constant=_no_constant).decode


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _entry(row: Sequence[Any]) -> Entry:
    """An entry from a row of the entry columns (in :data:`~.base.ENTRY_FIELDS`' order,
    the starts as written)."""
    if len(row) != len(ENTRY_FIELDS):
        raise ValueError(f"an entry row has {len(row)} values, not {len(ENTRY_FIELDS)}")
    # By position (the show's anomaly rule reads ~800 of them): the fields' order.
    ident, document, title, name, path, branch, base, started, completed, status, *rest = row
    return Entry(
        ident, document, title, name, path, branch, base, datetime_from_json(started),
        datetime_from_json(completed), ExecutionStatus(status), *rest,
    )  # fmt: skip


def open_postgres(
    url: str, *, project_dir: Path | None = None, warn: Callable[[str], None] | None = None
) -> PostgresStore:
    """The ``register_stores`` opener for ``postgresql://`` and ``postgres://``."""
    # ``is not None``: a warn callback may be falsy (an empty list that collects warnings).
    if warn is None:
        return PostgresStore(url, project_dir=project_dir)
    return PostgresStore(url, project_dir=project_dir, warn=warn)
