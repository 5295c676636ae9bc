"""Find, then load: the plugins declared under the ``phaser_analytics`` entry-point group,
each imported, every third party's failure a value (as flake8's ``plugins/finder.py``).

:func:`find_plugins` lists them without importing anything; :func:`load_plugins` imports
each and returns, in order, a :class:`LoadedPlugin` or a
:class:`~phaser_analytics.plugins.info.FailedPlugin` saying why it was skipped. The host
registers what loaded with pluggy, and the registration hooks sort what each plugin
provides into the registries (:mod:`phaser_analytics.plugins.registry`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import PluginError, stderr_warning
from .distributions import entry_points
from .info import ENTRY_POINT_GROUP, FailedPlugin, is_builtin, problem


class Plugin:
    """A plugin found, not yet imported: its entry point and distribution."""

    __slots__ = ("builtin", "distribution", "entry_point", "version")

    def __init__(self, entry_point: Any) -> None:
        dist = getattr(entry_point, "dist", None)
        self.entry_point = entry_point
        self.distribution: str = dist.name if dist is not None and dist.name else "unknown"
        self.version: str | None = dist.version if dist is not None else None
        self.builtin = is_builtin(self.distribution)

    @property
    def name(self) -> str:
        return str(self.entry_point.name)

    def __repr__(self) -> str:
        return f"Plugin({self.distribution}[{self.name}])"


class LoadedPlugin:
    """A plugin imported: what its entry point names (a module or an object)."""

    __slots__ = ("obj", "plugin")

    def __init__(self, plugin: Plugin, obj: object) -> None:
        self.plugin = plugin
        self.obj = obj


def find_plugins(warn: Callable[[str], None] = stderr_warning) -> list[Plugin]:
    """Every plugin installed, built-ins first (so that a third party's plugin named like
    one of ours is the one skipped), then by distribution and name, for one order
    whatever ``sys.path`` says."""
    found = [Plugin(ep) for ep in entry_points(ENTRY_POINT_GROUP, warn)]
    found.sort(key=lambda p: (not p.builtin, p.distribution, p.name))
    return found


def load_plugins(found: list[Plugin]) -> list[LoadedPlugin | FailedPlugin]:
    """Import each plugin, in order. A third party's is skipped, as a
    :class:`FailedPlugin`, when its ``entry_points.txt`` line is broken, when a plugin
    before it has its name, or when importing it raises; a built-in's failure is a
    :class:`PluginError`, because the tool cannot work without it."""
    results: list[LoadedPlugin | FailedPlugin] = []
    distribution_of: dict[str, str] = {}  # plugin name → the distribution that has it
    for plugin in found:
        name, dist = plugin.name, plugin.distribution
        if not name:
            results.append(
                problem(
                    plugin.entry_point.value,
                    dist,
                    f"{dist}'s entry_points.txt has a line in [{ENTRY_POINT_GROUP}] that is "
                    f"not 'name = module' ({plugin.entry_point.value!r}); it is skipped.",
                )
            )
            continue
        other = distribution_of.get(name)
        if other is not None:
            if plugin.builtin and is_builtin(other):
                raise PluginError(f"Built-in plugin name '{name}' is declared twice.")
            results.append(
                problem(
                    name,
                    dist,
                    f"plugin '{name}' is declared by both {other} and {dist}; {other}'s "
                    f"is kept and {dist}'s is skipped.",
                )
            )
            continue
        try:
            obj = plugin.entry_point.load()
        except Exception as exc:
            if plugin.builtin:
                raise PluginError(
                    f"Built-in plugin '{name}' failed to load ({exc}); reinstall phaser-analytics."
                ) from exc
            results.append(FailedPlugin(name, dist, exc))
            continue
        distribution_of[name] = dist
        results.append(LoadedPlugin(plugin, obj))
    return results
