"""Helpers shared by the store, registry and config tests (a plain module: tests/conftest.py
belongs to the whole suite)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from phaser_analytics.models import ExecutionRecord, ExecutionStatus
from phaser_analytics.stores.json_files import JsonStore, is_record_name

UTC = timezone.utc
DAY0 = datetime(2024, 12, 1, 9, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parent.parent


def make_record(
    project: Path | str = "/p",
    *,
    hours: int = 0,
    document: str | None = None,
    status: ExecutionStatus = ExecutionStatus.SUCCESS,
    **extra: Any,
) -> ExecutionRecord:
    """A complete execution record starting ``hours`` after 2024-12-01 09:00 UTC."""
    started = DAY0 + timedelta(hours=hours)
    values: dict[str, Any] = dict(
        execution_id=ExecutionRecord.generate_id(),
        audit_document=document or f"document-{hours}.md",
        project_path=str(project),
        project_name="Demo",
        started_at=started,
        completed_at=started + timedelta(minutes=30),
        status=status,
        phases_planned=6,
        phases_completed=6,
        baseline_tests=100,
        final_tests=110,
        base_commit=f"c{hours}",
    )
    values.update(extra)
    return ExecutionRecord(**values)


@pytest.fixture
def no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip fsync in tests about something else than durability: it is slow on shared disks."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


def json_store(project: Path, warn: Any = None) -> JsonStore:
    return JsonStore.for_project(project, warn=warn if warn is not None else (lambda m: None))


def fill(project: Path, count: int, **extra: Any) -> list[ExecutionRecord]:
    records = [make_record(project, hours=i, **extra) for i in range(count)]
    json_store(project).save(records)
    return records


def record_names(project: Path) -> list[str]:
    """The record files in the project's store, read without the store's code."""
    executions = project / ".phaser" / "analytics" / "executions"
    if not executions.is_dir():
        return []
    return sorted(p.name for p in executions.iterdir() if is_record_name(p.name) and p.is_file())


def index_on_disk(project: Path) -> dict[str, Any]:
    """index.json as a plain document (spec §4.3: executions are objects)."""
    analytics = project / ".phaser" / "analytics"
    return json.loads((analytics / "index.json").read_text(encoding="utf-8"))


def index_filenames(project: Path) -> list[str]:
    return sorted(e["filename"] for e in index_on_disk(project)["executions"])


def assert_consistent(project: Path) -> None:
    """The index on disk lists exactly the record files, and each file reads."""
    warnings = Warnings()
    store = json_store(project, warnings)
    assert index_filenames(project) == record_names(project)
    assert len(list(store.read(store.find()))) == len(record_names(project))
    assert warnings == [], warnings


class Warnings(list):
    """A ``warn`` callback that keeps what it was told."""

    def __call__(self, message: str) -> None:
        self.append(message)


def run_python(code: str, *, env: dict[str, str] | None = None, **kwargs: Any) -> Any:
    """Run ``code`` in a fresh interpreter with this checkout importable."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.Popen([sys.executable, "-c", code], env=full_env, **kwargs)


def unprivileged(argv: list[str]) -> list[str]:
    """``argv`` run so that file permissions apply to it.

    Root ignores read-only directories, so as root the command runs without the
    capabilities that let it (util-linux ``setpriv``); the test is skipped when that is
    not possible.
    """
    if os.name != "posix":
        pytest.skip("file permissions are POSIX-only here")
    if os.geteuid() != 0:
        return argv
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    caps = "-dac_override,-dac_read_search,-fowner"
    return [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", "--", *argv]


def run_cli_unprivileged(
    args: list[str], *, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    argv = unprivileged([sys.executable, "-m", "phaser_analytics", *args])
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "100", **(env or {})}
    return subprocess.run(
        argv, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=60, check=False
    )


def tree_snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes, to show a command changed nothing."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }
