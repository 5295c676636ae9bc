"""Where an import ran: ``extra.imported_from`` (``$PHASER_MACHINE``, else the CI runner's
name, else the host name), through the CLI on a JSON store."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from phaser_analytics.cli import cli

RUNNER_VARIABLES = ("RUNNER_NAME", "CI_RUNNER_DESCRIPTION", "BUILDKITE_AGENT_NAME", "NODE_NAME")


def imported_from(runner: CliRunner, project: Path, report: Path) -> str:
    result = runner.invoke(cli, ["analytics", "import", str(report), "--project", str(project)])
    assert result.exit_code == 0, result.output
    shown = runner.invoke(cli, ["analytics", "show", "--project", str(project), "--format", "json"])
    return json.loads(shown.stdout)["executions"][0]["extra"]["imported_from"]


@pytest.fixture
def no_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("PHASER_MACHINE", *RUNNER_VARIABLES):
        monkeypatch.delenv(variable, raising=False)


def test_outside_ci_it_is_the_host_name(
    runner: CliRunner, project: Path, example_report: Path, no_ci: None
) -> None:
    assert imported_from(runner, project, example_report) == socket.gethostname()


def test_a_ci_runner_and_phaser_machine_name_it(
    runner: CliRunner, project: Path, example_report: Path, no_ci: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("RUNNER_NAME", "hosted-3")
    assert imported_from(runner, project, example_report) == "github-actions:hosted-3"
    monkeypatch.setenv("PHASER_MACHINE", "build-box")
    other = project.parent / "other"
    other.mkdir()
    assert imported_from(runner, other, example_report) == "build-box"
