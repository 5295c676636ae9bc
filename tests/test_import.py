"""Batch import: discovery, identity, bad files, summaries and exit status."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from phaser_analytics import ReportParseError, detect_execution_reports
from phaser_analytics.cli import cli
from phaser_analytics.pipeline import discover, read_report_text

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "EXECUTION_REPORT.md"


def report_text(document: str = "document-7-reverse.md", started: str = "2024-12-06T10:30:00Z"):
    text = EXAMPLE.read_text(encoding="utf-8")
    return text.replace("document-7-reverse.md", document).replace("2024-12-06T10:30:00Z", started)


def put(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def import_(runner, target, project, *extra):
    return runner.invoke(
        cli, ["analytics", "import", str(target), "--project", str(project), *extra]
    )


def stored(project: Path) -> list[dict]:
    return [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(project.glob(".phaser/analytics/executions/*.json"))
    ]


def snapshot(project: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(project)): p.read_bytes()
        for p in project.rglob("*")
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture
def mixed_tree(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    put(root / "a" / "EXECUTION_REPORT.md", report_text("a.md", "2024-01-01T10:00:00Z"))
    put(root / "b" / "EXECUTION_REPORT.md", report_text("b.md", "2024-01-02T10:00:00Z"))
    # the same execution as b, reformatted: CRLF, a BOM and a compact metadata table
    duplicate = report_text("b.md", "2024-01-02T10:00:00Z").replace("|-------|-------|", "|-|-|")
    put(root / "b-copy" / "EXECUTION_REPORT.md", ("\ufeff" + duplicate).replace("\n", "\r\n"))
    put(root / "empty" / "EXECUTION_REPORT.md", "")
    put(root / "binary" / "EXECUTION_REPORT.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    put(
        root / "latin1" / "EXECUTION_REPORT.md",
        report_text("c.md").encode("cp1252", "replace") + b"\xe9",
    )
    put(
        root / "norows" / "EXECUTION_REPORT.md",
        "# Execution Report: x\n\n## Metadata\n\n| Field | Value |\n|---|---|\n",
    )
    return root


def test_mixed_tree_counts_and_exit_status(runner, project, mixed_tree):
    result = import_(runner, mixed_tree, project, "--recursive")
    assert result.exit_code == 1
    output = result.output
    assert "Imported 2 execution(s), 1 already imported, 4 failed." in output
    for bad in ("empty", "binary", "latin1", "norows"):
        assert f"✗ Failed: {mixed_tree / bad / 'EXECUTION_REPORT.md'} - " in output
    assert "the file is empty" in output
    assert "the file is binary" in output
    assert "not UTF-8" in output
    assert "Traceback" not in output
    assert sorted(r["audit_document"] for r in stored(project)) == ["a.md", "b.md"]


def test_reimport_of_reformatted_report_is_already_imported(runner, project, mixed_tree):
    import_(runner, mixed_tree / "b", project)
    result = import_(runner, mixed_tree / "b-copy" / "EXECUTION_REPORT.md", project)
    assert result.exit_code == 0, result.output
    assert "Already imported: b.md" in result.output
    assert len(stored(project)) == 1


def test_force_replaces_and_keeps_one_record(runner, project, mixed_tree):
    import_(runner, mixed_tree / "b", project)
    first_id = stored(project)[0]["execution_id"]
    result = import_(runner, mixed_tree / "b-copy" / "EXECUTION_REPORT.md", project, "--force")
    assert result.exit_code == 0, result.output
    records = stored(project)
    assert len(records) == 1
    assert records[0]["execution_id"] == first_id
    assert records[0]["report_path"].endswith(os.path.join("b-copy", "EXECUTION_REPORT.md"))


def test_duplicates_within_one_batch_are_stored_once(runner, project, mixed_tree):
    result = import_(runner, mixed_tree, project, "--recursive")
    assert sum(1 for r in stored(project) if r["audit_document"] == "b.md") == 1
    assert "Already imported: b.md" in result.output


@pytest.mark.parametrize("bad", ["empty", "binary", "latin1", "norows"])
def test_a_bad_single_report_leaves_the_store_as_it_was(runner, project, mixed_tree, bad):
    import_(runner, mixed_tree / "a", project)
    before = snapshot(project)
    result = import_(runner, mixed_tree / bad / "EXECUTION_REPORT.md", project)
    assert result.exit_code == 1
    assert "Cannot parse execution report:" in result.output
    assert snapshot(project) == before


def test_directory_without_reports_says_so(runner, project, tmp_path):
    (tmp_path / "nothing").mkdir()
    result = import_(runner, tmp_path / "nothing", project)
    assert result.exit_code == 1
    assert "No reports (EXECUTION_REPORT.md" in result.output
    assert "--recursive" not in result.output  # nothing below it either


def test_discovery_skips_tool_directories(tmp_path):
    root = tmp_path / "tree"
    kept = put(root / "docs" / "EXECUTION_REPORT.md", "x")
    for skipped in (".git", "node_modules", ".phaser", ".venv", "__pycache__", ".tox"):
        put(root / skipped / "EXECUTION_REPORT.md", "x")
    put(root / "myenv" / "pyvenv.cfg", "home = /usr/bin")
    put(root / "myenv" / "lib" / "EXECUTION_REPORT.md", "x")
    assert discover(root, ["EXECUTION_REPORT.md"], recursive=True) == [kept]
    assert discover(root, ["EXECUTION_REPORT.md"], recursive=False) == []


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_discovery_survives_symlink_loops(tmp_path):
    root = tmp_path / "tree"
    report = put(root / "sub" / "EXECUTION_REPORT.md", "x")
    os.symlink(root, root / "sub" / "loop")
    os.symlink(root / "sub", root / "alias")
    found = discover(root, ["EXECUTION_REPORT.md"], recursive=True)
    assert len(found) == 1
    assert found[0].resolve() == report.resolve()


def test_detect_execution_reports_uses_dialect_patterns(tmp_path):
    put(tmp_path / "a" / "EXECUTION_REPORT.md", "x")
    put(tmp_path / "node_modules" / "EXECUTION_REPORT.md", "x")
    put(tmp_path / "a" / "OTHER.md", "x")
    assert detect_execution_reports(tmp_path) == [tmp_path / "a" / "EXECUTION_REPORT.md"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"   \n\n", "the file is empty"),
        (b"abc\x00def", "the file is binary"),
        (b"caf\xe9", "not UTF-8"),
    ],
)
def test_read_report_text_rejects_unreadable_files(tmp_path, content, message):
    path = put(tmp_path / "r.md", content)
    with pytest.raises(ReportParseError, match=message):
        read_report_text(path)


def test_read_report_text_strips_bom_and_crlf(tmp_path):
    path = put(tmp_path / "r.md", "\ufeff# Title\r\nline\r\n".encode())
    assert read_report_text(path) == "# Title\nline\n"


def test_warnings_go_to_stderr_and_do_not_fail(runner, project, tmp_path):
    text = report_text().replace("**Delta:** +32 tests", "**Delta:** +30 tests")
    report = put(tmp_path / "r" / "EXECUTION_REPORT.md", text)
    result = import_(runner, report, project)
    assert result.exit_code == 0, result.output
    assert "Warning:" in result.output and "elta" in result.output
    assert stored(project)[0]["test_delta"] == 30


def test_no_progress_bar_when_stderr_is_not_a_terminal(runner, project, tmp_path):
    for index in range(8):
        put(tmp_path / "many" / str(index) / "EXECUTION_REPORT.md", report_text(f"d{index}.md"))
    result = import_(runner, tmp_path / "many", project, "--recursive")
    assert result.exit_code == 0, result.output
    assert "Importing" not in result.output
    assert "Imported 8 execution(s)." in result.output


def test_an_outcome_gives_up_its_record_once_reported(project, tmp_path):
    from phaser_analytics import pipeline

    paths = [
        put(tmp_path / "r" / str(n) / "EXECUTION_REPORT.md", report_text(f"doc-{n}.md"))
        for n in range(5)
    ]
    paths.append(put(tmp_path / "r" / "bad" / "EXECUTION_REPORT.md", "not a report"))
    seen: list[tuple[str, str | None]] = []

    def on_report(outcome: pipeline.ReportOutcome) -> None:
        seen.append((outcome.action, outcome.record and outcome.record.audit_document))

    # Three batches for five reports.
    summary = pipeline.import_reports(paths, project, on_report=on_report, batch_size=2)
    assert sorted(seen) == [("failed", None), *[("imported", f"doc-{n}.md") for n in range(5)]]
    assert summary.imported == 5 and summary.failed == 1
    assert all(outcome.record is None for outcome in summary.outcomes)
