"""The JSON the CLI prints validates against the schemas in docs/schema/.

Real output only: the example reports are imported through the CLI and the documents come
from ``show --format json``, ``export``, ``show --global`` and ``show --ci-minimal``. The
published schemas let objects carry keys they do not name (new fields may appear at any
time); a stricter copy made here also checks that every key written today is documented.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from phaser_analytics.cli import cli
from phaser_analytics.default_plugins.json_format import JsonRenderer
from phaser_analytics.default_plugins.json_render import OUTPUT_SCHEMA_VERSION
from phaser_analytics.hookspecs import RenderView
from phaser_analytics.models import (
    AggregatedStats,
    AnalyticsQuery,
    ExecutionRecord,
    ExecutionStatus,
    PhaseRecord,
    PhaseStatus,
)

REPO = Path(__file__).resolve().parent.parent
SCHEMA_DIR = REPO / "docs" / "schema"
EXAMPLES = [
    REPO / "examples" / "EXECUTION_REPORT.md",
    *sorted((REPO / "examples").glob("*/EXECUTION_REPORT.md")),
]


def load_schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=FormatChecker())


def closed(schema: Any) -> Any:
    """A copy where every object that lists ``properties`` and allows other keys allows
    none, so output keys the schema does not document fail. Maps (``tokens_by_model``,
    ``extra``) list no properties and stay open."""
    schema = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and node.get("additionalProperties") is True:
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(schema)
    return schema


OUTPUT_SCHEMA = load_schema("analytics-output.schema.json")
CI_SCHEMA = load_schema("ci-minimal.schema.json")


def check(document: Any, schema: dict[str, Any] = OUTPUT_SCHEMA) -> None:
    """Valid against the published schema and against its closed copy."""
    validator(schema).validate(document)
    validator(closed(schema)).validate(document)


def run(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli, ["analytics", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def run_json(runner: CliRunner, *args: str) -> Any:
    return json.loads(run(runner, *args))


@pytest.fixture
def imported(runner: CliRunner, project: Path) -> Path:
    """A project holding every example report, imported through the CLI."""
    assert len(EXAMPLES) >= 3, "the example reports moved"
    for report in EXAMPLES:
        run(runner, "import", str(report), "--project", str(project))
    return project


# -- the schemas themselves -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["analytics-output.schema.json", "ci-minimal.schema.json"])
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)
    Draft202012Validator.check_schema(closed(schema))


def object_schemas(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if node.get("type") == "object":
            found.append(node)
        for value in node.values():
            found.extend(object_schemas(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(object_schemas(item))
    return found


@pytest.mark.parametrize("schema", [OUTPUT_SCHEMA, CI_SCHEMA], ids=["output", "ci-minimal"])
def test_every_object_says_whether_it_is_open(schema: dict[str, Any]) -> None:
    """Open on purpose (records gain fields), and every documented key required."""
    objects = object_schemas(schema)
    assert objects
    for node in objects:
        assert "additionalProperties" in node, node.get("description", node)
        assert node["additionalProperties"] is not False, "new fields may appear at any time"
        optional = set(node.get("properties", {})) - set(node.get("required", []))
        assert optional <= {"projects", "project", "cache_creation_1h", "anomalies"}, optional


def test_schema_describes_the_renderers_output_version() -> None:
    validator(OUTPUT_SCHEMA["properties"]["schema_version"]).validate(OUTPUT_SCHEMA_VERSION)


# -- real output ------------------------------------------------------------------------------


def test_show_json_validates(runner: CliRunner, imported: Path) -> None:
    document = run_json(runner, "show", "--format", "json", "--project", str(imported))
    check(document)
    assert document["project"]["path"] == str(imported)
    assert "projects" not in document
    assert len(document["executions"]) == len(EXAMPLES)
    statuses = {execution["status"] for execution in document["executions"]}
    assert statuses == {"success", "partial", "failed"}, "examples should cover every status"
    phase_statuses = {
        phase["status"] for execution in document["executions"] for phase in execution["phases"]
    }
    assert phase_statuses == {"completed", "failed", "skipped"}


def test_show_json_verbose_with_filters_validates(runner: CliRunner, imported: Path) -> None:
    document = run_json(
        runner,
        "show",
        "--format",
        "json",
        "--verbose",
        "--last",
        "1",
        "--since",
        "2024-12-01",
        "--until",
        "2024-12-31T12:00:00+01:00",
        "--status",
        "success",
        "--document",
        "reverse",
        "--project",
        str(imported),
    )
    check(document)
    assert document["query"]["status"] == "success"
    assert document["query"]["until"] == "2024-12-31T12:00:00+01:00"  # an offset is kept
    assert [e["audit_document"] for e in document["executions"]] == ["document-7-reverse.md"]


def test_show_one_execution_validates(runner: CliRunner, imported: Path) -> None:
    listed = run_json(runner, "show", "--format", "json", "--project", str(imported))
    execution_id = listed["executions"][0]["execution_id"]
    document = run_json(
        runner, "show", execution_id[:8], "--format", "json", "--project", str(imported)
    )
    check(document)
    assert [e["execution_id"] for e in document["executions"]] == [execution_id]


def test_export_validates(runner: CliRunner, imported: Path, tmp_path: Path) -> None:
    document = run_json(runner, "export", "--project", str(imported))
    check(document)
    assert document["query"]["limit"] is None
    assert len(document["executions"]) == len(EXAMPLES)

    target = tmp_path / "analytics.json"
    run(runner, "export", "--format", "json", "--output", str(target), "--project", str(imported))
    check(json.loads(target.read_text(encoding="utf-8")))


def test_global_show_validates(runner: CliRunner, imported: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    run(runner, "import", str(EXAMPLES[0]), "--project", str(other))
    document = run_json(runner, "show", "--global", "--format", "json", "--last", "50")
    check(document)
    assert document["project"] is None
    assert {p["path"] for p in document["projects"]} == {str(imported), str(other)}
    assert len(document["executions"]) == len(EXAMPLES) + 1
    check(run_json(runner, "export", "--global"))


def test_ci_minimal_validates(runner: CliRunner, imported: Path) -> None:
    output = run(runner, "show", "--ci-minimal", "--project", str(imported))
    assert output.count("\n") == 1, "one compact line"
    document = json.loads(output)
    check(document, CI_SCHEMA)
    assert document["total_executions"] == len(EXAMPLES)


@pytest.mark.parametrize("global_", [False, True], ids=["project", "global"])
def test_empty_store_validates(runner: CliRunner, project: Path, global_: bool) -> None:
    where = ["--global"] if global_ else ["--project", str(project)]
    document = run_json(runner, "show", "--format", "json", *where)
    check(document)
    assert document["executions"] == []
    assert document["stats"]["avg_duration_seconds"] is None
    assert document["stats"]["earliest_execution"] is None
    check(run_json(runner, "export", *where))
    check(json.loads(run(runner, "show", "--ci-minimal", *where)), CI_SCHEMA)


def test_every_optional_value_filled_validates(project: Path) -> None:
    """The example reports leave tokens, phase timings and the like null: render a record
    with all of them set through the json renderer, so their shapes are checked too."""
    started = datetime(2024, 12, 6, 10, 30, tzinfo=timezone.utc)
    record = ExecutionRecord(
        execution_id="abc12345",
        audit_document="document-7-reverse.md",
        document_title="Document 7",
        project_name="Phaser",
        project_path=str(project),
        branch="audit/x",
        started_at=started,
        completed_at=started.replace(hour=11, microsecond=250000),
        phaser_version="1.6.3",
        status=ExecutionStatus.PARTIAL,
        phases_planned=2,
        phases_completed=1,
        baseline_tests=280,
        final_tests=270,
        base_commit="a1b2c3d",
        final_commit="9c8b7a6",
        commit_count=1,
        files_changed=3,
        phases=[
            PhaseRecord(
                phase_number=1,
                title="One",
                status=PhaseStatus.COMPLETED,
                commit_sha="b2c3d4e",
                started_at=started,
                completed_at=started.replace(minute=45),
                duration_seconds=900.0,
                tests_before=280,
                tests_after=290,
                retry_count=2,
            ),
            PhaseRecord(
                phase_number=2, title="Two", status=PhaseStatus.FAILED, error_message="boom"
            ),
        ],
        report_path="/tmp/EXECUTION_REPORT.md",
        tag="v1",
        lines_added=10,
        lines_removed=2,
        failure_reasons=["boom"],
        tokens={"input": 10, "output": 20, "cache_creation": None, "cache_read": 5, "total": 35},
        tokens_by_model={
            "claude-x": {
                "input": 10,
                "output": 20,
                "cache_creation": 0,
                "cache_read": 5,
                "total": 35,
                "cache_creation_1h": 0,
                "cost_usd": 0.01,
            },
            "unpriced-model": {
                "input": 0,
                "output": 0,
                "cache_creation": 0,
                "cache_read": 0,
                "total": 0,
                "cost_usd": None,
            },
        },
        cost_usd=0.01,
        extra={"result_text": "⚠️", "when": started, "nested": {"a": [1, 2]}},
    )
    view = RenderView(
        records=[record],
        stats=AggregatedStats.compute([record]),
        query=AnalyticsQuery(limit=5, status=ExecutionStatus.PARTIAL, since=started),
        project={"name": "Phaser", "path": str(project)},
        generated_at=datetime(2024, 12, 7, 9, tzinfo=timezone.utc),
    )
    document = json.loads(JsonRenderer().render(view))
    check(document)
    assert document["executions"][0]["test_delta"] == -10
    assert document["stats"]["total_tokens"] == 35


# -- the schema can fail ----------------------------------------------------------------------


@pytest.fixture
def valid_document(runner: CliRunner, imported: Path) -> dict[str, Any]:
    document = run_json(runner, "show", "--format", "json", "--project", str(imported))
    check(document)
    return document


def rejects(document: Any, schema: dict[str, Any] = OUTPUT_SCHEMA) -> None:
    with pytest.raises(ValidationError):
        validator(schema).validate(document)


def test_rejects_a_document_without_stats(valid_document: dict[str, Any]) -> None:
    del valid_document["stats"]
    rejects(valid_document)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("schema_version",), "2.0"),
        (("executions", 0, "status"), "succeeded"),
        (("executions", 0, "phases", 0, "status"), "done"),
        (("executions", 0, "started_at"), "2024-12-06 10:30"),
        (("executions", 0, "started_at"), "2024-12-06T10:30:00"),  # no zone
        (("executions", 0, "imported_at"), None),
        (("executions", 0, "test_delta"), "32"),
        (("executions", 0, "baseline_tests"), -1),
        (("executions", 0, "tokens"), {"total": 3}),
        (("stats", "success_rate"), 1.5),
        (("stats", "total_executions"), None),
        (("query", "status"), "all"),
        (("project",), {"name": "Phaser"}),
        (("generated_at",), None),
    ],
)
def test_rejects_wrong_values(
    valid_document: dict[str, Any], path: tuple[Any, ...], value: Any
) -> None:
    target: Any = valid_document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    rejects(valid_document)


@pytest.mark.parametrize(
    "path",
    [
        ("query",),
        ("executions",),
        ("executions", 0, "execution_id"),
        ("executions", 0, "duration_seconds"),
        ("executions", 0, "phases", 0, "retry_count"),
        ("stats", "avg_duration_seconds"),
    ],
)
def test_rejects_missing_documented_keys(
    valid_document: dict[str, Any], path: tuple[Any, ...]
) -> None:
    target: Any = valid_document
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    rejects(valid_document)


def test_records_and_documents_may_gain_fields(valid_document: dict[str, Any]) -> None:
    valid_document["new_top_level"] = 1
    valid_document["executions"][0]["added_in_1_2"] = {"x": 1}
    valid_document["executions"][0]["phases"][0]["added"] = True
    valid_document["stats"]["median_duration_seconds"] = 1.0
    validator(OUTPUT_SCHEMA).validate(valid_document)
    # ... which the closed copy (every key documented) does not accept.
    with pytest.raises(ValidationError):
        validator(closed(OUTPUT_SCHEMA)).validate(valid_document)


def test_projects_appear_exactly_in_global_views(valid_document: dict[str, Any]) -> None:
    valid_document["projects"] = []
    rejects(valid_document)
    del valid_document["projects"]
    valid_document["project"] = None
    rejects(valid_document)  # a global view must list its projects


def test_ci_minimal_rejects_missing_counts() -> None:
    rejects({"total_executions": 1, "successful": 1, "partial": 0, "failed": 0}, CI_SCHEMA)
    rejects(
        {"total_executions": 1, "successful": 1, "partial": 0, "failed": 0, "success_rate": "1"},
        CI_SCHEMA,
    )
