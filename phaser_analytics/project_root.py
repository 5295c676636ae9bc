"""Which project a command works on: one rule for the whole program.

From a starting directory (the working directory, or a report's directory), as git finds
its repository:

1. the nearest directory upwards that holds a ``.phaser/`` (not ``$PHASER_HOME`` itself,
   which is ``~/.phaser`` by default and holds the user's settings, not a project's);
2. else the root of the git work tree it is in (the nearest directory holding ``.git``, a
   directory or, in a linked worktree or submodule, a file);
3. else the starting directory.

So ``import`` run in ``repo/reports/q1/`` stores into ``repo/.phaser/``, where ``show`` at
the repository's root finds it.
"""

from __future__ import annotations

import os
from pathlib import Path


def _is_phaser_home(directory: Path) -> bool:
    from .home import phaser_home

    try:
        return os.path.samefile(directory, phaser_home())
    except OSError:
        return False


def find_project_root(start: Path | None = None) -> Path:
    """The project directory for ``start`` (the working directory when ``None``)."""
    here = Path(os.path.abspath(start if start is not None else Path.cwd())).resolve()
    chain = (here, *here.parents)
    for candidate in chain:
        marker = candidate / ".phaser"
        if marker.is_dir() and not _is_phaser_home(marker):
            return candidate
    for candidate in chain:
        if (candidate / ".git").exists():
            return candidate
    return here


def is_project_root(directory: Path) -> bool:
    """Whether ``directory`` is a project by rule 1 or 2 (a ``.phaser/`` or a git work tree's
    root), not merely the directory a command was started in."""
    marker = directory / ".phaser"
    return (marker.is_dir() and not _is_phaser_home(marker)) or (directory / ".git").exists()
