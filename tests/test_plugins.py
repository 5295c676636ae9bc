"""The plugin host: registries, collisions, load failures, ordering, enrich_record."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import pytest

from phaser_analytics import (
    ExecutionRecord,
    ExecutionStatus,
    PhaseRecord,
    PhaseStatus,
    PluginError,
    ReportParseError,
    hookimpl,
    plugins,
)
from phaser_analytics.cli import cli
from phaser_analytics.plugins import FailedPlugin, PluginHost, build_host

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
    host = PluginHost()
    host._warn = warnings.append
    host.add_plugin(RendererPlugin(_Renderer("tsv")), name="a", distribution="dist-alpha")
    host.add_plugin(RendererPlugin(_Renderer("tsv")), name="b", distribution="dist-beta")
    host.finish()  # one bad plugin never takes the tool down (issue 14 item 8)
    assert host.renderer_names() == ["tsv"]
    (warning,) = warnings
    assert "dist-alpha" in warning and "dist-beta" in warning and "'tsv'" in warning
    assert "is kept" in warning
    assert [p.distribution for p in host.problems] == ["dist-alpha"]


def test_same_dialect_name_keeps_one_too():
    host = PluginHost()
    host._warn = lambda message: None
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
            record.extra["good"] = True

    class Bad:
        @hookimpl
        def enrich_record(self, record, source):
            record.extra["bad"] = True
            record.branch = "clobbered"
            raise RuntimeError("exploded")

    host = build_host([("good", Good()), ("bad", Bad())], entry_points=False)
    record = ExecutionRecord(execution_id="x", branch="main")
    warnings = host.enrich(record, None)
    assert record.extra == {"good": True}
    assert record.branch == "main"
    assert len(warnings) == 1 and "exploded" in warnings[0] and "'bad'" in warnings[0]


def _rich_record() -> ExecutionRecord:
    shared = ["flaky test", {"nested": [1, 2]}]
    return ExecutionRecord(
        execution_id="x",
        branch="main",
        started_at=datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc),
        status=ExecutionStatus.PARTIAL,
        phases=[
            PhaseRecord(1, "One", PhaseStatus.COMPLETED, "abc1234"),
            PhaseRecord(2, "Two", PhaseStatus.FAILED, None, error_message="boom"),
        ],
        failure_reasons=["Phase 2: boom"],
        tokens={"input": 1, "output": 2, "cache_creation": 0, "cache_read": 0, "total": 3},
        tokens_by_model={"m": {"input": 1, "cost_usd": None}},
        extra={
            "metadata_extra": {"Runner": "ci"},
            "outcomes": {"passed": 3},
            "shared": shared,
            "again": shared,
            "tags": {"b", "a"},
            "pair": (1, [2]),
        },
    )


def test_enrich_failure_rolls_back_changes_made_in_place():
    class Bad:
        @hookimpl
        def enrich_record(self, record, source):
            phase = record.phases[0]
            phase.completed_at = datetime(2025, 3, 1, 9, 10, tzinfo=timezone.utc)
            phase.duration_seconds = 600.0
            phase.title = "clobbered"
            record.phases[1].error_message = None
            record.phases.append(PhaseRecord(3, "Three", PhaseStatus.SKIPPED))
            record.failure_reasons.clear()
            record.tokens["total"] = 0
            record.tokens_by_model["m"]["input"] = 99
            record.extra["metadata_extra"]["Runner"] = "other"
            record.extra["shared"][1]["nested"].append(3)
            record.extra["tags"].add("c")
            record.extra["pair"][1].append(3)
            raise RuntimeError("half-way")

    host = build_host([("bad", Bad())], entry_points=False)
    record = _rich_record()
    phases = record.phases
    warnings = host.enrich(record, None)
    assert len(warnings) == 1 and "half-way" in warnings[0]
    assert record == _rich_record()
    assert record.to_dict() == _rich_record().to_dict()
    # Still one list under two keys, as before.
    assert record.extra["shared"] is record.extra["again"]
    assert phases[0].title == "clobbered"  # the plugin's objects are not the record's now


def test_enrich_snapshot_copies_like_deepcopy():
    from phaser_analytics import snapshot

    record = _rich_record()
    state = snapshot.take(record)
    expected = copy.deepcopy(record).__dict__
    assert state == expected
    for name, value in state.items():
        if isinstance(value, (list, dict, set, tuple)) and value:
            assert value is not record.__dict__[name] or isinstance(value, tuple)
    assert state["phases"][0] is not record.phases[0]
    assert state["extra"]["tags"] is not record.extra["tags"]
    assert state["extra"]["shared"] is state["extra"]["again"]
    assert state["started_at"] is record.started_at  # immutable: shared, not copied


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
    import importlib

    import phaser_analytics.cli as cli_module

    plugins.set_host(None)
    importlib.reload(cli_module)
    assert plugins._host is None


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
