"""Phase timing from git commits (the built-in git_timing plugin)."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from phaser_analytics import ExecutionRecord, PhaseRecord, PhaseStatus, import_execution_report
from phaser_analytics.default_plugins import git_timing

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git executable")

UTC = timezone.utc
START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def git(repo: Path, *args: str, when: datetime | None = None) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    if when is not None:
        env["GIT_COMMITTER_DATE"] = env["GIT_AUTHOR_DATE"] = when.isoformat()
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, list[str]]:
    """A repository with three phase commits, 10, 25 and 45 minutes after START."""
    path = tmp_path / "proj"
    path.mkdir()
    git(path, "init", "-q")
    shas = []
    for minutes in (10, 25, 45):
        (path / f"f{minutes}").write_text("x")
        git(path, "add", ".")
        git(path, "commit", "-qm", f"phase at {minutes}", when=START + timedelta(minutes=minutes))
        shas.append(git(path, "rev-parse", "--short=7", "HEAD"))
    return path, shas


def _report(project: Path, shas: list[str | None]) -> Path:
    rows = "\n".join(
        f"| {n} | Phase {n} | {'✅' if sha else '❌'} | {sha or ''} |"
        for n, sha in enumerate(shas, start=1)
    )
    text = f"""# Execution Report: Timing

## Metadata

| Field | Value |
|-------|-------|
| Audit Document | timing.md |
| Project Path | {project} |
| Started | {START.isoformat()} |
| Completed | {(START + timedelta(hours=1)).isoformat()} |

## Execution Summary

**Result:** ✅ All phases completed

| Phase | Title | Status | Commit |
|-------|-------|--------|--------|
{rows}
"""
    path = project / "EXECUTION_REPORT.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_phase_times_come_from_commits(repo):
    project, shas = repo
    record = import_execution_report(_report(project, shas), project)
    first, second, third = record.phases
    assert first.started_at == START
    assert first.completed_at == START + timedelta(minutes=10)
    assert first.duration_seconds == 600
    assert second.started_at == first.completed_at
    assert second.duration_seconds == 900
    assert third.duration_seconds == 1200


def test_a_missing_commit_leaves_its_phase_and_the_next_start_unknown(repo):
    project, shas = repo
    record = import_execution_report(_report(project, [shas[0], None, shas[2]]), project)
    first, missing, third = record.phases
    assert first.duration_seconds == 600
    assert missing.completed_at is None and missing.duration_seconds is None
    assert third.completed_at == START + timedelta(minutes=45)
    assert third.started_at is None and third.duration_seconds is None


def test_no_repository_leaves_fields_null(tmp_path):
    project = tmp_path / "plain"
    project.mkdir()
    record = import_execution_report(_report(project, ["abc1234", "def5678"]), project)
    assert all(p.completed_at is None and p.duration_seconds is None for p in record.phases)


def test_commits_not_in_the_repository_leave_fields_null(repo):
    project, _ = repo
    record = import_execution_report(_report(project, ["abc1234", "def5678"]), project)
    assert all(p.completed_at is None for p in record.phases)


def test_non_hex_shas_never_reach_git(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(git_timing, "commit_times", lambda repo, shas: calls.append(shas) or {})
    record = ExecutionRecord(
        execution_id="x",
        project_path=str(tmp_path),
        phases=[PhaseRecord(1, "a", PhaseStatus.COMPLETED, "g7h8i9j")],
    )
    git_timing.enrich_record(record=record, source=None)
    assert calls == []


def test_without_git_executable_nothing_happens(repo, monkeypatch):
    project, shas = repo
    monkeypatch.setattr(git_timing.shutil, "which", lambda name: None)
    assert git_timing.commit_times(project, shas) == {}
