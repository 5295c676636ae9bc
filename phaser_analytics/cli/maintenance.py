"""Looking after the store: ``clear``, ``doctor`` and ``projects``."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ..errors import AnalyticsError, stderr_warning
from ..formatting import clean_text, format_date, format_datetime, pad_to_width
from ..project_registry import ProjectEntry, load_projects, prune_projects, update_execution_count
from ..query import project_key
from ..stores.base import Entry, Finding, resolve_id
from .main import (
    EXIT_FAILED,
    EXIT_USAGE,
    DateBound,
    command_zone,
    err,
    open_command_store,
    project_option,
    resolve_project,
    say,
    store_option,
    zone_option,
)
from .metrics_cmds import aggregate_options, project_statistics, wants_statistics


class UnconfirmedError(AnalyticsError):
    """A deletion that needs a yes, with nobody to ask (no terminal on stdin)."""

    exit_code = EXIT_USAGE


#: How many executions --dry-run lists by name.
LISTED = 10


def can_prompt() -> bool:
    """Whether a person can answer a question (CI has no terminal on stdin)."""
    return sys.stdin.isatty()


# -- clear --------------------------------------------------------------------------------------


def _doomed(entries: Sequence[Entry], before: datetime | None, clear_all: bool) -> list[Entry]:
    """What ``clear`` deletes: everything, or what started before ``before`` (an execution
    whose start is unknown is never "before" anything, so it is kept)."""
    if clear_all:
        return list(entries)
    assert before is not None
    return [e for e in entries if e.started_at is not None and e.started_at < before]


def _describe(entry: Entry, zone: Any) -> str:
    """One doomed execution and its day in ``zone``, the zone ``--before`` is read in."""
    day = format_date(entry.started_at, tz=zone) if entry.started_at else "unknown date"
    return f"  - {clean_text(entry.audit_document or entry.execution_id)} ({day})"


def _remaining(entries: Sequence[Entry], zone: Any) -> str:
    """``"3 remaining (2024-12-01 to 2024-12-03)."``, the days in ``zone``."""
    starts = [e.started_at for e in entries if e.started_at is not None]
    if not starts:
        return f"{len(entries)} remaining."
    first, last = format_date(min(starts), tz=zone), format_date(max(starts), tz=zone)
    return f"{len(entries)} remaining ({first} to {last})."


@click.command()
@click.argument("execution_ids", nargs=-1, metavar="[EXECUTION_ID]...")
@click.option(
    "--before",
    type=DateBound(),
    help="Clear executions that started before DATE. A bare date means before that day "
    "began (in --tz, else local time), so executions on DATE itself are kept.",
)
@click.option("--all", "clear_all", is_flag=True, help="Clear all analytics data.")
@click.option("--force", "-f", is_flag=True, help="Skip the confirmation prompt.")
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; change nothing.")
@project_option
@zone_option
@store_option
def clear(
    execution_ids: tuple[str, ...],
    before: datetime | None,
    clear_all: bool,
    force: bool,
    dry_run: bool,
    project: Path | None,
    zone: Any,
) -> None:
    """With EXECUTION_IDs (ids or unique prefixes, as `show` lists them), clear just those.
    Without --force it asks first; with no terminal to ask on (CI) it refuses.
    """
    chosen = [name for name, given in (("EXECUTION_ID", execution_ids), ("--all", clear_all),
                                       ("--before", before is not None)) if given]  # fmt: skip
    if not chosen:
        raise click.UsageError("Specify --all, --before DATE or EXECUTION_IDs.")
    if len(chosen) > 1:
        raise click.UsageError(f"{' and '.join(chosen)} cannot be used together.")
    project_dir = resolve_project(project)
    zone = command_zone(click.get_current_context())
    store = open_command_store(project_dir)
    key = project_key(project_dir, store)
    entries = list(store.find(project=key))
    if execution_ids:
        # Every id is resolved before anything is deleted: one unknown id, nothing deleted.
        found = {resolve_id(given, entries).execution_id for given in execution_ids}
        doomed = [e for e in entries if e.execution_id in found]
    else:
        doomed = _doomed(entries, before, clear_all)
    if not doomed:
        say(f"Nothing to delete. {_remaining(entries, zone)}")
        return
    if dry_run:
        say(f"Would delete {len(doomed)} execution records:")
        for entry in doomed[:LISTED]:
            say(_describe(entry, zone))
        if len(doomed) > LISTED:
            say(f"  ... and {len(doomed) - LISTED} more")
        doomed_ids = {e.execution_id for e in doomed}
        kept = [e for e in entries if e.execution_id not in doomed_ids]
        say(f"Nothing was deleted. {_remaining(kept, zone)}")
        return
    if not force:
        if not can_prompt():
            raise UnconfirmedError(
                f"Refusing to delete {len(doomed)} execution records without confirmation: "
                "there is no terminal to ask on. Add --force."
            )
        if not click.confirm(f"Delete {len(doomed)} execution records?"):
            # The user's answer, not an error: nothing deleted, exit 0.
            say(f"Nothing was deleted. {_remaining(entries, zone)}")
            return
    removed = store.delete([e.execution_id for e in doomed], missing_ok=True)
    left = list(store.find(project=key))
    update_execution_count(project_dir, len(left), warn=stderr_warning)
    say(f"Deleted {len(removed)} execution records. {_remaining(left, zone)}")


# -- doctor -------------------------------------------------------------------------------------

_MARKS = {"ok": "✓", "note": "·", "problem": "✗"}


def _report(findings: Sequence[Finding]) -> None:
    for finding in findings:
        say(f"  {_MARKS[finding.level]} {finding.message}")


@click.command()
@click.option(
    "--repair",
    is_flag=True,
    help="Fix what can be fixed: rebuild the index, move corrupt records to quarantine/, "
    "remove leftover temporary files.",
)
@project_option
@store_option
def doctor(repair: bool, project: Path | None) -> None:
    store = open_command_store(resolve_project(project))
    say(f"Checking {store.url}")
    findings = store.check(repair=repair)
    repaired = [f for f in findings if f.check == "repair"]
    for finding in repaired:
        say(f"  repaired: {finding.message}")
    if repair and not repaired:
        say("  nothing needed repairing")
    findings = [f for f in findings if f.check != "repair"]
    _report(findings)
    problems = [f for f in findings if f.problem]
    if not problems:
        say("No problems found.")
        return
    advice = (
        "they need a hand: see docs/storage.md, 'Recovering'."
        if repair
        else "run 'phaser analytics doctor --repair' to fix what can be fixed."
    )
    say(f"{len(problems)} problem(s) found; {advice}")
    sys.exit(EXIT_FAILED)


# -- projects -----------------------------------------------------------------------------------

_COLUMNS = ("NAME", "PATH", "LAST SEEN", "EXECUTIONS", "DIRECTORY")


def _row(project: ProjectEntry, zone: Any, from_store: bool) -> tuple[str, ...]:
    """A project's row; the last import's time in ``zone`` (``analytics.tz``, else local).
    DIRECTORY is ``store`` for a project known only from the store in force: its path is
    where it was imported (another laptop, a CI runner), not a directory here to check."""
    last_seen = project.last_seen
    return (
        clean_text(project.name),
        clean_text(project.path),
        format_datetime(last_seen, "%Y-%m-%d %H:%M", tz=zone) if last_seen else "-",
        str(project.execution_count),
        "store" if from_store else "ok" if project.exists() else "missing",
    )


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    from ..formatting import display_width

    widths = [max(display_width(row[i]) for row in [_COLUMNS, *rows]) for i in range(len(_COLUMNS))]
    align = ("left", "left", "left", "right", "left")
    return [
        "  ".join(pad_to_width(cell, widths[i], align[i]) for i, cell in enumerate(row)).rstrip()
        for row in [_COLUMNS, *rows]
    ]


def _as_json(project: ProjectEntry, from_store: bool) -> dict[str, object]:
    return {
        **project.to_dict(),
        "exists": project.exists(),
        "source": "store" if from_store else "registry",
    }


def _with_store_projects(
    registered: list[ProjectEntry], project: Path | None
) -> tuple[list[ProjectEntry], set[str]]:
    """The registry, and the projects of the store in force when it holds many (SQLite,
    PostgreSQL): imports into such a store do not write the registry, the store knows its
    projects and their counts (the store's count wins; LAST SEEN is the registry's, if
    any). A store that cannot be read is one warning: the registry is still listed. With
    the paths of the projects known only from the store (not registered here)."""
    from ..stores.base import holds_many_projects
    from .main import store_url

    project_dir = resolve_project(project)
    if store_url(project_dir) is None:
        return registered, set()
    try:
        store = open_command_store(project_dir)
        try:
            held = store.info().projects if holds_many_projects(store) else []
        finally:
            store.close()
    except (AnalyticsError, OSError) as exc:
        stderr_warning(f"the projects of the store in force are not listed: {exc}")
        return registered, set()
    by_path = {p.path: p for p in registered}
    store_only: set[str] = set()
    for count in held:
        if not count.path:  # executions of no project: not a project to list
            continue
        entry = by_path.get(count.path)
        if entry is None:
            name = count.name or Path(count.path).name
            by_path[count.path] = ProjectEntry(name, count.path, None, count.count)
            store_only.add(count.path)
        else:
            entry.execution_count = count.count
    return list(by_path.values()), store_only


@click.command("projects")
@click.option("--prune", is_flag=True, help="Forget projects whose directory no longer exists.")
@click.option("--json", "as_json", is_flag=True, hidden=True, help="The same as --format json.")
@aggregate_options(format_default=None)
@click.pass_context
def projects_cmd(ctx: click.Context, prune: bool, as_json: bool, **stats: Any) -> None:
    """The registered projects, and those of the store in force when it holds many
    (SQLite, PostgreSQL), as a table, or with --format json as JSON. DIRECTORY is ok or
    missing for a registered project's directory, and store for a project known only from
    the store (imported elsewhere: another machine, a CI runner), which --prune leaves
    alone. With --global, a filter, --tz or --project (or a format only statistics have,
    such as csv or markdown): statistics per project instead, of every project --global
    aggregates (or the one given): executions, success rate, average duration, tokens,
    cost and last run.
    """
    if as_json:
        if stats.get("output_format") not in (None, "json"):
            raise click.UsageError("--json is --format json; give one of them.")
        stats["output_format"] = "json"
    as_json = stats.get("output_format") == "json"
    removed = prune_projects() if prune else []
    if wants_statistics(stats):
        if removed:
            err(f"Removed {len(removed)} project(s) whose directory is gone.")
        project_statistics(ctx, **stats)
        return
    listed, store_only = _with_store_projects(load_projects(), stats.get("project"))
    projects = sorted(listed, key=lambda p: (p.name.lower(), p.path))
    if as_json:
        payload: dict[str, object] = {
            "projects": [_as_json(p, p.path in store_only) for p in projects]
        }
        if prune:
            payload["removed"] = [p.to_dict() for p in removed]
        click.echo(json.dumps(payload, indent=2))  # ASCII: every control character escaped
        return
    if prune:
        say(f"Removed {len(removed)} project(s) whose directory is gone.")
        for project in removed:
            say(f"  - {clean_text(project.name)} ({clean_text(project.path)})")
    if not projects:
        say(
            "No projects registered yet; 'phaser analytics import' registers the project "
            "it imports into."
        )
        return
    zone = command_zone(ctx)
    for line in _table([_row(p, zone, p.path in store_only) for p in projects]):
        say(line)
    # Only the registry's entries can be pruned: a project known from the store in force
    # names where it was imported (another machine), and --prune leaves the store alone.
    missing = sum(1 for p in projects if p.path not in store_only and not p.exists())
    if missing:
        say(
            f"{missing} project(s) no longer exist; 'phaser analytics projects --prune' "
            "forgets them."
        )
