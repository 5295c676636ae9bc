"""The installed distributions' entry points, read as ``importlib.metadata`` reads them.

Every command loads the plugins, so finding them must be cheap: :func:`entry_points` reads
the ``entry_points.txt`` of each ``*.dist-info`` and ``*.egg-info`` directory on
``sys.path`` itself, without importing ``importlib.metadata`` (which imports ``email``,
``zipfile`` and ``csv`` and parses every distribution's metadata: about 20 ms of every
command; docs/performance.md, "The plugin host"). Where that would not find what
``importlib.metadata`` finds (a zip or an egg on ``sys.path``, another distribution finder
on ``sys.meta_path``), ``importlib.metadata`` itself is asked.
"""

from __future__ import annotations

import functools
import importlib
import importlib.machinery
import os
import re
import sys
from collections.abc import Callable
from typing import Any

from ..errors import stderr_warning

# Plain classes, not dataclasses: every command loads this module, and defining a
# dataclass costs about half a millisecond.


class Distribution:
    """The name and version of an installed distribution, from its metadata headers."""

    __slots__ = ("name", "version")

    def __init__(self, name: str | None, version: str | None) -> None:
        self.name = name
        self.version = version

    def __repr__(self) -> str:
        return f"Distribution(name={self.name!r}, version={self.version!r})"


class EntryPoint:
    """An entry point as ``importlib.metadata.EntryPoint`` has it: ``name = value`` in a
    group of a distribution's ``entry_points.txt``, loaded the same way.

    A line of the group without ``=`` (a broken ``entry_points.txt``) is an entry point
    with an empty ``name`` and the line as its ``value``, for the host to report as that
    distribution's problem instead of failing every command."""

    __slots__ = ("dist", "group", "name", "value")

    def __init__(self, name: str, value: str, group: str, dist: Distribution | None = None) -> None:
        self.name = name
        self.value = value
        self.group = group
        self.dist = dist

    def __repr__(self) -> str:
        return f"EntryPoint(name={self.name!r}, value={self.value!r}, group={self.group!r})"

    def load(self) -> Any:
        """The module named by ``value``, or the object ``module:attr.attr`` names."""
        module_name, colon, attr = self.value.partition(":")
        if not all(part.isidentifier() for part in f"{module_name}.{attr}".split(".") if part) or (
            colon and not attr
        ):
            # Spaces, [extras] or something invalid: importlib.metadata's own pattern.
            match = re.match(_ENTRY_POINT_VALUE, self.value)
            if match is None:
                raise ValueError(f"invalid entry point {self.name} = {self.value!r}")
            module_name, attr = match.group("module"), match.group("attr") or ""
        module = importlib.import_module(module_name)
        return functools.reduce(getattr, filter(None, attr.split(".")), module)


#: ``importlib.metadata.EntryPoint.pattern``.
_ENTRY_POINT_VALUE = r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$"
_INFO_SUFFIXES = (".dist-info", ".egg-info")


def entry_points(group: str, warn: Callable[[str], None] = stderr_warning) -> list[Any]:
    """The entry points of ``group`` of every installed distribution, as
    ``importlib.metadata.entry_points(group=group)`` finds them: ``sys.path`` order, the
    first distribution of a name winning. A distribution whose metadata cannot be read
    (not UTF-8, unreadable) is skipped with one warning through ``warn``."""
    found = _read_entry_points(group, warn)
    if found is not None:
        return found
    from importlib import metadata

    return list(metadata.entry_points(group=group))


def _read_entry_points(group: str, warn: Callable[[str], None]) -> list[EntryPoint] | None:
    """:func:`entry_points` from the ``*.dist-info`` and ``*.egg-info`` directories of
    ``sys.path``; ``None`` when that would not find what ``importlib.metadata`` finds."""
    path_finder = importlib.machinery.PathFinder
    for finder in sys.meta_path:
        if finder is not path_finder and hasattr(finder, "find_distributions"):
            return None
    seen: set[str] = set()
    found: list[EntryPoint] = []
    for entry in sys.path:
        if not isinstance(entry, str):
            return None
        root = entry or "."
        if os.path.basename(root).lower().endswith(".egg"):
            return None  # an egg's EGG-INFO
        try:
            children = os.listdir(root)
        except NotADirectoryError:
            return None  # a zip file
        except OSError:
            continue
        for child in children:
            low = child.lower()
            if not low.endswith(_INFO_SUFFIXES):
                continue
            name = _normalize_dist_name(low.rpartition(".")[0].partition("-")[0])
            if name in seen:
                continue
            seen.add(name)
            info = os.path.join(root, child)
            try:
                text = _read_text(info, "entry_points.txt")
                if text is None or f"[{group}]" not in text:
                    continue
                pairs = _section_pairs(text, group)
                dist = _read_distribution(info) if pairs else None
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or type(exc).__name__
                warn(
                    f"cannot read the metadata of {info} ({reason}); the plugins "
                    "it declares, if any, are skipped."
                )
                continue
            found.extend(EntryPoint(n, v, group, dist) for n, v in pairs)
    return found


def _normalize_dist_name(name: str) -> str:
    """``importlib.metadata.Prepared.normalize``: PEP 503, with dashes as underscores."""
    # Without ``re``: its first use compiles the pattern at every command's start.
    name = name.lower().replace("-", "_").replace(".", "_")
    while "__" in name:
        name = name.replace("__", "_")
    return name


def _read_text(directory: str, name: str) -> str | None:
    """The UTF-8 text of ``directory/name``; ``None`` when there is no such file."""
    try:
        with open(os.path.join(directory, name), encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _section_pairs(text: str, group: str) -> list[tuple[str, str]]:
    """``name = value`` pairs of ``[group]``, read as ``importlib.metadata.Sectioned`` does;
    a line without ``=`` is ``("", line)`` (see :class:`EntryPoint`)."""
    pairs = []
    section = None
    for line in map(str.strip, text.splitlines()):
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
        elif section == group:
            name, equals, value = line.partition("=")
            pairs.append((name.strip(), value.strip()) if equals else ("", line))
    return pairs


def _read_distribution(info: str) -> Distribution:
    """Name and version from the metadata's headers (``METADATA``, else ``PKG-INFO``)."""
    text = _read_text(info, "METADATA") or _read_text(info, "PKG-INFO") or ""
    headers: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, colon, value = line.partition(":")
        if colon and not key[:1].isspace():
            headers.setdefault(key.strip().lower(), value.lstrip(" \t").rstrip("\r\n"))
    return Distribution(headers.get("name"), headers.get("version"))
