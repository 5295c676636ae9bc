"""Modules every command loads stay cheap: what loading the plugins must not import, and
that the cheap replacements write exactly what the expensive ones did."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from phaser_analytics import formatting
from phaser_analytics.cli import cli

#: Loading the plugins imports none of these: xml.sax.saxutils imports urllib, http.client,
#: ssl and email; importlib.metadata imports email, zipfile and csv.
EXPENSIVE = ("xml.sax", "importlib.metadata", "email", "urllib.request", "http.client", "ssl")


def test_loading_the_plugins_imports_nothing_expensive() -> None:
    code = (
        "import sys\n"
        "from phaser_analytics.plugins import get_host\n"
        "host = get_host()\n"
        "assert 'table' in host.renderers and 'markdown_report' in host.plugins\n"
        "print(*sorted(sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(result.stdout.split())
    assert not {m for m in loaded if m.split(".")[0] in EXPENSIVE or m in EXPENSIVE}


@pytest.mark.parametrize(
    "text",
    ["audits", 'say "hi"', "it's", "both \" and '", "<&>", "tab\there\nnew\rline", "✅ 100%"],
)
def test_an_svg_badge_says_its_label_exactly(text: str, tmp_path: Path) -> None:
    """The SVG badge escapes what XML needs escaped (without xml.sax): parsed, its title
    and its aria-label are the label and message as shown."""
    from storage_helpers import fill

    project = tmp_path / "project"
    project.mkdir()
    fill(project, 2)
    args = ["analytics", "badge", "--format", "svg", "--label", text, "--project", str(project)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    root = ET.fromstring(result.output)
    shown = f"{formatting.clean_text(text)}: 100%"
    assert root.get("aria-label") == shown
    assert root.findtext("{http://www.w3.org/2000/svg}title") == shown


# -- display widths without wcwidth -----------------------------------------------------------

#: What tables and reports draw with: box drawing and block elements (frames, sparklines),
#: and the symbols of the summary and status columns. Measuring these needs no wcwidth
#: (test_show_measures_its_table_without_wcwidth), and must give wcwidth's widths.
DRAWN = "".join(chr(code) for code in range(0x2500, 0x25A0)) + "ΔΣ–—…→←↑↓·§°×⚠✅❌"


@pytest.mark.parametrize("char", sorted(DRAWN))
def test_what_tables_draw_measures_as_wcwidth_says(char: str) -> None:
    import wcwidth

    assert formatting.display_width(char) == wcwidth.wcswidth(char)


def test_a_variation_selector_widens_as_wcwidth_says() -> None:
    import wcwidth

    assert formatting.display_width("⚠\ufe0f") == wcwidth.wcswidth("⚠\ufe0f") == 2


_ALPHABET = DRAWN + "abc XYZ 0-9|+%" + "\ufe0f" + "⚠️" * 5


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=40) | st.text(max_size=12))
def test_display_width_agrees_with_wcwidth_on_any_text(text: str) -> None:
    import wcwidth

    expected = wcwidth.wcswidth(text)
    if expected < 0:  # control characters: each counts as wcwidth measures it, at least 0
        expected = sum(max(wcwidth.wcwidth(c), 0) for c in text)
    assert formatting.display_width(text) == expected


@pytest.mark.parametrize("columns", ["200", "50"])
def test_show_measures_its_table_without_wcwidth(tmp_path, columns: str) -> None:
    """A table of ASCII documents, ✅, ⚠️, ❌, box drawing and Δ needs no wcwidth, also
    when a narrow terminal cuts the documents' names."""
    import os

    from storage_helpers import fill

    project = tmp_path / "project"
    project.mkdir()
    fill(project, 6)
    code = (
        "import sys\n"
        "from phaser_analytics.cli import cli\n"
        f"args = ['analytics', 'show', '--project', {str(project)!r}]\n"
        "try:\n"
        "    cli.main(args, prog_name='phaser')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('WCWIDTH', 'wcwidth' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
        env={**os.environ, "COLUMNS": columns},
    )
    assert "│" in result.stdout
    assert ("…" in result.stdout) == (columns == "50")
    assert result.stdout.rstrip().endswith("WCWIDTH False")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
       st.integers(min_value=0, max_value=32))
def test_ascii_is_cut_as_the_graphemes_would_cut_it(text: str, width: int) -> None:
    """The ASCII short cut of truncate_to_width gives what cutting grapheme by grapheme
    with wcwidth's widths gives."""
    import wcwidth

    if wcwidth.wcswidth(text) <= width:
        expected = text
    else:
        expected = text[: max(width - 1, 0)] + "…" if width else ""
    assert formatting.truncate_to_width(text, width) == expected


# -- the built-in plugins that read reports are cheap to load; their work is imported on use ---

#: Each report-reading built-in plugin and the module its hook bodies import.
READERS = {
    "markdown_report": "report_parser",
    "claude_tokens": "claude_usage",
    "git_timing": "git_commits",
}


def test_loading_the_plugins_imports_no_report_reader() -> None:
    code = (
        "import sys\n"
        "from phaser_analytics.plugins import get_host\n"
        "host = get_host()\n"
        "print(*sorted(host.plugins), '|', *sorted(sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    names, modules = (part.split() for part in result.stdout.split("|"))
    assert set(READERS) <= set(names)
    work = {f"phaser_analytics.default_plugins.{module}" for module in READERS.values()}
    assert not work & set(modules)
    assert "markdown_it" not in modules


def test_hooks_run_in_the_order_the_plugins_were_loaded() -> None:
    from phaser_analytics import hookspecs, plugins
    from phaser_analytics.models import ExecutionRecord

    class Extra:
        @hookspecs.hookimpl
        def enrich_record(self, record: ExecutionRecord, source: object) -> None:
            return None

    host = plugins.build_host([("extra", Extra())])
    loaded = list(host.plugins)
    assert loaded[-1] == "extra"
    assert {"markdown_report", "claude_tokens", "git_timing"} <= set(loaded)
    # pluggy calls the last registered first; the built-in enrichers are trylast, so they
    # run after it, in the order they were loaded.
    calls = [impl.plugin_name for impl in reversed(host.pm.hook.enrich_record.get_hookimpls())]
    assert calls == ["extra", "claude_tokens", "git_timing"]
    assert calls[1:] == sorted(calls[1:], key=loaded.index)
    assert list(host.dialects) == ["phaser"]
    assert host.owner("dialect", "phaser").name == "markdown_report"  # type: ignore[union-attr]


def _modules_after(*args: str) -> set[str]:
    code = (
        "import sys\n"
        "from phaser_analytics.cli import cli\n"
        "try:\n"
        f"    cli.main({list(args)!r}, prog_name='phaser')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('MODULES', *sorted(sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return set(result.stdout.split("MODULES", 1)[1].split())


def test_show_loads_no_report_reader(tmp_path) -> None:
    from storage_helpers import fill

    project = tmp_path / "project"
    project.mkdir()
    fill(project, 3)
    loaded = _modules_after("analytics", "show", "--project", str(project))
    plugins = {f"phaser_analytics.default_plugins.{name}" for name in READERS}
    work = {f"phaser_analytics.default_plugins.{module}" for module in READERS.values()}
    assert "phaser_analytics.default_plugins.table" in loaded
    assert plugins <= loaded
    assert not work & loaded
    report = tmp_path / "EXECUTION_REPORT.md"
    fixture = Path(__file__).parent / "fixtures" / "reports" / "canonical.md"
    report.write_text(fixture.read_text(encoding="utf-8"), encoding="utf-8")
    imported = _modules_after("analytics", "import", str(report), "--project", str(project))
    assert "phaser_analytics.default_plugins.report_parser" in imported
