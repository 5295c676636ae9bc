"""The plugin host, and the process-wide one every command uses.

Built-in behaviour arrives by the same road as a third party's: entry points of the
``phaser_analytics`` group, ours declared in our own ``pyproject.toml``. Each stage has its
module: :mod:`.distributions` reads the installed distributions' entry points,
:mod:`.finder` finds and loads the plugins (failures as values), :mod:`.host` registers
them with pluggy and calls their hooks, :mod:`.registry` holds the dialects, renderers and
store schemes the core asks for, :mod:`.info` what ``phaser analytics plugins`` lists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..errors import stderr_warning
from .host import PluginHost
from .info import FailedPlugin, PluginInfo

__all__ = ["FailedPlugin", "PluginHost", "PluginInfo", "build_host", "get_host", "set_host"]

_host: PluginHost | None = None


def get_host(warn: Callable[[str], None] = stderr_warning) -> PluginHost:
    """The process-wide host, loading the installed plugins on first use (idempotent)."""
    global _host
    if _host is None:
        _host = build_host(warn=warn)
    return _host


def set_host(host: PluginHost | None) -> None:
    """Replace the process-wide host (``None`` forces a reload on next use); for tests."""
    global _host
    _host = host


def build_host(
    plugins: Iterable[tuple[str, object]] = (),
    *,
    entry_points: bool = True,
    warn: Callable[[str], None] = stderr_warning,
) -> PluginHost:
    """A fresh host with the installed plugins (unless ``entry_points`` is false) and the
    extra ``(name, plugin)`` pairs."""
    host = PluginHost(warn=warn)
    if entry_points:
        host.load_entry_points()
    for name, plugin in plugins:
        host.add_plugin(plugin, name=name)
    return host.finish()
