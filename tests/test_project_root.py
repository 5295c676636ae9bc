"""Where the store goes: one rule for every command (issue 14 item 11)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from phaser_analytics.cli import cli

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "EXECUTION_REPORT.md"


def run(*args: str):
    return CliRunner().invoke(cli, ["analytics", *args])


def test_import_in_a_subdirectory_of_a_repository_stores_at_its_root(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    q1 = repo / "reports" / "q1"
    q1.mkdir(parents=True)
    (repo / ".git").mkdir()
    shutil.copy(EXAMPLE, q1 / "EXECUTION_REPORT.md")
    monkeypatch.chdir(q1)
    assert run("import", ".").exit_code == 0
    assert not (q1 / ".phaser").exists()
    assert (repo / ".phaser" / "analytics").is_dir()
    monkeypatch.chdir(repo)
    shown = run("show", "--format", "json")
    assert len(json.loads(shown.stdout)["executions"]) == 1


def test_a_linked_worktrees_git_file_marks_the_root_too(tmp_path, monkeypatch):
    tree = tmp_path / "wt"
    (tree / "sub").mkdir(parents=True)
    (tree / ".git").write_text("gitdir: /elsewhere/.git/worktrees/wt\n")
    shutil.copy(EXAMPLE, tree / "sub" / "EXECUTION_REPORT.md")
    monkeypatch.chdir(tree / "sub")
    assert run("import", "EXECUTION_REPORT.md").exit_code == 0
    assert (tree / ".phaser").is_dir() and not (tree / "sub" / ".phaser").exists()


def test_a_phaser_directory_below_the_git_root_wins(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    app = repo / "apps" / "one"
    (app / ".phaser").mkdir(parents=True)
    (repo / ".git").mkdir()
    shutil.copy(EXAMPLE, app / "EXECUTION_REPORT.md")
    monkeypatch.chdir(app)
    assert run("import", "EXECUTION_REPORT.md").exit_code == 0
    assert (app / ".phaser" / "analytics").is_dir() and not (repo / ".phaser").exists()


def test_phaser_home_is_not_a_project(tmp_path, monkeypatch):
    """~/.phaser holds settings; a project under ~ without its own .phaser/ is not ~."""
    home = tmp_path / "home"
    (home / ".phaser").mkdir(parents=True)
    monkeypatch.setenv("PHASER_HOME", str(home / ".phaser"))
    work = home / "work"
    work.mkdir()
    shutil.copy(EXAMPLE, work / "EXECUTION_REPORT.md")
    monkeypatch.chdir(work)
    assert run("import", "EXECUTION_REPORT.md").exit_code == 0
    assert (work / ".phaser" / "analytics").is_dir()
    assert not (home / ".phaser" / "analytics").exists()


def test_the_python_api_uses_the_same_rule(tmp_path):
    from phaser_analytics.pipeline import infer_project_dir

    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "reports" / "q1").mkdir(parents=True)
    report = repo / "reports" / "q1" / "EXECUTION_REPORT.md"
    shutil.copy(EXAMPLE, report)
    assert infer_project_dir(report) == repo.resolve()
