"""Phase timing from git (spec §3.2), on the ``enrich_record`` hook.

When the project's directory is a git repository holding the phase commits, each phase's
``completed_at`` is its commit's time, its ``started_at`` the previous phase's commit time
(the first phase starts when the execution does) and ``duration_seconds`` the difference.
No git, no repository, or commits it does not hold: the fields stay ``None``. One ``git``
process per report, whatever the number of phases.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from phaser_analytics.hookspecs import hookimpl

#: A hung git (a network file system, a credential prompt) must not hang the import.
GIT_TIMEOUT_SECONDS = 10


def _work_tree(start: Path) -> Path | None:
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _candidate_dirs(record: Any, source: Path | None) -> list[Path]:
    candidates = []
    if record.project_path and os.path.isdir(record.project_path):
        candidates.append(Path(record.project_path))
    if source is not None:
        candidates.append(Path(source).resolve().parent)
    return candidates


def commit_times(repo: Path, shas: list[str]) -> dict[str, datetime]:
    """Commit time of each of ``shas`` (short or full) that ``repo`` holds."""
    git = shutil.which("git")
    if git is None or not shas:
        return {}
    try:
        result = subprocess.run(
            [git, "log", "--no-walk=unsorted", "--ignore-missing", "--format=%H %ct", *shas],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    if result.returncode != 0:
        return {}
    found: dict[str, datetime] = {}
    for line in result.stdout.splitlines():
        full, _, stamp = line.partition(" ")
        if not stamp.strip().isdigit():
            continue
        moment = datetime.fromtimestamp(int(stamp), tz=timezone.utc)
        for sha in shas:
            if full.startswith(sha.lower()):
                found[sha] = moment
    return found


def _plausible_sha(sha: str | None) -> bool:
    # Hand-written examples carry SHAs like "g7h8i9j"; git would only reject them.
    return bool(sha) and 4 <= len(sha) <= 40 and all(c in "0123456789abcdefABCDEF" for c in sha)  # type: ignore[arg-type]


@hookimpl(trylast=True)
def enrich_record(record: Any, source: Path | None) -> None:
    shas = [p.commit_sha for p in record.phases if _plausible_sha(p.commit_sha)]
    if not shas:
        return
    for directory in _candidate_dirs(record, source):
        repo = _work_tree(directory)
        if repo is None:
            continue
        times = commit_times(repo, shas)
        if times:
            apply_times(record, times)
            return


def apply_times(record: Any, times: dict[str, datetime]) -> None:
    """Fill phase timings from commit times, in phase order."""
    previous = None if record.date_only else record.started_at
    for phase in sorted(record.phases, key=lambda p: p.phase_number):
        completed = times.get(phase.commit_sha) if phase.commit_sha else None
        if completed is None:
            previous = None  # an unknown commit breaks the chain of start times
            continue
        phase.completed_at = completed
        if previous is not None and previous <= completed:
            phase.started_at = previous
            phase.duration_seconds = (completed - previous).total_seconds()
        previous = completed
