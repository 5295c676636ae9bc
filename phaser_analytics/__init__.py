"""phaser-analytics: execution analytics for Phaser audits.

The public Python API is the names of spec §10–§11, importable from here, plus
:data:`hookimpl` for plugin authors.
"""

from __future__ import annotations

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
from .storage import (
    delete_execution,
    ensure_analytics_dir,
    get_analytics_dir,
    load_execution,
    save_execution,
    update_index,
)

#: The spec's name (§13.1). Inside this package it is ``ReportImportError``, so the builtin
#: ``ImportError`` is never shadowed.
ImportError = ReportImportError

__all__ = [
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
    "compute_duration_trend",
    "compute_phase_failure_rates",
    "compute_stats",
    "delete_execution",
    "detect_execution_reports",
    "ensure_analytics_dir",
    "format_csv",
    "format_duration",
    "format_json",
    "format_markdown",
    "format_table",
    "get_analytics_dir",
    "get_executions_by_status",
    "get_failed_phases",
    "get_global_executions",
    "get_recent_executions",
    "hookimpl",
    "import_execution_report",
    "load_execution",
    "parse_execution_report",
    "query_executions",
    "save_execution",
    "update_index",
]
