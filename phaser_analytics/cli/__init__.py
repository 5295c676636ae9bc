"""The ``phaser`` command line (and ``phaser-analytics``, its ``analytics`` group alone).

Another click CLI can mount the commands: ``from phaser_analytics.cli import analytics``
then ``your_cli.add_command(analytics)``.

The ``analytics`` commands are imported lazily, one module when its command runs: see
:data:`phaser_analytics.cli.main.COMMANDS`.
"""

from __future__ import annotations

from .main import analytics, analytics_main, cli, main

__all__ = ["analytics", "analytics_main", "cli", "main"]
