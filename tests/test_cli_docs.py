"""docs/cli.md is the CLI's own --help: the test fails when they disagree."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from phaser_analytics.cli import analytics

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location(
        "gen_cli_docs", REPO / "scripts" / "gen_cli_docs.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_matches_help(generator):
    documented = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    assert documented == generator.render(), (
        "docs/cli.md is out of date: run python scripts/gen_cli_docs.py"
    )


@pytest.mark.parametrize("name", sorted(analytics.commands))
def test_every_command_has_a_section(name):
    documented = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    assert f"## phaser analytics {name}\n" in documented
