"""What the host knows of each plugin, as ``phaser analytics plugins`` lists it: one that
loaded (:class:`PluginInfo`), and one that failed or was skipped in part
(:class:`FailedPlugin`, a value, never an exception that stops the tool)."""

from __future__ import annotations

from typing import Any

#: The entry-point group plugins are declared under, and the name of the hook markers.
ENTRY_POINT_GROUP = "phaser_analytics"
#: The distribution whose plugins are the built-ins (one of which failing is fatal).
BUILTIN_DISTRIBUTION = "phaser-analytics"


def is_builtin(distribution: str) -> bool:
    """Whether ``distribution`` (as its metadata spells it) is phaser-analytics itself."""
    return distribution.lower().replace("_", "-").replace(".", "-") == BUILTIN_DISTRIBUTION


class PluginInfo:
    """One loaded plugin, and what it registered.

    A plain class, not a dataclass, as every class of this module: every command loads the
    plugins, and defining a dataclass costs about half a millisecond (docs/performance.md,
    "Start-up")."""

    __slots__ = ("builtin", "dialects", "distribution", "hooks", "module", "name",
                 "renderers", "stores", "version")  # fmt: skip

    def __init__(
        self, name: str, distribution: str, version: str | None, module: str, builtin: bool
    ) -> None:
        self.name = name
        self.distribution = distribution
        self.version = version
        self.module = module
        self.builtin = builtin
        self.hooks: list[str] = []
        self.dialects: list[str] = []
        self.renderers: list[str] = []
        self.stores: list[str] = []

    def __repr__(self) -> str:
        return f"PluginInfo({self.to_dict()!r})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "builtin": self.builtin,
            "hooks": list(self.hooks),
            "dialects": list(self.dialects),
            "renderers": list(self.renderers),
            "stores": list(self.stores),
        }

    def names(self, kind: str) -> list[str]:
        """What it registered of ``kind`` (``dialect``, ``renderer`` or ``store``)."""
        return {"dialect": self.dialects, "store": self.stores}.get(kind, self.renderers)


class PluginProblem(Exception):
    """What is wrong with a plugin that was skipped (in whole or in part) without failing
    to import: a name another plugin has, a broken entry point, a hook that raised."""


class FailedPlugin:
    """A third-party plugin that could not be loaded (``error`` is what its import raised),
    or that was skipped in whole or in part (``error`` is a :class:`PluginProblem`); as
    flake8's ``FailedToLoadPlugin``, but kept as a value."""

    __slots__ = ("distribution", "error", "name")

    def __init__(self, name: str, distribution: str, error: BaseException) -> None:
        self.name = name
        self.distribution = distribution
        self.error = error

    def __repr__(self) -> str:
        return f"FailedPlugin({self.name!r}, {self.distribution!r}, {self.error!r})"

    @property
    def is_problem(self) -> bool:
        """Skipped for a :class:`PluginProblem`, rather than failed to import."""
        return isinstance(self.error, PluginProblem)

    def message(self) -> str:
        """One line for a warning."""
        if self.is_problem:
            return str(self.error)
        reason = f"{type(self.error).__name__}: {self.error}".strip().splitlines()[0]
        return (
            f"plugin '{self.name}' from {self.distribution} failed to load and is "
            f"skipped ({reason})."
        )


def problem(name: str, distribution: str, message: str) -> FailedPlugin:
    """A :class:`FailedPlugin` for a :class:`PluginProblem` saying ``message``."""
    return FailedPlugin(name, distribution, PluginProblem(message))
