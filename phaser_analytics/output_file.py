"""Writing ``--output FILE`` (``export``, ``badge``): one implementation for every command.

- A new regular file is created atomically (a temporary file in the same directory, renamed
  over the name when complete) with the mode the umask gives any new file (0644 under the
  usual 022), so a published badge or CI artifact is readable where it is meant to be.
- An existing regular file is replaced atomically and keeps its mode (and, when we may, its
  owner and group).
- A symbolic link is written through: its target is replaced (or created), the link stays.
- Anything that is not a regular file (``/dev/stdout``, a FIFO, ``>(cat)``'s ``/dev/fd/63``,
  a terminal) is opened and written directly, never renamed over.

The output path comes from the user's command line, which is trusted (docs/storage.md), so
unlike the store's files (:mod:`phaser_analytics.stores.files`, whose file mode and
temporary names this shares) a link is followed.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from .errors import AnalyticsError
from .stores.files import make_temp, new_file_mode


def _cannot(target: Path, exc: OSError) -> AnalyticsError:
    return AnalyticsError(f"Cannot write the output file {target}: {exc.strerror or exc}.")


@contextlib.contextmanager
def open_output(path: Path) -> Iterator[TextIO]:
    """A text handle (UTF-8, newlines as written) whose content becomes ``path``'s when the
    block ends without an exception; on an exception a regular file is left as it was."""
    target = path.expanduser()
    try:
        existing = os.stat(target)  # follows a symlink to what it points at
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise _cannot(target, exc) from exc

    if existing is not None and not stat.S_ISREG(existing.st_mode):
        if stat.S_ISDIR(existing.st_mode):
            raise AnalyticsError(f"Cannot write the output file {target}: it is a directory.")
        try:
            handle = open(target, "w", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as exc:
            raise _cannot(target, exc) from exc
        with handle:
            yield handle
        return

    # A regular file, or none yet: write a sibling of the real file (through any symlinks)
    # and rename it over the real file, so the link stays a link.
    real = Path(os.path.realpath(target))
    try:
        fd, tmp = make_temp(real)
    except OSError as exc:
        raise _cannot(target, exc) from exc
    try:
        if existing is not None:
            os.fchmod(fd, stat.S_IMODE(existing.st_mode))
            if (existing.st_uid, existing.st_gid) != (os.geteuid(), os.getegid()):
                with contextlib.suppress(OSError):  # allowed only to root
                    os.fchown(fd, existing.st_uid, existing.st_gid)
        else:
            os.fchmod(fd, new_file_mode())
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
