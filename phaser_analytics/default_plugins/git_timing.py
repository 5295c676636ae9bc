"""Built-in plugin: phase timing from git commits (spec §3.2).

The work (one ``git cat-file --batch`` per repository, ``git log`` where that cannot be
used) is in :mod:`phaser_analytics.default_plugins.git_commits`, imported when the hook
first runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phaser_analytics.hookspecs import hookimpl


@hookimpl(trylast=True)
def enrich_record(record: Any, source: Path | None) -> dict[str, Any] | None:
    from .git_commits import timing_fields

    return timing_fields(record, source)
