"""Modules every command loads stay cheap: what loading the plugins must not import, and
that the cheap replacements write exactly what the expensive ones did."""

from __future__ import annotations

import subprocess
import sys
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phaser_analytics import formatting
from phaser_analytics.default_plugins import shields_io

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
    ["", "audits", 'say "hi"', "it's", "both \" and '", "<&>", "tab\there\nnew\rline", "✅ 100%"],
)
def test_svg_escaping_is_xml_sax_saxutils(text: str) -> None:
    assert shields_io._escape(text) == escape(text)
    assert shields_io._quoteattr(text) == quoteattr(text)


# -- display widths without wcwidth -----------------------------------------------------------


@pytest.mark.parametrize("char", sorted(formatting._KNOWN_WIDTHS))
def test_every_known_width_is_wcwidths(char: str) -> None:
    import wcwidth

    assert formatting._KNOWN_WIDTHS[char] == wcwidth.wcswidth(char)
    assert formatting._known_width(char) == wcwidth.wcswidth(char)


@pytest.mark.parametrize("char", sorted(formatting._WIDENED_BY_VS16))
def test_a_variation_selector_widens_as_wcwidth_says(char: str) -> None:
    import wcwidth

    assert formatting._known_width(char + "\ufe0f") == wcwidth.wcswidth(char + "\ufe0f") == 2


_ALPHABET = "".join(formatting._KNOWN_WIDTHS) + "abc XYZ 0-9|+%" + "\ufe0f" + "⚠️" * 5


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=40) | st.text(max_size=12))
def test_known_widths_agree_with_wcwidth_on_any_text(text: str) -> None:
    import wcwidth

    known = formatting._known_width(text)
    if known is not None:
        assert known == wcwidth.wcswidth(text)
    # And whichever way it is measured, display_width is what it always was.
    expected = wcwidth.wcswidth(text)
    if expected < 0:
        expected = sum(max(wcwidth.wcwidth(c), 0) for c in text)
    assert formatting.display_width(text) == expected


def test_show_measures_its_table_without_wcwidth(tmp_path) -> None:
    """A table of ASCII documents, ✅, ⚠️, ❌, box drawing and Δ needs no wcwidth."""
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
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "│" in result.stdout
    assert result.stdout.rstrip().endswith("WCWIDTH False")
