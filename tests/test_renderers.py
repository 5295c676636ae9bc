"""The built-in renderers: table, json, csv, markdown, shields-io and svg (spec §8, §9.3).

Golden files under tests/golden/<format>/ hold the exact output for fixed data; after an
intended change, regenerate them with ``UPDATE_GOLDEN=1 pytest tests/test_renderers.py``
and review the diff.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from phaser_analytics.default_plugins import (
    badge_render,
    csv_format,
    csv_render,
    json_format,
    markdown_format,
    shields_io,
    table,
)
from phaser_analytics.errors import AnalyticsError
from phaser_analytics.formatting import display_width
from phaser_analytics.hookspecs import Renderer, RenderView
from phaser_analytics.models import (
    AggregatedStats,
    AnalyticsQuery,
    ExecutionRecord,
    ExecutionStatus,
    PhaseRecord,
    PhaseStatus,
)

GOLDEN = Path(__file__).parent / "golden"
UTC = timezone.utc
IMPORTED = datetime(2024, 12, 7, 8, 0, tzinfo=UTC)
GENERATED = datetime(2024, 12, 7, 9, 0, tzinfo=UTC)
PROJECT = {"name": "Phaser", "path": "/Users/jp/Projects/Phaser"}

RENDERERS: dict[str, Any] = {
    "table": table.TableRenderer(),
    "json": json_format.JsonRenderer(),
    "csv": csv_format.CsvRenderer(),
    "markdown": markdown_format.MarkdownRenderer(),
    "shields-io": shields_io.ShieldsIoRenderer(),
    "svg": shields_io.SvgBadgeRenderer(),
}


# --- fixed data --------------------------------------------------------------------------


def record(
    number: int,
    document: str,
    started: datetime,
    seconds: float | None,
    status: ExecutionStatus = ExecutionStatus.SUCCESS,
    baseline: int | None = None,
    final: int | None = None,
    **fields: Any,
) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=f"{number:08x}-0000-4000-8000-{number:012x}",
        audit_document=document,
        project_name=fields.pop("project_name", PROJECT["name"]),
        project_path=fields.pop("project_path", PROJECT["path"]),
        started_at=started,
        completed_at=fields.pop(
            "completed_at", started + timedelta(seconds=seconds) if seconds is not None else None
        ),
        status=status,
        baseline_tests=baseline,
        final_tests=final,
        report_path=f"/archive/{document}/EXECUTION_REPORT.md",
        imported_at=IMPORTED,
        **fields,
    )


def reverse_phases() -> list[PhaseRecord]:
    """Phases 36–41 of spec §8.2, with per-phase test counts."""
    titles = [
        "Reverse Audit Specification",
        "Git Diff Parsing",
        "Change Detection",
        "Document Generation",
        "CLI Integration",
        "Testing",
    ]
    commits = ["b2c3d4e", "c3d4e5f", "d4e5f6g", "e5f6g7h", "f6g7h8i", "g7h8i9j"]
    gains = [8, 12, 5, 4, 2, 1]
    phases, tests = [], 280
    for offset, (title, sha, gain) in enumerate(zip(titles, commits, gains, strict=True)):
        phases.append(
            PhaseRecord(
                36 + offset,
                title,
                PhaseStatus.COMPLETED,
                sha,
                tests_before=tests,
                tests_after=tests + gain,
            )
        )
        tests += gain
    return phases


def spec_record() -> ExecutionRecord:
    """document-7-reverse.md, as spec §8.2 and §8.3 show it."""
    return record(
        7,
        "document-7-reverse.md",
        datetime(2024, 12, 6, 10, 30, tzinfo=UTC),
        5003,
        baseline=280,
        final=312,
        document_title="Reverse Audit",
        branch="audit/2024-12-06-reverse",
        phaser_version="1.7.0",
        phases_planned=6,
        phases_completed=6,
        base_commit="a1b2c3d",
        final_commit="g7h8i9j",
        commit_count=7,
        files_changed=12,
        lines_added=840,
        lines_removed=112,
        phases=reverse_phases(),
    )


def many_records() -> list[ExecutionRecord]:
    """Spec §8.1's five executions: 3 of 5 successful, average 1h 11m, +172 tests."""
    day = datetime(2024, 12, 3, tzinfo=UTC)
    return [
        record(8, "document-8-analytics.md", day + timedelta(days=4, hours=9), 4500,
               baseline=312, final=357, phases_planned=5, phases_completed=5),
        spec_record(),
        record(6, "document-6-replay.md", day + timedelta(days=2, hours=14), 3497,
               ExecutionStatus.PARTIAL, 252, 280, phases_planned=5, phases_completed=4,
               failure_reasons=["Phase 31 skipped: replay fixtures missing"],
               phases=[PhaseRecord(30, "Replay Engine", PhaseStatus.COMPLETED, "1a2b3c4"),
                       PhaseRecord(31, "Replay Fixtures", PhaseStatus.SKIPPED)]),
        record(5, "document-5-ci.md", day + timedelta(days=1, hours=8), 7500,
               baseline=185, final=252, phases_planned=6, phases_completed=6, tag="v1.6.0"),
        record(4, "document-4-bridge.md", day + timedelta(hours=16), 800,
               ExecutionStatus.FAILED, 185, 185, phases_planned=4, phases_completed=1,
               failure_reasons=["Phase 22 failed: bridge tests time out", "Rolled back"]),
    ]  # fmt: skip


def wide_records() -> list[ExecutionRecord]:
    """Wide characters, emoji, a name longer than any terminal, a bare-date report."""
    day = datetime(2024, 12, 10, 9, 0, tzinfo=UTC)
    midnight = datetime(2024, 12, 8, tzinfo=UTC)
    return [
        record(21, "監査ドキュメント第七章-リバース.md", day, 4000, baseline=10, final=25),
        record(22, "🚀-launch-checklist-✅.md", day - timedelta(days=1), 61,
               ExecutionStatus.PARTIAL, 25, 22, phases=[
                   PhaseRecord(1, "Überprüfung der Datenbank — 数据库检查", PhaseStatus.COMPLETED,
                               "abcdef0123", duration_seconds=30),
                   PhaseRecord(2, "⚠️ Warnings | pipes", PhaseStatus.SKIPPED)]),
        # A bare-date report is stored at midnight UTC, its duration unknown.
        record(23, "document-" + "very-long-name-" * 8 + "end.md", midnight, None,
               ExecutionStatus.FAILED, date_only=True, completed_at=midnight),
    ]  # fmt: skip


def global_records() -> list[ExecutionRecord]:
    """Two projects, with token usage and cost (seed 004)."""
    day = datetime(2024, 12, 8, 12, 0, tzinfo=UTC)
    return [
        record(31, "document-9-tokens.md", day, 1800, baseline=400, final=420,
               tokens={"input": 800_000, "output": 150_000, "cache_creation": 0,
                       "cache_read": 250_000, "total": 1_200_000}, cost_usd=3.4),
        record(32, "pilot-task-13.md", day - timedelta(hours=5), 2400,
               ExecutionStatus.FAILED, 90, 87, project_name="Pilot",
               project_path="/Users/jp/Projects/Pilot",
               tokens={"total": 20_000}, cost_usd=0.25),
    ]  # fmt: skip


DATASETS = {
    "empty": list,
    "one": lambda: [spec_record()],
    "many": many_records,
    "wide": wide_records,
    "global": global_records,
}


def make_view(records: list[ExecutionRecord], dataset: str = "", **options: Any) -> RenderView:
    is_global = dataset == "global"
    projects = [
        {"name": "Phaser", "path": "/Users/jp/Projects/Phaser"},
        {"name": "Pilot", "path": "/Users/jp/Projects/Pilot"},
    ]
    return RenderView(
        records=records,
        stats=AggregatedStats.compute(records),
        query=AnalyticsQuery(limit=5 if dataset != "global" else 50),
        project=None if is_global else dict(PROJECT),
        projects=projects if is_global else [],
        generated_at=GENERATED,
        # The golden files show times in UTC, whatever the machine's zone.
        options={"zone": timezone.utc, **options},
    )


def dataset_view(dataset: str, **options: Any) -> RenderView:
    return make_view(DATASETS[dataset](), dataset, **options)


# --- golden files --------------------------------------------------------------------------

SUFFIX = {"table": "txt", "json": "json", "csv": "csv", "markdown": "md", "shields-io": "json"}
# (format, golden name, dataset, options)
GOLDEN_CASES = [
    *[(fmt, ds, ds, {}) for fmt in ("table", "json", "csv", "markdown") for ds in DATASETS],
    ("table", "verbose", "many", {"verbose": True}),
    ("table", "verbose-wide", "wide", {"verbose": True, "width": 60}),
    ("table", "wide-narrow", "wide", {"width": 60}),
    ("table", "verbose-global", "global", {"verbose": True}),
    ("table", "color", "many", {"color": True}),
    ("markdown", "verbose", "many", {"verbose": True}),
    ("json", "ci-minimal", "many", {"ci_minimal": True}),
    ("csv", "phases", "many", {"phases": True}),
    *[("shields-io", ds, ds, {}) for ds in ("empty", "one", "many")],
    *[("svg", ds, ds, {}) for ds in ("empty", "many")],
]


def check_golden(fmt: str, name: str, text: str) -> None:
    path = GOLDEN / fmt / f"{name}.{SUFFIX.get(fmt, fmt)}"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        # The file ends with a newline, as the CLI writes it; render() does not.
        path.write_text(text + "\n", encoding="utf-8", newline="")
    expected = path.read_text(encoding="utf-8")
    assert text + "\n" == expected, f"{path} differs; UPDATE_GOLDEN=1 regenerates it"


@pytest.mark.parametrize(
    ("fmt", "name", "dataset", "options"),
    GOLDEN_CASES,
    ids=[f"{fmt}-{name}" for fmt, name, _, _ in GOLDEN_CASES],
)
def test_golden(fmt, name, dataset, options):
    check_golden(fmt, name, RENDERERS[fmt].render(dataset_view(dataset, **options)))


# --- table ---------------------------------------------------------------------------------


def frame_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and line[0] in "╭│├╰"]


class TestOutputFormatting:
    """Spec §14.2's output tests."""

    def test_format_table_basic(self):
        text = RENDERERS["table"].render(dataset_view("many"))
        lines = text.splitlines()
        assert lines[0].startswith("╭") and lines[0].endswith("╮")
        assert "Phaser Analytics - Last 5 Executions" in lines[1]
        assert re.search(r"│ Date +│ Document +│ Status │ Duration │ Δ Tests │", text)
        assert "│ 2024-12-06 10:30 │ document-7-reverse.md   │ ✅     │ 1h 23m   │ +32 " in text
        assert "│ 2024-12-05 14:00 │ document-6-replay.md    │ ⚠️     │ 58m 17s  │ +28     │" in text
        assert lines[-1] == (
            "Summary: 5 executions | 3 successful (60%) | Avg: 1h 11m | Total Δ: +172 tests"
        )
        assert lines[-2] == ""

    def test_format_table_verbose(self):
        text = RENDERERS["table"].render(dataset_view("one", verbose=True))
        assert "document-7-reverse.md - Details" in text
        for line in (
            "Started:    2024-12-06T10:30:00Z",
            "Completed:  2024-12-06T11:53:23Z",
            "Duration:   1h 23m 23s",
            "Status:     ✅ All phases completed",
            "Branch:     audit/2024-12-06-reverse",
            "Commits:    7",
            "Files:      12 changed (+840 -112 lines)",
        ):
            assert f"│ {line}" in text
        assert re.search(r"│ Phase │ Title +│ Status │ Commit  │ Tests │", text)
        assert re.search(
            r"│    36 │ Reverse Audit Specification +│ ✅     │ b2c3d4e │ \+8    │", text
        )
        assert text.endswith("Total Δ: +32 tests")

    def test_format_table_empty(self):
        text = RENDERERS["table"].render(dataset_view("empty"))
        assert text == (
            "No analytics data found. Run 'phaser analytics import EXECUTION_REPORT.md' to import."
        )


class TestTable:
    @pytest.mark.parametrize("width", [30, 40, 50, 60, 72, 80, 100, 160])
    @pytest.mark.parametrize("verbose", [False, True])
    @pytest.mark.parametrize("dataset", ["many", "wide", "global"])
    def test_every_frame_line_has_the_same_display_width(self, dataset, verbose, width):
        text = RENDERERS["table"].render(dataset_view(dataset, verbose=verbose, width=width))
        for box in text.split("\n\n")[:-1]:
            widths = {display_width(line) for line in box.splitlines()}
            assert len(widths) == 1, box
            # Below that, the columns' minimum widths need more than the terminal has.
            if width >= 70:
                assert widths.pop() <= width

    def test_long_documents_are_shortened_not_wrapped(self):
        text = RENDERERS["table"].render(dataset_view("wide", width=60))
        assert "│ document-ver… │" in text
        assert all(display_width(line) <= 60 for line in frame_lines(text))

    def test_wide_characters_keep_the_frame(self):
        text = RENDERERS["table"].render(dataset_view("wide", width=100))
        row = next(line for line in text.splitlines() if "監査" in line)
        header = next(line for line in text.splitlines() if "Document" in line)
        assert display_width(row) == display_width(header)
        # The bars of every row stand in the same columns as the header's.
        bar_columns = [display_width(header[:i]) for i, c in enumerate(header) if c == "│"]
        assert [display_width(row[:i]) for i, c in enumerate(row) if c == "│"] == bar_columns

    def test_default_width_is_100(self):
        records = [record(1, "x" * 300 + ".md", datetime(2024, 1, 1, tzinfo=UTC), 60)]
        text = RENDERERS["table"].render(make_view(records))
        assert {display_width(line) for line in frame_lines(text)} == {100}

    def test_colour_only_when_asked(self):
        plain = RENDERERS["table"].render(dataset_view("many"))
        coloured = RENDERERS["table"].render(dataset_view("many", color=True))
        assert "\x1b[" not in plain
        assert "\x1b[32m✅\x1b[0m" in coloured
        assert "\x1b[31m❌\x1b[0m" in coloured
        assert re.sub(r"\x1b\[\d+m", "", coloured) == plain

    def test_unknown_duration_and_date_only(self):
        text = RENDERERS["table"].render(dataset_view("wide", verbose=True, width=200))
        assert "│ Started:    2024-12-08 " in text
        assert "│ Duration:   - " in text

    def test_averages_leave_unknown_durations_out(self):
        day = datetime(2024, 12, 1, tzinfo=UTC)
        records = [record(1, "a.md", day, 600), record(2, "b.md", day, None)]
        assert "Avg: 10m 00s" in RENDERERS["table"].render(make_view(records))

    def test_summary_with_unknowns_and_singulars(self):
        day = datetime(2024, 12, 1, tzinfo=UTC)
        records = [record(1, "a.md", day, None, ExecutionStatus.FAILED)]
        text = RENDERERS["table"].render(make_view(records))
        assert text.splitlines()[-1] == (
            "Summary: 1 execution | 0 successful (0%) | Avg: - | Total Δ: -"
        )
        records = [record(1, "a.md", day, 60, baseline=1, final=2)]
        assert RENDERERS["table"].render(make_view(records)).endswith("Total Δ: +1 test")

    def test_summary_adds_tokens_and_cost_when_known(self):
        text = RENDERERS["table"].render(dataset_view("global", width=200))
        assert text.splitlines()[-1].endswith(" | Tokens: 1.2M | Cost: $3.65")

    def test_global_view_has_a_project_column(self):
        text = RENDERERS["table"].render(dataset_view("global"))
        assert re.search(r"│ Date +│ Project +│ Document +│", text)
        assert re.search(r"│ Pilot +│ pilot-task-13\.md", text)
        assert "Project" not in RENDERERS["table"].render(dataset_view("many"))

    def test_verbose_shows_tag_when_there_is_no_branch(self):
        text = RENDERERS["table"].render(dataset_view("many", verbose=True))
        assert "│ Tag:        v1.6.0" in text
        assert "│ Issues:     Phase 22 failed: bridge tests time out" in text
        assert "│             Rolled back" in text

    def test_terminal_escapes_in_reports_do_not_reach_the_terminal(self):
        day = datetime(2024, 12, 1, tzinfo=UTC)
        records = [record(1, "evil\x1b]0;pwned\x07\n.md", day, 60)]
        text = RENDERERS["table"].render(make_view(records, verbose=True))
        assert "\x1b" not in text and "\x07" not in text
        widths = {display_width(line) for line in frame_lines(text)}
        assert len(widths) == 1


# --- json ----------------------------------------------------------------------------------


class TestJson:
    def test_format_json_valid(self):
        document = json.loads(RENDERERS["json"].render(dataset_view("many")))
        assert list(document) == [
            "schema_version",
            "query",
            "project",
            "executions",
            "stats",
            "generated_at",
        ]
        assert document["project"] == PROJECT
        assert document["query"]["limit"] == 5
        assert document["generated_at"] == "2024-12-07T09:00:00Z"
        first = document["executions"][1]
        assert first["audit_document"] == "document-7-reverse.md"
        assert first["started_at"] == "2024-12-06T10:30:00Z"
        assert first["duration_seconds"] == 5003
        assert first["test_delta"] == 32
        assert len(first["phases"]) == 6

    def test_format_json_includes_stats(self):
        stats = json.loads(RENDERERS["json"].render(dataset_view("many")))["stats"]
        assert stats["total_executions"] == 5
        assert (stats["successful"], stats["partial"], stats["failed"]) == (3, 1, 1)
        assert stats["success_rate"] == 0.6
        assert stats["avg_duration_seconds"] == 4260
        assert stats["total_test_delta"] == 172

    def test_executions_are_full_record_dicts(self):
        records = many_records()
        document = json.loads(RENDERERS["json"].render(make_view(records)))
        assert document["executions"] == [r.to_dict() for r in records]

    def test_global_view(self):
        document = json.loads(RENDERERS["json"].render(dataset_view("global")))
        assert document["project"] is None
        assert [p["name"] for p in document["projects"]] == ["Phaser", "Pilot"]
        assert {e["project_name"] for e in document["executions"]} == {"Phaser", "Pilot"}

    def test_ci_minimal(self):
        text = RENDERERS["json"].render(dataset_view("many", ci_minimal=True))
        assert text == (
            '{"total_executions":5,"successful":3,"partial":1,"failed":1,"success_rate":0.6}'
        )

    @pytest.mark.parametrize("dataset", list(DATASETS))
    def test_same_text_as_json_dumps(self, dataset):
        text = RENDERERS["json"].render(dataset_view(dataset))
        assert json.dumps(json.loads(text), indent=2, ensure_ascii=False) == text

    def test_extra_values_of_plugins_serialise(self):
        day = datetime(2024, 12, 1, tzinfo=UTC)
        odd = record(1, "a.md", day, 60, extra={"seen": day, "tags": {"b", "a"}, "p": Path("/x")})
        extra = json.loads(RENDERERS["json"].render(make_view([odd])))["executions"][0]["extra"]
        assert extra == {"seen": "2024-12-01T00:00:00Z", "tags": ["a", "b"], "p": "/x"}


# --- csv -----------------------------------------------------------------------------------


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


class TestCsv:
    def test_format_csv_header(self):
        text = RENDERERS["csv"].render(dataset_view("many"))
        header = text.splitlines()[0].split(",")
        assert header[:6] == [
            "execution_id",
            "audit_document",
            "started_at",
            "status",
            "duration_seconds",
            "test_delta",
        ]
        rows = read_csv(text)
        assert len(rows) == 5
        assert rows[1]["audit_document"] == "document-7-reverse.md"
        assert rows[1]["started_at"] == "2024-12-06T10:30:00Z"
        assert rows[1]["duration_seconds"] == "5003"
        assert rows[1]["test_delta"] == "32"

    def test_every_flat_field_has_a_column(self):
        columns = set(csv_render.execution_columns())
        flat = {
            key
            for key, value in spec_record().to_dict().items()
            if not isinstance(value, (list, dict)) or key == "failure_reasons"
        } - {"schema_version", "tokens", "tokens_by_model", "extra"}
        assert flat <= columns
        assert {"tokens_total", "tokens_input", "cost_usd"} <= columns

    def test_format_csv_escaping(self):
        day = datetime(2024, 12, 1, tzinfo=UTC)
        tricky = record(
            1,
            'doc, "quoted"\nsecond line.md',
            day,
            60,
            baseline=10,
            final=7,
            branch='=HYPERLINK("http://evil","click")',
            document_title="+cmd|' /C calc'!A0",
            phaser_version="@SUM(1+1)",
            tag="-2+3",
            failure_reasons=["first", "=1+1"],
        )
        text = RENDERERS["csv"].render(make_view([tricky]))
        row = read_csv(text)[0]
        assert row["audit_document"] == 'doc, "quoted"\nsecond line.md'
        assert row["branch"] == '\'=HYPERLINK("http://evil","click")'
        assert row["document_title"] == "'+cmd|' /C calc'!A0"
        assert row["phaser_version"] == "'@SUM(1+1)"
        assert row["tag"] == "'-2+3"
        assert row["failure_reasons"] == "first; =1+1"  # starts with "f": not a formula
        assert row["test_delta"] == "-3"  # a number stays a number

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("-3", "-3"),
            ("+4.5", "+4.5"),
            ("-1e3", "-1e3"),
            ("-", "'-"),
            ("-3-3", "'-3-3"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("@x", "'@x"),
            ("plain", "plain"),
            ("", ""),
        ],
    )
    def test_neutralise(self, value, expected):
        assert csv_render.neutralise(value) == expected

    def test_cells(self):
        assert csv_render.cell(None) == ""
        assert csv_render.cell(True) == "true"
        assert csv_render.cell(-3) == "-3"
        assert csv_render.cell(5003.0) == "5003"
        assert csv_render.cell(0.25) == "0.25"
        assert csv_render.cell(["a", "b"]) == "a; b"

    def test_one_row_per_phase(self):
        rows = read_csv(RENDERERS["csv"].render(dataset_view("many", phases=True)))
        assert len(rows) == 8  # 6 reverse phases + 2 replay phases
        first = rows[0]
        assert first["execution_id"].startswith("00000007")
        assert (first["phase_number"], first["title"], first["status"]) == (
            "36",
            "Reverse Audit Specification",
            "completed",
        )
        assert first["test_delta"] == "8"
        assert first["execution_status"] == "success"

    @pytest.mark.parametrize("phases", [False, True])
    def test_render_iter_streams_row_by_row(self, phases):
        consumed = []

        class LazyRecords(list):
            def __iter__(self) -> Iterator[ExecutionRecord]:
                for item in list.__iter__(self):
                    consumed.append(item)
                    yield item

        view = make_view(LazyRecords(many_records()), phases=phases)
        consumed.clear()  # computing the stats read them all
        chunks = csv_format.CsvRenderer().render_iter(view)
        next(chunks)  # the header
        next(chunks)  # the first row
        assert len(consumed) <= 2  # the second record is read for --phases (first has none)
        rest = "".join(chunks)
        assert len(consumed) == 5
        assert rest.startswith("\n")
        view = make_view(many_records(), phases=phases)
        assert "".join(csv_render.render_iter(view)) == RENDERERS["csv"].render(view)

    def test_empty_is_only_the_header(self):
        text = RENDERERS["csv"].render(dataset_view("empty"))
        assert "\n" not in text and text.startswith("execution_id,")


class TestJsonStreaming:
    @pytest.mark.parametrize("dataset", list(DATASETS))
    def test_render_iter_joins_to_render(self, dataset):
        view = dataset_view(dataset)
        chunks = list(json_format.JsonRenderer().render_iter(view))
        assert "".join(chunks) == RENDERERS["json"].render(view)
        assert len(chunks) == len(view.records) + 3


# --- markdown ------------------------------------------------------------------------------


class TestMarkdown:
    def test_format_markdown_sections(self):
        text = RENDERERS["markdown"].render(dataset_view("many"))
        lines = text.splitlines()
        assert lines[0] == "# Phaser Analytics Report"
        assert lines[2] == "Generated: 2024-12-07 09:00:00 (UTC)"
        assert "## Summary" in lines and "## Recent Executions" in lines
        for row in (
            "| Metric | Value |",
            "| Total Executions | 5 |",
            "| Successful | 3 (60%) |",
            "| Partial | 1 (20%) |",
            "| Failed | 1 (20%) |",
            "| Average Duration | 1h 11m |",
            "| Total Test Delta | +172 |",
        ):
            assert row in lines
        block = text.split("### document-7-reverse.md\n\n", 1)[1].split("\n\n", 1)[0]
        assert block.splitlines() == [
            "- **ID:** `00000007`",
            "- **Status:** ✅ All phases completed",
            "- **Date:** 2024-12-06",
            "- **Duration:** 1h 23m",
            "- **Tests:** 280 → 312 (+32)",
            "- **Phases:** 6/6 completed",
        ]
        assert "## Cost" not in text

    def test_cost_section_when_known(self):
        text = RENDERERS["markdown"].render(dataset_view("global"))
        assert "## Cost" in text
        assert "| Total Tokens | 1.2M |" in text and "| Total Cost | $3.65 |" in text
        assert "- **Project:** Pilot" in text

    def test_empty(self):
        text = RENDERERS["markdown"].render(dataset_view("empty"))
        assert "| Total Executions | 0 |" in text
        assert text.endswith("## Recent Executions\n\n_No executions found._")

    def test_table_cells_are_escaped(self):
        text = RENDERERS["markdown"].render(dataset_view("wide", verbose=True))
        assert "| ⚠️ Warnings \\| pipes |" in text
        for line in text.splitlines():
            if line.startswith("| "):
                unescaped = re.sub(r"\\\|", "", line)
                assert unescaped.count("|") in (3, 7), line

    def test_headings_stay_on_one_line(self):
        day = datetime(2024, 12, 1, tzinfo=UTC)
        records = [record(1, "two\nlines.md", day, 60)]
        assert "### two lines.md\n" in RENDERERS["markdown"].render(make_view(records))

    def test_verbose_has_phase_tables(self):
        text = RENDERERS["markdown"].render(dataset_view("one", verbose=True))
        assert "| Phase | Title | Status | Commit | Tests | Duration |" in text
        assert "| 36 | Reverse Audit Specification | ✅ | b2c3d4e | +8 | - |" in text


# --- badges --------------------------------------------------------------------------------


def badge(records: list[ExecutionRecord], fmt: str = "shields-io", **options: Any) -> Any:
    text = RENDERERS[fmt].render(make_view(records, **options))
    return json.loads(text) if fmt == "shields-io" else text


def runs(successes: int, failures: int) -> list[ExecutionRecord]:
    day = datetime(2024, 12, 1, tzinfo=UTC)
    statuses = [ExecutionStatus.SUCCESS] * successes + [ExecutionStatus.FAILED] * failures
    return [record(i, f"d{i}.md", day, 60, status) for i, status in enumerate(statuses)]


class TestBadges:
    def test_spec_example(self):
        text = RENDERERS["shields-io"].render(make_view(runs(19, 1)))
        assert text == '{"schemaVersion":1,"label":"audits","message":"95%","color":"brightgreen"}'

    @pytest.mark.parametrize(
        ("successes", "failures", "color"),
        [(9, 1, "brightgreen"), (3, 1, "green"), (3, 2, "yellow"), (2, 3, "orange"),
         (1, 4, "red"), (0, 1, "red")],
    )  # fmt: skip
    def test_default_thresholds(self, successes, failures, color):
        assert badge(runs(successes, failures))["color"] == color

    def test_custom_thresholds_and_label(self):
        data = badge(runs(3, 1), label="Phaser audits", thresholds="99:blue,50:yellow")
        assert data == {
            "schemaVersion": 1,
            "label": "Phaser audits",
            "message": "75%",
            "color": "yellow",
        }
        assert badge(runs(3, 1), thresholds=[(80, "green")])["color"] == "red"

    def test_bad_thresholds(self):
        with pytest.raises(AnalyticsError, match="thresholds"):
            badge(runs(1, 0), thresholds="ninety:green")

    def test_no_data(self):
        assert badge([]) == {
            "schemaVersion": 1,
            "label": "audits",
            "message": "no data",
            "color": "lightgrey",
        }

    @pytest.mark.parametrize(
        ("metric", "message", "color"),
        [
            ("success-rate", "60%", "yellow"),
            ("phase-success-rate", "85%", "green"),
            ("executions", "5", "blue"),
            ("avg-duration", "1h 11m", "blue"),
            ("test-delta", "+172 tests", "blue"),
        ],
    )
    def test_metrics(self, metric, message, color):
        data = badge(many_records(), metric=metric)
        assert (data["message"], data["color"]) == (message, color)

    def test_unknown_values_are_no_data(self):
        day = datetime(2024, 12, 1, tzinfo=UTC)
        records = [record(1, "a.md", day, None)]
        for metric in ("phase-success-rate", "avg-duration", "test-delta"):
            assert badge(records, metric=metric)["message"] == "no data"

    def test_unknown_metric(self):
        with pytest.raises(AnalyticsError, match="Unknown badge metric"):
            badge(runs(1, 0), metric="happiness")

    def test_svg_is_well_formed_and_escaped(self):
        svg = badge(runs(19, 1), "svg", label='<b>"audits" & co\x01</b>')
        root = ET.fromstring(svg)
        texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
        assert texts == ['<b>"audits" & co\ufffd</b>'] * 2 + ["95%"] * 2
        assert 'fill="#4c1"' in svg
        assert "<b>" not in svg

    def test_svg_widths_grow_with_text(self):
        short = ET.fromstring(badge(runs(1, 0), "svg", label="a"))
        long = ET.fromstring(badge(runs(1, 0), "svg", label="a much longer label"))
        assert int(long.get("width")) > int(short.get("width")) + 60

    def test_svg_colours(self):
        assert badge_render.svg_color("brightgreen") == "#4c1"
        assert badge_render.svg_color("ff0000") == "#ff0000"
        assert badge_render.svg_color('red" onload="x') == "#9f9f9f"

    def test_badges_belong_to_the_badge_command(self):
        assert RENDERERS["shields-io"].commands == ("badge",)
        assert RENDERERS["svg"].commands == ("badge",)
        assert "badge" not in RENDERERS["table"].commands


# --- registration --------------------------------------------------------------------------

MODULES = [table, json_format, csv_format, markdown_format, shields_io]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_each_module_registers_its_renderers(module):
    registered: list[Any] = []
    module.register_renderers(registered.append)
    assert registered
    for renderer in registered:
        assert isinstance(renderer, Renderer)
        assert renderer.suffix.startswith(".")
    # Built-ins run last, so a third-party plugin can override them (STYLE.md habit 3).
    assert module.register_renderers.phaser_analytics_impl["trylast"] is True


def test_renderer_names():
    names = []
    for module in MODULES:
        module.register_renderers(lambda renderer: names.append(renderer.name))
    assert names == ["table", "json", "csv", "markdown", "shields-io", "svg"]


def test_importing_renderers_is_cheap():
    code = (
        "import sys\n"
        "from phaser_analytics.default_plugins import table, json_format, csv_format, "
        "markdown_format, shields_io\n"
        "print(sorted(m for m in ('jinja2', 'wcwidth') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr
