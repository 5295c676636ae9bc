"""What is imported lazily, and that laziness changes nothing a user or a caller sees.

``phaser_analytics`` resolves its public names on first use (PEP 562), and the
``analytics`` group imports a command's module only when that command is used, listing
the commands in its ``--help`` from a static table. These tests check the table against the
real commands, and the package's names against the modules that define them.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

import phaser_analytics

# Not ``from phaser_analytics.cli import main``: that is the console script's function.
cli_main = importlib.import_module("phaser_analytics.cli.main")

COMMAND_MODULES = sorted({module for module, _, _ in cli_main.COMMANDS.values()})


def _fresh(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout


# -- the analytics group's table --------------------------------------------------------------


def _real_commands() -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(f"phaser_analytics.cli.{module_name}")
        commands = [
            value
            for value in vars(module).values()
            if isinstance(value, click.Command) and value.callback.__module__ == module.__name__
        ]
        # A group's subcommands (``store info``) are not commands of ``analytics``.
        nested = {
            id(sub) for group in commands if isinstance(group, click.Group)
            for sub in group.commands.values()
        }  # fmt: skip
        for value in commands:
            if id(value) not in nested:
                assert value.name is not None
                found[value.name] = value
    # A group's own subcommands (``hooks install``) are not the analytics group's.
    children = {
        id(child)
        for command in found.values()
        if isinstance(command, click.Group)
        for child in command.commands.values()
    }
    return {name: command for name, command in found.items() if id(command) not in children}


def test_the_table_names_every_command_and_no_other() -> None:
    assert sorted(cli_main.COMMANDS) == sorted(_real_commands())


@pytest.mark.parametrize("name", sorted(cli_main.COMMANDS))
def test_the_table_points_at_the_command_of_that_name(name: str) -> None:
    module_name, attribute, _ = cli_main.COMMANDS[name]
    module = importlib.import_module(f"phaser_analytics.cli.{module_name}")
    command = getattr(module, attribute)
    assert isinstance(command, click.Command)
    assert command.name == name
    assert not command.hidden


@pytest.mark.parametrize("name", sorted(cli_main.COMMANDS))
@pytest.mark.parametrize("limit", [20, 45, 57, 74, 200])
def test_the_tables_short_help_is_the_commands(name: str, limit: int) -> None:
    """The short help ``analytics --help`` lists for a command not yet imported is the
    short help of the command the group loads."""
    _, _, summary = cli_main.COMMANDS[name]
    group = cli_main.cli.get_command(click.Context(cli_main.cli), "analytics")
    assert isinstance(group, click.Group)
    command = group.get_command(click.Context(group), name)
    assert command is not None
    expected = click.Command(None, help=summary).get_short_help_str(limit)
    assert command.get_short_help_str(limit) == expected


def test_the_group_lists_the_loaded_commands_like_the_lazy_ones() -> None:
    """The help listing is the same before any command is imported and after all are."""
    before = _fresh(
        "from click.testing import CliRunner\n"
        "from phaser_analytics.cli import cli\n"
        "result = CliRunner().invoke(cli, ['analytics', '--help'], prog_name='phaser')\n"
        "print(result.output, end='')"
    )
    group = cli_main.analytics
    assert sorted(group.commands) == sorted(cli_main.COMMANDS)  # imports them all
    result = CliRunner().invoke(cli_main.cli, ["analytics", "--help"], prog_name="phaser")
    assert result.exit_code == 0
    assert result.output == before
    assert re.search(r"^  show +Show execution analytics", before, re.MULTILINE)


def test_help_imports_no_command_module() -> None:
    out = _fresh(
        "import sys\n"
        "from phaser_analytics.cli import cli\n"
        "try:\n"
        "    cli.main(['analytics', '--help'], prog_name='phaser')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('MODULES', *sorted(m for m in sys.modules if m.startswith('phaser_analytics')))"
    )
    loaded = set(out.split("MODULES", 1)[1].split())
    assert not {f"phaser_analytics.cli.{m}" for m in COMMAND_MODULES} & loaded
    assert "phaser_analytics.pipeline" not in loaded


def test_a_command_imports_only_its_own_module() -> None:
    out = _fresh(
        "import sys\n"
        "from phaser_analytics.cli import cli\n"
        "try:\n"
        "    cli.main(['analytics', 'plugins', '--help'], prog_name='phaser')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('MODULES', *sorted(m for m in sys.modules if m.startswith('phaser_analytics')))"
    )
    loaded = set(out.split("MODULES", 1)[1].split())
    assert "phaser_analytics.cli.plugins_cmd" in loaded
    others = {f"phaser_analytics.cli.{m}" for m in COMMAND_MODULES} - {
        "phaser_analytics.cli.plugins_cmd"
    }
    assert not others & loaded


def test_an_unknown_command_is_still_an_error() -> None:
    result = CliRunner().invoke(cli_main.cli, ["analytics", "shwo"])
    assert result.exit_code == 2
    assert "No such command 'shwo'" in result.output


# -- the package's public names ---------------------------------------------------------------


def test_importing_the_package_imports_no_other_module_of_it() -> None:
    out = _fresh(
        "import sys, phaser_analytics\n"
        "print(*sorted(m for m in sys.modules if m.startswith('phaser_analytics')))"
    )
    assert out.split() == ["phaser_analytics"]


def _typed_names() -> dict[str, tuple[str, str]]:
    """What a type checker sees: the package's ``TYPE_CHECKING`` imports, ``name →
    (module, attribute)``."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(phaser_analytics.__file__).read_text(encoding="utf-8"))
    found: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom)
                for alias in statement.names:
                    found[alias.asname or alias.name] = (f".{statement.module}", alias.name)
    return found


@pytest.mark.parametrize("name", phaser_analytics.__all__)
def test_every_public_name_is_what_type_checkers_see(name: str) -> None:
    module_name, attribute = _typed_names()[name]
    module = importlib.import_module(module_name, "phaser_analytics")
    assert getattr(phaser_analytics, name) is getattr(module, attribute)
    assert name in dir(phaser_analytics)


def test_type_checkers_see_exactly_the_public_names() -> None:
    assert sorted(_typed_names()) == sorted(phaser_analytics.__all__)


def test_star_import_and_the_spec_alias() -> None:
    namespace: dict[str, object] = {}
    exec("from phaser_analytics import *", namespace)
    assert set(phaser_analytics.__all__) <= set(namespace)
    from phaser_analytics import ImportError as SpecImportError
    from phaser_analytics.errors import ReportImportError

    assert SpecImportError is ReportImportError


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        phaser_analytics.nothing_here  # noqa: B018
    with pytest.raises(ImportError):
        exec("from phaser_analytics import nothing_here", {})


def test_submodules_still_import_as_attributes() -> None:
    from phaser_analytics import hookspecs, plugins

    assert plugins.__name__ == "phaser_analytics.plugins"
    assert hookspecs.__name__ == "phaser_analytics.hookspecs"


@pytest.mark.parametrize("name", sorted(cli_main.COMMANDS))
def test_a_commands_summary_is_written_once(name: str) -> None:
    """The table holds the summary and the command's docstring the rest: ``--help`` shows
    both, the summary first, and the docstring does not repeat it."""
    module_name, attribute, summary = cli_main.COMMANDS[name]
    module = importlib.import_module(f"phaser_analytics.cli.{module_name}")
    docstring = " ".join((getattr(module, attribute).callback.__doc__ or "").split())
    assert " ".join(summary.split()) not in docstring
    result = CliRunner().invoke(cli_main.cli, ["analytics", name, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    help_text = " ".join(result.output.split("Options:")[0].split())
    assert " ".join(summary.split()) in help_text
