"""``clear``: delete executions, carefully."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from ..storage import Store
from .main import EXIT_USAGE, DateBound, err, project_option, resolve_project

#: How many executions --dry-run and the confirmation list by name.
LISTED = 10


@click.command()
@click.option(
    "--before",
    type=DateBound(),
    help="Clear executions that started before DATE (a bare date: before that "
    "day began, so the day itself is kept).",
)
@click.option("--all", "clear_all", is_flag=True, help="Clear all analytics data.")
@click.option("--force", "-f", is_flag=True, help="Skip the confirmation prompt.")
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; change nothing.")
@project_option
def clear(
    before: datetime | None,
    clear_all: bool,
    force: bool,
    dry_run: bool,
    project: Path | None,
) -> None:
    """Clear analytics data (all of it, or executions before a date)."""
    if not clear_all and before is None:
        raise click.UsageError("Specify --all or --before DATE.")
    if clear_all and before is not None:
        raise click.UsageError("--all and --before cannot be used together.")
    store = Store(resolve_project(project), warn=lambda m: err(f"Warning: {m}"))
    entries = store.entries()
    doomed = (
        list(entries)
        if clear_all
        else [e for e in entries if e.started_at is not None and e.started_at < before]  # type: ignore[operator]
    )
    if not doomed:
        click.echo(f"Nothing to delete; {len(entries)} execution record(s) kept.")
        return
    if dry_run:
        click.echo(f"Would delete {len(doomed)} execution records:")
        for entry in doomed[:LISTED]:
            day = entry.started_at.date().isoformat() if entry.started_at else "unknown date"
            click.echo(f"  - {entry.audit_document or entry.execution_id} ({day})")
        if len(doomed) > LISTED:
            click.echo(f"  ... and {len(doomed) - LISTED} more")
        click.echo(f"{len(entries) - len(doomed)} would remain.")
        return
    if not force:
        if not sys.stdin.isatty():
            err(
                f"Refusing to delete {len(doomed)} execution records without confirmation; "
                "no terminal to ask on. Add --force."
            )
            sys.exit(EXIT_USAGE)
        click.confirm(f"Delete {len(doomed)} execution records?", abort=True)
    removed = store.delete([e.execution_id for e in doomed])
    remaining = len(store.entries())
    click.echo(f"Deleted {len(removed)} execution records. {remaining} remaining.")
