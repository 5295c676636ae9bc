"""The built-in PostgreSQL store (``postgresql://`` and ``postgres://`` URLs), registered
through the ``register_stores`` hook like a plugin's. psycopg is imported only when such a
URL is opened (``phaser_analytics.stores.postgres``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..hookspecs import hookimpl


def open_postgres(url: str, *, project_dir: Path | None = None, warn: Any = None) -> Any:
    from ..stores.postgres import open_postgres as opener

    return opener(url, project_dir=project_dir, warn=warn)


@hookimpl
def register_stores(register: Any) -> None:
    register("postgresql", open_postgres)
    register("postgres", open_postgres)
