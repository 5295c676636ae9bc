"""``trends``, ``phases`` and ``failures`` through the CLI, in every built-in format, with
the shared filters; and the totals of ``show`` and ``export`` (issue 7, item 3)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from phaser_analytics import (
    ExecutionRecord,
    ExecutionStatus,
    PhaseRecord,
    PhaseStatus,
    save_execution,
)
from phaser_analytics.cli import cli
from phaser_analytics.project_registry import register_project

UTC = timezone.utc
COMMANDS = ("trends", "phases", "failures", "projects")
FORMATS = ("table", "json", "csv", "markdown")
BREAKDOWN_NAMES = {
    "trends": "trends",
    "phases": "phases",
    "failures": "failure_reasons",
    "projects": "projects",
}
FIRST_COLUMNS = {"trends": "period", "phases": "phase", "failures": "reason", "projects": "project"}


def _record(project: Path, day: int, hour: int, status: ExecutionStatus, **values: object):
    start = datetime(2025, 6, day, hour, 0, tzinfo=UTC)
    fields: dict[str, object] = {
        "execution_id": ExecutionRecord.generate_id(),
        "audit_document": f"doc-{day}-{hour}.md",
        "project_name": project.name,
        "project_path": str(project),
        "started_at": start,
        "completed_at": start + timedelta(minutes=40),
        "status": status,
        "base_commit": f"c{day}{hour}",
    }
    fields.update(values)
    return ExecutionRecord(**fields)  # type: ignore[arg-type]


def _tokens(total: int) -> dict[str, int]:
    return {"input": total, "output": 0, "cache_creation": 0, "cache_read": 0, "total": total}


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """Three executions: 1 June 08:00 UTC (success, with tokens and cost), 1 June 23:00
    UTC (failed in phase 2) and 2 June 12:00 UTC (partial, phase 2 failing again)."""
    project = tmp_path / "alpha"
    project.mkdir()
    records = [
        _record(
            project,
            1,
            8,
            ExecutionStatus.SUCCESS,
            reported_test_delta=4,
            tokens=_tokens(1000),
            cost_usd=0.5,
            phases=[PhaseRecord(1, "Setup", PhaseStatus.COMPLETED)],
        ),
        _record(
            project,
            1,
            23,
            ExecutionStatus.FAILED,
            failure_reasons=["Baseline tests failed"],
            phases=[
                PhaseRecord(1, "Setup", PhaseStatus.COMPLETED),
                PhaseRecord(2, "Parser", PhaseStatus.FAILED, error_message="ImportError"),
            ],
        ),
        _record(
            project,
            2,
            12,
            ExecutionStatus.PARTIAL,
            tokens=_tokens(500),
            cost_usd=0.25,
            failure_reasons=["baseline tests failed."],
            phases=[PhaseRecord(2, "Parser", PhaseStatus.FAILED, error_message="Timeout")],
        ),
    ]
    for record in records:
        save_execution(record, project)
    return project


def _run(runner, *args: str):
    result = runner.invoke(cli, ["analytics", *args])
    assert result.exit_code == 0, result.output
    return result


def _json(runner, *args: str) -> dict:
    return json.loads(_run(runner, *args, "--format", "json").stdout)


def _rows(document: dict) -> dict[str, dict]:
    breakdown = document["breakdown"]
    key = breakdown["columns"][0]["key"]
    return {str(row[key]): row for row in breakdown["rows"]}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("output_format", FORMATS)
def test_every_command_in_every_format(runner, store: Path, command: str, output_format: str):
    result = _run(
        runner, command, "--project", str(store), "--format", output_format, "--tz", "UTC"
    )
    text = result.stdout
    if output_format == "json":
        document = json.loads(text)
        assert document["command"] == command
        assert document["breakdown"]["name"] == BREAKDOWN_NAMES[command]
        assert document["time_zone"] == "UTC"
        assert document["stats"]["total_executions"] == 3
    elif output_format == "csv":
        header = next(csv.reader(io.StringIO(text)))
        assert header[0] == FIRST_COLUMNS[command]
    elif output_format == "markdown":
        assert text.startswith(f"# Phaser Analytics: {command} (alpha)\n")
        assert "\n|---" in text  # a table's delimiter row
    else:
        assert text.startswith("╭")
        assert "Summary: 3 executions | 1 successful (33%)" in text


def test_trends_figures_and_zone(runner, store: Path):
    utc = _rows(_json(runner, "trends", "--project", str(store), "--tz", "UTC"))
    assert {day: row["executions"] for day, row in utc.items()} == {
        "2025-06-01": 2,
        "2025-06-02": 1,
    }
    assert utc["2025-06-01"]["success_rate"] == 0.5
    assert utc["2025-06-01"]["tokens"] == 1000
    assert utc["2025-06-01"]["cost_usd"] == 0.5
    assert utc["2025-06-01"]["test_delta"] == 4
    assert utc["2025-06-01"]["avg_duration_seconds"] == 2400.0
    # 23:00 UTC on 1 June is 08:00 on 2 June in Tokyo.
    tokyo = _rows(_json(runner, "trends", "--project", str(store), "--tz", "Asia/Tokyo"))
    assert {day: row["executions"] for day, row in tokyo.items()} == {
        "2025-06-01": 1,
        "2025-06-02": 2,
    }


def test_trends_by_week_and_month(runner, store: Path):
    weeks = _rows(_json(runner, "trends", "--by", "week", "--project", str(store), "--tz", "UTC"))
    assert {week: row["executions"] for week, row in weeks.items()} == {
        "2025-W22": 2,
        "2025-W23": 1,
    }
    months = _rows(_json(runner, "trends", "--by", "month", "--project", str(store)))
    assert [row["executions"] for row in months.values()] == [3]


def test_trends_table_has_the_sparklines(runner, store: Path):
    text = _run(runner, "trends", "--project", str(store), "--tz", "UTC").stdout
    assert "Trends by day (UTC)" in text
    assert "│ Avg duration │ ██ " in text
    assert "│ Success rate │ ▅▁ " in text


def test_status_since_and_until_filter(runner, store: Path):
    failed = _rows(_json(runner, "trends", "--status", "failed", "--project", str(store)))
    assert sum(row["executions"] for row in failed.values()) == 1
    window = ["--since", "2025-06-02T00:00:00Z", "--until", "2025-06-03"]
    later = _json(runner, "failures", *window, "--project", str(store), "--tz", "UTC")
    assert [(r["reason"], r["count"]) for r in later["breakdown"]["rows"]] == [
        ("baseline tests failed.", 1)
    ]
    assert later["stats"]["total_executions"] == 1


def test_phases_figures(runner, store: Path):
    rows = _rows(_json(runner, "phases", "--project", str(store)))
    assert rows["2"]["runs"] == 2
    assert rows["2"]["failures"] == 2
    assert rows["2"]["failure_rate"] == 1.0
    assert rows["2"]["last_error"] == "Timeout"
    assert (rows["1"]["runs"], rows["1"]["failure_rate"]) == (2, 0.0)


def test_failures_reasons_and_peak_hours(runner, store: Path):
    document = _json(runner, "failures", "--project", str(store), "--tz", "Asia/Tokyo")
    breakdown = document["breakdown"]
    assert [(r["reason"], r["count"]) for r in breakdown["rows"]] == [("baseline tests failed.", 2)]
    assert breakdown["rows"][0]["last_seen"] == "2025-06-02T21:00:00+09:00"
    by_hour, by_weekday = breakdown["sections"]
    busy = {r["hour"]: (r["executions"], r["failed"]) for r in by_hour["rows"] if r["executions"]}
    assert busy == {8: (1, 1), 17: (1, 0), 21: (1, 0)}
    days = {r["weekday"]: r["executions"] for r in by_weekday["rows"] if r["executions"]}
    assert days == {"Sun": 1, "Mon": 2}


def test_failures_csv_has_one_block_per_table(runner, store: Path):
    text = _run(runner, "failures", "--project", str(store), "--format", "csv").stdout
    blocks = text.strip("\n").split("\n\n")
    assert [block.splitlines()[0] for block in blocks] == [
        "reason,count,last_seen",
        "hour,executions,failed,bar",
        "weekday,executions,failed,bar",
    ]
    assert len(blocks[1].splitlines()) == 1 + 24


def test_failures_shows_the_top_reasons_and_says_it_leaves_some_out(runner, tmp_path: Path):
    """A long history gives thousands of distinct reasons: the table and markdown show the
    20 that the most executions give and say on stderr that there are more; JSON and CSV
    give every reason; ``--top N`` sets the number in every format (0: every one)."""
    project = tmp_path / "long"
    project.mkdir()
    for index in range(25):  # reason k is given by k + 1 executions (reason 24 the most)
        for copy in range(index + 1):
            save_execution(
                _record(project, 1 + (copy + index // 24) % 28, index % 24,
                        ExecutionStatus.FAILED, failure_reasons=[f"Reason {index:02d}"]),
                project,
            )  # fmt: skip
    every = _json(runner, "failures", "--project", str(project))
    counts = [(row["reason"], row["count"]) for row in every["breakdown"]["rows"]]
    assert counts == [(f"Reason {k:02d}", k + 1) for k in range(24, -1, -1)]
    said = "Showing the 20 reasons the most executions give; --top 0 shows every one."
    for output_format in ("table", "markdown"):
        result = _run(runner, "failures", "--project", str(project), "--format", output_format)
        assert result.stderr.strip() == said
        assert "Reason 05" in result.stdout and "Reason 04" not in result.stdout
    whole = _run(runner, "failures", "--project", str(project), "--top", "0")
    assert "Reason 00" in whole.stdout and whole.stderr == ""
    top = _json(runner, "failures", "--project", str(project), "--top", "3")
    assert top["breakdown"]["rows"] == every["breakdown"]["rows"][:3]
    three = _run(runner, "failures", "--project", str(project), "--top", "3", "--format", "csv")
    assert [line.split(",")[0] for line in three.stdout.split("\n\n")[0].splitlines()] == [
        "reason", "Reason 24", "Reason 23", "Reason 22"]  # fmt: skip
    exact = _run(runner, "failures", "--project", str(project), "--top", "25")
    assert exact.stderr == ""  # nothing left out, nothing said


def test_global_aggregates_every_registered_project(runner, store: Path, tmp_path: Path):
    other = tmp_path / "beta"
    other.mkdir()
    save_execution(_record(other, 3, 10, ExecutionStatus.SUCCESS, tokens=_tokens(7)), other)
    register_project(store, "alpha", 3)
    register_project(other, "beta", 1)
    document = _json(runner, "trends", "--global", "--tz", "UTC")
    assert document["project"] is None
    assert sorted(p["name"] for p in document["projects"]) == ["alpha", "beta"]
    rows = _rows(document)
    assert {day: row["executions"] for day, row in rows.items()} == {
        "2025-06-01": 2,
        "2025-06-02": 1,
        "2025-06-03": 1,
    }
    assert rows["2025-06-03"]["tokens"] == 7


def test_projects_statistics_of_every_registered_project(runner, store: Path, tmp_path: Path):
    other = tmp_path / "beta"
    other.mkdir()
    save_execution(_record(other, 3, 10, ExecutionStatus.SUCCESS, cost_usd=0.1), other)
    register_project(store, "alpha", 3)
    register_project(other, "beta", 1)
    document = _json(runner, "projects", "--tz", "Asia/Tokyo")
    assert document["project"] is None
    alpha, beta = document["breakdown"]["rows"]
    assert (alpha["project"], alpha["executions"], alpha["successful"]) == ("alpha", 3, 1)
    assert (alpha["tokens"], alpha["cost_usd"]) == (1500, 0.75)
    assert alpha["avg_duration_seconds"] == 2400.0
    assert alpha["last_run"] == "2025-06-02T21:00:00+09:00"
    assert (beta["project"], beta["success_rate"], beta["tokens"]) == ("beta", 1.0, None)
    only_alpha = _json(runner, "projects", "--project", str(store), "--status", "failed")
    assert [(r["project"], r["executions"]) for r in only_alpha["breakdown"]["rows"]] == [
        ("alpha", 1)
    ]


def test_projects_without_statistics_options_lists_the_registry(runner, store: Path):
    register_project(store, "alpha", 3)
    lines = _run(runner, "projects").stdout.splitlines()
    assert lines[0].split()[:2] == ["NAME", "PATH"]


def test_projects_format_json_lists_the_registry_as_json_and_json_is_its_alias(
    runner, store: Path
):
    """One way to ask for JSON (issue 14 item 16): --format json; --json is kept as its alias."""
    register_project(store, "alpha", 3)
    listed = json.loads(runner.invoke(cli, ["analytics", "projects", "--format", "json"]).stdout)
    assert [p["name"] for p in listed["projects"]] == ["alpha"]
    alias = json.loads(runner.invoke(cli, ["analytics", "projects", "--json"]).stdout)
    assert alias == listed
    stats = json.loads(
        runner.invoke(cli, ["analytics", "projects", "--format", "json", "--global"]).stdout
    )
    assert stats["breakdown"]["rows"][0]["project"] == "alpha"
    both = runner.invoke(cli, ["analytics", "projects", "--json", "--format", "csv"])
    assert both.exit_code == 2


def test_an_unknown_zone_is_a_usage_error(runner, store: Path):
    result = runner.invoke(cli, ["analytics", "trends", "--project", str(store), "--tz", "Nowhere"])
    assert result.exit_code == 2
    assert "unknown time zone 'Nowhere'" in result.output


def test_executions_without_a_start_are_named_as_left_out(runner, tmp_path: Path):
    project = tmp_path / "undated"
    project.mkdir()
    record = _record(project, 1, 8, ExecutionStatus.SUCCESS)
    record.started_at = None
    save_execution(record, project)
    result = _run(runner, "trends", "--project", str(project), "--format", "json")
    assert json.loads(result.stdout)["breakdown"]["rows"] == []
    assert "1 execution(s) without a start time" in result.stderr


def test_an_empty_store_prints_an_empty_table(runner, project: Path):
    text = _run(runner, "phases", "--project", str(project)).stdout
    assert "No executions match." in text


# -- totals in the existing outputs (issue 7, item 3) ---------------------------------------


def test_show_summary_line_gives_tokens_and_cost(runner, store: Path):
    text = _run(runner, "show", "--project", str(store)).stdout
    summary = " ".join(text.split("\n\n")[-1].split())  # the summary, however it wraps
    assert "Tokens: 1.5K | Cost: $0.75" in summary


def test_json_stats_give_tokens_and_cost(runner, store: Path):
    stats = _json(runner, "show", "--project", str(store))["stats"]
    assert (stats["total_tokens"], stats["total_cost_usd"]) == (1500, 0.75)


def test_csv_has_token_and_cost_columns(runner, store: Path):
    text = _run(runner, "export", "--project", str(store), "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    by_cost = sorted((row["tokens_total"], row["cost_usd"]) for row in rows)
    assert by_cost == [("", ""), ("1000", "0.5"), ("500", "0.25")]


def test_markdown_report_has_a_cost_section(runner, store: Path):
    text = _run(runner, "export", "--project", str(store), "--format", "markdown").stdout
    assert "## Cost" in text
    assert "$0.75" in text


def test_a_team_template_shapes_the_aggregates_in_markdown(runner, store: Path):
    """``breakdown.md.j2`` in the project's templates replaces the built-in one, and may
    extend it; the cells stay escaped."""
    templates = store / ".phaser" / "templates"
    templates.mkdir(parents=True)
    (templates / "breakdown.md.j2").write_text(
        '{% extends "default:breakdown.md.j2" %}\n'
        "{% block header %}\n# Team {{ command }}: {{ breakdowns[0].data | length }} rows\n"
        "{% endblock %}\n",
        encoding="utf-8",
    )
    text = _run(runner, "failures", "--project", str(store), "--format", "markdown").stdout
    assert text.startswith("# Team failures: ")
    assert "\n## " in text and "\n|---" in text  # the built-in tables follow
    (templates / "breakdown.md.j2").write_text(
        "{% for b in breakdowns %}{{ b.name }}={{ b.rows | length }};{% endfor %}",
        encoding="utf-8",
    )
    text = _run(runner, "phases", "--project", str(store), "--format", "markdown").stdout
    assert text.startswith("phases=2;")


def test_markdown_cells_escape_pipes_and_backslashes(runner, tmp_path: Path):
    project = tmp_path / "p"
    project.mkdir()
    tricky = "a\\|b | c"
    phases = [PhaseRecord(1, tricky, PhaseStatus.FAILED)]
    record = _record(project, 3, 9, ExecutionStatus.FAILED, failure_reasons=[tricky])
    record.phases = phases
    save_execution(record, project)
    escaped = "a\\\\\\|b \\| c"  # a\\\|b \| c: no cell ends inside the text
    text = _run(runner, "failures", "--project", str(project), "--format", "markdown").stdout
    assert f"| {escaped} |" in text
    args = ("show", "--verbose", "--project", str(project), "--format", "markdown")
    assert f"| {escaped} |" in _run(runner, *args).stdout
