"""A throwaway PostgreSQL server for the tests and the benchmark.

`PgServer.create()` finds Debian's PostgreSQL binaries (PATH, then /usr/lib/postgresql/*/bin),
installs the `postgresql` Debian package when they are missing and this process may
(tests/sysdeps.py), makes a data directory in a fresh temporary directory, and starts the
server on a free port, listening on 127.0.0.1 only (no Unix socket). PostgreSQL refuses to run
as root, so as root every server command runs as the `postgres` user through `runuser`, and
the temporary directory (made with `tempfile`, outside pytest's 0700 tmp tree) is handed to
that user. `stop()` shuts the server down and removes everything it made.

The superuser `postgres` and a login role `phaser` (who owns the databases the tests make)
both have a password, and every host connection is checked with scram-sha-256, so a wrong
password is refused as on a real team server.

This module needs no pytest: bench/run.py starts its server with it too.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sysdeps import ensure_debian_package, find_binary

PACKAGE = "postgresql"
BIN_GLOBS = ("/usr/lib/postgresql/*/bin",)
SBIN_GLOBS = ("/usr/sbin", "/sbin")
ROLE = "phaser"
SUPERUSER = "postgres"
#: The system user the server runs as when this process is root.
RUN_AS = ("postgres", "nobody")

#: Settings for a disposable server: durability off (nothing here outlives the run), small.
_SETTINGS = """
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 60
shared_buffers = 32MB
fsync = off
full_page_writes = off
logging_collector = off
log_min_messages = warning
"""


class Unavailable(RuntimeError):
    """PostgreSQL cannot be started here; the message says what to install or do."""


class StartFailed(RuntimeError):
    """The binaries are here but the server did not start; the message holds its log."""


def find_bindir() -> tuple[Path | None, str | None]:
    """The directory holding initdb, pg_ctl and postgres, or None and why not."""
    initdb = find_binary("initdb", BIN_GLOBS)
    if initdb is None:
        why = ensure_debian_package(PACKAGE)
        if why is not None:
            return None, f"no PostgreSQL server binaries (initdb) found; {why}"
        initdb = find_binary("initdb", BIN_GLOBS)
        if initdb is None:
            return None, f"the Debian package {PACKAGE!r} is installed but initdb is not found"
    bindir = Path(os.path.realpath(initdb)).parent
    missing = [name for name in ("pg_ctl", "postgres") if not (bindir / name).exists()]
    if missing:
        return None, f"{bindir} has initdb but not {', '.join(missing)}: reinstall {PACKAGE!r}"
    return bindir, None


def may_install() -> bool:
    """Whether a missing package is ours to install (root with apt-get), not a reason to skip."""
    return os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get") is not None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run_as_user() -> str | None:
    """The system user to run the server as: None when this process is not root."""
    if os.geteuid() != 0:
        return None
    import pwd

    for name in RUN_AS:
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise Unavailable(f"running as root and no {' or '.join(RUN_AS)} user to run PostgreSQL as")


@dataclass
class PgServer:
    """One running server; `url()` gives a libpq URL for a role and database on it."""

    bindir: Path
    base: Path
    port: int = 0
    superuser_password: str = field(default_factory=lambda: secrets.token_hex(12))
    role_password: str = field(default_factory=lambda: secrets.token_hex(12))
    user: str | None = None
    version: str = ""
    running: bool = False
    runuser: str | None = None
    _databases: int = 0

    # -- life cycle ---------------------------------------------------------------------------

    @classmethod
    def create(cls, bindir: Path | None = None) -> PgServer:
        """initdb and start a new server; Unavailable or StartFailed if that cannot be done."""
        if bindir is None:
            bindir, why = find_bindir()
            if bindir is None:
                raise Unavailable(why)
        user = _run_as_user()
        runuser = find_binary("runuser", SBIN_GLOBS) if user else None
        if user and runuser is None:
            raise Unavailable("running as root without runuser (util-linux) to start PostgreSQL")
        base = Path(tempfile.mkdtemp(prefix="phaser-pg-"))
        server = cls(bindir=bindir, base=base, user=user, runuser=runuser)
        try:
            server._initdb()
            server.start()
            server._create_role()
        except BaseException:
            server.stop()
            raise
        return server

    def _command(self, binary: str, *args: str) -> list[str]:
        command = [str(self.bindir / binary), *args]
        if self.user:
            return [self.runuser, "-u", self.user, "--", *command]
        return command

    def _run(self, binary: str, *args: str, timeout: float = 120) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", TZ="UTC")
        result = subprocess.run(
            self._command(binary, *args), cwd=self.base, env=env, capture_output=True,
            text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise StartFailed(
                f"{binary} {' '.join(args[:2])} failed (exit {result.returncode}):\n"
                f"{result.stdout}{result.stderr}{self.log_tail()}"
            )
        return result.stdout

    def _initdb(self) -> None:
        os.chmod(self.base, 0o700)
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.superuser_password + "\n", encoding="utf-8")
        pwfile.chmod(0o600)
        if self.user:
            import pwd

            entry = pwd.getpwnam(self.user)
            for path in (self.base, pwfile):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-U", SUPERUSER, f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
            "--encoding=UTF8", "--locale=C", "--no-sync",
        )
        pwfile.unlink()
        # Written as root into the server's own file: appending keeps the file's owner.
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as handle:
            handle.write(_SETTINGS)
        found = re.search(r"\d+(?:\.\d+)+", self._run("postgres", "--version"))
        self.version = found.group(0) if found else "?"

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def log(self) -> Path:
        return self.base / "server.log"

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> None:
        """Start (again) on this server's port, or on a free one the first time."""
        attempts = 1 if self.port else 3
        for attempt in range(attempts):
            port = self.port or free_port()
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", f"-p {port}",
                          "-w", "-t", "60", "start")
            except StartFailed:
                if attempt + 1 == attempts or "could not bind" not in self.log_tail(50):
                    raise
                continue
            self.port = port
            self.running = True
            return

    def stop(self, mode: str = "fast", remove: bool = True) -> None:
        """Stop the server (`mode` as pg_ctl's -m); with `remove`, delete its directory too."""
        if self.data.exists() and (self.data / "postmaster.pid").exists():
            for how in (mode, "immediate"):
                try:
                    self._run("pg_ctl", "-D", str(self.data), "-m", how, "-w", "-t", "60",
                              "stop")
                    break
                except (StartFailed, subprocess.TimeoutExpired):
                    continue
        self.running = False
        if remove:
            shutil.rmtree(self.base, ignore_errors=True)

    # -- roles, databases and URLs ------------------------------------------------------------

    def url(self, dbname: str = "postgres", user: str = ROLE, password: str | None = None) -> str:
        if password is None:
            password = self.superuser_password if user == SUPERUSER else self.role_password
        return (f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}"
                f"@127.0.0.1:{self.port}/{quote(dbname, safe='')}")

    def connect(self, dbname: str = "postgres", user: str = SUPERUSER, **kwargs: Any) -> Any:
        """A psycopg connection (autocommit) for set-up and for checking what was written."""
        import psycopg

        return psycopg.connect(self.url(dbname, user), autocommit=True, connect_timeout=10,
                               **kwargs)

    def _create_role(self) -> None:
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(ROLE), sql.Literal(self.role_password)))

    def create_database(self, name: str | None = None, owner: str = ROLE) -> str:
        """A new empty database owned by `owner`; its name."""
        from psycopg import sql

        if name is None:
            self._databases += 1
            name = f"t{self._databases}_{secrets.token_hex(3)}"
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(owner)))
        return name

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.connect():
                    return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def run_sql(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    """``sql`` on a connection of the URL's own role (autocommit), beside the store's, as
    psql would run it; the rows it returns, if any."""
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []
