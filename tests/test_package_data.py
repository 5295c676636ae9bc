"""The built wheel holds every file the package reads at run time besides its modules: the
templates, the dashboard's script and styles, and the vendored uPlot with its licence. An
editable install reads them from the checkout, so only a real build shows one missing."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "phaser_analytics"
#: Files the package opens at run time (everything but its .py modules).
NEEDED = sorted(
    path.relative_to(REPO).as_posix()
    for path in PACKAGE.rglob("*")
    if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
)


@pytest.mark.slow
def test_the_wheel_holds_every_data_file(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(
        REPO, source,
        ignore=shutil.ignore_patterns(".git", ".venv", "*.egg-info", "build", "__pycache__",
                                      ".pytest_cache", "tests", "bench", "docs"),
    )  # fmt: skip
    wheels = tmp_path / "wheels"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (wheel,) = wheels.glob("phaser_analytics-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "phaser_analytics/assets/dashboard.js" in NEEDED  # the list is not empty
    assert [name for name in NEEDED if name not in names] == []
