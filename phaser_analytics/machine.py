"""The machine or CI runner an import runs on, which every execution it stores carries in
``extra["imported_from"]`` (and a PostgreSQL store in its ``imported_from`` column): in a
team's shared history, where each run came from."""

from __future__ import annotations

import os

#: The record's ``extra`` key.
EXTRA_KEY = "imported_from"
#: Longest name kept (a runner description can be long).
MAX_LENGTH = 200

#: CI systems and the variable naming their runner, as ``ci:runner``.
_RUNNERS = (
    ("github-actions", "RUNNER_NAME"),
    ("gitlab-ci", "CI_RUNNER_DESCRIPTION"),
    ("buildkite", "BUILDKITE_AGENT_NAME"),
    ("jenkins", "NODE_NAME"),
)


def machine_name() -> str:
    """``$PHASER_MACHINE``, else the CI's runner name (GitHub Actions, GitLab CI,
    Buildkite, Jenkins), else the host name."""
    env = os.environ
    explicit = env.get("PHASER_MACHINE", "").strip()
    if explicit:
        return explicit[:MAX_LENGTH]
    for ci, variable in _RUNNERS:
        value = env.get(variable, "").strip()
        if value:
            return f"{ci}:{value}"[:MAX_LENGTH]
    if hasattr(os, "uname"):  # the host name, without importing socket (~3 ms per import)
        return os.uname().nodename or "unknown"
    import socket

    return socket.gethostname() or "unknown"


def imported_from(extra: object) -> str | None:
    """The machine a record's ``extra`` names, if it names one as text."""
    value = extra.get(EXTRA_KEY) if isinstance(extra, dict) else None
    return value if isinstance(value, str) and value else None
