"""Jinja2 templates for the markdown report: the search path, the sandbox, the filters.

A template is looked up, first match wins, in (see :func:`template_search_path`):

1. the directory of the ``--template FILE`` given on the command line,
2. ``<project>/.phaser/templates/``,
3. ``$PHASER_HOME/templates/`` (``~/.phaser/templates/``),
4. the directories plugins return from the ``template_dirs`` hook,
5. the built-in templates of this package.

The built-in templates are also reachable as ``default:<name>`` whatever shadows them, so
a team template can ``{% extends "default:report.md.j2" %}`` and replace single blocks.

Templates come from cloned repositories, so they render in Jinja2's sandbox: no
attributes starting with ``_``, no Python internals. They receive plain data (the dicts
the JSON export shows), never objects with methods that touch files. A directory inside the
project's ``.phaser/templates/`` is *confined*: a template found there (by name, include or
extends) is read only when its real path, symlinks followed, stays inside that directory
(:class:`ConfinedLoader`). Rendering is bounded in time (:data:`RENDER_SECONDS`) and output
(:data:`RENDER_MAX_CHARS`). Jinja2 is imported inside the functions: importing this module
costs nothing on the CLI's start-up path.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phaser_analytics import formatting
from phaser_analytics.errors import TemplateRenderError

if TYPE_CHECKING:
    from jinja2 import BaseLoader
    from jinja2.sandbox import SandboxedEnvironment

    from phaser_analytics.hookspecs import RenderView

BUILTIN_TEMPLATE_DIR = Path(__file__).parent / "templates"
DEFAULT_TEMPLATE = "report.md.j2"
#: The page of ``export --format html``.
DASHBOARD_TEMPLATE = "dashboard.html.j2"
#: ``{% extends "default:report.md.j2" %}`` reaches the built-in template.
BUILTIN_PREFIX = "default"
PREFIX_DELIMITER = ":"

#: Seconds a template may take to render; ``$PHASER_RENDER_SECONDS`` overrides it. A
#: template from a cloned repository must not hang a command (nested ``range`` loops).
RENDER_SECONDS = 60.0
#: Characters a template may write (100 million: a verbose report of 10,000 executions is a
#: few megabytes).
RENDER_MAX_CHARS = 100_000_000
#: Bytes a template file from the project may have.
TEMPLATE_MAX_BYTES = 1_000_000


def project_templates_dir(project_dir: str | Path) -> Path:
    """``<project>/.phaser/templates``: the one place a project's templates may come from."""
    return Path(os.path.abspath(project_dir)) / ".phaser" / "templates"


def is_inside(path: str | Path, directory: str | Path) -> bool:
    """Whether ``path`` is ``directory`` or below it (both taken as given: resolve first)."""
    path, directory = os.fspath(path), os.fspath(directory)
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def confinement_root(project_dir: str | Path) -> Path | None:
    """The real path the project's templates must stay inside, or ``None`` when
    ``.phaser/templates`` itself (or ``.phaser``) is a link leaving the project: then no
    template of the project is read at all."""
    real_project = os.path.realpath(project_dir)
    real_templates = os.path.realpath(project_templates_dir(project_dir))
    return Path(real_templates) if is_inside(real_templates, real_project) else None


class TemplateName(str):
    """A template's name that a config file gave: always looked up on the search path,
    never taken for a file in the working directory (which may be a cloned repository's)."""


def is_bare_name(text: str) -> bool:
    """No directory part and no ``~``: ``weekly-digest.md.j2``."""
    separators = [os.sep] + ([os.altsep] if os.altsep else [])
    return not any(separator in text for separator in separators) and not text.startswith("~")


def is_template_name(template_file: str | Path | None) -> bool:
    """Whether ``--template`` gave a template's name rather than a file: a bare file name
    (no directory part) that is not a file here, or a config's :class:`TemplateName`. A
    name is looked up on the search path (``.phaser/templates/``, ``$PHASER_HOME/templates/``,
    plugins' directories, the built-ins), so ``--template weekly-digest.md.j2`` finds the
    copy in the project."""
    if template_file is None:
        return False
    if isinstance(template_file, TemplateName):
        return True
    text = os.fspath(template_file)
    return is_bare_name(text) and not Path(text).is_file()


def template_search_path(
    project_dir: str | Path | None,
    template_file: str | Path | None,
    plugin_dirs: Iterable[str | Path] = (),
) -> list[Path]:
    """The directories searched for templates, in order; the first that has a name wins.

    Directories that do not exist are listed too (Jinja2 skips them), so the list is the
    same on every machine and :func:`explain` can say where a template would go.
    """
    from phaser_analytics.home import phaser_home

    path: list[Path] = []
    if template_file is not None and not is_template_name(template_file):
        # The link's own directory when --template names a symlink: its name is looked up.
        path.append(Path(os.path.abspath(Path(template_file).expanduser())).parent)
    if project_dir is not None:
        path.append(Path(project_dir) / ".phaser" / "templates")
    path.append(phaser_home() / "templates")
    path.extend(Path(directory) for directory in plugin_dirs)
    path.append(BUILTIN_TEMPLATE_DIR)
    return path


def private_dirs(search_path: list[Path], template_file: str | Path | None) -> list[Path]:
    """The directories of :func:`template_search_path` that a project template may not
    reach: the ``--template`` file's, which is the user's (perhaps their home), searched
    for the user's templates only."""
    if template_file is None or is_template_name(template_file):
        return []
    return search_path[:1]


#: Names of templates for the HTML page; other templates are for the markdown report.
HTML_TEMPLATE_SUFFIXES = (".html.j2", ".html")


def chosen_template(
    template_file: str | Path | None, default: str = DEFAULT_TEMPLATE
) -> str | Path | None:
    """The ``--template`` (or configured) file that applies to the output whose built-in
    template is ``default``: any for the markdown report; for the HTML page only an HTML
    template (``*.html.j2``, ``*.html``), so a markdown template configured for ``export``
    is never rendered as the page (which then is the built-in one)."""
    if template_file is None:
        return None
    if default == DASHBOARD_TEMPLATE and not str(template_file).endswith(HTML_TEMPLATE_SUFFIXES):
        return None
    return template_file


def template_name(template_file: str | Path | None, default: str = DEFAULT_TEMPLATE) -> str:
    """The name to render: the ``--template`` file's, else ``default`` (the built-in
    report's, or :data:`DASHBOARD_TEMPLATE` for the HTML page)."""
    return Path(template_file).name if template_file is not None else default


@dataclass(frozen=True)
class Resolution:
    """Which file a template name resolves to, and every place that was considered."""

    name: str
    chosen: Path | None
    considered: list[Path]

    def explain(self) -> str:
        lines = [f"Template {self.name!r}:"]
        for directory in self.considered:
            candidate = directory / self.name
            mark = "->" if candidate == self.chosen else "  "
            state = (
                "used"
                if candidate == self.chosen
                else ("shadowed" if candidate.is_file() else "not found")
            )
            lines.append(f" {mark} {candidate} ({state})")
        return "\n".join(lines)


def resolve(name: str, search_path: Iterable[Path]) -> Resolution:
    """The file ``name`` loads from, as the loader will choose it."""
    considered = list(search_path)
    if name.startswith(BUILTIN_PREFIX + PREFIX_DELIMITER):
        builtin = BUILTIN_TEMPLATE_DIR / name.split(PREFIX_DELIMITER, 1)[1]
        return Resolution(name, builtin if builtin.is_file() else None, [BUILTIN_TEMPLATE_DIR])
    chosen = next((d / name for d in considered if (d / name).is_file()), None)
    return Resolution(name, chosen, considered)


def explain(
    project_dir: str | Path | None,
    template_file: str | Path | None,
    plugin_dirs: Iterable[str | Path] = (),
    default: str = DEFAULT_TEMPLATE,
) -> str:
    """Lines for ``--explain-templates``: which template is used, which were considered."""
    template_file = chosen_template(template_file, default)
    search_path = template_search_path(project_dir, template_file, plugin_dirs)
    return resolve(template_name(template_file, default), search_path).explain()


#: Option values a template may see: plain values, never objects with methods.
_SCALARS = (str, int, float, bool, type(None))


def view_context(view: RenderView) -> dict[str, Any]:
    """What every report template sees of a view besides its executions: plain data (the
    JSON export's dicts), no live objects. Keys: generated_at, project, projects,
    is_global, query, stats, command, options, zone. Datetimes are ISO strings in UTC; the
    ``date`` filters show them in the command's zone, which ``zone`` names."""
    from phaser_analytics.dates import zone_label
    from phaser_analytics.models import datetime_to_json, utcnow

    return {
        "generated_at": datetime_to_json(view.generated_at or utcnow()),
        "project": dict(view.project) if view.project is not None else None,
        "projects": [dict(project) for project in view.projects],
        "is_global": view.project is None,
        "query": view.query.to_dict(),
        "stats": view.stats.to_dict(),
        "command": view.command,
        # Paths and other objects stay out: a template gets values, not methods.
        "options": {k: v for k, v in view.options.items() if isinstance(v, _SCALARS)},
        "zone": zone_label(view.option("zone")),
    }


def md_cell(value: Any) -> str:
    """A value safe inside a markdown table cell: ``\\`` and ``|`` escaped (so a ``\\|``
    in the text cannot end the cell), lines joined."""
    if value is None:
        return formatting.UNKNOWN
    text = " ".join(str(value).splitlines())
    return text.replace("\\", "\\\\").replace("|", "\\|")


def md_inline(value: Any) -> str:
    """A value on one markdown line (a heading, a list item): line breaks become spaces."""
    if value is None:
        return formatting.UNKNOWN
    return " ".join(str(value).splitlines())


_STATUS_SYMBOLS = {
    "success": "✅",
    "completed": "✅",
    "partial": "⚠️",
    "skipped": "⚠️",
    "failed": "❌",
}
_STATUS_LABELS = {
    "success": "All phases completed",
    "partial": "Completed with issues",
    "failed": "Failed",
    "completed": "Completed",
    "skipped": "Skipped",
}


def _status_key(value: Any) -> str:
    return str(getattr(value, "value", value) or "").lower()


def status_icon(value: Any) -> str:
    """``success``/``completed`` → ✅, ``partial``/``skipped`` → ⚠️, ``failed`` → ❌."""
    return _STATUS_SYMBOLS.get(_status_key(value), "?")


def status_label(value: Any) -> str:
    """The words Phaser's reports use for an execution or phase status."""
    return _STATUS_LABELS.get(_status_key(value), str(value))


def _strict(function: Callable[..., str]) -> Callable[..., str]:
    """Fail on an undefined value, as StrictUndefined does everywhere else: the formatting
    helpers would otherwise show a misspelt field as "-" (unknown) without a word."""

    @functools.wraps(function)
    def strict_filter(value: Any, *args: Any, **kwargs: Any) -> str:
        from jinja2 import Undefined

        if isinstance(value, Undefined):
            value._fail_with_undefined_error()
        return function(value, *args, **kwargs)

    return strict_filter


_FORMATTERS: dict[str, Callable[..., str]] = {
    "md_cell": md_cell,
    "md_inline": md_inline,
    "duration": formatting.format_duration,
    "delta": formatting.format_delta,
    "pct": formatting.format_percent,
    "date": formatting.format_date,
    "datetime": formatting.format_datetime,
    "count": formatting.format_count,
    "cost": formatting.format_cost,
    "status_icon": status_icon,
    "status_label": status_label,
}
#: The filters every report template has (``date`` and ``datetime`` here in UTC; a render
#: gets them in the command's zone: :func:`zoned_filters`).
FILTERS = {name: _strict(function) for name, function in _FORMATTERS.items()}


def zoned_filters(zone: tzinfo | None) -> dict[str, Callable[..., str]]:
    """:data:`FILTERS` with ``date`` and ``datetime`` showing moments in ``zone`` (``None``:
    the machine's local time), the zone the table shows (``--tz``, ``analytics.tz``)."""
    return {
        **FILTERS,
        "date": _strict(functools.partial(formatting.format_date, tz=zone)),
        "datetime": _strict(functools.partial(formatting.format_datetime, tz=zone)),
    }


def _confined_loader(directory: Path, root: Path | None) -> BaseLoader:
    """A loader for ``directory``, a directory of the project's templates, that reads a file
    only when its real path lies inside ``root`` (``None``: nothing may be read) and it is a
    regular file of at most :data:`TEMPLATE_MAX_BYTES`."""
    from jinja2 import BaseLoader, TemplateNotFound
    from jinja2.loaders import split_template_path

    class ConfinedLoader(BaseLoader):
        def get_source(self, environment: Any, template: str) -> tuple[str, str, Any]:
            candidate = os.path.join(directory, *split_template_path(template))
            if not os.path.lexists(candidate) or os.path.isdir(candidate):
                raise TemplateNotFound(template)
            real = os.path.realpath(candidate)
            if root is None or not is_inside(real, root):
                raise TemplateRenderError(
                    f"Template {template} in {directory} leads outside the project's "
                    ".phaser/templates/ (a symbolic link); a project's templates must stay "
                    "inside it."
                )
            source = _read_template_file(real, template)
            mtime = os.path.getmtime(real)

            def uptodate() -> bool:
                try:
                    return os.path.getmtime(real) == mtime
                except OSError:
                    return False

            return source, candidate, uptodate

    return ConfinedLoader()


def _read_template_file(path: str, name: str) -> str:
    """A project template's text: a regular file of at most :data:`TEMPLATE_MAX_BYTES`,
    never a device or FIFO, not through a link (``path`` is already real)."""
    from .untrusted_files import UnsafeFile, read_regular_file

    try:
        data = read_regular_file(path, TEMPLATE_MAX_BYTES, follow_symlinks=False)
    except UnsafeFile as exc:
        raise TemplateRenderError(f"Template {name} {exc}; not read.") from None
    except OSError as exc:
        raise TemplateRenderError(f"Template {name} cannot be read ({exc.strerror}).") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise TemplateRenderError(f"Template {name} is not UTF-8 text.") from None


#: Prefixed to a name that a project template asks for (include, import, extends): such a
#: name is looked up without the private directories (the ``--template`` file's, which may
#: be a home directory full of files that are not templates). Never shown in messages.
PROJECT_SCOPE = "\x00project\x00"


def _public_name(name: str) -> str:
    return name.replace(PROJECT_SCOPE, "")


def _loader(
    search_path: Iterable[Path],
    project_dir: str | Path | None = None,
    private_dirs: Iterable[Path] = (),
) -> BaseLoader:
    """The loader of the search path: ``default:`` names from the built-ins, the project's
    directories confined, and names asked for by project templates looked up without
    ``private_dirs``."""
    from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader, PrefixLoader

    builtin = FileSystemLoader(str(BUILTIN_TEMPLATE_DIR))
    prefixed = PrefixLoader({BUILTIN_PREFIX: builtin}, delimiter=PREFIX_DELIMITER)
    everywhere: list[BaseLoader] = [prefixed]
    for_project: list[BaseLoader] = [prefixed]
    confined = project_templates_dir(project_dir) if project_dir is not None else None
    root = confinement_root(project_dir) if project_dir is not None else None
    private = {os.path.abspath(directory) for directory in private_dirs}
    for directory in search_path:
        absolute = Path(os.path.abspath(directory))
        if confined is not None and is_inside(absolute, confined):
            loader = _confined_loader(absolute, root)
        else:
            loader = FileSystemLoader(str(directory))
            if str(absolute) in private:
                everywhere.append(loader)
                continue
        everywhere.append(loader)
        for_project.append(loader)
    # A name without the prefix makes PrefixLoader raise TemplateNotFound, and ChoiceLoader
    # moves on to the search path.
    full, scoped = ChoiceLoader(everywhere), ChoiceLoader(for_project)

    class ScopedLoader(BaseLoader):
        """Looks a :data:`PROJECT_SCOPE` name up without the private directories, and
        remembers which names were read from the project (their includes get the scope,
        :func:`make_environment`'s ``join_path``)."""

        def __init__(self) -> None:
            self.from_project: set[str] = set()

        def get_source(self, environment: Any, template: str) -> tuple[str, str | None, Any]:
            if template.startswith(PROJECT_SCOPE):
                found = scoped.get_source(environment, template[len(PROJECT_SCOPE) :])
            else:
                found = full.get_source(environment, template)
            filename = found[1]
            if confined is not None and filename and is_inside(filename, confined):
                self.from_project.add(template)
            return found

    return ScopedLoader()


def make_environment(
    search_path: Iterable[Path],
    project_dir: str | Path | None = None,
    private_dirs: Iterable[Path] = (),
    *,
    html: bool = False,
    zone: tzinfo | None = timezone.utc,
) -> SandboxedEnvironment:
    """The sandboxed environment every report template renders in; the directories of
    ``search_path`` inside ``project_dir``'s ``.phaser/templates/`` are confined to it, and
    a template from there cannot reach the templates of ``private_dirs``. ``html`` turns on
    autoescaping, for the dashboard page. The ``date`` and ``datetime`` filters show
    moments in ``zone`` (``None``: local time)."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    loader = _loader(search_path, project_dir, private_dirs)

    class Environment(SandboxedEnvironment):
        def join_path(self, template: str, parent: str) -> str:
            """A name a project template asks for (or one asked for on its behalf) is
            looked up in the project's scope."""
            if parent.startswith(PROJECT_SCOPE) or parent in loader.from_project:
                return template if template.startswith(PROJECT_SCOPE) else PROJECT_SCOPE + template
            return template

    environment = Environment(
        loader=loader,
        # Markdown escapes with the md_cell filter; HTML escapes every value it shows.
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        # A misspelt field in a team template is an error with a line number, not a blank.
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )
    environment.filters.update(zoned_filters(zone))
    return environment


def _template_location(exc: BaseException) -> tuple[str | None, int | None]:
    """The innermost template frame of a render error, as Jinja2 rewrote the traceback."""
    from jinja2 import TemplateSyntaxError

    if isinstance(exc, TemplateSyntaxError):
        return exc.filename or exc.name, exc.lineno
    where: tuple[str | None, int | None] = (None, None)
    tb = exc.__traceback__
    while tb is not None:
        if "__jinja_exception__" in tb.tb_frame.f_globals:
            where = (tb.tb_frame.f_globals.get("__file__"), tb.tb_lineno)
        tb = tb.tb_next
    return where


def _render_error(name: str, exc: BaseException) -> TemplateRenderError:
    from jinja2 import TemplateNotFound

    if isinstance(exc, TemplateNotFound):
        missing = _public_name(str(exc.name or name))
        return TemplateRenderError(
            f"Template not found: {missing}. Check --template or .phaser/templates/."
        )
    filename, line = _template_location(exc)
    where = _public_name(filename or name)
    if line is not None:
        where += f", line {line}"
    message = _public_name(str(exc) or type(exc).__name__)
    return TemplateRenderError(f"Template error in {where}: {message}")


class _TooLong(BaseException):
    """Raised (from the timer signal or between chunks) when a render runs out of time; a
    ``BaseException`` so that no ``except Exception`` on the way swallows it."""


def render_seconds() -> float:
    """:data:`RENDER_SECONDS`, or ``$PHASER_RENDER_SECONDS`` when that is a positive number."""
    configured = os.environ.get("PHASER_RENDER_SECONDS", "")
    try:
        value = float(configured)
    except ValueError:
        return RENDER_SECONDS
    return value if value > 0 else RENDER_SECONDS


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Raise :class:`_TooLong` in this thread after ``seconds``, where a timer signal can
    (the main thread of a POSIX process); elsewhere the chunk loop's clock is the bound."""
    main = threading.current_thread() is threading.main_thread()
    if not main or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise _TooLong

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _bounded(chunks: Iterable[str], seconds: float, max_chars: int) -> str:
    """Join ``chunks``, stopping when they take more than ``seconds`` or exceed
    ``max_chars``."""
    deadline = time.monotonic() + seconds
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > max_chars:
            raise TemplateRenderError(
                f"Template output is more than {max_chars:,} characters; stopped."
            )
        if time.monotonic() > deadline:
            raise _TooLong
        parts.append(chunk)
    return "".join(parts)


def _parent_name(environment: Any, name: str) -> str | None:
    """The template ``name`` extends (a constant ``{% extends "…" %}``), if any."""
    from jinja2 import nodes

    try:
        source = environment.loader.get_source(environment, name)[0]
        tree = environment.parse(source)
    except Exception:  # the render that follows reports what is wrong with it
        return None
    extends = next(iter(tree.find_all(nodes.Extends)), None)
    if extends is not None and isinstance(extends.template, nodes.Const):
        return str(extends.template.value)
    return None


def _warn_unknown_blocks(environment: Any, name: str, template: Any) -> None:
    """One warning on stderr for each block ``template`` overrides that none of the
    templates it extends has: such a block is never shown, and nothing else would say so
    (the guide's old ``{% block title %}``)."""
    parent_name = _parent_name(environment, name)
    if parent_name is None:
        return
    available: set[str] = set()
    seen = {name}
    current: str | None = parent_name
    while current is not None and current not in seen:
        seen.add(current)
        try:
            available |= set(environment.get_template(current).blocks)
        except Exception:
            return  # the render reports a missing or broken parent
        current = _parent_name(environment, current)
    for block in sorted(set(template.blocks) - available):
        print(
            f"Warning: template {name} overrides block '{block}', which {parent_name} does "
            f"not have, so it is never shown (its blocks: {', '.join(sorted(available))}; "
            "docs/templates.md).",
            file=sys.stderr,
        )


def render_template(
    name: str,
    context: Mapping[str, Any],
    search_path: Iterable[Path],
    project_dir: str | Path | None = None,
    private_dirs: Iterable[Path] = (),
    *,
    html: bool = False,
    zone: tzinfo | None = timezone.utc,
) -> str:
    """Render ``name`` from ``search_path``, its ``date`` filters in ``zone``; any template
    failure is a :class:`TemplateRenderError` naming the template, the line and the cause.

    Directories inside ``project_dir``'s ``.phaser/templates/`` are confined to it, and a
    template read from there cannot include, import or extend a file of ``private_dirs``
    (the ``--template`` file's directory). The render stops with an error after
    :func:`render_seconds` or :data:`RENDER_MAX_CHARS`.
    """
    from jinja2 import TemplateError

    environment = make_environment(
        list(search_path), project_dir, private_dirs, html=html, zone=zone
    )
    seconds = render_seconds()
    try:
        with _alarm(seconds):
            template = environment.get_template(name)
            _warn_unknown_blocks(environment, name, template)
            return _bounded(template.generate(**context), seconds, RENDER_MAX_CHARS)
    except _TooLong:
        raise TemplateRenderError(
            f"Template {name} took longer than {seconds:g} seconds to render; stopped "
            "(PHASER_RENDER_SECONDS sets the limit)."
        ) from None
    except TemplateError as exc:
        raise _render_error(name, exc) from exc
    except RecursionError as exc:
        raise TemplateRenderError(
            f"Template {name} extends or includes itself; to build on the built-in report, "
            f'extend "{BUILTIN_PREFIX}{PREFIX_DELIMITER}{DEFAULT_TEMPLATE}".'
        ) from exc
    except (ArithmeticError, LookupError, TypeError, ValueError, AttributeError) as exc:
        # Python errors raised while a template runs (a filter given a bad value, 1/0).
        raise _render_error(name, exc) from exc
