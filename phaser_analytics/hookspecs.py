"""The plugin contract: hook specifications, and the shapes of dialects and renderers.

A plugin is a module (or object) with functions marked ``@phaser_analytics.hookimpl``,
declared under the ``phaser_analytics`` entry-point group of its distribution. Every hook
here is documented, with an example, in ``docs/plugin-hooks.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pluggy

if TYPE_CHECKING:
    from .breakdown import Breakdown as Breakdown  # re-exported (see __getattr__)
    from .breakdown import Column as Column
    from .models import AggregatedStats, AnalyticsQuery, ExecutionRecord

hookspec = pluggy.HookspecMarker("phaser_analytics")
hookimpl = pluggy.HookimplMarker("phaser_analytics")


@runtime_checkable
class Dialect(Protocol):
    """A report dialect: reads one kind of execution report into record fields.

    ``patterns`` are file-name globs that discovery uses (``("EXECUTION_REPORT.md",)``).
    ``detect(text)`` says whether this dialect reads ``text``. ``parse(text, path)`` returns
    a dict of :class:`~phaser_analytics.ExecutionRecord` field names (phases as
    :class:`~phaser_analytics.PhaseRecord`); unknown keys land in the record's ``extra``,
    and a ``"warnings"`` key, if present, is a list of one-line warnings shown on import.
    A report it cannot read raises :class:`~phaser_analytics.errors.ReportParseError`.

    Optional: ``transient_keys``, keys of its ``parse`` result meant for the
    ``enrich_record`` hooks only: during the import they are in the record's ``extra``
    (``None`` when ``parse`` did not return them), and they are removed before the record
    is stored. Read optional attributes with :func:`optional`.
    """

    name: str
    patterns: Sequence[str]
    transient_keys: Sequence[str] = ()

    def detect(self, text: str) -> bool: ...

    def parse(self, text: str, path: Path | None) -> dict[str, Any]: ...


@dataclass
class RenderView:
    """Everything a renderer may show.

    ``records`` are newest first. ``project`` is ``{"name", "path"}`` for a project view and
    ``None`` for ``--global``, where ``projects`` lists every project included.
    ``options`` carries command options (``verbose``, ``template``, ``ci_minimal``,
    ``color``, ``width``, ``phases``, ``metric``, ``label``, …); renderers ignore options
    they do not know. ``breakdown`` is set by the aggregate commands (``trends``,
    ``projects``, ``phases``, ``failures``): a renderer that knows it shows it instead of
    the executions.
    """

    records: Sequence[ExecutionRecord]
    stats: AggregatedStats
    query: AnalyticsQuery
    project: dict[str, Any] | None = None
    projects: list[dict[str, Any]] = field(default_factory=list)
    generated_at: datetime | None = None
    command: str = "show"
    options: dict[str, Any] = field(default_factory=dict)
    breakdown: Breakdown | None = None
    origins: Sequence[dict[str, Any]] | None = None
    """For ``--global`` views: the registered project (``{"name", "path"}``) each record
    came from, parallel to ``records``. A record's own ``project_name`` and
    ``project_path`` are what its report said, which may name another machine's path."""

    def origin(self, index: int) -> dict[str, Any] | None:
        return self.origins[index] if self.origins is not None else None

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


#: In a renderer's ``commands``: it renders the breakdowns of the aggregate commands
#: (``trends``, ``phases``, ``failures``, ``projects`` and the insight commands: every
#: command that shows a :class:`Breakdown`); see docs/plugin-hooks.md.
BREAKDOWNS = "breakdowns"


@runtime_checkable
class Renderer(Protocol):
    """An output format.

    ``name`` is the ``--format`` value, ``help`` one line for ``--help`` and
    ``phaser analytics plugins``, ``suffix`` the file suffix for ``--output``.

    Optional (read with :func:`optional`): ``commands``, the commands that offer it
    (``("show", "export")`` when absent; badge formats say ``("badge",)``, and
    :data:`BREAKDOWNS` adds the aggregate commands); ``render_iter(view)``, yielding the
    output in chunks, which the host prefers when writing large exports.
    """

    name: str
    help: str
    suffix: str
    commands: Sequence[str] = ("show", "export")
    render_iter: Callable[[RenderView], Iterator[str]] | None = None

    def render(self, view: RenderView) -> str: ...


def optional(item: Dialect | Renderer, attribute: str) -> Any:
    """An optional attribute of a dialect or renderer: its own, else the default its
    Protocol declares (for a plugin's object that does not subclass the Protocol)."""
    protocol = Renderer if hasattr(item, "render") else Dialect
    return getattr(item, attribute, getattr(protocol, attribute))


@hookspec
def register_dialects(register: Callable[[Dialect], None]) -> None:
    """Call ``register(dialect)`` for each report dialect this plugin provides.

    Called once, when plugins load, so keep it cheap: import what ``parse`` needs inside
    ``parse``. Dialects of third-party plugins are
    tried before the built-in one, so a plugin can read a report the built-in dialect
    would misread.
    """


@hookspec
def register_renderers(register: Callable[[Renderer], None]) -> None:
    """Call ``register(renderer)`` for each output format this plugin provides.

    Called once, when plugins load. The renderer's ``name`` becomes a ``--format`` choice.
    Two plugins registering the same name is an error naming both distributions.
    """


@hookspec
def enrich_record(record: ExecutionRecord, source: Path | None) -> dict[str, Any] | None:
    """Return the fields to add to (or correct in) a freshly parsed record.

    Called after every parse, for every implementation, before the record is stored; each
    sees what the implementations before it added. ``source`` is the report's path
    (``None`` when parsed from text). Return a dict of record field names and values, or
    ``None`` to add nothing: the host sets the fields, merges an ``extra`` dict into the
    record's ``extra`` and puts any other key in ``extra``. Read ``record``, do not change
    it: an exception raised here is reported as a warning and nothing of this plugin's is
    applied.
    """


@hookspec
def template_dirs() -> Iterable[str | Path]:
    """Return directories to add to the Jinja2 template search path.

    They are searched after the user's ``--template``, the project's ``.phaser/templates/``
    and ``$PHASER_HOME/templates/``, and before the built-in templates.
    """


@hookspec
def record_stored(record: ExecutionRecord, store_info: dict[str, Any]) -> None:
    """React to an execution just saved: post it to a webhook, a chat, a dashboard.

    Called once for each execution an import (``import``, ``capture``, a spool drain) has
    saved, new or replaced (``--force``), after its batch is committed; never for a report
    already stored. ``store_info`` describes where and how it was saved: ``backend``
    (``"json"``), ``location`` (the store), ``project_dir``, ``action`` (``"imported"`` or
    ``"replaced"``), ``origin`` (``"import"``, ``"capture"`` or ``"drain"``) and
    ``import_id`` (the same for every record of one import, so an implementation can
    read what it needs once per import). The record
    is stored already: an exception raised here is a one-line warning and never fails the
    import, and an implementation should bound its own time (the built-in notifier posts
    with a short timeout).
    """


@hookspec
def register_stores(register: Callable[..., None]) -> None:
    """Call ``register(scheme, opener)`` for each store URL scheme this plugin provides.

    Called once, when plugins load. ``opener(url, *, project_dir, warn)`` returns an object
    implementing :class:`phaser_analytics.stores.base.Store` for a URL of that scheme
    (``project_dir`` is the project the command runs in, ``warn`` takes one-line
    warnings). The built-in ``file`` (JSON) and ``sqlite`` stores register through this
    hook. Two plugins registering one scheme is an error naming both distributions.
    """


def __getattr__(name: str) -> Any:
    """:class:`Breakdown` and :class:`Column`, defined in :mod:`phaser_analytics.breakdown`
    and imported from here as before: only the aggregate commands use them, and a command
    that does not need them does not define them (docs/performance.md, "Start-up")."""
    if name in ("Breakdown", "Column"):
        from . import breakdown

        return getattr(breakdown, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
