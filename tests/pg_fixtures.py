"""pytest fixtures for a real PostgreSQL server (tests/pgserver.py), and the summary line.

`postgres_server` (or `session_server()`) starts one server for the whole session, on first
use, and `pytest_sessionfinish` stops it at the end, failed tests or not. `pg_url` gives each
test a database of its own on it (owned by the role `phaser`, password in the URL). Where
PostgreSQL cannot be had, the tests skip with a reason that names what to install; but where
this process may install it (root with apt-get, as on CI) and that fails, they fail, so CI
never passes by silently running none of them.

Every test that uses the server is marked `postgres`, and the terminal summary says how many
of them ran against which server (or why none did).
"""

from __future__ import annotations

from collections import Counter

import pytest
from pgserver import PgServer, StartFailed, Unavailable, may_install

MARKER = "postgres"
_state: dict[str, object] = {}
_outcomes: Counter[str] = Counter()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: runs against a real PostgreSQL server started by the tests"
    )


def _uses_server(item: pytest.Item) -> bool:
    """A test of the server's: it asks for it, or it is the conformance suite's
    ``postgresql`` backend (tests/store_backends.py)."""
    if "postgres_server" in getattr(item, "fixturenames", ()):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and str(callspec.params.get("backend")) == "postgresql"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _uses_server(item):
            item.add_marker(MARKER)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if MARKER not in report.keywords:
        return
    if report.when == "call":
        _outcomes[report.outcome] += 1
    elif report.outcome != "passed":  # skipped in set-up, or an error in set-up or teardown
        _outcomes["skipped" if report.outcome == "skipped" else "error"] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _outcomes:
        return
    ran = _outcomes["passed"] + _outcomes["failed"]
    server = _state.get("server")
    where = (f"PostgreSQL {server.version} on 127.0.0.1:{server.port}"
             if isinstance(server, PgServer) else "PostgreSQL")
    kinds = ("passed", "failed", "error", "skipped")
    parts = [f"{_outcomes[k]} {k}" for k in kinds if _outcomes[k]]
    line = f"{where}: {ran} test(s) ran against a real server ({', '.join(parts)})"
    if "why" in _state:
        line += f"; skipped because {_state['why']}"
    terminalreporter.write_line(line)


def session_server() -> PgServer:
    """The session's server, started on first use (stopped by pytest_sessionfinish); skips
    or fails the calling test as the module docstring says. For fixtures and for code that
    cannot ask for one, such as tests/store_backends.py's ``make_url``."""
    if "why" in _state:
        pytest.skip(str(_state["why"]))
    if "error" in _state:
        pytest.fail(str(_state["error"]), pytrace=False)
    server = _state.get("server")
    if isinstance(server, PgServer):
        return server
    try:
        server = PgServer.create()
    except Unavailable as exc:
        if may_install():
            _state["error"] = f"PostgreSQL could not be installed here: {exc}"
            pytest.fail(str(_state["error"]), pytrace=False)
        _state["why"] = str(exc)
        pytest.skip(str(exc))
    except StartFailed as exc:
        _state["error"] = f"PostgreSQL did not start: {exc}"
        pytest.fail(str(_state["error"]), pytrace=False)
    _state["server"] = server
    return server


def pytest_sessionfinish() -> None:
    server = _state.get("server")
    if isinstance(server, PgServer):
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> PgServer:
    """A PostgreSQL server for the session, started on first use and stopped at the end."""
    return session_server()


@pytest.fixture
def pg_url(postgres_server: PgServer) -> str:
    """The URL of a new, empty database of this test's own, for the role `phaser`."""
    return postgres_server.url(postgres_server.create_database())
