"""The plugin host: entry-point discovery, the dialect and renderer registries, load errors.

Built-in behaviour arrives by the same road as a third party's: entry points of the
``phaser_analytics`` group, ours declared in our own ``pyproject.toml``. The host owns the
registries, so it can name both distributions when two plugins claim one name, and it
attributes every registration to the distribution that made it.

Every command loads the plugins, so finding them must be cheap: :func:`entry_points` reads
the installed distributions' ``entry_points.txt`` directly, as ``importlib.metadata`` would
find them, without importing ``importlib.metadata`` (which imports ``email``, ``zipfile``
and ``csv``, ~17 ms, and parses every distribution's metadata, ~12 ms more).
"""

from __future__ import annotations

import functools
import importlib
import importlib.machinery
import os
import re
import sys
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError, ReportParseError, stderr_warning
from .hookspecs import Dialect, Renderer, optional

ENTRY_POINT_GROUP = "phaser_analytics"
BUILTIN_DISTRIBUTION = "phaser-analytics"
#: In a renderer's ``commands``: it renders the breakdowns of the aggregate commands
#: (``trends``, ``phases``, ``failures``, ``projects``, and any other command that shows a
#: :class:`~phaser_analytics.hookspecs.Breakdown`); see docs/plugin-hooks.md.
BREAKDOWNS = "breakdowns"


def _normalize(dist_name: str) -> str:
    return dist_name.lower().replace("_", "-").replace(".", "-")


@dataclass
class PluginInfo:
    """One loaded plugin, as ``phaser analytics plugins`` shows it."""

    name: str
    distribution: str
    version: str | None
    module: str
    builtin: bool
    hooks: list[str] = field(default_factory=list)
    dialects: list[str] = field(default_factory=list)
    renderers: list[str] = field(default_factory=list)
    stores: list[str] = field(default_factory=list)

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


@dataclass
class FailedPlugin:
    """A third-party plugin that could not be loaded (flake8's ``FailedToLoadPlugin``)."""

    name: str
    distribution: str
    error: BaseException

    def message(self) -> str:
        if isinstance(self.error, PluginProblem):
            return str(self.error)
        reason = f"{type(self.error).__name__}: {self.error}".strip().splitlines()[0]
        return (
            f"plugin '{self.name}' from {self.distribution} failed to load and is "
            f"skipped ({reason})."
        )


class PluginProblem(Exception):
    """What is wrong with a plugin that was skipped (in whole or in part) without failing
    to import: a name another plugin has, a broken entry point, a hook that raised."""


# -- entry points ----------------------------------------------------------------------------


# Plain classes, not dataclasses: every command loads this module, and defining a
# dataclass costs about half a millisecond.


class Distribution:
    """The name and version of an installed distribution, from its metadata headers."""

    __slots__ = ("name", "version")

    def __init__(self, name: str | None, version: str | None) -> None:
        self.name = name
        self.version = version

    def __repr__(self) -> str:
        return f"Distribution(name={self.name!r}, version={self.version!r})"


class EntryPoint:
    """An entry point as ``importlib.metadata.EntryPoint`` has it: ``name = value`` in a
    group of a distribution's ``entry_points.txt``, loaded the same way."""

    __slots__ = ("dist", "group", "name", "value")

    def __init__(self, name: str, value: str, group: str, dist: Distribution | None = None) -> None:
        self.name = name
        self.value = value
        self.group = group
        self.dist = dist

    def __repr__(self) -> str:
        return f"EntryPoint(name={self.name!r}, value={self.value!r}, group={self.group!r})"

    def load(self) -> Any:
        """The module named by ``value``, or the object ``module:attr.attr`` names."""
        module_name, colon, attr = self.value.partition(":")
        if not all(part.isidentifier() for part in f"{module_name}.{attr}".split(".") if part) or (
            colon and not attr
        ):
            # Spaces, [extras] or something invalid: importlib.metadata's own pattern.
            match = re.match(_ENTRY_POINT_VALUE, self.value)
            if match is None:
                raise ValueError(f"invalid entry point {self.name} = {self.value!r}")
            module_name, attr = match.group("module"), match.group("attr") or ""
        module = importlib.import_module(module_name)
        return functools.reduce(getattr, filter(None, attr.split(".")), module)


#: ``importlib.metadata.EntryPoint.pattern``.
_ENTRY_POINT_VALUE = r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$"
_INFO_SUFFIXES = (".dist-info", ".egg-info")


def entry_points(group: str, warn: Callable[[str], None] = stderr_warning) -> list[Any]:
    """The entry points of ``group`` of every installed distribution, as
    ``importlib.metadata.entry_points(group=group)`` finds them.

    The installed distributions are read directly (:func:`_scan_entry_points`) whenever
    every place ``importlib.metadata`` would look is a plain directory; otherwise
    (a zip file or an egg on ``sys.path``, another distribution finder on ``sys.meta_path``)
    ``importlib.metadata`` itself is asked. Reading them directly costs about 1 ms where
    ``importlib.metadata`` costs about 20 (docs/performance.md, "The plugin host").
    """
    found = _scan_entry_points(group, warn)
    if found is not None:
        return found
    from importlib import metadata

    return list(metadata.entry_points(group=group))


def _normalize_dist_name(name: str) -> str:
    """``importlib.metadata.Prepared.normalize``: PEP 503, with dashes as underscores."""
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _scan_entry_points(
    group: str, warn: Callable[[str], None] = stderr_warning
) -> list[EntryPoint] | None:
    """:func:`entry_points` by reading ``sys.path``'s ``*.dist-info`` and ``*.egg-info``
    directories, in ``importlib.metadata``'s order: ``sys.path`` order, the first
    distribution of a name winning. ``None`` when that would not find what
    ``importlib.metadata`` finds. A distribution whose metadata cannot be read (not UTF-8,
    unreadable) is skipped with one warning through ``warn``."""
    path_finder = importlib.machinery.PathFinder
    for finder in sys.meta_path:
        if finder is not path_finder and hasattr(finder, "find_distributions"):
            return None
    seen: set[str] = set()
    found: list[EntryPoint] = []
    for entry in sys.path:
        if not isinstance(entry, str):
            return None
        root = entry or "."
        if os.path.basename(root).lower().endswith(".egg"):
            return None  # an egg's EGG-INFO
        try:
            children = os.listdir(root)
        except NotADirectoryError:
            return None  # a zip file
        except OSError:
            continue
        for child in children:
            low = child.lower()
            if not low.endswith(_INFO_SUFFIXES):
                continue
            name = _normalize_dist_name(low.rpartition(".")[0].partition("-")[0])
            if name in seen:
                continue
            seen.add(name)
            info = os.path.join(root, child)
            try:
                text = _read_text(info, "entry_points.txt")
                if text is None or f"[{group}]" not in text:
                    continue
                pairs = _section_pairs(text, group)
                dist = _read_distribution(info) if pairs else None
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or type(exc).__name__
                warn(
                    f"cannot read the metadata of {info} ({reason}); the plugins "
                    "it declares, if any, are skipped."
                )
                continue
            found.extend(EntryPoint(n, v, group, dist) for n, v in pairs)
    return found


def _read_text(directory: str, name: str) -> str | None:
    """The UTF-8 text of ``directory/name``; ``None`` when there is no such file."""
    try:
        with open(os.path.join(directory, name), encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _section_pairs(text: str, group: str) -> list[tuple[str, str]]:
    """``name = value`` pairs of ``[group]``, read as ``importlib.metadata.Sectioned`` does.

    A line of the group without ``=`` (a broken ``entry_points.txt``) becomes a pair with
    an empty name, which :meth:`PluginHost.load_entry_points` reports as that
    distribution's problem instead of failing every command."""
    pairs = []
    section = None
    for line in map(str.strip, text.splitlines()):
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
        elif section == group:
            name, equals, value = line.partition("=")
            pairs.append((name.strip(), value.strip()) if equals else ("", line))
    return pairs


def _read_distribution(info: str) -> Distribution:
    """Name and version from the metadata's headers (``METADATA``, else ``PKG-INFO``)."""
    text = _read_text(info, "METADATA") or _read_text(info, "PKG-INFO") or ""
    headers: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, colon, value = line.partition(":")
        if colon and not key[:1].isspace():
            headers.setdefault(key.strip().lower(), value.lstrip(" \t").rstrip("\r\n"))
    return Distribution(headers.get("name"), headers.get("version"))


class PluginHost:
    """A plugin manager with the registries built from its plugins' registration hooks.

    Use :func:`get_host` in application code; tests build their own host, register
    throwaway plugins with :meth:`add_plugin` and call :meth:`finish`.
    """

    def __init__(self, warn: Callable[[str], None] = stderr_warning) -> None:
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self._plugins: dict[str, PluginInfo] = {}
        self.failures: list[FailedPlugin] = []
        self._dialects: dict[str, Dialect] = {}
        self.renderers: dict[str, Renderer] = {}
        #: Store URL scheme → opener (``register_stores``).
        self.stores: dict[str, Callable[..., Any]] = {}
        self._owners: dict[tuple[str, str], str] = {}
        self._finished = False
        #: Plugins that loaded but were skipped in part: a name another plugin has, a
        #: registration hook that raised (``phaser analytics plugins`` lists them).
        self.problems: list[FailedPlugin] = []
        #: Where one-line warnings about plugins go (:meth:`load_entry_points` may say).
        self._warn = warn

    def _problem(self, name: str, distribution: str, message: str) -> None:
        problem = FailedPlugin(name, distribution, PluginProblem(message))
        self.problems.append(problem)
        self._warn(problem.message())

    @property
    def plugins(self) -> dict[str, PluginInfo]:
        """Every plugin, by name, in the order it was loaded."""
        return self._plugins

    @property
    def dialects(self) -> dict[str, Dialect]:
        """The dialects by name, in the order they are tried."""
        return self._dialects

    # -- loading ---------------------------------------------------------------------

    def load_entry_points(self, warn: Callable[[str], None] = stderr_warning) -> None:
        """Load every entry point of the group, sorted for a deterministic order.

        A third-party plugin that fails to import is reported through ``warn`` in one line
        and skipped; a built-in that fails is a :class:`PluginError`, because the tool
        cannot work without it.
        """
        self._warn = warn
        # Built-ins first, so that a third party's plugin or format named like one of ours
        # is the one skipped.
        points = sorted(
            entry_points(ENTRY_POINT_GROUP, warn),
            key=lambda ep: (
                _normalize(_dist_name(ep)) != BUILTIN_DISTRIBUTION,
                _dist_name(ep),
                ep.name,
            ),
        )
        for ep in points:
            dist = _dist_name(ep)
            builtin = _normalize(dist) == BUILTIN_DISTRIBUTION
            if not ep.name:
                self._problem(
                    ep.value,
                    dist,
                    f"{dist}'s entry_points.txt has a line in [{ENTRY_POINT_GROUP}] that is "
                    f"not 'name = module' ({ep.value!r}); it is skipped.",
                )
                continue
            if ep.name in self._plugins:
                other = self._plugins[ep.name].distribution
                if builtin and _normalize(other) == BUILTIN_DISTRIBUTION:
                    raise PluginError(f"Built-in plugin name '{ep.name}' is declared twice.")
                self._problem(
                    ep.name,
                    dist,
                    f"plugin '{ep.name}' is declared by both {other} and {dist}; {other}'s "
                    f"is kept and {dist}'s is skipped.",
                )
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                if builtin:
                    raise PluginError(
                        f"Built-in plugin '{ep.name}' failed to load ({exc}); "
                        "reinstall phaser-analytics."
                    ) from exc
                failure = FailedPlugin(ep.name, dist, exc)
                self.failures.append(failure)
                warn(failure.message())
                continue
            self.add_plugin(
                plugin,
                name=ep.name,
                distribution=dist,
                version=_dist_version(ep),
                builtin=builtin,
            )

    def add_plugin(
        self,
        plugin: object,
        *,
        name: str,
        distribution: str = "(local)",
        version: str | None = None,
        builtin: bool = False,
    ) -> None:
        """Register a plugin object or module under ``name``."""
        if self._finished:
            raise PluginError("Plugins must be added before the host is finished.")
        self.pm.register(plugin, name=name)
        module = getattr(plugin, "__name__", None) or type(plugin).__module__
        self._plugins[name] = PluginInfo(
            name=name,
            distribution=distribution,
            version=version,
            module=module,
            builtin=builtin,
        )

    def finish(self) -> PluginHost:
        """Check the hookimpls and build the registries; call once, after loading."""
        if self._finished:
            return self
        self._check_hooks()
        for impl in self._impls("register_renderers"):
            self._call_registration(impl, "renderer", self.renderers)
        for impl in self._impls("register_stores"):
            self._call_registration(impl, "store", self.stores)
        for impl in self._impls("register_dialects"):
            self._call_registration(impl, "dialect", self._dialects)
        self._finished = True
        return self

    def _check_hooks(self) -> None:
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"A plugin implements an unknown hook: {exc}") from exc
        for info in self._plugins.values():
            plugin = self.pm.get_plugin(info.name)
            info.hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])

    def _call_registration(self, impl: Any, kind: str, registry: dict[str, Any]) -> None:
        """Run one plugin's registration hook; a third party's that raises is that plugin's
        problem (what it registered before raising stays), not the tool's."""
        info = self._plugins[impl.plugin_name]
        if kind == "store":
            register = self._store_registrar(impl.plugin_name)
        else:
            register = self._registrar(kind, registry, impl.plugin_name)
        try:
            impl.function(register=register)
        except Exception as exc:
            if info.builtin:
                raise
            self._problem(
                info.name,
                info.distribution,
                f"plugin '{info.name}' from {info.distribution} failed while registering its "
                f"{kind}s ({type(exc).__name__}: {exc}); the rest of it is skipped.",
            )

    def _impls(self, hook_name: str) -> list[Any]:
        # pluggy calls hookimpls last-registered first, tryfirst before trylast; iterating
        # in that order puts third-party dialects ahead of the built-in ones.
        return list(reversed(getattr(self.pm.hook, hook_name).get_hookimpls()))

    def _registrar(
        self, kind: str, registry: dict[str, Any], plugin_name: str
    ) -> Callable[[Any], None]:
        info = self._plugins[plugin_name]

        def register(item: Any) -> None:
            name = getattr(item, "name", None)
            if not isinstance(name, str) or not name:
                raise PluginError(
                    f"Plugin '{plugin_name}' from {info.distribution} registered a {kind} "
                    "without a name."
                )
            owner = self._owners.get((kind, name))
            if owner is not None:
                kept, skipped = self._plugins[owner], info
                if kept.builtin and skipped.builtin:
                    raise PluginError(f"The built-in {kind} '{name}' is registered twice.")
                if skipped.builtin:  # ours wins over a third party's registered earlier
                    kept, skipped = skipped, kept
                    _names(skipped, kind).remove(name)
                self._problem(
                    skipped.name,
                    skipped.distribution,
                    f"the {kind} '{name}' is registered by both {kept.distribution} (plugin "
                    f"'{kept.name}') and {skipped.distribution} (plugin '{skipped.name}'); "
                    f"{kept.distribution}'s is kept.",
                )
                if skipped is info:
                    return
            self._owners[(kind, name)] = plugin_name
            registry[name] = item
            _names(info, kind).append(name)

        return register

    def _store_registrar(self, plugin_name: str) -> Callable[[str, Callable[..., Any]], None]:
        register_one = self._registrar("store", self.stores, plugin_name)

        def register(scheme: str, opener: Callable[..., Any]) -> None:
            named = _Named(str(scheme).lower() if scheme else "", opener)
            register_one(named)
            if self.stores.get(named.name) is named:  # kept, not skipped as a clash
                self.stores[named.name] = opener

        return register

    # -- lookups ---------------------------------------------------------------------

    def renderer_names(self, command: str | None = None) -> list[str]:
        """Renderer names offered by ``command`` (all of them when ``None``)."""
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

    def owner(self, kind: str, name: str) -> PluginInfo | None:
        plugin_name = self._owners.get((kind, name))
        return self._plugins.get(plugin_name) if plugin_name else None

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

    def enrich(self, record: Any, source: Path | None, skip: Collection[str] = ()) -> list[str]:
        """Run every ``enrich_record`` implementation but those of the plugins named in
        ``skip`` (``import --no-tokens``), each seeing what the ones before it added, and
        apply the fields each returns (:meth:`ExecutionRecord.update`); return warnings
        for those that failed, whose fields are not applied."""
        warnings: list[str] = []
        for impl in self._impls("enrich_record"):
            if impl.plugin_name in skip:
                continue
            try:
                fields = impl.function(record=record, source=source)
                if fields:
                    record.update(fields)
            except Exception as exc:
                dist = self.plugins[impl.plugin_name].distribution
                warnings.append(
                    f"plugin '{impl.plugin_name}' ({dist}) could not enrich the record: {exc}"
                )
        return warnings

    def stored(
        self, record: Any, store_info: dict[str, Any], warn: Callable[[str], None] = stderr_warning
    ) -> None:
        """Run every ``record_stored`` implementation for one saved execution; one that
        raises is reported through ``warn`` in one line, and the others still run."""
        for impl in self._impls("record_stored"):
            try:
                impl.function(record=record, store_info=store_info)
            except Exception as exc:
                dist = self.plugins[impl.plugin_name].distribution
                warn(
                    f"plugin '{impl.plugin_name}' ({dist}) failed after the execution was "
                    f"stored: {type(exc).__name__}: {exc}"
                )

    def template_dirs(self) -> list[Path]:
        dirs: list[Path] = []
        for result in self.pm.hook.template_dirs():
            dirs.extend(Path(d) for d in result or [])
        return dirs

    def describe(self) -> list[PluginInfo]:
        """Loaded plugins, built-ins first, each group sorted by distribution and name."""
        return sorted(self.plugins.values(), key=lambda p: (not p.builtin, p.distribution, p.name))


def _names(info: PluginInfo, kind: str) -> list[str]:
    """The list of ``info`` that names its registrations of ``kind``."""
    return {"store": info.stores, "dialect": info.dialects}.get(kind, info.renderers)


class GuardedRenderer:
    """A third party's renderer, whose exceptions (other than our own errors, which it may
    raise on purpose) become a :class:`PluginError` naming the plugin and distribution."""

    def __init__(self, inner: Any, owner: PluginInfo) -> None:
        self._inner = inner
        self._owner = owner

    def _failed(self, exc: Exception) -> PluginError:
        reason = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
        return PluginError(
            f"The format '{self._inner.name}' of plugin '{self._owner.name}' "
            f"({self._owner.distribution}) failed: {reason}. This is that plugin's failure; "
            f"report it to the authors of {self._owner.distribution}."
        )

    def render(self, view: Any) -> str:
        from .errors import AnalyticsError

        try:
            return self._inner.render(view)
        except AnalyticsError:
            raise
        except Exception as exc:
            raise self._failed(exc) from exc

    def _render_iter(self, view: Any) -> Any:
        from .errors import AnalyticsError

        try:
            yield from self._inner.render_iter(view)
        except AnalyticsError:
            raise
        except Exception as exc:
            raise self._failed(exc) from exc

    def __getattr__(self, name: str) -> Any:
        if name == "render_iter" and optional(self._inner, "render_iter") is not None:
            return self._render_iter
        return getattr(self._inner, name)


def _dist_name(ep: Any) -> str:
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None and dist.name else "unknown"


class _Named:
    """A registered store scheme, shaped for :meth:`PluginHost._registrar`."""

    __slots__ = ("name", "opener")

    def __init__(self, name: str, opener: Callable[..., Any]) -> None:
        self.name = name
        self.opener = opener


def _dist_version(ep: Any) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.version if dist is not None else None


_host: PluginHost | None = None


def get_host(warn: Callable[[str], None] = stderr_warning) -> PluginHost:
    """The process-wide host, loading entry points on first use (idempotent)."""
    global _host
    if _host is None:
        host = PluginHost()
        host.load_entry_points(warn=warn)
        _host = host.finish()
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
    """A fresh host with the entry points (optionally) and extra ``(name, plugin)`` pairs."""
    host = PluginHost()
    if entry_points:
        host.load_entry_points(warn=warn)
    for name, plugin in plugins:
        host.add_plugin(plugin, name=name)
    return host.finish()
