"""A cloned project's templates and config are a stranger's input (issue 16, items 4 and 5).

Templates from the project are confined to its ``.phaser/templates/``; a template path from
the project's config follows the same rule; ``--template PATH`` on the command line is the
user's own choice and stays free. Rendering is sandboxed and bounded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from phaser_analytics import templating
from phaser_analytics.cli import cli
from phaser_analytics.errors import TemplateRenderError

REPO = Path(__file__).resolve().parent.parent
SECRET = "TOP-SECRET-KEY-MATERIAL"


def run(runner, *args):
    return runner.invoke(cli, ["analytics", *map(str, args)])


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file outside the project that a hostile repository would like printed."""
    path = tmp_path / "outside" / "id_rsa"
    path.parent.mkdir()
    path.write_text(SECRET + "\n", encoding="utf-8")
    return path


@pytest.fixture
def imported(runner, project, example_report) -> Path:
    result = run(runner, "import", example_report, "--project", project)
    assert result.exit_code == 0, result.output
    return project


def project_templates(project: Path) -> Path:
    directory = project / ".phaser" / "templates"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def write_config(project: Path, analytics: dict) -> None:
    (project / ".phaser").mkdir(exist_ok=True)
    (project / ".phaser" / "config.json").write_text(
        json.dumps({"analytics": analytics}), encoding="utf-8"
    )


def show_markdown(runner, project: Path, *extra: str):
    return run(runner, "show", "--format", "markdown", "--project", project, *extra)


# -- item 4: confinement ---------------------------------------------------------------------


class TestProjectConfigTemplate:
    @pytest.mark.parametrize("key", ["show", "shared"])
    def test_absolute_path_outside_the_project_is_refused(self, runner, imported, secret, key):
        value = {"template": str(secret)}
        write_config(imported, value if key == "shared" else {"show": value})
        result = show_markdown(runner, imported)
        assert SECRET not in result.output
        assert result.exit_code == 2
        assert ".phaser/templates" in result.output
        assert "Traceback" not in result.output

    def test_home_relative_path_is_refused(self, runner, imported, tmp_path, monkeypatch):
        monkeypatch.setenv("HOME", str(tmp_path / "outside"))
        (tmp_path / "outside").mkdir()
        (tmp_path / "outside" / "key").write_text(SECRET, encoding="utf-8")
        write_config(imported, {"show": {"template": "~/key"}})
        result = show_markdown(runner, imported)
        assert SECRET not in result.output
        assert result.exit_code == 2

    def test_proc_self_environ_is_refused(self, runner, imported, monkeypatch):
        if not Path("/proc/self/environ").exists():
            pytest.skip("no /proc on this system")
        monkeypatch.setenv("CI_SECRET_TOKEN", SECRET)
        write_config(imported, {"show": {"template": "/proc/self/environ"}})
        result = show_markdown(runner, imported)
        assert SECRET not in result.output
        assert result.exit_code == 2

    def test_dot_dot_out_of_the_templates_dir_is_refused(self, runner, imported, secret):
        relative = os.path.relpath(secret, imported)
        assert relative.startswith("..")
        write_config(imported, {"show": {"template": relative}})
        result = show_markdown(runner, imported)
        assert SECRET not in result.output
        assert result.exit_code == 2

    def test_a_file_in_the_project_but_outside_its_templates_dir_is_refused(self, runner, imported):
        (imported / "reports").mkdir()
        (imported / "reports" / "notes.txt").write_text("project notes", encoding="utf-8")
        write_config(imported, {"show": {"template": "reports/notes.txt"}})
        result = show_markdown(runner, imported)
        assert result.exit_code == 2
        assert "project notes" not in result.output

    def test_a_bare_name_is_a_name_never_the_file_beside_the_config(
        self, runner, imported, monkeypatch
    ):
        """``"notes.txt"`` is looked up as a template name (the project's
        .phaser/templates/, the user's, the built-ins), never read from the project root,
        even when the command runs there."""
        (imported / "notes.txt").write_text("project notes", encoding="utf-8")
        monkeypatch.chdir(imported)
        write_config(imported, {"show": {"template": "notes.txt"}})
        result = show_markdown(runner, imported)
        assert result.exit_code == 1
        assert "project notes" not in result.output
        assert "Template not found: notes.txt" in result.output

    def test_a_symlink_in_the_templates_dir_leaving_it_is_refused(self, runner, imported, secret):
        (project_templates(imported) / "team.md.j2").symlink_to(secret)
        write_config(imported, {"show": {"template": ".phaser/templates/team.md.j2"}})
        result = show_markdown(runner, imported)
        assert SECRET not in result.output
        assert result.exit_code == 2

    def test_a_template_in_the_templates_dir_is_used(self, runner, imported):
        (project_templates(imported) / "team.md.j2").write_text(
            "TEAM {{ stats.total_executions }}", encoding="utf-8"
        )
        write_config(imported, {"show": {"template": ".phaser/templates/team.md.j2"}})
        result = show_markdown(runner, imported)
        assert result.exit_code == 0, result.output
        assert result.output.strip() == "TEAM 1"

    def test_its_includes_are_confined_too(self, runner, imported, secret):
        templates = project_templates(imported)
        (templates / "sub").mkdir()
        (templates / "sub" / "team.md.j2").write_text('{% include "leak" %}', encoding="utf-8")
        (templates / "sub" / "leak").symlink_to(secret)
        write_config(imported, {"show": {"template": ".phaser/templates/sub/team.md.j2"}})
        result = show_markdown(runner, imported)
        assert SECRET not in result.output
        assert result.exit_code != 0

    def test_the_users_own_config_is_free(self, runner, imported, tmp_path, isolated_home):
        mine = tmp_path / "mine" / "mine.md.j2"
        mine.parent.mkdir()
        mine.write_text("MINE {{ stats.total_executions }}", encoding="utf-8")
        (isolated_home / "config.json").write_text(
            json.dumps({"analytics": {"show": {"template": str(mine)}}}), encoding="utf-8"
        )
        result = show_markdown(runner, imported)
        assert result.exit_code == 0, result.output
        assert result.output.strip() == "MINE 1"


class TestProjectTemplatesDir:
    def test_include_of_a_symlink_leaving_the_dir_is_refused(self, runner, imported, secret):
        templates = project_templates(imported)
        (templates / "leak").symlink_to(secret)
        (templates / "report.md.j2").write_text('X{% include "leak" %}X', encoding="utf-8")
        result = show_markdown(runner, imported)
        assert SECRET not in result.output
        assert result.exit_code == 1
        assert "Template" in result.output and "leak" in result.output

    def test_extends_of_a_symlink_leaving_the_dir_is_refused(self, runner, imported, secret):
        templates = project_templates(imported)
        (templates / "base").symlink_to(secret)
        (templates / "report.md.j2").write_text('{% extends "base" %}', encoding="utf-8")
        result = show_markdown(runner, imported)
        assert SECRET not in result.output
        assert result.exit_code == 1

    def test_a_symlinked_report_template_leaving_the_dir_is_refused(self, runner, imported, secret):
        (project_templates(imported) / "report.md.j2").symlink_to(secret)
        result = show_markdown(runner, imported)
        assert SECRET not in result.output
        assert result.exit_code == 1

    def test_a_symlinked_templates_dir_leaving_the_project_is_refused(
        self, runner, imported, secret
    ):
        (secret.parent / "report.md.j2").write_text("{{ 'OUTSIDE' }}", encoding="utf-8")
        (secret.parent / "leak").symlink_to(secret)
        (imported / ".phaser" / "templates").symlink_to(secret.parent)
        result = show_markdown(runner, imported)
        assert "OUTSIDE" not in result.output
        assert SECRET not in result.output

    @pytest.mark.parametrize("name", ["/etc/passwd", "../../../../../../etc/passwd", "a/../../x"])
    def test_absolute_and_dot_dot_names_are_not_found(self, runner, imported, name):
        (project_templates(imported) / "report.md.j2").write_text(
            "{% include " + json.dumps(name) + " %}", encoding="utf-8"
        )
        result = show_markdown(runner, imported)
        assert result.exit_code == 1
        assert "root:" not in result.output

    def test_a_symlink_inside_the_dir_is_followed(self, runner, imported):
        templates = project_templates(imported)
        (templates / "parts").mkdir()
        (templates / "parts" / "head.md.j2").write_text("HEAD", encoding="utf-8")
        (templates / "head").symlink_to(templates / "parts" / "head.md.j2")
        (templates / "report.md.j2").write_text('{% include "head" %}!', encoding="utf-8")
        result = show_markdown(runner, imported)
        assert result.exit_code == 0, result.output
        assert result.output.strip() == "HEAD!"

    def test_extending_the_builtin_still_works(self, runner, imported):
        (project_templates(imported) / "report.md.j2").write_text(
            '{% extends "default:report.md.j2" %}{% block header %}# Ours{% endblock %}',
            encoding="utf-8",
        )
        result = show_markdown(runner, imported)
        assert result.exit_code == 0, result.output
        assert result.output.startswith("# Ours")


class TestCommandLineTemplate:
    def test_template_option_stays_free(self, runner, imported, tmp_path):
        """The user named the file: anywhere, symlinks and all."""
        real = tmp_path / "elsewhere" / "real.md.j2"
        real.parent.mkdir()
        real.write_text("MINE {{ stats.total_executions }}", encoding="utf-8")
        link = tmp_path / "link.md.j2"
        link.symlink_to(real)
        result = show_markdown(runner, imported, "--template", link)
        assert result.exit_code == 0, result.output
        assert result.output.strip() == "MINE 1"

    def test_its_neighbours_can_be_included(self, runner, imported, tmp_path):
        mine = tmp_path / "mine"
        mine.mkdir()
        (mine / "part.md.j2").write_text("PART", encoding="utf-8")
        (mine / "main.md.j2").write_text('{% include "part.md.j2" %}', encoding="utf-8")
        result = show_markdown(runner, imported, "--template", mine / "main.md.j2")
        assert result.exit_code == 0, result.output
        assert result.output.strip() == "PART"


class TestProjectTemplatesReachedFromYours:
    """A project template reached from your --template cannot include the files beside your
    --template (your home directory, say): those are yours, not templates."""

    @pytest.fixture
    def mine(self, tmp_path: Path) -> Path:
        directory = tmp_path / "home-of-the-user"
        directory.mkdir()
        (directory / ".bashrc").write_text(SECRET, encoding="utf-8")
        (directory / "part.md.j2").write_text("MY PART", encoding="utf-8")
        return directory

    def test_include_from_the_project_does_not_reach_your_directory(self, runner, imported, mine):
        (mine / "main.md.j2").write_text('{% include "team.md.j2" %}', encoding="utf-8")
        (project_templates(imported) / "team.md.j2").write_text(
            '{% include ".bashrc" %}', encoding="utf-8"
        )
        result = show_markdown(runner, imported, "--template", mine / "main.md.j2")
        assert SECRET not in result.output
        assert result.exit_code == 1
        assert "Template not found: .bashrc" in result.output
        assert "\x00" not in result.output

    def test_the_html_dashboard_keeps_the_same_rule(self, runner, imported, mine):
        (mine / "main.html.j2").write_text('{% include "team.md.j2" %}', encoding="utf-8")
        (project_templates(imported) / "team.md.j2").write_text(
            '{% include ".bashrc" %}', encoding="utf-8"
        )
        result = run(
            runner,
            "export",
            "--format",
            "html",
            "--project",
            imported,
            "--template",
            mine / "main.html.j2",
        )
        assert SECRET not in result.output
        assert result.exit_code == 1
        assert "Template not found: .bashrc" in result.output

    def test_extends_from_the_project_does_not_reach_your_directory(self, runner, imported, mine):
        (mine / "main.md.j2").write_text('{% include "team.md.j2" %}', encoding="utf-8")
        (project_templates(imported) / "team.md.j2").write_text(
            '{% extends ".bashrc" %}', encoding="utf-8"
        )
        result = show_markdown(runner, imported, "--template", mine / "main.md.j2")
        assert SECRET not in result.output
        assert result.exit_code == 1

    def test_your_template_still_includes_its_neighbours_and_the_projects(
        self, runner, imported, mine
    ):
        (mine / "main.md.j2").write_text(
            '{% include "part.md.j2" %}+{% include "team.md.j2" %}', encoding="utf-8"
        )
        templates = project_templates(imported)
        (templates / "team.md.j2").write_text(
            '{% include "sub.md.j2" %}{% import "default:_macros.md.j2" as m %}',
            encoding="utf-8",
        )
        (templates / "sub.md.j2").write_text("TEAM", encoding="utf-8")
        result = show_markdown(runner, imported, "--template", mine / "main.md.j2")
        assert result.exit_code == 0, result.output
        assert result.output.strip() == "MY PART+TEAM"

    def test_a_project_template_extending_the_builtin_renders(self, runner, imported, mine):
        (mine / "main.md.j2").write_text('{% include "team.md.j2" %}', encoding="utf-8")
        (project_templates(imported) / "team.md.j2").write_text(
            '{% extends "default:report.md.j2" %}{% block header %}# Team{% endblock %}',
            encoding="utf-8",
        )
        result = show_markdown(runner, imported, "--template", mine / "main.md.j2")
        assert result.exit_code == 0, result.output
        assert result.output.startswith("# Team")


# -- item 5: the sandbox, its version, its bounds ---------------------------------------------


def render_source(source: str, tmp_path: Path) -> str:
    directory = tmp_path / "custom"
    directory.mkdir(exist_ok=True)
    (directory / "t.md.j2").write_text(source, encoding="utf-8")
    return templating.render_template("t.md.j2", {"stats": {}}, [directory])


def test_jinja2_requirement_excludes_the_cve_2025_27516_release():
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    requirement = re.search(r'"jinja2([^"]*)"', text, re.IGNORECASE)
    assert requirement is not None
    assert requirement.group(1).replace(" ", "") == ">=3.1.6"


def test_installed_jinja2_is_not_vulnerable():
    from importlib.metadata import version

    numbers = tuple(int(part) for part in version("jinja2").split(".")[:3])
    assert numbers >= (3, 1, 6)


CVE_2025_27516 = '{{ ("{0.__init__.__globals__[os].environ[X]}"|attr("format"))(cycler) }}'


def test_cve_2025_27516_payload_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("X", SECRET)
    with pytest.raises(TemplateRenderError, match="unsafe"):
        render_source(CVE_2025_27516, tmp_path)


def test_cve_2025_27516_payload_through_the_cli(runner, imported, monkeypatch):
    monkeypatch.setenv("X", SECRET)
    (project_templates(imported) / "report.md.j2").write_text(CVE_2025_27516, encoding="utf-8")
    result = show_markdown(runner, imported)
    assert SECRET not in result.output
    assert result.exit_code == 1


NESTED_LOOPS = (
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}done"
)
NESTED_OUTPUT = "{% for i in range(100000) %}{% for j in range(100000) %}xx{% endfor %}{% endfor %}"


def test_nested_loops_are_stopped_by_the_time_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(templating, "RENDER_SECONDS", 0.5)
    with pytest.raises(TemplateRenderError, match="took longer than"):
        render_source(NESTED_LOOPS, tmp_path)


def test_output_is_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(templating, "RENDER_MAX_CHARS", 10_000)
    with pytest.raises(TemplateRenderError, match="more than"):
        render_source(NESTED_OUTPUT, tmp_path)


def test_a_loop_without_calls_in_another_thread_is_stopped_by_the_output_cap(tmp_path, monkeypatch):
    """Away from the main thread there is no timer signal; output is still bounded."""
    import threading

    monkeypatch.setattr(templating, "RENDER_MAX_CHARS", 10_000)
    caught: list[BaseException] = []

    def target() -> None:
        try:
            render_source(NESTED_OUTPUT, tmp_path)
        except BaseException as exc:  # handed to the test thread
            caught.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    assert caught and isinstance(caught[0], TemplateRenderError)


def test_a_hostile_project_template_cannot_hang_show(tmp_path, project, example_report):
    """As a user meets it: a real process, the default limit, and one line."""
    env = {**os.environ, "PHASER_RENDER_SECONDS": "1"}
    base = [sys.executable, "-m", "phaser_analytics", "analytics"]
    subprocess.run(
        [*base, "import", str(example_report), "--project", str(project)],
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )
    (project_templates(project) / "report.md.j2").write_text(NESTED_LOOPS, encoding="utf-8")
    result = subprocess.run(
        [*base, "show", "--format", "markdown", "--project", str(project)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    assert "took longer than" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_time_limit_leaves_no_alarm_behind(tmp_path, monkeypatch):
    import signal

    monkeypatch.setattr(templating, "RENDER_SECONDS", 5)
    before = signal.getsignal(signal.SIGALRM)
    assert render_source("ok", tmp_path) == "ok"
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is before


# -- the project's config file itself ---------------------------------------------------------


def test_a_config_that_is_a_fifo_does_not_hang_show(tmp_path, project):
    (project / ".phaser").mkdir()
    os.mkfifo(project / ".phaser" / "config.json")
    result = subprocess.run(
        [sys.executable, "-m", "phaser_analytics", "analytics", "show", "--project", str(project)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "not a regular file" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_config_linked_to_a_device_is_refused(runner, project):
    (project / ".phaser").mkdir()
    (project / ".phaser" / "config.json").symlink_to("/dev/zero")
    result = run(runner, "show", "--project", project)
    assert result.exit_code == 2, result.output
    assert "not a regular file" in result.output


def test_a_huge_config_is_refused(runner, project, monkeypatch):
    from phaser_analytics import config

    monkeypatch.setattr(config, "CONFIG_MAX_BYTES", 100)
    write_config(project, {"show": {"format": "table" + " " * 200}})
    result = run(runner, "show", "--project", project)
    assert result.exit_code == 2, result.output
    assert "larger than" in result.output
