"""The console scripts of the interpreter running the tests, never a command found on PATH.

A `phaser` on PATH may belong to another installation (or to Phaser itself), and on a fresh
machine there is none at all: the tests run what this environment installed, or fail saying
so.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path


def script_dirs() -> list[Path]:
    """Where this interpreter's installer put console scripts (a venv's bin/, a prefix's)."""
    dirs = [Path(sysconfig.get_path("scripts")), Path(sys.executable).parent]
    return list(dict.fromkeys(dirs))


def console_script(name: str = "phaser") -> Path | None:
    """The installed console script `name` of this interpreter, or None when it is missing."""
    suffixes = (".exe", "") if os.name == "nt" else ("",)
    for directory in script_dirs():
        for suffix in suffixes:
            candidate = directory / f"{name}{suffix}"
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
    return None


def phaser_command(name: str = "phaser") -> list[str]:
    """The argv prefix that runs our CLI: this interpreter's console script `name`.

    Without the console script (the package imported from a source tree), the module itself,
    run by this interpreter: still never a program from PATH.
    """
    script = console_script(name)
    return [str(script)] if script else [sys.executable, "-m", "phaser_analytics"]
