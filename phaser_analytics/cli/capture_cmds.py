"""``capture`` (Claude Code's SessionEnd hook) and ``hooks install|uninstall|status``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from .main import err, project_option, resolve_project

#: When the command began, for capture's time budgets (set as this module is imported,
#: the closest to the process start that is free).
_IMPORTED_AT = time.monotonic()


@click.command()
@click.option(
    "--drain",
    is_flag=True,
    help="Import the sessions earlier hooks left in the spool, and say what happened; "
    "standard input is not read.",
)
def capture(drain: bool) -> None:
    """Reads the hook's JSON on standard input (session_id, transcript_path, cwd), finds the
    EXECUTION_REPORT.md written during the session in its project, and imports it with the
    session's token usage. Never fails: problems go to .phaser/analytics/capture.log and
    the exit status is 0. `hooks install` sets it up.
    """
    from .. import capture as capturing

    if drain:
        total = capturing.drain()
        click.echo(
            f"Drained the spool: {total.imported} imported, {total.already} already "
            f"imported, {total.failed} failed."
        )
        return
    if sys.stdin is None or sys.stdin.isatty():
        err(
            "capture reads Claude Code's SessionEnd hook JSON on standard input; "
            "run `phaser analytics hooks install` to set it up."
        )
        return
    capturing.run(sys.stdin.buffer, _IMPORTED_AT)


SCOPE_HELP = (
    "Which settings file: user (~/.claude/settings.json), project (.claude/settings.json, "
    "shared through git) or local (.claude/settings.local.json, yours only)."
)


def scope_option(func):  # type: ignore[no-untyped-def]
    return click.option(
        "--scope",
        type=click.Choice(["user", "project", "local"]),
        default="user",
        show_default=True,
        help=SCOPE_HELP,
    )(func)


@click.group()
def hooks() -> None:
    # A group: its subcommands do the work; its help is cli.main.COMMANDS's.
    pass


def _change(scope: str, project: Path | None, dry_run: bool, install: bool) -> None:
    from .. import claude_settings as cs

    path = cs.checked_path(scope, resolve_project(project))
    settings = cs.read_settings(path)
    if install:
        new = cs.with_hook(settings.data, cs.hook_command())
    else:
        new = cs.without_hook(settings.data)
    new_text = cs.dump(new)
    if new == settings.data:
        what = "already installed" if install else "not installed"
        click.echo(f"The SessionEnd hook is {what} in {path}; nothing to change.")
        return
    if dry_run:
        click.echo(cs.unified_diff(settings, new_text), nl=False)
        click.echo("(dry run: nothing was written)")
        return
    backup = cs.write_settings(settings, new_text)
    done = "Installed" if install else "Removed"
    click.echo(f"{done} the SessionEnd hook in {path}.")
    if backup is not None:
        click.echo(f"The previous file is saved as {backup}.")


@hooks.command("install")
@scope_option
@click.option("--dry-run", is_flag=True, help="Print the change as a diff; write nothing.")
@project_option
def install(scope: str, dry_run: bool, project: Path | None) -> None:
    """Add the SessionEnd hook (`phaser analytics capture`) to a Claude Code settings file.

    Every other key and hook is kept; installing again changes nothing; the old file is
    saved as <file>.bak and the new one written atomically.
    """
    _change(scope, project, dry_run, install=True)


@hooks.command("uninstall")
@scope_option
@click.option("--dry-run", is_flag=True, help="Print the change as a diff; write nothing.")
@project_option
def uninstall(scope: str, dry_run: bool, project: Path | None) -> None:
    """Remove our SessionEnd hook, and only ours, from a Claude Code settings file."""
    _change(scope, project, dry_run, install=False)


@hooks.command("status")
@project_option
def status(project: Path | None) -> None:
    """Say in which Claude Code settings files the hook is installed."""
    from .. import capture as capturing
    from .. import claude_settings as cs
    from ..errors import AnalyticsError

    project_dir = resolve_project(project)
    for scope in cs.SCOPES:
        path = cs.settings_path(scope, project_dir)
        try:
            settings = cs.read_settings(cs.checked_path(scope, project_dir))
        except AnalyticsError as exc:
            click.echo(f"{scope:<8} {path}: cannot tell ({exc})")
            continue
        commands = cs.our_commands(settings.data)
        if commands:
            state = f"installed: {commands[0]}"
        elif settings.text is None:
            state = "not installed (no file)"
        else:
            state = "not installed"
        click.echo(f"{scope:<8} {path}: {state}")
    waiting = len(capturing.pending())
    if waiting:
        click.echo(f"{waiting} captured session(s) wait in the spool (capture --drain).")
