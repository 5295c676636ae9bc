"""Exceptions raised by phaser-analytics (spec §13.1).

Every message is one sentence a user can act on; the CLI prints it without a traceback
unless ``--debug`` is given.
"""

from __future__ import annotations


def stderr_warning(message: str) -> None:
    """``Warning: message`` on stderr, cleaned of escape sequences (a message may quote a
    report, a record or a file name from a project): the one way warnings are printed,
    and the default ``warn`` callback of the functions that take one."""
    import sys

    from .formatting import clean_text

    print(f"Warning: {clean_text(message, lines=True)}", file=sys.stderr)


class AnalyticsError(Exception):
    """Base exception for analytics operations."""

    #: Exit status the CLI uses when this error ends a command.
    exit_code = 1


class StorageError(AnalyticsError):
    """Error reading or writing analytics data."""


class ReportImportError(AnalyticsError):
    """Error importing an execution report.

    Exported from :mod:`phaser_analytics` as ``ImportError`` (the spec's name); inside the
    package it keeps this name so the builtin ``ImportError`` is never shadowed.
    """


class ReportNotFoundError(ReportImportError):
    """The report path given to import does not exist."""

    def __init__(self, path: object) -> None:
        super().__init__(f"Execution report not found: {path}")
        self.path = path


class ReportParseError(ReportImportError):
    """A report could not be read as an execution report.

    ``details`` says what is missing or malformed, naming the section and line where known.
    """

    def __init__(self, details: str, *, section: str | None = None, line: int | None = None):
        where = []
        if section:
            where.append(f"section '{section}'")
        if line is not None:
            where.append(f"line {line}")
        full = f"{details} ({', '.join(where)})" if where else details
        super().__init__(f"Cannot parse execution report: {full}")
        self.details = details
        self.section = section
        self.line = line


class QueryError(AnalyticsError):
    """Error executing an analytics query."""


class InvalidDateError(QueryError):
    """A date option could not be read."""

    exit_code = 2

    def __init__(self, value: object = None) -> None:
        super().__init__("Invalid date format. Use ISO format: YYYY-MM-DD")
        self.value = value


class ExecutionNotFoundError(StorageError):
    """No stored execution has the given id."""

    def __init__(self, execution_id: object) -> None:
        super().__init__(f"Execution not found: {execution_id}")
        self.execution_id = execution_id


class StoreWriteError(StorageError):
    """The analytics directory cannot be written (permissions, full disk, read-only mount)."""

    def __init__(self, path: object) -> None:
        super().__init__(f"Cannot write to analytics directory: {path}")
        self.path = path


class NoDataError(QueryError):
    """The store holds no executions at all."""

    def __init__(self) -> None:
        super().__init__(
            "No analytics data found. Run 'phaser analytics import EXECUTION_REPORT.md' to import."
        )


class PluginError(AnalyticsError):
    """A plugin broke the contract: a name registered twice, a broken built-in, a bad hook."""


class TemplateRenderError(AnalyticsError):
    """A Jinja2 template failed to load or render."""


#: The spec's alias (§11.2 raises ``ParseError``).
ParseError = ReportParseError
