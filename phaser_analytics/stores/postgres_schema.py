"""The PostgreSQL store's schema: its tables' names, the SQL that keeps the derived tables
(per project, phase, reason and hour) from phaser_executions, and MIGRATIONS, the versioned
changes ``store migrate-schema`` applies in order (docs/team.md). Only SQL text here: the
store (``postgres.py``) runs it.
"""

from __future__ import annotations

from ..machine import EXTRA_KEY

TABLE = "phaser_executions"
SCHEMA_TABLE = "phaser_schema"
#: Rows whose record no longer loads, moved aside by a read or by ``doctor --repair``.
QUARANTINE_TABLE = "phaser_quarantine"
#: Executions per project (schema version 2), kept by triggers on TABLE.
PROJECTS_TABLE = "phaser_projects"
#: One row per phase and per failure reason of each execution (schema version 4), kept by
#: triggers on TABLE from the records.
PHASES_TABLE = "phaser_phases"
REASONS_TABLE = "phaser_reasons"
#: Partial statistics per project and UTC hour of start (schema version 5), kept by
#: triggers on TABLE: what stats, trends and failures read instead of every execution.
HOURS_TABLE = "phaser_hours"
_PHASE_ROWS = (
    "SELECT n.execution_id, p.ordinality, p.phase->>'phase_number', p.phase->>'title', "
    "p.phase->>'status', p.phase->>'error_message' FROM {rows} n "
    "CROSS JOIN LATERAL jsonb_array_elements(CASE jsonb_typeof(n.record->'phases') "
    "WHEN 'array' THEN n.record->'phases' ELSE '[]'::jsonb END) "
    "WITH ORDINALITY AS p(phase, ordinality)"
)
_REASON_ROWS = (
    "SELECT n.execution_id, r.ordinality, r.reason #>> '{{}}' FROM {rows} n "
    "CROSS JOIN LATERAL jsonb_array_elements(CASE jsonb_typeof(n.record->'failure_reasons') "
    "WHEN 'array' THEN n.record->'failure_reasons' ELSE '[]'::jsonb END) "
    "WITH ORDINALITY AS r(reason, ordinality)"
)
#: phaser_reasons' rows from schema version 5 on: with their execution's start and project,
#: so failures counts them without joining every execution.
_REASON_ROWS_5 = (
    "SELECT n.execution_id, r.ordinality, r.reason #>> '{{}}', n.started_at, n.project_path "
    "FROM {rows} n "
    "CROSS JOIN LATERAL jsonb_array_elements(CASE jsonb_typeof(n.record->'failure_reasons') "
    "WHEN 'array' THEN n.record->'failure_reasons' ELSE '[]'::jsonb END) "
    "WITH ORDINALITY AS r(reason, ordinality)"
)

# -- partial statistics per project and hour (schema version 5) ------------------------------

#: The UTC hour of a start, counted from 1970-01-01 00:00 (NULL when undated).
_UTC_HOUR = "floor(extract(epoch FROM started_at) / 3600)::bigint"
#: HOURS_TABLE's statistics columns, in StatsPart's order, and how a group of executions
#: gives each (sums never NULL, so adding is ``+``; cost as exact ``numeric``).
HOUR_PARTS: tuple[tuple[str, str, str], ...] = (
    ("total", "bigint", "count(*)"),
    ("successful", "bigint", "count(*) FILTER (WHERE status = 'success')"),
    ("partial", "bigint", "count(*) FILTER (WHERE status = 'partial')"),
    ("failed", "bigint", "count(*) FILTER (WHERE status = 'failed')"),
    ("durations", "bigint", "count(duration_seconds)"),
    ("duration_sum", "double precision", "coalesce(sum(duration_seconds), 0)"),
    ("duration_min", "double precision", "min(duration_seconds)"),
    ("duration_max", "double precision", "max(duration_seconds)"),
    ("deltas", "bigint", "count(test_delta)"),
    ("delta_sum", "numeric", "coalesce(sum(test_delta), 0)"),
    ("planned", "numeric", "coalesce(sum(phases_planned), 0)"),
    ("completed", "numeric", "coalesce(sum(least(coalesce(phases_completed, 0), "
                             "phases_planned)) FILTER (WHERE phases_planned IS NOT NULL), 0)"),
    ("first_ts", "timestamptz", "min(started_at)"),
    ("last_ts", "timestamptz", "max(started_at)"),
    ("tokens", "bigint", "count(total_tokens)"),
    ("token_sum", "numeric", "coalesce(sum(total_tokens), 0)"),
    ("costs", "bigint", "count(cost_usd)"),
    ("cost_sum", "numeric", "coalesce(sum(cost_usd), 0)"),
)
_HOUR_COLUMNS_SQL = ",\n            ".join(
    f"{name} {kind} NOT NULL" if not name.endswith(("_min", "_max", "_ts")) else f"{name} {kind}"
    for name, kind, _ in HOUR_PARTS
)
_HOUR_KEY = (
    "coalesce(project_path, ''), (project_path IS NULL), coalesce(project_name, ''), "
    "(project_name IS NULL), coalesce(hour, 0), (hour IS NULL)"
)
_HOUR_NAMES = ", ".join(name for name, _, _ in HOUR_PARTS)
#: How an existing row of HOURS_TABLE takes in ``excluded``'s executions.
_HOUR_MERGE = ", ".join(
    f"{name} = {'least' if name.endswith(('_min', 'first_ts')) else 'greatest'}"
    f"(h.{name}, excluded.{name})"
    if name.endswith(("_min", "_max", "_ts"))
    else f"{name} = h.{name} + excluded.{name}"
    for name, _, _ in HOUR_PARTS
)
#: The executions an UPDATE touched, before and after (transition tables).
_BOTH_ROWS = (
    "(SELECT project_name, project_path, started_at FROM old_rows "
    "UNION ALL SELECT project_name, project_path, started_at FROM new_rows)"
)


def _hours_grouped(rows: str, where: str = "") -> str:
    sums = ", ".join(expression for _, _, expression in HOUR_PARTS)
    return (
        f"SELECT project_name, project_path, {_UTC_HOUR}, {sums} FROM {rows} e{where} "
        "GROUP BY 1, 2, 3 ORDER BY 2, 1, 3"  # one order for every writer: no deadlock
    )


def _statement_triggers(name: str, function: str) -> str:
    """SQL creating the three statement triggers ``{name}_insert``, ``_update`` and
    ``_delete`` on TABLE that call ``function`` with the transition tables ``new_rows``
    and ``old_rows`` (each as its statement has them)."""
    return "\n".join(
        f"CREATE TRIGGER {name}_{event.lower()} AFTER {event} ON {TABLE} REFERENCING "
        f"{transitions} FOR EACH STATEMENT EXECUTE FUNCTION {function}();"
        for event, transitions in (
            ("INSERT", "NEW TABLE AS new_rows"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
            ("DELETE", "OLD TABLE AS old_rows"),
        )
    )


def _hours_added(rows: str) -> str:
    """SQL adding the executions of ``rows`` to HOURS_TABLE."""
    return (
        f"INSERT INTO {HOURS_TABLE} AS h (project_name, project_path, hour, {_HOUR_NAMES}) "
        f"{_hours_grouped(rows)} ON CONFLICT ({_HOUR_KEY}) DO UPDATE SET {_HOUR_MERGE}"
    )


def _hour_key(alias: str, hour: str) -> str:
    """The key of HOURS_TABLE's unique index, as a row value comparable with ``=``/``IN``
    (so the server hashes it), for the row ``alias`` whose hour is ``hour``."""
    return (
        f"(coalesce({alias}.project_path, ''), {alias}.project_path IS NULL, "
        f"coalesce({alias}.project_name, ''), {alias}.project_name IS NULL, "
        f"coalesce({hour}, 0), {hour} IS NULL)"
    )


def _hours_recounted(rows: str) -> str:
    """SQL recounting, from TABLE, the project-hours of the executions of ``rows``."""
    of_row = _UTC_HOUR.replace("started_at", "{0}.started_at")
    touched = f"SELECT DISTINCT {_hour_key('r', of_row.format('r'))[1:-1]} FROM {rows} r"
    return (
        f"DELETE FROM {HOURS_TABLE} h WHERE {_hour_key('h', 'h.hour')} IN ({touched});\n"
        f"INSERT INTO {HOURS_TABLE} (project_name, project_path, hour, {_HOUR_NAMES}) "
        + _hours_grouped(TABLE, f" WHERE {_hour_key('e', of_row.format('e'))} IN ({touched})")
    )


def _projects_added(rows: str) -> str:
    """SQL adding the executions of ``rows`` to PROJECTS_TABLE's counts."""
    return (
        f"INSERT INTO {PROJECTS_TABLE} AS p (project_name, project_path, executions) "
        f"SELECT project_name, project_path, count(*) FROM {rows} GROUP BY 1, 2 ORDER BY 2, 1 "
        "ON CONFLICT (coalesce(project_path, ''), (project_path IS NULL), "
        "coalesce(project_name, ''), (project_name IS NULL)) "
        "DO UPDATE SET executions = p.executions + excluded.executions"
    )


#: The function of the one AFTER INSERT trigger (schema version 6), and the trigger.
INSERTED_FUNCTION = f"{TABLE}_inserted"
#: From schema version 7: a function returning the schema version, written by ``store
#: migrate-schema`` with each upgrade, that every connection asks instead of reading
#: SCHEMA_TABLE (a table a new server process opens for nothing else: ~0.7 ms of its
#: CPU per command, docs/performance.md).
VERSION_FUNCTION = "phaser_schema_version"
VERSION_FUNCTION_FROM = 7


def version_function(version: int) -> str:
    """SQL (re)writing VERSION_FUNCTION to return ``version``: IMMUTABLE, so the server
    folds the call into a constant when it plans the statement. Its unused argument, of
    SCHEMA_TABLE's row type, makes it depend on that table: it cannot outlive it (``DROP
    TABLE phaser_schema`` is refused, or with CASCADE drops the function too), so no
    database without the table claims a version."""
    return (
        f"CREATE OR REPLACE FUNCTION {VERSION_FUNCTION}(unused {SCHEMA_TABLE} DEFAULT NULL) "
        f"RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS 'SELECT {int(version)}'"
    )

# -- every project's partial statistics per hour (schema version 7) ----------------------------

#: HOURS_TABLE's key from schema version 7: ``everything`` rows hold every project's
#: executions of their hour (project_name and project_path NULL), what --global reads.
_HOUR_KEY_7 = f"everything, {_HOUR_KEY}"
#: The sums of integers that version 7 keeps as bigint (numeric before): adding bigints is
#: exact and several times cheaper for the readers. token_sum (of bigints: it could
#: overflow) and cost_sum (exact decimals) stay numeric.
_BIGINT_SUMS_7 = ("delta_sum", "planned", "completed")


def _hours_grouped_7(rows: str, where: str = "") -> str:
    """``rows``' executions per project and UTC hour, and per hour for every project (the
    ``everything`` rows), in one scan, in the one order every writer takes them in."""
    sums = ", ".join(expression for _, _, expression in HOUR_PARTS)
    return (
        f"SELECT grouping(project_name, project_path) <> 0, project_name, project_path, hour, "
        f"{sums} FROM (SELECT *, {_UTC_HOUR} AS hour FROM {rows}) e{where} "
        "GROUP BY GROUPING SETS ((project_name, project_path, hour), (hour)) "
        "ORDER BY 1, 3, 2, 4"  # one order for every writer: no deadlock
    )


def _hours_added_7(rows: str) -> str:
    """SQL adding the executions of ``rows`` to HOURS_TABLE (schema version 7)."""
    return (
        f"INSERT INTO {HOURS_TABLE} AS h (everything, project_name, project_path, hour, "
        f"{_HOUR_NAMES}) {_hours_grouped_7(rows)} "
        f"ON CONFLICT ({_HOUR_KEY_7}) DO UPDATE SET {_HOUR_MERGE}"
    )


def _hours_recounted_7(rows: str) -> str:
    """SQL recounting, from TABLE, every row of HOURS_TABLE (each project's and the
    ``everything`` one) of the hours the executions of ``rows`` start in."""
    of_row = _UTC_HOUR.replace("started_at", "r.started_at")
    touched = f"SELECT DISTINCT coalesce({of_row}, 0), {of_row} IS NULL FROM {rows} r"
    return (
        f"DELETE FROM {HOURS_TABLE} h WHERE (coalesce(h.hour, 0), h.hour IS NULL) "
        f"IN ({touched});\n"
        f"INSERT INTO {HOURS_TABLE} (everything, project_name, project_path, hour, "
        f"{_HOUR_NAMES}) "
        + _hours_grouped_7(TABLE, f" WHERE (coalesce(hour, 0), hour IS NULL) IN ({touched})")
    )


# -- migrations --------------------------------------------------------------------------------

#: (version, name, SQL) in order. Never edit one that has shipped: add the next. From
#: version 7 on, ``store migrate-schema`` also rewrites VERSION_FUNCTION to return the
#: version it reached (what every connection reads): a version that stops doing so must
#: drop that function, so older clients read SCHEMA_TABLE and refuse it.
MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "executions table",
        f"""
        CREATE TABLE {TABLE} (
            execution_id     text PRIMARY KEY,
            identity_key     text NOT NULL,
            project_name     text,
            project_path     text,
            audit_document   text,
            document_title   text,
            branch           text,
            base_commit      text,
            started_at       timestamptz,
            started_text     text,
            completed_at     timestamptz,
            completed_text   text,
            status           text NOT NULL,
            duration_seconds double precision,
            test_delta       integer,
            phases_planned   integer,
            phases_completed integer,
            total_tokens     bigint,
            cost_usd         numeric,
            imported_at      timestamptz NOT NULL,
            imported_from    text,
            stored_at        timestamptz NOT NULL DEFAULT now(),
            record           jsonb NOT NULL,
            CONSTRAINT {TABLE}_identity UNIQUE (identity_key)
        );
        CREATE UNIQUE INDEX {TABLE}_id_ci ON {TABLE} (lower(execution_id) text_pattern_ops);
        CREATE INDEX {TABLE}_newest ON {TABLE}
            (started_at DESC NULLS LAST, execution_id COLLATE "C" DESC);
        CREATE INDEX {TABLE}_project ON {TABLE}
            (project_path, started_at DESC NULLS LAST, execution_id COLLATE "C" DESC);
        CREATE INDEX {TABLE}_status ON {TABLE} (status, started_at DESC);
        CREATE TABLE {QUARANTINE_TABLE} (
            execution_id text NOT NULL,
            record       jsonb NOT NULL,
            reason       text NOT NULL,
            moved_at     timestamptz NOT NULL DEFAULT now(),
            moved_by     text
        );
        """,
    ),
    (
        2,
        "executions per project, kept by triggers",
        # info() (every command: which projects, how many executions) read them with a
        # GROUP BY over every row, ~70 ms at 100,000; this table holds one row per project.
        # Statement triggers keep it in the writing transaction, whatever writes (COPY,
        # INSERT, UPDATE, DELETE, psql); SECURITY DEFINER so a role granted the tables of
        # version 1 only may still write executions.
        f"""
        CREATE TABLE {PROJECTS_TABLE} (
            project_name text,
            project_path text,
            executions   bigint NOT NULL
        );
        CREATE UNIQUE INDEX {PROJECTS_TABLE}_key ON {PROJECTS_TABLE}
            (coalesce(project_path, ''), (project_path IS NULL),
             coalesce(project_name, ''), (project_name IS NULL));
        CREATE FUNCTION {PROJECTS_TABLE}_count() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $count$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                UPDATE {PROJECTS_TABLE} p SET executions = p.executions - gone.n
                FROM (SELECT project_name, project_path, count(*) AS n FROM old_rows
                      GROUP BY 1, 2) gone
                WHERE p.project_path IS NOT DISTINCT FROM gone.project_path
                  AND p.project_name IS NOT DISTINCT FROM gone.project_name;
            END IF;
            IF TG_OP IN ('UPDATE', 'INSERT') THEN
                INSERT INTO {PROJECTS_TABLE} AS p (project_name, project_path, executions)
                SELECT project_name, project_path, count(*) FROM new_rows
                GROUP BY 1, 2 ORDER BY 2, 1
                ON CONFLICT (coalesce(project_path, ''), (project_path IS NULL),
                             coalesce(project_name, ''), (project_name IS NULL))
                DO UPDATE SET executions = p.executions + excluded.executions;
            END IF;
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                DELETE FROM {PROJECTS_TABLE} WHERE executions <= 0;
            END IF;
            RETURN NULL;
        END
        $count$;
        {_statement_triggers(PROJECTS_TABLE, f"{PROJECTS_TABLE}_count")}
        INSERT INTO {PROJECTS_TABLE} (project_name, project_path, executions)
            SELECT project_name, project_path, count(*) FROM {TABLE} GROUP BY 1, 2;
        """,
    ),
    (
        3,
        "machines in the records, an index for the aggregates",
        # Records carry the machine they were imported from (extra.imported_from) since
        # this version; those stored before get their imported_from column's. The index
        # holds every column the aggregates read, for index-only scans (~15 MB per 100,000).
        f"""
        UPDATE {TABLE}
            SET record = jsonb_set(record, '{{extra,{EXTRA_KEY}}}', to_jsonb(imported_from))
            WHERE imported_from IS NOT NULL AND jsonb_typeof(record->'extra') = 'object'
              AND NOT (record->'extra') ? '{EXTRA_KEY}';
        CREATE INDEX {TABLE}_aggregates ON {TABLE} (started_at)
            INCLUDE (status, duration_seconds, test_delta, phases_planned, phases_completed,
                     total_tokens, cost_usd, project_path, audit_document, execution_id);
        """,
    ),
    (
        4,
        "phases and failure reasons, kept by triggers",
        # phases and failures read them from every record's jsonb (~4 s and ~2 s at
        # 100,000); these narrow tables hold one row per phase and per reason, written by
        # statement triggers in the writing transaction (as phaser_projects).
        f"""
        CREATE TABLE {PHASES_TABLE} (
            execution_id  text NOT NULL,
            ordinality    bigint NOT NULL,
            phase_number  text,
            title         text,
            status        text,
            error_message text
        );
        CREATE INDEX {PHASES_TABLE}_execution ON {PHASES_TABLE} (execution_id);
        CREATE TABLE {REASONS_TABLE} (
            execution_id text NOT NULL,
            ordinality   bigint NOT NULL,
            wording      text
        );
        CREATE INDEX {REASONS_TABLE}_execution ON {REASONS_TABLE} (execution_id);
        CREATE FUNCTION phaser_children_sync() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $sync$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                DELETE FROM {PHASES_TABLE}
                    WHERE execution_id IN (SELECT execution_id FROM old_rows);
                DELETE FROM {REASONS_TABLE}
                    WHERE execution_id IN (SELECT execution_id FROM old_rows);
            END IF;
            IF TG_OP IN ('UPDATE', 'INSERT') THEN
                INSERT INTO {PHASES_TABLE} {_PHASE_ROWS.format(rows="new_rows")};
                INSERT INTO {REASONS_TABLE} {_REASON_ROWS.format(rows="new_rows")};
            END IF;
            RETURN NULL;
        END
        $sync$;
        {_statement_triggers("phaser_children", "phaser_children_sync")}
        INSERT INTO {PHASES_TABLE} {_PHASE_ROWS.format(rows=TABLE)};
        INSERT INTO {REASONS_TABLE} {_REASON_ROWS.format(rows=TABLE)};
        """,
    ),
    (
        5,
        "statistics per project and hour, kept by triggers; reasons with their start; "
        "records in lz4",
        # phaser_reasons gains each execution's start and project (failures joined every
        # execution to have them). stats, trends and failures grouped every execution per
        # call (~0.1-0.2 s per query at 100,000); this table holds their partial sums per
        # project and UTC hour
        # of start (NULL: undated), so they read one row per project-hour. Inserts add to
        # it; updates and deletes recount the hours they touch, under a lock that waits
        # for the writers of those hours (rare: clear, --replace, doctor --repair).
        # lz4 (where the server has it) compresses a record several times faster than
        # pglz: COPY of 100,000 took 16 s with pglz, 11 s with lz4.
        f"""
        DO $lz4$ BEGIN
            -- Column compression came with PostgreSQL 14: EXECUTE, so that older servers
            -- never parse the statement; a server built without lz4 keeps pglz.
            IF current_setting('server_version_num')::int >= 140000 THEN
                EXECUTE 'ALTER TABLE {TABLE} ALTER COLUMN record SET COMPRESSION lz4';
            END IF;
        EXCEPTION WHEN feature_not_supported THEN NULL;
        END $lz4$;
        ALTER TABLE {REASONS_TABLE} ADD COLUMN started_at timestamptz,
            ADD COLUMN project_path text;
        UPDATE {REASONS_TABLE} r SET started_at = e.started_at, project_path = e.project_path
            FROM {TABLE} e WHERE e.execution_id = r.execution_id;
        CREATE OR REPLACE FUNCTION phaser_children_sync() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $sync$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                DELETE FROM {PHASES_TABLE}
                    WHERE execution_id IN (SELECT execution_id FROM old_rows);
                DELETE FROM {REASONS_TABLE}
                    WHERE execution_id IN (SELECT execution_id FROM old_rows);
            END IF;
            IF TG_OP IN ('UPDATE', 'INSERT') THEN
                INSERT INTO {PHASES_TABLE} {_PHASE_ROWS.format(rows="new_rows")};
                INSERT INTO {REASONS_TABLE} (execution_id, ordinality, wording, started_at,
                                             project_path)
                    {_REASON_ROWS_5.format(rows="new_rows")};
            END IF;
            RETURN NULL;
        END
        $sync$;
        CREATE TABLE {HOURS_TABLE} (
            project_name text,
            project_path text,
            hour         bigint,
            {_HOUR_COLUMNS_SQL}
        );
        CREATE UNIQUE INDEX {HOURS_TABLE}_key ON {HOURS_TABLE} ({_HOUR_KEY});
        CREATE INDEX {HOURS_TABLE}_hour ON {HOURS_TABLE} (hour);
        CREATE FUNCTION {HOURS_TABLE}_sync() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $hours$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {_hours_added("new_rows")};
            ELSIF TG_OP = 'DELETE' THEN
                LOCK TABLE {HOURS_TABLE} IN SHARE ROW EXCLUSIVE MODE;
                {_hours_recounted("old_rows")};
            ELSE
                LOCK TABLE {HOURS_TABLE} IN SHARE ROW EXCLUSIVE MODE;
                {_hours_recounted(_BOTH_ROWS)};
            END IF;
            RETURN NULL;
        END
        $hours$;
        {_statement_triggers(HOURS_TABLE, f"{HOURS_TABLE}_sync")}
        {_hours_added(TABLE)};
        """,
    ),
    (
        6,
        "one insert trigger for every derived table",
        # Each import is a new connection, so a new backend, which loads PL/pgSQL, compiles
        # the trigger functions it calls and plans their statements afresh. Versions 2, 4
        # and 5 left three statement triggers per INSERT (three functions, each testing
        # TG_OP); one function holding only the insert's four statements, in the order the
        # three ran (phases and reasons, hours, projects: the order every writer takes the
        # hours and projects rows in, so none deadlocks), costs ~0.7 ms of server CPU less
        # per import (docs/performance.md). UPDATE and DELETE keep the version 5 triggers.
        f"""
        CREATE OR REPLACE FUNCTION {INSERTED_FUNCTION}() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $inserted$
        BEGIN
            INSERT INTO {PHASES_TABLE} {_PHASE_ROWS.format(rows="new_rows")};
            INSERT INTO {REASONS_TABLE} (execution_id, ordinality, wording, started_at,
                                         project_path)
                {_REASON_ROWS_5.format(rows="new_rows")};
            {_hours_added("new_rows")};
            {_projects_added("new_rows")};
            RETURN NULL;
        END
        $inserted$;
        DROP TRIGGER phaser_children_insert ON {TABLE};
        DROP TRIGGER {HOURS_TABLE}_insert ON {TABLE};
        DROP TRIGGER {PROJECTS_TABLE}_insert ON {TABLE};
        CREATE TRIGGER {INSERTED_FUNCTION} AFTER INSERT ON {TABLE}
            REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION {INSERTED_FUNCTION}();
        """,
    ),
    (
        7,
        "every project's statistics per hour; sums of integers in bigint",
        # --global (trends, failures: the team's view) summed every project's rows of
        # each hour, 39,275 rows at 100,000 executions; version 7 keeps beside them one
        # "everything" row per hour (8,760), written by the same statement (GROUPING
        # SETS): --global reads those alone, a project its own as before. The sums of
        # integers become bigint (exact, and cheaper to add up than numeric); cost stays
        # numeric (decimals), token_sum too (a sum of bigints could overflow one).
        # Updates and deletes recount every row of the hours they touch.
        f"""
        ALTER TABLE {HOURS_TABLE}
            ADD COLUMN everything boolean NOT NULL DEFAULT false,
            {", ".join(f"ALTER COLUMN {name} TYPE bigint" for name in _BIGINT_SUMS_7)};
        DROP INDEX {HOURS_TABLE}_key;
        CREATE UNIQUE INDEX {HOURS_TABLE}_key ON {HOURS_TABLE} ({_HOUR_KEY_7});
        INSERT INTO {HOURS_TABLE} (everything, hour, {_HOUR_NAMES})
            SELECT true, hour, {", ".join(
                f"{'min' if n.endswith(('_min', 'first_ts')) else 'max'}({n})"
                if n.endswith(("_min", "_max", "_ts")) else f"sum({n})"
                for n, _, _ in HOUR_PARTS)}
            FROM {HOURS_TABLE} GROUP BY hour ORDER BY hour;
        CREATE OR REPLACE FUNCTION {INSERTED_FUNCTION}() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $inserted$
        BEGIN
            INSERT INTO {PHASES_TABLE} {_PHASE_ROWS.format(rows="new_rows")};
            INSERT INTO {REASONS_TABLE} (execution_id, ordinality, wording, started_at,
                                         project_path)
                {_REASON_ROWS_5.format(rows="new_rows")};
            {_hours_added_7("new_rows")};
            {_projects_added("new_rows")};
            RETURN NULL;
        END
        $inserted$;
        CREATE OR REPLACE FUNCTION {HOURS_TABLE}_sync() RETURNS trigger
            LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $hours$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {_hours_added_7("new_rows")};
            ELSE
                LOCK TABLE {HOURS_TABLE} IN SHARE ROW EXCLUSIVE MODE;
                IF TG_OP = 'DELETE' THEN
                    {_hours_recounted_7("old_rows")};
                ELSE
                    {_hours_recounted_7(_BOTH_ROWS)};
                END IF;
            END IF;
            RETURN NULL;
        END
        $hours$;
        """,
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]
