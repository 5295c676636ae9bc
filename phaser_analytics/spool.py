"""The spool of captured sessions: ``$PHASER_HOME/spool/``, one JSON file per Claude Code
session that ``capture`` could not import in time (docs/capture.md).

Every command but ``capture`` drains it first (:func:`phaser_analytics.cli.main.drain_spool`),
so :func:`pending` is cheap and this module small: a command whose spool is empty, nearly
every one, imports nothing of :mod:`phaser_analytics.capture`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .home import phaser_home

SPOOL_DIR = "spool"


def spool_dir() -> Path:
    return phaser_home() / SPOOL_DIR


def spool_file(session_id: str) -> Path:
    import hashlib  # here: OpenSSL's module costs ~2 ms at every command's start

    digest = hashlib.sha256(session_id.encode("utf-8")).hexdigest()[:24]
    return spool_dir() / f"{digest}.json"


def spool(entry: dict[str, Any]) -> Path:
    """Write (or rewrite) the spool entry of a session, atomically."""
    from .stores.files import atomic_write_text

    path = spool_file(entry["session"]["session_id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(entry, indent=2) + "\n")
    return path


def pending() -> list[Path]:
    """The spooled sessions, oldest first; cheap when there are none."""
    try:
        with os.scandir(spool_dir()) as it:
            names = [e.path for e in it if e.name.endswith(".json") and e.is_file()]
    except OSError:
        return []
    return sorted((Path(n) for n in names), key=lambda p: p.stat().st_mtime)
