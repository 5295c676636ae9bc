"""What import reads is bounded and every oddity is one clear line (issue 16, items 9, 12).

Only regular files are read as reports, up to :data:`pipeline.MAX_REPORT_BYTES` (20 MiB);
transcript lines are read in bounded pieces; a UTF-16 report is read; an unreadable
directory is a warning and an unreadable file a failed report (exit 1), not a usage error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

import pytest

from phaser_analytics import pipeline
from phaser_analytics.cli import cli
from phaser_analytics.default_plugins import claude_usage
from phaser_analytics.errors import ReportParseError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "EXECUTION_REPORT.md"
UTC = timezone.utc


def run(runner, *args):
    return runner.invoke(cli, ["analytics", *map(str, args)])


def stored(project: Path) -> list[dict]:
    return [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(project.glob(".phaser/analytics/executions/*.json"))
    ]


def one_error_line(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("✗ Failed:")]


# -- item 9: not a regular file, too large -----------------------------------------------------


def test_a_character_device_is_refused_at_once(runner, project):
    """`import /dev/zero` grew without bound; now it is one line, exit 1."""
    result = run(runner, "import", "/dev/zero", "--project", project)
    assert result.exit_code == 1, result.output
    (line,) = one_error_line(result.output)
    assert "not a regular file" in line
    assert stored(project) == []


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path, project):
    """`import FIFO` hung; a real process, since a hang is what is tested."""
    fifo = tmp_path / "EXECUTION_REPORT.md"
    os.mkfifo(fifo)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "phaser_analytics",
            "analytics",
            "import",
            str(fifo),
            "--project",
            str(project),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert "not a regular file" in result.stderr
    assert "Traceback" not in result.stderr


def test_read_report_text_refuses_a_fifo_without_blocking(tmp_path):
    fifo = tmp_path / "r.md"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            pipeline.read_report_text(fifo)
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "reading a FIFO blocked"
    assert isinstance(outcome[0], ReportParseError)


def test_a_symlink_to_a_device_is_refused(runner, project, tmp_path):
    link = tmp_path / "EXECUTION_REPORT.md"
    link.symlink_to("/dev/zero")
    result = run(runner, "import", link, "--project", project)
    assert result.exit_code == 1, result.output
    assert "not a regular file" in result.output


def test_a_report_over_the_cap_is_refused(runner, project, tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "MAX_REPORT_BYTES", 4096)
    big = tmp_path / "EXECUTION_REPORT.md"
    big.write_text(EXAMPLE.read_text(encoding="utf-8") + "x" * 5000, encoding="utf-8")
    result = run(runner, "import", big, "--project", project)
    assert result.exit_code == 1, result.output
    (line,) = one_error_line(result.output)
    assert "larger than" in line
    assert stored(project) == []


def test_the_cap_is_20_mib_and_documented():
    assert pipeline.MAX_REPORT_BYTES == 20 * 1024 * 1024
    docs = (Path(__file__).resolve().parent.parent / "docs" / "report-format.md").read_text()
    assert "20 MiB" in docs


def test_a_report_at_the_cap_is_read(tmp_path, monkeypatch):
    text = EXAMPLE.read_text(encoding="utf-8")
    monkeypatch.setattr(pipeline, "MAX_REPORT_BYTES", len(text.encode()))
    path = tmp_path / "r.md"
    path.write_text(text, encoding="utf-8")
    assert pipeline.read_report_text(path) == text


def test_a_report_growing_while_read_is_still_bounded(tmp_path, monkeypatch):
    """The cap is on what is read, not on what stat said: /dev/zero behind a regular name."""
    monkeypatch.setattr(pipeline, "MAX_REPORT_BYTES", 1000)
    path = tmp_path / "r.md"
    path.write_text("x" * 500, encoding="utf-8")
    real_fstat = os.fstat

    def lying_fstat(fd):  # says 500 bytes whatever the file holds
        info = real_fstat(fd)
        return os.stat_result((*info[:6], 500, *info[7:10]))

    monkeypatch.setattr(os, "fstat", lying_fstat)
    path.write_text("y" * 5000, encoding="utf-8")
    with pytest.raises(ReportParseError, match="larger than"):
        pipeline.read_report_text(path)


# -- item 9: transcript lines --------------------------------------------------------------------


def usage_line(stamp: str, tokens: int, pad: int = 0) -> str:
    return json.dumps(
        {
            "type": "assistant",
            "cwd": "/p",
            "message": {
                "id": f"m{stamp}{tokens}",
                "model": "claude-sonnet-4-5",
                "content": [{"type": "text", "text": "x" * pad}],
                "usage": {"input_tokens": tokens, "output_tokens": 1},
            },
            "timestamp": stamp,
        }
    )


WINDOW = claude_usage.Window(
    datetime(2025, 6, 1, 10, 0, tzinfo=UTC), datetime(2025, 6, 1, 11, 0, tzinfo=UTC)
)


def test_a_huge_transcript_line_is_never_held_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(claude_usage, "MAX_TRANSCRIPT_LINE", 64 * 1024)
    transcript = tmp_path / "s.jsonl"
    with transcript.open("w", encoding="utf-8") as handle:
        handle.write(usage_line("2025-06-01T10:10:00Z", 5) + "\n")
        handle.write(usage_line("2025-06-01T10:20:00Z", 1000, pad=8 * 1024 * 1024) + "\n")
        handle.write(usage_line("2025-06-01T10:30:00Z", 7) + "\n")
    tracemalloc.start()
    try:
        usage = claude_usage.scan_transcripts([transcript], "/p", WINDOW)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert usage["claude-sonnet-4-5"]["input"] == 12  # the long line is skipped
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes: the long line was read whole"


def test_a_transcript_line_under_the_limit_counts(tmp_path):
    transcript = tmp_path / "s.jsonl"
    transcript.write_text(
        usage_line("2025-06-01T10:10:00Z", 5, pad=100_000)
        + "\n"
        + usage_line("2025-06-01T10:20:00Z", 6),  # no newline at the end of the file
        encoding="utf-8",
    )
    usage = claude_usage.scan_transcripts([transcript], "/p", WINDOW)
    assert usage["claude-sonnet-4-5"]["input"] == 11


def test_the_transcript_line_limit_is_documented():
    docs = (Path(__file__).resolve().parent.parent / "docs" / "metrics.md").read_text()
    assert f"{claude_usage.MAX_TRANSCRIPT_LINE // (1024 * 1024)} MiB" in docs


# -- item 12: UTF-16, unreadable directories and files -------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_utf16_or_utf32_report_with_a_bom_is_read(runner, project, tmp_path, encoding):
    text = EXAMPLE.read_text(encoding="utf-8")
    bom = {"utf-16-le": "\ufeff", "utf-16-be": "\ufeff"}.get(encoding, "")
    path = tmp_path / "EXECUTION_REPORT.md"
    path.write_bytes((bom + text.replace("\n", "\r\n")).encode(encoding))
    result = run(runner, "import", path, "--project", project)
    assert result.exit_code == 0, result.output
    (record,) = stored(project)
    assert record["audit_document"] == "document-7-reverse.md"
    assert record["phases_completed"] == 6


def test_utf16_without_a_bom_is_not_utf8_text(tmp_path):
    path = tmp_path / "r.md"
    path.write_bytes("# Report\n".encode("utf-16-le"))
    with pytest.raises(ReportParseError, match="not UTF-8 text"):
        pipeline.read_report_text(path)


def test_a_broken_utf16_report_says_so(tmp_path):
    path = tmp_path / "r.md"
    path.write_bytes(b"\xff\xfe" + "# Report\n".encode("utf-16-le") + b"\x00\xd8")
    with pytest.raises(ReportParseError, match="not UTF-16 text"):
        pipeline.read_report_text(path)


def deny(monkeypatch, target: Path) -> None:
    """Make ``target`` unreadable as permissions would for a user who is not root (these
    tests run as root too, which permission bits do not stop)."""
    real_scandir, real_open, real_access = os.scandir, os.open, os.access
    denied = os.fspath(target)

    def scandir(path=".", *args):
        if os.fspath(path) == denied:
            raise PermissionError(13, "Permission denied", denied)
        return real_scandir(path, *args)

    def open_(path, flags, *args, **kwargs):
        if os.fspath(path) == denied:
            raise PermissionError(13, "Permission denied", denied)
        return real_open(path, flags, *args, **kwargs)

    def access(path, mode, *args, **kwargs):
        if os.fspath(path) == denied:
            return False
        return real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "access", access)


def test_an_unreadable_subdirectory_is_a_warning(runner, project, tmp_path, monkeypatch):
    root = tmp_path / "reports"
    for name in ("a", "locked"):
        (root / name).mkdir(parents=True)
        shutil.copy(EXAMPLE, root / name / "EXECUTION_REPORT.md")
    deny(monkeypatch, root / "locked")
    result = run(runner, "import", root, "--recursive", "--project", project)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("Warning:")]
    assert len(warnings) == 1
    assert str(root / "locked") in warnings[0] and "Permission denied" in warnings[0]
    assert len(stored(project)) == 1


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root reads every directory whatever its mode; the test above covers root",
)
def test_an_unreadable_subdirectory_is_a_warning_for_real(runner, project, tmp_path):
    root = tmp_path / "reports"
    (root / "locked").mkdir(parents=True)
    shutil.copy(EXAMPLE, root / "locked" / "EXECUTION_REPORT.md")
    (root / "locked").chmod(0)
    try:
        result = run(runner, "import", root, "--recursive", "--project", project)
    finally:
        (root / "locked").chmod(0o755)
    assert "Warning:" in result.output and "locked" in result.output


def test_an_unreadable_file_is_a_failed_report_not_a_usage_error(
    runner, project, tmp_path, monkeypatch
):
    path = tmp_path / "EXECUTION_REPORT.md"
    shutil.copy(EXAMPLE, path)
    deny(monkeypatch, path)
    result = run(runner, "import", path, "--project", project)
    assert result.exit_code == 1, result.output
    (line,) = one_error_line(result.output)
    assert "cannot be read (Permission denied)" in line
    assert "Usage:" not in result.output
