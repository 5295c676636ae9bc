"""docs/templates.md against the built-in template (issue 14 item 15): its blocks, macros,
filters and context are the documented ones, the documented examples use blocks the
built-in report has, and templates are found by name as the docs say."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from phaser_analytics import templating
from phaser_analytics.cli import cli

REPO = Path(__file__).resolve().parent.parent
DOC = (REPO / "docs" / "templates.md").read_text(encoding="utf-8")
GUIDE = (REPO / "docs" / "guide.md").read_text(encoding="utf-8")
EXAMPLE = REPO / "examples" / "EXECUTION_REPORT.md"


def documented(heading: str) -> set[str]:
    """The names in the first column of the table under ``## heading``."""
    section = DOC.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return {m for m in re.findall(r"^\| `([a-z_]+)", section, re.M)}


def builtin_blocks() -> set[str]:
    environment = templating.make_environment([])
    return set(environment.get_template("default:report.md.j2").blocks)


def test_the_documented_blocks_are_the_built_in_reports():
    assert documented("The built-in report: blocks") == builtin_blocks()


def test_the_documented_macros_are_the_built_in_ones():
    source = (templating.BUILTIN_TEMPLATE_DIR / "_macros.md.j2").read_text(encoding="utf-8")
    assert documented("Macros") == set(re.findall(r"\{% macro (\w+)\(", source))


def test_the_documented_filters_are_the_filters():
    assert documented("Filters") == set(templating.FILTERS)


def test_the_documented_context_is_what_a_template_sees():
    from phaser_analytics.default_plugins.markdown_render import template_context
    from phaser_analytics.hookspecs import RenderView
    from phaser_analytics.models import AggregatedStats, AnalyticsQuery

    view = RenderView(records=[], stats=AggregatedStats.compute([]), query=AnalyticsQuery(),
                      project=None, command="show", options={})  # fmt: skip
    assert documented("Context") == set(template_context(view))


@pytest.mark.parametrize("page", ["templates.md", "guide.md"])
def test_examples_that_extend_the_built_in_report_use_its_blocks(page):
    text = DOC if page == "templates.md" else GUIDE
    examples = [b for b in re.findall(r"```jinja\n(.*?)```", text, re.S) if "default:report" in b]
    assert examples
    for example in examples:
        assert set(re.findall(r"\{% block (\w+)", example)) <= builtin_blocks(), example


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    assert (
        CliRunner()
        .invoke(cli, ["analytics", "import", str(EXAMPLE), "--project", str(path)])
        .exit_code
        == 0
    )
    return path


def export(project: Path, *args: str):
    return CliRunner().invoke(
        cli, ["analytics", "export", "--format", "markdown", "--project", str(project), *args]
    )


def test_a_team_template_copied_into_the_project_is_used_by_name(project, monkeypatch, tmp_path):
    (project / ".phaser" / "templates").mkdir()
    shutil.copy(REPO / "templates" / "weekly-digest.md.j2", project / ".phaser" / "templates")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no file of that name here: it is a name
    result = export(project, "--template", "weekly-digest.md.j2", "--since", "2024-12-01")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# Weekly Audit Digest")


def test_a_name_found_nowhere_is_one_error(project, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    result = export(project, "--template", "nope.md.j2")
    assert result.exit_code == 1
    assert result.output.startswith("Error: Template not found: nope.md.j2")


def test_the_weekly_digests_usage_line_works(project, monkeypatch):
    """The template's own usage: --since "7 days ago" and --template with a path."""
    monkeypatch.chdir(REPO)  # the usage line's relative path; nothing is written here
    result = export(project, "--since", "7 days ago", "--template", "templates/weekly-digest.md.j2")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# Weekly Audit Digest")


@pytest.mark.parametrize(
    "text", ["7 days ago", "7 days", "1 week ago", "2 weeks", "12 hours ago", "3 d"]
)
def test_relative_dates_in_words(text):
    from datetime import datetime, timedelta, timezone

    from phaser_analytics.dates import parse_date_bound

    now = datetime(2024, 12, 10, 12, tzinfo=timezone.utc)
    amount, unit = int(text.split()[0]), text.split()[1][0]
    delta = {
        "d": timedelta(days=amount),
        "w": timedelta(weeks=amount),
        "h": timedelta(hours=amount),
    }[unit]
    assert parse_date_bound(text, now=now) == now - delta


def test_a_block_the_built_in_report_lacks_is_warned_about(project):
    templates = project / ".phaser" / "templates"
    templates.mkdir()
    (templates / "report.md.j2").write_text(
        '{% extends "default:report.md.j2" %}\n{% block title %}# Mine{% endblock %}\n'
    )
    result = export(project)
    assert result.exit_code == 0, result.output
    assert (
        "Warning: template report.md.j2 overrides block 'title', which default:report.md.j2 "
        "does not have"
        in result.stderr
    )
    assert "# Mine" not in result.stdout
