"""The store interface: what every part of the program outside ``stores/`` knows of storage.

A store is chosen by a URL (docs/storage.md): a directory path or ``file:///abs/dir`` for
the spec's JSON files, ``sqlite:///abs/path.db`` or ``sqlite:relative.db`` for SQLite, and
whatever scheme a plugin registers through the ``register_stores(register)`` hook. No URL
means the JSON store in ``{project}/.phaser/analytics/``.

Every backend implements :class:`Store`: seven methods and ``close``. Each backend passes
tests/test_store_conformance.py, which is parametrised over the backends. A backend may
also compute aggregates in its database: any of the optional :class:`Aggregates` methods.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import ExecutionNotFoundError, StorageError
from ..errors import stderr_warning as stderr_warning  # the backends' default warn
from ..models import MAX_NUMBER, ExecutionStatus, datetime_from_json
from ..models import sort_newest_first as sort_newest_first  # every backend's order

if TYPE_CHECKING:
    from datetime import date, tzinfo

    from ..models import (
        AggregatedStats,
        AnalyticsQuery,
        ExecutionRecord,
        PhaseSummary,
        ReasonCount,
        Usage,
    )

Warn = Callable[[str], None]

#: Prefixes shorter than this never select an execution, as with git's short SHAs.
MIN_PREFIX_LENGTH = 4
MAX_ID_LENGTH = 128
_VALID_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def is_valid_execution_id(value: object) -> bool:
    """True for an id that is safe as part of a file name: letters, digits, ``-`` and ``_``,
    starting with a letter or digit (so never empty, ``..`` or a path)."""
    return (
        isinstance(value, str)
        and len(value) <= MAX_ID_LENGTH
        and _VALID_ID.fullmatch(value) is not None
    )


# -- what stores hand out ------------------------------------------------------------------


@dataclass(slots=True)
class Entry:
    """What a store keeps of an execution to filter, sort and aggregate without reading the
    whole record: the attributes :meth:`AggregatedStats.compute` and
    :meth:`AnalyticsQuery.matches` read, and ``ref``, the backend's own handle on the record
    (the JSON store's file name; ``None`` where the backend needs none)."""

    execution_id: str
    audit_document: str | None
    document_title: str | None
    project_name: str | None
    project_path: str | None
    branch: str | None
    base_commit: str | None
    started_at: datetime | None
    completed_at: datetime | None
    status: ExecutionStatus
    duration_seconds: float | None
    test_delta: int | None
    phases_planned: int | None
    phases_completed: int | None
    total_tokens: int | None
    cost_usd: float | None
    ref: str | None = None

    @property
    def identity(self) -> tuple[str | None, str | None, str | None, str | None]:
        """(project path, document, start, base commit): one execution, however imported."""
        from ..models import identity_of

        return identity_of(self)

    @classmethod
    def of(cls, record: ExecutionRecord, ref: str | None = None) -> Entry:
        """The entry of ``record``: every field is a field or property of the same name."""
        values = {name: getattr(record, name) for name in ENTRY_FIELDS}
        return cls(ref=ref, **values)


#: The entry's fields that come from the record (all but ``ref``), in order.
ENTRY_FIELDS = tuple(name for name in Entry.__dataclass_fields__ if name != "ref")


#: What each of an entry's stored values may be besides null, checked as a record's are.
_ROW_TEXT = ("audit_document", "document_title", "project_name", "project_path", "branch",
             "base_commit")  # fmt: skip
_ROW_INTEGERS = ("test_delta", "phases_planned", "phases_completed", "total_tokens")
_ROW_NUMBERS = ("duration_seconds", "cost_usd")
_ROW_TIMES = ("started_at", "completed_at")


def entry_values_fit(values: Mapping[str, Any]) -> bool:
    """Whether an entry's values as a backend stored them (times as JSON text) are of the
    types an :class:`Entry` holds: a stranger's store can hold anything."""
    get = values.get
    for name in _ROW_TEXT:
        value = get(name)
        if value is not None and type(value) is not str:
            return False
    for name in _ROW_INTEGERS:
        value = get(name)
        if value is not None and (type(value) is not int or abs(value) > MAX_NUMBER):
            return False
    for name in _ROW_NUMBERS:
        value = get(name)
        if value is not None and (type(value) not in (int, float) or not abs(value) <= MAX_NUMBER):
            return False
    for name in _ROW_TIMES:
        value = get(name)
        if value is not None:
            if type(value) is not str:
                return False
            try:
                datetime_from_json(value)
            except ValueError:
                return False
    return True


def holds_many_projects(store: Any) -> bool:
    """Whether ``store`` holds several projects (a database) or one (a project's JSON files):
    the backend's ``multi_project`` attribute, else what its :meth:`Store.info` says."""
    many = getattr(store, "multi_project", None)
    return bool(store.info().multi_project if many is None else many)


def claim_for_project(record: ExecutionRecord, project_path: str) -> ExecutionRecord:
    """In a store of many projects an execution belongs to the project it was imported (or
    migrated) into: a report written on another machine states that machine's path, under
    which ``show`` in this project would never find it. The stated path is kept in
    ``extra["reported_project_path"]``."""
    if record.project_path != project_path:
        if record.project_path:
            record.extra.setdefault("reported_project_path", record.project_path)
        record.project_path = project_path
    return record


def loaded_in_order(
    keys: Iterable[str],
    found: Mapping[str, Any],
    load: Callable[[str, Any], ExecutionRecord | None],
) -> Iterator[ExecutionRecord]:
    """The records of ``keys`` in their order, from a database's rows ``found`` (key → stored
    record): vanished rows are skipped, and so are those ``load`` sets aside (``None``)."""
    for key in keys:
        data = found.get(key)
        if data is None:
            continue
        record = load(key, data)
        if record is not None:
            yield record


class SaveAction(str, Enum):
    """What became of one execution on import. A store's :meth:`Store.save` answers one of
    the first three; ``FAILED`` is the import's, for a report that could not be read. The
    values are the words the command line and the ``record_stored`` hooks use."""

    IMPORTED = "imported"
    REPLACED = "replaced"
    ALREADY = "already"
    FAILED = "failed"

    @property
    def stored(self) -> bool:
        """Whether the execution was written (the ``record_stored`` hooks hear of it)."""
        return self in (SaveAction.IMPORTED, SaveAction.REPLACED)


@dataclass
class SaveOutcome:
    """What :meth:`Store.save` did with one record: ``action`` is
    :attr:`SaveAction.IMPORTED`, ``REPLACED`` or ``ALREADY``; ``execution_id`` is the id
    stored (for ``ALREADY`` and ``REPLACED``, the id the execution already had);
    ``location`` is where it is (the JSON store's record file), when the backend has such
    a thing. A backend may give the action as its value (``"imported"``); it is made a
    :class:`SaveAction`."""

    action: SaveAction
    execution_id: str
    location: str | None = None
    #: A problem that did not stop the save (say, a cache that could not be written).
    warning: str | None = None

    def __post_init__(self) -> None:
        self.action = SaveAction(self.action)


@dataclass
class ProjectCount:
    name: str | None
    path: str | None
    count: int


@dataclass
class StoreInfo:
    """What ``store info`` prints. ``location`` never holds a password."""

    backend: str
    location: str
    count: int
    projects: list[ProjectCount] = field(default_factory=list)
    schema_version: str = ""
    #: Whether one store may hold several projects' executions (``find(project=…)``
    #: filters then); a JSON store holds one project's and ignores ``project``.
    multi_project: bool = False

    def project_name(self, path: str | None = None) -> str | None:
        """The name of the project at ``path`` (of the largest project for ``None``)."""
        chosen = [p for p in self.projects if path is None or p.path == path]
        chosen.sort(key=lambda p: p.count, reverse=True)
        return next((p.name for p in chosen if p.name), None)

    def count_for(self, path: str | None) -> int:
        if path is None or not self.multi_project:
            return self.count
        return sum(p.count for p in self.projects if p.path == path)


@dataclass
class Finding:
    """One thing :meth:`Store.check` found: ``level`` is ``"ok"``, ``"note"`` (worth
    knowing, not wrong) or ``"problem"``. ``check`` names what was checked; a finding whose
    ``check`` is ``"repair"`` says what ``check(repair=True)`` did."""

    check: str
    message: str
    level: str = "problem"

    @property
    def problem(self) -> bool:
        return self.level == "problem"


# -- the interface ---------------------------------------------------------------------------


def store_location(store: Any) -> str:
    """Where ``store`` is, as ``info().location`` says it (never a password): its
    ``location`` when it has one (every store here: no query, no count), else ``info()``'s
    (a plugin's store)."""
    location = getattr(store, "location", None)
    return location if isinstance(location, str) else store.info().location


@runtime_checkable
class Store(Protocol):
    """One store of execution records. Every method may raise :class:`StorageError` (an
    ``AnalyticsError``: one line for the user) and nothing else for a problem of the store
    (unreadable, locked, full disk, bad URL)."""

    #: The URL the store was opened with, password removed (safe to print).
    url: str
    # A store may also have ``location``, what ``info().location`` says, so that a command
    # that only names the store need not count its executions (:func:`store_location`).

    def find(
        self, query: AnalyticsQuery | None = None, *, project: str | None = None
    ) -> Iterator[Entry]:
        """Entries matching ``query`` newest first (:func:`sort_newest_first`), at most
        ``query.limit``; lazy, so ``show --last 5`` builds five. ``project`` (a project
        path as records carry it) keeps that project's only, in a store that holds
        several; ``None`` is every project."""
        ...

    def read(self, entries: Iterable[Entry]) -> Iterator[ExecutionRecord]:
        """The full records of ``entries``, in their order. A record that vanished since is
        skipped; one that cannot be loaded is set aside (quarantined) with one warning and
        skipped."""
        ...

    def get(self, execution_id: str) -> ExecutionRecord:
        """The execution with this id or unique prefix (at least :data:`MIN_PREFIX_LENGTH`
        characters, case-insensitive, dashes optional). ``ExecutionNotFoundError`` if none
        (and for anything that could not be an id: empty, ``..``, a path);
        ``StorageError`` naming the candidates if the prefix is ambiguous."""
        ...

    def info(self) -> StoreInfo:
        """Backend, location, count, projects and schema version."""
        ...

    def save(
        self, records: Sequence[ExecutionRecord], *, replace: bool = False
    ) -> list[SaveOutcome]:
        """Store ``records`` in one transaction: all or (a full disk, a permission error:
        ``StoreWriteError``) none. Idempotent by identity: an execution already stored (the
        same identity, or the same id) is ``"already"``, unless ``replace``, which replaces
        it and keeps its stored id (the record's ``execution_id`` is set to it). One
        outcome per record, in order; records repeated within the batch count once."""
        ...

    def delete(self, execution_ids: Iterable[str], *, missing_ok: bool = False) -> list[Entry]:
        """Delete executions by id or unique prefix, in one transaction; return the entries
        removed. An id that matches nothing raises ``ExecutionNotFoundError`` before
        anything is deleted, unless ``missing_ok``."""
        ...

    def check(self, *, repair: bool = False) -> list[Finding]:
        """What ``doctor`` prints: findings about the store, after repairing what can be
        repaired when ``repair``. Never raises for damage it can describe."""
        ...

    def close(self) -> None:
        """Release connections and locks; the store is not used afterwards."""
        ...


class Aggregates(Protocol):
    """Optional: aggregates a store computes in its database instead of handing every entry
    (or record) to Python. A store may have any of these methods, or none;
    :class:`phaser_analytics.aggregates.Selected` calls a method the store has and uses the
    Python implementation of :mod:`phaser_analytics.aggregates` for the others. Each must
    return what that implementation returns over ``find(query, project=project)`` (or
    those entries' records), the same objects; it may raise
    :class:`phaser_analytics.aggregates.NotAggregated` to leave one call to Python.
    tests/test_sql_aggregates.py holds each backend's figures to the Python path's."""

    def stats(
        self, query: AnalyticsQuery | None = None, *, project: str | None = None
    ) -> AggregatedStats:
        """:meth:`AggregatedStats.compute` of the entries."""
        ...

    def stats_by_period(
        self, query: AnalyticsQuery | None, by: str, zone: tzinfo | None, *,
        project: str | None = None,
    ) -> dict[date, AggregatedStats]:  # fmt: skip
        """``aggregates.stats_by_period``: the stats of the dated entries of each day, ISO
        week or month (``by``) in ``zone`` (``None``: local), by its first day."""
        ...

    def usage(
        self, query: AnalyticsQuery | None, zone: tzinfo | None, *, project: str | None = None
    ) -> Usage:
        """``aggregates.usage``: executions and failed ones per local hour and weekday."""
        ...

    def periods_with_stats(
        self, query: AnalyticsQuery | None, by: str, zone: tzinfo | None, *,
        project: str | None = None,
    ) -> tuple[dict[date, AggregatedStats], AggregatedStats | None]:  # fmt: skip
        """``stats_by_period`` and, when the same pass over the database gives them,
        ``stats`` (else ``None``: ``Selected`` asks ``stats``), as ``trends`` needs both."""
        ...

    def usage_with_stats(
        self, query: AnalyticsQuery | None, zone: tzinfo | None, *, project: str | None = None
    ) -> tuple[Usage, AggregatedStats | None]:
        """``usage`` and, when the same pass gives them, ``stats`` (as above), as
        ``failures`` needs both."""
        ...

    def phase_summaries(
        self, query: AnalyticsQuery | None, *, project: str | None = None
    ) -> list[PhaseSummary]:
        """``aggregates.phase_summaries`` of the records: per phase number, in order."""
        ...

    def reason_counts(
        self, query: AnalyticsQuery | None, top: int | None = None, *,
        project: str | None = None,
    ) -> list[ReasonCount]:  # fmt: skip
        """``aggregates.reason_counts`` of the records: failure reasons, most first, the
        first ``top`` of them (``None``: every one)."""
        ...


# -- ids ---------------------------------------------------------------------------------------


def check_ids(records: Iterable[ExecutionRecord]) -> None:
    """Refuse, before anything is written, a batch holding an id that is not safe as part
    of a file name (what :meth:`Store.save` raises for it)."""
    for record in records:
        if not is_valid_execution_id(record.execution_id):
            raise StorageError(
                f"Cannot store an execution with the id {record.execution_id!r}: an id is "
                "letters, digits, '-' and '_'."
            )


def resolve_id(execution_id: str, entries: Iterable[Entry]) -> Entry:
    """The entry of a full id or unique prefix among ``entries`` (as :meth:`Store.get`
    describes); for backends that resolve in Python."""
    if not is_valid_execution_id(execution_id):
        raise ExecutionNotFoundError(execution_id)
    wanted = execution_id.lower()
    compact = wanted.replace("-", "")
    matches = []
    for entry in entries:
        lowered = entry.execution_id.lower()
        if lowered == wanted:
            return entry
        if lowered.startswith(wanted) or lowered.replace("-", "").startswith(compact):
            matches.append(entry)
    return pick_match(execution_id, matches)


def pick_match(execution_id: str, matches: Sequence[Entry]) -> Entry:
    """The one entry a prefix matched; the not-found, too-short and ambiguous errors."""
    if not matches:
        raise ExecutionNotFoundError(execution_id)
    if len(execution_id.replace("-", "")) < MIN_PREFIX_LENGTH:
        raise StorageError(
            f"Execution id prefix '{execution_id}' is too short; give at least "
            f"{MIN_PREFIX_LENGTH} characters."
        )
    if len(matches) > 1:
        shown = sort_newest_first(matches)[:10]
        described = "; ".join(
            f"{e.execution_id} ({e.audit_document or '?'}, "
            f"{e.started_at.date().isoformat() if e.started_at else 'unknown date'})"
            for e in shown
        )
        more = f" and {len(matches) - len(shown)} more" if len(matches) > len(shown) else ""
        raise StorageError(
            f"Execution id '{execution_id}' is ambiguous; it matches {described}{more}. "
            "Give more characters."
        )
    return matches[0]


# -- URLs ----------------------------------------------------------------------------------------

#: ``opener(url, *, project_dir, warn) -> Store``: what ``register_stores`` registers.
Opener = Callable[..., Store]

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


def url_scheme(url: str) -> str:
    """The scheme of a store URL: ``file`` for a plain path (and a Windows drive letter)."""
    match = _SCHEME.match(url)
    if match is None or len(match.group(1)) == 1:
        return "file"
    return match.group(1).lower()


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``: in the authority
    (``postgresql://u:pw@h/db``) and as a ``password=`` parameter (libpq's)."""
    if "@" not in url and "password=" not in url:
        return url  # nothing to hide: no pattern compiled (every command opens a store)
    url = re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/@:?#]*):[^@?#]*@", r"\1:***@", url)
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", url)


def shared_store_url(explicit: str | None, project_dir: Path) -> bool:
    """Whether the store URL in force may name a store shared between projects: one from
    ``--store``, ``PHASER_STORE`` or the user's config, which commands in any project are
    given alike, so they find its projects there. Not one from the project's own config:
    that may only name a store inside the project (:func:`store_url_from_config`), which
    commands elsewhere never open; such a project is found through the registry."""
    import os

    if explicit or os.environ.get("PHASER_STORE"):
        return True
    from ..config import store_setting

    setting = store_setting(project_dir)
    return setting is not None and setting[2]


def global_store_url(explicit: str | None, project_dir: Path) -> str | None:
    """For ``--global``: the store shared between projects that is in force — ``--store``,
    ``PHASER_STORE``, else ``analytics.store`` of the user's own config — or ``None``:
    every registered project, each from its own store. The working directory's project
    config is not asked: a store it names is that project's own, found through the
    registry like every other project's, so ``--global`` reads the same wherever it runs."""
    import os

    if explicit:
        return explicit
    env = os.environ.get("PHASER_STORE")
    if env:
        return env
    from ..config import store_setting

    setting = store_setting(project_dir, of_project=False)
    return setting[0] if setting is not None else None


def store_url_from_config(project_dir: Path) -> str | None:
    """``analytics.store`` from the project's config, else the global one (``None``).

    The project's config is untrusted (a cloned repository): a URL from it may only name a
    store inside the project, so a relative path or ``sqlite:relative.db`` (resolved
    against the project), never an absolute path, ``..`` or another scheme.
    """
    from ..config import store_setting

    setting = store_setting(project_dir)
    if setting is None:
        return None
    value, source, trusted = setting
    if trusted:
        return value
    return _confined(value, project_dir, source)


def _confined(value: str, project_dir: Path, source: Path) -> str:
    scheme = url_scheme(value)
    body = value[len(scheme) + 1 :] if scheme == "sqlite" else value
    if scheme not in ("file", "sqlite") or value.startswith("file:") or body.startswith("/"):
        raise StorageError(
            f"{source}: analytics.store must be a path inside the project in a project's "
            f"config (got {value!r}); set other stores with --store or PHASER_STORE."
        )
    root = project_dir.resolve()
    target = (root / body).resolve()
    if target != root and root not in target.parents:
        raise StorageError(
            f"{source}: analytics.store {value!r} leaves the project; refusing to use it."
        )
    return f"sqlite:///{target}" if scheme == "sqlite" else str(target)


def resolve_store_url(explicit: str | None, project_dir: Path) -> str | None:
    """The store URL in force: ``--store``, else ``PHASER_STORE``, else config
    ``analytics.store`` (project beats global); ``None`` for the default JSON store."""
    import os

    if explicit:
        return explicit
    env = os.environ.get("PHASER_STORE")
    if env:
        return env
    return store_url_from_config(project_dir)
