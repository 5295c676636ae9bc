"""Phase timing from git commits (spec §3.2); the ``git_timing`` plugin's ``enrich_record``
calls :func:`timing_fields`.

When the project's directory is a git repository holding the phase commits, each phase's
``completed_at`` is its commit's time, its ``started_at`` the previous phase's commit time
(the first phase starts when the execution does) and ``duration_seconds`` the difference.
No git, no repository, or commits it does not hold: the fields stay ``None``.

One ``git`` process per repository, however many reports an import reads from it: the
first report of a repository starts ``git cat-file --batch`` there, and every report's
commits are asked of that process (a few hundred microseconds each, where starting
``git log`` per report cost ~10 ms). Each SHA is asked as ``<sha>^{commit}``, which git
resolves exactly as ``git log`` resolves its arguments (a short SHA that could also be a
blob or tree means the commit; one that fits two commits, or none, is not found), and
the commit time is the committer timestamp, ``git log``'s ``%ct``. Where that process
cannot be used (not POSIX, it failed, it did not answer within
:data:`GIT_TIMEOUT_SECONDS`) each report runs one ``git log`` as before. The processes
end when their input closes, at the latest when the Python process exits.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import re
import threading
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import subprocess

#: A hung git (a network file system, a credential prompt) must not hang the import.
GIT_TIMEOUT_SECONDS = 10
#: Repositories with a ``git cat-file`` process kept open at once; the least recently
#: used one is closed to open another.
MAX_OPEN_REPOSITORIES = 8
#: Waiting for a pipe with a time limit (select) is POSIX's; elsewhere, git log per report.
_BATCH_SUPPORTED = os.name == "posix"


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


def _git_env() -> dict[str, str]:
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0"}


def commit_times(repo: Path, shas: list[str]) -> dict[str, datetime]:
    """Commit time of each of ``shas`` (short or full) that ``repo`` holds."""
    if not shas:
        return {}
    if all(_plausible_sha(sha) for sha in shas):
        with _lock:  # one conversation at a time with each process
            batch = _batch_for(repo)
            if batch is not None:
                found = batch.commit_times(shas)
                if found is not None:
                    return found
                _close(repo)  # it failed: from now on, one git log per report here
                _unusable.add(_repo_key(repo))
    return _log_commit_times(repo, shas)


def _log_commit_times(repo: Path, shas: list[str]) -> dict[str, datetime]:
    """:func:`commit_times` by one ``git log`` of ``shas``."""
    import shutil  # here: it imports bz2 and lzma, ~3 ms of every import without git
    import subprocess

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
            env=_git_env(),
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


# -- one git cat-file process per repository ----------------------------------------------

_COMMITTER = re.compile(rb"^committer [^\n]*> (\d+) [+-]\d{4}$", re.MULTILINE)
#: SHAs written to git cat-file before reading its answers.
_CHUNK = 64


class _CatFile:
    """A ``git cat-file --batch`` process in one repository."""

    def __init__(self, git: str, repo: Path) -> None:
        import subprocess

        self.process: subprocess.Popen[bytes] = subprocess.Popen(
            [git, "cat-file", "--batch=%(objectname) %(objecttype) %(objectsize)"],
            cwd=repo,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_git_env(),
        )
        self._buffer = bytearray()

    def commit_times(self, shas: list[str]) -> dict[str, datetime] | None:
        """Like :func:`commit_times`; ``None`` when the process failed or hung (it is
        then of no further use)."""
        import time

        deadline = time.monotonic() + GIT_TIMEOUT_SECONDS
        found: dict[str, datetime] = {}
        try:
            # In chunks, so neither pipe can fill while the other side waits on it.
            for start in range(0, len(shas), _CHUNK):
                self._ask(shas[start : start + _CHUNK], found, deadline)
        except (OSError, ValueError, AssertionError, TimeoutError, EOFError):
            return None
        return found

    def _ask(self, shas: list[str], found: dict[str, datetime], deadline: float) -> None:
        stdin: IO[bytes] | None = self.process.stdin
        assert stdin is not None
        stdin.write("".join(f"{sha}^{{commit}}\n" for sha in shas).encode("ascii"))
        stdin.flush()
        for sha in shas:
            header = self._read_line(deadline).split(b" ")
            if len(header) != 3:  # "<sha>^{commit} missing"
                if header[-1] not in (b"missing", b"ambiguous"):
                    raise ValueError(f"unexpected git cat-file output {header!r}")
                continue
            oid, kind, size = header
            body = self._read(int(size) + 1, deadline)
            if kind != b"commit" or not oid.decode("ascii").startswith(sha.lower()):
                continue
            # The committer line of the headers, which end at the first blank line.
            end = body.find(b"\n\n")
            match = _COMMITTER.search(body, 0, end if end >= 0 else len(body))
            if match:
                found[sha] = datetime.fromtimestamp(int(match.group(1)), tz=timezone.utc)

    def _fill(self, deadline: float) -> None:
        import select
        import time

        stdout = self.process.stdout
        assert stdout is not None
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([stdout], [], [], remaining)[0]:
            raise TimeoutError("git cat-file did not answer")
        chunk = os.read(stdout.fileno(), 1 << 16)
        if not chunk:
            raise EOFError("git cat-file ended")
        self._buffer += chunk

    def _read_line(self, deadline: float) -> bytes:
        while (end := self._buffer.find(b"\n")) < 0:
            self._fill(deadline)
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line

    def _read(self, size: int, deadline: float) -> bytes:
        while len(self._buffer) < size:
            self._fill(deadline)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def close(self) -> None:
        import subprocess

        process = self.process
        try:
            if process.stdin is not None:
                process.stdin.close()
            process.wait(timeout=1)
        except (OSError, subprocess.SubprocessError):
            process.kill()
            process.wait()
        finally:
            if process.stdout is not None:
                process.stdout.close()


_open: OrderedDict[str, _CatFile] = OrderedDict()
#: Repositories whose cat-file process failed once: they are asked by git log.
_unusable: set[str] = set()
_registered_exit = False
_lock = threading.Lock()
#: The process that started the ones in _open: a forked child must not talk to them.
_owner = os.getpid()


def _repo_key(repo: Path) -> str:
    return os.path.abspath(repo)


def _batch_for(repo: Path) -> _CatFile | None:
    """The repository's cat-file process, started on first use; ``None`` where there is
    none to be had (not POSIX, no git, it cannot start, it failed before)."""
    global _registered_exit, _owner
    if os.getpid() != _owner:
        # A fork's copies of the parent's pipes: leave them (and the parent's processes)
        # alone and start this process's own.
        _open.clear()
        _unusable.clear()
        _owner = os.getpid()
    key = _repo_key(repo)
    batch = _open.get(key)
    if batch is not None:
        _open.move_to_end(key)
        return batch
    if not _BATCH_SUPPORTED or key in _unusable:
        return None
    import shutil  # here, as in _log_commit_times

    git = shutil.which("git")
    if git is None:
        return None
    try:
        batch = _CatFile(git, repo)
    except OSError:
        _unusable.add(key)
        return None
    if not _registered_exit:
        atexit.register(close_all)
        _registered_exit = True
    _open[key] = batch
    while len(_open) > MAX_OPEN_REPOSITORIES:
        _open.popitem(last=False)[1].close()
    return batch


def _close(repo: Path) -> None:
    batch = _open.pop(_repo_key(repo), None)
    if batch is not None:
        batch.close()


def close_all() -> None:
    """End every ``git cat-file`` process (at exit; tests call it too) and forget which
    repositories could not have one."""
    with _lock:
        if os.getpid() == _owner:
            while _open:
                _open.popitem()[1].close()
        _open.clear()
        _unusable.clear()


# -- the hook -----------------------------------------------------------------------------

_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _plausible_sha(sha: str | None) -> bool:
    # Hand-written examples carry SHAs like "g7h8i9j"; git would only reject them.
    return sha is not None and 4 <= len(sha) <= 40 and all(c in _HEX_DIGITS for c in sha)


def timing_fields(record: Any, source: Path | None) -> dict[str, Any] | None:
    """The fields ``enrich_record`` adds: the phases timed from their commits, or ``None``."""
    shas = [p.commit_sha for p in record.phases if _plausible_sha(p.commit_sha)]
    if not shas:
        return None
    for directory in _candidate_dirs(record, source):
        repo = _work_tree(directory)
        if repo is None:
            continue
        times = commit_times(repo, shas)
        if times:
            return {"phases": timed_phases(record, times)}
    return None


def timed_phases(record: Any, times: dict[str, datetime]) -> list[Any]:
    """The record's phases (copies, in the record's order) with timings filled from commit
    times, in phase order."""
    phases = [dataclasses.replace(phase) for phase in record.phases]
    previous = None if record.date_only else record.started_at
    for phase in sorted(phases, key=lambda p: p.phase_number):
        completed = times.get(phase.commit_sha) if phase.commit_sha else None
        if completed is None:
            previous = None  # an unknown commit breaks the chain of start times
            continue
        phase.completed_at = completed
        if previous is not None and previous <= completed:
            phase.started_at = previous
            phase.duration_seconds = (completed - previous).total_seconds()
        previous = completed
    return phases
