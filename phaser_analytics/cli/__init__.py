"""The ``phaser`` command line."""

from __future__ import annotations

from .importing import import_cmd
from .main import analytics, cli, main
from .maintenance import clear, doctor, projects_cmd
from .metrics_cmds import failures, phases, trends
from .plugins_cmd import plugins_cmd
from .viewing import badge, export, show

for _command in (
    import_cmd,
    show,
    export,
    badge,
    clear,
    doctor,
    projects_cmd,
    plugins_cmd,
    trends,
    phases,
    failures,
):
    analytics.add_command(_command)

__all__ = ["analytics", "cli", "main"]
