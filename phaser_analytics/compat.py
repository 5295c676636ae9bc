"""The names Phaser v1.8.1's own ``tools/analytics.py`` has besides the spec's, so that
this package is a drop-in for it (``from phaser_analytics import list_executions``).

Each is a thin wrapper over our own code paths: the report readers of the built-in dialect
(:mod:`phaser_analytics.default_plugins.report_parser`), the store interface
(:func:`phaser_analytics.stores.project_store`), the queries and the renderers. Where we
knowingly differ (timezone-aware datetimes, ``None`` for what a report leaves unknown),
docs/guide.md says so under "Coming from Phaser's built-in analytics".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import StorageError
from .models import AggregatedStats, AnalyticsQuery, ExecutionRecord, ExecutionStatus

#: Phaser's record schema: the version its module writes. We read it, and write 1.1, which
#: adds fields a 1.0 reader ignores (docs/storage.md).
ANALYTICS_SCHEMA_VERSION = "1.0"
#: The directory in a project that holds Phaser's files (``.phaser/analytics/`` is ours).
ANALYTICS_DIR_NAME = ".phaser"
EXECUTIONS_DIR_NAME = "executions"
INDEX_FILENAME = "index.json"


@contextmanager
def _store(project_dir: Path) -> Iterator[Any]:
    from .stores import project_store

    store = project_store(Path(project_dir))
    try:
        yield store
    finally:
        store.close()


# -- storage ------------------------------------------------------------------------------


def get_executions_dir(project_dir: Path) -> Path:
    """``{project}/.phaser/analytics/executions``: where the JSON store keeps record files."""
    from .stores import get_analytics_dir

    return get_analytics_dir(Path(project_dir)) / EXECUTIONS_DIR_NAME


def get_index_path(project_dir: Path) -> Path:
    """``{project}/.phaser/analytics/index.json``."""
    from .stores import get_analytics_dir

    return get_analytics_dir(Path(project_dir)) / INDEX_FILENAME


def generate_execution_filename(record: ExecutionRecord) -> str:
    """``{timestamp}-{short_id}.json``, the name the JSON store gives ``record``'s file."""
    from .stores.json_files import record_filename

    return record_filename(record)


def load_execution_by_path(filepath: Path) -> ExecutionRecord:
    """The record in one record file; :class:`StorageError` if it cannot be read or is not
    a record this version loads."""
    from .stores.json_files import NewerRecord, UnreadableRecord, parse_record

    try:
        data = Path(filepath).read_bytes()
    except OSError as exc:
        raise StorageError(f"Failed to read execution file {filepath}: {exc.strerror}") from exc
    try:
        return parse_record(data)
    except (UnreadableRecord, NewerRecord) as exc:
        raise StorageError(f"Invalid execution file {filepath}: {exc}") from exc


def list_executions(project_dir: Path) -> list[ExecutionRecord]:
    """Every execution of the project, newest first."""
    from .query import query_executions

    return query_executions(Path(project_dir))


def load_index(project_dir: Path) -> dict[str, Any]:
    """The index as Phaser's module returns it: ``schema_version``, ``project_name``,
    ``execution_count``, ``executions`` (one summary per execution, newest first:
    ``execution_id``, ``filename``, ``audit_document``, ``started_at``, ``status``,
    ``duration_seconds``, ``test_delta``) and ``stats``; read through the store interface,
    so it is the same for every backend (``filename`` is ``None`` where there are none)."""
    from .models import datetime_to_json
    from .query import project_key

    with _store(project_dir) as store:
        info = store.info()
        entries = list(store.find(project=project_key(Path(project_dir), store)))
    return {
        "schema_version": ANALYTICS_SCHEMA_VERSION,
        "project_name": info.project_name() or Path(project_dir).resolve().name,
        "execution_count": len(entries),
        "executions": [
            {
                "execution_id": e.execution_id,
                "filename": e.ref,
                "audit_document": e.audit_document,
                "started_at": datetime_to_json(e.started_at),
                "status": e.status.value,
                "duration_seconds": e.duration_seconds,
                "test_delta": e.test_delta,
            }
            for e in entries
        ],
        "stats": AggregatedStats.compute(entries).to_dict(),
    }


def clear_analytics(project_dir: Path) -> int:
    """Delete every execution of the project; return how many were deleted."""
    from .query import project_key

    with _store(project_dir) as store:
        ids = [e.execution_id for e in store.find(project=project_key(Path(project_dir), store))]
        return len(store.delete(ids, missing_ok=True)) if ids else 0


# -- parsing (spec §6.3–§6.5, and Phaser's two more) --------------------------------------


def parse_metadata_table(content: str) -> dict[str, str]:
    """The ``## Metadata`` table as written: label → value (spec §6.3)."""
    from .default_plugins.report_parser import metadata_table

    return metadata_table(content)


def parse_phase_table(content: str) -> list[dict[str, Any]]:
    """The phase table of ``## Execution Summary`` (spec §6.4): one dict per row with
    ``phase_number``, ``title``, ``status`` (a :class:`PhaseStatus`) and ``commit_sha``."""
    from .default_plugins.report_parser import phase_table

    return [
        {
            "phase_number": phase.phase_number,
            "title": phase.title,
            "status": phase.status,
            "commit_sha": phase.commit_sha,
        }
        for phase in phase_table(content)
    ]


def parse_test_results(content: str) -> dict[str, int]:
    """``baseline``, ``final`` and ``delta`` of ``## Test Results`` (spec §6.5), those the
    report states."""
    from .default_plugins.report_parser import test_results

    return test_results(content)


def parse_execution_result(content: str) -> tuple[ExecutionStatus, int, int]:
    """``(status, phases completed, phases planned)`` of ``## Execution Summary``; an
    unstated status is derived from the counts, as import does (failed when nothing says)."""
    from .default_plugins.report_parser import summary_result

    status, completed, planned = summary_result(content)
    completed, planned = completed or 0, planned or 0
    if status is None:
        if planned and completed >= planned:
            status = ExecutionStatus.SUCCESS
        else:
            status = ExecutionStatus.PARTIAL if completed else ExecutionStatus.FAILED
    return status, completed, planned


def parse_git_info(content: str) -> dict[str, Any]:
    """``## Git History`` and ``## Files Changed``: ``branch`` or ``tag``, ``commit_count``,
    ``final_commit``, ``files_changed``, ``lines_added``, ``lines_removed``, those stated."""
    from .default_plugins.report_parser import git_info

    return git_info(content)


# -- queries and formatting -------------------------------------------------------------


def compute_project_stats(project_dir: Path) -> AggregatedStats:
    """The stats of every execution of the project, from the store's entries."""
    from .query import project_key

    with _store(project_dir) as store:
        return AggregatedStats.compute(store.find(project=project_key(Path(project_dir), store)))


def get_execution_by_document(
    project_dir: Path, document_name: str, latest_only: bool = True
) -> ExecutionRecord | list[ExecutionRecord] | None:
    """The executions of the audit document ``document_name`` (the exact name, newest
    first): the latest alone (``None`` if none) with ``latest_only``, else all of them."""
    from .query import query_executions

    matching = [
        record
        for record in query_executions(Path(project_dir), AnalyticsQuery(document=document_name))
        if record.audit_document == document_name
    ]
    if latest_only:
        return matching[0] if matching else None
    return matching


def get_recent_failures(project_dir: Path, limit: int = 5) -> list[ExecutionRecord]:
    """The ``limit`` most recent failed executions, newest first."""
    from .query import query_executions

    return query_executions(
        Path(project_dir), AnalyticsQuery(limit=limit, status=ExecutionStatus.FAILED)
    )


def format_status_symbol(status: ExecutionStatus | str) -> str:
    """✅, ⚠️ or ❌ for an execution status (or its value)."""
    return ExecutionStatus(status).symbol
