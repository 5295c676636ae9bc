"""A third party's renderer, whose failure is reported as that plugin's, not as ours."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import AnalyticsError, PluginError
from ..hookspecs import RenderView, optional
from .info import PluginInfo


class GuardedRenderer:
    """Stands in for a third party's renderer: an exception it raises (other than one of
    our own errors, which it may raise on purpose for a one-line message) becomes a
    :class:`PluginError` naming the plugin and its distribution."""

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

    def render(self, view: RenderView) -> str:
        try:
            return self._inner.render(view)  # type: ignore[no-any-return]
        except AnalyticsError:
            raise
        except Exception as exc:
            raise self._failed(exc) from exc

    def _render_iter(self, view: RenderView) -> Iterator[str]:
        try:
            yield from self._inner.render_iter(view)
        except AnalyticsError:
            raise
        except Exception as exc:
            raise self._failed(exc) from exc

    def __getattr__(self, name: str) -> Any:
        # ``render_iter`` only where the renderer has one (it is optional).
        if name == "render_iter" and optional(self._inner, "render_iter") is not None:
            return self._render_iter
        return getattr(self._inner, name)
