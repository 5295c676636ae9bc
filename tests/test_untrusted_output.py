"""Escape sequences from reports and records never reach the terminal (issue 16, item 6).

Every string that came from a report or a record is cleaned by one function,
:func:`phaser_analytics.formatting.clean_text`, on every human-readable output: import's
lines, clear's lists, the projects table, warnings and errors, the markdown report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from phaser_analytics.cli import cli
from phaser_analytics.formatting import clean_text

EXAMPLE_REPORT = Path(__file__).resolve().parent.parent / "examples" / "EXECUTION_REPORT.md"

#: An OSC title, an OSC 8 hyperlink, a CSI clear-screen, a C1 CSI and a bidi override.
HOSTILE = "\x1b]0;PWNED\x07\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\\x1b[2J\x9b2J\u202e"
DOCUMENT = f"doc{HOSTILE}.md"
PROJECT = f"Proj{HOSTILE}ect"


def run(runner, *args):
    return runner.invoke(cli, ["analytics", *map(str, args)])


def assert_clean(text: str) -> None:
    for bad in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert bad not in text, f"{bad!r} reached the output: {text!r}"


def hostile_report(directory: Path, name: str = "EXECUTION_REPORT.md") -> Path:
    text = EXAMPLE_REPORT.read_text(encoding="utf-8")
    text = text.replace(
        "| Audit Document | document-7-reverse.md |", f"| Audit Document | {DOCUMENT} |"
    )
    text = text.replace("| Project | Phaser |", f"| Project | {PROJECT} |")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def report(tmp_path: Path) -> Path:
    return hostile_report(tmp_path / "reports")


@pytest.fixture
def imported(runner, project, report) -> Path:
    result = run(runner, "import", report, "--project", project)
    assert result.exit_code == 0, result.output
    return project


def test_the_report_really_carries_the_sequences(imported):
    """The test is worth something only if the store keeps what the report said."""
    files = list((imported / ".phaser" / "analytics" / "executions").glob("*.json"))
    record = json.loads(files[0].read_text(encoding="utf-8"))
    assert record["audit_document"] == DOCUMENT


def test_import_line(runner, project, report):
    result = run(runner, "import", report, "--project", project)
    assert result.exit_code == 0, result.output
    assert "✓ Imported: doc" in result.output
    assert_clean(result.output)


def test_already_imported_line(runner, imported, report):
    result = run(runner, "import", report, "--project", imported)
    assert "Already imported: doc" in result.output
    assert_clean(result.output)


def test_replaced_line(runner, imported, report):
    result = run(runner, "import", report, "--project", imported, "--force")
    assert "✓ Replaced: doc" in result.output
    assert_clean(result.output)


def test_failed_line_names_a_hostile_path(runner, project, tmp_path):
    directory = tmp_path / "reports" / f"dir{HOSTILE}"
    directory.mkdir(parents=True)
    (directory / "EXECUTION_REPORT.md").write_text("no metadata here\n", encoding="utf-8")
    result = run(runner, "import", tmp_path / "reports", "--recursive", "--project", project)
    assert result.exit_code == 1
    assert "✗ Failed:" in result.output
    assert_clean(result.output)


def test_clear_dry_run(runner, imported):
    result = run(runner, "clear", "--all", "--dry-run", "--project", imported)
    assert result.exit_code == 0, result.output
    assert "  - doc" in result.output
    assert_clean(result.output)


def test_projects_table(runner, imported):
    result = run(runner, "projects")
    assert result.exit_code == 0, result.output
    assert "Proj" in result.output
    assert_clean(result.output)


def test_projects_prune_list(runner, imported, tmp_path):
    moved = tmp_path / "moved"
    os.rename(imported, moved)
    result = run(runner, "projects", "--prune")
    assert result.exit_code == 0, result.output
    assert "Removed 1 project(s)" in result.output
    assert_clean(result.output)


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_show(runner, imported, fmt):
    result = run(runner, "show", "--format", fmt, "--verbose", "--project", imported)
    assert result.exit_code == 0, result.output
    assert "doc" in result.output
    assert_clean(result.output)


def test_a_warning_quoting_a_record(runner, imported):
    """The store's warnings quote record files; they are cleaned on the way out."""
    path = next((imported / ".phaser" / "analytics" / "executions").glob("*.json"))
    data = json.loads(path.read_text(encoding="utf-8"))
    data["execution_id"] = f"not-an-id{HOSTILE}"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = run(runner, "show", "--project", imported)
    assert "Warning:" in result.output
    assert_clean(result.output)


def test_an_error_quoting_a_template(runner, imported):
    """A template syntax error quotes the (project's) template text."""
    templates = imported / ".phaser" / "templates"
    templates.mkdir(parents=True)
    (templates / "report.md.j2").write_text("{{ " + HOSTILE + " }}", encoding="utf-8")
    result = run(runner, "show", "--format", "markdown", "--project", imported)
    assert result.exit_code == 1
    assert "Error: Template error" in result.output
    assert_clean(result.output)


def test_machine_formats_escape_control_characters(runner, imported):
    """JSON keeps the value, escaped: no raw control character reaches a terminal."""
    result = run(runner, "show", "--format", "json", "--project", imported)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["executions"][0]["audit_document"] == DOCUMENT
    assert_clean(result.output)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\x1b[2Jb", "a\ufffd[2Jb"),
        ("a\x9bb", "a\ufffdb"),
        ("a\u202eb", "ab"),
        ("a\nb\tc", "a b c"),
    ],
)
def test_clean_text_one_line(text, expected):
    assert clean_text(text) == expected


def test_clean_text_keeping_lines():
    assert clean_text("a\x1b[2J\nb\r\n\tc", lines=True) == "a\ufffd[2J\nb\n\tc"


# -- a value cannot fake a line ----------------------------------------------------------------


def test_a_path_with_a_newline_is_one_failed_line(runner, project, tmp_path):
    directory = tmp_path / "reports" / "a\n✓ Imported: forged.md"
    directory.mkdir(parents=True)
    (directory / "EXECUTION_REPORT.md").write_text("no metadata here\n", encoding="utf-8")
    result = run(runner, "import", tmp_path / "reports", "--recursive", "--project", project)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert not any(line.startswith("✓ Imported: forged") for line in lines), lines
    assert sum(line.startswith("✗ Failed:") for line in lines) == 1


def test_a_record_value_with_a_newline_is_one_line_in_clear(runner, imported):
    path = next((imported / ".phaser" / "analytics" / "executions").glob("*.json"))
    data = json.loads(path.read_text(encoding="utf-8"))
    data["audit_document"] = "doc.md\n  - forged.md (2024-01-01)"
    path.write_text(json.dumps(data), encoding="utf-8")
    # The index keeps what the record said at import; rebuild it from the edited file.
    (imported / ".phaser" / "analytics" / "index.json").unlink(missing_ok=True)
    result = run(runner, "clear", "--all", "--dry-run", "--project", imported)
    assert result.exit_code == 0, result.output
    listed = [line for line in result.output.splitlines() if line.startswith("  - ")]
    assert len(listed) == 1, result.output
