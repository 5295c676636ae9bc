"""Token usage and cost of one execution, per model: what the ``html`` dashboard charts and
the ``openmetrics`` renderer exports, read from a record the one same way.

A record knows its models when the transcripts were read (``tokens_by_model``); a report's
own ``## Token Usage`` table gives totals only, which count under the model
:data:`UNKNOWN_MODEL`. See docs/metrics.md for where the figures come from.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from .models import ExecutionRecord

TOKEN_KINDS = ("input", "output", "cache_creation", "cache_read")
#: The model of tokens (and cost) a report gives without saying which model used them.
UNKNOWN_MODEL = "unknown"


class ModelUsage(NamedTuple):
    model: str
    tokens: dict[str, int]
    """Counts by kind (:data:`TOKEN_KINDS`), only the kinds known."""
    cost_usd: float | None

    @property
    def total(self) -> int:
        return sum(self.tokens.values())


def _counts(source: dict[str, Any] | None) -> dict[str, int]:
    source = source or {}
    return {
        kind: value
        for kind in TOKEN_KINDS
        if isinstance(value := source.get(kind), int) and not isinstance(value, bool)
    }


def model_usage(record: ExecutionRecord) -> Iterator[ModelUsage]:
    """The execution's usage per model, models in name order; nothing when unknown.

    With per-model figures, the record's total cost is theirs (and a model without a price
    has no cost); without, the totals and the record's cost belong to ``unknown``.
    """
    if record.tokens_by_model:
        for model in sorted(record.tokens_by_model):
            entry = record.tokens_by_model[model] or {}
            cost = entry.get("cost_usd")
            known = cost if isinstance(cost, (int, float)) else None
            yield ModelUsage(model, _counts(entry), known)
    elif record.tokens or record.cost_usd is not None:
        yield ModelUsage(UNKNOWN_MODEL, _counts(record.tokens), record.cost_usd)
