"""The docs are part of the product: these tests fail when they drift from the code."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from phaser_analytics import hookspecs

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"


def _hookspecs():
    return [
        (name, function)
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, "phaser_analytics_spec")
    ]


def test_there_are_hooks():
    assert {name for name, _ in _hookspecs()} == {
        "register_dialects",
        "register_renderers",
        "enrich_record",
        "template_dirs",
        "record_stored",
        "register_stores",
    }


@pytest.mark.parametrize(("name", "function"), _hookspecs())
def test_every_hook_is_documented_with_its_signature(name, function):
    text = (DOCS / "plugin-hooks.md").read_text(encoding="utf-8")
    arguments = ", ".join(inspect.signature(function).parameters)
    assert f"## {name}({arguments})" in text


@pytest.mark.parametrize(("name", "function"), _hookspecs())
def test_every_hook_has_a_docstring(name, function):
    assert function.__doc__ and len(function.__doc__.strip()) > 40


def test_ci_runs_exactly_the_readme_test_command():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    command = [line for line in ci.splitlines() if line.startswith("python3 -m venv")]
    assert len(command) == 1
    assert command[0] in readme
    # ... in a clean environment: no inherited PATH (a venv's phaser), no HOME of the machine's.
    assert "env -i " in ci
    assert "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in ci
    assert 'HOME="$home"' in ci and 'home="$(mktemp -d)"' in ci


def test_relative_links_in_docs_resolve():
    broken = []
    for page in [REPO / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if not (page.parent / target).exists():
                broken.append(f"{page.name} -> {target}")
    assert broken == []
