"""The store backends the conformance suite (tests/test_store_conformance.py) runs over.

A backend joins by appending a :class:`Backend` to :data:`BACKENDS`:

- ``make_url(tmp_path, project)`` returns the URL of a fresh, empty store (``None``: the
  project's default JSON store); it may ``pytest.skip`` when the backend cannot be had;
- ``corrupt(url, project, execution_id)`` damages the stored record of that execution so
  that loading it raises (as a hand-edited or newer file would);
- ``multi_project``: whether ``find(project=…)`` filters (one store, many projects).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Backend:
    name: str
    make_url: Callable[[Path, Path], str | None]
    corrupt: Callable[[str | None, Path, str], None]
    multi_project: bool = False

    def __str__(self) -> str:
        return self.name


def _json_url(tmp_path: Path, project: Path) -> str | None:
    return None


def _json_corrupt(url: str | None, project: Path, execution_id: str) -> None:
    executions = project / ".phaser" / "analytics" / "executions"
    for path in executions.glob("*.json"):
        data = json.loads(path.read_text())
        if data["execution_id"] == execution_id:
            data["status"] = "not-a-status"
            path.write_text(json.dumps(data))
            return
    raise AssertionError(f"no record file of {execution_id}")


def _sqlite_url(tmp_path: Path, project: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def _sqlite_corrupt(url: str | None, project: Path, execution_id: str) -> None:
    assert url is not None
    db = sqlite3.connect(url[len("sqlite://") :])
    with db:
        (text,) = db.execute(
            "SELECT record FROM executions WHERE execution_id = ?", (execution_id,)
        ).fetchone()
        data = json.loads(text)
        data["status"] = "not-a-status"
        db.execute(
            "UPDATE executions SET record = ? WHERE execution_id = ?",
            (json.dumps(data), execution_id),
        )
    db.close()


def _postgres_url(tmp_path: Path, project: Path) -> str:
    """A new database on the session's PostgreSQL server (tests/pg_fixtures.py), which
    skips the test with a reason where PostgreSQL cannot be had."""
    from pg_fixtures import session_server

    server = session_server()
    return server.url(server.create_database())


def _postgres_corrupt(url: str | None, project: Path, execution_id: str) -> None:
    import psycopg

    assert url is not None
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE phaser_executions SET record = record || '{\"status\": \"not-a-status\"}' "
            "WHERE execution_id = %s",
            (execution_id,),
        )


BACKENDS = [
    Backend("json", _json_url, _json_corrupt, multi_project=False),
    Backend("sqlite", _sqlite_url, _sqlite_corrupt, multi_project=True),
    Backend("postgresql", _postgres_url, _postgres_corrupt, multi_project=True),
]
