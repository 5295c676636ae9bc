"""Phase timing from git commits (the built-in git_timing plugin)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from storage_helpers import json_store

from phaser_analytics import ExecutionRecord, PhaseRecord, PhaseStatus, import_execution_report
from phaser_analytics.default_plugins import git_commits, git_timing
from phaser_analytics.pipeline import import_reports

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


def test_non_hex_shas_never_reach_git(repo, git_calls):
    project, _ = repo
    record = ExecutionRecord(
        execution_id="x",
        project_path=str(project),
        phases=[PhaseRecord(1, "a", PhaseStatus.COMPLETED, "g7h8i9j")],
    )
    assert git_timing.enrich_record(record=record, source=None) is None
    assert git_calls == []


def test_without_git_executable_nothing_happens(repo, monkeypatch, tmp_path):
    project, shas = repo
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    assert git_commits.commit_times(project, shas) == {}


# -- one git process per repository -------------------------------------------------------


@pytest.fixture(autouse=True)
def no_git_processes_left() -> Iterator[None]:
    yield
    git_commits.close_all()


class GitCalls(list[list[str]]):
    """The command line of every process started (subprocess.run starts one with Popen),
    and the processes themselves, in the same order, in :attr:`processes`."""

    def __init__(self) -> None:
        super().__init__()
        self.processes: list[subprocess.Popen[Any]] = []

    def clear(self) -> None:
        super().clear()
        self.processes.clear()

    def cat_file(self) -> subprocess.Popen[Any]:
        """The last ``git cat-file`` process started."""
        return next(
            process
            for call, process in reversed(list(zip(self, self.processes, strict=True)))
            if call[:2] == ["git", "cat-file"]
        )


@pytest.fixture
def git_calls(monkeypatch: pytest.MonkeyPatch) -> GitCalls:
    calls = GitCalls()
    real = subprocess.Popen

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, args: Any, *rest: Any, **options: Any) -> None:
            super().__init__(args, *rest, **options)
            calls.append([os.path.basename(str(args[0])), *map(str, args[1:])])
            calls.processes.append(self)

    monkeypatch.setattr(subprocess, "Popen", Counting)
    return calls


def git_log_times(repo: Path, shas: list[str]) -> dict[str, datetime]:
    """What ``git log`` says of ``shas``: the commit time of each SHA given (short or full,
    any case) that names a commit of ``repo``, as commit_times must find it."""
    out = subprocess.run(
        ["git", "log", "--no-walk=unsorted", "--ignore-missing", "--format=%H %ct", *shas],
        cwd=repo, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found: dict[str, datetime] = {}
    for line in out.splitlines():
        full, stamp = line.split()
        for sha in shas:
            if full.startswith(sha.lower()):
                found[sha] = datetime.fromtimestamp(int(stamp), tz=UTC)
    return found


def git_wrapper(tmp_path: Path, cat_file: str) -> Path:
    """A directory holding a ``git`` that runs ``cat_file`` (shell) for ``git cat-file``
    and the real git for everything else."""
    wrapper = tmp_path / "bin" / "git"
    wrapper.parent.mkdir()
    wrapper.write_text(
        f'#!/bin/sh\nif [ "$1" = cat-file ]; then {cat_file}; fi\n'
        f'exec {shutil.which("git")} "$@"\n',
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    return wrapper.parent


def test_an_import_starts_one_git_process_per_repository(repo, git_calls, tmp_path):
    project, shas = repo
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    for number in range(12):
        where = (project if number % 3 else other) / "audits" / f"run{number}"
        where.mkdir(parents=True)
        _report(where, [shas[number % 3], shas[(number + 1) % 3]])
    git_calls.clear()
    summary = import_reports(
        [*sorted(project.rglob("audits/*/EXECUTION_REPORT.md")),
         *sorted(other.rglob("audits/*/EXECUTION_REPORT.md"))],
        project,
    )  # fmt: skip
    assert summary.imported == 12
    assert [call[:2] for call in git_calls] == [["git", "cat-file"], ["git", "cat-file"]]
    store = json_store(project)
    records = {Path(r.report_path).parent.name: r for r in list(store.read(store.find()))}
    assert records["run1"].phases[0].completed_at == START + timedelta(minutes=25)
    assert records["run2"].phases[1].completed_at == START + timedelta(minutes=10)
    assert records["run3"].phases[0].completed_at is None  # other holds none of the commits


def _fast_import(repo: Path, commits: int, blobs: int) -> None:
    """Many commits (and loose blobs) quickly: enough for 4-digit SHA prefixes to clash."""
    stream = []
    for number in range(commits):
        stream += [
            "commit refs/heads/many",
            f"committer t <t@example.com> {1_700_000_000 + number * 60} +0000",
            f"data {len(f'c{number}')}",
            f"c{number}",
        ]
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=repo, input="\n".join(stream) + "\n",
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    subprocess.run(
        ["git", "hash-object", "-w", "--stdin-paths"], cwd=repo, check=True, capture_output=True,
        input="\n".join(_blob_files(repo, blobs)), text=True,
    )  # fmt: skip


def _blob_files(repo: Path, count: int) -> list[str]:
    folder = repo / "blobs"
    folder.mkdir()
    for number in range(count):
        (folder / str(number)).write_text(f"blob {number}\n")
    return [str(folder / str(number)) for number in range(count)]


def test_the_batch_finds_what_git_log_finds(repo):
    project, shas = repo
    _fast_import(project, commits=1200, blobs=1200)
    git(project, "tag", "-a", "v1", "-m", "a tag object", shas[1])
    objects = git(project, "cat-file", "--batch-all-objects", "--batch-check").splitlines()
    kinds: dict[str, list[tuple[str, str]]] = {}
    for line in objects:
        oid, kind, _size = line.split()
        kinds.setdefault(oid[:4], []).append((oid, kind))
    two_commits = next(p for p, o in kinds.items() if [k for _, k in o].count("commit") > 1)
    mixed = (["blob", "commit"], ["commit", "tree"])
    commit_and_other = next(p for p, o in kinds.items() if sorted(k for _, k in o) in mixed)
    tag = git(project, "rev-parse", "v1")
    tree = git(project, "rev-parse", "HEAD^{tree}")
    cases = [
        shas,
        [sha.upper() for sha in shas],
        [two_commits, shas[0]],
        [commit_and_other, shas[2]],
        [tag[:7], tree[:7], shas[1]],
        ["deadbee", "abcd", shas[0] + "0"],
        [git(project, "rev-parse", "HEAD"), shas[0], shas[0][:4]],
        [oid[:10] for oid, kind in kinds[two_commits]],
        [oid[:6] for entries in list(kinds.values())[:150] for oid, _ in entries],  # > a chunk
    ]
    for case in cases:
        assert git_commits.commit_times(project, case) == git_log_times(project, case)
    assert git_commits.commit_times(project, [commit_and_other]) != {}
    assert git_commits.commit_times(project, [two_commits]) == {}


def test_a_failed_git_process_leaves_the_repository_to_git_log(repo, git_calls):
    project, shas = repo
    expected = git_log_times(project, shas)
    git_calls.clear()
    assert git_commits.commit_times(project, shas) == expected
    git_calls.cat_file().kill()
    assert git_commits.commit_times(project, shas) == expected
    assert git_commits.commit_times(project, shas[:1]) == {shas[0]: expected[shas[0]]}
    assert [call[:2] for call in git_calls] == [
        ["git", "cat-file"],
        ["git", "log"],
        ["git", "log"],
    ]


def test_a_git_process_that_does_not_answer_is_given_up(repo, git_calls, monkeypatch, tmp_path):
    project, shas = repo
    expected = git_log_times(project, shas)
    git_calls.clear()
    monkeypatch.setattr(git_commits, "GIT_TIMEOUT_SECONDS", 0.3)
    # A git whose cat-file reads nothing and answers nothing (a hung git).
    monkeypatch.setenv("PATH", f"{git_wrapper(tmp_path, 'exec sleep 30')}{os.pathsep}"
                               f"{os.environ['PATH']}")  # fmt: skip
    assert git_commits.commit_times(project, shas) == expected  # from git log, in time
    sleeper = git_calls.cat_file()
    assert sleeper.poll() is not None  # killed, not left behind
    assert [call[:2] for call in git_calls] == [["git", "cat-file"], ["git", "log"]]


def test_without_a_usable_cat_file_each_report_runs_git_log(repo, git_calls, monkeypatch, tmp_path):
    # A git whose cat-file fails, as where the process cannot be used (not POSIX, a
    # broken git): it is tried once, then every report runs git log.
    project, shas = repo
    monkeypatch.setenv("PATH", f"{git_wrapper(tmp_path, 'exit 1')}{os.pathsep}{os.environ['PATH']}")
    for _ in range(2):
        assert len(git_commits.commit_times(project, shas)) == 3
    assert [call[:2] for call in git_calls] == [["git", "cat-file"], ["git", "log"], ["git", "log"]]


def test_thousands_of_shas_at_once_neither_pipe_fills(repo, git_calls, monkeypatch):
    project, _ = repo
    _fast_import(project, commits=1200, blobs=0)
    monkeypatch.setattr(git_commits, "GIT_TIMEOUT_SECONDS", 5)
    shas = git(project, "rev-list", "many").split() * 4  # 4,800 answers of ~250 bytes
    git_calls.clear()
    found = git_commits.commit_times(project, [sha[:8] for sha in shas])
    assert len(found) == 1200
    assert [call[:2] for call in git_calls] == [["git", "cat-file"]]  # no fallback to git log


def test_threads_share_the_process_one_conversation_at_a_time(repo, git_calls):
    from concurrent.futures import ThreadPoolExecutor

    project, shas = repo
    expected = git_log_times(project, shas)
    git_calls.clear()
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: git_commits.commit_times(project, shas), range(40)))
    assert answers == [expected] * 40
    assert [call[:2] for call in git_calls] == [["git", "cat-file"]]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_starts_its_own_process(repo, git_calls):
    project, shas = repo
    expected = git_commits.commit_times(project, shas)
    assert [call[:2] for call in git_calls] == [["git", "cat-file"]]
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        ok = git_commits.commit_times(project, shas) == expected
        # Its own cat-file process, never the parent's pipes.
        ok = ok and [call[:2] for call in git_calls] == [["git", "cat-file"]] * 2
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(child, 0)
    assert git_commits.commit_times(project, shas) == expected  # the parent's still answers
    assert len(git_calls) == 1  # with no process started again
