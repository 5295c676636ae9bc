"""Stores: the interface (:mod:`.base`), its backends one module each, :func:`open_store`
(which picks the backend a URL names), and the spec's §11.1 functions, which go through
the interface (docs/storage.md).

The §11.1 functions use the store in force for ``project_dir`` (``PHASER_STORE``, config
``analytics.store``, else the project's JSON store), as the command line does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StorageError, StoreWriteError
from .base import (
    Opener,
    Store,
    Warn,
    redact,
    resolve_store_url,
    stderr_warning,
    store_location,
    url_scheme,
)

if TYPE_CHECKING:
    from ..models import ExecutionRecord


def get_analytics_dir(project_dir: Path) -> Path:
    """Get the analytics directory for a project: ``{project}/.phaser/analytics``."""
    return Path(project_dir) / ".phaser" / "analytics"


def ensure_analytics_dir(project_dir: Path) -> Path:
    """Ensure the analytics directory (and its ``executions/``) exists; return it."""
    analytics_dir = get_analytics_dir(project_dir)
    try:
        (analytics_dir / "executions").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreWriteError(analytics_dir) from exc
    return analytics_dir


def project_store(
    project_dir: Path, url: str | None = None, *, warn: Warn = stderr_warning
) -> Store:
    """The store in force for ``project_dir``: ``url`` (``--store``), else ``PHASER_STORE``,
    else config ``analytics.store``, else the project's JSON store."""
    project_dir = Path(project_dir)
    return open_store(resolve_store_url(url, project_dir), project_dir=project_dir, warn=warn)


def save_execution(record: ExecutionRecord, project_dir: Path) -> Path:
    """Save an execution record and update the index; return the record file's path (for a
    store without files, the store's location). An execution already stored with the same id
    or identity is replaced, keeping its id."""
    store = project_store(project_dir)
    try:
        outcome = store.save([record], replace=True)[0]
        return Path(outcome.location or store_location(store))
    finally:
        store.close()


def load_execution(execution_id: str, project_dir: Path) -> ExecutionRecord:
    """Load an execution record by id (or unique id prefix); ``ExecutionNotFoundError``
    (an ``AnalyticsError``) if there is none."""
    store = project_store(project_dir)
    try:
        return store.get(execution_id)
    finally:
        store.close()


def delete_execution(execution_id: str, project_dir: Path) -> None:
    """Delete an execution record and update the index; ``ExecutionNotFoundError`` if
    there is none."""
    store = project_store(project_dir)
    try:
        store.delete([execution_id])
    finally:
        store.close()


def update_index(project_dir: Path) -> None:
    """Rebuild the analytics index from the execution files (``doctor --repair``)."""
    store = project_store(project_dir)
    try:
        store.check(repair=True)
    finally:
        store.close()


def open_store(
    url: str | None = None,
    *,
    project_dir: Path | None = None,
    warn: Warn = stderr_warning,
    host: Any = None,
) -> Store:
    """Open the store ``url`` names (``None``: the JSON store of ``project_dir``).

    The scheme's opener comes from the plugins' ``register_stores`` hooks (the built-ins
    register ``file`` and ``sqlite`` through it). An unknown scheme is a one-line
    ``StorageError`` listing the schemes installed.
    """
    if url is None:
        if project_dir is None:
            raise StorageError("No store: give a store URL or a project directory.")
        from .json_files import JsonStore

        return JsonStore.for_project(Path(project_dir), warn=warn)
    if host is None:
        from ..plugins import get_host

        host = get_host()
    scheme = url_scheme(url)
    openers: dict[str, Opener] = host.stores
    opener = openers.get(scheme)
    if opener is None:
        known = ", ".join(sorted(openers)) or "none"
        raise StorageError(
            f"Unknown store scheme '{scheme}' in {redact(url)}; installed schemes: {known}."
        )
    return opener(url, project_dir=project_dir, warn=warn)
