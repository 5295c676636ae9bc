"""Reading the dates users type into ``--since``, ``--until`` and ``--before``.

Accepted (case-insensitive, the same on every Python version):

- ``YYYY-MM-DD``: a local day;
- ``YYYY-MM-DDTHH:MM[:SS[.fraction]][zone]``, with ``T`` or a space, where the zone is
  ``Z``, ``+HH:MM``, ``+HHMM`` or ``+HH`` (any number of fraction digits; a comma works
  too);
- relative: ``7d``, ``2w``, ``12h`` (that long before now), also written ``7 days``,
  ``7 days ago``, ``1 week ago``, ``12 hours ago``; ``today``, ``yesterday``, ``now``.

A value without a zone is local time (or ``zone``). A bare day as an upper bound
(``--until``) covers that whole day. Anything else, or a value outside the years a
datetime can hold, is an :class:`InvalidDateError` with the spec's message.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from .errors import InvalidDateError

# [0-9], not \d: \d takes any Unicode digit ("٧d"), which int() then reads. Patterns, not
# compiled: re compiles (and caches) one when a date is first parsed, not in every command.
_RELATIVE = r"([0-9]+)\s*(h|hours?|d|days?|w|weeks?)(?:\s+ago)?"
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}
_DAY = r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
_DATETIME = (
    r"(?P<day>[0-9]{4}-[0-9]{2}-[0-9]{2})[t ]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]+))?)?"
    r"\s*(?P<zone>z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)


def _aware(moment: datetime, zone: tzinfo | None) -> datetime:
    """A naive wall-clock time in ``zone`` (the local zone when ``None``)."""
    if zone is not None:
        placed = moment.replace(tzinfo=zone)
        offset = placed.utcoffset()
        # As a fixed offset, like the local path's: an instant left in a zone's repeated
        # or skipped hour compares unequal to every time of another zone (PEP 495).
        return placed.replace(tzinfo=timezone(offset)) if offset is not None else placed
    try:
        return moment.astimezone()
    except (OverflowError, ValueError):
        # At the ends of the calendar (0001-01-01, 9999-12-31) the platform cannot convert
        # to the local zone: today's local offset serves.
        return moment.replace(tzinfo=datetime.now().astimezone().tzinfo)


def _day_start(day: date, zone: tzinfo | None) -> datetime:
    return _aware(datetime.combine(day, time()), zone)


def _day_end(day: date, zone: tzinfo | None) -> datetime:
    """The last instant of ``day``: 23:59:59.999999, its later occurrence when the clocks
    go back at midnight and that hour runs twice (``fold=1``)."""
    return _aware(datetime.combine(day, time.max.replace(fold=1)), zone)


def utc_offset(text: str) -> timezone:
    """The zone a timestamp names: ``Z``, ``UTC`` or ``GMT`` (any case), else ``±HH``,
    ``±HHMM`` or ``±HH:MM``; ``ValueError`` for minutes past 59 or a day or more."""
    if text.upper() in ("Z", "UTC", "GMT"):
        return timezone.utc
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if minutes >= 60:
        raise ValueError(text)
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if text[0] == "-" else delta)


def _parse_datetime(text: str, zone: tzinfo | None) -> datetime | None:
    match = re.fullmatch(_DATETIME, text)
    if match is None:
        return None
    fraction = (match["fraction"] or "")[:6].ljust(6, "0")
    moment = datetime.combine(
        date.fromisoformat(match["day"]),
        time(int(match["hour"]), int(match["minute"]), int(match["second"] or 0), int(fraction)),
    )
    if match["zone"]:
        return moment.replace(tzinfo=utc_offset(match["zone"]))
    return _aware(moment, zone)


def parse_date_bound(
    value: str,
    *,
    end_of_day: bool = False,
    now: datetime | None = None,
    zone: tzinfo | None = None,
) -> datetime:
    """A timezone-aware bound from ``value``.

    ``end_of_day`` makes a bare date (or ``today``/``yesterday``) mean the last instant of
    that day, for inclusive upper bounds. ``zone`` is the zone of naive values and of
    ``today`` (local time when ``None``); ``now`` (aware, or naive in ``zone``) is the
    moment relative values count from. Raises :class:`InvalidDateError` with the spec's
    message.
    """
    try:
        moment = _parse(value.strip().lower(), end_of_day, now, zone)
    except (ValueError, OverflowError):
        # A day that does not exist (2024-02-30), a year out of range, 99999999d.
        raise InvalidDateError(value) from None
    if moment is None:
        raise InvalidDateError(value)
    return moment


def _parse(
    text: str, end_of_day: bool, now: datetime | None, zone: tzinfo | None
) -> datetime | None:
    if now is None:
        current = datetime.now(zone) if zone is not None else datetime.now().astimezone()
    else:
        current = now if now.tzinfo is not None else _aware(now, zone)
    day: date | None = None
    if text == "now":
        return current
    if text in ("today", "yesterday"):
        # Today where the user is, whatever zone ``now`` was given in.
        local = current.astimezone(zone) if zone is not None else current.astimezone()
        day = local.date() - timedelta(days=1 if text == "yesterday" else 0)
    elif match := re.fullmatch(_RELATIVE, text):
        return current - timedelta(**{_UNITS[match.group(2)[0]]: int(match.group(1))})
    elif re.fullmatch(_DAY, text):
        day = date.fromisoformat(text)
    if day is not None:
        return _day_end(day, zone) if end_of_day else _day_start(day, zone)
    return _parse_datetime(text, zone)


# -- time zones ---------------------------------------------------------------------------


class UnknownTimeZoneError(ValueError):
    """``--tz`` names no zone this machine knows."""


def resolve_zone(name: str | None) -> tzinfo | None:
    """The zone called ``name`` (an IANA name such as ``Europe/Berlin``, or ``UTC``);
    ``None`` or ``local`` is the machine's own zone, returned as ``None``."""
    if name is None or name.strip().lower() == "local":
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimeZoneError(name) from None


def zone_label(zone: tzinfo | None) -> str:
    """How outputs name the zone: ``Europe/Berlin``, or ``local time, CET``."""
    if zone is not None:
        return str(zone)
    return f"local time, {datetime.now().astimezone().tzname()}"
