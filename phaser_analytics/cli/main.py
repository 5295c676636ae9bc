"""``phaser`` and its ``analytics`` group: error handling, shared options, plugin loading.

Plugins load when a command runs (in the ``analytics`` group's callback, or when
``--help`` asks for the ``--format`` choices), never when this module is imported.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import AnalyticsError, stderr_warning
from ..formatting import clean_text
from ..long_lived import long_lived_import, mark_console_process

F = TypeVar("F", bound=Callable[..., Any])

#: Exit statuses (docs/cli.md): 0 ok, 1 a gate failed or an operation failed,
#: 2 usage error or bad input, 70 an internal error (a bug: rerun with --debug).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70


def _debug_enabled(ctx: click.Context) -> bool:
    """``--debug`` on ``phaser`` or on ``analytics`` (either may be the root: ``phaser-analytics``,
    or a host CLI that mounts ``analytics``), or ``PHASER_DEBUG``."""
    here: click.Context | None = ctx
    while here is not None:
        if here.params.get("debug") is True:
            return True
        here = here.parent
    return os.environ.get("PHASER_DEBUG") not in (None, "", "0")


class PhaserGroup(click.Group):
    """Turns our errors into one line and an exit status: the ``phaser`` root, and the
    ``analytics`` group too, so that it behaves the same as ``phaser-analytics`` or mounted
    into another click CLI."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AnalyticsError as exc:
            if _debug_enabled(ctx):
                raise
            err(f"Error: {exc}")
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            # The reader went away (`phaser analytics show | head`): not an error of ours.
            # Point stdout at devnull so the interpreter's final flush stays quiet.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(EXIT_FAILED)
        except OSError as exc:
            if _debug_enabled(ctx):
                raise
            where = f": {exc.filename}" if exc.filename else ""
            err(f"Error: {exc.strerror or exc}{where}")
            ctx.exit(EXIT_FAILED)
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if _debug_enabled(ctx):
                raise
            err(
                f"Internal error: {type(exc).__name__}: {exc}. "
                "Rerun with --debug for the traceback and report it."
            )
            ctx.exit(EXIT_INTERNAL)


class AppContext:
    """What every analytics command shares. (A plain class: defining a dataclass costs
    every command about half a millisecond; docs/performance.md, "Start-up".)"""

    __slots__ = ("debug", "no_color", "store")

    def __init__(self, debug: bool = False, no_color: bool = False, store: str | None = None):
        self.debug = debug
        self.no_color = no_color
        #: ``--store URL`` (before the subcommand or with it), if given.
        self.store = store

    def host(self) -> Any:
        from ..plugins import get_host

        return get_host()


@click.group(cls=PhaserGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(version=None, package_name="phaser-analytics", prog_name="phaser")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Phaser: automated code audits with Claude Code."""
    ctx.obj = AppContext(debug=debug)


#: The ``analytics`` commands: name → (module under ``phaser_analytics.cli``, attribute, the
#: first paragraph of its help). ``phaser analytics --help`` lists the commands from this
#: table, so it imports none of their modules, and a command's module is imported only when
#: that command runs or its own help is shown. The summary is written here only: a
#: command's docstring holds the rest of its help, and the group puts the two together
#: when it loads the command. tests/test_cli_lazy.py checks the table against the commands.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "badge": (
        "exporting",
        "badge",
        "Print badge data: shields.io endpoint JSON, or a standalone SVG.",
    ),
    "anomalies": (
        "insights",
        "anomalies",
        "Executions whose duration, cost, tokens or test delta lie far outside the history "
        "of their audit document (or of the project): the figure, the usual range and the "
        "history it rests on.",
    ),
    "capture": (
        "capture_cmds",
        "capture",
        "Import the report of a Claude Code session that just ended (the SessionEnd hook).",
    ),
    "clear": (
        "maintenance",
        "clear",
        "Clear analytics data (all of it, or executions before a date).",
    ),
    "compare": (
        "insights",
        "compare",
        "Compare two executions side by side: status, duration, phases, tests, lines, files, "
        "tokens and cost, with the deltas (B − A).",
    ),
    "doctor": (
        "maintenance",
        "doctor",
        "Check the analytics store: index against record files, corrupt records, leftovers "
        "of interrupted writes, the lock. Exits 1 while problems remain.",
    ),
    "estimate": (
        "insights",
        "estimate",
        "Estimate an audit's duration, tokens and cost, with an interval, from the history.",
    ),
    "export": (
        "exporting",
        "export",
        "Export analytics data: every execution matching the filters, in full.",
    ),
    "failures": (
        "metrics_cmds",
        "failures",
        "Failure reasons grouped and counted, and executions per hour of day and per "
        "weekday (peak usage).",
    ),
    "hooks": (
        "capture_cmds",
        "hooks",
        "Install, remove or show the Claude Code SessionEnd hook that runs `capture`.",
    ),
    "import": (
        "importing",
        "import_cmd",
        "Import execution data from EXECUTION_REPORT.md files.",
    ),
    "phases": (
        "metrics_cmds",
        "phases",
        "Phases by failure rate: runs, failures and the latest error of each phase number.",
    ),
    "plugins": (
        "plugins_cmd",
        "plugins_cmd",
        "List loaded plugins: distribution, version, hooks, dialects and renderers.",
    ),
    "projects": (
        "maintenance",
        "projects_cmd",
        "List the registered projects, and the store's when it holds many.",
    ),
    "show": (
        "viewing",
        "show",
        "Show execution analytics: recent executions and their statistics.",
    ),
    "store": (
        "store_cmds",
        "store",
        "Which store is in use (store info), copying between stores (store migrate), and a "
        "database store's schema (store migrate-schema).",
    ),
    "trends": (
        "metrics_cmds",
        "trends",
        "Trends per day, week or month: executions, success rate, average duration, test "
        "delta, tokens and cost, with sparklines of duration and success rate.",
    ),
}


class LazyGroup(PhaserGroup):
    """A group whose commands are imported when one of them is used.

    ``list_commands`` and the group's ``--help`` read :data:`COMMANDS`; ``get_command``
    imports the one module asked for. ``commands`` (for tools that walk the whole tree,
    like scripts/gen_cli_docs.py) imports them all.
    """

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str, str]], **kwargs: Any) -> None:
        self._lazy = lazy
        self._loaded: dict[str, click.Command] = {}
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        for name in self._lazy:
            self._load(name)
        return self._loaded

    @commands.setter
    def commands(self, value: Any) -> None:
        self._loaded = dict(value)

    def _load(self, name: str) -> click.Command | None:
        command = self._loaded.get(name)
        if command is None and name in self._lazy:
            module_name, attribute, summary = self._lazy[name]
            with long_lived_import():
                module = importlib.import_module(f"{__package__}.{module_name}")
            command = self._loaded[name] = getattr(module, attribute)
            # The summary is written once, in the table; the docstring holds the rest.
            rest = inspect.cleandoc(command.help or "")
            command.help = f"{summary}\n\n{rest}" if rest else summary
            _add_no_color(command)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self._lazy) | set(self._loaded))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's listing, with the short help of a command not yet imported taken from
        the table (the same text, cut by the same rule)."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self._loaded.get(name)
            if command is None:
                rows.append((name, _short_help(self._lazy[name][2], limit)))
            elif not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _no_color_given(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(AppContext).no_color = True


def _add_no_color(command: click.Command) -> None:
    """``--no-color`` on every command (``show`` has its own): one spelling everywhere."""
    if any(param.name == "no_color" for param in command.params):
        return
    command.params.append(
        click.Option(
            ["--no-color"],
            is_flag=True,
            expose_value=False,
            callback=_no_color_given,
            help="Never colour the output (NO_COLOR works too).",
        )
    )


def _short_help(summary: str, limit: int) -> str:
    """The short help click would make from ``summary`` (its public route to it)."""
    return click.Command(None, help=summary).get_short_help_str(limit)


def _set_store(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.ensure_object(AppContext).store = value


def store_option(func: F) -> F:
    """``--store URL``: the store to use (docs/storage.md). Given before the subcommand or
    with it; either way it lands in :attr:`AppContext.store`."""
    return click.option(
        "--store",
        metavar="URL",
        expose_value=False,
        is_eager=True,
        callback=_set_store,
        help="The store to use: a directory, file:///abs/dir, sqlite:///abs/path.db, "
        "sqlite:relative.db or postgresql://user@host/db (default: PHASER_STORE, else config "
        "analytics.store, else the project's .phaser/analytics/).",
    )(func)


@cli.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option(
    "--no-color",
    is_flag=True,
    help="Never colour the output, whatever the command (NO_COLOR works too).",
)
@click.version_option(version=None, package_name="phaser-analytics", prog_name="phaser-analytics")
@store_option
@click.pass_context
def analytics(ctx: click.Context, debug: bool, no_color: bool) -> None:
    """View and manage execution analytics.

    Import EXECUTION_REPORT.md files, then show, export, badge and gate CI on the history
    stored in the project's .phaser/analytics/.
    """
    app = ctx.ensure_object(AppContext)
    app.debug = app.debug or debug
    app.no_color = app.no_color or no_color
    # Load plugins now, so a broken third-party plugin is reported once, up front.
    with long_lived_import():
        app.host()
    if ctx.invoked_subcommand != "capture":
        drain_spool()


def drain_spool() -> None:
    """Import the sessions a Claude Code hook left in the spool (docs/capture.md); one
    line on stderr when there were any. Costs one directory listing when there are none."""
    from ..spool import pending

    if not pending():
        return
    from ..capture import drain

    try:
        total = drain()
    except Exception as exc:  # the command asked for must still run
        click.echo(f"Warning: the spool of captured sessions was not drained ({exc}).", err=True)
        return
    click.echo(
        f"Imported {total.imported} execution(s) from Claude Code sessions captured "
        f"earlier ({total.already} already imported, {total.failed} failed; see capture.log).",
        err=True,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: ``phaser``."""
    _run(cli, argv, "phaser")


def analytics_main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: ``phaser-analytics``, the ``analytics`` commands without
    the ``phaser`` in front (for when Phaser's own ``phaser`` command is installed)."""
    _run(analytics, argv, "phaser-analytics")


def _run(command: click.Command, argv: Sequence[str] | None, prog_name: str) -> None:
    """Run a console script's command, then leave the objects it made out of the
    interpreter's collections at exit. Those walk every object still alive, which with
    psycopg's type adapters loaded took ~70-100 ms of a PostgreSQL command's CPU
    (docs/performance.md, "Exit"); what is left then needs no finalizing (stores and
    output files are closed by the command, standard output is flushed at exit anyway,
    and atexit handlers still run). The process is marked as a console script's, so its
    heavy imports are kept out of the collections too (:mod:`..long_lived`). For the
    console scripts only: a program that calls these entry points several times in one
    process would keep what each call froze (call ``cli.main`` instead)."""
    import gc

    mark_console_process()
    try:
        command.main(args=list(argv) if argv is not None else None, prog_name=prog_name)
    finally:
        gc.freeze()


# -- shared option types and decorators -------------------------------------------------------


class RendererChoice(click.Choice):
    """``--format`` whose choices are the registered renderers of one command.

    The choices are read from the plugin registry when first needed (parsing or
    ``--help``), so an installed plugin's format appears with no change to the core.
    """

    def __init__(self, command: str) -> None:
        self.command = command
        super().__init__([], case_sensitive=False)

    @property  # type: ignore[override]
    def choices(self) -> Sequence[str]:
        from ..plugins import get_host

        return get_host().renderer_names(self.command)

    @choices.setter
    def choices(self, value: Sequence[str]) -> None:
        pass  # the registry is the source of truth


class DateBound(click.ParamType):
    """A date option; a bad value prints the spec's message and exits 2."""

    name = "date"

    def __init__(self, *, end_of_day: bool = False) -> None:
        self.end_of_day = end_of_day

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or not isinstance(value, str):
            return value
        from ..dates import parse_date_bound

        # InvalidDateError, not click.BadParameter: the spec's one sentence, exit status 2,
        # without click's usage block. A value without a zone is in the command's zone.
        zone = command_zone(ctx) if ctx is not None else None
        return parse_date_bound(value, end_of_day=self.end_of_day, zone=zone)


class ZoneType(click.ParamType):
    """``--tz``: an IANA zone name, ``UTC`` or ``local``."""

    name = "zone"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        from ..dates import UnknownTimeZoneError, resolve_zone

        try:
            return resolve_zone(value)
        except UnknownTimeZoneError:
            self.fail(
                f"unknown time zone '{value}'; use an IANA name such as Europe/Berlin, "
                "or UTC, or local.",
                param,
                ctx,
            )


_ZONE_KEY = "phaser_analytics.zone"


def zone_option(func: F) -> F:
    """``--tz``, processed before the other options (eager), so that ``--since`` and
    ``--until`` are read in it wherever they stand on the command line."""
    return click.option(
        "--tz",
        "zone",
        type=ZoneType(),
        metavar="ZONE",
        is_eager=True,
        help="The time zone for dates: shown, typed (--since/--until without a zone) and "
        "counted (days, weeks, hours). An IANA name such as Europe/Berlin, UTC or local. "
        "Default: the config's analytics.tz, else this machine's local time.",
    )(func)


def command_zone(ctx: click.Context) -> Any:
    """The one time zone of this command (``None``: the machine's local time): ``--tz``,
    else ``analytics.tz`` from the project's or the user's config, else local."""
    if _ZONE_KEY in ctx.meta:
        return ctx.meta[_ZONE_KEY]
    from click.core import ParameterSource

    zone = None
    if ctx.get_parameter_source("zone") not in (ParameterSource.DEFAULT, None):
        zone = ctx.params.get("zone")
    else:
        from ..config import configured_zone

        project = ctx.params.get("project")  # already read: --project is eager too
        zone = configured_zone(resolve_project(project if isinstance(project, Path) else None))
    ctx.meta[_ZONE_KEY] = zone
    return zone


def find_project_dir(start: Path | None = None) -> Path:
    """The project for ``start`` (the working directory): see
    :func:`phaser_analytics.project_root.find_project_root`."""
    from ..project_root import find_project_root

    return find_project_root(start)


def project_option(func: F) -> F:
    return click.option(
        "--project",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        is_eager=True,  # read before the dates, whose zone the project's config may set
        help="Project directory (default: the nearest directory with a .phaser/ upwards "
        "from here, else the root of the git work tree, else here).",
    )(func)


def resolve_project(project: Path | None) -> Path:
    return project.resolve() if project is not None else find_project_dir()


def date_options(func: F) -> F:
    func = click.option(
        "--until",
        type=DateBound(end_of_day=True),
        help="Only executions started on or before DATE (a bare date includes that day).",
    )(func)
    return click.option(
        "--since",
        type=DateBound(),
        help="Only executions started on or after DATE (YYYY-MM-DD, ISO 8601, 7d, 2w, "
        "today, yesterday).",
    )(func)


def document_option(func: F) -> F:
    return click.option(
        "--document", help="Only executions whose audit document name contains TEXT."
    )(func)


def status_option(func: F) -> F:
    return click.option(
        "--status",
        type=click.Choice(["success", "partial", "failed", "all"], case_sensitive=False),
        default="all",
        show_default=True,
        help="Only executions with this status.",
    )(func)


def global_option(func: F) -> F:
    return click.option(
        "--global",
        "global_",
        is_flag=True,
        help="Aggregate across every project: of the store shared between projects "
        "(--store, PHASER_STORE, your config's analytics.store), else every one registered "
        "in $PHASER_HOME (default ~/.phaser), each from its own store.",
    )(func)


def err(message: str) -> None:
    """A message on stderr: an error, a warning, a failed report. Cleaned of escape
    sequences (they may quote a report, a record or a file name from a project)."""
    click.echo(clean_text(message, lines=True), err=True)


def say(message: str) -> None:
    """A line for people on stdout (import's ✓ lines, clear's lists, doctor's findings),
    cleaned like :func:`err`. Rendered output goes through the renderers instead."""
    click.echo(clean_text(message, lines=True))


def store_url(project_dir: Path) -> str | None:
    """The store URL in force for this command (``None``: the project's JSON store)."""
    from ..stores.base import resolve_store_url

    ctx = click.get_current_context(silent=True)
    app = ctx.find_object(AppContext) if ctx is not None else None
    return resolve_store_url(app.store if app else None, project_dir)


def store_shared(project_dir: Path) -> bool:
    """Whether the store URL in force is one any project's commands may be given alike
    (:func:`~..stores.base.shared_store_url`)."""
    from ..stores.base import shared_store_url

    ctx = click.get_current_context(silent=True)
    app = ctx.find_object(AppContext) if ctx is not None else None
    return shared_store_url(app.store if app else None, project_dir)


def open_command_store(project_dir: Path) -> Any:
    """The store this command uses for ``project_dir`` (:class:`~..stores.base.Store`)."""
    from ..stores import open_store

    ctx = click.get_current_context(silent=True)
    app = ctx.find_object(AppContext) if ctx is not None else None
    host = app.host() if app is not None else None
    url = store_url(project_dir)
    return open_store(url, project_dir=project_dir, warn=stderr_warning, host=host)


def global_store(project_dir: Path) -> Any:
    """For ``--global``: the store shared between projects that is in force (``--store``,
    ``PHASER_STORE``, the user's config: every project in it, one query), else ``None``:
    every registered project's own store (:func:`~..stores.base.global_store_url`)."""
    from ..stores import open_store
    from ..stores.base import global_store_url

    ctx = click.get_current_context(silent=True)
    app = ctx.find_object(AppContext) if ctx is not None else None
    url = global_store_url(app.store if app else None, project_dir)
    if url is None:
        return None
    host = app.host() if app is not None else None
    return open_store(url, project_dir=project_dir, warn=stderr_warning, host=host)

