"""``import``: discover → parse → record → store, one line per report."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from ..errors import stderr_warning
from ..formatting import clean_text
from ..pipeline import ReportOutcome, import_reports, report_paths
from ..stores.base import SaveAction
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


@contextmanager
def _progress(total: int) -> Iterator[click.termui.ProgressBar | None]:
    if total <= PROGRESS_THRESHOLD or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=total, label="Importing", file=sys.stderr) as bar:
        yield bar


@click.command("import")
# Not readable=True: an unreadable report is a failed report (exit 1), said by the pipeline.
@click.argument("report_file", type=click.Path(path_type=Path, readable=False))
@click.option("--recursive", "-r", is_flag=True, help="Scan a directory recursively for reports.")
@click.option("--force", "-f", is_flag=True, help="Re-import (replace) executions already stored.")
@click.option("--dialect", help="Read every report with this dialect instead of detecting it.")
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
@project_option
@store_option
@click.pass_context
def import_cmd(
    ctx: click.Context,
    report_file: Path,
    recursive: bool,
    force: bool,
    dialect: str | None,
    no_tokens: bool,
    jobs: int,
    project: Path | None,
) -> None:
    """REPORT_FILE is a report, or a directory searched for reports by every installed
    dialect's file names (with --recursive, its subdirectories too).
    """
    app: AppContext = ctx.obj
    host = app.host()
    project_dir = resolve_project(project)
    paths = report_paths(report_file, recursive=recursive, host=host, warn=stderr_warning)
    if not paths:
        patterns = ", ".join(host.report_patterns())
        err(
            f"Error: No reports ({patterns}) found in {report_file}"
            + ("." if recursive else "; add --recursive to search its subdirectories.")
        )
        sys.exit(EXIT_FAILED)

    store = open_command_store(project_dir)
    with _progress(len(paths)) as bar:

        def on_report(outcome: ReportOutcome) -> None:
            line = _describe(outcome)
            if bar is not None:
                bar.update(1)
            if outcome.action is SaveAction.FAILED:
                err(line)
            else:
                say(line)
            for warning in outcome.warnings:
                err(f"  Warning: {clean_text(outcome.path)}: {clean_text(warning)}")

        summary = import_reports(
            paths,
            project_dir,
            force=force,
            dialect=dialect,
            host=host,
            on_report=on_report,
            warn=stderr_warning,
            skip_plugins={TOKENS_PLUGIN} if no_tokens else (),
            store=store,
            jobs=jobs or None,
        )
    store.close()

    parts = [f"Imported {summary.imported} execution(s)"]
    if summary.already:
        parts.append(f"{summary.already} already imported")
    if summary.failed:
        parts.append(f"{summary.failed} failed")
    say("\n" + ", ".join(parts) + ".")
    if summary.failed:
        sys.exit(EXIT_FAILED)
