"""Badge renderers for ``phaser analytics badge``: ``shields-io`` and ``svg`` (spec §9.3).

``shields-io`` prints the endpoint JSON shields.io reads
(``{"schemaVersion":1,"label":"audits","message":"95%","color":"brightgreen"}``);
``svg`` draws the same badge as a standalone flat SVG, with no network involved.

Options: ``metric`` (one of :data:`~phaser_analytics.models.BADGE_METRICS`, default
``success-rate``), ``label`` (default ``"audits"``) and ``thresholds``, the colours of rate
metrics: pairs of (minimum percent, colour), or text such as
``"90:brightgreen,75:green,0:red"``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from phaser_analytics.errors import AnalyticsError
from phaser_analytics.formatting import (
    clean_text,
    display_width,
    format_delta,
    format_duration,
    format_percent,
)
from phaser_analytics.models import BADGE_METRICS

if TYPE_CHECKING:
    from phaser_analytics.hookspecs import RenderView
    from phaser_analytics.models import AggregatedStats

DEFAULT_METRIC = "success-rate"
DEFAULT_LABEL = "audits"
DEFAULT_THRESHOLDS: tuple[tuple[float, str], ...] = (
    (90, "brightgreen"),
    (75, "green"),
    (60, "yellow"),
    (40, "orange"),
)
BELOW_THRESHOLDS = "red"
NEUTRAL = "blue"  # counts and durations are neither good nor bad
NO_DATA = ("no data", "lightgrey")

#: shields.io's named colours, as hex for the SVG badge.
NAMED_COLORS = {
    "brightgreen": "#4c1",
    "green": "#97ca00",
    "yellowgreen": "#a4a61d",
    "yellow": "#dfb317",
    "orange": "#fe7d37",
    "red": "#e05d44",
    "blue": "#007ec6",
    "lightgrey": "#9f9f9f",
    "grey": "#555",
    "success": "#4c1",
    "important": "#fe7d37",
    "critical": "#e05d44",
    "informational": "#007ec6",
    "inactive": "#9f9f9f",
}
_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


@dataclass(frozen=True)
class Badge:
    label: str
    message: str
    color: str

    def endpoint(self) -> dict[str, Any]:
        """The shields.io endpoint document."""
        return {
            "schemaVersion": 1,
            "label": self.label,
            "message": self.message,
            "color": self.color,
        }


def parse_thresholds(value: Any) -> list[tuple[float, str]]:
    """Thresholds from the option: pairs, or ``"90:brightgreen,75:green"``; highest first."""
    if value is None or value == "":
        return list(DEFAULT_THRESHOLDS)
    pairs: Iterable[Any] = value
    if isinstance(value, str):
        pairs = [item.split(":", 1) for item in value.split(",") if item.strip()]
    try:
        parsed = [(float(minimum), str(color).strip()) for minimum, color in pairs]
    except (TypeError, ValueError) as exc:
        raise AnalyticsError(
            f"Invalid badge thresholds: {value!r}. Use pairs like 90:brightgreen,75:green."
        ) from exc
    return sorted(parsed, key=lambda pair: pair[0], reverse=True)


def rate_color(percent: float, thresholds: Iterable[tuple[float, str]]) -> str:
    for minimum, color in thresholds:
        if percent >= minimum:
            return color
    return BELOW_THRESHOLDS


def make_badge(
    stats: AggregatedStats,
    metric: str = DEFAULT_METRIC,
    label: str = DEFAULT_LABEL,
    thresholds: Iterable[tuple[float, str]] = DEFAULT_THRESHOLDS,
) -> Badge:
    """The badge for ``metric`` over ``stats``; "no data" in grey when there is none."""
    if metric not in BADGE_METRICS:
        raise AnalyticsError(
            f"Unknown badge metric: {metric}. Choose one of: {', '.join(BADGE_METRICS)}."
        )
    if stats.total_executions == 0:
        return Badge(label, *NO_DATA)
    if metric in ("success-rate", "phase-success-rate"):
        if metric == "phase-success-rate" and stats.total_phases_executed == 0:
            return Badge(label, *NO_DATA)
        rate = stats.success_rate if metric == "success-rate" else stats.phase_success_rate
        return Badge(label, format_percent(rate), rate_color(rate * 100, thresholds))
    if metric == "executions":
        return Badge(label, str(stats.total_executions), NEUTRAL)
    if metric == "avg-duration":
        if stats.avg_duration_seconds is None:
            return Badge(label, *NO_DATA)
        return Badge(label, format_duration(stats.avg_duration_seconds), NEUTRAL)
    if stats.total_test_delta is None:
        return Badge(label, *NO_DATA)
    return Badge(label, format_delta(stats.total_test_delta) + " tests", NEUTRAL)


def badge_from_view(view: RenderView) -> Badge:
    return make_badge(
        view.stats,
        metric=view.option("metric") or DEFAULT_METRIC,
        label=view.option("label") or DEFAULT_LABEL,
        thresholds=parse_thresholds(view.option("thresholds")),
    )


# Approximate advance widths of Verdana at 11px, the font of shields.io's flat badges.
_NARROW = dict.fromkeys("fijlrtI!'|.,:;()[]{}` ", 4.0)
_WIDE = dict.fromkeys("mwMW%@", 10.5)
_UPPER = 7.6
_LOWER = 6.6
_DIGIT = 7.0
_OTHER = 7.0


def text_width(text: str) -> float:
    """Estimated width in pixels of ``text`` in 11px Verdana; wide characters count twice."""
    total = 0.0
    for char in text:
        if char in _NARROW:
            total += _NARROW[char]
        elif char in _WIDE:
            total += _WIDE[char]
        elif char.isascii() and char.isupper():
            total += _UPPER
        elif char.isascii() and char.islower():
            total += _LOWER
        elif char.isdigit():
            total += _DIGIT
        else:
            total += _OTHER * max(display_width(char), 1)
    return total


def svg_color(color: str) -> str:
    """A fill for the SVG: a named shields.io colour or a hex code; anything else grey."""
    if color in NAMED_COLORS:
        return NAMED_COLORS[color]
    match = _HEX.fullmatch(color)
    return "#" + match.group(1) if match else NAMED_COLORS["lightgrey"]


# Not xml.sax.saxutils's escape and quoteattr: importing it imports urllib, http.client, ssl
# and email, and this module is loaded by every command. html is imported only for an SVG.


def _escape(text: str) -> str:
    """``&``, ``<`` and ``>`` escaped, as ``xml.sax.saxutils.escape`` does."""
    from html import escape

    return escape(text, quote=False)


def _quoteattr(text: str) -> str:
    """``text`` as a quoted XML attribute value, as ``xml.sax.saxutils.quoteattr`` writes it."""
    value = _escape(text)
    value = value.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    return '"' + value.replace('"', "&quot;") + '"'


def render_svg(badge: Badge) -> str:
    """A flat badge: grey label on the left, coloured message on the right."""
    # Control characters are not allowed in XML 1.0 at all, escaped or not.
    badge = Badge(clean_text(badge.label), clean_text(badge.message), badge.color)
    label_width = math.ceil(text_width(badge.label)) + 10
    message_width = math.ceil(text_width(badge.message)) + 10
    width = label_width + message_width
    title = _escape(f"{badge.label}: {badge.message}")
    label, message = _escape(badge.label), _escape(badge.message)
    label_x, message_x = label_width / 2, label_width + message_width / 2
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
            f"aria-label={_quoteattr(f'{badge.label}: {badge.message}')}>",
            f"  <title>{title}</title>",
            '  <linearGradient id="s" x2="0" y2="100%">',
            '    <stop offset="0" stop-color="#bbb" stop-opacity=".1"/>',
            '    <stop offset="1" stop-opacity=".1"/>',
            "  </linearGradient>",
            '  <clipPath id="r">',
            f'    <rect width="{width}" height="20" rx="3" fill="#fff"/>',
            "  </clipPath>",
            '  <g clip-path="url(#r)">',
            f'    <rect width="{label_width}" height="20" fill="#555"/>',
            f'    <rect x="{label_width}" width="{message_width}" height="20" '
            f'fill="{svg_color(badge.color)}"/>',
            f'    <rect width="{width}" height="20" fill="url(#s)"/>',
            "  </g>",
            '  <g fill="#fff" text-anchor="middle" '
            'font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">',
            f'    <text x="{label_x:g}" y="15" fill="#010101" fill-opacity=".3">{label}</text>',
            f'    <text x="{label_x:g}" y="14">{label}</text>',
            f'    <text x="{message_x:g}" y="15" fill="#010101" fill-opacity=".3">{message}</text>',
            f'    <text x="{message_x:g}" y="14">{message}</text>',
            "  </g>",
            "</svg>",
        ]
    )


def render_endpoint(view: RenderView) -> str:
    """The shields.io endpoint JSON of the view's badge."""
    return json.dumps(badge_from_view(view).endpoint(), separators=(",", ":"), ensure_ascii=False)
