"""Small pure helpers for every place a value is shown: durations, deltas, percentages,
dates, money, token counts, and the display width of terminal text.

Every helper shows an unknown value (``None``) as :data:`UNKNOWN`, never as a made-up
``0``. ``wcwidth`` is imported inside the width functions, and only for text that holds
characters other than printable ASCII and the few symbols the renderers print (importing it
takes ~15 ms, as long as the rest of ``show`` on a small store), so that importing this
module and rendering a table stay cheap on the CLI's start-up path.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import TypeGuard

#: How every helper shows a value the report did not give. Plain ASCII on purpose: it
#: survives every terminal, code page and spreadsheet.
UNKNOWN = "-"

ELLIPSIS = "…"


def _is_number(value: object) -> TypeGuard[float]:
    """An int or a finite float; ``bool`` and NaN are not numbers to show."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond any float: not a number anyone can be shown
        return False


def format_duration(seconds: float | None, *, precise: bool = False) -> str:
    """Format a duration as spec §11.4 shows it.

    ``"1h 23m"`` from one hour on, ``"45m 12s"`` from one minute on, ``"42s"`` below;
    ``precise=True`` keeps the seconds of long durations (``"1h 23m 23s"``, spec §8.2).
    The minor unit is zero-padded (``"2h 05m"``) so a column of durations lines up.
    """
    if not _is_number(seconds):
        return UNKNOWN
    if seconds < 0:
        # Clock skew between the report's timestamps: show it rather than hide it.
        return "-" + format_duration(-seconds, precise=precise)
    total = math.floor(seconds + 0.5)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        text = f"{hours}h {minutes:02d}m"
        return f"{text} {secs:02d}s" if precise else text
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def format_delta(value: float | None) -> str:
    """A signed change: ``"+32"``, ``"-3"``, ``"0"``; averages keep one decimal."""
    if not _is_number(value):
        return UNKNOWN
    if isinstance(value, float) and not value.is_integer():
        return f"{value:+.1f}"
    number = int(value)
    return f"{number:+d}" if number else "0"


def format_percent(ratio: float | None, *, digits: int = 0) -> str:
    """A ratio in ``[0, 1]`` as a percentage: ``0.6`` → ``"60%"``.

    Rounds half up, but never shows 100% for a rate short of 1, nor 0% for a rate above
    0: a badge saying "100%" while one run failed would be a lie.
    """
    if not _is_number(ratio):
        return UNKNOWN
    scale = 10**digits
    value = math.floor(ratio * 100 * scale + 0.5) / scale
    step = 1 / scale
    if value >= 100 and ratio < 1:
        value = 100 - step
    elif value <= 0 < ratio:
        value = step
    return f"{value:.{digits}f}%"


def format_count(value: int | None) -> str:
    """A large count in short form: ``950``, ``12.3K``, ``1.2M``, ``20K``."""
    if not _is_number(value):
        return UNKNOWN
    number = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(number) >= limit:
            return f"{number / limit:.1f}".removesuffix(".0") + suffix
    return f"{int(number)}"


def format_cost(usd: float | None) -> str:
    """A cost in US dollars with cents: ``"$3.40"``; fractions of a cent keep 4 places."""
    if not _is_number(usd):
        return UNKNOWN
    if 0 < abs(usd) < 0.01:
        return f"${usd:.4f}"
    return f"${usd:,.2f}"


def _as_datetime(value: datetime | date | str | None) -> datetime | date | None:
    """Accept what records (datetimes) and their dicts (ISO strings) carry."""
    if value is None or isinstance(value, (datetime, date)):
        return value
    from .models import read_iso_datetime

    return read_iso_datetime(value)


def format_datetime(
    value: datetime | date | str | None,
    fmt: str = "%Y-%m-%d %H:%M:%S",
    *,
    tz: tzinfo | None = timezone.utc,
) -> str:
    """Show a moment with ``fmt``, in ``tz`` (``None``: the machine's local time).

    UTC by default because the store is in UTC; the templates get the command's zone
    (``--tz``, ``analytics.tz``). A naive value is taken as UTC, as everywhere in the package.
    """
    moment = _as_datetime(value)
    if moment is None:
        return UNKNOWN
    if isinstance(moment, datetime):
        moment = in_display_zone(moment, tz)
    return moment.strftime(fmt)


def format_date(
    value: datetime | date | str | None,
    date_only: bool = False,
    *,
    tz: tzinfo | None = timezone.utc,
) -> str:
    """The day of a moment in ``tz`` (``None``: local time): ``"2024-12-06"``. A bare-date
    report's day (``date_only``: stored at midnight UTC) is that day in every zone."""
    moment = _as_datetime(value)
    if isinstance(moment, datetime):
        as_utc = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        if _bare_day(as_utc, date_only):
            tz = timezone.utc
    return format_datetime(value, "%Y-%m-%d", tz=tz)


def _bare_day(moment: datetime, date_only: bool) -> bool:
    """A bare-date report's moment: stored at midnight UTC, shown as that day in any zone."""
    utc = moment.astimezone(timezone.utc)
    return date_only and (utc.hour, utc.minute, utc.second) == (0, 0, 0)


def in_display_zone(value: datetime, zone: tzinfo | None) -> datetime:
    """``value`` (naive means UTC) in ``zone``; ``None`` is the machine's local time."""
    moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone)


def format_when(value: datetime | None, zone: tzinfo | None, *, date_only: bool = False) -> str:
    """The day and time of day in ``zone`` (``None``: local time), as the table shows a
    start: ``"2024-12-06 10:30"``; just the day for a bare-date report."""
    if value is None:
        return UNKNOWN
    if _bare_day(value if value.tzinfo else value.replace(tzinfo=timezone.utc), date_only):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d")
    return in_display_zone(value, zone).strftime("%Y-%m-%d %H:%M")


def format_timestamp(
    value: datetime | None, *, date_only: bool = False, zone: tzinfo | None = timezone.utc
) -> str:
    """ISO 8601 in ``zone`` (``None``: local time): ``Z`` when the offset is zero, as the
    store writes it, else ``±HH:MM``; just the day when only the day is known.

    A bare-date report is stored at midnight: showing ``T00:00:00Z`` would invent a time.
    """
    if value is None:
        return UNKNOWN
    moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if _bare_day(moment, date_only):
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%d")
    moment = moment.astimezone(zone)
    text = moment.isoformat(timespec="seconds")
    return text[:-6] + "Z" if moment.utcoffset() == timedelta(0) else text


# Characters that would move the cursor, change colours or reorder text in a terminal: the
# control characters (Unicode category Cc: C0, DEL and C1, whose U+009B is a CSI on its own)
# and the bidi overrides and isolates.
_CONTROLS = [*range(0x00, 0x20), *range(0x7F, 0xA0)]
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ONE_LINE = {
    **dict.fromkeys(_CONTROLS, "\ufffd"),
    **dict.fromkeys(map(ord, "\t\n\r\v\f"), " "),
    **dict.fromkeys(map(ord, _BIDI_CONTROLS)),
}
_LINES = {**_ONE_LINE, ord("\n"): "\n", ord("\t"): "\t"}
#: What :func:`json_safe` escapes: what :func:`clean_text` removes and JSON leaves raw.
_JSON_UNSAFE = {code: f"\\u{code:04x}" for code in [*range(0x7F, 0xA0), *map(ord, _BIDI_CONTROLS)]}


def clean_text(text: object, *, lines: bool = False) -> str:
    """Printable text from a report or record value, for any human-readable output.

    Control characters (ESC, BEL, the C1 CSI, …) become the replacement character and bidi
    overrides vanish: a report is untrusted input, and an escape sequence in a document name
    must not reach the terminal or break a frame. Whitespace controls become spaces (one
    line, for a table cell); with ``lines``, line breaks (``\\r\\n`` and ``\\r`` made
    ``\\n``) and tabs are kept, for messages and documents of several lines.

    This is the one place that decides what reaches a terminal: the tables, import's lines,
    clear, projects, every warning and error (``cli.main.err``/``say``) and the markdown
    report call it.
    """
    value = str(text)
    if value.isascii() and value.isprintable():
        return value
    if lines:
        return value.replace("\r\n", "\n").replace("\r", "\n").translate(_LINES)
    return value.translate(_ONE_LINE)


def json_safe(text: str) -> str:
    """JSON text with the characters :func:`clean_text` removes written as ``\\uXXXX``
    escapes (JSON already escapes C0 controls; DEL, C1 and bidi controls it leaves raw).
    The data is unchanged: a JSON reader gets the same strings back."""
    if text.isascii() and "\x7f" not in text:
        return text
    # A search first: ``translate`` looks every character of a non-ASCII text up in a dict
    # (0.3 ms per exported record), and the characters it would change are rare.
    if _json_unsafe_pattern().search(text) is None:
        return text
    return text.translate(_JSON_UNSAFE)


@functools.cache
def _json_unsafe_pattern() -> re.Pattern[str]:
    return re.compile("[" + "".join(re.escape(chr(code)) for code in _JSON_UNSAFE) + "]")


def _char_width(char: str) -> int:
    from wcwidth import wcwidth

    return max(wcwidth(char), 0)


#: The display widths of the characters other than printable ASCII that the renderers
#: print (box drawing and block elements, Δ, …, →, the status symbols), as wcwidth gives
#: them. tests/test_cheap_modules.py checks each against wcwidth.
_KNOWN_WIDTHS: dict[str, int] = {
    **{chr(code): 1 for code in range(0x2500, 0x25A0)},  # box drawing, block elements
    **dict.fromkeys("ΔΣ–—…→←↑↓·§°×⚠", 1),
    **dict.fromkeys("✅❌", 2),
}
_VS16 = "\ufe0f"
#: Symbols a VARIATION SELECTOR-16 turns from one column to two (``⚠️``).
_WIDENED_BY_VS16 = frozenset("⚠")


def _known_width(text: str) -> int | None:
    """The width of ``text`` when it holds only printable ASCII and :data:`_KNOWN_WIDTHS`
    (whose widths wcwidth agrees with), without importing wcwidth; else ``None``."""
    if text.isascii():
        return len(text) if text.isprintable() else None
    if "UNICODE_VERSION" in os.environ:
        return None  # older wcwidth releases read it and may measure otherwise
    width = 0
    previous = ""
    for char in text:
        if " " <= char <= "~" or (char == _VS16 and previous in _WIDENED_BY_VS16):
            width += 1
        else:
            known = _KNOWN_WIDTHS.get(char)
            if known is None:
                return None
            width += known
        previous = char
    return width


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: 2 for ✅ and 日, 0 for combining marks."""
    known = _known_width(text)
    if known is not None:
        return known
    from wcwidth import wcswidth

    width = wcswidth(text)
    if width >= 0:
        return width
    # wcswidth gives up (-1) on control characters; count the rest.
    return sum(_char_width(char) for char in text)


def _graphemes(text: str) -> Iterator[str]:
    """User-perceived characters, so a cut never splits ⚠️ or a ZWJ emoji sequence."""
    import wcwidth

    iter_graphemes = getattr(wcwidth, "iter_graphemes", None)
    if iter_graphemes is not None:
        yield from iter_graphemes(text)
        return
    # Older wcwidth: glue zero-width characters, and whatever follows a ZWJ, to the
    # character before them.
    cluster = ""
    for char in text:
        if cluster and (_char_width(char) == 0 or cluster.endswith("\u200d")):
            cluster += char
            continue
        if cluster:
            yield cluster
        cluster = char
    if cluster:
        yield cluster


def truncate_to_width(text: str, width: int, ellipsis: str = ELLIPSIS) -> str:
    """``text`` if it fits in ``width`` columns, else its start followed by ``ellipsis``."""
    if width <= 0:
        return ""
    if display_width(text) <= width:
        return text
    room = width - display_width(ellipsis)
    if room < 0:
        return truncate_to_width(ellipsis, width, "")
    if text.isascii() and text.isprintable():  # one column a character: no wcwidth needed
        return text[:room] + ellipsis
    kept: list[str] = []
    used = 0
    for cluster in _graphemes(text):
        cluster_width = display_width(cluster)
        if used + cluster_width > room:
            break
        kept.append(cluster)
        used += cluster_width
    return "".join(kept) + ellipsis


def pad_to_width(text: str, width: int, align: str = "left") -> str:
    """``text`` padded with spaces to ``width`` columns (``align``: left, right, center)."""
    gap = max(width - display_width(text), 0)
    if align == "right":
        return " " * gap + text
    if align == "center":
        left = gap // 2
        return " " * left + text + " " * (gap - left)
    return text + " " * gap
