"""A copy of a record's state to roll a failed ``enrich_record`` plugin back to.

``copy.deepcopy`` of an :class:`~phaser_analytics.models.ExecutionRecord` cost about a
tenth of an import's time, twice per report: most of a record is strings, numbers,
enums and datetimes, which need no copy, and the rest is lists, dicts and the phase
dataclasses. :func:`take` copies those containers itself and leaves anything else to
``copy.deepcopy``; like ``deepcopy`` it keeps two references to one object as one.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta, timezone
from enum import Enum
from typing import Any

#: Types whose values cannot change in place: shared, not copied.
_IMMUTABLE = frozenset(
    {str, int, float, bool, type(None), bytes, complex, datetime, date, time, timedelta, timezone}
)


def take(obj: Any) -> dict[str, Any]:
    """The state of ``obj`` (its ``__dict__``), deeply copied."""
    return _copy(obj.__dict__, {})


def restore(obj: Any, state: dict[str, Any]) -> None:
    """Put the state :func:`take` returned back into ``obj``.

    Attributes set since are overwritten, not removed, as ``__dict__.update`` does.
    """
    obj.__dict__.update(state)


def _copy(value: Any, memo: dict[int, Any]) -> Any:
    cls: Any = type(value)
    if cls in _IMMUTABLE or isinstance(value, Enum):
        return value
    key = id(value)
    if key in memo:
        return memo[key]
    if cls is list:
        copied_list: list[Any] = []
        memo[key] = copied_list
        copied_list.extend(_copy(item, memo) for item in value)
        return copied_list
    if cls is dict:
        copied_dict: dict[Any, Any] = {}
        memo[key] = copied_dict
        for name, item in value.items():
            copied_dict[name] = _copy(item, memo)
        return copied_dict
    if cls is tuple:
        copied_tuple = tuple(_copy(item, memo) for item in value)
        memo[key] = copied_tuple
        return copied_tuple
    if _plain_dataclass(cls) and hasattr(value, "__dict__"):
        copied = cls.__new__(cls)
        memo[key] = copied
        copied.__dict__.update(_copy(value.__dict__, memo))
        return copied
    import copy

    # deepcopy's memo is keyed the same way: what both reach stays one object.
    return copy.deepcopy(value, memo)


@functools.cache
def _plain_dataclass(cls: type) -> bool:
    """A dataclass (of dataclasses) whose instances hold their whole state in
    ``__dict__`` and copy the default way: a new instance given a copy of that dict is a
    deep copy (the phases of a record)."""
    return (
        all(base is object or "__dataclass_fields__" in vars(base) for base in cls.__mro__)
        and not any("__slots__" in vars(base) for base in cls.__mro__)
        and all(
            getattr(cls, name, None) is getattr(object, name, None)
            for name in ("__reduce_ex__", "__reduce__", "__getstate__", "__setstate__")
        )
        and not hasattr(cls, "__deepcopy__")
    )
