"""Data classes (spec §14.2: TestExecutionRecord, TestPhaseRecord, TestAggregatedStats)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import pytest

from phaser_analytics import (
    AggregatedStats,
    AnalyticsQuery,
    ExecutionRecord,
    ExecutionStatus,
    PhaseRecord,
    PhaseStatus,
)

UTC = timezone.utc
START = datetime(2024, 12, 6, 10, 30, tzinfo=UTC)


def make_record(**overrides) -> ExecutionRecord:
    values = dict(
        execution_id="abc12345-6789-4def-8123-456789abcdef",
        audit_document="document-7-reverse.md",
        document_title="Document 7: Reverse Audit",
        project_name="Phaser",
        project_path="/Users/jp/Projects/Phaser",
        branch="audit/2024-12-06-reverse",
        started_at=START,
        completed_at=START + timedelta(hours=1, minutes=23, seconds=23),
        phaser_version="1.6.3",
        status=ExecutionStatus.SUCCESS,
        phases_planned=6,
        phases_completed=6,
        baseline_tests=280,
        final_tests=312,
        base_commit="a1b2c3d",
        final_commit="9c8b7a6",
        commit_count=7,
        files_changed=12,
        phases=[
            PhaseRecord(36, "Reverse Audit Specification", PhaseStatus.COMPLETED, "b2c3d4e"),
            PhaseRecord(37, "Git Diff Parsing", PhaseStatus.FAILED, None, error_message="boom"),
        ],
        report_path="/Users/jp/Projects/Phaser/EXECUTION_REPORT.md",
        imported_at=datetime(2024, 12, 6, 11, 46, tzinfo=UTC),
    )
    values.update(overrides)
    return ExecutionRecord(**values)


class TestExecutionRecord:
    def test_to_dict_includes_all_fields(self):
        data = make_record().to_dict()
        spec_keys = {
            "schema_version", "execution_id", "audit_document", "document_title",
            "project_name", "project_path", "branch", "started_at", "completed_at",
            "duration_seconds", "phaser_version", "status", "phases_planned",
            "phases_completed", "baseline_tests", "final_tests", "test_delta", "base_commit",
            "final_commit", "commit_count", "files_changed", "phases", "report_path",
            "imported_at",
        }  # fmt: skip
        assert spec_keys <= set(data)
        field_names = {f.name for f in dataclasses.fields(ExecutionRecord)}
        assert field_names <= set(data)

    def test_to_dict_matches_spec_formats(self):
        data = make_record().to_dict()
        assert data["schema_version"] == "1.1"
        assert data["started_at"] == "2024-12-06T10:30:00Z"
        assert data["status"] == "success"
        assert data["phases"][0]["status"] == "completed"
        json.dumps(data)  # everything is JSON-serialisable

    def test_from_dict_round_trip(self):
        record = make_record(
            tag="v1.7.0",
            lines_added=10,
            lines_removed=2,
            failure_reasons=["flaky test"],
            tokens={"input": 1, "output": 2, "cache_creation": 0, "cache_read": 0, "total": 3},
            cost_usd=0.01,
            extra={"phaser_version_from": "1.6.3"},
        )
        assert ExecutionRecord.from_dict(record.to_dict()) == record
        assert ExecutionRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record

    def test_from_dict_reads_schema_1_0_with_naive_datetimes(self):
        data = make_record().to_dict()
        data["schema_version"] = "1.0"
        data["started_at"] = "2024-12-06T10:30:00"
        data["imported_at"] = "2024-12-06T11:46:00"
        for key in ("date_only", "reported_test_delta", "tag", "tokens", "extra"):
            del data[key]
        record = ExecutionRecord.from_dict(data)
        assert record.started_at == START
        assert record.started_at.tzinfo is not None
        assert record.tag is None and record.extra == {}

    def test_duration_seconds_computed(self):
        assert make_record().duration_seconds == 5003.0

    def test_duration_unknown_without_completion(self):
        assert make_record(completed_at=None).duration_seconds is None

    def test_duration_unknown_for_bare_dates(self):
        assert make_record(date_only=True).duration_seconds is None

    def test_test_delta_computed(self):
        assert make_record().test_delta == 32

    def test_test_delta_keeps_reported_figure(self):
        assert make_record(reported_test_delta=30).test_delta == 30

    def test_test_delta_unknown(self):
        assert make_record(final_tests=None).test_delta is None

    def test_success_rate_computed(self):
        assert make_record(phases_completed=3).success_rate == 0.5
        assert make_record(phases_planned=0, phases_completed=0).success_rate == 0.0
        assert make_record(phases_planned=None).success_rate is None

    def test_generate_id_unique(self):
        ids = {ExecutionRecord.generate_id() for _ in range(200)}
        assert len(ids) == 200

    def test_naive_datetimes_become_utc(self):
        record = make_record(started_at=datetime(2024, 12, 6, 10, 30))
        assert record.started_at == START

    def test_identity_ignores_id_and_import_time(self):
        a = make_record()
        b = make_record(execution_id="other", imported_at=START)
        assert a.identity == b.identity
        assert make_record(base_commit="zzz").identity != a.identity


class TestPhaseRecord:
    def test_to_dict_includes_all_fields(self):
        data = PhaseRecord(36, "Spec", PhaseStatus.COMPLETED, "b2c3d4e").to_dict()
        assert set(data) == {f.name for f in dataclasses.fields(PhaseRecord)}
        assert data["status"] == "completed"

    def test_from_dict_round_trip(self):
        phase = PhaseRecord(
            38,
            "Change Detection",
            PhaseStatus.FAILED,
            "d4e5f6a",
            started_at=START,
            completed_at=START + timedelta(minutes=5),
            duration_seconds=300.0,
            tests_before=10,
            tests_after=12,
            error_message="assertion failed",
            retry_count=2,
        )
        assert PhaseRecord.from_dict(phase.to_dict()) == phase
        assert phase.test_delta == 2

    @pytest.mark.parametrize("cell", ["✅", "✅ Completed", "Completed", "Done", "âœ…", "passed"])
    def test_status_from_symbol_completed(self, cell):
        assert PhaseStatus.from_symbol(cell) is PhaseStatus.COMPLETED

    @pytest.mark.parametrize("cell", ["❌", "❌ Failed", "Failed", "âŒ", " error "])
    def test_status_from_symbol_failed(self, cell):
        assert PhaseStatus.from_symbol(cell) is PhaseStatus.FAILED

    @pytest.mark.parametrize("cell", ["⚠️", "⚠", "Skipped", "âš ï¸", "", "???"])
    def test_status_from_symbol_skipped(self, cell):
        assert PhaseStatus.from_symbol(cell) is PhaseStatus.SKIPPED


class TestExecutionStatus:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("✅ All phases completed", ExecutionStatus.SUCCESS),
            ("⚠️ Completed with issues", ExecutionStatus.PARTIAL),
            ("❌ Failed", ExecutionStatus.FAILED),
            ("âœ… All phases completed", ExecutionStatus.SUCCESS),
            ("Partial success", ExecutionStatus.PARTIAL),
            ("something else", ExecutionStatus.FAILED),
        ],
    )
    def test_from_report(self, text, expected):
        assert ExecutionStatus.from_report(text) is expected

    def test_values_are_strings(self):
        assert ExecutionStatus.SUCCESS == "success"
        assert json.dumps(ExecutionStatus.PARTIAL.value) == '"partial"'


def _records() -> list[ExecutionRecord]:
    return [
        make_record(execution_id="a", status=ExecutionStatus.SUCCESS),
        make_record(
            execution_id="b",
            status=ExecutionStatus.PARTIAL,
            started_at=START + timedelta(days=1),
            completed_at=START + timedelta(days=1, hours=2),
            phases_completed=4,
            final_tests=290,
            tokens={"total": 100},
            cost_usd=1.5,
        ),
        make_record(
            execution_id="c",
            status=ExecutionStatus.FAILED,
            started_at=START - timedelta(days=1),
            completed_at=None,
            phases_planned=5,
            phases_completed=1,
            baseline_tests=None,
        ),
    ]


class TestAggregatedStats:
    def test_compute_empty_list(self):
        stats = AggregatedStats.compute([])
        assert stats.total_executions == 0
        assert stats.success_rate == 0.0
        assert stats.avg_duration_seconds is None
        assert stats.earliest_execution is None

    def test_compute_single_record(self):
        stats = AggregatedStats.compute([make_record()])
        assert stats.total_executions == 1
        assert stats.successful == 1
        assert stats.avg_duration_seconds == stats.min_duration_seconds == 5003.0
        assert stats.total_test_delta == 32

    def test_compute_multiple_records(self):
        stats = AggregatedStats.compute(_records())
        assert (stats.successful, stats.partial, stats.failed) == (1, 1, 1)
        assert stats.earliest_execution == START - timedelta(days=1)
        assert stats.latest_execution == START + timedelta(days=1)
        assert stats.total_tokens == 100
        assert stats.total_cost_usd == 1.5

    def test_success_rate_calculation(self):
        assert AggregatedStats.compute(_records()).success_rate == pytest.approx(1 / 3)

    def test_phase_success_rate_calculation(self):
        stats = AggregatedStats.compute(_records())
        assert stats.total_phases_executed == 17
        assert stats.total_phases_completed == 11
        assert stats.phase_success_rate == pytest.approx(11 / 17)

    def test_duration_min_max_avg(self):
        stats = AggregatedStats.compute(_records())
        # the failed run has no completion time: left out, not counted as 0
        assert stats.min_duration_seconds == 5003.0
        assert stats.max_duration_seconds == 7200.0
        assert stats.avg_duration_seconds == pytest.approx((5003 + 7200) / 2)
        assert stats.total_duration_seconds == 12203.0

    def test_unknown_test_deltas_are_left_out(self):
        stats = AggregatedStats.compute(_records())
        assert stats.total_test_delta == 32 + 10
        assert stats.avg_test_delta == 21.0

    def test_to_dict_round_trip(self):
        stats = AggregatedStats.compute(_records())
        data = stats.to_dict()
        assert data["success_rate"] == pytest.approx(1 / 3)
        assert AggregatedStats.from_dict(json.loads(json.dumps(data))) == stats


class TestAnalyticsQuery:
    def test_matches_everything_by_default(self):
        assert all(AnalyticsQuery().matches(r) for r in _records())

    def test_since_and_until_are_inclusive(self):
        record = make_record()
        assert AnalyticsQuery(since=START, until=START).matches(record)
        assert not AnalyticsQuery(since=START + timedelta(seconds=1)).matches(record)

    def test_naive_bounds_are_local_time(self):
        naive = datetime(2024, 12, 6, 10, 30)
        query = AnalyticsQuery(since=naive)
        assert query.since is not None and query.since.tzinfo is not None
        assert query.since == naive.astimezone()

    def test_unknown_start_never_matches_a_date_bound(self):
        assert not AnalyticsQuery(since=START).matches(make_record(started_at=None))

    def test_status_and_document(self):
        record = make_record()
        assert AnalyticsQuery(status=ExecutionStatus.SUCCESS, document="reverse").matches(record)
        assert not AnalyticsQuery(status=ExecutionStatus.FAILED).matches(record)
        assert not AnalyticsQuery(document="bridge").matches(record)

    def test_to_dict(self):
        query = AnalyticsQuery(limit=5, since=START, status=ExecutionStatus.PARTIAL)
        assert query.to_dict() == {
            "limit": 5,
            "since": "2024-12-06T10:30:00Z",
            "until": None,
            "status": "partial",
            "document": None,
        }


def test_phase_success_rate_never_exceeds_one():
    record = make_record(phases_planned=6, phases_completed=7)
    stats = AggregatedStats.compute([record])
    assert record.phases_completed == 7
    assert stats.total_phases_completed == 6
    assert stats.phase_success_rate == 1.0
