"""``--output FILE`` (export, badge): the file's mode, symlinks, devices and pipes
(issue 14 item 7, issue 16 item 10)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from console import phaser_command

from phaser_analytics.cli import cli


def run(runner, *args):
    return runner.invoke(cli, ["analytics", *map(str, args)])


@pytest.fixture
def imported(runner, project, example_report):
    assert run(runner, "import", example_report, "--project", project).exit_code == 0
    return project


@pytest.fixture
def umask():
    """Set the process umask for one test, then put the old one back."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
@pytest.mark.parametrize("command", ["export", "badge"])
def test_a_new_file_gets_the_umasks_mode(
    runner, imported, tmp_path, umask, mask, expected, command
):
    umask(mask)
    target = tmp_path / "out" / "artifact.json"
    target.parent.mkdir()
    result = run(runner, command, "--project", imported, "--output", target)
    assert result.exit_code == 0, result.output
    assert mode(target) == expected
    assert json.loads(target.read_text(encoding="utf-8"))
    assert [p.name for p in target.parent.iterdir()] == ["artifact.json"]  # no temp left


@pytest.mark.parametrize("existing_mode", [0o644, 0o600, 0o664])
def test_an_existing_file_keeps_its_mode(runner, imported, tmp_path, umask, existing_mode):
    umask(0o077)
    target = tmp_path / "badge.json"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(existing_mode)
    result = run(runner, "badge", "--project", imported, "-o", target)
    assert result.exit_code == 0, result.output
    assert mode(target) == existing_mode
    assert json.loads(target.read_text(encoding="utf-8"))["schemaVersion"] == 1


def test_a_symlink_is_written_through_to_its_target(runner, imported, tmp_path):
    real = tmp_path / "published" / "analytics.json"
    real.parent.mkdir()
    real.write_text("old\n", encoding="utf-8")
    real.chmod(0o644)
    link = tmp_path / "analytics.json"
    link.symlink_to(real)
    result = run(runner, "export", "--project", imported, "-o", link)
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert json.loads(real.read_text(encoding="utf-8"))["executions"]
    assert mode(real) == 0o644


def test_a_dangling_symlink_creates_its_target(runner, imported, tmp_path):
    real = tmp_path / "later.json"
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert run(runner, "badge", "--project", imported, "-o", link).exit_code == 0
    assert link.is_symlink() and json.loads(real.read_text(encoding="utf-8"))


def test_a_fifo_is_written_directly(runner, imported, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)
    try:
        result = run(runner, "badge", "--project", imported, "-o", fifo)
        out, _ = reader.communicate(timeout=30)
    finally:
        reader.kill()
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(fifo.lstat().st_mode)  # still the pipe, not a file renamed over it
    assert json.loads(out)["schemaVersion"] == 1


def test_a_link_to_stdout_writes_to_standard_output(imported, tmp_path):
    """What `-o /dev/stdout` is: a symlink to /proc/self/fd/1. A link of our own to the same
    place, so that a regression replaces it and not the machine's /dev/stdout."""
    if not Path("/proc/self/fd/1").exists():
        pytest.skip("needs /proc/self/fd (Linux)")
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    done = subprocess.run(
        [*phaser_command(), "analytics", "badge", "--project", str(imported), "-o", str(link)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert link.is_symlink()
    assert json.loads(done.stdout.splitlines()[0])["schemaVersion"] == 1


def test_process_substitution_works(imported, tmp_path):
    """`-o >(cat)`: bash passes /dev/fd/63, a pipe."""
    command = " ".join(phaser_command())
    script = f"{command} analytics badge --project '{imported}' -o >(cat > '{tmp_path}/got'); wait"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "got").read_text(encoding="utf-8"))["schemaVersion"] == 1


def test_an_unwritable_directory_is_one_error_line(runner, imported, tmp_path):
    target = tmp_path / "missing-dir" / "out.json"
    result = run(runner, "export", "--project", imported, "-o", target)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: Cannot write the output file {target}:")
    assert "Traceback" not in result.output
