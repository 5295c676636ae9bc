"""What the aggregate commands (``trends``, ``projects``, ``phases``, ``failures`` and the
insight commands) hand a renderer instead of executions: :class:`Breakdown`, a table of
aggregates, and its :class:`Column` s (:attr:`~phaser_analytics.hookspecs.RenderView.breakdown`).

Part of the plugin contract, and imported from :mod:`phaser_analytics.hookspecs` as well;
a module of its own so that a command showing executions does not define them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Column:
    """One column of a :class:`Breakdown`: ``key`` into each row, ``title`` for people, and
    ``kind`` saying how to show the value (``text``, ``int``, ``rate``, ``duration``,
    ``duration_delta``, ``delta``, ``tokens``, ``cost``, ``datetime``, ``date``,
    ``sparkline``)."""

    key: str
    title: str
    kind: str = "text"


@dataclass
class Breakdown:
    """A table of aggregates (trends, projects, phases, failures) rather than executions.

    Renderers that know it show ``rows`` under ``columns``; ``sections`` holds further
    named breakdowns shown after this one (e.g. failures by reason, then by hour).
    """

    name: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    sections: list[Breakdown] = field(default_factory=list)
    #: What shows in place of rows when there are none (renderers default to "No
    #: executions match."): e.g. anomalies' "No anomalies …" when executions matched.
    empty: str | None = None
