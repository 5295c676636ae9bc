"""The plugin host: registries, collisions, load failures, ordering, enrich_record."""

from __future__ import annotations

import json
import os
from importlib import metadata
from pathlib import Path

import pytest

from phaser_analytics import (
    ExecutionRecord,
    PhaseRecord,
    PhaseStatus,
    PluginError,
    ReportParseError,
    hookimpl,
    plugins,
)
from phaser_analytics.cli import cli
from phaser_analytics.plugins import FailedPlugin, PluginHost, build_host
from phaser_analytics.plugins.distributions import Distribution, EntryPoint
from phaser_analytics.plugins.finder import LoadedPlugin, Plugin, find_plugins, load_plugins

BUILTIN_RENDERERS = {"table", "json", "markdown", "csv", "shields-io", "svg"}


class _Renderer:
    def __init__(self, name: str, text: str = "") -> None:
        self.name = name
        self.help = f"{name} format"
        self.suffix = ".txt"
        self.text = text or name

    def render(self, view) -> str:
        return f"{self.text}:{len(view.records)}"


class _Dialect:
    def __init__(self, name: str, marker: str) -> None:
        self.name = name
        self.patterns = (f"{name}.log",)
        self.marker = marker

    def detect(self, text: str) -> bool:
        return text.startswith(self.marker)

    def parse(self, text: str, path: Path | None) -> dict:
        return {"audit_document": self.name}


class RendererPlugin:
    def __init__(self, *renderers) -> None:
        self.renderers = renderers

    @hookimpl
    def register_renderers(self, register):
        for renderer in self.renderers:
            register(renderer)


class DialectPlugin:
    def __init__(self, dialect, *, trylast: bool = False) -> None:
        self.dialect = dialect

    @hookimpl
    def register_dialects(self, register):
        register(self.dialect)


class BuiltinDialectPlugin(DialectPlugin):
    @hookimpl(trylast=True)
    def register_dialects(self, register):
        register(self.dialect)


def test_registers_renderers_and_attributes_them():
    host = build_host([("mine", RendererPlugin(_Renderer("tsv")))], entry_points=False)
    assert host.renderer_names() == ["tsv"]
    assert host.plugins["mine"].renderers == ["tsv"]
    assert host.owner("renderer", "tsv").name == "mine"


def test_same_renderer_name_from_two_plugins_keeps_one_and_names_both_distributions():
    warnings: list[str] = []
    host = PluginHost(warn=warnings.append)
    host.add_plugin(RendererPlugin(_Renderer("tsv")), name="a", distribution="dist-alpha")
    host.add_plugin(RendererPlugin(_Renderer("tsv")), name="b", distribution="dist-beta")
    host.finish()  # one bad plugin never takes the tool down (issue 14 item 8)
    assert host.renderer_names() == ["tsv"]
    (warning,) = warnings
    assert "dist-alpha" in warning and "dist-beta" in warning and "'tsv'" in warning
    assert "is kept" in warning
    assert [p.distribution for p in host.problems] == ["dist-alpha"]


def test_same_dialect_name_keeps_one_too():
    host = PluginHost(warn=lambda message: None)
    host.add_plugin(DialectPlugin(_Dialect("x", "X")), name="a", distribution="one")
    host.add_plugin(DialectPlugin(_Dialect("x", "Y")), name="b", distribution="two")
    host.finish()
    assert list(host.dialects) == ["x"]
    assert len(host.problems) == 1


def test_unknown_hook_fails_loudly():
    class Misspelt:
        @hookimpl
        def register_renderer(self, register):  # missing "s"
            pass

    host = PluginHost()
    host.add_plugin(Misspelt(), name="misspelt")
    with pytest.raises(PluginError, match="unknown hook"):
        host.finish()


def test_third_party_dialect_is_tried_before_builtin():
    builtin = _Dialect("builtin", "#")
    third = _Dialect("third", "#")
    host = PluginHost()
    host.add_plugin(BuiltinDialectPlugin(builtin), name="builtin")
    host.add_plugin(DialectPlugin(third), name="third")
    host.finish()
    assert list(host.dialects) == ["third", "builtin"]
    assert host.dialect_for("# report") is third
    assert host.dialect_for("# report", forced="builtin") is builtin


def test_no_dialect_detects_text():
    host = build_host([("d", DialectPlugin(_Dialect("d", "D")))], entry_points=False)
    with pytest.raises(ReportParseError, match="no installed dialect"):
        host.dialect_for("plain text")
    with pytest.raises(PluginError, match="Unknown dialect 'nope'"):
        host.dialect_for("D", forced="nope")


def test_unknown_format_lists_choices():
    host = build_host([("r", RendererPlugin(_Renderer("tsv")))], entry_points=False)
    with pytest.raises(PluginError, match="Unknown format 'xml'; choose one of: tsv"):
        host.renderer("xml")


def test_renderer_commands_scope_the_choices():
    badge = _Renderer("pill")
    badge.commands = ("badge",)
    host = build_host([("r", RendererPlugin(_Renderer("tsv"), badge))], entry_points=False)
    assert host.renderer_names("show") == ["tsv"]
    assert host.renderer_names("badge") == ["pill"]


def test_enrich_failure_rolls_back_that_plugin_only():
    class Good:
        @hookimpl
        def enrich_record(self, record, source):
            return {"extra": {"good": True}}

    class Bad:
        @hookimpl
        def enrich_record(self, record, source):
            fields = {"extra": {"bad": True}, "branch": "clobbered"}
            if fields:
                raise RuntimeError("exploded")
            return fields

    host = build_host([("good", Good()), ("bad", Bad())], entry_points=False)
    record = ExecutionRecord(execution_id="x", branch="main")
    warnings = host.enrich(record, None)
    assert record.extra == {"good": True}
    assert record.branch == "main"
    assert len(warnings) == 1 and "exploded" in warnings[0] and "'bad'" in warnings[0]


def test_enrich_applies_the_returned_fields_in_order():
    """Fields replace the record's, ``extra`` is merged, other keys go to ``extra``, and a
    plugin sees what the ones called before it returned."""
    seen = []

    class First:
        @hookimpl
        def enrich_record(self, record, source):
            return {
                "tokens": {"input": 1, "output": 2, "cache_creation": 0, "cache_read": 0},
                "extra": {"source": "first"},
                "loose": 7,
            }

    class Second:
        @hookimpl
        def enrich_record(self, record, source):
            seen.append((record.tokens["input"], dict(record.extra)))
            phases = [PhaseRecord(1, "One", PhaseStatus.COMPLETED, duration_seconds=60.0)]
            return {"phases": phases, "cost_usd": 0.5}

    class Nothing:
        @hookimpl
        def enrich_record(self, record, source):
            return None

    # pluggy calls the last registered first.
    host = build_host(
        [("second", Second()), ("first", First()), ("nothing", Nothing())], entry_points=False
    )
    record = ExecutionRecord(execution_id="x", branch="main", extra={"kept": True})
    assert host.enrich(record, None) == []
    assert seen == [(1, {"kept": True, "source": "first", "loose": 7})]
    assert record.extra == {"kept": True, "source": "first", "loose": 7}
    assert record.tokens["output"] == 2 and record.cost_usd == 0.5
    assert record.phases[0].duration_seconds == 60.0
    assert record.branch == "main"


def test_failed_plugin_message_is_one_line():
    failure = FailedPlugin("tsv", "phaser-analytics-tsv", ImportError("No module named 'x'\nmore"))
    message = failure.message()
    assert "\n" not in message
    assert "phaser-analytics-tsv" in message and "No module named 'x'" in message


def test_builtins_load_through_entry_points():
    host = build_host()
    assert set(host.renderer_names()) >= BUILTIN_RENDERERS
    assert "phaser" in host.dialects
    builtins = [p for p in host.describe() if p.builtin]
    assert builtins and all(p.distribution == "phaser-analytics" for p in builtins)
    declared = {ep.name for ep in metadata.entry_points(group="phaser_analytics")}
    assert {p.name for p in builtins} <= declared


def test_get_host_is_idempotent():
    first = plugins.get_host()
    assert plugins.get_host() is first


def test_plugins_command_lists_builtins(runner):
    result = runner.invoke(cli, ["analytics", "plugins"])
    assert result.exit_code == 0, result.output
    assert "table (built-in) — phaser-analytics" in result.output
    assert "register_renderers" in result.output


def test_plugins_command_json(runner):
    result = runner.invoke(cli, ["analytics", "plugins", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    by_name = {p["name"]: p for p in payload["plugins"]}
    assert by_name["markdown_report"]["dialects"] == ["phaser"]
    assert by_name["table"]["renderers"] == ["table"]
    assert payload["failed"] == []


def test_installed_test_plugin_format_appears_in_help(runner):
    plugins.set_host(build_host([("extra", RendererPlugin(_Renderer("yaml")))]))
    result = runner.invoke(cli, ["analytics", "export", "--help"])
    assert result.exit_code == 0
    assert "yaml" in result.output


def test_loading_the_cli_module_loads_no_plugins():
    import subprocess
    import sys

    code = (
        "import sys, phaser_analytics.cli\n"
        "print(*sorted(m for m in sys.modules if m.startswith('phaser_analytics.default_')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == []


class _CrashingDialect(_Dialect):
    def parse(self, text: str, path: Path | None) -> dict:
        raise KeyError("boom")


def test_parse_execution_report_is_the_import_parse():
    """The public parse goes the import's way: a dialect's crash is a ReportParseError
    naming the dialect, and the result holds fields only (no ``warnings``)."""
    from phaser_analytics import ReportParseError, parse_execution_report

    crashing = build_host([("crash", DialectPlugin(_CrashingDialect("crash", "CRASH")))])
    plugins.set_host(crashing)  # conftest puts the usual host back
    with pytest.raises(ReportParseError, match="'crash' dialect failed"):
        parse_execution_report("CRASH\r\nreport")
    plugins.set_host(None)
    data = parse_execution_report(
        "\ufeff# Execution Report\r\n\r\n## Metadata\r\n\r\n| Field | Value |\r\n|---|---|\r\n"
        "| Audit Document | a.md |\r\n| Started | 2025-01-02T03:04:05Z |\r\n"
        "| Duration | banana |\r\n"
    )
    assert data["audit_document"] == "a.md"
    assert "warnings" not in data


# -- find, then load: each third party's failure is a value, a built-in's is fatal ---------


def _found(*lines: tuple[str, str, str]) -> list[Plugin]:
    """Plugins as :func:`find_plugins` gives them, from ``(distribution, name, value)``."""
    return [
        Plugin(EntryPoint(name, value, "phaser_analytics", Distribution(dist, "1.0")))
        for dist, name, value in lines
    ]


def test_loading_gives_each_plugin_or_why_it_was_skipped_in_order():
    results = load_plugins(
        _found(
            ("phaser-analytics", "ours", "json"),
            ("dist-a", "", "a line without an equals sign"),
            ("dist-b", "ours", "os.path"),  # named like one loaded before it
            ("dist-c", "missing", "no_such_module_for_this_test"),
            ("dist-d", "fine", "os.path:join"),
        )
    )
    loaded = [r for r in results if isinstance(r, LoadedPlugin)]
    failed = [r for r in results if isinstance(r, FailedPlugin)]
    assert [(r.plugin.name, r.plugin.builtin) for r in loaded] == [("ours", True), ("fine", False)]
    assert loaded[1].obj is os.path.join
    assert [(f.distribution, f.is_problem) for f in failed] == [
        ("dist-a", True), ("dist-b", True), ("dist-c", False),
    ]  # fmt: skip
    assert "entry_points.txt" in failed[0].message() and "dist-a" in failed[0].message()
    assert "both phaser-analytics and dist-b" in failed[1].message()
    assert "No module named 'no_such_module_for_this_test'" in failed[2].message()
    assert all("\n" not in f.message() for f in failed)


def test_a_built_in_that_fails_to_load_is_fatal():
    with pytest.raises(PluginError, match=r"Built-in plugin 'ours' failed to load.*reinstall"):
        load_plugins(_found(("phaser_analytics", "ours", "no_such_module_for_this_test")))
    with pytest.raises(PluginError, match="Built-in plugin name 'ours' is declared twice"):
        load_plugins(_found(("phaser-analytics", "ours", "os"), ("phaser-analytics", "ours", "os")))


def test_built_ins_are_found_first():
    found = [(p.distribution, p.name) for p in find_plugins()]
    builtins = [p for p in found if p[0] == "phaser-analytics"]
    assert builtins and found[: len(builtins)] == builtins == sorted(builtins)


def test_a_built_in_format_is_kept_whichever_registers_first():
    warnings: list[str] = []
    host = PluginHost(warn=warnings.append)
    host.add_plugin(RendererPlugin(_Renderer("table", "THEIRS")), name="theirs",
                    distribution="their-dist")  # fmt: skip
    host.add_plugin(RendererPlugin(_Renderer("table", "OURS")), name="ours",
                    distribution="phaser-analytics", builtin=True)  # fmt: skip
    host.finish()
    assert host.renderer("table").render(_View()) == "OURS:0"
    assert host.plugins["theirs"].renderers == [] and host.plugins["ours"].renderers == ["table"]
    (warning,) = warnings
    assert "phaser-analytics's is kept" in warning and "their-dist" in warning
    twice = PluginHost()
    for name in ("one", "two"):
        twice.add_plugin(RendererPlugin(_Renderer("table")), name=name, builtin=True)
    with pytest.raises(PluginError, match="built-in renderer 'table' is registered twice"):
        twice.finish()


class _View:
    records: tuple = ()
