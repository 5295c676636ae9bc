"""Synthetic ``EXECUTION_REPORT.md`` files for the benchmark.

Each report follows the structure of ``examples/EXECUTION_REPORT.md`` (Metadata, Execution
Summary with a phase table, Test Results with a pytest log, Git History, Files Changed,
Audit Objectives, Acceptance Criteria, Issues, Checklist, Rollback) and varies what a year
of real audits varies: document names, start times spread over a year, durations, status,
3 to 12 phases marked ✅/❌/⚠️, test counts, the size of the pytest log, commits and
files changed. The same seed always gives the same reports.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPORT_NAME = "EXECUTION_REPORT.md"
YEAR_START = datetime(2024, 1, 1, tzinfo=timezone.utc)
YEAR_SECONDS = 365 * 24 * 3600

_TOPICS = (
    "bridge",
    "replay",
    "reverse",
    "analytics",
    "sandbox",
    "cache",
    "router",
    "scheduler",
    "parser",
    "lexer",
    "migrations",
    "auth",
    "billing",
    "search",
    "indexer",
    "exporter",
    "importer",
    "webhooks",
    "telemetry",
    "metrics",
    "logging",
    "config",
    "plugins",
    "templates",
    "storage",
    "queue",
    "retry",
    "backoff",
    "cli",
    "docs",
    "packaging",
    "release",
    "security",
    "audit-log",
    "permissions",
    "sessions",
    "tokens",
    "pricing",
    "badges",
)
_WORDS = (
    "specification",
    "parsing",
    "detection",
    "generation",
    "integration",
    "testing",
    "protocol",
    "router",
    "policy",
    "engine",
    "recorder",
    "report",
    "schema",
    "validation",
    "cleanup",
    "refactor",
    "benchmark",
    "documentation",
    "hardening",
    "migration",
    "fixtures",
    "coverage",
    "caching",
    "streaming",
)
_MODULES = ("core", "cli", "io", "models", "utils", "plugins", "storage", "render")


@dataclass(frozen=True)
class Phase:
    number: int
    title: str
    mark: str  # "✅", "❌" or "⚠️ Skipped"
    sha: str


@dataclass(frozen=True)
class Report:
    """The facts of one synthetic execution, before they are written as markdown."""

    index: int
    document: str
    title: str
    branch: str
    base_sha: str
    started: datetime
    completed: datetime
    status: str  # "success", "partial" or "failed"
    phases: tuple[Phase, ...]
    baseline: int
    final: int
    files: tuple[tuple[str, int, int], ...]  # (path, insertions, deletions)


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(28):07x}"


def _status(rng: random.Random) -> str:
    roll = rng.random()
    return "success" if roll < 0.7 else "partial" if roll < 0.85 else "failed"


def _marks(rng: random.Random, status: str, count: int) -> list[str]:
    if status == "success":
        return ["✅"] * count
    if status == "failed":
        return ["❌"] + ["⚠️ Skipped"] * (count - 1)
    broken = rng.randrange(1, count)
    return (
        ["✅"] * broken
        + ["❌"]
        + ["✅" if rng.random() < 0.5 else "⚠️ Skipped"] * (count - broken - 1)
    )


def _phases(rng: random.Random, status: str) -> tuple[Phase, ...]:
    count = rng.randint(3, 12)
    first = rng.randint(1, 80)
    return tuple(
        Phase(
            first + i,
            f"{rng.choice(_WORDS).title()} {rng.choice(_WORDS).title()}",
            mark,
            _sha(rng) if mark == "✅" else "",
        )
        for i, mark in enumerate(_marks(rng, status, count))
    )


def _files(rng: random.Random, topic: str) -> tuple[tuple[str, int, int], ...]:
    count = rng.randint(3, 25)
    names = {
        f"{rng.choice(('src', 'tests', 'docs'))}/{topic}/{rng.choice(_MODULES)}_{i}.py"
        for i in range(count)
    }
    return tuple((name, rng.randint(1, 400), rng.randint(0, 80)) for name in sorted(names))


def make_report(index: int, seed: int = 0) -> Report:
    """The ``index``-th synthetic execution of a run seeded with ``seed``."""
    rng = random.Random(seed * 1_000_003 + index)
    topic = rng.choice(_TOPICS)
    number = index + 1
    started = YEAR_START + timedelta(seconds=rng.randrange(YEAR_SECONDS))
    status = _status(rng)
    phases = _phases(rng, status)
    baseline = rng.randint(40, 2500)
    delta = 0 if status == "failed" else rng.randint(0, 60)
    return Report(
        index=index,
        document=f"document-{number}-{topic}.md",
        title=f"Document {number}: {topic.replace('-', ' ').title()} Audit",
        branch=f"audit/{started:%Y-%m-%d}-{topic}-{number}",
        base_sha=_sha(rng),
        started=started,
        completed=started + timedelta(seconds=rng.randint(300, 3 * 3600)),
        status=status,
        phases=phases,
        baseline=baseline,
        final=baseline + delta,
        files=_files(rng, topic),
    )


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _metadata(report: Report) -> list[str]:
    return [
        "## Metadata",
        "",
        "| Field | Value |",
        "|-------|-------|",
        f"| Audit Document | {report.document} |",
        f"| Document Title | {report.title} |",
        "| Project | Phaser |",
        "| Project Path | /Users/jp/Projects/Phaser |",
        f"| Branch | {report.branch} |",
        f"| Base Commit | {report.base_sha} |",
        f"| Started | {_stamp(report.started)} |",
        f"| Completed | {_stamp(report.completed)} |",
        "| Phaser Version | 1.6.3 |",
    ]


_RESULTS = {
    "success": "✅ All phases completed",
    "partial": "⚠️ Completed with issues",
    "failed": "❌ Failed",
}


def _summary(report: Report) -> list[str]:
    done = sum(1 for phase in report.phases if phase.mark == "✅")
    rows = [f"| {p.number} | {p.title} | {p.mark} | {p.sha} |" for p in report.phases]
    return [
        "## Execution Summary",
        "",
        f"**Result:** {_RESULTS[report.status]}",
        "",
        f"**Phases:** {done} of {len(report.phases)} completed",
        "",
        "| Phase | Title | Status | Commit |",
        "|-------|-------|--------|--------|",
        *rows,
    ]


def pytest_log(total: int, failures: int) -> list[str]:
    """``pytest -q`` output for ``total`` tests: 72 results a line with the percentage, then
    the failures' short summary and the final count line."""
    results = ["F"] * failures + ["."] * (total - failures)
    lines = ["$ python -m pytest tests/ -q"]
    for start in range(0, total, 72):
        chunk = "".join(results[start : start + 72])
        percent = min(100, (start + len(chunk)) * 100 // max(total, 1))
        lines.append(f"{chunk:<72} [{percent:3d}%]")
    lines += [
        f"FAILED tests/test_module_{i}.py::test_case_{i} - AssertionError: expected 1, got 2"
        for i in range(failures)
    ]
    passed = total - failures
    tail = f"{failures} failed, {passed} passed" if failures else f"{passed} passed"
    lines.append(f"{tail} in {total * 0.047:.2f}s")
    return lines


def _tests(report: Report) -> list[str]:
    failures = {"success": 0, "partial": 2, "failed": 5}[report.status]
    delta = report.final - report.baseline
    return [
        "## Test Results",
        "",
        f"**Baseline:** {report.baseline} tests",
        "",
        f"**Final:** {report.final} tests",
        "",
        f"**Delta:** {delta:+d} tests",
        "",
        "```",
        *pytest_log(report.final, min(failures, report.final)),
        "```",
    ]


def _git(report: Report) -> list[str]:
    log = [f"{p.sha} Phase {p.number}: {p.title}" for p in reversed(report.phases) if p.sha]
    return [
        "## Git History",
        "",
        f"**Branch:** {report.branch}",
        "",
        f"**Commits:** {len(log)}",
        *(["", "```", *log, "```"] if log else []),
    ]


def _files_changed(report: Report) -> list[str]:
    width = max(len(path) for path, _, _ in report.files)
    added = sum(ins for _, ins, _ in report.files)
    removed = sum(dels for _, _, dels in report.files)
    total = f"{len(report.files)} files changed, {added} insertions(+), {removed} deletions(-)"
    stat = [
        f" {path:<{width}} | {ins + dels:4d} {'+' * min(ins, 40)}{'-' * min(dels, 20)}"
        for path, ins, dels in report.files
    ]
    return ["## Files Changed", "", f"**Summary:** {total}", "", "```", *stat, f" {total}", "```"]


def _closing(report: Report) -> list[str]:
    criteria = [
        f"| {p.number} | {p.title} reviewed and committed | {p.mark} |" for p in report.phases
    ]
    failed = [p for p in report.phases if p.mark == "❌"]
    issues = (
        [f"- Phase {p.number}: {p.title.lower()} failed its acceptance tests." for p in failed]
        if failed
        else ["No issues encountered during execution."]
    )
    return [
        "## Audit Objectives",
        "",
        *(f"- [x] Deliver {p.title.lower()}" for p in report.phases),
        "",
        "## Acceptance Criteria Status",
        "",
        "| Phase | Criterion | Status |",
        "|-------|-----------|--------|",
        *criteria,
        "",
        "## Issues Encountered",
        "",
        *issues,
        "",
        "## Post-Execution Checklist",
        "",
        f"- [{'x' if report.status == 'success' else ' '}] All tests pass",
        "- [x] Every phase committed on the audit branch",
        "- [x] `EXECUTION_REPORT.md` written",
        "- [ ] Branch merged into `main` (left for review)",
        "",
        "## Rollback Instructions",
        "",
        "```bash",
        "git checkout main",
        f"git branch -D {report.branch}",
        "```",
    ]


def render_report(report: Report) -> str:
    """The markdown of one synthetic report."""
    parts = [
        [f"# Execution Report: {report.title}"],
        _metadata(report),
        _summary(report),
        _tests(report),
        _git(report),
        _files_changed(report),
        _closing(report),
    ]
    return "\n\n".join("\n".join(part) for part in parts) + "\n"


def write_reports(directory: Path, indices: range, seed: int = 0) -> list[Path]:
    """Write the reports ``indices`` under ``directory``, each in its own folder."""
    paths = []
    for index in indices:
        folder = directory / f"{index:06d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / REPORT_NAME
        path.write_text(render_report(make_report(index, seed)), encoding="utf-8")
        paths.append(path)
    return paths
