"""Built-in plugin: the tokens an execution used, and an estimate of what they cost.

``trylast``, so a plugin that already set ``record.tokens`` wins and this one leaves the
record alone. The work (transcripts, the report's Token Usage table, prices) is in
:mod:`phaser_analytics.default_plugins.claude_usage`, imported when the hook first runs;
``docs/metrics.md`` explains it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from phaser_analytics.hookspecs import hookimpl

if TYPE_CHECKING:
    from phaser_analytics.models import ExecutionRecord


@hookimpl(trylast=True)
def enrich_record(record: ExecutionRecord, source: Path | None) -> dict[str, Any] | None:
    from .claude_usage import usage_fields

    return usage_fields(record, source)
