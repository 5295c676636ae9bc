"""The README's one-minute tour shows what the program prints: each `$ phaser analytics …`
block is run on the bundled examples (in UTC, 100 columns) and compared with the README.

Execution ids are random, so 8-hex-digit ids compare as equal. A block whose output starts
with `...` shows only its last lines. `UPDATE_README=1 pytest tests/test_readme_tour.py`
rewrites the blocks from the real output.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from phaser_analytics.cli import cli

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
_BLOCK = re.compile(r"```console\n(.*?)```", re.S)
_ID = re.compile(r"(?<=│ )[0-9a-f]{8}(?= │)")


def _tour_commands(text: str) -> list[tuple[str, str]]:
    """``(command, shown output)`` for every `$ phaser analytics …` without a pipe."""
    tour = text[text.index("## A one-minute tour") : text.index("## Documentation")]
    found = []
    for block in _BLOCK.findall(tour):
        parts = re.split(r"^\$ ", block, flags=re.M)
        for part in parts[1:]:
            command, _, output = part.partition("\n")
            if command.startswith("phaser analytics ") and "|" not in command:
                found.append((command, output))
    return found


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_readme_tour_shows_real_output(tmp_path, monkeypatch, utc):
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("PHASER_MACHINE", "laptop")  # not this host's name
    text = README.read_text(encoding="utf-8")
    commands = _tour_commands(text)
    assert len(commands) >= 4
    runner = CliRunner()
    mismatches = []
    for command, shown in commands:
        args = shlex.split(command)[1:]
        actual = runner.invoke(cli, args, prog_name="phaser").output
        if shown.startswith("...\n"):
            expected_tail = shown[4:]
            ok = _ID.sub("#", actual).endswith(_ID.sub("#", expected_tail))
            replacement = "...\n" + "".join(
                actual.splitlines(True)[-len(expected_tail.splitlines()) :]
            )
        else:
            ok = _ID.sub("#", actual) == _ID.sub("#", shown)
            replacement = actual
        if not ok:
            mismatches.append((command, shown, replacement))
    if mismatches and os.environ.get("UPDATE_README"):
        for command, shown, replacement in mismatches:
            text = text.replace(f"$ {command}\n{shown}", f"$ {command}\n{replacement}", 1)
        README.write_text(text, encoding="utf-8")
        return
    assert [m[0] for m in mismatches] == [], (
        "README tour differs from the real output; UPDATE_README=1 rewrites it:\n"
        + "\n".join(f"$ {c}\n{r}" for c, _, r in mismatches)
    )
