"""Queries and aggregation (spec §14.2 TestQuery, §7.2–§7.3)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from phaser_analytics import (
    AnalyticsQuery,
    ExecutionRecord,
    ExecutionStatus,
    PhaseRecord,
    PhaseStatus,
    compute_duration_trend,
    compute_phase_failure_rates,
    compute_stats,
    get_executions_by_status,
    get_failed_phases,
    get_global_executions,
    get_recent_executions,
    query_executions,
    save_execution,
)
from phaser_analytics.project_registry import register_project

UTC = timezone.utc
DAY0 = datetime(2024, 12, 1, 9, 0, tzinfo=UTC)


def _record(day: int, status: ExecutionStatus, document: str, phases=(), **extra):
    started = DAY0 + timedelta(days=day)
    values = dict(
        execution_id=ExecutionRecord.generate_id(),
        audit_document=document,
        project_path="/p",
        started_at=started,
        completed_at=started + timedelta(minutes=30 + day),
        status=status,
        phases_planned=len(phases) or 2,
        phases_completed=sum(1 for p in phases if p.status is PhaseStatus.COMPLETED) or 2,
        baseline_tests=100,
        final_tests=100 + day,
        base_commit=f"c{day}",
        phases=list(phases),
    )
    values.update(extra)
    return ExecutionRecord(**values)


def _phase(number, status, title=None):
    return PhaseRecord(number, title or f"Phase {number}", status)


@pytest.fixture
def populated(project):
    records = [
        _record(0, ExecutionStatus.SUCCESS, "document-1-setup.md"),
        _record(
            1,
            ExecutionStatus.FAILED,
            "document-2-bridge.md",
            phases=[_phase(1, PhaseStatus.COMPLETED), _phase(2, PhaseStatus.FAILED, "Bridge")],
        ),
        _record(2, ExecutionStatus.PARTIAL, "document-3-replay.md"),
        _record(
            3,
            ExecutionStatus.FAILED,
            "document-2-bridge.md",
            phases=[_phase(1, PhaseStatus.FAILED), _phase(2, PhaseStatus.FAILED, "Bridge v2")],
        ),
        _record(4, ExecutionStatus.SUCCESS, "document-4-ci.md"),
    ]
    for record in records:
        save_execution(record, project)
    return project


def _docs(records):
    return [r.audit_document for r in records]


class TestQuery:
    def test_query_no_filters(self, populated):
        assert len(query_executions(populated, AnalyticsQuery())) == 5

    def test_query_limit(self, populated):
        records = query_executions(populated, AnalyticsQuery(limit=2))
        assert _docs(records) == ["document-4-ci.md", "document-2-bridge.md"]

    def test_query_since(self, populated):
        records = query_executions(populated, AnalyticsQuery(since=DAY0 + timedelta(days=3)))
        assert _docs(records) == ["document-4-ci.md", "document-2-bridge.md"]

    def test_query_until(self, populated):
        records = query_executions(populated, AnalyticsQuery(until=DAY0 + timedelta(days=1)))
        assert _docs(records) == ["document-2-bridge.md", "document-1-setup.md"]

    def test_query_status_filter(self, populated):
        records = query_executions(populated, AnalyticsQuery(status=ExecutionStatus.PARTIAL))
        assert _docs(records) == ["document-3-replay.md"]

    def test_query_document_filter(self, populated):
        records = query_executions(populated, AnalyticsQuery(document="bridge"))
        assert len(records) == 2
        assert {r.audit_document for r in records} == {"document-2-bridge.md"}

    def test_query_combined_filters(self, populated):
        query = AnalyticsQuery(
            since=DAY0 + timedelta(days=1),
            status=ExecutionStatus.FAILED,
            document="bridge",
            limit=1,
        )
        records = query_executions(populated, query)
        assert len(records) == 1
        assert records[0].started_at == DAY0 + timedelta(days=3)

    def test_query_sorted_by_date(self, populated):
        starts = [r.started_at for r in query_executions(populated, AnalyticsQuery())]
        assert starts == sorted(starts, reverse=True)

    def test_query_empty_store(self, project):
        assert query_executions(project, AnalyticsQuery()) == []

    def test_limit_applies_after_filters(self, populated):
        query = AnalyticsQuery(status=ExecutionStatus.SUCCESS, limit=5)
        assert len(query_executions(populated, query)) == 2


def test_get_recent_executions(populated):
    assert _docs(get_recent_executions(populated, limit=1)) == ["document-4-ci.md"]


def test_get_executions_by_status(populated):
    records = get_executions_by_status(populated, ExecutionStatus.FAILED)
    assert [r.started_at.day for r in records] == [4, 2]


def test_get_failed_phases_sorted_by_count(populated):
    assert get_failed_phases(populated) == [(2, "Bridge v2", 2), (1, "Phase 1", 1)]


def test_compute_phase_failure_rates(populated):
    rates = compute_phase_failure_rates(query_executions(populated, AnalyticsQuery()))
    assert rates == {1: 0.5, 2: 1.0}


def test_compute_duration_trend_oldest_first_and_skips_unknown(populated):
    records = query_executions(populated, AnalyticsQuery())
    records.append(_record(9, ExecutionStatus.SUCCESS, "x.md", completed_at=None))
    trend = compute_duration_trend(records)
    assert [point[1] for point in trend] == [1800.0, 1860.0, 1920.0, 1980.0, 2040.0]
    assert trend[0][0] == DAY0


def test_compute_stats_from_index_equals_from_records(populated):
    from storage_helpers import json_store

    records = query_executions(populated, AnalyticsQuery())
    assert compute_stats(list(json_store(populated).find())) == compute_stats(records)


def test_get_global_executions_across_projects(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    for index, path in enumerate((first, second)):
        path.mkdir()
        record = _record(index, ExecutionStatus.SUCCESS, f"doc-{index}.md")
        record.project_name = path.name
        save_execution(record, path)
        register_project(path, path.name, 1)
    pairs = get_global_executions(AnalyticsQuery())
    assert [(name, r.audit_document) for name, r in pairs] == [
        ("two", "doc-1.md"),
        ("one", "doc-0.md"),
    ]
    assert len(get_global_executions(AnalyticsQuery(limit=1))) == 1


def test_global_skips_an_unreadable_project(tmp_path, monkeypatch):
    from phaser_analytics import StorageError
    from phaser_analytics.query import select_global
    from phaser_analytics.stores.json_files import JsonStore

    good, bad = tmp_path / "good", tmp_path / "bad"
    for index, path in enumerate((good, bad)):
        path.mkdir()
        save_execution(_record(index, ExecutionStatus.SUCCESS, f"{path.name}.md"), path)
        register_project(path, path.name, 1)
    real_find = JsonStore.find

    def find(self, *args, **kwargs):
        if self.confine.name == "bad":
            raise StorageError("the lock is held")
        return real_find(self, *args, **kwargs)

    monkeypatch.setattr(JsonStore, "find", find)
    warnings = []
    selection = select_global(AnalyticsQuery(), warn=warnings.append)
    assert [e.audit_document for e in selection.entries] == ["good.md"]
    assert [p.name for p in selection.unreadable] == ["bad"]
    assert len(warnings) == 1 and "cannot be read" in warnings[0]
