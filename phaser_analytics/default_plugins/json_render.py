"""The ``json`` renderer: the document of spec §8.3, and ``--ci-minimal``'s one-line counts.

Full shape (keys in this order)::

    {"schema_version": "1.0",            # of this output document, not of the records
     "query": {...}, "project": {"name", "path"} | null,
     "projects": [...],                  # only for --global views, where project is null
     "executions": [<ExecutionRecord.to_dict()>, ...],
     "stats": {<AggregatedStats.to_dict()>}, "generated_at": "…Z"}

``--ci-minimal`` prints one compact line of counts only::

    {"total_executions":5,"successful":3,"partial":1,"failed":1,"success_rate":0.6}
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from phaser_analytics.default_plugins import breakdowns
from phaser_analytics.formatting import json_safe
from phaser_analytics.json_text import dumps_indented
from phaser_analytics.models import AggregatedStats, datetime_to_json, utcnow

if TYPE_CHECKING:
    from phaser_analytics.hookspecs import Breakdown, RenderView

#: Version of the document this renderer writes; bump the major on a breaking change.
OUTPUT_SCHEMA_VERSION = "1.0"

_INDENT = 2


def _json_default(value: Any) -> Any:
    """Serialise what a plugin may leave in ``extra``: dates, enums, paths, sets."""
    if isinstance(value, datetime):
        return datetime_to_json(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)  # paths and anything else: readable, never a crash


def _dumps(value: Any, indent: int | None = _INDENT) -> str:
    if indent:  # json.dumps's text, written faster (json_text.py)
        text = dumps_indented(value, indent=indent, ensure_ascii=False, default=_json_default)
        return json_safe(text)
    return json_safe(
        json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    )


def ci_minimal(stats: AggregatedStats) -> dict[str, Any]:
    """The counts a CI gate reads, and nothing else."""
    return {
        "total_executions": stats.total_executions,
        "successful": stats.successful,
        "partial": stats.partial,
        "failed": stats.failed,
        "success_rate": stats.success_rate,
    }


def _head(view: RenderView) -> dict[str, Any]:
    head: dict[str, Any] = {
        "schema_version": OUTPUT_SCHEMA_VERSION,
        "query": view.query.to_dict(),
        "project": dict(view.project) if view.project is not None else None,
    }
    if view.project is None:
        head["projects"] = list(view.projects)
    return head


def _tail(view: RenderView) -> dict[str, Any]:
    return {
        "stats": view.stats.to_dict(),
        "generated_at": datetime_to_json(view.generated_at or utcnow()),
    }


def _members(values: dict[str, Any]) -> list[str]:
    """``"key": value`` lines of a top-level object, indented one level."""
    pad = " " * _INDENT
    return [
        pad + _dumps(key) + ": " + _dumps(value).replace("\n", "\n" + pad)
        for key, value in values.items()
    ]


def render_iter(view: RenderView) -> Iterator[str]:
    """The full document in chunks, one per execution, so memory stays flat in N.

    ``"".join(render_iter(view)) == json.dumps(document, indent=2)`` for the same data.
    """
    if view.option("ci_minimal"):
        yield _dumps(ci_minimal(view.stats), indent=None)
        return
    pad = " " * _INDENT
    yield "{\n" + ",\n".join(_members(_head(view))) + ",\n" + pad + '"executions": ['
    first = True
    flagged = view.option("anomalies")
    for index, record in enumerate(view.records):
        data = record.to_dict()
        if (origin := view.origin(index)) is not None:
            data["project"] = dict(origin)
        if flagged is not None:
            # ``show`` judges each execution against its history (docs/insights.md).
            data["anomalies"] = list(flagged.get(record.execution_id, ()))
        item = _dumps(data).replace("\n", "\n" + pad * 2)
        yield ("\n" if first else ",\n") + pad * 2 + item
        first = False
    yield ("]" if first else "\n" + pad + "]") + ",\n" + ",\n".join(_members(_tail(view)))
    yield "\n}"


# -- breakdowns (trends, projects, phases, failures) ---------------------------------


def breakdown_dict(breakdown: Breakdown) -> dict[str, Any]:
    return {
        "name": breakdown.name,
        "title": breakdown.title,
        "columns": [{"key": c.key, "title": c.title, "kind": c.kind} for c in breakdown.columns],
        "rows": [{k: breakdowns.data_value(v) for k, v in row.items()} for row in breakdown.rows],
        "sections": [breakdown_dict(section) for section in breakdown.sections],
    }


def render_breakdown(view: RenderView) -> str:
    """``{schema_version, command, query, project | projects, time_zone, breakdown, stats,
    generated_at}``; every row keeps all its keys, shown columns or not."""
    assert view.breakdown is not None
    document: dict[str, Any] = {
        "schema_version": OUTPUT_SCHEMA_VERSION,
        "command": view.command,
        "query": view.query.to_dict(),
        "project": dict(view.project) if view.project is not None else None,
    }
    if view.project is None:
        document["projects"] = list(view.projects)
    document["time_zone"] = view.option("time_zone")
    document["breakdown"] = breakdown_dict(view.breakdown)
    document["stats"] = view.stats.to_dict()
    document["generated_at"] = datetime_to_json(view.generated_at or utcnow())
    return json_safe(json.dumps(document, indent=2, ensure_ascii=False, default=str))
