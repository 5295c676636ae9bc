"""The global project registry (spec §4.5): ``$PHASER_HOME/projects.json``.

Every import registers its project, so ``--global`` can aggregate across projects.
``PHASER_HOME`` defaults to ``~/.phaser``. The registry is a convenience: when it cannot be
written, the project-local import still succeeds and a warning says so.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import StorageError
from .home import phaser_home
from .models import datetime_from_json, datetime_to_json, utcnow
from .stores.files import LOCK_TIMEOUT_SECONDS, atomic_write_text, hold_lock

REGISTRY_SCHEMA_VERSION = "1.0"


def registry_path() -> Path:
    return phaser_home() / "projects.json"


@dataclass
class ProjectEntry:
    """One registered project: where it is, and what its last import saw."""

    name: str
    path: str
    last_seen: datetime | None
    execution_count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "last_seen": datetime_to_json(self.last_seen),
            "execution_count": self.execution_count,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProjectEntry:
        return cls(
            name=str(data.get("name") or Path(data["path"]).name),
            path=str(data["path"]),
            last_seen=datetime_from_json(data.get("last_seen")),
            execution_count=int(data.get("execution_count") or 0),
        )

    def exists(self) -> bool:
        return Path(self.path).is_dir()


def load_projects() -> list[ProjectEntry]:
    """The registered projects; an absent registry is an empty one."""
    path = registry_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [ProjectEntry.from_dict(item) for item in data.get("projects", [])]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StorageError(
            f"The project registry {path} is unreadable ({exc}); fix or delete it."
        ) from exc


def _save_projects(projects: list[ProjectEntry]) -> None:
    payload = {
        "schema_version": REGISTRY_SCHEMA_VERSION,
        "projects": [p.to_dict() for p in sorted(projects, key=lambda p: p.path)],
    }
    atomic_write_text(registry_path(), json.dumps(payload, indent=2) + "\n")


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """Hold the registry's lock: imports of several projects finish at the same time."""
    home = phaser_home()
    home.mkdir(parents=True, exist_ok=True)
    with hold_lock(home / ".projects.lock", LOCK_TIMEOUT_SECONDS):
        yield


def register_project(
    project_dir: Path,
    name: str,
    execution_count: int,
    *,
    warn: Callable[[str], None] | None = None,
) -> None:
    """Record (or refresh) a project in the registry; failures only warn."""
    path = str(Path(project_dir).resolve())
    try:
        with _locked():
            projects = [p for p in load_projects() if p.path != path]
            projects.append(ProjectEntry(name, path, utcnow(), execution_count))
            _save_projects(projects)
    except (OSError, StorageError) as exc:
        # The registry only serves --global; the project-local import has succeeded.
        if warn is not None:
            warn(
                f"could not update the project registry in {phaser_home()} ({_why(exc)}); "
                "the import itself succeeded."
            )


def update_execution_count(
    project_dir: Path, execution_count: int, *, warn: Callable[[str], None] | None = None
) -> None:
    """Refresh the count of a registered project (after ``clear``); an unregistered project
    stays unregistered, and failures only warn."""
    path = str(Path(project_dir).resolve())
    try:
        if not any(p.path == path for p in load_projects()):
            return
        with _locked():
            projects = load_projects()
            for project in projects:
                if project.path == path:
                    project.execution_count = execution_count
            _save_projects(projects)
    except (OSError, StorageError) as exc:
        if warn is not None:
            warn(f"could not update the project registry in {phaser_home()} ({_why(exc)}).")


def prune_projects() -> list[ProjectEntry]:
    """Remove projects whose directory is gone; return the removed entries."""
    try:
        with _locked():
            projects = load_projects()
            gone = [p for p in projects if not p.exists()]
            if gone:
                _save_projects([p for p in projects if p.exists()])
    except OSError as exc:
        raise StorageError(
            f"Cannot update the project registry in {phaser_home()} ({_why(exc)})."
        ) from exc
    return gone


def _why(exc: Exception) -> str:
    """A short reason: the OS's words for OS errors (a lock timeout says it waited)."""
    if isinstance(exc, TimeoutError):
        return f"its lock was busy for {LOCK_TIMEOUT_SECONDS:g}s"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
