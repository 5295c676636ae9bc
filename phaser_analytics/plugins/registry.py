"""The registries the core asks: dialects, renderers and store URL schemes, each name
owned by one plugin.

The registration hooks fill them (:meth:`Registry.registrar`); the core looks things up
(:meth:`Registry.renderer`, :meth:`Registry.renderer_names`, :meth:`Registry.dialect_for`,
:meth:`Registry.report_patterns`, :attr:`Registry.stores`). Two plugins registering one
name is the second one's problem, reported as a value, unless the second is a built-in:
ours is kept, whatever the order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import PluginError, ReportParseError
from ..hookspecs import Dialect, Renderer, optional
from .guarded_renderer import GuardedRenderer
from .info import FailedPlugin, PluginInfo, problem


class Registry:
    """What the installed plugins provide, by name, and which plugin provided each."""

    def __init__(self, on_problem: Callable[[FailedPlugin], None]) -> None:
        #: Dialect name → dialect, in the order they are tried.
        self.dialects: dict[str, Dialect] = {}
        #: ``--format`` name → renderer.
        self.renderers: dict[str, Renderer] = {}
        #: Store URL scheme → opener (``register_stores``).
        self.stores: dict[str, Callable[..., Any]] = {}
        self._owners: dict[tuple[str, str], PluginInfo] = {}
        self._on_problem = on_problem

    # -- filled by the registration hooks ----------------------------------------------

    def registrar(self, kind: str, info: PluginInfo) -> Callable[..., None]:
        """The ``register`` callback the registration hook of ``kind`` (``dialect``,
        ``renderer`` or ``store``) of the plugin ``info`` is called with."""
        if kind == "store":
            return self._store_registrar(info)
        registry: dict[str, Any] = self.dialects if kind == "dialect" else self.renderers

        def register(item: Any) -> None:
            self._add(kind, registry, item, info)

        return register

    def _store_registrar(self, info: PluginInfo) -> Callable[[str, Callable[..., Any]], None]:
        def register(scheme: str, opener: Callable[..., Any]) -> None:
            named = _Scheme(str(scheme).lower() if scheme else "", opener)
            if self._add("store", self.stores, named, info):
                self.stores[named.name] = opener

        return register

    def _add(self, kind: str, registry: dict[str, Any], item: Any, info: PluginInfo) -> bool:
        """Register ``item`` of plugin ``info`` under its ``name``; ``False`` when a clash
        with another plugin's leaves it out."""
        name = getattr(item, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(
                f"Plugin '{info.name}' from {info.distribution} registered a {kind} without a name."
            )
        kept = self._owners.get((kind, name))
        if kept is not None:
            skipped = info
            if kept.builtin and skipped.builtin:
                raise PluginError(f"The built-in {kind} '{name}' is registered twice.")
            if skipped.builtin:  # ours wins over a third party's registered earlier
                kept, skipped = skipped, kept
                skipped.names(kind).remove(name)
            self._on_problem(
                problem(
                    skipped.name,
                    skipped.distribution,
                    f"the {kind} '{name}' is registered by both {kept.distribution} (plugin "
                    f"'{kept.name}') and {skipped.distribution} (plugin '{skipped.name}'); "
                    f"{kept.distribution}'s is kept.",
                )
            )
            if skipped is info:
                return False
        self._owners[(kind, name)] = info
        registry[name] = item
        info.names(kind).append(name)
        return True

    # -- what the core asks ------------------------------------------------------------

    def owner(self, kind: str, name: str) -> PluginInfo | None:
        """The plugin that registered the ``kind`` called ``name``."""
        return self._owners.get((kind, name))

    def renderer_names(self, command: str | None = None) -> list[str]:
        """Renderer names offered by ``command`` (all of them when ``None``): those whose
        ``commands`` name it."""
        return [
            name
            for name, renderer in self.renderers.items()
            if command is None or command in optional(renderer, "commands")
        ]

    def renderer(self, name: str) -> Renderer:
        """The renderer of format ``name``; a third party's is guarded, so that an
        exception it raises is reported as that plugin's failure, not as our bug."""
        try:
            renderer = self.renderers[name]
        except KeyError:
            choices = ", ".join(sorted(self.renderers))
            raise PluginError(f"Unknown format '{name}'; choose one of: {choices}.") from None
        owner = self.owner("renderer", name)
        if owner is None or owner.builtin:
            return renderer
        return GuardedRenderer(renderer, owner)  # type: ignore[return-value]

    def dialect_for(self, text: str, forced: str | None = None) -> Dialect:
        """The dialect that reads ``text``: ``forced`` if given, else the first that detects it."""
        if forced is not None:
            try:
                return self.dialects[forced]
            except KeyError:
                choices = ", ".join(self.dialects) or "none"
                raise PluginError(
                    f"Unknown dialect '{forced}'; choose one of: {choices}."
                ) from None
        for dialect in self.dialects.values():
            if dialect.detect(text):
                return dialect
        raise ReportParseError(
            "no installed dialect recognises this file (is it an EXECUTION_REPORT.md?)"
        )

    def report_patterns(self) -> list[str]:
        """File-name globs of every dialect, for discovery, without repeats."""
        patterns: list[str] = []
        for dialect in self.dialects.values():
            for pattern in dialect.patterns:
                if pattern not in patterns:
                    patterns.append(pattern)
        return patterns


class _Scheme:
    """A registered store scheme, named like a dialect or a renderer for :meth:`Registry._add`."""

    __slots__ = ("name", "opener")

    def __init__(self, name: str, opener: Callable[..., Any]) -> None:
        self.name = name
        self.opener = opener
