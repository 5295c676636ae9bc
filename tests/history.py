"""A varied execution history for the dashboard and metrics tests: statuses, phases with
errors, failure reasons, tokens per model with cost, unknown durations and test counts,
spread over several weeks (a plain module, like storage_helpers)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from storage_helpers import json_store, make_record

from phaser_analytics.models import ExecutionRecord, ExecutionStatus, PhaseRecord, PhaseStatus

STATUSES = (ExecutionStatus.SUCCESS, ExecutionStatus.SUCCESS, ExecutionStatus.PARTIAL,
            ExecutionStatus.FAILED)  # fmt: skip
MODELS = ("claude-opus-4", "claude-sonnet-4")
REASONS = ("Flaky integration test", "Type check failed", "Merge conflict in <main>")


def varied_record(project: Path | str, i: int, *, name: str = "Demo") -> ExecutionRecord:
    """Execution ``i``: every fourth fails, some have no duration or tokens, and the texts
    include markup that the page must show as text."""
    status = STATUSES[i % len(STATUSES)]
    record = make_record(
        project,
        hours=i * 17,  # about one and a half runs a day, across weeks
        document=f"document-{i:03d}-{'<b>bold</b>' if i == 5 else 'audit'}.md",
        status=status,
        project_name=name,
        branch=f"audit/{i}",
        baseline_tests=100 + i,
        final_tests=100 + i + (i % 7) - (3 if i % 11 == 0 else 0),
    )
    assert record.started_at is not None
    record.completed_at = record.started_at + timedelta(minutes=10 + (i * 13) % 140)
    if i % 9 == 4:
        record.completed_at = None  # duration unknown
    planned = 3 + i % 4
    completed = planned if status is ExecutionStatus.SUCCESS else planned - 1 - (i % 2)
    record.phases_planned, record.phases_completed = planned, max(completed, 0)
    record.phases = [
        PhaseRecord(
            phase_number=10 + n,
            title=f"Phase title {n}",
            status=PhaseStatus.FAILED if n >= record.phases_completed else PhaseStatus.COMPLETED,
            tests_before=100 + n,
            tests_after=101 + n,
            error_message=f"Error in phase {n}" if n >= record.phases_completed else None,
        )
        for n in range(planned)
    ]
    if status is not ExecutionStatus.SUCCESS:
        record.failure_reasons = [REASONS[i % len(REASONS)]]
    if i % 5 != 3:  # some executions have no token figures at all
        by_model = {}
        for k, model in enumerate(MODELS[: 1 + i % 2]):
            counts = {"input": 1000 * (i + 1) + k, "output": 500 * (i + 1),
                      "cache_creation": 50 * i, "cache_read": 7000 + i}  # fmt: skip
            by_model[model] = {**counts, "total": sum(counts.values()),
                               "cost_usd": round(0.01 * (i + 1) + 0.5 * k, 6)}  # fmt: skip
        record.tokens_by_model = by_model
        record.tokens = {
            kind: sum(m[kind] for m in by_model.values())
            for kind in ("input", "output", "cache_creation", "cache_read", "total")
        }
        record.cost_usd = round(sum(m["cost_usd"] for m in by_model.values()), 6)
    return record


def fill_varied(project: Path, count: int, *, name: str = "Demo") -> list[ExecutionRecord]:
    records = [varied_record(project, i, name=name) for i in range(count)]
    json_store(project).save(records)
    return records
