"""``capture``: Claude Code's ``SessionEnd`` hook. Read the hook's JSON, find the
EXECUTION_REPORT.md written during the session, import it with the session's token usage;
leave what cannot be finished in time in a spool that the next command drains
(docs/capture.md).

A hook must never fail or block the session: :func:`run` catches everything, writes one
line to the capture log, and the command exits 0.
"""

from __future__ import annotations

import json
import os
import select
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

from .home import phaser_home
from .models import datetime_from_json, datetime_to_json, utcnow
from .spool import pending, spool
from .stores.base import SaveAction

LOG_NAME = "capture.log"
#: The log is renamed to ``capture.log.1`` when it grows past this.
LOG_MAX_BYTES = 256 * 1024
#: The most of standard input read: a SessionEnd payload is a few hundred bytes.
STDIN_LIMIT = 1024 * 1024
#: How long to wait for standard input to be written and closed.
STDIN_WAIT_SECONDS = 0.5
#: From the start of ``capture``: the search for a new report must be done by then …
SEARCH_BUDGET_SECONDS = 0.25
#: … and the import started by then, or the session is left in the spool.
IMPORT_START_BUDGET_SECONDS = 0.5
#: Scales both budgets (``PHASER_CAPTURE_BUDGET_SCALE=2`` on a slow machine, or where
#: Claude Code is given a longer hook timeout).
BUDGET_SCALE_ENV = "PHASER_CAPTURE_BUDGET_SCALE"


def budget_scale() -> float:
    try:
        scale = float(os.environ.get(BUDGET_SCALE_ENV, "1"))
    except ValueError:
        return 1.0
    return scale if 0 < scale <= 1000 else 1.0


#: How long a drain may search a project for the report.
DRAIN_SEARCH_SECONDS = 10.0
#: A report counts as written during the session when modified at most this long before
#: the session's first transcript line (file systems store times coarsely).
MTIME_SLACK_SECONDS = 2.0
#: Without a transcript the session's start is unknown: reports of the last day count.
NO_TRANSCRIPT_WINDOW = timedelta(hours=24)
#: A spooled session whose import failed this many times is dropped (and logged).
MAX_ATTEMPTS = 3


class CaptureError(Exception):
    """Why this session cannot be captured, in one line (it goes to the log)."""


@dataclass
class Session:
    session_id: str
    cwd: Path
    transcript: Path | None
    event: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "cwd": str(self.cwd),
            "transcript_path": str(self.transcript) if self.transcript else None,
            "hook_event_name": self.event,
            "reason": self.reason,
        }


# -- the payload --------------------------------------------------------------------------


def read_stdin(stream: IO[bytes], wait: float = STDIN_WAIT_SECONDS) -> bytes:
    """Standard input up to :data:`STDIN_LIMIT` bytes, waiting at most ``wait`` seconds
    for it to be closed (a hook must not hang on an input that never ends)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return stream.read(STDIN_LIMIT)  # not a real file (tests, a wrapper)
    deadline = time.monotonic() + wait
    chunks: list[bytes] = []
    size = 0
    while size < STDIN_LIMIT:
        left = deadline - time.monotonic()
        if left <= 0:
            raise CaptureError("standard input was not closed in time")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    else:
        raise CaptureError(f"the hook input is larger than {STDIN_LIMIT} bytes")
    return b"".join(chunks)


def parse_payload(data: bytes) -> Session:
    """The session a SessionEnd payload describes; :class:`CaptureError` when it is not
    one."""
    if not data.strip():
        raise CaptureError("no hook input on standard input (expected Claude Code's JSON)")
    try:
        payload = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise CaptureError(f"the hook input is not JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise CaptureError("the hook input is not a JSON object")
    session_id = payload.get("session_id")
    if not isinstance(session_id, str) or not session_id.strip() or len(session_id) > 200:
        raise CaptureError("the hook input has no session_id")
    cwd = payload.get("cwd")
    if not isinstance(cwd, str) or not os.path.isabs(cwd):
        raise CaptureError("the hook input has no absolute cwd")
    if not os.path.isdir(cwd):
        raise CaptureError(f"the session's cwd {cwd!r} is not a directory")
    transcript = payload.get("transcript_path")
    event, reason = payload.get("hook_event_name"), payload.get("reason")
    return Session(
        session_id=session_id,
        cwd=Path(cwd),
        transcript=Path(transcript) if isinstance(transcript, str) and transcript else None,
        event=event if isinstance(event, str) else None,
        reason=reason if isinstance(reason, str) else None,
    )


# -- the session --------------------------------------------------------------------------


def project_root(cwd: Path) -> Path:
    """Where the session's reports are stored: the nearest directory upwards holding
    ``.phaser/``, else the nearest holding ``.git``, else ``cwd``."""
    here = cwd.resolve()
    ancestors = (here, *here.parents)
    for candidate in ancestors:
        if (candidate / ".phaser").is_dir():
            return candidate
    for candidate in ancestors:
        if (candidate / ".git").exists():
            return candidate
    return here


def transcript_start(transcript: Path | None) -> datetime | None:
    """The time of the transcript's first timestamped line (of its first 200): when the
    session began. ``None`` when there is no readable transcript."""
    if transcript is None or not transcript.is_file():  # never wait on a FIFO
        return None
    from .default_plugins.claude_usage import MAX_TRANSCRIPT_LINE
    from .untrusted_files import bounded_lines

    for number, raw in enumerate(bounded_lines(transcript, MAX_TRANSCRIPT_LINE)):
        if number >= 200:
            break
        line = raw.decode("utf-8", errors="replace")
        if '"timestamp"' not in line:
            continue
        try:
            value = json.loads(line).get("timestamp")
            moment = datetime_from_json(value) if isinstance(value, str) else None
        except (ValueError, AttributeError):
            continue
        if moment is not None:
            return moment
    return None


def session_files(session: Session) -> list[Path]:
    """The session's transcript and its sub-agents' (the ``claude_tokens`` plugin knows
    where Claude Code writes them)."""
    if session.transcript is None or not session.transcript.is_file():
        return []
    from .default_plugins.claude_usage import session_files as transcripts

    return transcripts(session.transcript)


def session_usage(session: Session) -> dict[str, dict[str, int]]:
    """Token counts per model of every assistant message of the session and its
    sub-agents, each message once (the ``claude_tokens`` plugin's reader)."""
    from .default_plugins.claude_usage import Window, scan_transcripts

    files = session_files(session)
    if not files:
        return {}
    everything = Window(
        datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(9999, 1, 1, tzinfo=timezone.utc)
    )
    # The files are this session's: every working directory it visited counts.
    return scan_transcripts(files, os.sep, everything)


def token_preparer(session: Session) -> Callable[[Any], None]:
    """Set the session's token usage on a record before the enrich hooks run (the
    ``claude_tokens`` plugin then leaves it alone); without usage, leave the record to
    that plugin (its transcript window, or the report's own table)."""
    usage = session_usage(session)

    def prepare(record: Any) -> None:
        record.extra["claude_session_id"] = session.session_id
        if not usage:
            return
        from .default_plugins.claude_usage import measured_fields, price_book

        record.update(measured_fields(usage, price_book(record, Path(record.report_path))))
        record.extra["token_source"] = "session"

    return prepare


def new_reports(
    project_dir: Path, since: datetime, deadline: float | None, patterns: list[str]
) -> list[Path]:
    """Reports under ``project_dir`` modified since ``since`` (less a little slack)."""
    from .pipeline import discover

    floor = since.timestamp() - MTIME_SLACK_SECONDS
    found = []
    for path in discover(project_dir, patterns, recursive=True, deadline=deadline):
        try:
            if path.stat().st_mtime >= floor:
                found.append(path)
        except OSError:
            continue
    return found


# -- the log ------------------------------------------------------------------------------


def log_path(project_dir: Path | None) -> Path:
    """The project's ``.phaser/analytics/capture.log`` when the project has a store (a
    real directory, not a link), else ``$PHASER_HOME/capture.log``."""
    if project_dir is not None:
        store = project_dir / ".phaser" / "analytics"
        if all(p.is_dir() and not p.is_symlink() for p in (store.parent, store)):
            return store / LOG_NAME
    return phaser_home() / LOG_NAME


def log(project_dir: Path | None, message: str, session_id: str | None = None) -> None:
    """Append one line to the capture log; never raises."""
    try:
        path = log_path(project_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if path.lstat().st_size > LOG_MAX_BYTES:
                os.replace(path, path.with_name(LOG_NAME + ".1"))
        except FileNotFoundError:
            pass
        text = " ".join(str(message).split())[:1000]
        who = f" session={session_id}" if session_id else ""
        line = f"{datetime_to_json(utcnow())}{who} {text}\n"
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, 0o644)
        try:
            os.write(fd, line.encode("utf-8", "replace"))
        finally:
            os.close(fd)
    except Exception:
        pass  # a hook must not fail because its log cannot be written


# -- capture and drain --------------------------------------------------------------------


@dataclass
class Outcome:
    """What one capture or drained session did."""

    imported: int = 0
    already: int = 0
    failed: int = 0
    spooled: bool = False
    reports: int = 0


def _patterns() -> list[str]:
    from .plugins import get_host

    return get_host().report_patterns()


def import_session(
    session: Session, project_dir: Path, reports: list[Path], origin: str
) -> Outcome:
    """Import ``reports`` into ``project_dir`` with the session's tokens; a report that
    fails is logged."""
    from .pipeline import import_reports

    def warn(message: str) -> None:
        log(project_dir, f"warning: {message}", session.session_id)

    summary = import_reports(
        reports,
        project_dir,
        warn=warn,
        prepare=token_preparer(session),
        origin=origin,
    )
    for outcome in summary.outcomes:
        if outcome.action is SaveAction.FAILED:
            log(project_dir, f"error: {outcome.path}: {outcome.error}", session.session_id)
    return Outcome(
        imported=summary.imported,
        already=summary.already,
        failed=summary.failed,
        reports=len(reports),
    )


def capture(session: Session, started: float) -> Outcome:
    """Capture one ending session: ``started`` is when the command began
    (:func:`time.monotonic`), which the time budgets count from."""
    from .pipeline import DiscoveryTimeout

    project_dir = project_root(session.cwd)
    began = transcript_start(session.transcript)
    since = began if began is not None else utcnow() - NO_TRANSCRIPT_WINDOW
    if began is None and session.transcript is not None:
        # Logged once a report is found (into the store the import creates): a session
        # with no report is not worth a line.
        note = (
            f"warning: transcript {session.transcript} not readable; looked for reports "
            "of the last 24 hours, imported without session tokens"
        )
    else:
        note = None
    entry = {
        "version": 1,
        "session": session.to_dict(),
        "project_dir": str(project_dir),
        "since": datetime_to_json(since),
        "reports": None,
        "spooled_at": datetime_to_json(utcnow()),
        "attempts": 0,
    }
    try:
        reports = new_reports(
            project_dir, since, started + SEARCH_BUDGET_SECONDS * budget_scale(), _patterns()
        )
    except DiscoveryTimeout:
        spool(entry)
        log(project_dir, "spooled: the search for a report took too long", session.session_id)
        return Outcome(spooled=True)
    if not reports:
        return Outcome()
    entry["reports"] = [str(p) for p in reports]
    # Written before the import, removed after it: a hook killed half-way leaves the
    # session for the next command, and importing it twice is harmless (identity).
    path = spool(entry)
    if time.monotonic() - started > IMPORT_START_BUDGET_SECONDS * budget_scale():
        log(project_dir, "spooled: no time left to import", session.session_id)
        return Outcome(spooled=True, reports=len(reports))
    outcome = import_session(session, project_dir, reports, "capture")
    path.unlink(missing_ok=True)
    if note:
        log(project_dir, note, session.session_id)
    return outcome


def drain_one(path: Path) -> Outcome:
    """Import one spooled session and remove its entry; an entry that keeps failing is
    dropped after :data:`MAX_ATTEMPTS` tries, with a log line."""
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        data = entry["session"]
        session = Session(
            session_id=data["session_id"],
            cwd=Path(data["cwd"]),
            transcript=Path(data["transcript_path"]) if data.get("transcript_path") else None,
        )
        project_dir = Path(entry["project_dir"])
        since = datetime_from_json(entry["since"]) or utcnow()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log(None, f"error: dropped unreadable spool entry {path.name} ({exc})")
        path.unlink(missing_ok=True)
        return Outcome(failed=1)
    try:
        if entry.get("reports") is None:
            deadline = time.monotonic() + DRAIN_SEARCH_SECONDS
            reports = new_reports(project_dir, since, deadline, _patterns())
        else:
            reports = [Path(p) for p in entry["reports"] if Path(p).is_file()]
        outcome = import_session(session, project_dir, reports, "drain") if reports else Outcome()
    except Exception as exc:  # DiscoveryTimeout too: try again next time
        entry["attempts"] = int(entry.get("attempts") or 0) + 1
        if entry["attempts"] >= MAX_ATTEMPTS:
            log(project_dir, f"error: gave up on a spooled session ({exc})", session.session_id)
            path.unlink(missing_ok=True)
        else:
            spool(entry)
        return Outcome(failed=1)
    path.unlink(missing_ok=True)
    return outcome


def drain() -> Outcome:
    """Import every spooled session; the total of what happened."""
    total = Outcome()
    for path in pending():
        one = drain_one(path)
        total.imported += one.imported
        total.already += one.already
        total.failed += one.failed
        total.reports += one.reports
    return total


def run(stdin: IO[bytes], started: float) -> Outcome | None:
    """The hook: never raises; every problem is one line in the capture log."""
    session: Session | None = None
    try:
        session = parse_payload(read_stdin(stdin))
        return capture(session, started)
    except CaptureError as exc:
        log(_fallback_project(session), f"error: {exc}", session.session_id if session else None)
    except Exception as exc:
        log(
            _fallback_project(session),
            f"error: {type(exc).__name__}: {exc}",
            session.session_id if session else None,
        )
    return None


def _fallback_project(session: Session | None) -> Path | None:
    try:
        return project_root(session.cwd if session else Path.cwd())
    except Exception:
        return None
