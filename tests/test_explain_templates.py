"""``show`` and ``export`` with ``--explain-templates``: the template search, on stderr.

The explanation names the template used and every directory considered, from the same
options the markdown renderer reads; the output itself does not change.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from phaser_analytics import plugins, templating
from phaser_analytics.cli import cli
from phaser_analytics.hookspecs import hookimpl

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_REPORT = REPO / "examples" / "EXECUTION_REPORT.md"
BUILTIN = templating.BUILTIN_TEMPLATE_DIR / templating.DEFAULT_TEMPLATE
#: When the output was generated: markdown's "Generated: … UTC" line, JSON's generated_at.
_GENERATED = re.compile(r'(Generated: )[^\n]* UTC|("generated_at": )"[^"]*"')


def without_clock(text: str) -> str:
    """``text`` with the moment it was generated blanked, so that two runs compare equal."""
    return _GENERATED.sub(lambda m: (m.group(1) or m.group(2)) + "<now>", text)


@pytest.fixture
def imported(runner: CliRunner, project: Path, tmp_path: Path) -> Path:
    report = tmp_path / "reports" / "EXECUTION_REPORT.md"
    report.parent.mkdir()
    shutil.copy(EXAMPLE_REPORT, report)
    result = runner.invoke(cli, ["analytics", "import", str(report), "--project", str(project)])
    assert result.exit_code == 0, result.output
    return project


def invoke(runner: CliRunner, project: Path, *args: str) -> Result:
    return runner.invoke(cli, ["analytics", *args, "--project", str(project)])


def explained(result: Result) -> list[str]:
    """The explanation's lines: ``(mark, path, state)`` as text, one per directory."""
    return result.stderr.splitlines()


def with_and_without(runner: CliRunner, project: Path, *args: str) -> tuple[Result, Result]:
    plain = invoke(runner, project, *args)
    explaining = invoke(runner, project, *args, "--explain-templates")
    assert plain.exit_code == 0, plain.output
    assert explaining.exit_code == 0, explaining.output
    same = without_clock(explaining.stdout) == without_clock(plain.stdout)
    assert same, "--explain-templates changed the output"
    assert plain.stderr == ""
    return plain, explaining


def test_show_markdown_explains_the_builtin_template(
    runner: CliRunner, imported: Path, isolated_home: Path
) -> None:
    _, result = with_and_without(runner, imported, "show", "--format", "markdown")
    assert "# Phaser Analytics Report" in result.stdout
    assert explained(result) == [
        "Template 'report.md.j2':",
        f"    {imported / '.phaser' / 'templates' / 'report.md.j2'} (not found)",
        f"    {isolated_home / 'templates' / 'report.md.j2'} (not found)",
        f" -> {BUILTIN} (used)",
    ]
    assert "Template" not in result.stdout


def test_stderr_is_what_templating_explain_says(runner: CliRunner, imported: Path) -> None:
    _, result = with_and_without(runner, imported, "show", "--format", "markdown", "--verbose")
    expected = templating.explain(imported, None, plugins.get_host().template_dirs())
    assert result.stderr == expected + "\n"


def test_a_project_template_shadows_the_builtin(
    runner: CliRunner, imported: Path, isolated_home: Path
) -> None:
    team = imported / ".phaser" / "templates" / "report.md.j2"
    team.parent.mkdir(parents=True)
    team.write_text("Team report: {{ stats.total_executions }} execution(s)\n", encoding="utf-8")
    (isolated_home / "templates").mkdir()
    (isolated_home / "templates" / "report.md.j2").write_text("mine\n", encoding="utf-8")

    _, result = with_and_without(runner, imported, "show", "--format", "markdown")
    assert result.stdout == "Team report: 1 execution(s)\n"
    assert explained(result) == [
        "Template 'report.md.j2':",
        f" -> {team} (used)",
        f"    {isolated_home / 'templates' / 'report.md.j2'} (shadowed)",
        f"    {BUILTIN} (shadowed)",
    ]


def test_a_template_option_comes_first(runner: CliRunner, imported: Path, tmp_path: Path) -> None:
    chosen = tmp_path / "digest.md.j2"
    chosen.write_text("{% extends 'default:report.md.j2' %}\n", encoding="utf-8")
    _, result = with_and_without(
        runner, imported, "show", "--format", "markdown", "--template", str(chosen)
    )
    assert "# Phaser Analytics Report" in result.stdout
    lines = explained(result)
    assert lines[0] == "Template 'digest.md.j2':"
    assert lines[1] == f" -> {chosen} (used)"
    assert lines[-1] == f"    {templating.BUILTIN_TEMPLATE_DIR / 'digest.md.j2'} (not found)"


def test_a_configured_template_is_the_one_explained(
    runner: CliRunner, imported: Path, tmp_path: Path
) -> None:
    """The explanation reads the render view's options: a template set in the project's
    config file is explained like --template."""
    configured = imported / ".phaser" / "templates" / "team" / "weekly.md.j2"
    configured.parent.mkdir(parents=True)
    configured.write_text("weekly\n", encoding="utf-8")
    (imported / ".phaser" / "config.json").write_text(
        json.dumps({"analytics": {"template": ".phaser/templates/team/weekly.md.j2"}}),
        encoding="utf-8",
    )
    _, result = with_and_without(runner, imported, "export", "--format", "markdown")
    assert result.stdout == "weekly\n"
    assert explained(result)[:2] == ["Template 'weekly.md.j2':", f" -> {configured} (used)"]


def test_plugin_template_directories_are_listed(
    runner: CliRunner, imported: Path, tmp_path: Path
) -> None:
    plugin_dir = tmp_path / "plugin-templates"
    plugin_dir.mkdir()
    (plugin_dir / "report.md.j2").write_text("from the plugin\n", encoding="utf-8")

    class TemplatePlugin:
        @hookimpl
        def template_dirs(self) -> list[Path]:
            return [plugin_dir]

    plugins.set_host(plugins.build_host([("team-templates", TemplatePlugin())]))
    _, result = with_and_without(runner, imported, "show", "--format", "markdown")
    assert result.stdout == "from the plugin\n"
    lines = explained(result)
    assert lines[-2:] == [f" -> {plugin_dir / 'report.md.j2'} (used)", f"    {BUILTIN} (shadowed)"]


def test_export_to_a_file_writes_the_same_file(
    runner: CliRunner, imported: Path, tmp_path: Path
) -> None:
    plain_file, explained_file = tmp_path / "plain.md", tmp_path / "explained.md"
    plain = invoke(runner, imported, "export", "--format", "markdown", "-o", str(plain_file))
    result = invoke(
        runner,
        imported,
        "export",
        "--format",
        "markdown",
        "-o",
        str(explained_file),
        "--explain-templates",
    )
    assert plain.exit_code == result.exit_code == 0, result.output
    explained_text = explained_file.read_text(encoding="utf-8")
    assert "Generated: <now>" in without_clock(explained_text)
    assert without_clock(explained_text) == without_clock(plain_file.read_text(encoding="utf-8"))
    assert result.stdout == f"Exported to {explained_file}\n"
    assert f" -> {BUILTIN} (used)" in explained(result)


def test_the_explanation_comes_before_a_template_error(runner: CliRunner, imported: Path) -> None:
    """When the template breaks, the explanation (the thing to debug with) is still there."""
    team = imported / ".phaser" / "templates" / "report.md.j2"
    team.parent.mkdir(parents=True)
    team.write_text("{% if %}\n", encoding="utf-8")
    result = invoke(runner, imported, "show", "--format", "markdown", "--explain-templates")
    assert result.exit_code == 1
    lines = explained(result)
    assert lines[1] == f" -> {team} (used)"
    assert lines[-1].startswith("Error: Template error in ")
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["show"], "table"),
        (["show", "--format", "json"], "json"),
        (["show", "--ci-minimal"], "json"),
        (["export"], "json"),
        (["export", "--format", "csv"], "csv"),
    ],
)
def test_other_formats_say_they_use_no_template(
    runner: CliRunner, imported: Path, args: list[str], named: str
) -> None:
    _, result = with_and_without(runner, imported, *args)
    assert result.stderr == f"--explain-templates: --format {named} uses no template.\n"


def test_badge_has_no_such_option(runner: CliRunner, imported: Path) -> None:
    result = invoke(runner, imported, "badge", "--explain-templates")
    assert result.exit_code == 2
    assert "No such option" in result.stderr


@pytest.mark.parametrize("command", ["show", "export"])
def test_help_lists_the_option(runner: CliRunner, command: str) -> None:
    result = runner.invoke(cli, ["analytics", command, "--help"])
    assert "--explain-templates" in result.stdout
