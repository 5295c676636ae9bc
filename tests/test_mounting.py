"""``phaser-analytics`` and the mountable ``analytics`` group (issue 14 item 17), and the
options every command shares (item 16: --version, --no-color, --debug)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from console import console_script

from phaser_analytics.cli import analytics

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "EXECUTION_REPORT.md"


def test_phaser_analytics_is_installed_and_runs_the_same_commands(project):
    script = console_script("phaser-analytics")
    assert script is not None, "no phaser-analytics console script in this environment"
    done = subprocess.run([str(script), "import", str(EXAMPLE), "--project", str(project)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "✓ Imported: document-7-reverse.md" in done.stdout
    shown = subprocess.run([str(script), "show", "--format", "json", "--project", str(project)],
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert json.loads(shown.stdout)["stats"]["total_executions"] == 1
    helped = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert helped.stdout.startswith("Usage: phaser-analytics [OPTIONS] COMMAND")
    bad = subprocess.run([str(script), "show", "--since", "soon", "--project", str(project)],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr == "Error: Invalid date format. Use ISO format: YYYY-MM-DD\n"


@pytest.fixture
def host_cli() -> click.Group:
    """Someone else's CLI, with its own context object, that mounts our group."""

    @click.group()
    @click.pass_context
    def tool(ctx: click.Context) -> None:
        ctx.obj = {"theirs": True}

    tool.add_command(analytics)
    return tool


def test_the_group_mounts_into_another_click_cli(host_cli, project):
    runner = CliRunner()
    imported = runner.invoke(
        host_cli, ["analytics", "import", str(EXAMPLE), "--project", str(project)]
    )
    assert imported.exit_code == 0, imported.output
    shown = runner.invoke(
        host_cli, ["analytics", "show", "--format", "json", "--project", str(project)]
    )
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["executions"][0]["audit_document"] == "document-7-reverse.md"
    listed = runner.invoke(host_cli, ["analytics", "--help"])
    assert "import" in listed.output and "show" in listed.output


def test_a_mounted_group_keeps_one_line_errors(host_cli, project):
    result = CliRunner().invoke(
        host_cli, ["analytics", "show", "--since", "x", "--project", str(project)]
    )
    assert result.exit_code == 2
    assert result.output == "Error: Invalid date format. Use ISO format: YYYY-MM-DD\n"
    debug = CliRunner().invoke(host_cli, ["analytics", "--debug", "show", "--since", "x",
                                          "--project", str(project)])  # fmt: skip
    assert debug.exception is not None and "Invalid date" in str(debug.exception)


def test_version_on_the_analytics_group():
    from phaser_analytics.cli import cli

    result = CliRunner().invoke(cli, ["analytics", "--version"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("phaser-analytics, version ")


@pytest.mark.parametrize("where", ["group", "command"])
@pytest.mark.parametrize(
    "command", ["trends", "phases", "failures", "projects", "export", "badge", "doctor"]
)
def test_no_color_is_accepted_by_every_command(project, where, command):
    from phaser_analytics.cli import cli

    args = (
        ["analytics", "--no-color", command]
        if where == "group"
        else ["analytics", command, "--no-color"]
    )
    result = CliRunner().invoke(
        cli, [*args, "--project", str(project)] if command != "projects" else args
    )
    assert "No such option" not in result.output
    assert result.exit_code in (0, 1), result.output


def _on_a_terminal(command: list[str], cwd: Path) -> bytes:
    """Run ``command`` with stdout and stderr on a pseudo-terminal; its output."""
    import os
    import pty

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    pid, fd = pty.fork()
    if pid == 0:  # the child
        os.chdir(cwd)
        os.execvpe(command[0], command, env)
    output = b""
    try:
        while chunk := os.read(fd, 4096):
            output += chunk
    except OSError:
        pass  # the terminal closes when the command exits
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, output
    return output


def test_the_groups_no_color_turns_colour_off_on_a_terminal(project):
    from console import phaser_command

    base = phaser_command()
    subprocess.run([*base, "analytics", "import", str(EXAMPLE)], cwd=project, check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    assert b"\x1b[32m" in _on_a_terminal([*base, "analytics", "show"], project)
    plain = _on_a_terminal([*base, "analytics", "--no-color", "show"], project)
    assert b"document-7-reverse.md" in plain and b"\x1b[" not in plain


# -- item 16: one way to ask for things ---------------------------------------------------------


@pytest.fixture
def imported(project):
    from phaser_analytics.cli import cli

    for day, document in (("04", "alpha.md"), ("05", "beta.md")):
        report = project / "reports" / day / "EXECUTION_REPORT.md"
        report.parent.mkdir(parents=True)
        text = EXAMPLE.read_text(encoding="utf-8").replace("document-7-reverse.md", document)
        if document == "beta.md":
            text = text.replace("✅ All phases completed", "❌ Failed")
        report.write_text(text.replace("2024-12-06T10:30:00Z", f"2024-12-{day}T10:30:00Z"))
    result = CliRunner().invoke(cli, ["analytics", "import", str(project / "reports"), "-r",
                                      "--project", str(project)])  # fmt: skip
    assert result.exit_code == 0, result.output
    return project


def _run(*args):
    from phaser_analytics.cli import cli

    return CliRunner().invoke(cli, ["analytics", *map(str, args)])


@pytest.mark.parametrize(
    ("command", "extra"),
    [("export", ["--format", "json"]), ("trends", ["--format", "json"]),
     ("badge", ["--metric", "executions"])],
)  # fmt: skip
def test_document_filters_export_trends_and_badge(imported, command, extra):
    result = _run(command, "--document", "alpha", *extra, "--project", imported)
    assert result.exit_code == 0, result.output
    if command == "export":
        assert [e["audit_document"] for e in json.loads(result.stdout)["executions"]] == [
            "alpha.md"
        ]
    elif command == "trends":
        assert sum(r["executions"] for r in json.loads(result.stdout)["breakdown"]["rows"]) == 1
    else:
        assert json.loads(result.stdout)["message"] == "1"


@pytest.mark.parametrize(("name", "first"), [("out.csv", "execution_id,"), ("out.md", "# "),
                                              ("out.json", "{")])  # fmt: skip
def test_export_output_suffix_picks_the_format(imported, tmp_path, name, first):
    target = tmp_path / name
    assert _run("export", "-o", target, "--project", imported).exit_code == 0
    assert target.read_text(encoding="utf-8").startswith(first)


def test_an_explicit_format_beats_the_suffix(imported, tmp_path):
    target = tmp_path / "out.csv"
    assert _run("export", "-o", target, "--format", "json", "--project", imported).exit_code == 0
    assert json.loads(target.read_text(encoding="utf-8"))["executions"]


def test_badge_svg_from_the_suffix(imported, tmp_path):
    target = tmp_path / "badge.svg"
    assert _run("badge", "-o", target, "--project", imported).exit_code == 0
    assert target.read_text(encoding="utf-8").startswith("<svg")


def test_plugins_takes_format_json():
    result = _run("plugins", "--format", "json")
    assert result.exit_code == 0, result.output
    assert any(p["name"] == "table" for p in json.loads(result.stdout)["plugins"])


@pytest.mark.parametrize(
    ("rate", "gate"),
    [("80%", 0.8), ("80", 0.8), ("0.8", 0.8), ("1", 0.01), ("1%", 0.01), ("1.0", 1.0),
     ("100", 1.0), ("99.5", 0.995), ("0", 0.0)],
)  # fmt: skip
def test_the_fail_under_rule(rate, gate):
    from phaser_analytics.cli.viewing import parse_rate

    assert parse_rate(rate) == pytest.approx(gate)


def test_fail_under_1_is_one_percent_through_the_cli(imported):
    # One of two succeeded: 50% is above 1 (1%) and below 1.0 (100%).
    passed = _run("show", "--fail-under", "1", "--project", imported)
    assert passed.exit_code == 0, passed.output
    failed = _run("show", "--fail-under", "1.0", "--project", imported)
    assert failed.exit_code == 1
    assert "success rate 50% is below 100%" in failed.stderr


def test_no_reports_found_has_the_error_prefix(project):
    empty = project / "empty"
    empty.mkdir()
    result = _run("import", empty, "--project", project)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: No reports (")
