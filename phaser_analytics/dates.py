"""Reading the dates users type into ``--since``, ``--until`` and ``--before``.

Accepted: ``YYYY-MM-DD``; ISO 8601 datetimes with or without a zone (``T`` or a space);
relative forms ``7d``, ``2w``, ``12h``, ``today``, ``yesterday``. A value without a zone is
local time. A bare date as an upper bound (``--until``) covers that whole day.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, tzinfo

from .errors import InvalidDateError

_RELATIVE = re.compile(r"^(\d+)\s*([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def _local_midnight(day: date, zone: tzinfo | None) -> datetime:
    moment = datetime.combine(day, time())
    return moment.replace(tzinfo=zone) if zone else moment.astimezone()


def parse_date_bound(
    value: str,
    *,
    end_of_day: bool = False,
    now: datetime | None = None,
    zone: tzinfo | None = None,
) -> datetime:
    """A timezone-aware bound from ``value``.

    ``end_of_day`` makes a bare date (or ``today``/``yesterday``) mean the last instant of
    that day, for inclusive upper bounds. ``zone`` is the zone of naive values (local time
    when ``None``). Raises :class:`InvalidDateError` with the spec's message.
    """
    text = value.strip().lower()
    if now is None:
        current = datetime.now(zone) if zone else datetime.now().astimezone()
    else:
        current = now
    day: date | None = None
    if text in ("today", "now"):
        if text == "now":
            return current
        day = current.date()
    elif text == "yesterday":
        day = current.date() - timedelta(days=1)
    elif match := _RELATIVE.match(text):
        return current - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise InvalidDateError(value) from None
    if day is not None:
        start = _local_midnight(day, zone)
        if end_of_day:
            return _local_midnight(day + timedelta(days=1), zone) - timedelta(microseconds=1)
        return start
    candidate = value.strip()
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        raise InvalidDateError(value) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone) if zone else moment.astimezone()
    return moment
