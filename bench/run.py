"""Benchmark phaser-analytics at N executions against the targets of issue 6.

Generates N synthetic reports (bench/synth.py), then measures in one run, side by side:
the interpreter floor, show on stores of 10 and N, export (JSON, CSV at N/10 and N, and
the HTML dashboard at N, with the page's size),
the bare markdown-it-py parse floor, bulk imports of N and N/10 and one import into the
store of N. Every command runs in its own subprocess, reaped with ``os.wait4`` so its own
peak memory (max RSS) is read. Prints each figure, each target's ratio with PASS/FAIL, and
writes them all as JSON. ``docs/performance.md`` explains the figures.

    python bench/run.py                    # N=10,000, 5 runs of each short figure
    python bench/run.py --n 200 --repeat 1 # a smoke test: well under a minute
    python bench/run.py --store sqlite --n 100000   # the SQLite store's figures and targets
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth  # a sibling module of this script

REPO = Path(__file__).resolve().parent.parent
DEFAULT_JSON = REPO / "bench" / "results" / "latest.json"
SMALL_STORE = 10
MB = 1024 * 1024
BACKENDS = ("json", "sqlite")
#: The store backend measured (``--store``): every command gets ``--store URL`` for sqlite.
BACKEND = "json"

#: The issue's floor: what any click + pluggy command pays to start.
FLOOR_STARTUP = "import click, pluggy, json"

#: The parse floor: read and tokenize every report under argv[1] with bare markdown-it-py.
FLOOR_PARSE = """
import os, sys
from markdown_it import MarkdownIt
md = MarkdownIt("commonmark").enable("table")
count = 0
for root, dirs, files in os.walk(sys.argv[1]):
    dirs.sort()
    for name in sorted(files):
        if name == "EXECUTION_REPORT.md":
            with open(os.path.join(root, name), encoding="utf-8") as handle:
                md.parse(handle.read())
            count += 1
print(count)
"""


class BenchError(RuntimeError):
    """A measured command failed, or did not do what it was measured for."""


# -- measuring one command -----------------------------------------------------------------


@dataclass
class Run:
    """One run of a command: wall time, CPU time and peak memory of its process."""

    seconds: float
    cpu_seconds: float
    max_rss_mb: float
    stdout: str = ""


def _rss_mb(ru_maxrss: int) -> float:
    """``ru_maxrss`` in MB: kilobytes on Linux, bytes on macOS."""
    return ru_maxrss / MB if sys.platform == "darwin" else ru_maxrss / 1024


#: Runs argv[4:] with stdin from argv[1] (/dev/null unless a figure feeds its command),
#: stdout to argv[2] and stderr to argv[3], reaps
#: it with os.wait4 (the usage of that one child, where getrusage(RUSAGE_CHILDREN) gives
#: the maximum over all children) and prints its time and usage as JSON. A child's max RSS
#: starts at its parent's (the kernel keeps the parent's high-water mark across fork and
#: exec), so commands are started from this small helper, never from the benchmark itself.
LAUNCHER = """
import json, os, sys, time
inp, out, err, *argv = sys.argv[1:]
flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
actions = [
    (os.POSIX_SPAWN_OPEN, 0, inp, os.O_RDONLY, 0),
    (os.POSIX_SPAWN_OPEN, 1, out, flags, 0o644),
    (os.POSIX_SPAWN_OPEN, 2, err, flags, 0o644),
]
start = time.perf_counter()
pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
print(json.dumps({
    "seconds": seconds,
    "cpu_seconds": usage.ru_utime + usage.ru_stime,
    "ru_maxrss": usage.ru_maxrss,
    "exit": os.waitstatus_to_exitcode(status),
}))
"""


def run_measured(
    command: Sequence[str],
    env: dict[str, str],
    cwd: Path,
    *,
    capture: bool = False,
    stdin: Path | None = None,
) -> Run:
    """Run ``command`` through :data:`LAUNCHER`; its stdout is kept only with ``capture``,
    its stdin read from ``stdin`` (default /dev/null)."""
    with tempfile.TemporaryDirectory(prefix="phaser-bench-run-") as scratch:
        out = Path(scratch) / "stdout" if capture else Path(os.devnull)
        err = Path(scratch) / "stderr"
        launcher = [sys.executable, "-S", "-c", LAUNCHER, str(stdin or os.devnull), str(out)]
        launched = subprocess.run(
            [*launcher, str(err), *command],
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
        )
        if launched.returncode != 0:
            raise BenchError(f"the launcher failed for {' '.join(command)}:\n{launched.stderr}")
        usage = json.loads(launched.stdout)
        if usage["exit"] != 0:
            tail = err.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise BenchError(f"{' '.join(command)} exited {usage['exit']}:\n{tail}")
        stdout = out.read_text(encoding="utf-8", errors="replace") if capture else ""
    return Run(usage["seconds"], usage["cpu_seconds"], _rss_mb(usage["ru_maxrss"]), stdout)


# -- figures -------------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured figure: the runs of one command, summarised by their median."""

    name: str
    description: str
    runs: list[Run] = field(default_factory=list)
    reports: int | None = None  # reports imported or parsed, for a time per report
    output_bytes: int | None = None  # the size of the file the command wrote, if any

    @property
    def seconds(self) -> float:
        return statistics.median(run.seconds for run in self.runs)

    @property
    def cpu_seconds(self) -> float:
        return statistics.median(run.cpu_seconds for run in self.runs)

    @property
    def max_rss_mb(self) -> float:
        return max(run.max_rss_mb for run in self.runs)

    @property
    def per_report_ms(self) -> float | None:
        return self.seconds / self.reports * 1000 if self.reports else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "seconds": self.seconds,
            "min_seconds": min(run.seconds for run in self.runs),
            "max_seconds": max(run.seconds for run in self.runs),
            "cpu_seconds": self.cpu_seconds,
            "max_rss_mb": self.max_rss_mb,
            "runs": len(self.runs),
            "run_seconds": [run.seconds for run in self.runs],
            "reports": self.reports,
            "per_report_ms": self.per_report_ms,
            "output_bytes": self.output_bytes,
        }


Command = Callable[[int], Sequence[str]]  # run number → argv


@dataclass
class Spec:
    """What to run for a figure; ``reset`` runs before each run, outside the timing."""

    name: str
    description: str
    command: Command
    reset: Callable[[], None] | None = None
    check: Callable[[Run, int], None] | None = None
    capture: bool = False
    reports: int | None = None
    stdin: Path | None = None
    env: dict[str, str] | None = None  # added to the bench's environment


@dataclass
class Bench:
    """The settings every measurement shares."""

    env: dict[str, str]
    workdir: Path
    repeat: int
    long_seconds: float
    log: Callable[[str], None]

    def once(self, spec: Spec, number: int) -> Run:
        if spec.reset is not None:
            spec.reset()
        env = {**self.env, **spec.env} if spec.env else self.env
        run = run_measured(
            spec.command(number), env, self.workdir, capture=spec.capture, stdin=spec.stdin
        )
        if spec.check is not None:
            spec.check(run, number)
        return run

    def measure(self, spec: Spec) -> Figure:
        """``repeat`` runs, or one when the first takes over ``long_seconds``."""
        figure = Figure(spec.name, spec.description, reports=spec.reports)
        figure.runs.append(self.once(spec, 0))
        if figure.runs[0].seconds <= self.long_seconds:
            figure.runs += [self.once(spec, number) for number in range(1, self.repeat)]
        self._logged(figure)
        return figure

    def measure_interleaved(self, specs: Sequence[Spec]) -> list[Figure]:
        """Short figures compared with each other: run in turn, so drift hits all alike."""
        figures = [Figure(s.name, s.description, reports=s.reports) for s in specs]
        for number in range(self.repeat):
            for spec, figure in zip(specs, figures, strict=True):
                figure.runs.append(self.once(spec, number))
        for figure in figures:
            self._logged(figure)
        return figures

    def _logged(self, figure: Figure) -> None:
        self.log(
            f"  {figure.name}: {figure.seconds:.3f} s (median of {len(figure.runs)}), "
            f"{figure.max_rss_mb:.0f} MB"
        )


# -- the workload --------------------------------------------------------------------------


@dataclass
class Layout:
    """Where the reports and stores of one benchmark run live.

    ``reports/s/`` holds the first N/10 reports and ``reports/r/`` the rest, so one
    recursive import of ``reports/`` covers N and one of ``reports/s/`` covers N/10.
    """

    root: Path
    n: int

    @property
    def n_small(self) -> int:
        return max(1, self.n // 10)

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def reports_small(self) -> Path:
        return self.reports / "s"

    @property
    def tiny(self) -> Path:
        return self.root / "tiny"

    def extra_report(self, number: int) -> Path:
        """The report of the ``number``-th import into the large store, new each time."""
        index = self.n + SMALL_STORE + number
        return self.root / "extra" / f"{index:06d}" / synth.REPORT_NAME

    def store(self, name: str) -> Path:
        return self.root / "stores" / name

    def generate(self, repeat: int, seed: int) -> int:
        """Write every report; return their total size in bytes."""
        paths = synth.write_reports(self.reports_small, range(self.n_small), seed)
        paths += synth.write_reports(self.reports / "r", range(self.n_small, self.n), seed)
        paths += synth.write_reports(self.tiny, range(self.n, self.n + SMALL_STORE), seed)
        # One new report per run of import_one_into_large, and one per run of capture.
        extra = range(self.n + SMALL_STORE, self.n + SMALL_STORE + 2 * repeat)
        paths += synth.write_reports(self.root / "extra", extra, seed)
        return sum(path.stat().st_size for path in paths)


def phaser(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "phaser_analytics", "analytics", *map(str, args)]


def fresh_dir(path: Path) -> Callable[[], None]:
    def reset() -> None:
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)

    return reset


def sqlite_path(project: Path) -> Path:
    return project / "store.db"


def store_args(project: Path) -> list[str | Path]:
    """``--project`` (and ``--store`` for a SQLite run) of a command on ``project``."""
    if BACKEND == "sqlite":
        return ["--project", project, "--store", f"sqlite:///{sqlite_path(project)}"]
    return ["--project", project]


def store_count(project: Path) -> int:
    """Executions in a store, counted without our code: the record files of a JSON store
    (whatever the index's form), the rows of a SQLite one."""
    if BACKEND == "sqlite":
        import sqlite3

        if not sqlite_path(project).exists():
            return 0
        with sqlite3.connect(sqlite_path(project)) as db:
            return int(db.execute("SELECT count(*) FROM executions").fetchone()[0])
    executions = project / ".phaser" / "analytics" / "executions"
    return sum(1 for path in executions.glob("*.json") if not path.name.startswith("."))


def expect_store(project: Path, count: Callable[[int], int]) -> Callable[[Run, int], None]:
    def check(run: Run, number: int) -> None:
        found = store_count(project)
        if found != count(number):
            raise BenchError(f"{project} holds {found} executions, expected {count(number)}")

    return check


def expect_stdout(text: str) -> Callable[[Run, int], None]:
    def check(run: Run, number: int) -> None:
        if run.stdout.strip() != text:
            raise BenchError(f"expected {text!r} on stdout, got {run.stdout.strip()[:200]!r}")

    return check


def import_spec(
    name: str, layout: Layout, source: Path, store: str, count: int, jobs: int = 0
) -> Spec:
    project = layout.store(store)
    how = "one process" if jobs == 1 else "workers parse, one process stores"
    return Spec(
        name,
        f"phaser analytics import DIR --recursive --jobs {jobs} of {count} reports into an "
        f"empty store ({how})",
        lambda _: phaser("import", source, "--recursive", "--jobs", jobs, *store_args(project)),
        reset=fresh_dir(project),
        check=expect_store(project, lambda _: count),
        reports=count,
    )


def export_spec(name: str, layout: Layout, store: str, fmt: str, count: int) -> Spec:
    project = layout.store(store)
    return Spec(
        name,
        f"phaser analytics export --format {fmt} of {count} executions (stdout to devnull)",
        lambda _: phaser("export", "--format", fmt, *store_args(project)),
    )


def html_spec(name: str, layout: Layout, store: str, count: int) -> Spec:
    project = layout.store(store)
    out = layout.root / f"{name}.html"
    return Spec(
        name,
        f"phaser analytics export --format html -o FILE of {count} executions",
        lambda _: phaser("export", "--format", "html", *store_args(project), "-o", out),
    )


def show_spec(name: str, layout: Layout, store: str, count: int) -> Spec:
    project = layout.store(store)
    return Spec(
        name,
        f"phaser analytics show on a store of {count} executions (stdout to devnull)",
        lambda _: phaser("show", *store_args(project)),
    )


def aggregate_spec(command: str, layout: Layout, store: str, count: int) -> Spec:
    project = layout.store(store)
    return Spec(
        f"{command}_large",
        f"phaser analytics {command} on a store of {count} executions (stdout to devnull)",
        lambda _: phaser(command, *store_args(project)),
    )


def run_all(bench: Bench, layout: Layout) -> dict[str, Figure]:
    """Every figure, in an order where each store exists before it is read."""
    n, n_small = layout.n, layout.n_small
    figures: list[Figure] = []
    log = bench.log

    log("parse floor and bulk imports")
    figures.append(
        bench.measure(
            Spec(
                "floor_parse",
                f"read and parse the {n} reports with bare markdown-it-py, one process",
                lambda _: [sys.executable, "-c", FLOOR_PARSE, str(layout.reports)],
                capture=True,
                check=expect_stdout(str(n)),
                reports=n,
            )
        )
    )
    figures.append(
        bench.measure(
            import_spec("import_bulk_small", layout, layout.reports_small, "bulk_small", n_small, 1)
        )
    )
    figures.append(
        bench.measure(import_spec("import_bulk_serial", layout, layout.reports, "serial", n, 1))
    )
    figures.append(bench.measure(import_spec("import_bulk", layout, layout.reports, "large", n)))

    log("startup floor and show")
    small = layout.store("small")
    fresh_dir(small)()
    run_measured(phaser("import", layout.tiny, "--recursive", *store_args(small)), bench.env,
                 layout.root)  # fmt: skip
    floor = Spec(
        "floor_startup",
        f'python -c "{FLOOR_STARTUP}" with the same interpreter',
        lambda _: [sys.executable, "-c", FLOOR_STARTUP],
    )
    figures += bench.measure_interleaved(
        [
            floor,
            show_spec("show_small", layout, "small", SMALL_STORE),
            show_spec("show_large", layout, "large", n),
            *(aggregate_spec(c, layout, "large", n) for c in ("trends", "failures", "phases")),
        ]
    )

    if BACKEND == "json":  # the export targets are the JSON store's (issue 6, issue 12)
        log("exports")
        figures += export_figures(bench, layout)

    log("one import into the large store")
    large = layout.store("large")
    figures.append(
        bench.measure(
            Spec(
                "import_one_into_large",
                f"phaser analytics import of one new report into the store of {n}",
                lambda number: phaser("import", layout.extra_report(number), *store_args(large)),
                check=expect_store(large, lambda number: n + number + 1),
            )
        )
    )
    if BACKEND == "json":
        log("migrate the large store to SQLite")
        target = layout.root / "migrated.db"
        figures.append(
            bench.measure(
                Spec(
                    "migrate_large_to_sqlite",
                    f"phaser analytics store migrate --to sqlite:///… of the {n + bench.repeat} "
                    "executions of the large JSON store into a new database",
                    lambda _: phaser(
                        "store", "migrate", "--to", f"sqlite:///{target}", "--project", large
                    ),
                    reset=lambda: target.unlink(missing_ok=True),
                )
            )
        )
        log("capture (the Claude Code SessionEnd hook) in the project of the large store")
        figures += capture_figures(bench, layout)
    return {figure.name: figure for figure in figures}


def export_figures(bench: Bench, layout: Layout) -> list[Figure]:
    """JSON, CSV (at N and N/10, for the memory target) and HTML exports of the store."""
    n, n_small = layout.n, layout.n_small
    figures = [
        bench.measure(export_spec("export_json_large", layout, "large", "json", n)),
        bench.measure(export_spec("export_csv_small", layout, "bulk_small", "csv", n_small)),
        bench.measure(export_spec("export_csv_large", layout, "large", "csv", n)),
    ]
    html = bench.measure(html_spec("export_html_large", layout, "large", n))
    html.output_bytes = (layout.root / "export_html_large.html").stat().st_size
    return [*figures, html]


#: The capture project's source tree that the hook searches for a new report: directories
#: and files per directory (a mid-sized repository: 3,000 files).
CAPTURE_TREE = (150, 20)
#: Assistant messages in the session's transcript (about 1 MB).
CAPTURE_MESSAGES = 1000


def capture_setup(layout: Layout) -> tuple[Path, Path]:
    """Give the large store's project a source tree and a session transcript that began
    now; return the project and the SessionEnd payload file."""
    project = layout.store("large")
    dirs, files = CAPTURE_TREE
    for d in range(dirs):
        folder = project / "src" / f"pkg{d // 10}" / f"mod{d}"
        folder.mkdir(parents=True, exist_ok=True)
        for f in range(files):
            (folder / f"file{f}.py").write_text(f"# {d}/{f}\n", encoding="utf-8")
    begun = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 5))
    transcript = layout.root / "claude-home" / "projects" / "-bench" / "bench-session.jsonl"
    transcript.parent.mkdir(parents=True, exist_ok=True)
    padding = "x" * 800
    with open(transcript, "w", encoding="utf-8") as handle:
        handle.write(json.dumps({"type": "user", "timestamp": begun, "cwd": str(project)}) + "\n")
        for number in range(CAPTURE_MESSAGES):
            line = {
                "type": "assistant",
                "timestamp": begun,
                "requestId": f"req_{number}",
                "cwd": str(project),
                "message": {
                    "id": f"msg_{number}",
                    "model": "claude-sonnet-4-5",
                    "content": [{"type": "text", "text": padding}],
                    "usage": {"input_tokens": 10, "output_tokens": 100,
                              "cache_read_input_tokens": 5000},
                },
            }  # fmt: skip
            handle.write(json.dumps(line) + "\n")
    payload = layout.root / "session-end.json"
    payload.write_text(
        json.dumps(
            {
                "session_id": "bench-session",
                "transcript_path": str(transcript),
                "cwd": str(project / "src"),
                "hook_event_name": "SessionEnd",
                "reason": "prompt_input_exit",
            }
        ),
        encoding="utf-8",
    )
    return project, payload


def capture_figures(bench: Bench, layout: Layout) -> list[Figure]:
    """``capture`` with no new report, then with one new report each run, imported into
    the store of N. The time budgets are lifted (a large scale) so that every run does the
    whole import: the figure is what the hook costs, not when it gives up."""
    project, payload = capture_setup(layout)
    large_count = store_count(project)
    unbounded = {"PHASER_CAPTURE_BUDGET_SCALE": "1000"}
    report = project / synth.REPORT_NAME

    def new_report(number: int) -> Callable[[], None]:
        def reset() -> None:
            shutil.copy(layout.extra_report(bench.repeat + number), report)

        return reset

    no_report = Spec(
        "capture_no_report",
        f"phaser analytics capture: a SessionEnd payload, no new report in a project of "
        f"{CAPTURE_TREE[0] * CAPTURE_TREE[1]} files",
        lambda _: phaser("capture"),
        check=expect_store(project, lambda _: large_count),
        stdin=payload,
        env=unbounded,
    )
    figures = [bench.measure(no_report)]
    one = Spec(
        "capture_one_report",
        f"phaser analytics capture: one new report, imported with the session's tokens "
        f"({CAPTURE_MESSAGES} messages) into the store of {layout.n}",
        lambda number: phaser("capture"),
        check=expect_store(project, lambda number: large_count + number + 1),
        stdin=payload,
        env=unbounded,
    )
    # bench.measure runs reset before each run: a new report each time.
    runs = Figure(one.name, one.description)
    for number in range(bench.repeat):
        one.reset = new_report(number)
        runs.runs.append(bench.once(one, number))
    bench._logged(runs)
    figures.append(runs)
    return figures


# -- targets -------------------------------------------------------------------------------


@dataclass
class Target:
    """One of the issue's targets: ``value`` must not exceed ``limit``."""

    name: str
    description: str
    value: float
    limit: float
    unit: str  # "x" for a ratio, "s", "MB"
    #: The same figure from CPU time instead of wall time (for the timing targets): what
    #: the code costs, whatever else the machine was doing.
    cpu_value: float | None = None

    @property
    def passed(self) -> bool:
        return self.value <= self.limit

    def verdict(self) -> str:
        if self.passed:
            return f"PASS ({self.value / self.limit:.0%} of the limit)"
        return f"FAIL ({self.value / self.limit:.2f}× the limit)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "value": self.value,
            "limit": self.limit,
            "unit": self.unit,
            "passed": self.passed,
            "cpu_value": self.cpu_value,
        }


def _ratio(figures: dict[str, Figure], a: str, b: str, name: str, limit: float) -> Target:
    fa, fb = figures[a], figures[b]
    return Target(
        name, f"{a} / {b}", fa.seconds / fb.seconds, limit, "x", fa.cpu_seconds / fb.cpu_seconds
    )


def _linearity(figures: dict[str, Figure]) -> Target:
    large, small = figures["import_bulk_serial"], figures["import_bulk_small"]
    assert large.reports and small.reports
    wall = (large.seconds / large.reports) / (small.seconds / small.reports)
    cpu = (large.cpu_seconds / large.reports) / (small.cpu_seconds / small.reports)
    return Target("import_linearity", "time per report, import of N / import of N/10",
                  wall, 1.2, "x", cpu)  # fmt: skip


def targets(figures: dict[str, Figure]) -> list[Target]:
    """The issues' targets for the backend measured, from this run's figures."""
    if BACKEND == "sqlite":
        return sqlite_targets(figures)
    export = figures["export_json_large"]
    csv_large, csv_small = figures["export_csv_large"], figures["export_csv_small"]
    html = figures["export_html_large"]
    return [
        _ratio(figures, "show_large", "floor_startup", "show_large/floor_startup", 2.0),
        _ratio(figures, "show_large", "show_small", "show_large/show_small", 1.3),
        _ratio(figures, "import_bulk_serial", "floor_parse", "import_bulk_serial/floor_parse",
               1.5),
        _ratio(figures, "import_bulk", "floor_parse", "import_bulk/floor_parse (every core)",
               0.75),
        _linearity(figures),
        _ratio(figures, "import_one_into_large", "floor_startup",
               "import_one_into_large/floor_startup", 3.0),
        Target("export_json_large_seconds", "export_json_large wall time",
               export.seconds, 4.0, "s", export.cpu_seconds),
        Target("export_json_large_rss", "export_json_large peak memory",
               export.max_rss_mb, 300.0, "MB"),
        Target("migrate_large_to_sqlite_seconds", "store migrate of the large JSON store into "
               "SQLite, wall time", figures["migrate_large_to_sqlite"].seconds, 10.0, "s",
               figures["migrate_large_to_sqlite"].cpu_seconds),
        Target("capture_no_report_seconds", "capture_no_report wall time (Claude Code "
               "kills a SessionEnd hook after about 1.5 s)",
               figures["capture_no_report"].seconds, 0.3, "s",
               figures["capture_no_report"].cpu_seconds),
        Target("capture_one_report_seconds", "capture_one_report wall time",
               figures["capture_one_report"].seconds, 1.0, "s",
               figures["capture_one_report"].cpu_seconds),
        Target("export_csv_rss_flat",
               "export_csv_large / export_csv_small peak memory (flat in N: ≤ 1.2×)",
               csv_large.max_rss_mb / csv_small.max_rss_mb, 1.2, "x"),
        Target("export_html_large_seconds", "export --format html of N, wall time",
               html.seconds, 3.0, "s", html.cpu_seconds),
        Target("export_html_large_size", "export --format html of N, the page's size",
               (html.output_bytes or 0) / 1_000_000, 5.0, "MB"),
    ]  # fmt: skip


def sqlite_targets(figures: dict[str, Figure]) -> list[Target]:
    """Issue 10's targets of the SQLite store (meant for N=100,000)."""
    return [
        _ratio(figures, "show_large", "floor_startup", "show_large/floor_startup", 1.5),
        *(_ratio(figures, f"{c}_large", "floor_startup", f"{c}_large/floor_startup", 3.0)
          for c in ("trends", "failures", "phases")),
        _ratio(figures, "import_bulk_serial", "floor_parse", "import_bulk_serial/floor_parse",
               1.3),
        _ratio(figures, "import_bulk", "floor_parse", "import_bulk/floor_parse (every core)",
               0.75),
        _linearity(figures),
    ]  # fmt: skip


# -- report --------------------------------------------------------------------------------


def _read_first(path: str, prefix: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return next((line for line in handle if line.startswith(prefix)), None)
    except OSError:
        return None


def _git_revision() -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def machine() -> dict[str, Any]:
    """What the run ran on."""
    cpu = _read_first("/proc/cpuinfo", "model name")
    mem = _read_first("/proc/meminfo", "MemTotal")
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu.split(":", 1)[1].strip() if cpu else platform.processor() or None,
        "ram_gb": round(int(mem.split()[1]) / 1024 / 1024, 1) if mem else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "revision": _git_revision(),
        "versions": {
            dist: _version(dist)
            for dist in ("phaser-analytics", "click", "pluggy", "markdown-it-py", "jinja2")
        },
    }


def print_report(
    info: dict[str, Any], config: dict[str, Any], figures: dict[str, Figure], goals: list[Target]
) -> None:
    print(
        f"\nphaser-analytics benchmark ({config['store']} store): N={config['n']}, "
        f"repeat={config['repeat']}, "
        f"revision {info['revision']}"
    )
    print(
        f"machine: {info['cpus']} CPUs ({info['cpu_model']}), {info['ram_gb']} GB RAM, "
        f"Python {info['python']}, {info['platform']}"
    )
    print(
        f"load average (1 min): {config['load_before']} before, {config['load_after']} after "
        "(timings compare only on an otherwise idle machine; see the cpu column)"
    )
    print(
        f"reports: {config['reports_generated']} generated, "
        f"{config['reports_mb']:.1f} MB, in {config['generate_seconds']:.1f} s\n"
    )
    print(f"{'figure':<24}{'median s':>10}{'min s':>9}{'max s':>9}{'runs':>6}"
          f"{'cpu s':>9}{'peak MB':>9}{'ms/report':>11}")  # fmt: skip
    for figure in figures.values():
        times = [run.seconds for run in figure.runs]
        per = f"{figure.per_report_ms:.2f}" if figure.per_report_ms is not None else ""
        print(
            f"{figure.name:<24}{figure.seconds:>10.3f}{min(times):>9.3f}{max(times):>9.3f}"
            f"{len(times):>6}{figure.cpu_seconds:>9.3f}{figure.max_rss_mb:>9.1f}{per:>11}"
        )
    print(f"\n{'target':<38}{'value':>10}{'limit':>10}{'(cpu)':>10}  result")
    for goal in goals:
        unit = "×" if goal.unit == "x" else f" {goal.unit}"
        value = f"{goal.value:.2f}{unit}"
        limit = f"≤ {goal.limit:g}{unit}"
        cpu = f"{goal.cpu_value:.2f}{unit}" if goal.cpu_value is not None else ""
        print(f"{goal.name:<38}{value:>10}{limit:>10}{cpu:>10}  {goal.verdict()}")
    passed = sum(goal.passed for goal in goals)
    print(f"\n{passed} of {len(goals)} targets met.")


# -- main ----------------------------------------------------------------------------------


def is_postgres(store: str) -> bool:
    """``--store postgresql`` (a local server) or a ``postgresql://…`` URL."""
    return store.split(":", 1)[0] in ("postgresql", "postgres")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="reports (default 10000)")
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs of each short figure (median; default 5)"
    )
    parser.add_argument(
        "--long",
        type=float,
        default=10.0,
        help="a figure whose first run takes longer than this many seconds runs once (default 10)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic reports")
    parser.add_argument(
        "--store",
        default="json",
        help="the store backend measured: json (default: the project's JSON files), sqlite, "
        "postgresql (bench/postgres.py's figures, on a local server this starts) or "
        "postgresql://… (on that database: its phaser tables are dropped!)",
    )
    parser.add_argument(
        "--json-out", type=Path, help=f"default {DEFAULT_JSON} (latest-sqlite.json for sqlite)"
    )
    parser.add_argument(
        "--workdir", type=Path, help="work (and stay) in this directory instead of a temp one"
    )
    parser.add_argument(
        "--pg-imports",
        type=int,
        default=25,
        help="with --store postgresql: reports each of the 8 concurrent importers imports "
        "(default 25)",
    )
    args = parser.parse_args(argv)
    if args.store not in BACKENDS and not is_postgres(args.store):
        parser.error(f"--store: json, sqlite, postgresql or postgresql://…, not {args.store!r}")
    if args.json_out is None:
        kind = "postgresql" if is_postgres(args.store) else args.store
        suffix = "" if kind == "json" else f"-{kind}"
        args.json_out = DEFAULT_JSON.with_name(f"latest{suffix}.json")
    if args.n < 1 or args.repeat < 1:
        parser.error("--n and --repeat must be at least 1")
    return args


def isolated_env(root: Path) -> dict[str, str]:
    """The environment of every command: our PHASER_HOME and CLAUDE_CONFIG_DIR, never the
    user's, and a fixed width without colour."""
    env = {k: v for k, v in os.environ.items() if k not in ("PHASER_DEBUG", "COLUMNS")}
    for name, folder in (("PHASER_HOME", "phaser-home"), ("CLAUDE_CONFIG_DIR", "claude-home")):
        (root / folder).mkdir(parents=True, exist_ok=True)
        env[name] = str(root / folder)
    env.update(NO_COLOR="1", COLUMNS="100")
    return env


def benchmark(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if is_postgres(args.store):
        return benchmark_postgres(args, root, log)
    global BACKEND
    BACKEND = args.store
    layout = Layout(root, args.n)
    log(f"generating {args.n} reports in {root}")
    start = time.perf_counter()
    size = layout.generate(args.repeat, args.seed)
    config = {
        "n": args.n,
        "n_small": layout.n_small,
        "repeat": args.repeat,
        "long_seconds": args.long,
        "seed": args.seed,
        "store": args.store,
        "workdir": str(root),
        "reports_generated": args.n + SMALL_STORE + 2 * args.repeat,
        "reports_mb": size / MB,
        "generate_seconds": time.perf_counter() - start,
    }
    bench = Bench(isolated_env(root), root, args.repeat, args.long, log)
    info = machine()  # before the run: the revision measured, not one committed meanwhile
    config["load_before"] = _load()
    figures = run_all(bench, layout)
    config["load_after"] = _load()
    goals = targets(figures)
    print_report(info, config, figures, goals)
    return {
        "machine": info,
        "config": config,
        "figures": {name: figure.to_dict() for name, figure in figures.items()},
        "targets": {goal.name: goal.to_dict() for goal in goals},
        "all_passed": all(goal.passed for goal in goals),
    }


def benchmark_postgres(
    args: argparse.Namespace, root: Path, log: Callable[[str], None]
) -> dict[str, Any]:
    """``--store postgresql…``: bench/postgres.py's figures and targets."""
    import postgres  # a sibling module of this script

    config = {"n": args.n, "repeat": args.repeat, "long_seconds": args.long,
              "seed": args.seed, "workdir": str(root), "store": postgres.redacted(args.store),
              "reports_generated": 0, "reports_mb": 0.0, "generate_seconds": 0.0}
    bench = Bench(isolated_env(root), root, args.repeat, args.long, log)
    info = machine()
    config["load_before"] = _load()
    floor = Spec(
        "floor_startup",
        f'python -c "{FLOOR_STARTUP}" with the same interpreter',
        lambda _: [sys.executable, "-c", FLOOR_STARTUP],
    )
    figures = postgres.run_all(bench, root, args.n, args.seed, args.store, Spec, phaser, floor,
                               imports_each=args.pg_imports)
    config["load_after"] = _load()
    goals = postgres.targets(figures, Target, _ratio, args.n)
    print_report(info, config, figures, goals)
    return {
        "machine": info,
        "config": config,
        "figures": {name: figure.to_dict() for name, figure in figures.items()},
        "targets": {goal.name: goal.to_dict() for goal in goals},
        "all_passed": all(goal.passed for goal in goals),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        if any(args.workdir.iterdir()):
            sys.exit(f"--workdir {args.workdir} is not empty")
        result = benchmark(args, args.workdir.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="phaser-bench-") as tmp:
            result = benchmark(args, Path(tmp))
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {args.json_out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
