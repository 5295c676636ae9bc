"""Record files are validated when they are loaded; numbers are bounded on import
(issue 16, item 7).

A record file with a field of the wrong type is corrupt: ``ExecutionRecord.from_dict``
raises :class:`~phaser_analytics.models.InvalidRecord` (a ``ValueError``), the store sets
the file aside like any corrupt record, and every command keeps working — ``doctor
--repair`` included, so the tool can always repair itself. These tests go through the CLI
and the store's files only, so they hold for any JSON store that keeps spec §4's layout.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from phaser_analytics.cli import cli
from phaser_analytics.models import MAX_NUMBER, ExecutionRecord, InvalidRecord

EXAMPLE_REPORT = Path(__file__).resolve().parent.parent / "examples" / "EXECUTION_REPORT.md"
EXIT_INTERNAL = 70
BIG = int("9" * 309)


def run(runner, *args):
    return runner.invoke(cli, ["analytics", *map(str, args)])


def record_files(project: Path) -> list[Path]:
    return sorted((project / ".phaser" / "analytics" / "executions").glob("*.json"))


def edit_record(project: Path, change) -> Path:
    """Rewrite the project's one record file with ``change(data)`` applied, as JSON."""
    (path,) = record_files(project)
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def setter(field: str, value: Any):
    def change(data: dict[str, Any]) -> None:
        target = data
        *parents, last = field.split(".")
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[int(last) if isinstance(target, list) else last] = value

    return change


@pytest.fixture
def imported(runner, project, example_report) -> Path:
    result = run(runner, "import", example_report, "--project", project)
    assert result.exit_code == 0, result.output
    return project


#: (field, value): each makes the record unloadable; a field path goes into lists by index.
BAD_FIELDS = [
    ("tokens", "lots"),
    ("tokens", {"total": "lots"}),
    ("tokens", {"total": BIG}),
    ("phases_planned", "6"),
    ("phases_planned", True),
    ("phases_planned", 6.5),
    ("cost_usd", "1.0"),
    ("cost_usd", 1e400),
    ("phases.0.tests_before", "1"),
    ("phases.0.duration_seconds", "60"),
    ("phases.0.status", "great"),
    ("phases.0.phase_number", None),
    ("phases.0", "phase"),
    ("phases", "none"),
    ("failure_reasons", [1]),
    ("failure_reasons", "one"),
    ("started_at", 5),
    ("started_at", "yesterday"),
    ("status", "weird"),
    ("audit_document", 7),
    ("date_only", "yes"),
    ("tokens_by_model", {"claude": 5}),
    ("tokens_by_model", {"claude": {"input": "many"}}),
    ("extra", []),
    ("baseline_tests", BIG),
    ("execution_id", 12),
]


def ids(case: tuple[str, Any]) -> str:
    field, value = case
    return f"{field}={json.dumps(value)[:12]}"


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS, ids=[ids(c) for c in BAD_FIELDS])
def test_from_dict_raises_invalid_record(field, value):
    data = _sample_dict()
    setter(field, value)(data)
    with pytest.raises(InvalidRecord) as caught:
        ExecutionRecord.from_dict(data)
    assert isinstance(caught.value, ValueError)
    assert field.split(".")[-1] in str(caught.value) or field.split(".")[0] in str(caught.value)


def _sample_dict() -> dict[str, Any]:
    from datetime import datetime, timezone

    from phaser_analytics.models import ExecutionStatus, PhaseRecord, PhaseStatus

    record = ExecutionRecord(
        execution_id=ExecutionRecord.generate_id(),
        audit_document="document-7.md",
        started_at=datetime(2024, 12, 6, 10, 30, tzinfo=timezone.utc),
        status=ExecutionStatus.SUCCESS,
        phases_planned=1,
        phases_completed=1,
        phases=[PhaseRecord(36, "Spec", PhaseStatus.COMPLETED, tests_before=1, tests_after=2)],
        failure_reasons=["x"],
        tokens={"input": 1, "output": 2, "cache_creation": None, "cache_read": 0, "total": 3},
        tokens_by_model={"claude": {"input": 1, "output": 2, "cost_usd": 0.5}},
        cost_usd=0.5,
        extra={"token_source": "report"},
    )
    return record.to_dict()


def test_a_valid_record_round_trips():
    data = _sample_dict()
    assert ExecutionRecord.from_dict(data).to_dict() == data


def test_numbers_at_the_bound_load():
    data = _sample_dict()
    data["tokens"]["total"] = MAX_NUMBER
    data["cost_usd"] = float(MAX_NUMBER)
    assert ExecutionRecord.from_dict(data).total_tokens == MAX_NUMBER


def test_a_non_object_is_invalid():
    with pytest.raises(InvalidRecord):
        ExecutionRecord.from_dict(["not", "a", "record"])  # type: ignore[arg-type]


COMMANDS = [
    ("show",),
    ("show", "--verbose"),
    ("show", "--format", "json"),
    ("show", "--format", "markdown"),
    ("export",),
    ("export", "--format", "csv"),
    ("badge",),
    ("trends",),
    ("failures",),
    ("phases",),
    ("clear", "--all", "--dry-run"),
    ("doctor",),
]


@pytest.mark.parametrize(("field", "value"), BAD_FIELDS, ids=[ids(c) for c in BAD_FIELDS])
def test_every_command_survives_a_bad_field_and_doctor_repairs_it(runner, imported, field, value):
    path = edit_record(imported, setter(field, value))
    for command in COMMANDS:
        result = run(runner, *command, "--project", imported)
        assert result.exit_code != EXIT_INTERNAL, (command, result.output)
        assert "Internal error" not in result.output, (command, result.output)
        assert "Traceback" not in result.output, (command, result.output)
    repaired = run(runner, "doctor", "--repair", "--project", imported)
    assert repaired.exit_code != EXIT_INTERNAL, repaired.output
    assert not path.exists(), "the bad record is set aside"
    quarantine = imported / ".phaser" / "analytics" / "quarantine"
    assert [p.name for p in quarantine.iterdir()] == [path.name]
    assert run(runner, "doctor", "--project", imported).exit_code != EXIT_INTERNAL
    after = run(runner, "show", "--format", "json", "--project", imported)
    assert after.exit_code == 0, after.output
    assert json.loads(after.output)["executions"] == []


def test_doctor_repair_first_works_too(runner, imported):
    """The command a user reaches for first, before anything else has read the record."""
    path = edit_record(imported, setter("tokens", "lots"))
    result = run(runner, "doctor", "--repair", "--project", imported)
    assert result.exit_code != EXIT_INTERNAL, result.output
    assert not path.exists()


def test_show_of_the_bad_execution_by_id(runner, imported):
    path = edit_record(imported, setter("phases_planned", "6"))
    execution_id = json.loads(path.read_text(encoding="utf-8"))["execution_id"]
    result = run(runner, "show", execution_id[:8], "--project", imported)
    assert result.exit_code not in (0, EXIT_INTERNAL), result.output
    assert "Internal error" not in result.output


# -- numbers bounded on import ----------------------------------------------------------------


def report_with(tmp_path: Path, *, replace: dict[str, str] | None = None, tail: str = "") -> Path:
    text = EXAMPLE_REPORT.read_text(encoding="utf-8")
    for old, new in (replace or {}).items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "big" / "EXECUTION_REPORT.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + tail, encoding="utf-8")
    return path


TOKEN_TABLE = """

## Token Usage

| Metric | Tokens |
|--------|--------|
| Input | {input} |
| Output | 10 |
| Total | {total} |
| Cost | $1.00 |
"""


@pytest.mark.parametrize("digits", [17, 300, 308, 309, 400])
def test_a_huge_token_count_in_a_report(runner, project, tmp_path, digits):
    number = "9" * digits
    report = report_with(tmp_path, tail=TOKEN_TABLE.format(input=number, total=number))
    result = run(runner, "import", report, "--project", project)
    assert result.exit_code in (0, 1), result.output
    assert "Internal error" not in result.output
    for command in COMMANDS:
        shown = run(runner, *command, "--project", project)
        assert shown.exit_code != EXIT_INTERNAL, (command, shown.output)
        assert "Internal error" not in shown.output, (command, shown.output)
    (path,) = record_files(project)  # stored, and still there: it loads
    data = json.loads(path.read_text(encoding="utf-8"))
    for value in (data["tokens"] or {}).values():
        assert value is None or abs(value) <= MAX_NUMBER
    ExecutionRecord.from_dict(data)


def test_a_huge_count_in_the_report_itself_is_left_unknown_with_a_warning(
    runner, project, tmp_path
):
    huge = "9" * 40
    report = report_with(tmp_path, replace={"**Phases:** 6 of 6": f"**Phases:** 6 of {huge}"})
    result = run(runner, "import", report, "--project", project)
    assert result.exit_code == 0, result.output
    assert "phases_planned" in result.output and "out of range" in result.output
    (path,) = record_files(project)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["phases_planned"] is None
    assert data["phases_completed"] == 6
    shown = run(runner, "show", "--project", project)
    assert shown.exit_code == 0, shown.output


def test_formatting_survives_numbers_beyond_float():
    from phaser_analytics import formatting

    assert formatting.format_count(BIG) == formatting.UNKNOWN
    assert formatting.format_cost(BIG) == formatting.UNKNOWN
    assert formatting.format_delta(-BIG) == formatting.UNKNOWN
    assert not math.isinf(float(MAX_NUMBER))


def test_a_good_store_reads_as_before(runner, imported):
    """Validation happens on load and changes nothing in a good store."""
    before = {p.name: p.read_bytes() for p in record_files(imported)}
    result = run(runner, "show", "--project", imported)
    assert result.exit_code == 0, result.output
    assert {p.name: p.read_bytes() for p in record_files(imported)} == before


#: (where, value, the exact message): from_dict's checks try the common valid case first
#: and build a field's name only when it fails, so each rule (bounds, bool, NaN, which
#: field a phase's message names, the first bad field of several) is pinned here word for
#: word, at and around its edges.
EXACT_MESSAGES = [
    ("phases.1.phase_number", None, "'phases[1].phase_number' must be a whole number, not null"),
    ("phases.1.phase_number", True,
     "'phases[1].phase_number' must be a whole number or null, not true"),
    ("phases.1.phase_number", 1.0,
     "'phases[1].phase_number' must be a whole number or null, not 1.0"),
    ("phases.1.phase_number", MAX_NUMBER + 1, "'phases[1].phase_number' must be a whole number "
     f"within ±{MAX_NUMBER}, not a number of 16 digits"),
    ("phases.1.tests_after", -MAX_NUMBER - 1, "'phases[1].tests_after' must be a whole number "
     f"within ±{MAX_NUMBER}, not a number of 16 digits"),
    ("phases.0.retry_count", "1",
     "'phases[0].retry_count' must be a whole number or null, not \"1\""),
    ("phases.1.title", 5, "'phases[1].title' must be text or null, not 5"),
    ("phases.1.status", None,
     "'phases[1].status' must be one of completed, failed, skipped, not null"),
    ("phases.1.status", "Completed",
     "'phases[1].status' must be one of completed, failed, skipped, not \"Completed\""),
    ("phases.1.status", ["completed"],
     "'phases[1].status' must be one of completed, failed, skipped, not [\"completed\"]"),
    ("phases.1.duration_seconds", float("nan"),
     f"'phases[1].duration_seconds' must be a finite number within ±{MAX_NUMBER} or null, not NaN"),
    ("phases.1.duration_seconds", float("-inf"), "'phases[1].duration_seconds' must be a finite "
     f"number within ±{MAX_NUMBER} or null, not -Infinity"),
    ("phases.1.duration_seconds", False, "'phases[1].duration_seconds' must be a finite number "
     f"within ±{MAX_NUMBER} or null, not false"),
    ("phases.1.started_at", "2024-13-45",
     "'phases[1].started_at' must be an ISO 8601 time or null, not \"2024-13-45\""),
    ("phases.1.error_message", [], "'phases[1].error_message' must be text or null, not []"),
    ("phases.1", "phase", "'phases[1]' must be an object, not \"phase\""),
    ("cost_usd", float(MAX_NUMBER) * 2, f"'cost_usd' must be a finite number within ±{MAX_NUMBER} "
     "or null, not 1.8014398509481984e+16"),
    ("phases_planned", True, "'phases_planned' must be a whole number or null, not true"),
    ("status", "Success", "'status' must be one of success, partial, failed, not \"Success\""),
    ("tokens.total", 3.0, "'tokens.total' must be a whole number or null, not 3.0"),
    ("tokens.input", MAX_NUMBER + 1,
     f"'tokens.input' must be a whole number within ±{MAX_NUMBER}, not a number of 16 digits"),
    ("tokens_by_model.claude.input", "many",
     f"'tokens_by_model.claude.input' must be a finite number within ±{MAX_NUMBER} or null, "
     "not \"many\""),
    ("failure_reasons", ["a", 1], "'failure_reasons[1]' must be text, not 1"),
]


@pytest.mark.parametrize(("field", "value", "message"), EXACT_MESSAGES,
                         ids=[f"{f}={json.dumps(v)[:12]}" for f, v, _ in EXACT_MESSAGES])
def test_from_dict_names_the_field_word_for_word(field, value, message):
    data = _sample_dict()
    data["phases"].append({**data["phases"][0], "phase_number": 37})
    setter(field, value)(data)
    with pytest.raises(InvalidRecord) as caught:
        ExecutionRecord.from_dict(data)
    assert str(caught.value) == message


def test_from_dict_names_the_first_bad_field_of_several():
    data = _sample_dict()
    data["phases"][0]["title"] = 5
    data["phases"][0]["status"] = "no"
    with pytest.raises(InvalidRecord, match=r"^'phases\[0\]\.title' "):
        ExecutionRecord.from_dict(data)
    data = _sample_dict()
    data["phases"][0]["tests_after"] = "x"
    data["cost_usd"] = "y"  # checked after the phases
    with pytest.raises(InvalidRecord, match=r"^'phases\[0\]\.tests_after' "):
        ExecutionRecord.from_dict(data)
    data = _sample_dict()
    data["tag"], data["branch"] = 5, 6  # branch comes first in the record
    with pytest.raises(InvalidRecord, match=r"^'branch' "):
        ExecutionRecord.from_dict(data)


def test_values_at_the_edges_of_the_fast_checks_load_as_before():
    """What the quick checks pass to the full ones (an int or str subclass, a float at the
    bound, a status given as its member) loads as the full checks always loaded it."""
    import enum

    from phaser_analytics.models import ExecutionStatus, PhaseStatus

    class Count(enum.IntEnum):
        THREE = 3

    data = _sample_dict()
    data["phases"][0]["tests_before"] = -MAX_NUMBER
    data["phases"][0]["duration_seconds"] = -float(MAX_NUMBER)
    data["phases"][0]["status"] = PhaseStatus.FAILED
    data["status"] = ExecutionStatus.PARTIAL
    data["tokens"]["total"] = Count.THREE
    data["cost_usd"] = MAX_NUMBER
    record = ExecutionRecord.from_dict(data)
    assert record.phases[0].tests_before == -MAX_NUMBER
    assert record.phases[0].duration_seconds == -float(MAX_NUMBER)
    assert record.phases[0].status is PhaseStatus.FAILED
    assert record.status is ExecutionStatus.PARTIAL
    assert record.total_tokens == 3 and record.cost_usd == MAX_NUMBER
