"""``$PHASER_HOME`` (default ``~/.phaser``): where the user's own files live, the project
registry, the user config, templates, the capture log and the spool.

Its own module because nearly every command asks for it (the config, project-root
discovery, the spool check) and most of them need nothing else of what lives there.
"""

from __future__ import annotations

import os
from pathlib import Path


def phaser_home() -> Path:
    """``$PHASER_HOME``, else ``~/.phaser``."""
    configured = os.environ.get("PHASER_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".phaser"
