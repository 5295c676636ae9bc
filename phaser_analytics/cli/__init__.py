"""The ``phaser`` command line.

The ``analytics`` commands are imported lazily, one module when its command runs: see
:data:`phaser_analytics.cli.main.COMMANDS`.
"""

from __future__ import annotations

from .main import analytics, cli, main

__all__ = ["analytics", "cli", "main"]
