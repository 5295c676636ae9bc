"""The built-in stores, registered through the ``register_stores`` hook like a plugin's.

Each opener imports its backend when a store of its scheme is opened, so loading plugins
costs no backend import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..hookspecs import hookimpl


def open_json(url: str, *, project_dir: Path | None = None, warn: Any = None) -> Any:
    from ..stores.json_files import JsonStore

    return JsonStore.from_url(url, **({"warn": warn} if warn is not None else {}))


def open_sqlite(url: str, *, project_dir: Path | None = None, warn: Any = None) -> Any:
    from ..stores.sqlite import SqliteStore

    options = {"warn": warn} if warn is not None else {}
    return SqliteStore.from_url(url, project_dir=project_dir, **options)


@hookimpl
def register_stores(register: Any) -> None:
    register("file", open_json)
    register("sqlite", open_sqlite)
