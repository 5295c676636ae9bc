"""Imports that live as long as a console-script process: the cyclic garbage collector is
told to leave them alone (docs/performance.md, "Exit" and "Long-lived imports").

Every object an import makes (functions, classes, their dicts, a driver's type adapters)
is alive until the process ends, yet the collector walks each of them a few times while it
ages from the youngest generation to the oldest, and every full collection walks them
again: psycopg's import alone makes ~30,000 such objects and spent ~10 ms of its CPU in
collections. In a ``phaser`` process (the console scripts mark it with
:func:`mark_console_process`), :func:`long_lived_import` turns the collector off while
such an import runs and then freezes what is alive (``gc.freeze``: moved to a generation
no collection walks), which is what the scripts already do when the command ends.

Only there: a program that imports the package, or calls ``cli.main`` itself (the tests'
CliRunner), keeps its collector as it was, since freezing would keep whatever of its own
objects were alive at that moment from ever being collected.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_console = False


def mark_console_process() -> None:
    """This process is a ``phaser`` console script: it ends when its one command ends."""
    global _console
    _console = True


@contextmanager
def long_lived_import() -> Iterator[None]:
    """Around a heavy import in a console-script process: no collection while it runs,
    then everything alive frozen. Elsewhere it does nothing."""
    if not _console:
        yield
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
