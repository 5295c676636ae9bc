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


# -- built-in plugins that only read reports load when a command reads reports ---------------


def test_the_deferred_built_ins_are_what_the_table_says() -> None:
    import importlib

    from phaser_analytics import plugins

    points = {ep.name: ep for ep in plugins.entry_points(plugins.ENTRY_POINT_GROUP)}
    for name, hooks in plugins.DEFERRED_BUILTINS.items():
        module = importlib.import_module(points[name].value)
        implemented = {
            attribute
            for attribute in dir(module)
            if hasattr(getattr(module, attribute), f"{plugins.ENTRY_POINT_GROUP}_impl")
        }
        assert implemented == set(hooks), name
        assert implemented <= plugins.DEFERRABLE_HOOKS, name


def _every_way(monkeypatch: pytest.MonkeyPatch, deferred: bool) -> dict[str, object]:
    from phaser_analytics import hookspecs, plugins
    from phaser_analytics.models import ExecutionRecord

    if not deferred:
        monkeypatch.setattr(plugins, "DEFERRED_BUILTINS", {})

    class Extra:
        @hookspecs.hookimpl
        def enrich_record(self, record: ExecutionRecord, source: object) -> None:
            record.extra.setdefault("order", []).append("extra")

    host = plugins.build_host([("extra", Extra())])
    shown = {"renderers": host.renderer_names(), "show": host.renderer_names("show")}
    shown["template_dirs"] = host.template_dirs()
    shown["dialects"] = list(host.dialects)
    # The order pluggy calls them in (last registered first), once every plugin is loaded.
    loaded = list(host.plugins)
    calls = reversed(host.pm.hook.enrich_record.get_hookimpls())
    shown["enrich"] = [impl.plugin_name for impl in calls if impl.plugin_name in loaded]
    shown["describe"] = [info.to_dict() for info in host.describe()]
    shown["plugins"] = list(host.plugins)
    shown["owner"] = host.owner("dialect", "phaser").name  # type: ignore[union-attr]
    return shown


def test_deferring_changes_nothing_a_caller_sees(monkeypatch: pytest.MonkeyPatch) -> None:
    lazy = _every_way(monkeypatch, deferred=True)
    eager = _every_way(monkeypatch, deferred=False)
    assert lazy == eager
    assert lazy["enrich"][0] == "extra"  # registered last, called first


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


def test_show_loads_no_report_reading_plugin(tmp_path) -> None:
    from storage_helpers import fill

    from phaser_analytics import plugins

    project = tmp_path / "project"
    project.mkdir()
    fill(project, 3)
    loaded = _modules_after("analytics", "show", "--project", str(project))
    readers = {f"phaser_analytics.default_plugins.{name}" for name in plugins.DEFERRED_BUILTINS}
    assert "phaser_analytics.default_plugins.table" in loaded
    assert not readers & loaded
    listed = _modules_after("analytics", "plugins")
    assert readers <= listed
