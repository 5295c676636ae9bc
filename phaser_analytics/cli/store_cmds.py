"""``store info`` and ``store migrate``: which store is in use, and moving between stores."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import stderr_warning
from ..stores.base import SaveAction, claim_for_project, holds_many_projects
from .main import (
    EXIT_FAILED,
    AppContext,
    err,
    open_command_store,
    project_option,
    resolve_project,
    say,
    store_option,
)

#: Executions copied per transaction of the target store.
MIGRATE_BATCH = 500


@click.group("store")
def store() -> None:
    # A group: its subcommands do the work; its help is cli.main.COMMANDS's.
    pass


@store.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@project_option
@store_option
def info_cmd(as_json: bool, project: Path | None) -> None:
    """Print the store's backend, location, count, projects and schema version."""
    opened = open_command_store(resolve_project(project))
    try:
        info = opened.info()
    finally:
        opened.close()
    if as_json:
        payload = {
            "backend": info.backend,
            "location": info.location,
            "count": info.count,
            "schema_version": info.schema_version,
            "projects": [{"name": p.name, "path": p.path, "count": p.count} for p in info.projects],
        }
        click.echo(json.dumps(payload, indent=2))
        return
    say(f"Backend:        {info.backend}")
    say(f"Location:       {info.location}")
    say(f"Schema version: {info.schema_version}")
    say(f"Executions:     {info.count}")
    say(f"Projects:       {len(info.projects)}")
    for project_count in info.projects:
        name = project_count.name or "-"
        path = project_count.path or "-"
        say(f"  {name}  {path}  ({project_count.count})")


@store.command("migrate")
@click.option("--to", "to_url", required=True, metavar="URL", help="The store to copy into.")
@click.option(
    "--from",
    "from_url",
    metavar="URL",
    help="The store to copy from (default: the store in use: --store, PHASER_STORE, config "
    "analytics.store, else the project's).",
)
@project_option
@store_option
@click.pass_context
def migrate_cmd(
    ctx: click.Context, to_url: str, from_url: str | None, project: Path | None
) -> None:
    """Copy every execution into another store, then verify it holds them all.

    Idempotent and resumable: executions the target already holds (by identity) are left
    as they are, so running it again after an interruption copies only the rest.
    """
    from ..stores import open_store

    project_dir = resolve_project(project)
    app: AppContext = ctx.obj
    source = (
        open_store(from_url, project_dir=project_dir, warn=stderr_warning, host=app.host())
        if from_url
        else open_command_store(project_dir)
    )
    target = open_store(to_url, project_dir=project_dir, warn=stderr_warning, host=app.host())
    if source.url == target.url:
        raise click.UsageError("--to names the store being copied from.")
    # From one project's store into a store of many, the executions belong to that project
    # (as an import into it would have them), whatever path their reports stated.
    claim = (
        str(project_dir.resolve())
        if holds_many_projects(target) and not holds_many_projects(source)
        else None
    )
    try:
        copied, already, wanted = _copy(source, target, claim)
        if wanted is None:  # the source dropped some on the way (quarantined): ask it again
            wanted = {_identity_in_target(entry, claim) for entry in source.find()}
        held = (
            target.identities()
            if callable(getattr(target, "identities", None))
            else {entry.identity for entry in target.find()}
        )
    finally:
        source.close()
        target.close()
    missing = wanted - held
    say(
        f"Copied {copied} execution(s) from {source.url} to {target.url}"
        + (f"; {already} were already there." if already else ".")
    )
    if missing:
        err(
            f"Verification failed: {len(missing)} of the {len(wanted)} executions are not in "
            f"{target.url}. Run the command again."
        )
        sys.exit(EXIT_FAILED)
    say(f"Verified: {target.url} holds all {len(wanted)} execution(s) of {source.url}.")


def _identity_in_target(entry: Any, claim: str | None) -> tuple[str | None, ...]:
    """The identity ``entry``'s execution has once copied: filed under ``claim``'s project
    path when the copy claims them for one project."""
    return (claim, *entry.identity[1:]) if claim else entry.identity


def _copy(
    source: Any, target: Any, claim: str | None = None
) -> tuple[int, int, set[tuple[str | None, ...]] | None]:
    """Copy every execution of ``source`` into ``target``, batch by batch: each record as
    stored when the source gives its JSON text (``record_texts``) and the target takes it
    (``save_stored``), unless the records change on the way (``claim``); else, and for what
    ``save_stored`` refuses, each record loaded and saved. ``(copied, already there, the
    identities listed)``, the last as the target has them (``claim``'s path), or ``None``
    when the source gave fewer records than it listed (it quarantined one that no longer
    loads, or it was gone): the caller then lists the source again for the verification.

    A target that splits ``save_stored`` into building the rows (``stored_rows``) and
    writing them (``write_stored``, PostgreSQL) has each batch written in a thread while
    this one builds the next batch's rows: the server's work (COPY, indexes, triggers,
    commit) overlaps the reading and checking. One write at a time, in order, never more
    than one batch ahead; a write that fails stops the copy with its error; the target's
    connection is never used by both threads at once; Ctrl-C cancels the write under way
    (the target's optional ``cancel``)."""
    copied = already = 0
    wanted: set[tuple[str | None, ...]] = set()
    dropped = False
    batch: list[Any] = []
    as_stored = (
        claim is None
        and callable(getattr(source, "record_texts", None))
        and callable(getattr(target, "save_stored", None))
    )
    behind = (
        as_stored
        and callable(getattr(target, "stored_rows", None))
        and callable(getattr(target, "write_stored", None))
    )
    pool = None
    pending: Any = None  # the batch being written in the thread (a Future)
    if behind:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(1, thread_name_prefix="phaser-migrate")

    def tally(outcomes: list[Any]) -> None:
        nonlocal copied, already
        for outcome in outcomes:
            if outcome.action is SaveAction.ALREADY:
                already += 1
            else:
                copied += 1

    def settle() -> None:
        """Wait for the batch being written; its error, if any, is raised here."""
        nonlocal pending
        if pending is not None:
            done, pending = pending, None
            tally(done.result())

    def flush() -> None:
        nonlocal pending, dropped
        if not batch:
            return
        rest = batch
        if as_stored:
            texts = source.record_texts(batch)
            stored = [(e, texts[e.execution_id.lower()]) for e in batch
                      if e.execution_id.lower() in texts]  # fmt: skip
            rest = [e for e in batch if e.execution_id.lower() not in texts]
            if pool is not None:
                rows, refused = target.stored_rows(stored)
                settle()
                pending = pool.submit(target.write_stored, rows)
            else:
                outcomes, refused = target.save_stored(stored)
                tally(outcomes)
            rest += refused
        records = list(source.read(rest)) if rest else []
        dropped = dropped or len(records) < len(rest)
        if claim:
            records = [claim_for_project(record, claim) for record in records]
        if records:
            settle()  # one user of the target's connection at a time
            tally(target.save(records))
        batch.clear()

    try:
        for entry in source.find():
            wanted.add(_identity_in_target(entry, claim))
            batch.append(entry)
            if len(batch) >= MIGRATE_BATCH:
                flush()
        flush()
        settle()
    except KeyboardInterrupt:
        # Interrupted: stop the write under way rather than wait for it (its batch is
        # rolled back; running the command again copies it).
        if pending is not None and callable(getattr(target, "cancel", None)):
            target.cancel()
        raise
    finally:
        if pool is not None:
            # Never leave a write running behind the caller's back (it closes the target).
            pool.shutdown(wait=True)
    return copied, already, None if dropped else wanted


@store.command("migrate-schema")
@project_option
@store_option
def migrate_schema_cmd(project: Path | None) -> None:
    """Bring a PostgreSQL store's tables up to this version's schema.

    A shared database is upgraded only by this command, run by a role that may alter its
    tables (the database's owner), never as a side effect of another command; an empty
    database gets its tables on first use when the role may create them (docs/team.md).
    JSON and SQLite stores are brought up to date whenever they are opened.
    """
    from ..stores import open_store
    from ..stores.base import redact, url_scheme
    from .main import store_url

    project_dir = resolve_project(project)
    url = store_url(project_dir)
    if url is not None and url_scheme(url) in ("postgresql", "postgres"):
        from ..stores.postgres import MIGRATIONS, PostgresStore

        target = PostgresStore(
            url, project_dir=project_dir, warn=stderr_warning, create=False, check_version=False
        )
        try:
            before, after = target.migrate_schema()
        finally:
            target.close()
        if before == after:
            click.echo(f"{target.url}: schema version {after}, up to date.")
            return
        applied = [f"{v} ({name})" for v, name, _sql in MIGRATIONS if before < v <= after]
        click.echo(
            f"{target.url}: schema version {before} -> {after}; applied {', '.join(applied)}."
        )
        return
    opened = open_store(url, project_dir=project_dir, warn=stderr_warning)
    try:
        info = opened.info()
    finally:
        opened.close()
    click.echo(
        f"{redact(info.location)}: {info.backend} store, schema version "
        f"{info.schema_version or '-'}; it is brought up to date when opened."
    )
