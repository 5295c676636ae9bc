"""Stores: the interface (:mod:`.base`), its backends one module each, and the spec's §11.1
functions, which go through the interface (docs/storage.md).

The §11.1 functions use the store in force for ``project_dir`` (``PHASER_STORE``, config
``analytics.store``, else the project's JSON store), as the command line does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import StoreWriteError

if TYPE_CHECKING:
    from ..models import ExecutionRecord
    from .base import Store


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


def project_store(project_dir: Path) -> Store:
    """The store in force for ``project_dir``."""
    from .base import open_store, resolve_store_url

    return open_store(resolve_store_url(None, Path(project_dir)), project_dir=Path(project_dir))


def save_execution(record: ExecutionRecord, project_dir: Path) -> Path:
    """Save an execution record and update the index; return the record file's path (for a
    store without files, the store's location). An execution already stored with the same id
    or identity is replaced, keeping its id."""
    store = project_store(project_dir)
    try:
        outcome = store.save([record], replace=True)[0]
        return Path(outcome.location or store.info().location)
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
