"""The plugin host: pluggy's plugin manager with our hooks, the plugins registered with
it, and the calls of the hooks the core makes.

:meth:`PluginHost.load_entry_points` registers what :mod:`.finder` found and loaded;
:meth:`PluginHost.finish` checks the hooks and runs the registration hooks, which fill the
registries (the host is a :class:`~.registry.Registry`); then the core calls
:meth:`~PluginHost.enrich`, :meth:`~PluginHost.stored` and
:meth:`~PluginHost.template_dirs`. A third party's failure anywhere is that plugin's
listed problem (:attr:`~PluginHost.failures`, :attr:`~PluginHost.problems`) and one
warning; a built-in's is ours, and raised.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection
from pathlib import Path
from types import FunctionType, MethodType, ModuleType
from typing import Any

import pluggy

from .. import hookspecs
from ..errors import PluginError, stderr_warning
from .finder import LoadedPlugin, find_plugins, load_plugins
from .info import ENTRY_POINT_GROUP, FailedPlugin, PluginInfo, problem
from .registry import Registry

#: Names a module's type defines: pluggy looks these up through the type, not the module.
_MODULE_TYPE_NAMES = frozenset(dir(ModuleType))
_ABSENT = object()
#: What pluggy takes for a hook implementation on a module (pluggy's ``_static_hook_attr``).
_HOOKABLE = (FunctionType, MethodType, staticmethod, classmethod)


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, quicker to register a module (every plugin we ship is one, and so
    are our hook specifications).

    pluggy's :meth:`~pluggy.PluginManager.parse_hookimpl_opts` (and ``parse_hookspec_opts``)
    looks up each name of a plugin with :func:`inspect.getattr_static`: about 300 look-ups at
    every command's start, nearly all of them imported helpers, classes and constants. On a
    module, a function without this project's mark and a value that is no function or
    method at all are no hook (implementation) for pluggy either, so they are answered
    here; everything else (a marked function, a static or class method, a name of the
    module type, any plugin that is not a module) is pluggy's to parse. tests/test_startup.py
    checks that both find the same hooks.
    """

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        self._impl_mark = f"{project_name}_impl"
        self._spec_mark = f"{project_name}_spec"

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        if _unmarked(plugin, name, self._impl_mark):
            return None
        return super().parse_hookimpl_opts(plugin, name)

    def parse_hookspec_opts(self, module_or_class: Any, name: str) -> Any:
        if _unmarked(module_or_class, name, self._spec_mark):
            return None
        return super().parse_hookspec_opts(module_or_class, name)


def _unmarked(obj: Any, name: str, mark: str) -> bool:
    """Whether ``name`` of the module ``obj`` is certainly no hook for any pluggy release
    we accept: a plain function without the mark, or a value that is no routine (a class,
    a constant, a callable object such as a hook marker). Any other routine (a
    ``functools.cache`` wrapper, a compiled function: pluggy before 1.7 takes any
    ``inspect.isroutine``) is left to pluggy."""
    if type(obj) is not ModuleType or name in _MODULE_TYPE_NAMES:
        return False
    value = obj.__dict__.get(name, _ABSENT)
    if type(value) is FunctionType:
        return mark not in value.__dict__
    if value is _ABSENT or isinstance(value, _HOOKABLE):
        return False
    return not inspect.isroutine(value)


#: Registration hook → what it registers.
_REGISTRATIONS = (
    ("register_renderers", "renderer"),
    ("register_stores", "store"),
    ("register_dialects", "dialect"),
)


class PluginHost(Registry):
    """A plugin manager with the registries built from its plugins' registration hooks.

    Use :func:`~phaser_analytics.plugins.get_host` in application code; tests build their
    own with :func:`~phaser_analytics.plugins.build_host`, or register throwaway plugins
    with :meth:`add_plugin` and call :meth:`finish`.
    """

    def __init__(self, warn: Callable[[str], None] = stderr_warning) -> None:
        super().__init__(on_problem=self._problem)
        self.pm = PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        #: Every plugin, by name, in the order it was registered.
        self.plugins: dict[str, PluginInfo] = {}
        #: Third-party plugins that failed to import.
        self.failures: list[FailedPlugin] = []
        #: Plugins skipped in whole or in part without failing to import: a broken entry
        #: point, a name another plugin has, a registration hook that raised.
        self.problems: list[FailedPlugin] = []
        self._warn = warn
        self._finished = False

    def _problem(self, failed: FailedPlugin) -> None:
        (self.problems if failed.is_problem else self.failures).append(failed)
        self._warn(failed.message())

    # -- registering ---------------------------------------------------------------------

    def load_entry_points(self, warn: Callable[[str], None] | None = None) -> None:
        """Register every installed plugin (:func:`.finder.find_plugins`,
        :func:`.finder.load_plugins`); each one skipped is reported through ``warn``."""
        if warn is not None:
            self._warn = warn
        for result in load_plugins(find_plugins(self._warn)):
            if isinstance(result, LoadedPlugin):
                plugin = result.plugin
                self.add_plugin(
                    result.obj,
                    name=plugin.name,
                    distribution=plugin.distribution,
                    version=plugin.version,
                    builtin=plugin.builtin,
                )
            else:
                self._problem(result)

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
        self.plugins[name] = PluginInfo(name, distribution, version, module, builtin)

    def finish(self) -> PluginHost:
        """Check the hookimpls and build the registries; call once, after registering."""
        if self._finished:
            return self
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"A plugin implements an unknown hook: {exc}") from exc
        for info in self.plugins.values():
            callers = self.pm.get_hookcallers(self.pm.get_plugin(info.name)) or []
            info.hooks = sorted(caller.name for caller in callers)
        for hook_name, kind in _REGISTRATIONS:
            for impl in self._impls(hook_name):
                self._register(impl, kind)
        self._finished = True
        return self

    def _register(self, impl: Any, kind: str) -> None:
        """Run one plugin's registration hook; a third party's that raises is that plugin's
        problem (what it registered before raising stays), not the tool's."""
        info = self.plugins[impl.plugin_name]
        try:
            impl.function(register=self.registrar(kind, info))
        except Exception as exc:
            if info.builtin:
                raise
            self._problem(
                problem(
                    info.name,
                    info.distribution,
                    f"plugin '{info.name}' from {info.distribution} failed while registering "
                    f"its {kind}s ({type(exc).__name__}: {exc}); the rest of it is skipped.",
                )
            )

    def _impls(self, hook_name: str) -> list[Any]:
        # pluggy calls hookimpls last-registered first, tryfirst before trylast; iterating
        # in that order puts third-party dialects ahead of the built-in ones.
        return list(reversed(getattr(self.pm.hook, hook_name).get_hookimpls()))

    # -- the hooks the core calls --------------------------------------------------------

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
        """The directories the ``template_dirs`` implementations return."""
        dirs: list[Path] = []
        for result in self.pm.hook.template_dirs():
            dirs.extend(Path(d) for d in result or [])
        return dirs

    def describe(self) -> list[PluginInfo]:
        """Loaded plugins, built-ins first, each group sorted by distribution and name."""
        return sorted(self.plugins.values(), key=lambda p: (not p.builtin, p.distribution, p.name))
