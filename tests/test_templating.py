"""Templates of the markdown report: the search path, overrides, the sandbox, the errors."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from phaser_analytics import templating
from phaser_analytics.default_plugins.markdown_format import MarkdownRenderer
from phaser_analytics.default_plugins.markdown_render import template_context
from phaser_analytics.errors import TemplateRenderError
from phaser_analytics.hookspecs import RenderView
from phaser_analytics.models import (
    AggregatedStats,
    AnalyticsQuery,
    ExecutionRecord,
    ExecutionStatus,
)

REPO = Path(__file__).resolve().parent.parent
UTC = timezone.utc
BUILTIN = templating.BUILTIN_TEMPLATE_DIR


@pytest.fixture(autouse=True)
def phaser_home(tmp_path, monkeypatch) -> Path:
    """Never read the developer's own ~/.phaser/templates."""
    home = tmp_path / "home"
    monkeypatch.setenv("PHASER_HOME", str(home))
    return home


@pytest.fixture
def project(tmp_path) -> Path:
    directory = tmp_path / "project"
    directory.mkdir()
    return directory


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def records() -> list[ExecutionRecord]:
    start = datetime(2024, 12, 6, 10, 30, tzinfo=UTC)
    return [
        ExecutionRecord(
            execution_id="7",
            audit_document="document-7-reverse.md",
            project_name="Phaser",
            started_at=start,
            completed_at=start + timedelta(seconds=5003),
            status=ExecutionStatus.SUCCESS,
            phases_planned=6,
            phases_completed=6,
            baseline_tests=280,
            final_tests=312,
        ),
        ExecutionRecord(
            execution_id="6",
            audit_document="document-6-replay.md",
            project_name="Phaser",
            started_at=start - timedelta(days=1),
            completed_at=start - timedelta(days=1) + timedelta(seconds=3480),
            status=ExecutionStatus.PARTIAL,
            phases_planned=5,
            phases_completed=4,
            failure_reasons=["Phase 31 skipped"],
        ),
    ]


def render(project_dir: Path | None = None, template: Path | None = None, **options: Any) -> str:
    items = records()
    view = RenderView(
        records=items,
        stats=AggregatedStats.compute(items),
        query=AnalyticsQuery(limit=5),
        project={"name": "Phaser", "path": str(project_dir)},
        generated_at=datetime(2024, 12, 7, 9, 0, tzinfo=UTC),
        options={"project_dir": project_dir, "template": template, **options},
    )
    return MarkdownRenderer().render(view)


def render_source(source: str, tmp_path: Path) -> str:
    template = write(tmp_path / "custom" / "t.md.j2", source)
    return render(template=template)


# --- the search path ---------------------------------------------------------------------


class TestSearchPath:
    def test_full_search_path_in_order(self, tmp_path, project, phaser_home):
        template = write(tmp_path / "mine" / "digest.md.j2", "x")
        plugin_a, plugin_b = tmp_path / "plugin-a", tmp_path / "plugin-b"
        assert templating.template_search_path(project, template, [plugin_a, str(plugin_b)]) == [
            (tmp_path / "mine").resolve(),
            project / ".phaser" / "templates",
            phaser_home / "templates",
            plugin_a,
            plugin_b,
            BUILTIN,
        ]

    def test_without_template_or_project(self, phaser_home):
        assert templating.template_search_path(None, None) == [phaser_home / "templates", BUILTIN]

    def test_phaser_home_defaults_to_dot_phaser(self, monkeypatch, tmp_path):
        monkeypatch.delenv("PHASER_HOME")
        monkeypatch.setenv("HOME", str(tmp_path))
        assert templating.template_search_path(None, None)[0] == tmp_path / ".phaser" / "templates"

    def test_builtin_templates_ship_with_the_package(self):
        assert (BUILTIN / "report.md.j2").is_file()
        assert (BUILTIN / "_macros.md.j2").is_file()

    def test_template_name(self, tmp_path):
        assert templating.template_name(None) == "report.md.j2"
        assert templating.template_name(tmp_path / "weekly.md.j2") == "weekly.md.j2"


# --- which template is used --------------------------------------------------------------


class TestOverrides:
    def test_builtin_by_default(self, project):
        assert render(project).startswith("# Phaser Analytics Report\n")

    def test_project_template_overrides_the_builtin(self, project):
        write(
            project / ".phaser" / "templates" / "report.md.j2",
            "# Team report {{ stats.total_executions }}",
        )
        assert render(project) == "# Team report 2"

    def test_project_template_wins_over_phaser_home(self, project, phaser_home):
        write(phaser_home / "templates" / "report.md.j2", "home")
        assert render(project) == "home"
        write(project / ".phaser" / "templates" / "report.md.j2", "project")
        assert render(project) == "project"

    def test_template_file_wins_over_everything(self, project, tmp_path):
        write(project / ".phaser" / "templates" / "report.md.j2", "project")
        template = write(tmp_path / "elsewhere" / "report.md.j2", "explicit")
        assert render(project, template) == "explicit"

    def test_plugin_dirs_come_after_the_user_before_the_builtin(self, project, tmp_path):
        plugin = tmp_path / "plugin"
        write(plugin / "report.md.j2", "from plugin")
        assert render(project, template_dirs=[plugin]) == "from plugin"
        write(project / ".phaser" / "templates" / "report.md.j2", "project")
        assert render(project, template_dirs=[plugin]) == "project"

    def test_team_template_extends_the_builtin(self, project):
        write(
            project / ".phaser" / "templates" / "report.md.j2",
            '{% extends "default:report.md.j2" %}\n'
            "{% block header %}\n# Team Audit Report\n{% endblock %}\n",
        )
        text = render(project)
        assert text.startswith("# Team Audit Report\n\n## Summary\n")
        assert "| Successful | 1 (50%) |" in text
        assert "### document-7-reverse.md" in text

    def test_team_template_replaces_one_execution_block(self, project):
        write(
            project / ".phaser" / "templates" / "report.md.j2",
            '{% extends "default:report.md.j2" %}\n'
            "{% block execution %}\n"
            "* {{ e.audit_document }}: {{ e.status | status_icon }}\n"
            "{% endblock %}\n",
        )
        text = render(project)
        assert "* document-7-reverse.md: ✅" in text
        assert "* document-6-replay.md: ⚠️" in text
        assert "- **Status:**" not in text

    def test_template_includes_its_neighbours(self, tmp_path):
        write(tmp_path / "custom" / "_part.md.j2", "part {{ stats.successful }}")
        assert render_source('{% include "_part.md.j2" %}', tmp_path) == "part 1"

    def test_macros_are_reusable(self, tmp_path):
        source = (
            '{% import "default:_macros.md.j2" as m %}'
            "{% for e in executions %}{{ m.tests(e) }}|{{ m.phases(e) }};{% endfor %}"
        )
        assert render_source(source, tmp_path) == "280 → 312 (+32)|6/6 completed;-|4/5 completed;"

    def test_template_extending_itself_is_a_clear_error(self, project):
        write(
            project / ".phaser" / "templates" / "report.md.j2",
            '{% extends "report.md.j2" %}{% block header %}x{% endblock %}',
        )
        with pytest.raises(TemplateRenderError, match=re.escape('extend "default:report.md.j2"')):
            render(project)


@pytest.mark.parametrize("name", ["weekly-digest.md.j2", "release-notes.md.j2"])
def test_example_team_templates_render(name, project):
    text = render(project, REPO / "templates" / name)
    assert "document-7-reverse.md" in text
    assert "document-6-replay.md" in text


def test_weekly_digest_extends_the_builtin(project):
    text = render(project, REPO / "templates" / "weekly-digest.md.j2")
    assert text.startswith("# Weekly Audit Digest\n")
    assert "## Summary" in text  # the built-in's block, kept
    assert "| 2024-12-06 | document-7-reverse.md | ✅ | 1h 23m | +32 | 6/6 |" in text
    assert "## Needs Attention" in text


def test_release_notes_reuse_the_macros(project):
    text = render(project, REPO / "templates" / "release-notes.md.j2")
    assert text.startswith("## Audit Notes for Phaser\n")
    assert "- document-7-reverse.md — 6/6 completed, tests 280 → 312 (+32)" in text
    assert "- document-6-replay.md — ⚠️ Completed with issues: Phase 31 skipped" in text


# --- explain -------------------------------------------------------------------------------


def test_explain_names_the_template_used_and_those_considered(project, phaser_home):
    override = write(project / ".phaser" / "templates" / "report.md.j2", "x")
    text = templating.explain(project, None)
    lines = text.splitlines()
    assert lines[0] == "Template 'report.md.j2':"
    assert f" -> {override} (used)" in lines
    assert f"    {phaser_home / 'templates' / 'report.md.j2'} (not found)" in lines
    assert f"    {BUILTIN / 'report.md.j2'} (shadowed)" in lines


def test_resolve_builtin_by_prefix():
    resolution = templating.resolve("default:report.md.j2", [])
    assert resolution.chosen == BUILTIN / "report.md.j2"


# --- the sandbox ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ stats.__class__.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ self._TemplateReference__context }}",
        "{{ executions.__class__.__base__ }}",
        "{{ (1).__class__.__subclasses__() }}",
        "{{ lipsum.__globals__['os'].system('true') }}",
    ],
)
def test_sandbox_escape_fails(source, tmp_path):
    with pytest.raises(TemplateRenderError, match="unsafe"):
        render_source(source, tmp_path)


def test_template_sees_data_not_objects(project):
    items = records()
    view = RenderView(
        records=items,
        stats=AggregatedStats.compute(items),
        query=AnalyticsQuery(),
        options={"project_dir": project, "template_dirs": [project], "verbose": True},
    )
    context = template_context(view)
    scalar = (str, int, float, bool, type(None))

    def only_data(value: Any) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and only_data(v) for k, v in value.items())
        if isinstance(value, list):
            return all(only_data(v) for v in value)
        return isinstance(value, scalar)

    assert only_data(context)
    assert context["options"] == {"verbose": True}  # paths stay out


# --- errors --------------------------------------------------------------------------------


def test_syntax_error_names_template_and_line(tmp_path):
    with pytest.raises(TemplateRenderError) as caught:
        render_source("# Title\n\n{% if %}\n", tmp_path)
    message = str(caught.value)
    assert "t.md.j2, line 3" in message


def test_undefined_name_names_template_and_line(tmp_path):
    with pytest.raises(TemplateRenderError) as caught:
        render_source("line one\n{{ stats.total_executions }}\n{{ stats.no_such_field }}", tmp_path)
    message = str(caught.value)
    assert "t.md.j2, line 3" in message
    assert "no_such_field" in message


def test_undefined_value_in_a_filter_is_an_error(tmp_path):
    with pytest.raises(TemplateRenderError, match="misspelt"):
        render_source("{{ stats.misspelt | duration }}", tmp_path)


def test_python_error_in_template_is_a_template_error(tmp_path):
    with pytest.raises(TemplateRenderError, match="line 2"):
        render_source("ok\n{{ 1 / 0 }}", tmp_path)


def test_missing_template_file(tmp_path):
    with pytest.raises(TemplateRenderError, match=re.escape("Template not found: nope.md.j2")):
        render(template=tmp_path / "nope.md.j2")


def test_error_inside_an_extended_template_names_the_child(project):
    write(
        project / ".phaser" / "templates" / "report.md.j2",
        '{% extends "default:report.md.j2" %}\n{% block header %}\n{{ nope }}\n{% endblock %}',
    )
    with pytest.raises(TemplateRenderError, match=r"report\.md\.j2, line 3"):
        render(project)


# --- filters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a | b", "a \\| b"),
        ("a\\|b", "a\\\\\\|b"),  # a backslash cannot unescape the pipe
        ("two\nlines", "two lines"),
        ("crlf\r\nline", "crlf line"),
        (None, "-"),
        (32, "32"),
    ],
)
def test_md_cell(value, expected):
    assert templating.md_cell(value) == expected


def test_filters_in_templates(tmp_path):
    source = (
        "{{ 5003 | duration }}|{{ 32 | delta }}|{{ 0.6 | pct }}|"
        "{{ '2024-12-06T10:30:00Z' | date }}|{{ generated_at | datetime('%H:%M') }}|"
        "{{ 'a|b' | md_cell }}|{{ 'failed' | status_icon }}|{{ 'partial' | status_label }}|"
        "{{ 1234567 | count }}|{{ 3.4 | cost }}"
    )
    assert render_source(source, tmp_path) == (
        "1h 23m|+32|60%|2024-12-06|09:00|a\\|b|❌|Completed with issues|1.2M|$3.40"
    )


def test_no_autoescape(tmp_path):
    assert render_source("{{ '<b>&</b>' }}", tmp_path) == "<b>&</b>"


def test_importing_templating_does_not_import_jinja2():
    code = "import sys, phaser_analytics.templating; print('jinja2' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
