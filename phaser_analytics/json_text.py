"""``json.dumps(value, indent=2)``'s exact text, in about half its time.

With ``indent`` the standard library's encoder is its pure-Python one, a generator per
nesting level; a record file and each record of ``export --format json`` are written so,
10,000 at a time (bulk import and JSON export at N=10,000, docs/performance.md). This walk
writes the same text with the C string encoder and one list of pieces. Anything it does not
know (a type ``json`` would pass to ``default``, a key that is not a string, a cycle) falls
back to ``json.dumps`` itself, so the result is always ``json.dumps``'s
(tests/test_json_text.py compares them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any

_INFINITY = float("inf")


class _Fallback(Exception):
    """Something only ``json.dumps`` itself writes right."""


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)


def dumps_indented(
    value: Any,
    *,
    indent: int = 2,
    ensure_ascii: bool = True,
    default: Callable[[Any], Any] | None = None,
) -> str:
    """``json.dumps(value, indent=indent, ensure_ascii=ensure_ascii, default=default)``."""
    encode = encode_basestring_ascii if ensure_ascii else encode_basestring
    pad = " " * indent
    parts: list[str] = []
    append = parts.append

    def leaf(item: Any) -> str | None:
        """A scalar's text; ``None`` for a container."""
        kind = type(item)
        if kind is str:
            return encode(item)
        if item is None:
            return "null"
        if item is True:
            return "true"
        if item is False:
            return "false"
        if kind is int:
            return int.__repr__(item)
        if kind is float:
            return _float(item)
        if kind is dict or kind is list or kind is tuple:
            return None
        raise _Fallback  # subclasses (a str Enum), and what ``default`` turns into JSON

    def walk(item: Any, newline: str) -> None:
        """A container's text (its scalars written in line, to save a call each)."""
        inner = newline + pad
        if type(item) is dict:
            if not item:
                append("{}")
                return
            separator = "{" + inner
            for key, member in item.items():
                if type(key) is not str:
                    raise _Fallback
                text = leaf(member)
                if text is None:
                    append(separator + encode(key) + ": ")
                    walk(member, inner)
                else:
                    append(separator + encode(key) + ": " + text)
                separator = "," + inner
            append(newline + "}")
        else:
            if not item:
                append("[]")
                return
            separator = "[" + inner
            for member in item:
                text = leaf(member)
                if text is None:
                    append(separator)
                    walk(member, inner)
                else:
                    append(separator + text)
                separator = "," + inner
            append(newline + "]")

    try:
        text = leaf(value)
        if text is not None:
            return text
        walk(value, "\n")
    except (_Fallback, RecursionError):
        return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii, default=default)
    return "".join(parts)


__all__ = ["dumps_indented"]
