"""Modules every command loads stay cheap: what loading the plugins must not import, and
that the cheap replacements write exactly what the expensive ones did."""

from __future__ import annotations

import subprocess
import sys
from xml.sax.saxutils import escape, quoteattr

import pytest

from phaser_analytics.default_plugins import shields_io

#: Loading the plugins imports none of these: xml.sax.saxutils imports urllib, http.client,
#: ssl and email; importlib.metadata imports email, zipfile and csv.
EXPENSIVE = ("xml.sax", "importlib.metadata", "email", "urllib.request", "http.client", "ssl")


def test_loading_the_plugins_imports_nothing_expensive() -> None:
    code = (
        "import sys\n"
        "from phaser_analytics.plugins import get_host\n"
        "host = get_host()\n"
        "assert 'table' in host.renderers and 'markdown_report' in host.plugins\n"
        "print(*sorted(sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(result.stdout.split())
    assert not {m for m in loaded if m.split(".")[0] in EXPENSIVE or m in EXPENSIVE}


@pytest.mark.parametrize(
    "text",
    ["", "audits", 'say "hi"', "it's", "both \" and '", "<&>", "tab\there\nnew\rline", "✅ 100%"],
)
def test_svg_escaping_is_xml_sax_saxutils(text: str) -> None:
    assert shields_io._escape(text) == escape(text)
    assert shields_io._quoteattr(text) == quoteattr(text)
