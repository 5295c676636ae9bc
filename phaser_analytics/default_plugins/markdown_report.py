"""Built-in plugin: the dialect of Phaser's ``EXECUTION_REPORT.md``.

Cheap to import, as every plugin module should be: detection is one regular expression,
and the reader (:mod:`phaser_analytics.default_plugins.report_parser`) is imported on the
first ``parse``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from phaser_analytics.hookspecs import Dialect, hookimpl

# Detection only has to tell this dialect's reports from other markdown, cheaply. Kept as
# text: ``re`` compiles it on the first ``detect`` (and caches it), not every command that
# loads the plugins (~0.2 ms).
_DETECT = r"^\ufeff?[ \t]{0,3}#{1,2}[ \t]+(?:execution report\b|metadata[ \t\r]*$)"


class ExecutionReportDialect(Dialect):
    """Phaser's own report: ``# Execution Report`` with a ``## Metadata`` table."""

    name = "phaser"
    patterns = ("EXECUTION_REPORT.md",)
    #: Keys of the parse for the ``enrich_record`` hooks only: the Token Usage tables,
    #: which the claude_tokens plugin would otherwise read from the file again
    #: (:data:`~phaser_analytics.default_plugins.report_parser.REPORT_TOKEN_TABLES`; spelt
    #: out here so that loading the plugin does not import the reader, and a test holds
    #: them equal).
    transient_keys = ("report_token_tables",)

    def detect(self, text: str) -> bool:
        return re.search(_DETECT, text, re.IGNORECASE | re.MULTILINE) is not None

    def parse(self, text: str, path: Path | None) -> dict[str, Any]:
        from .report_parser import parse_report_text

        return parse_report_text(text)


@hookimpl(trylast=True)
def register_dialects(register: Callable[[Any], None]) -> None:
    register(ExecutionReportDialect())
