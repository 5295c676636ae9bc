"""Configured defaults applied to a command: the options ``show``, ``export`` and
``badge`` read from ``analytics`` in the config files (:mod:`phaser_analytics.config`)
when the command line does not give them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..config import COMMAND_KEYS, settings_for
from .main import resolve_project

F = TypeVar("F", bound=Callable[..., Any])

#: Where :func:`apply_config_defaults` leaves the options for the render view.
VIEW_OPTIONS_KEY = "phaser_analytics.config_view_options"


def apply_config_defaults(
    ctx: Any, project_dir: Path, command: str, params: dict[str, Any]
) -> dict[str, Any]:
    """Set in ``params`` each parameter the user left at its default and the config sets;
    return (and keep in ``ctx.meta``) the configured options that are not parameters.

    A value is checked by the parameter's own type, so a format no renderer offers is an
    error naming the file and key.
    """
    import click
    from click.core import ParameterSource

    view_options: dict[str, Any] = {}
    by_name = {param.name: param for param in ctx.command.params}
    for key, setting in settings_for(project_dir, command).items():
        name = COMMAND_KEYS[command][key]
        if name is None:
            view_options[key] = setting.value
            continue
        if ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None):
            continue
        param = by_name[name]
        try:
            params[name] = param.type.convert(setting.value, param, ctx)
        except click.BadParameter as exc:
            raise setting.error(f"is invalid: {exc.message.rstrip('.')}") from None
        ctx.params[name] = params[name]
    ctx.meta[VIEW_OPTIONS_KEY] = view_options
    return view_options


def view_options(ctx: Any) -> dict[str, Any]:
    """The configured render-view options :func:`apply_config_defaults` found."""
    return dict(ctx.meta.get(VIEW_OPTIONS_KEY, {}))


def config_defaults(command: str) -> Callable[[F], F]:
    """Decorate a command (under ``@click.pass_context``) so that configured defaults fill
    the parameters the user did not give, before the command's body reads them."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(ctx: Any, *args: Any, **kwargs: Any) -> Any:
            apply_config_defaults(ctx, resolve_project(kwargs.get("project")), command, kwargs)
            return func(ctx, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
