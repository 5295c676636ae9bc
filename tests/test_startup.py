"""What a quick command loads, and the benchmark's smoke test.

``phaser analytics --help`` and ``show`` must start fast whatever the history; the cheap
part of that to check is that they never import the report parser (markdown-it-py) or the
template engine (Jinja2), and that a command imports of the package only what it uses: the
code of the one format it renders, and the capture module only when a session waits in the
spool. These are behaviour tests, run in a fresh interpreter each: the
test process itself has imported everything long ago. Timings are bench/run.py's business.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from storage_helpers import fill

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("markdown_it", "jinja2", "prometheus_client", "playwright", "psycopg")

#: Runs the CLI like the ``phaser`` script and writes the loaded modules at exit (after
#: click's ``sys.exit``) to the file named by $MODULES_OUT, and the dataclasses our modules
#: define (``module.Class``) to that name + ``.dataclasses``.
_WRAPPER = """
import atexit, os, sys

def _dump():
    with open(os.environ["MODULES_OUT"], "w", encoding="utf-8") as handle:
        handle.write("\\n".join(sorted(sys.modules)))
    defined = set()
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] != "phaser_analytics":
            continue
        for value in list(vars(module).values()):
            if (isinstance(value, type) and value.__module__ == name
                    and "__dataclass_fields__" in vars(value)):
                defined.add(f"{name}.{value.__qualname__}")
    with open(os.environ["MODULES_OUT"] + ".dataclasses", "w", encoding="utf-8") as handle:
        handle.write("\\n".join(sorted(defined)))
    import click
    built = {
        value.name
        for name, module in list(sys.modules.items())
        if name.startswith("phaser_analytics.cli")
        for value in list(vars(module).values())
        if isinstance(value, click.Command)
    }
    with open(os.environ["MODULES_OUT"] + ".commands", "w", encoding="utf-8") as handle:
        handle.write("\\n".join(sorted(built)))

atexit.register(_dump)
sys.argv = ["phaser", *sys.argv[1:]]
from phaser_analytics.cli import main
main()
"""


def loaded_modules(tmp_path: Path, *args: str) -> set[str]:
    """The modules ``phaser *args`` has imported by the time it exits (successfully)."""
    out = tmp_path / "modules.txt"
    env = {**os.environ, "MODULES_OUT": str(out)}
    result = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return set(out.read_text(encoding="utf-8").splitlines())


def defined_dataclasses(tmp_path: Path, *args: str) -> set[str]:
    """The dataclasses (``module.Class``) our modules define in ``phaser *args``."""
    loaded_modules(tmp_path, *args)
    text = (tmp_path / "modules.txt.dataclasses").read_text(encoding="utf-8")
    return set(text.splitlines())


def built_commands(tmp_path: Path, *args: str) -> set[str]:
    """The names of the click commands our CLI modules built in ``phaser *args``."""
    loaded_modules(tmp_path, *args)
    return set((tmp_path / "modules.txt.commands").read_text(encoding="utf-8").splitlines())


def heavy_modules(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_the_wrapper_sees_what_a_command_imports(tmp_path: Path) -> None:
    modules = loaded_modules(tmp_path, "analytics", "--help")
    assert "click" in modules
    assert "phaser_analytics.cli" in modules


def test_the_wrapper_sees_markdown_it_when_import_parses(
    tmp_path: Path, project: Path, example_report: Path
) -> None:
    args = ("analytics", "import", str(example_report), "--project", str(project))
    assert "markdown_it" in heavy_modules(loaded_modules(tmp_path, *args))


def test_help_imports_neither_markdown_it_nor_jinja2(tmp_path: Path) -> None:
    assert heavy_modules(loaded_modules(tmp_path, "analytics", "--help")) == []


def test_show_help_imports_neither_markdown_it_nor_jinja2(tmp_path: Path) -> None:
    assert heavy_modules(loaded_modules(tmp_path, "analytics", "show", "--help")) == []


def test_show_imports_neither_markdown_it_nor_jinja2(tmp_path: Path, project: Path) -> None:
    fill(project, 12)
    modules = loaded_modules(tmp_path, "analytics", "show", "--project", str(project))
    assert "phaser_analytics.stores.json_files" in modules  # it did read the store
    assert heavy_modules(modules) == []


def test_show_verbose_imports_neither_markdown_it_nor_jinja2(tmp_path: Path, project: Path) -> None:
    fill(project, 3)
    args = ("analytics", "show", "--verbose", "--project", str(project))
    assert heavy_modules(loaded_modules(tmp_path, *args)) == []


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_export_of_data_formats_imports_no_heavy_module(
    tmp_path: Path, project: Path, fmt: str
) -> None:
    fill(project, 3)
    args = ("analytics", "export", "--format", fmt, "--project", str(project))
    assert heavy_modules(loaded_modules(tmp_path, *args)) == []


def test_openmetrics_imports_prometheus_client_and_nothing_else_heavy(
    tmp_path: Path, project: Path
) -> None:
    fill(project, 3)
    args = ("analytics", "export", "--format", "openmetrics", "--project", str(project))
    modules = loaded_modules(tmp_path, *args)
    assert "prometheus_client" in modules  # the wrapper sees it when it is used
    client = sorted(m for m in modules if m.startswith("prometheus_client."))
    assert heavy_modules(modules) == ["prometheus_client", *client]


def test_html_imports_jinja2_but_not_prometheus_client(tmp_path: Path, project: Path) -> None:
    fill(project, 3)
    out = tmp_path / "page.html"
    args = ("analytics", "export", "--format", "html", "--project", str(project), "-o", str(out))
    modules = loaded_modules(tmp_path, *args)
    assert "jinja2" in modules
    assert not {m.split(".")[0] for m in modules} & {"prometheus_client", "playwright"}


# -- what a command imports of the package itself ---------------------------------------------

#: Each renderer's code: its plugin module registers it by name, and the command imports the
#: code of the one format it renders (docs/performance.md, "Start-up").
RENDER_MODULES = {
    f"phaser_analytics.default_plugins.{name}"
    for name in (
        "table_render",
        "json_render",
        "csv_render",
        "markdown_render",
        "badge_render",
        "html_render",
        "openmetrics_render",
    )
}
#: Imported only when a session waits in the spool (``capture`` aside): every command checks.
CAPTURE = "phaser_analytics.capture"


def renderers(modules: set[str]) -> set[str]:
    return modules & RENDER_MODULES


def test_listing_the_plugins_imports_no_renderer_code(tmp_path: Path) -> None:
    modules = loaded_modules(tmp_path, "analytics", "plugins")
    assert "phaser_analytics.default_plugins.csv_format" in modules  # the plugins loaded
    assert renderers(modules) == set()


def test_show_imports_the_table_code_only_and_no_capture(tmp_path: Path, project: Path) -> None:
    fill(project, 3)
    modules = loaded_modules(tmp_path, "analytics", "show", "--project", str(project))
    assert renderers(modules) == {"phaser_analytics.default_plugins.table_render"}
    assert "phaser_analytics.cli.viewing" in modules
    assert CAPTURE not in modules
    assert "phaser_analytics.project_registry" not in modules


def test_show_builds_no_other_command(tmp_path: Path, project: Path) -> None:
    """``export``'s and ``badge``'s options are built only when one of them runs."""
    fill(project, 3)
    built = built_commands(tmp_path, "analytics", "show", "--project", str(project))
    assert built == {"cli", "analytics", "show"}


def test_trends_imports_neither_show_nor_capture_nor_other_renderers(
    tmp_path: Path, project: Path
) -> None:
    fill(project, 3)
    modules = loaded_modules(tmp_path, "analytics", "trends", "--project", str(project))
    assert renderers(modules) == {"phaser_analytics.default_plugins.table_render"}
    assert CAPTURE not in modules
    # show's, export's and badge's options are defined by a module trends does not need.
    assert "phaser_analytics.cli.render_view" in modules
    assert "phaser_analytics.cli.viewing" not in modules


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("export", "--format", "csv"), "csv_render"),
        (("show", "--format", "json"), "json_render"),
        (("badge", "--format", "svg"), "badge_render"),
    ],
)
def test_a_format_imports_its_own_code_only(
    tmp_path: Path, project: Path, args: tuple[str, ...], code: str
) -> None:
    fill(project, 3)
    modules = loaded_modules(tmp_path, "analytics", *args, "--project", str(project))
    assert renderers(modules) == {f"phaser_analytics.default_plugins.{code}"}


def test_import_imports_no_renderer_code(
    tmp_path: Path, project: Path, example_report: Path
) -> None:
    args = ("analytics", "import", str(example_report), "--project", str(project))
    modules = loaded_modules(tmp_path, *args)
    assert "phaser_analytics.pipeline" in modules  # it did import
    assert renderers(modules) == set()
    assert CAPTURE not in modules
    assert "tempfile" not in modules  # random, shutil, bz2, lzma: stores.files.make_temp
    # git_commits imports shutil (bz2, lzma: ~3 ms) only to look for git, which a report
    # outside a git work tree never needs.
    assert not {"shutil", "bz2", "lzma"} & modules


def test_a_session_waiting_in_the_spool_is_drained_with_the_capture_module(
    tmp_path: Path, project: Path, isolated_home: Path
) -> None:
    fill(project, 3)
    (isolated_home / "spool").mkdir()
    (isolated_home / "spool" / "waiting.json").write_text("{", encoding="utf-8")
    modules = loaded_modules(tmp_path, "analytics", "show", "--project", str(project))
    assert CAPTURE in modules


# -- what a command defines -------------------------------------------------------------------

#: The dataclasses ``show`` may define: the spec's records (§3, §10) and the store
#: interface's results. Every other class a command needs at start is a plain class:
#: defining a dataclass execs generated code, ~0.3-1 ms each (docs/performance.md,
#: "Start-up").
RECORD_DATACLASSES = {
    *(f"phaser_analytics.models.{name}" for name in (
        "PhaseRecord", "ExecutionRecord", "AggregatedStats", "AnalyticsQuery",
    )),
    *(f"phaser_analytics.stores.base.{name}" for name in (
        "Entry", "SaveOutcome", "ProjectCount", "StoreInfo", "Finding",
    )),
    "phaser_analytics.hookspecs.RenderView",
    "phaser_analytics.stores.json_files._State",  # the JSON store's own
}  # fmt: skip


def test_the_wrapper_sees_the_dataclasses_a_command_defines(tmp_path: Path, project: Path) -> None:
    fill(project, 3)
    defined = defined_dataclasses(tmp_path, "analytics", "show", "--project", str(project))
    assert "phaser_analytics.models.ExecutionRecord" in defined


@pytest.mark.parametrize("store", ["json", "sqlite"])
def test_show_defines_no_dataclass_but_the_records(
    tmp_path: Path, project: Path, store: str
) -> None:
    """The table's cells and boxes, the anomaly rule's figures, config settings, view
    selections: plain classes."""
    fill(project, 3)
    args = ["analytics", "show", "--project", str(project)]
    if store == "sqlite":
        target = f"sqlite:///{tmp_path / 'store.db'}"
        migrated = subprocess.run(
            [sys.executable, "-m", "phaser_analytics", "analytics", "store", "migrate",
             "--to", target, "--project", str(project)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert migrated.returncode == 0, migrated.stderr
        args += ["--store", target]
    defined = defined_dataclasses(tmp_path, *args)
    assert defined - RECORD_DATACLASSES == set()


def test_the_aggregate_results_construct_print_and_compare_as_their_dataclasses_did() -> None:
    """``PhaseSummary``, ``ReasonCount`` and ``Usage`` are plain classes now: the same
    constructor, ``repr`` and equality as the dataclasses they were (rebuilt here)."""
    import dataclasses
    from datetime import datetime, timezone

    from phaser_analytics.models import PhaseSummary, ReasonCount, Usage

    def dataclass_of(cls: type, defaults: dict[str, object]) -> type:
        fields = [
            (name, object, dataclasses.field(default_factory=defaults[name]))  # type: ignore[call-overload]
            if callable(defaults.get(name)) else
            ((name, object, dataclasses.field(default=defaults[name])) if name in defaults
             else (name, object))
            for name in cls._fields  # type: ignore[attr-defined]
        ]  # fmt: skip
        return dataclasses.make_dataclass(cls.__name__, fields)

    when = datetime(2024, 5, 1, tzinfo=timezone.utc)
    cases = [
        (PhaseSummary, {"title": "", "runs": 0, "failures": 0, "last_error": None,
                        "last_failed": None}, [(3,), (3, "Tests", 4, 1, "boom", when)]),
        (ReasonCount, {}, [("timeout", 2, when), ("timeout", 2, None)]),
        (Usage, {"hours": lambda: [0] * 24, "hours_failed": lambda: [0] * 24,
                 "days": lambda: [0] * 7, "days_failed": lambda: [0] * 7},
         [(), ([1] * 24,)]),
    ]  # fmt: skip
    for cls, defaults, arguments in cases:
        reference = dataclass_of(cls, defaults)
        made = [cls(*args) for args in arguments]
        expected = [reference(*args) for args in arguments]
        assert [repr(m) for m in made] == [repr(e) for e in expected]
        for m, e in zip(made, expected, strict=True):
            for n, f in zip(made, expected, strict=True):
                assert (m == n) == (e == f)
        assert made[0] != expected[0]  # another class, as between dataclasses
        with pytest.raises(TypeError):
            hash(made[0])


def test_registering_the_builtin_plugins_looks_up_only_the_hooks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pluggy looks up each name of a plugin (and of the hook specifications) with
    ``inspect.getattr_static``; the host's manager answers a module's unmarked functions
    and other values itself, so only the hooks are looked up."""
    import inspect

    from phaser_analytics.plugins import build_host

    looked_up: list[str] = []
    real = inspect.getattr_static

    def counting(obj: object, name: str, *default: object) -> object:
        looked_up.append(name)
        return real(obj, name, *default)

    monkeypatch.setattr(inspect, "getattr_static", counting)
    host = build_host()
    hooks = {name for name in vars(host.pm.hook) if not name.startswith("_")}
    assert "register_renderers" in looked_up
    # The module type's own names (``__doc__``, ``__dict__``, …) are pluggy's to look up.
    assert {name for name in looked_up if not name.startswith("__")} <= hooks


def test_the_hosts_manager_finds_what_pluggys_finds() -> None:
    """The same hook implementations of every built-in plugin, and of a module holding
    the kinds pluggy accepts (a marked function, static and class methods, a bound method)
    among what it does not (unmarked functions, classes, constants)."""
    import types

    import pluggy

    from phaser_analytics import hookspecs
    from phaser_analytics.plugins import build_host
    from phaser_analytics.plugins.host import PluginManager

    class Holder:
        @hookspecs.hookimpl
        def template_dirs(self) -> list[str]:
            return ["bound"]

    odd = types.ModuleType("odd_plugin")
    odd.__dict__.update(
        record_stored=hookspecs.hookimpl(lambda record, store_info: None),
        enrich_record=staticmethod(hookspecs.hookimpl(lambda record, source: None)),
        template_dirs=Holder().template_dirs,
        register_stores=classmethod(hookspecs.hookimpl(lambda cls, register: None)),
        helper=lambda: None,
        Holder=Holder,
        CONSTANT=3,
    )
    modules = [sys.modules[info.module] for info in build_host().plugins.values()] + [odd]

    def found(manager: pluggy.PluginManager) -> dict[str, list[tuple[str, object]]]:
        manager.add_hookspecs(hookspecs)
        for number, module in enumerate(modules):
            manager.register(module, name=f"p{number}")
        return {
            name: [(impl.plugin_name, impl.function) for impl in caller.get_hookimpls()]
            for name, caller in vars(manager.hook).items()
            if not name.startswith("_")
        }

    ours, pluggys = found(PluginManager("phaser_analytics")), found(
        pluggy.PluginManager("phaser_analytics")
    )
    assert ours == pluggys
    assert len(ours["template_dirs"]) >= 1 and any(p == f"p{len(modules) - 1}"
                                                   for p, _ in ours["enrich_record"])


def test_the_hosts_manager_leaves_other_callables_to_pluggy(monkeypatch) -> None:
    """pluggy before 1.7 takes any routine for a hook implementation (a marked
    ``functools.cache`` wrapper, a compiled function): the host's manager answers only a
    plain function, a class and what cannot be called, and asks pluggy about the rest,
    so a plugin's hook is never dropped whichever pluggy release is installed."""
    import functools
    import types

    import pluggy

    from phaser_analytics import hookspecs
    from phaser_analytics.plugins.host import PluginManager

    cached = hookspecs.hookimpl(functools.cache(lambda: ["cached"]))
    odd = types.ModuleType("odd_plugin")
    odd.__dict__.update(template_dirs=cached, helper=lambda: None, Holder=type, CONSTANT=3,
                        marker=hookspecs.hookimpl)
    asked: list[str] = []
    parse = pluggy.PluginManager.parse_hookimpl_opts

    def spy(self, plugin, name):
        asked.append(name)
        return parse(self, plugin, name)

    monkeypatch.setattr(pluggy.PluginManager, "parse_hookimpl_opts", spy)
    manager = PluginManager("phaser_analytics")
    for name in ("template_dirs", "helper", "Holder", "CONSTANT", "marker"):
        manager.parse_hookimpl_opts(odd, name)
    assert asked == ["template_dirs"]


def test_loading_the_plugins_compiles_no_regular_expression_of_ours() -> None:
    """A pattern every command would compile at start (the report dialect's detection,
    the distribution names) is kept as text or not needed: ``re`` compiles it on first use."""
    code = (
        "import re, sys\n"
        "import click, pluggy, json\n"
        "ours = []\n"
        "real = re._compile\n"
        "def recording(pattern, flags):\n"
        "    caller = sys._getframe(1)\n"
        "    while caller.f_code.co_filename == re.__file__:\n"
        "        caller = caller.f_back\n"
        "    if 'phaser_analytics' in caller.f_code.co_filename:\n"
        "        ours.append((caller.f_code.co_filename, str(pattern)))\n"
        "    return real(pattern, flags)\n"
        "re._compile = recording\n"
        "from phaser_analytics.plugins import build_host\n"
        "host = build_host()\n"
        "assert host.renderer_names('show'), 'no renderer'\n"
        "print('COMPILED', ours)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("COMPILED", 1)[1].strip() == "[]"


def test_breakdowns_are_imported_from_the_hookspecs_as_before() -> None:
    """:class:`Breakdown` and :class:`Column` live in a module ``show`` does not import;
    the plugin contract still names them ``phaser_analytics.hookspecs.Breakdown``."""
    from phaser_analytics import breakdown, hookspecs
    from phaser_analytics.hookspecs import Breakdown, Column

    assert (Breakdown, Column) == (breakdown.Breakdown, breakdown.Column)
    assert hookspecs.Breakdown is breakdown.Breakdown
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        hookspecs.Nothing  # noqa: B018


#: Runs the CLI like the ``phaser`` script and writes, at exit (after click's
#: ``sys.exit``, before the interpreter's final collections), how many objects are frozen.
_FROZEN = """
import atexit, gc, os, sys
atexit.register(lambda: open(os.environ["FROZEN_OUT"], "w").write(str(gc.get_freeze_count())))
sys.argv = ["phaser", *sys.argv[1:]]
from phaser_analytics.cli import main
main()
"""


@pytest.mark.parametrize("ok", [True, False])
def test_the_console_script_leaves_what_is_alive_out_of_the_exits_collections(
    tmp_path: Path, project: Path, ok: bool
) -> None:
    """The objects alive when a command ends are frozen (``gc.freeze``), so the
    interpreter's collections at exit do not walk them; the command's output file is
    whole, and a failing command still exits with its code and message."""
    fill(project, 3)
    frozen = tmp_path / "frozen.txt"
    exported = tmp_path / "history.json"
    args = ["--format", "json", "--project", str(project), "--output", str(exported)]
    if not ok:
        args = ["--format", "no-such-format", "--project", str(project)]
    result = subprocess.run(
        [sys.executable, "-c", _FROZEN, "analytics", "export", *args],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
        env={**os.environ, "FROZEN_OUT": str(frozen)},
    )  # fmt: skip
    assert int(frozen.read_text(encoding="utf-8")) > 1000
    if ok:
        assert result.returncode == 0, result.stderr
        assert len(json.loads(exported.read_text(encoding="utf-8"))["executions"]) == 3
    else:
        assert result.returncode == 2
        assert "no-such-format" in result.stderr
        assert "Traceback" not in result.stderr


#: Runs the CLI like the ``phaser`` script (``main``) or as a program calling ``cli.main``
#: itself, and writes how many objects were frozen at the first collection after $MODULE
#: began to load (one is run at the end if none ran; ``-1``: $MODULE was never loaded).
_FIRST_COLLECTION = """
import gc, os, sys
seen = []

def first_after_import(phase, info):
    if phase == "start" and not seen and os.environ["MODULE"] in sys.modules:
        seen.append(gc.get_freeze_count())

gc.callbacks.append(first_after_import)
from phaser_analytics.cli import cli, main
try:
    if os.environ["AS"] == "script":
        sys.argv = ["phaser", *sys.argv[1:]]
        main()
    else:
        cli.main(sys.argv[1:], standalone_mode=False)
finally:
    if not seen:  # none ran since the import: this one is the first
        gc.collect()
    gc.callbacks.remove(first_after_import)
    with open(os.environ["FROZEN_OUT"], "w", encoding="utf-8") as handle:
        handle.write(str(seen[0] if seen else -1))
"""


def first_collection_after(tmp_path: Path, module: str, how: str, *args: str) -> int:
    """How many objects were frozen when the collector first ran once ``module`` began to
    load in ``phaser *args`` (run ``how``: ``script`` or ``cli.main``); ``-1``: ``module``
    was never loaded."""
    out = tmp_path / "frozen.txt"
    result = subprocess.run(
        [sys.executable, "-c", _FIRST_COLLECTION, *args],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env={**os.environ, "MODULE": module, "AS": how, "FROZEN_OUT": str(out)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return int(out.read_text(encoding="utf-8"))


def test_the_console_script_keeps_the_collector_off_its_imports(
    tmp_path: Path, project: Path, example_report: Path
) -> None:
    """In a ``phaser`` process, the collector does not run while the plugins and the
    report parser (markdown-it-py) load, and what they made is frozen once loaded: the
    first collection after each began to load finds it frozen (docs/performance.md,
    "Long-lived imports")."""
    args = ("analytics", "import", str(example_report), "--project", str(project))
    for module in ("pluggy", "markdown_it"):
        (tmp_path / module).mkdir()
        assert first_collection_after(tmp_path / module, module, "script", *args) > 1000


def test_the_console_script_keeps_the_collector_off_psycopgs_import(
    tmp_path: Path, project: Path, pg_url: str
) -> None:
    """The same for psycopg, whose import alone makes ~30,000 objects."""
    args = ("analytics", "--store", pg_url, "show", "--global")
    assert first_collection_after(tmp_path, "psycopg", "script", *args) > 10_000


def test_a_program_calling_the_cli_keeps_its_collector_as_it_was(
    tmp_path: Path, project: Path, example_report: Path
) -> None:
    """``cli.main`` called by a program (or a test's CliRunner) freezes nothing: what the
    program has alive must stay collectable."""
    args = ("analytics", "import", str(example_report), "--project", str(project))
    assert first_collection_after(tmp_path, "markdown_it", "cli.main", *args) == 0


@pytest.mark.parametrize("console", [True, False])
def test_a_long_lived_import_restores_the_collector(console: bool) -> None:
    """Around the import: off in a console process (frozen after), untouched elsewhere;
    afterwards on or off as before, also when the import fails or they nest."""
    code = f"""
import gc
from phaser_analytics import long_lived
if {console}:
    long_lived.mark_console_process()
states = []
for enabled in (True, False):
    (gc.enable if enabled else gc.disable)()
    try:
        with long_lived.long_lived_import():
            with long_lived.long_lived_import():
                states.append(gc.isenabled())
            states.append(gc.isenabled())
            raise ImportError("no such module")
    except ImportError:
        pass
    states.append(gc.isenabled())
print(states, gc.get_freeze_count() > 0)
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    if console:
        assert result.stdout.split() == ["[False,", "False,", "True,", "False,", "False,",
                                         "False]", "True"]  # fmt: skip
    else:
        assert result.stdout.split() == ["[True,", "True,", "True,", "False,", "False,",
                                         "False]", "False"]  # fmt: skip


@pytest.mark.slow
def test_benchmark_smoke_run_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--n", "20", "--repeat", "1",
         "--json-out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data["figures"]) == {
        "floor_startup",
        "floor_parse",
        "show_small",
        "show_large",
        "export_json_large",
        "export_csv_small",
        "export_csv_large",
        "export_html_large",
        "import_bulk",
        "import_bulk_serial",
        "import_bulk_small",
        "import_one_into_large",
        "trends_large",
        "failures_large",
        "phases_large",
        "migrate_large_to_sqlite",
        "capture_no_report",
        "capture_one_report",
    }
    for figure in data["figures"].values():
        assert figure["seconds"] > 0 and figure["max_rss_mb"] > 0
    assert len(data["targets"]) == 14
    assert data["figures"]["export_html_large"]["output_bytes"] > 0
    assert all(isinstance(t["passed"], bool) for t in data["targets"].values())
    assert data["config"]["n"] == 20 and data["machine"]["python"]
    for name in data["targets"]:
        assert name in result.stdout


@pytest.mark.slow
def test_benchmark_smoke_run_of_the_sqlite_store(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--n", "20", "--repeat", "1",
         "--store", "sqlite", "--json-out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["config"]["store"] == "sqlite"
    assert {"show_large", "trends_large", "import_bulk", "import_bulk_serial"} <= set(
        data["figures"]
    )
    assert "capture_no_report" not in data["figures"]
    assert len(data["targets"]) == 7
    assert "(sqlite store)" in result.stdout
