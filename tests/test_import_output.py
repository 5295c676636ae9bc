"""What `import` prints (issue 14 item 10): the bar and only the failures on a terminal,
--verbose, --quiet, a summary that says where the records went, --format json, several
paths and `-`, "use --recursive", and an unknown --dialect."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from console import phaser_command

from phaser_analytics.cli import cli

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "EXECUTION_REPORT.md"


def reports(root: Path, count: int, *, bad: int = 0) -> Path:
    text = EXAMPLE.read_text(encoding="utf-8")
    for i in range(count):
        target = root / f"r{i:03d}" / "EXECUTION_REPORT.md"
        target.parent.mkdir(parents=True)
        target.write_text(
            text.replace("document-7-reverse.md", f"doc-{i}.md").replace(
                "2024-12-06T10:30:00Z", f"2024-11-{1 + i % 28:02d}T{i % 24:02d}:30:00Z"
            ),
            encoding="utf-8",
        )
    for i in range(bad):
        target = root / f"bad{i}" / "EXECUTION_REPORT.md"
        target.parent.mkdir(parents=True)
        target.write_text("# Execution Report\n\nno metadata\n", encoding="utf-8")
    return root


def run(*args, input=None):
    return CliRunner().invoke(cli, ["analytics", "import", *map(str, args)], input=input)


def test_the_summary_says_where_the_records_are(project, tmp_path):
    result = run(reports(tmp_path / "in", 2), "-r", "--project", project)
    assert result.exit_code == 0, result.output
    assert "Imported 2 execution(s)." in result.stdout
    assert f"Stored in {project / '.phaser' / 'analytics'}." in result.stdout


def test_json_summary(project, tmp_path):
    root = reports(tmp_path / "in", 3, bad=1)
    result = run(root, "-r", "--format", "json", "--project", project)
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["imported"] == 3 and payload["failed"] == 1 and payload["reports"] == 4
    assert payload["store"] == str(project / ".phaser" / "analytics")
    assert payload["failures"][0]["path"].endswith("bad0/EXECUTION_REPORT.md")
    again = json.loads(run(root, "-r", "--format", "json", "--project", project).stdout)
    assert again["already_imported"] == 3 and again["imported"] == 0


def test_quiet_prints_only_failures(project, tmp_path):
    result = run(reports(tmp_path / "in", 3, bad=1), "-r", "--quiet", "--project", project)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("✗ Failed:") == 1 and "Imported" not in result.stderr


def test_several_paths_and_a_list_on_stdin(project, tmp_path):
    root = reports(tmp_path / "in", 4)
    a, b, c, d = sorted(root.glob("*/EXECUTION_REPORT.md"))
    result = run(a, b.parent, "-", "--project", project, input=f"{c}\n\n# a comment\n{d}\n")
    assert result.exit_code == 0, result.output
    assert "Imported 4 execution(s)." in result.stdout


def test_a_directory_with_reports_only_below_says_use_recursive(project, tmp_path):
    root = reports(tmp_path / "in", 2)
    result = run(root, "--project", project)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: No reports (EXECUTION_REPORT.md) directly in {root}, but 2 in its "
        "subdirectories: use --recursive."
    )


def test_an_unknown_dialect_is_a_usage_error(project, tmp_path):
    result = run(reports(tmp_path / "in", 1), "-r", "--dialect", "klingon", "--project", project)
    assert result.exit_code == 2
    assert "unknown dialect 'klingon'; choose one of: phaser" in result.output
    assert not (project / ".phaser" / "analytics").exists()


def _on_a_terminal(command: list[str], cwd: Path) -> tuple[bytes, int]:
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: stdout and stderr are the terminal
        os.chdir(cwd)
        os.execvpe(command[0], command, {**os.environ, "COLUMNS": "100"})
    output = b""
    try:
        while chunk := os.read(fd, 4096):
            output += chunk
    except OSError:
        pass
    _, status = os.waitpid(pid, 0)
    return output, os.waitstatus_to_exitcode(status)


@pytest.mark.skipif(sys.platform == "win32", reason="uses a POSIX pseudo-terminal")
def test_on_a_terminal_a_batch_shows_the_bar_and_only_failures(project, tmp_path):
    root = reports(tmp_path / "in", 30, bad=2)
    command = [*phaser_command(), "analytics", "import", str(root), "-r"]
    output, status = _on_a_terminal(command, project)
    text = output.decode()
    assert status == 1
    assert "Importing" in text and "32/32" in text  # the bar, with its position
    assert not re.search(r"\d\d:\d\d:\d\d", text)  # no ETA: it was wildly off
    assert text.count("✗ Failed:") == 2
    assert "✓ Imported" not in text
    assert "Imported 30 execution(s), 2 failed." in text
    # Each failure starts a line of its own: the bar is cleared before it.
    for line in text.splitlines():
        if "✗ Failed:" in line:
            assert line.lstrip("\r").replace("\x1b[K", "").startswith("✗ Failed:"), repr(line)
    again, _ = _on_a_terminal(command, project)
    assert b"Already imported" not in again
    verbose, _ = _on_a_terminal([*command, "--verbose"], project)
    assert verbose.decode().count("Already imported") == 30
