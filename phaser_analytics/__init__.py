"""phaser-analytics: execution analytics for Phaser audits.

The public Python API is the names of spec §10–§11, importable from here, plus
:data:`hookimpl` for plugin authors.

The names are resolved lazily (PEP 562): ``import phaser_analytics`` imports nothing but
this module, and ``from phaser_analytics import X`` imports only the module that defines
``X``. Every command line run imports this package first, so an eager import of the whole
API here would make ``phaser analytics show`` load the import pipeline too. Where each
name lives is read from the ``TYPE_CHECKING`` imports below, so what type checkers see is
what runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .compat import (
        ANALYTICS_DIR_NAME,
        ANALYTICS_SCHEMA_VERSION,
        EXECUTIONS_DIR_NAME,
        INDEX_FILENAME,
        clear_analytics,
        compute_project_stats,
        format_status_symbol,
        generate_execution_filename,
        get_execution_by_document,
        get_executions_dir,
        get_index_path,
        get_recent_failures,
        list_executions,
        load_execution_by_path,
        load_index,
        parse_execution_result,
        parse_git_info,
        parse_metadata_table,
        parse_phase_table,
        parse_test_results,
    )
    from .errors import (
        AnalyticsError,
        ExecutionNotFoundError,
        InvalidDateError,
        NoDataError,
        ParseError,
        PluginError,
        QueryError,
        ReportImportError,
        ReportNotFoundError,
        ReportParseError,
        StorageError,
        StoreWriteError,
        TemplateRenderError,
    )
    from .errors import ReportImportError as ImportError
    from .formatting import format_duration
    from .hookspecs import Dialect, Renderer, RenderView, hookimpl
    from .models import (
        AggregatedStats,
        AnalyticsQuery,
        ExecutionRecord,
        ExecutionStatus,
        PhaseRecord,
        PhaseStatus,
    )
    from .pipeline import (
        detect_execution_reports,
        import_execution_report,
        parse_execution_report,
    )
    from .query import (
        compute_duration_trend,
        compute_phase_failure_rates,
        compute_stats,
        get_executions_by_status,
        get_failed_phases,
        get_global_executions,
        get_recent_executions,
        query_executions,
    )
    from .rendering import format_csv, format_json, format_markdown, format_table
    from .stores import (
        delete_execution,
        ensure_analytics_dir,
        get_analytics_dir,
        load_execution,
        save_execution,
        update_index,
    )


def _origins() -> dict[str, tuple[str, str]]:
    """Where each public name lives, ``name → (module, attribute)``, read from the
    ``TYPE_CHECKING`` imports above: what type checkers see is what runs. Read on the first
    use of a public name, not on ``import phaser_analytics``; ``__all__`` (for linters and
    ``import *``) must name the same names, which tests/test_cli_lazy.py checks."""
    import ast

    with open(__file__, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    origins: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom) and statement.level == 1
                for alias in statement.names:
                    origins[alias.asname or alias.name] = (f".{statement.module}", alias.name)
    return origins


if not TYPE_CHECKING:  # type checkers see the imports above, and no catch-all __getattr__

    def __getattr__(name: str) -> Any:
        """Import a public name's module on first use (PEP 562) and keep the name here."""
        global _ORIGINS
        if _ORIGINS is None:
            _ORIGINS = _origins()
        try:
            module_name, attribute = _ORIGINS[name]
        except KeyError:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module_name, __name__), attribute)
        globals()[name] = value
        return value

    _ORIGINS: dict[str, tuple[str, str]] | None = None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "ANALYTICS_DIR_NAME",
    "ANALYTICS_SCHEMA_VERSION",
    "EXECUTIONS_DIR_NAME",
    "INDEX_FILENAME",
    "AggregatedStats",
    "AnalyticsError",
    "AnalyticsQuery",
    "Dialect",
    "ExecutionNotFoundError",
    "ExecutionRecord",
    "ExecutionStatus",
    "ImportError",
    "InvalidDateError",
    "NoDataError",
    "ParseError",
    "PhaseRecord",
    "PhaseStatus",
    "PluginError",
    "QueryError",
    "RenderView",
    "Renderer",
    "ReportImportError",
    "ReportNotFoundError",
    "ReportParseError",
    "StorageError",
    "StoreWriteError",
    "TemplateRenderError",
    "clear_analytics",
    "compute_duration_trend",
    "compute_phase_failure_rates",
    "compute_project_stats",
    "compute_stats",
    "delete_execution",
    "detect_execution_reports",
    "ensure_analytics_dir",
    "format_csv",
    "format_duration",
    "format_json",
    "format_markdown",
    "format_status_symbol",
    "format_table",
    "generate_execution_filename",
    "get_analytics_dir",
    "get_execution_by_document",
    "get_executions_by_status",
    "get_executions_dir",
    "get_failed_phases",
    "get_global_executions",
    "get_index_path",
    "get_recent_executions",
    "get_recent_failures",
    "hookimpl",
    "import_execution_report",
    "list_executions",
    "load_execution",
    "load_execution_by_path",
    "load_index",
    "parse_execution_report",
    "parse_execution_result",
    "parse_git_info",
    "parse_metadata_table",
    "parse_phase_table",
    "parse_test_results",
    "query_executions",
    "save_execution",
    "update_index",
]
