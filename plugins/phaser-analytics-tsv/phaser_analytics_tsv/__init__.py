"""Example plugin: a ``tsv`` renderer and a ``runlog`` report dialect."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from phaser_analytics import ExecutionStatus, ReportParseError, hookimpl

COLUMNS = (
    "execution_id",
    "audit_document",
    "started_at",
    "status",
    "duration_seconds",
    "test_delta",
)


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A tab or newline inside a value would shift every later column.
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


class TsvRenderer:
    name = "tsv"
    help = "Tab-separated values, one row per execution."
    suffix = ".tsv"

    def render(self, view) -> str:
        rows = ["\t".join(COLUMNS)]
        for record in view.records:
            data = record.to_dict()
            rows.append("\t".join(_cell(data[column]) for column in COLUMNS))
        return "\n".join(rows) + "\n"


class RunLogDialect:
    name = "runlog"
    patterns = ("PHASER_RUN.log",)

    def detect(self, text: str) -> bool:
        return text.lstrip().startswith("phaser-run-log")

    def parse(self, text: str, path: Path | None) -> dict[str, Any]:
        fields: dict[str, str] = {}
        for line in text.splitlines()[1:]:
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip().lower()] = value.strip()
        if "document" not in fields:
            raise ReportParseError("no 'document:' line", section="runlog", line=1)
        data: dict[str, Any] = {
            "audit_document": fields["document"],
            "project_name": fields.get("project"),
            "status": ExecutionStatus(fields.get("result", "failed")),
        }
        for key in ("started", "completed"):
            if key in fields:
                data[f"{key}_at"] = datetime.fromisoformat(fields[key].replace("Z", "+00:00"))
        if "tests" in fields:
            before, _, after = fields["tests"].partition("->")
            data["baseline_tests"], data["final_tests"] = int(before), int(after)
        return data


@hookimpl
def register_renderers(register):
    register(TsvRenderer())


@hookimpl
def register_dialects(register):
    register(RunLogDialect())
