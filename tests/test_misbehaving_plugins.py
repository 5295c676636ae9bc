"""One bad plugin never takes the tool down (issue 14 item 8), and a format is offered only
by the commands it says it works for (item 9). Each test installs made-up distributions
(a *.dist-info and a module) in a directory on PYTHONPATH and runs the real program."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from console import phaser_command

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "EXECUTION_REPORT.md"


def distribution(site: Path, name: str, entry_points: str, module: str | None = None,
                 source: str = "") -> None:  # fmt: skip
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    if module:
        (site / f"{module}.py").write_text(source)


RENDERER = """
from phaser_analytics import hookimpl

class Renderer:
    name = {name!r}
    help = "made up"
    suffix = ".txt"
    {commands}
    def render(self, view):
        {body}

@hookimpl
def register_renderers(register):
    register(Renderer())
"""


def renderer_plugin(site: Path, dist: str, module: str, name: str, body: str,
                    commands: str = "") -> None:  # fmt: skip
    source = RENDERER.format(name=name, body=body, commands=commands)
    distribution(site, dist, f"[phaser_analytics]\n{module} = {module}\n", module, source)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    path = tmp_path / "site"
    path.mkdir()
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    done = subprocess.run([*phaser_command(), "analytics", "import", str(EXAMPLE), "--project",
                           str(path)], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return path


def phaser(site: Path, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "100"}
    return subprocess.run(
        [*phaser_command(), "analytics", *args], cwd=project, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_renderer_named_like_a_built_in_is_skipped_with_one_warning(site, project):
    renderer_plugin(site, "evil-table", "evil_table", "table", 'return "EVIL"')
    shown = phaser(site, project, "show")
    assert shown.returncode == 0, shown.stderr
    assert "document-7-reverse.md" in shown.stdout and "EVIL" not in shown.stdout
    warnings = [line for line in shown.stderr.splitlines() if "evil-table" in line]
    assert len(warnings) == 1
    assert "phaser-analytics" in warnings[0] and "phaser-analytics's is kept" in warnings[0]
    listed = phaser(site, project, "plugins")
    assert listed.returncode == 0
    assert "evil_table (problem) — evil-table:" in listed.stdout
    payload = json.loads(phaser(site, project, "plugins", "--format", "json").stdout)
    assert payload["problems"][0]["distribution"] == "evil-table"


def test_a_broken_entry_points_line_of_another_distribution_is_one_warning(site, project):
    distribution(site, "broken-ep", "[phaser_analytics]\nthis line has no equals sign\n")
    shown = phaser(site, project, "show")
    assert shown.returncode == 0, shown.stderr
    assert "document-7-reverse.md" in shown.stdout
    (warning,) = [line for line in shown.stderr.splitlines() if "broken-ep" in line]
    assert "entry_points.txt" in warning and "skipped" in warning
    assert "(problem) — broken-ep" in phaser(site, project, "plugins").stdout


def test_a_renderer_that_raises_is_that_plugins_failure(site, project):
    renderer_plugin(site, "boom-dist", "boom", "boom", "return 1 / 0")
    result = phaser(site, project, "show", "--format", "boom")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: The format 'boom' of plugin 'boom' (boom-dist) failed: ZeroDivisionError: "
        "division by zero. This is that plugin's failure; report it to the authors of "
        "boom-dist."
    )
    assert "Internal error" not in result.stderr and "Traceback" not in result.stderr


def test_a_registration_hook_that_raises_costs_only_that_plugin(site, project):
    source = (
        "from phaser_analytics import hookimpl\n\n"
        "@hookimpl\ndef register_renderers(register):\n    raise RuntimeError('nope')\n"
    )
    distribution(site, "bad-hook", "[phaser_analytics]\nbad_hook = bad_hook\n", "bad_hook", source)
    shown = phaser(site, project, "show")
    assert shown.returncode == 0, shown.stderr
    (warning,) = [line for line in shown.stderr.splitlines() if "bad-hook" in line]
    assert "RuntimeError: nope" in warning


def test_a_format_is_offered_only_where_its_renderer_says_it_works(site, project):
    renderer_plugin(site, "plain-dist", "plain", "plain", "return 'PLAIN'")
    renderer_plugin(site, "wide-dist", "wide", "wide", "return 'WIDE'",
                    commands='commands = ("show", "export", "breakdowns")')  # fmt: skip
    assert phaser(site, project, "show", "--format", "plain").stdout.strip() == "PLAIN"
    for command in ("trends", "phases", "failures", "projects"):
        refused = phaser(site, project, command, "--format", "plain")
        assert refused.returncode == 2, (command, refused.stderr)
        assert "'plain' is not one of" in refused.stderr
        assert "plain" not in phaser(site, project, command, "--help").stdout
        assert phaser(site, project, command, "--format", "wide").stdout.strip() == "WIDE"
