"""Write small EXECUTION_REPORT.md files with chosen figures: the histories the insight
tests (compare, anomalies, estimates, alerts) and the capture tests import through the CLI."""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

DAY0 = datetime(2024, 12, 1, 9, 0, tzinfo=timezone.utc)


def report_text(
    *,
    document: str = "document-7-reverse.md",
    project_path: str = "/work/demo",
    project_name: str = "Demo",
    started: datetime = DAY0,
    minutes: float = 60,
    status: str = "success",
    phases: int = 4,
    failed_phase: int | None = None,
    baseline: int = 100,
    final: int = 110,
    tokens: int | None = None,
    cost: float | None = None,
    base_commit: str | None = None,
    added: int = 120,
    removed: int = 30,
    files: int = 5,
) -> str:
    completed = started + timedelta(minutes=minutes)
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    result = {
        "success": "✅ All phases completed",
        "partial": "⚠️ Completed with issues",
        "failed": "❌ Failed",
    }[status]
    rows = []
    done = 0
    for number in range(1, phases + 1):
        mark = "❌" if number == failed_phase else "✅"
        done += mark == "✅"
        rows.append(f"| {number} | Phase {number} | {mark} | {number:07x} |")
    commit = base_commit or f"{zlib.crc32(f'{document}{started}'.encode()) % 16**7:07x}"
    lines = [
        f"# Execution Report: {document}",
        "",
        "## Metadata",
        "",
        "| Field | Value |",
        "|-------|-------|",
        f"| Audit Document | {document} |",
        f"| Document Title | {document.removesuffix('.md')} |",
        f"| Project | {project_name} |",
        f"| Project Path | {project_path} |",
        "| Branch | audit/demo |",
        f"| Base Commit | {commit} |",
        f"| Started | {started.strftime(stamp)} |",
        f"| Completed | {completed.strftime(stamp)} |",
        "| Phaser Version | 1.7.0 |",
        "",
        "## Execution Summary",
        "",
        f"**Result:** {result}",
        "",
        f"**Phases:** {done} of {phases} completed",
        "",
        "| Phase | Title | Status | Commit |",
        "|-------|-------|--------|--------|",
        *rows,
        "",
        "## Test Results",
        "",
        f"**Baseline:** {baseline} tests",
        "",
        f"**Final:** {final} tests",
        "",
        "## Files Changed",
        "",
        f"**Summary:** {files} files changed, {added} insertions(+), {removed} deletions(-)",
        "",
    ]
    if tokens is not None:
        lines += [
            "## Token Usage",
            "",
            "| Kind | Tokens |",
            "|------|--------|",
            f"| Input | {tokens // 2} |",
            f"| Output | {tokens - tokens // 2} |",
            f"| Total | {tokens} |",
        ]
        if cost is not None:
            lines.append(f"| Cost | ${cost:.2f} |")
        lines.append("")
    return "\n".join(lines)


def write_report(directory: Path, **figures: object) -> Path:
    """Write one report into ``directory`` (created) and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "EXECUTION_REPORT.md"
    path.write_text(report_text(**figures), encoding="utf-8")  # type: ignore[arg-type]
    return path


def write_history(root: Path, runs: list[dict[str, object]]) -> list[Path]:
    """One report per run, in ``root/run-NN/``, each a day after the one before."""
    paths = []
    for number, figures in enumerate(runs):
        figures = {"started": DAY0 + timedelta(days=number), **figures}
        paths.append(write_report(root / f"run-{number:02d}", **figures))
    return paths
