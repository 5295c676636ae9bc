"""The tests' own PostgreSQL server (tests/pgserver.py, tests/pg_fixtures.py) does what the
PostgreSQL tests rely on: a real server, never run as root, on 127.0.0.1 only, passwords
checked, a database per test, and a stop and start that keep the data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from pgserver import ROLE, PgServer

TESTS = Path(__file__).resolve().parent


def test_the_server_listens_on_loopback_only(postgres_server: PgServer, pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (ROLE,)
    with postgres_server.connect() as conn:  # the superuser may read every setting
        assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
        assert conn.execute("SHOW unix_socket_directories").fetchone() == ("",)


def test_the_server_never_runs_as_root(postgres_server: PgServer, pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        (pid,) = conn.execute("SELECT pg_backend_pid()").fetchone()
        # Read while the connection is open: its backend process ends when it closes.
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
    assert int(uid) != 0
    assert int(uid) == os.stat(postgres_server.data).st_uid


def test_a_wrong_password_is_refused(postgres_server: PgServer, pg_url: str) -> None:
    bad = pg_url.replace(postgres_server.role_password, "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(bad, connect_timeout=10)


def test_each_test_gets_its_own_empty_database(postgres_server: PgServer, pg_url: str) -> None:
    other = postgres_server.url(postgres_server.create_database())
    assert other != pg_url
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE only_here (n int)")
    with psycopg.connect(other) as conn:
        assert conn.execute("SELECT to_regclass('only_here')").fetchone() == (None,)


def test_stop_and_start_keep_the_data_and_the_port(postgres_server: PgServer, pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept AS SELECT 42 AS n")
    port = postgres_server.port
    postgres_server.stop(mode="immediate", remove=False)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg_url, connect_timeout=5)
    postgres_server.start()
    assert postgres_server.port == port
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT n FROM kept").fetchone() == (42,)


def test_the_binaries_are_found_under_a_minimal_path(
    postgres_server: PgServer, tmp_path: Path
) -> None:
    """CI runs the README command under `env -i` with a minimal PATH: Debian keeps the server
    binaries in /usr/lib/postgresql/*/bin, off PATH, and they must still be found."""
    code = "from pgserver import find_bindir; bindir, why = find_bindir(); print(bindir or why)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=TESTS, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == postgres_server.bindir


def test_without_the_binaries_the_reason_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import pgserver

    monkeypatch.setattr(pgserver, "find_binary", lambda name, globs=(): None)
    monkeypatch.setattr(pgserver, "ensure_debian_package",
                        lambda package: f"not root: apt-get install {package}")
    bindir, why = pgserver.find_bindir()
    assert bindir is None
    assert "initdb" in why and "apt-get install postgresql" in why
    with pytest.raises(pgserver.Unavailable, match="apt-get install postgresql"):
        PgServer.create()


def test_apt_gets_sbin_directories_under_a_minimal_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """dpkg refuses to run without /usr/sbin and /sbin on PATH, which `env -i` leaves out."""
    import sysdeps

    seen: list[dict[str, str]] = []
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setattr(sysdeps, "_updated", False)  # restored afterwards
    monkeypatch.setattr(sysdeps.os, "geteuid", lambda: 0)
    monkeypatch.setattr(sysdeps.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(sysdeps.subprocess, "run", lambda cmd, env, **kw: seen.append(env))
    assert sysdeps.ensure_debian_package.__wrapped__("postgresql") is None
    assert seen and all(
        {"/usr/bin", "/bin", "/usr/sbin", "/sbin"} <= set(env["PATH"].split(":")) for env in seen
    )
