"""A drop-in for Phaser v1.8.1's tools/analytics.py (issue 14 item 18): its extra names are
importable from phaser_analytics with its signatures, and work on what `phaser analytics
import` stored, through our own parser and store."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import phaser_analytics as pa
from phaser_analytics.cli import cli
from phaser_analytics.models import ExecutionStatus, PhaseStatus

EXAMPLE = Path(__file__).resolve().parent.parent / "examples"
REPORT = EXAMPLE / "EXECUTION_REPORT.md"

SIGNATURES = {
    "get_executions_dir": "(project_dir)",
    "get_index_path": "(project_dir)",
    "generate_execution_filename": "(record)",
    "load_execution_by_path": "(filepath)",
    "list_executions": "(project_dir)",
    "load_index": "(project_dir)",
    "clear_analytics": "(project_dir)",
    "parse_metadata_table": "(content)",
    "parse_phase_table": "(content)",
    "parse_test_results": "(content)",
    "parse_execution_result": "(content)",
    "parse_git_info": "(content)",
    "compute_project_stats": "(project_dir)",
    "get_execution_by_document": "(project_dir, document_name, latest_only=True)",
    "get_recent_failures": "(project_dir, limit=5)",
    "format_status_symbol": "(status)",
    "query_executions": "(project_dir, query=None)",
    "format_table": "(records, stats, verbose=False, project_name='')",
    "format_json": "(records, stats, query=None, project_name='')",
    "format_markdown": "(records, stats, project_name='')",
}


@pytest.mark.parametrize(("name", "signature"), SIGNATURES.items())
def test_phasers_names_with_phasers_signatures(name, signature):
    function = getattr(pa, name)
    shown = str(inspect.signature(function).replace(return_annotation=inspect.Signature.empty))
    plain = (
        "("
        + ", ".join(
            p.name if p.default is inspect.Parameter.empty else f"{p.name}={p.default!r}"
            for p in inspect.signature(function).parameters.values()
        )
        + ")"
    )
    assert plain == signature, shown
    assert name in pa.__all__


def test_the_constants():
    assert pa.ANALYTICS_SCHEMA_VERSION == "1.0"
    assert (pa.ANALYTICS_DIR_NAME, pa.EXECUTIONS_DIR_NAME, pa.INDEX_FILENAME) == (
        ".phaser", "executions", "index.json"
    )  # fmt: skip
    assert pa.AggregatedStats.empty().total_executions == 0


@pytest.fixture
def imported(project: Path) -> Path:
    result = CliRunner().invoke(
        cli, ["analytics", "import", str(EXAMPLE), "--recursive", "--project", str(project)]
    )
    assert result.exit_code == 0, result.output
    return project


def test_storage_functions_over_what_import_stored(imported):
    records = pa.list_executions(imported)
    assert [r.audit_document for r in records] == [
        "document-7-reverse.md", "document-6-replay.md", "document-4-bridge.md"
    ]  # fmt: skip
    files = sorted(pa.get_executions_dir(imported).glob("*.json"))
    assert sorted(pa.generate_execution_filename(r) for r in records) == [f.name for f in files]
    loaded = pa.load_execution_by_path(
        pa.get_executions_dir(imported) / pa.generate_execution_filename(records[0])
    )
    assert loaded.execution_id == records[0].execution_id
    assert pa.get_index_path(imported).is_file()

    index = pa.load_index(imported)
    assert index["execution_count"] == 3
    assert [e["audit_document"] for e in index["executions"]] == [r.audit_document for r in records]
    assert index["executions"][0]["filename"] == pa.generate_execution_filename(records[0])
    assert index["stats"]["total_executions"] == 3

    stats = pa.compute_project_stats(imported)
    assert (stats.successful, stats.partial, stats.failed) == (1, 1, 1)
    latest = pa.get_execution_by_document(imported, "document-6-replay.md")
    assert latest is not None and latest.status is ExecutionStatus.PARTIAL
    assert (
        len(pa.get_execution_by_document(imported, "document-6-replay.md", latest_only=False)) == 1
    )
    assert pa.get_execution_by_document(imported, "document-6") is None  # the exact name
    assert [r.audit_document for r in pa.get_recent_failures(imported)] == ["document-4-bridge.md"]
    assert pa.format_status_symbol(ExecutionStatus.PARTIAL) == "⚠️"

    assert pa.clear_analytics(imported) == 3
    assert pa.list_executions(imported) == []
    shown = CliRunner().invoke(
        cli, ["analytics", "show", "--format", "json", "--project", str(imported)]
    )
    assert json.loads(shown.stdout)["executions"] == []


def test_a_bad_record_file_is_a_storage_error(tmp_path):
    bad = tmp_path / "2024-12-06T10-30-00-abcdef12.json"
    bad.write_text("{not json")
    with pytest.raises(pa.StorageError, match="Invalid execution file"):
        pa.load_execution_by_path(bad)


def test_parsing_functions_read_the_example_report():
    text = REPORT.read_text(encoding="utf-8")
    metadata = pa.parse_metadata_table(text)
    assert metadata["Audit Document"] == "document-7-reverse.md"
    assert metadata["Started"] == "2024-12-06T10:30:00Z"
    phases = pa.parse_phase_table(text)
    assert phases[0] == {"phase_number": 36, "title": "Reverse Audit Specification",
                         "status": PhaseStatus.COMPLETED, "commit_sha": "b2c3d4e"}  # fmt: skip
    assert len(phases) == 6
    assert pa.parse_test_results(text) == {"baseline": 280, "final": 312, "delta": 32}
    assert pa.parse_execution_result(text) == (ExecutionStatus.SUCCESS, 6, 6)
    git = pa.parse_git_info(text)
    assert git["branch"] == "audit/2024-12-06-reverse" and git["commit_count"] == 7
    assert git["files_changed"] == 12


def test_parse_test_results_uses_the_importers_reading(tmp_path):
    """The same reader as import: the reading that agrees with the stated Delta."""
    text = (
        "## Test Results\n\n**Baseline:** 88 tests (test_bridge.py)\n\n"
        "**Final:** 108 tests (test_bridge.py), 499 total\n\n**Delta:** +20 tests\n"
    )
    assert pa.parse_test_results(text) == {"baseline": 88, "final": 108, "delta": 20}


def test_formatters_take_phasers_defaults(imported):
    records = pa.query_executions(imported)
    stats = pa.compute_stats(records)
    assert "Phaser Analytics - Last 3 Executions" in pa.format_table(records, stats)
    assert (
        json.loads(pa.format_json(records, stats, project_name="Demo"))["project"]["name"] == "Demo"
    )
    assert pa.format_markdown(records, stats).startswith("# Phaser Analytics Report")
