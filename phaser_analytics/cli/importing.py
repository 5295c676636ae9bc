"""``import``: discover → parse → record → store, one line per report."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ..errors import stderr_warning
from ..formatting import clean_text
from ..pipeline import ReportOutcome, discover, import_reports, report_paths
from ..project_root import is_project_root
from ..stores.base import SaveAction, store_location
from .main import (
    EXIT_FAILED,
    AppContext,
    err,
    open_command_store,
    project_option,
    resolve_project,
    say,
    store_option,
    store_shared,
)

#: The built-in plugin that ``--no-tokens`` turns off (its entry-point name).
TOKENS_PLUGIN = "claude_tokens"
#: Batches larger than this get a progress bar (on a terminal only).
PROGRESS_THRESHOLD = 5


def _describe(outcome: ReportOutcome) -> str:
    """One line per report; every value from the report or its path is cleaned to one line
    (a name holding a line break must not forge a line of its own)."""
    record = outcome.record
    name = (record.audit_document or record.document_title or str(outcome.path)) if record else ""
    name, path = clean_text(name), clean_text(outcome.path)
    if outcome.action is SaveAction.IMPORTED:
        return f"✓ Imported: {name}"
    if outcome.action is SaveAction.REPLACED:
        return f"✓ Replaced: {name} ({outcome.existing_id})"
    if outcome.action is SaveAction.ALREADY:
        return (
            f"Already imported: {name} ({path}) as {outcome.existing_id}; use --force to replace it"
        )
    return f"✗ Failed: {path} - {clean_text(outcome.error)}"


class _Progress:
    """The progress bar of a large batch on a terminal (stderr): position and percentage,
    no ETA (reports are parsed in parallel and stored in batches, so the time per report
    seen so far says little about the rest). A line printed while it shows clears it
    first and draws it again after, so the bar never runs into the lines."""

    def __init__(self, bar: click.termui.ProgressBar | None) -> None:
        self.bar = bar

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def print(self, line: str, *, to_err: bool) -> None:
        if self.bar is not None:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
        (err if to_err else say)(line)
        if self.bar is not None:
            self.bar.render_progress()


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[_Progress]:
    if not enabled or total <= PROGRESS_THRESHOLD or not sys.stderr.isatty():
        yield _Progress(None)
        return
    with click.progressbar(
        length=total, label="Importing", file=sys.stderr, show_eta=False, show_pos=True
    ) as bar:
        yield _Progress(bar)


def _targets(given: tuple[Path, ...]) -> list[Path]:
    """The paths to import: those given, ``-`` standing for a list of paths read from
    standard input (one a line; blank lines and ``#`` comments skipped)."""
    targets: list[Path] = []
    for target in given:
        if str(target) == "-":
            for line in sys.stdin.read().splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    targets.append(Path(line.strip()))
        else:
            targets.append(target)
    return targets


def _no_reports(target: Path, recursive: bool, host: Any) -> str:
    """Why ``target`` gave no report, and what to do about it."""
    patterns = ", ".join(host.report_patterns())
    if not recursive and target.is_dir():
        below = discover(target, host.report_patterns(), recursive=True)
        if below:
            return (
                f"No reports ({patterns}) directly in {target}, but {len(below)} in its "
                "subdirectories: use --recursive."
            )
    return f"No reports ({patterns}) found in {target}."


def _shown_location(location: str) -> str:
    """The store's location, relative to the working directory when it lies below it
    (``.phaser/analytics``); a URL or a path elsewhere as it is."""
    import os

    if not os.path.isabs(location):
        return location
    try:
        relative = os.path.relpath(location)
    except ValueError:  # another drive
        return location
    return location if relative.startswith(os.pardir) else relative


def _check_dialect(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--dialect``: an installed dialect's name, else a usage error (exit 2)."""
    if value is None:
        return None
    app = ctx.find_object(AppContext)
    names = list((app or AppContext()).host().dialects)
    if value not in names:
        raise click.BadParameter(
            f"unknown dialect '{value}'; choose one of: {', '.join(names) or 'none'}."
        )
    return value


@click.command("import")
# Not readable=True: an unreadable report is a failed report (exit 1), said by the pipeline.
@click.argument(
    "report_files", nargs=-1, required=True, metavar="REPORT_FILE...",
    type=click.Path(path_type=Path, readable=False, allow_dash=True),
)  # fmt: skip
@click.option("--recursive", "-r", is_flag=True, help="Scan directories recursively for reports.")
@click.option("--force", "-f", is_flag=True, help="Re-import (replace) executions already stored.")
@click.option(
    "--dialect",
    callback=_check_dialect,
    help="Read every report with this dialect instead of detecting it.",
)
@click.option(
    "--no-tokens",
    is_flag=True,
    help="Do not read token usage and cost (Claude Code transcripts, ## Token Usage).",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Parse reports in N worker processes while one process stores them (0: one per "
    "core when there are many reports).",
)
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="A line for every report, also on a terminal (where a large batch otherwise shows "
    "a progress bar and only the failures).",
)
@click.option(
    "--quiet", "-q", is_flag=True, help="Only failures and errors: no lines, no bar, no summary."
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"], case_sensitive=False),
    default="text",
    show_default=True,
    help="The summary as text, or as one JSON object on stdout (counts, the store, failures).",
)
@project_option
@store_option
@click.pass_context
def import_cmd(
    ctx: click.Context,
    report_files: tuple[Path, ...],
    recursive: bool,
    force: bool,
    dialect: str | None,
    no_tokens: bool,
    jobs: int,
    verbose: bool,
    quiet: bool,
    output_format: str,
    project: Path | None,
) -> None:
    """Each REPORT_FILE is a report, or a directory searched for reports by every installed
    dialect's file names (with --recursive, its subdirectories too); - reads a list of
    paths from standard input, one a line.
    """
    if verbose and quiet:
        raise click.UsageError("--verbose and --quiet cannot be used together.")
    as_json = output_format.lower() == "json"
    app: AppContext = ctx.obj
    host = app.host()
    project_dir = resolve_project(project)
    warn = (lambda m: None) if quiet else stderr_warning
    paths: list[Path] = []
    empty: list[Path] = []
    for target in _targets(report_files):
        found = report_paths(target, recursive=recursive, host=host, warn=warn)
        if not found:
            empty.append(target)
        paths.extend(found)
    paths = list(dict.fromkeys(paths))
    for target in empty:
        message = _no_reports(target, recursive, host)
        if paths:
            warn(message)  # other targets have reports: go on with them
        else:
            err(f"Error: {message}")
    if not paths:
        sys.exit(EXIT_FAILED)

    # On a terminal a large batch shows a bar and only its failures; elsewhere (a pipe, a
    # log) and for small batches every report has its line. --verbose: always every line.
    terminal = sys.stdout.isatty()
    small = len(paths) <= PROGRESS_THRESHOLD
    every_line = not quiet and not as_json and (verbose or not terminal or small)
    store = open_command_store(project_dir)
    failures: list[dict[str, str]] = []
    with _progress(len(paths), enabled=not quiet and not as_json) as progress:

        def on_report(outcome: ReportOutcome) -> None:
            progress.step()
            if outcome.action is SaveAction.FAILED:
                failures.append({"path": str(outcome.path), "error": str(outcome.error)})
                progress.print(_describe(outcome), to_err=True)
            elif every_line:
                progress.print(_describe(outcome), to_err=False)
            if not quiet and (every_line or outcome.action is SaveAction.FAILED):
                for warning in outcome.warnings:
                    progress.print(
                        f"  Warning: {clean_text(outcome.path)}: {clean_text(warning)}", to_err=True
                    )

        summary = import_reports(
            paths,
            project_dir,
            force=force,
            dialect=dialect,
            host=host,
            on_report=on_report,
            warn=warn,
            skip_plugins={TOKENS_PLUGIN} if no_tokens else (),
            store=store,
            jobs=jobs or None,
            # A project named with --project or found by its .phaser/ or git root owns what
            # is imported into it; a bare working directory leaves the reports' own paths.
            claim=project is not None or is_project_root(Path(project_dir)),
            shared=store_shared(project_dir),
        )
    location = store_location(store)
    store.close()

    if as_json:
        payload = {
            "project": str(project_dir),
            "store": location,
            "reports": len(paths),
            "imported": summary.count(SaveAction.IMPORTED),
            "replaced": summary.count(SaveAction.REPLACED),
            "already_imported": summary.already,
            "failed": summary.failed,
            "failures": failures,
        }
        click.echo(json.dumps(payload, indent=2))
    elif not quiet:
        parts = [f"Imported {summary.imported} execution(s)"]
        if summary.already:
            parts.append(f"{summary.already} already imported")
        if summary.failed:
            parts.append(f"{summary.failed} failed")
        say("\n" + ", ".join(parts) + ".")
        say(f"Stored in {_shown_location(location)}.")
    if summary.failed:
        sys.exit(EXIT_FAILED)
