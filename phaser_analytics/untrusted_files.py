"""Reading files a stranger may have written: a project's config and templates, reports,
transcripts (docs/storage.md, "Threat model").

Only regular files are read, never a device (``/dev/zero`` never ends) and never a FIFO
(opening one waits for a writer), and never more than a limit, whatever the file's size
said when it was opened. Lines are read in bounded pieces. Cheap to import: the CLI reads
the project's config on its start-up path.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path


class UnsafeFile(ValueError):
    """The file is not a regular file, or is larger than the limit; the message says which
    in words that fit after "the file …" or "… cannot be read:"."""


def read_regular_file(path: str | Path, limit: int, *, follow_symlinks: bool = True) -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes.

    Opened with ``O_NONBLOCK`` (a FIFO would block until a writer came; a regular file is
    unaffected) and, unless ``follow_symlinks``, ``O_NOFOLLOW``; checked with ``fstat`` on
    what was opened; read up to one byte past ``limit``. Raises :class:`UnsafeFile`, or the
    ``OSError`` of opening or reading it (``FileNotFoundError``, ``PermissionError``, …).
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(21, "Is a directory", str(path))
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile("is not a regular file (a device, FIFO or socket)")
        if info.st_size > limit:
            raise too_large(limit)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise too_large(limit)
    return data


def too_large(limit: int) -> UnsafeFile:
    size = f"{limit // (1024 * 1024)} MiB" if limit % (1024 * 1024) == 0 else f"{limit:,} bytes"
    return UnsafeFile(f"is larger than {size}, the limit")


def bounded_lines(path: str | Path, limit: int) -> Iterator[bytes]:
    """The lines of ``path`` (each with its newline, if any), each of at most ``limit``
    bytes: a longer line is read past in pieces of ``limit`` bytes and skipped, never held
    whole. ``OSError`` of opening or reading ends the lines quietly."""
    try:
        with open(path, "rb") as handle:
            while True:
                line = handle.readline(limit + 1)
                if not line:
                    return
                if len(line) > limit and not line.endswith(b"\n"):
                    while line and not line.endswith(b"\n"):
                        line = handle.readline(limit)
                    continue
                yield line
    except OSError:
        return
