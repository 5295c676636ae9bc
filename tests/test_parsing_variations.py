"""Every variation of REPORT_FORMAT.md parses: one fixture report (or value table) per class."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from phaser_analytics.default_plugins.report_parser import (
    parse_report_text,
    parse_timestamp,
    read_delta,
    read_diffstat,
    read_test_count,
)
from phaser_analytics.models import ExecutionStatus, PhaseStatus

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "reports"
UTC = timezone.utc
OK, FAILED, SKIPPED = PhaseStatus.COMPLETED, PhaseStatus.FAILED, PhaseStatus.SKIPPED
NO_STATUS = "Execution Summary: no 'Result' and no phase counts; status taken as failed"
METADATA = "## Metadata\n| Field | Value |\n|-|-|\n| Project | P |\n\n"


def parse_fixture(name: str) -> dict[str, Any]:
    # Plain UTF-8, not utf-8-sig: a byte-order mark must reach the parser and be tolerated.
    return parse_report_text((FIXTURES / name).read_bytes().decode("utf-8"))


def phase_rows(result: dict[str, Any]) -> list[tuple[int, str, PhaseStatus, str | None]]:
    return [(p.phase_number, p.title, p.status, p.commit_sha) for p in result["phases"]]


def pick(result: dict[str, Any], *names: str) -> dict[str, Any]:
    """The named keys of ``result``; a key the parser left out shows as missing."""
    return {name: result.get(name, "<missing>") for name in names}


# -- tables -------------------------------------------------------------------------------


def test_padded_tables_aligned_by_a_formatter():
    result = parse_fixture("padded_tables.md")
    assert pick(
        result, "audit_document", "document_title", "base_commit", "started_at", "completed_at"
    ) == {
        "audit_document": "document-2-storage.md",
        "document_title": "Document 2: Storage Layer",
        "base_commit": "0c1d2e3",
        "started_at": datetime(2024, 11, 28, 9, 0, tzinfo=UTC),
        "completed_at": datetime(2024, 11, 28, 9, 41, 5, tzinfo=UTC),
    }
    assert phase_rows(result) == [
        (7, "Storage specification", OK, "1a2b3c4"),
        (8, "JSON store", OK, "2b3c4d5"),
        (9, "Index file", OK, "3c4d5e6"),
    ]
    assert pick(result, "baseline_tests", "final_tests", "reported_test_delta") == {
        "baseline_tests": 120,
        "final_tests": 151,
        "reported_test_delta": 31,
    }
    assert result["warnings"] == []


def test_compact_tables_without_outer_pipes_or_spaces():
    result = parse_fixture("compact_tables.md")
    assert pick(result, "audit_document", "branch", "phaser_version", "status") == {
        "audit_document": "document-3-query.md",
        "branch": "audit/2024-11-30-query",
        "phaser_version": "1.4.1",
        "status": ExecutionStatus.SUCCESS,
    }
    # "**Phases:**" runs straight into the table: the table still interrupts the paragraph.
    assert (result["phases_completed"], result["phases_planned"]) == (2, 2)
    assert phase_rows(result) == [
        (12, "Query filters", OK, "5e6f7a8"),
        (13, "Sorting and limits", OK, "6f7a8b9"),
    ]
    assert result["warnings"] == []


# -- status cells -------------------------------------------------------------------------


def test_status_words_beside_or_instead_of_symbols():
    result = parse_fixture("status_words.md")
    assert phase_rows(result) == [
        (28, "CI workflow", OK, "a0a0a01"),
        (29, "Badge endpoint", OK, "a0a0a02"),
        (30, "Cache keys", OK, "a0a0a03"),
        (31, "Matrix builds", FAILED, None),
        (32, "Release job", SKIPPED, None),
    ]
    assert result["status"] is ExecutionStatus.PARTIAL
    # No "**Phases:**" line: the counts come from the rows.
    assert (result["phases_completed"], result["phases_planned"]) == (3, 5)
    assert result["warnings"] == []


def test_mojibake_status_symbols():
    result = parse_fixture("mojibake_symbols.md")
    assert result["status"] is ExecutionStatus.PARTIAL
    assert [p.status for p in result["phases"]] == [OK, OK, FAILED, SKIPPED]
    assert result["warnings"] == []


def test_warning_sign_with_and_without_selector_trailing_spaces_empty_commits():
    text = (FIXTURES / "warning_symbols_spacing.md").read_text(encoding="utf-8")
    assert "| 42 | Analytics spec | ✅ | c2c2c21 |   \n" in text  # the fixture keeps its spaces
    result = parse_fixture("warning_symbols_spacing.md")
    assert result["audit_document"] == "document-8-analytics.md"
    assert result["completed_at"] == datetime(2024, 12, 7, 10, 15, tzinfo=UTC)
    assert result["status"] is ExecutionStatus.PARTIAL
    assert phase_rows(result) == [
        (42, "Analytics spec", OK, "c2c2c21"),
        (43, "Report parser", SKIPPED, None),
        (44, "Storage", SKIPPED, None),
        (45, "CLI", OK, "c2c2c24"),
    ]
    assert result["warnings"] == []


def test_escaped_pipe_inside_a_cell():
    result = parse_fixture("escaped_pipe.md")
    assert result["document_title"] == "Document 9: Table | JSON | CSV"
    assert phase_rows(result) == [
        (46, "Table | JSON renderers", OK, "d3d3d31"),
        (47, "CSV with a|b escaping", OK, "d3d3d32"),
    ]


# -- structure ----------------------------------------------------------------------------


def test_other_phase_tables_and_fenced_tables_or_headings_are_ignored():
    result = parse_fixture("other_phase_tables_and_fences.md")
    # Not the fenced example's metadata, nor the Acceptance Criteria table's phases.
    assert result["audit_document"] == "document-10-templates.md"
    assert phase_rows(result) == [
        (48, "Template loader", OK, "e4e4e41"),
        (49, "Template inheritance", OK, "e4e4e42"),
    ]
    assert pick(result, "baseline_tests", "final_tests", "reported_test_delta") == {
        "baseline_tests": 330,
        "final_tests": 351,
        "reported_test_delta": 21,
    }
    assert result["warnings"] == []


def test_rule_right_under_a_line_is_a_separator_not_a_heading():
    text = (
        "# Execution Report\n\n## Metadata\n\n| Field | Value |\n|---|---|\n| Project | P |\n\n"
        "## Test Results\n\n**Baseline:** 5 tests\n**Final:** 7 tests\n---\n**Delta:** +2\n"
    )
    result = parse_report_text(text)
    assert pick(result, "baseline_tests", "final_tests", "reported_test_delta") == {
        "baseline_tests": 5,
        "final_tests": 7,
        "reported_test_delta": 2,
    }


def test_labelled_values_written_as_a_table_or_list():
    text = (
        "# Execution Report\n\n## Metadata\n\n| Field | Value |\n|---|---|\n| Project | P |\n\n"
        "## 3. Test Results (pytest)\n\n| Metric | Value |\n|---|---|\n| Baseline | 10 |\n"
        "| Final | 12 tests |\n\n- **Delta**: +2\n\n## Git History\n\n> **Commits:** 4\n"
    )
    result = parse_report_text(text)
    assert pick(result, "baseline_tests", "final_tests", "reported_test_delta", "commit_count") == {
        "baseline_tests": 10,
        "final_tests": 12,
        "reported_test_delta": 2,
        "commit_count": 4,
    }


def test_crlf_line_endings_and_byte_order_mark():
    raw = (FIXTURES / "crlf_bom.md").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # the checkout kept them
    result = parse_fixture("crlf_bom.md")
    assert pick(result, "audit_document", "project_path", "started_at", "status") == {
        "audit_document": "document-17-windows.md",
        "project_path": r"C:\Users\jp\Projects\Phaser",
        "started_at": datetime(2025, 1, 3, 10, 0, tzinfo=UTC),
        "status": ExecutionStatus.SUCCESS,
    }
    assert phase_rows(result) == [(3, "Path handling", OK, "5b5b5b5")]
    assert (result["baseline_tests"], result["final_tests"]) == (10, 12)
    assert result["warnings"] == []


def test_lone_carriage_returns_end_lines_too():
    text = (FIXTURES / "compact_tables.md").read_text(encoding="utf-8").replace("\n", "\r")
    assert phase_rows(parse_report_text(text))[0] == (12, "Query filters", OK, "5e6f7a8")


# -- metadata values ----------------------------------------------------------------------


def test_tag_instead_of_branch_and_unicode_version_arrow():
    result = parse_fixture("tag_instead_of_branch.md")
    assert pick(
        result, "tag", "branch", "phaser_version", "phaser_version_from", "commit_count"
    ) == {
        "tag": "v1.8.0",
        "branch": "<missing>",
        "phaser_version": "1.8.0",
        "phaser_version_from": "1.7.0",
        "commit_count": 2,
    }
    assert result["final_commit"] == "f1f1f12"
    assert result["warnings"] == [NO_STATUS]


def test_base_commit_with_a_note_and_version_upgrade_with_ascii_arrow():
    result = parse_fixture("base_commit_note_version_upgrade.md")
    assert pick(
        result, "base_commit", "base_commit_note", "phaser_version", "phaser_version_from"
    ) == {
        "base_commit": "fd55fbe",
        "base_commit_note": "v1.7.0",
        "phaser_version": "1.7.0",
        "phaser_version_from": "1.6.3",
    }


def test_git_history_fills_a_branch_metadata_left_out_and_flags_a_different_one():
    base = (FIXTURES / "singular_summary.md").read_text(encoding="utf-8")
    assert parse_report_text(base)["branch"] == "audit/2025-01-02-typo"
    text = base.replace("| Project | Phaser |", "| Project | Phaser |\n| Branch | main |")
    result = parse_report_text(text)
    assert result["branch"] == "main"
    assert result["warnings"] == [
        "Git History: branch 'audit/2025-01-02-typo' on line 21 differs from "
        "Metadata 'main'; keeping Metadata"
    ]


# -- timestamps ---------------------------------------------------------------------------

PLUS_TWO = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("fixture", "started", "completed", "date_only"),
    [
        (
            "timestamps_offset_fraction.md",
            datetime(2025, 12, 6, 8, 45, 0, 250000, tzinfo=PLUS_TWO),
            datetime(2025, 12, 6, 9, 12, 30, 500000, tzinfo=UTC),
            "<missing>",
        ),
        (
            "timestamps_no_seconds_no_zone.md",
            datetime(2025, 12, 6, 8, 45, tzinfo=UTC),
            datetime(2025, 12, 6, 9, 30, 15, tzinfo=UTC),
            "<missing>",
        ),
        (
            "timestamps_bare_date.md",
            datetime(2025, 12, 6, tzinfo=UTC),
            datetime(2025, 12, 7, tzinfo=UTC),
            True,
        ),
    ],
)
def test_timestamp_fixtures(fixture: str, started: datetime, completed: datetime, date_only: Any):
    result = parse_fixture(fixture)
    assert pick(result, "started_at", "completed_at", "date_only") == {
        "started_at": started,
        "completed_at": completed,
        "date_only": date_only,
    }
    assert result["started_at"].utcoffset() == started.utcoffset()


@pytest.mark.parametrize(
    ("value", "expected", "date_only"),
    [
        ("2025-12-06T08:45:00Z", datetime(2025, 12, 6, 8, 45, tzinfo=UTC), False),
        ("2025-12-06T08:45:00z", datetime(2025, 12, 6, 8, 45, tzinfo=UTC), False),
        ("2025-12-06T08:45:00+02:00", datetime(2025, 12, 6, 8, 45, tzinfo=PLUS_TWO), False),
        ("2025-12-06T08:45:00+0200", datetime(2025, 12, 6, 8, 45, tzinfo=PLUS_TWO), False),
        (
            "2025-12-06T08:45:00-05:30",
            datetime(2025, 12, 6, 8, 45, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
            False,
        ),
        ("2025-12-06T08:45:00.123456789Z", datetime(2025, 12, 6, 8, 45, 0, 123456, UTC), False),
        ("2025-12-06T08:45:00,5Z", datetime(2025, 12, 6, 8, 45, 0, 500000, UTC), False),
        ("2025-12-06 08:45:00", datetime(2025, 12, 6, 8, 45, tzinfo=UTC), False),
        ("2025-12-06 08:45 UTC", datetime(2025, 12, 6, 8, 45, tzinfo=UTC), False),
        ("2025-12-06T08:45", datetime(2025, 12, 6, 8, 45, tzinfo=UTC), False),
        ("2025-12-06T8:05:09", datetime(2025, 12, 6, 8, 5, 9, tzinfo=UTC), False),
        ("2025-12-06T08:45:00Z (approx.)", datetime(2025, 12, 6, 8, 45, tzinfo=UTC), False),
        ("2025-12-07", datetime(2025, 12, 7, tzinfo=UTC), True),
    ],
)
def test_timestamp_forms(value: str, expected: datetime, date_only: bool):
    assert parse_timestamp(value) == (expected, date_only)
    assert parse_timestamp(value)[0].utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2025-13-01",
        "2025-12-06T25:00",
        "2025-12-06T08:45:00+99:00",
        "2025-12-06T08:45:00+05:75",  # minutes past 59: the same rule as --since's
        "12/06/2025",
    ],
)
def test_unreadable_timestamps(value: str):
    assert parse_timestamp(value) is None


# -- counts -------------------------------------------------------------------------------


def test_counts_with_notes_and_pytest_outcomes():
    result = parse_fixture("counts_with_notes.md")
    assert pick(
        result,
        "baseline_tests",
        "baseline_tests_note",
        "final_tests",
        "final_tests_outcomes",
        "reported_test_delta",
    ) == {
        "baseline_tests": 0,
        "baseline_tests_note": "module did not exist on main",
        "final_tests": 479,
        "final_tests_outcomes": {"passed": 472, "failed": 7},
        "reported_test_delta": 479,
    }
    assert result["warnings"] == [NO_STATUS]


def test_counts_with_a_stated_total_and_thousands_separators():
    result = parse_fixture("counts_total_and_separators.md")
    assert pick(
        result, "baseline_tests", "final_tests", "final_tests_note", "reported_test_delta"
    ) == {
        "baseline_tests": 1204,
        "final_tests": 1312,
        "final_tests_note": "test_bridge.py",
        "reported_test_delta": 108,
    }
    assert result["warnings"] == [NO_STATUS]


@pytest.mark.parametrize(
    ("value", "count"),
    [
        ("280 tests", 280),
        ("280", 280),
        ("1,204 tests", 1204),
        ("1_204 tests", 1204),
        ("0 tests (module did not exist on main)", 0),
        ("(3 modules) 280 tests", 280),
        ("472 passed, 7 failed tests", 479),
        ("472 passed, 7 failed, 3 skipped, 1 error, 4 warnings", 483),
        ("108 tests (test_bridge.py), 499 total", 499),
        ("Total: 499 (108 new)", 499),
        ("312 passed in 14.82s", 312),
    ],
)
def test_test_count_forms(value: str, count: int):
    assert read_test_count(value)[0] == count


@pytest.mark.parametrize(
    ("value", "delta"),
    [
        ("+32 tests", 32),
        ("32", 32),
        ("-3 tests", -3),
        ("−3", -3),
        ("±0", 0),
        ("+1,204", 1204),
        ("No change", 0),
        ("+32 (280 → 312)", 32),
    ],
)
def test_delta_forms(value: str, delta: int):
    assert read_delta(value) == delta


def test_inconsistent_figures_are_kept_and_flagged():
    result = parse_fixture("inconsistent_figures.md")
    assert pick(
        result,
        "phases_planned",
        "phases_completed",
        "baseline_tests",
        "final_tests",
        "reported_test_delta",
    ) == {
        "phases_planned": 3,
        "phases_completed": 3,
        "baseline_tests": 100,
        "final_tests": 130,
        "reported_test_delta": 25,
    }
    assert result["warnings"] == [
        "Execution Summary: 'Phases' on line 14 says 3 planned but the phase table on line 16 "
        "has 2 rows; keeping the stated figure",
        "Execution Summary: 'Phases' on line 14 says 3 completed but the phase table on line 16 "
        "marks 2 completed; keeping the stated figure",
        "Test Results: stated Delta +25 on line 27 differs from Final - Baseline = +30; keeping "
        "the stated figures",
    ]


# -- git and files ------------------------------------------------------------------------


def test_singular_diffstat_with_a_missing_half():
    result = parse_fixture("singular_summary.md")
    assert pick(
        result, "files_changed", "lines_added", "lines_removed", "commit_count", "final_commit"
    ) == {
        "files_changed": 1,
        "lines_added": 2,
        "lines_removed": 0,
        "commit_count": 1,
        "final_commit": "9a9a9a9",
    }
    assert phase_rows(result) == [(1, "Fix typo", OK, "9a9a9a9")]


@pytest.mark.parametrize(
    ("value", "fields"),
    [
        (
            "12 files changed, 1486 insertions(+), 37 deletions(-)",
            {"files_changed": 12, "lines_added": 1486, "lines_removed": 37},
        ),
        (
            "1 file changed, 2 insertions(+)",
            {"files_changed": 1, "lines_added": 2, "lines_removed": 0},
        ),
        (
            "1 file changed, 1 deletion(-)",
            {"files_changed": 1, "lines_added": 0, "lines_removed": 1},
        ),
        ("3 files changed", {"files_changed": 3, "lines_added": 0, "lines_removed": 0}),
        ("1,204 insertions(+)", {"lines_added": 1204}),
        ("several files", None),
    ],
)
def test_diffstat_forms(value: str, fields: dict[str, int] | None):
    assert read_diffstat(value) == fields


def test_non_hex_shas_are_kept_as_written():
    result = parse_fixture("non_hex_shas.md")
    assert result["base_commit"] == "a1b2c3d4e5f6"
    assert result["final_commit"] == "z9y8x7w6v5u4"
    assert result["commit_count"] == 3
    assert phase_rows(result) == [
        (36, "Reverse Audit Specification", OK, "b2c3d4e5f6g7"),
        (37, "Git Diff Parsing", OK, "c3d4e5f"),
        (38, "Change Detection", OK, "d4e5f6g"),
    ]


def test_full_git_log_format_and_derived_commit_count():
    text = (FIXTURES / "singular_summary.md").read_text(encoding="utf-8")
    full_log = (
        "```\ncommit 0f0f0f0aa\nAuthor: Claude <noreply@anthropic.com>\nDate:   today\n\n"
        "    Phase 2: Second\n\ncommit 9a9a9a9\nAuthor: Claude\n\n    Phase 1: Fix typo\n```"
    )
    text = text.replace("**Commits:** 1\n", "").replace(
        "```\n9a9a9a9 Phase 1: Fix typo in README\n```", full_log
    )
    result = parse_report_text(text)
    assert (result["final_commit"], result["commit_count"]) == ("0f0f0f0aa", 2)


def test_phase_numbers_as_written_not_from_one():
    assert [p.phase_number for p in parse_fixture("canonical.md")["phases"]] == list(range(36, 42))


# -- status and issues --------------------------------------------------------------------


def test_status_derived_from_rows_and_issue_paragraph():
    result = parse_fixture("derived_status.md")
    assert result["status"] is ExecutionStatus.PARTIAL
    assert (result["phases_completed"], result["phases_planned"]) == (2, 3)
    reason = "The cache warm-up in phase 92 failed twice before being abandoned."
    assert result["failure_reasons"] == [reason]  # the fenced traceback is not an item
    assert [p.error_message for p in result["phases"]] == [None, None, reason]
    assert result["warnings"] == []


@pytest.mark.parametrize(
    ("rows", "status"),
    [
        (["✅", "✅"], ExecutionStatus.SUCCESS),
        (["✅", "❌"], ExecutionStatus.PARTIAL),
        (["❌", "⚠️"], ExecutionStatus.FAILED),
    ],
)
def test_status_derivation(rows: list[str], status: ExecutionStatus):
    table = "".join(f"| {n} | T | {s} | |\n" for n, s in enumerate(rows, start=1))
    text = (
        f"{METADATA}## Execution Summary\n\n| Phase | Title | Status | Commit |\n|-|-|-|-|\n{table}"
    )
    assert parse_report_text(text)["status"] is status


def test_status_derived_from_counts_without_rows():
    text = f"{METADATA}## Execution Summary\n"
    assert parse_report_text(text + "**Phases:** 2 of 5\n")["status"] is ExecutionStatus.PARTIAL
    assert parse_report_text(text + "**Phases:** 5/5\n")["status"] is ExecutionStatus.SUCCESS


def test_no_result_and_no_phases_is_failed_with_a_warning():
    result = parse_fixture("metadata_only.md")
    assert result["status"] is ExecutionStatus.FAILED
    assert result["warnings"] == [NO_STATUS]
    for absent in ("phases", "phases_planned", "baseline_tests", "failure_reasons", "final_commit"):
        assert absent not in result


def test_issue_list_items_name_their_phases():
    result = parse_fixture("failed_issue_list.md")
    assert result["status"] is ExecutionStatus.FAILED
    first = "Phase 81: pytest timed out after 600 s in test_large_import"
    second = "Phase 82 was skipped because Phase 81 failed"
    assert result["failure_reasons"] == [
        first,
        second,
        "The pre-commit hook rejected two commits (line too long)",
    ]
    assert [p.error_message for p in result["phases"]] == [None, first, second]


def test_no_issues_sentence_is_an_empty_list():
    result = parse_fixture("canonical.md")
    assert result["failure_reasons"] == []
    assert all(p.error_message is None for p in result["phases"])


@pytest.mark.parametrize("body", ["None.", "- None", "No issues were encountered.", "N/A"])
def test_other_ways_of_saying_no_issues(body: str):
    text = f"{METADATA}## Issues Encountered\n\n{body}\n"
    assert parse_report_text(text)["failure_reasons"] == []


def test_issue_sub_headings_with_list_items_before_them():
    text = (
        f"{METADATA}## Issues\n\n"
        "- Flaky network during phase 3\n\n### Phase 4 (Storage)\n\n- detail, not a reason\n\n"
        "### Lint failures\n\nTwo commits were rejected.\n"
    )
    assert parse_report_text(text)["failure_reasons"] == [
        "Flaky network during phase 3",
        "Phase 4 (Storage)",
        "Lint failures: Two commits were rejected.",
    ]


def test_number_and_name_columns_and_github_shortcodes():
    text = (
        f"{METADATA}## Execution Summary\n\n**Result:** :warning: Completed with issues\n\n"
        "| # | Phase | Status | Commit |\n|-|-|-|-|\n"
        "| 36 | Spec | :white_check_mark: | abc1234 |\n| 37 | Diff | :x: | |\n"
    )
    result = parse_report_text(text)
    assert result["status"] is ExecutionStatus.PARTIAL
    assert phase_rows(result) == [(36, "Spec", OK, "abc1234"), (37, "Diff", FAILED, None)]
