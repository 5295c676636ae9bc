"""Shared fixtures: every test gets its own PHASER_HOME, no real Claude transcripts, and a
plugin host that is rebuilt after it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis.configuration import set_hypothesis_home_dir

from phaser_analytics import plugins

pytest_plugins = ["pg_fixtures"]  # a real PostgreSQL server: postgres_server, pg_url

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_REPORT = REPO / "examples" / "EXECUTION_REPORT.md"


def _user_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "phaser-analytics-tests"


# Tests never write into the checkout: Hypothesis keeps its example database and its caches
# (unicode data, constants) in the user's cache instead of ./.hypothesis/.
set_hypothesis_home_dir(_user_cache() / "hypothesis")


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Nothing a test does may touch the user's ~/.phaser or ~/.claude."""
    home = tmp_path_factory.mktemp("phaser-home")
    monkeypatch.setenv("PHASER_HOME", str(home))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path_factory.mktemp("claude-home")))
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("PHASER_DEBUG", raising=False)
    monkeypatch.setenv("COLUMNS", "100")
    return home


@pytest.fixture(autouse=True)
def fresh_plugin_host() -> Iterator[None]:
    """A test that installs its own host (or plugins) never leaks it into the next."""
    plugins.set_host(None)
    yield
    plugins.set_host(None)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project directory."""
    path = tmp_path / "project"
    path.mkdir()
    return path


@pytest.fixture
def example_report(tmp_path: Path) -> Path:
    """A copy of the README's example report, in a directory of its own."""
    target = tmp_path / "reports" / "EXECUTION_REPORT.md"
    target.parent.mkdir()
    shutil.copy(EXAMPLE_REPORT, target)
    return target
