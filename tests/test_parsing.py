"""Report parsing (spec §14.2 TestReportParsing) and the built-in dialect's plugin contract."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pluggy
import pytest

from phaser_analytics import hookspecs
from phaser_analytics.default_plugins import markdown_report, report_parser
from phaser_analytics.default_plugins.markdown_report import ExecutionReportDialect
from phaser_analytics.default_plugins.report_parser import parse_report_text
from phaser_analytics.errors import ReportParseError
from phaser_analytics.models import ExecutionRecord, ExecutionStatus, PhaseRecord, PhaseStatus

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "reports"
UTC = timezone.utc
OK, FAILED, SKIPPED = PhaseStatus.COMPLETED, PhaseStatus.FAILED, PhaseStatus.SKIPPED


def read_fixture(name: str) -> str:
    # Decoded as plain UTF-8, so a fixture's byte-order mark reaches the parser.
    return (FIXTURES / name).read_bytes().decode("utf-8")


def parse_fixture(name: str) -> dict[str, Any]:
    return parse_report_text(read_fixture(name))


def phase_rows(result: dict[str, Any]) -> list[tuple[int, str, PhaseStatus, str | None]]:
    return [(p.phase_number, p.title, p.status, p.commit_sha) for p in result["phases"]]


def without_phases(result: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in result.items() if key != "phases"}


CANONICAL_PHASES = [
    (36, "Reverse Audit Specification", OK, "b2c3d4e"),
    (37, "Git Diff Parsing", OK, "c3d4e5f"),
    (38, "Change Detection", OK, "d4e5f6a"),
    (39, "Document Generation", OK, "e5f6a7b"),
    (40, "CLI Integration", OK, "f6a7b8c"),
    (41, "Testing", OK, "0a7b8c9"),
]


class TestReportParsing:
    def test_parse_valid_report(self):
        result = parse_fixture("canonical.md")
        assert without_phases(result) == {
            "audit_document": "document-7-reverse.md",
            "document_title": "Document 7: Reverse Audit",
            "project_name": "Phaser",
            "project_path": "/Users/jp/Projects/Phaser",
            "branch": "audit/2024-12-06-reverse",
            "base_commit": "a1b2c3d",
            "started_at": datetime(2024, 12, 6, 10, 30, 0, tzinfo=UTC),
            "completed_at": datetime(2024, 12, 6, 11, 53, 23, tzinfo=UTC),
            "phaser_version": "1.6.3",
            "status": ExecutionStatus.SUCCESS,
            "result_text": "✅ All phases completed",
            "phases_planned": 6,
            "phases_completed": 6,
            "baseline_tests": 280,
            "final_tests": 312,
            "reported_test_delta": 32,
            "commit_count": 7,
            "final_commit": "9c8b7a6",
            "files_changed": 12,
            "lines_added": 1486,
            "lines_removed": 37,
            "failure_reasons": [],
            "warnings": [],
        }
        assert phase_rows(result) == CANONICAL_PHASES

    def test_parse_metadata_table(self):
        result = parse_fixture("metadata_only.md")
        assert result["audit_document"] == "document-18-interrupted.md"
        assert result["document_title"] == "Document 18: Interrupted"
        assert result["project_name"] == "Phaser"
        assert result["project_path"] == "/Users/jp/Projects/Phaser"
        assert result["branch"] == "audit/2025-02-01-interrupted"
        assert result["base_commit"] == "6c6c6c6"
        assert result["started_at"] == datetime(2025, 2, 1, 12, 0, tzinfo=UTC)
        assert result["phaser_version"] == "1.7.0"
        # "N/A" says the value is unknown: left out, not a warning.
        assert "completed_at" not in result
        # A row the record has no field for is kept for `extra`.
        assert result["metadata_extra"] == {"Runner": "nightly-2"}

    def test_parse_metadata_keys_case_insensitively(self):
        text = read_fixture("canonical.md").replace("| Audit Document |", "| AUDIT document |")
        text = text.replace("| Project Path |", "| **project path:** |")
        result = parse_report_text(text)
        assert result["audit_document"] == "document-7-reverse.md"
        assert result["project_path"] == "/Users/jp/Projects/Phaser"

    def test_parse_metadata_table_without_header_row(self):
        text = (
            "# Execution Report\n\n## Metadata\n\n"
            "| Audit Document | doc.md |\n|---|---|\n| Project | Phaser |\n"
        )
        result = parse_report_text(text)
        assert (result["audit_document"], result["project_name"]) == ("doc.md", "Phaser")

    def test_parse_phase_table(self):
        result = parse_fixture("real_partial_run.md")
        assert phase_rows(result) == [
            (22, "Bridge protocol specification", OK, "8a1c0e4"),
            (23, "Message serialisation", OK, "51d7b92"),
            (24, "Transport adapters", OK, "c04fa3e"),
            (25, "Retry and back-off", FAILED, None),
            (26, "Bridge CLI", SKIPPED, None),
            (27, "Integration tests", OK, "e77d210"),
        ]
        assert (result["phases_completed"], result["phases_planned"]) == (4, 6)

    def test_parse_test_results(self):
        result = parse_fixture("canonical.md")
        assert (result["baseline_tests"], result["final_tests"]) == (280, 312)
        assert result["reported_test_delta"] == 32

    def test_parse_git_history(self):
        result = parse_fixture("real_partial_run.md")
        assert result["branch"] == "audit/2024-12-03-bridge"
        assert result["commit_count"] == 5
        # The log is newest first, after a "$ git log" prompt line.
        assert result["final_commit"] == "b6f0c3a"

    @pytest.mark.parametrize(
        ("fixture", "details", "line"),
        [
            ("empty.md", "there is no '## Metadata' section", None),
            ("no_metadata.md", "there is no '## Metadata' section", None),
            ("metadata_without_table.md", "the Metadata section has no Field | Value table", 3),
        ],
    )
    def test_parse_missing_section_error(self, fixture: str, details: str, line: int | None):
        with pytest.raises(ReportParseError) as caught:
            parse_fixture(fixture)
        assert caught.value.details == details
        assert (caught.value.section, caught.value.line) == ("Metadata", line)
        assert str(caught.value).startswith("Cannot parse execution report: ")

    def test_parse_malformed_table_error(self):
        with pytest.raises(ReportParseError) as caught:
            parse_fixture("metadata_without_rows.md")
        assert caught.value.details == "the Metadata table has no rows"
        assert (caught.value.section, caught.value.line) == ("Metadata", 5)

    def test_parse_malformed_optional_sections_warn_field_by_field(self):
        result = parse_fixture("unreadable_values.md")
        assert result["warnings"] == [
            "Metadata: cannot read 'Started' on line 9: 'yesterday afternoon'",
            "Metadata: cannot read 'Completed' on line 10: '2025-13-45T10:00:00Z'",
            "Execution Summary: cannot read 'Phases' on line 16: 'all of them'",
            "Execution Summary: cannot read 'Phase' on line 21: 'seventy-one'",
            "Execution Summary: empty 'Status' for phase 72 on line 22; taken as skipped",
            "Test Results: cannot read 'Final' on line 28: 'lots'",
            "Test Results: cannot read 'Delta' on line 30: 'more than before'",
            "Git History: cannot read 'Commits' on line 34: 'many'",
            "Git History: cannot read 'final commit' on line 37: '(no commits were made)'",
            "Files Changed: cannot read 'Summary' on line 42: 'several files, see below'",
        ]
        # What could be read is kept.
        assert result["baseline_tests"] == 140
        assert result["status"] is ExecutionStatus.SUCCESS
        assert phase_rows(result) == [
            (70, "Readable", OK, "8e8e8e1"),
            (72, "Empty status", SKIPPED, None),
        ]
        for unread in (
            "started_at",
            "completed_at",
            "final_tests",
            "reported_test_delta",
            "commit_count",
            "final_commit",
            "files_changed",
        ):
            assert unread not in result

    def test_parse_real_report_fixture(self):
        result = parse_fixture("real_partial_run.md")
        assert result["status"] is ExecutionStatus.PARTIAL
        assert result["result_text"] == "⚠️ Completed with issues"
        assert result["started_at"] == datetime(2024, 12, 3, 14, 2, 11, tzinfo=UTC)
        assert result["completed_at"] == datetime(2024, 12, 3, 15, 20, 47, tzinfo=UTC)
        assert (result["baseline_tests"], result["final_tests"]) == (196, 228)
        assert result["final_tests_outcomes"] == {"passed": 226, "failed": 2}
        assert result["reported_test_delta"] == 32
        # No **Summary:** line: the `git diff --stat` block's last line is read.
        assert (result["files_changed"], result["lines_added"], result["lines_removed"]) == (
            7,
            681,
            9,
        )
        assert result["metadata_extra"] == {"Model": "claude-sonnet-4"}
        phase_25 = (
            "Phase 25: Retry and back-off: test_backoff_caps_delay kept failing: the delay cap "
            "was applied before jitter, so delays exceeded 30 s. Two fixes were attempted; the "
            "phase was stopped after the retry budget ran out."
        )
        phase_26 = "Phase 26: Bridge CLI: Skipped because it depends on Phase 25."
        assert result["failure_reasons"] == [phase_25, phase_26]
        errors = {p.phase_number: p.error_message for p in result["phases"]}
        assert errors == {22: None, 23: None, 24: None, 25: phase_25, 26: phase_26, 27: None}
        assert result["warnings"] == []


class TestLargeReports:
    @staticmethod
    def pytest_log(megabytes: float) -> str:
        line = "tests/test_module_{0}.py::test_case_{0} PASSED                        [ 42%]\n"
        count = int(megabytes * 1_000_000 / len(line.format(100000)))
        return "".join(line.format(i) for i in range(count))

    def test_parse_20_mb_report_with_a_huge_pytest_log(self):
        text = read_fixture("canonical.md").replace("312 passed in 14.82s", self.pytest_log(20.5))
        assert len(text) > 20_000_000
        result = parse_report_text(text)  # how fast: bench/run.py, not a timed test
        assert (result["baseline_tests"], result["final_tests"]) == (280, 312)
        assert phase_rows(result) == CANONICAL_PHASES

    def test_parse_unfenced_log_without_inline_parsing_every_line(self, monkeypatch):
        # Inline-parsing each line of a log written outside a fence takes ~6 s for 4 MB:
        # only the few lines actually read may go through markdown-it-py's inline parser.
        from markdown_it.parser_inline import ParserInline

        parsed: list[int] = []  # the length of each text the inline parser is given
        real = ParserInline.parse

        def counting(self: Any, src: str, *args: Any) -> Any:
            parsed.append(len(src))
            return real(self, src, *args)

        monkeypatch.setattr(ParserInline, "parse", counting)
        log = self.pytest_log(4)
        text = read_fixture("canonical.md").replace(
            "## Test Results\n", f"## Test Results\n\n{log}"
        )
        result = parse_report_text(text)
        assert result["final_tests"] == 312
        assert log.count("\n") > 40_000
        assert len(parsed) < 200 and sum(parsed) < 100_000  # of 4,000,000


class TestDialect:
    def test_dialect_attributes(self):
        dialect = ExecutionReportDialect()
        assert dialect.name == "phaser"
        assert dialect.patterns == ("EXECUTION_REPORT.md",)
        # Spelt out in the plugin module so that loading it does not import the reader.
        assert dialect.transient_keys == (report_parser.REPORT_TOKEN_TABLES,)
        assert isinstance(dialect, hookspecs.Dialect)

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("# Execution Report: Document 7\n", True),
            ("\ufeff# Execution Report\r\n", True),
            ("Intro\n\n## Metadata\r\n| Field | Value |\n", True),
            ("## metadata\n", True),
            ("# Release notes\n\n## Metadata about metadata\n", False),
            ("```\n    text about # Execution Report\n```\n", False),
            ("", False),
        ],
    )
    def test_detect(self, text: str, expected: bool):
        assert ExecutionReportDialect().detect(text) is expected

    def test_parse_delegates_to_parse_report_text(self):
        text = read_fixture("canonical.md")
        assert ExecutionReportDialect().parse(text, Path("EXECUTION_REPORT.md")) == (
            parse_report_text(text)
        )

    def test_register_dialects_hook_registers_the_dialect_last(self):
        manager = pluggy.PluginManager("phaser_analytics")
        manager.add_hookspecs(hookspecs)
        manager.register(markdown_report)
        registered: list[Any] = []
        manager.hook.register_dialects(register=registered.append)
        assert [type(d) for d in registered] == [ExecutionReportDialect]
        (impl,) = manager.hook.register_dialects.get_hookimpls()
        assert impl.trylast

    def test_import_does_not_load_markdown_it(self):
        code = (
            "import sys; import phaser_analytics.default_plugins.markdown_report; "
            "print('markdown_it' in sys.modules, "
            "'phaser_analytics.default_plugins.report_parser' in sys.modules)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
        )
        assert out.stdout.strip() == "False False"

    def test_parsed_fields_build_a_record_that_serialises(self):
        # Record fields must carry the model's types; everything else must be JSON for `extra`.
        result = parse_fixture("real_partial_run.md")
        names = {f.name for f in dataclasses.fields(ExecutionRecord)}
        known = {k: v for k, v in result.items() if k in names}
        extra = {k: v for k, v in result.items() if k not in names and k != "warnings"}
        record = ExecutionRecord(execution_id="x", extra=extra, **known)
        assert all(isinstance(p, PhaseRecord) for p in record.phases)
        assert record.duration_seconds == 4716.0
        assert record.test_delta == 32
        assert json.loads(json.dumps(record.to_dict()))["extra"]["metadata_extra"] == {
            "Model": "claude-sonnet-4"
        }

    @pytest.mark.parametrize(
        "report", sorted(REPO.glob("examples/**/EXECUTION_REPORT.md")), ids=lambda p: p.parent.name
    )
    def test_example_reports_parse_cleanly(self, report: Path):
        result = parse_report_text(report.read_text(encoding="utf-8"))
        assert result["audit_document"]
        assert not [w for w in result["warnings"] if "internal error" in w]


def test_internal_errors_cost_only_their_section(monkeypatch: pytest.MonkeyPatch):
    def broken(section: Any, md: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(report_parser, "read_git_history", broken)
    result = parse_fixture("canonical.md")
    assert "final_commit" not in result
    assert result["final_tests"] == 312
    assert result["warnings"] == [
        "Git History: section skipped after an internal error on line 50: RuntimeError('boom')"
    ]
