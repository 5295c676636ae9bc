"""Figures a report states that only agree one way, and times that run backwards
(issue 14 item 4), through `import` and what `show`/`export` then say."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from phaser_analytics.cli import cli

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "EXECUTION_REPORT.md"


def _import(project: Path, tmp_path: Path, **replace: str):
    text = EXAMPLE.read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    report = tmp_path / "r" / "EXECUTION_REPORT.md"
    report.parent.mkdir(exist_ok=True)
    report.write_text(text, encoding="utf-8")
    return CliRunner().invoke(cli, ["analytics", "import", str(report), "--project", str(project)])


def _exported(project: Path) -> dict:
    result = CliRunner().invoke(cli, ["analytics", "export", "--project", str(project)])
    return json.loads(result.stdout)


def test_the_reading_that_agrees_with_the_delta_is_kept(project, tmp_path):
    result = _import(
        project, tmp_path,
        **{"**Baseline:** 280 tests": "**Baseline:** 88 tests (test_bridge.py)",
           "**Final:** 312 tests": "**Final:** 108 tests (test_bridge.py), 499 total",
           "**Delta:** +32 tests": "**Delta:** +20 tests"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.output
    execution = _exported(project)["executions"][0]
    assert (execution["baseline_tests"], execution["final_tests"]) == (88, 108)
    assert execution["test_delta"] == 20


def test_figures_that_cannot_agree_are_kept_as_stated_with_a_warning(project, tmp_path):
    result = _import(project, tmp_path, **{"**Delta:** +32 tests": "**Delta:** +5 tests"})
    assert result.exit_code == 0
    assert "stated Delta +5 on line" in result.output
    execution = _exported(project)["executions"][0]
    assert (execution["baseline_tests"], execution["final_tests"]) == (280, 312)


def test_completed_before_started_warns_and_stores_no_duration(project, tmp_path):
    result = _import(
        project,
        tmp_path,
        **{"| Completed | 2024-12-06T11:53:23Z |": "| Completed | 2024-12-06T08:00:00Z |"},
    )
    assert result.exit_code == 0, result.output
    assert (
        "Completed (2024-12-06T08:00:00Z) is before Started (2024-12-06T10:30:00Z); "
        "no duration is stored"
    ) in result.output
    payload = _exported(project)
    assert payload["executions"][0]["duration_seconds"] is None
    assert payload["stats"]["avg_duration_seconds"] is None
    shown = CliRunner().invoke(cli, ["analytics", "show", "--project", str(project)])
    assert "Avg: -" in shown.output and "-2" not in shown.output.split("Summary:")[1]
