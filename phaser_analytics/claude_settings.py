"""Claude Code's settings files, and our ``SessionEnd`` hook in them (``hooks install``,
``uninstall``, ``status``; docs/capture.md).

A settings file belongs to the user and to Claude Code: we change only our own hook entry,
keep every other key and hook as it was (in order), write the new file atomically after
copying the old one to ``<name>.bak``, and recognise our entry by its command, so that
installing twice leaves one entry and uninstalling removes ours alone.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import AnalyticsError

SCOPES = ("user", "project", "local")
EVENT = "SessionEnd"
BACKUP_SUFFIX = ".bak"

#: A command that runs our ``capture``: ``phaser analytics capture``, a path to a
#: ``phaser`` script, ``phaser-analytics capture`` or ``python -m phaser_analytics …``.
_OURS = re.compile(
    r"(?:(?:^|[\s/\\'\"])phaser(?:-analytics)?(?:\.exe)?['\"]?|-m\s+phaser_analytics)"
    r"\s+(?:analytics\s+)?capture\b"
)


class SettingsError(AnalyticsError):
    """A settings file we must not (or cannot) change."""

    exit_code = 2


def claude_dir() -> Path:
    """The user's Claude Code directory: ``$CLAUDE_CONFIG_DIR``, else ``~/.claude``."""
    configured = os.environ.get("CLAUDE_CONFIG_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".claude"


def settings_path(scope: str, project_dir: Path) -> Path:
    """The settings file of ``scope``: the user's, the project's shared one, or the
    project's local (git-ignored) one."""
    if scope == "user":
        return claude_dir() / "settings.json"
    name = "settings.json" if scope == "project" else "settings.local.json"
    return Path(project_dir) / ".claude" / name


def checked_path(scope: str, project_dir: Path) -> Path:
    """:func:`settings_path`, refusing a project's ``.claude`` that leads outside the
    project (a cloned repository's symbolic link must not make us write elsewhere)."""
    path = settings_path(scope, project_dir)
    if scope == "user":
        return path
    project = Path(project_dir).resolve()
    parent = path.parent.resolve()
    if parent != project / ".claude" or path.is_symlink():
        raise SettingsError(
            f"{path} leads outside the project (a symbolic link); nothing was changed."
        )
    return path


def hook_command() -> str:
    """The command the hook runs: ``phaser analytics capture`` when that ``phaser`` on
    PATH is this installation's, else this installation's script by its full path (Claude
    Code runs hooks with the user's PATH, which may not hold this virtual environment)."""
    scripts = Path(sys.executable).parent
    own = scripts / ("phaser.exe" if os.name == "nt" else "phaser")
    on_path = shutil.which("phaser")
    if on_path and own.exists() and Path(on_path).resolve() == own.resolve():
        return "phaser analytics capture"
    if own.exists():
        return f"{shlex.quote(str(own))} analytics capture"
    return f"{shlex.quote(sys.executable)} -m phaser_analytics analytics capture"


def is_ours(command: object) -> bool:
    return isinstance(command, str) and _OURS.search(command) is not None


@dataclass
class SettingsFile:
    """A settings file as read: its text (``None`` when there is no file) and data."""

    path: Path
    text: str | None
    data: dict[str, Any]


def read_settings(path: Path) -> SettingsFile:
    """Read a settings file; a missing file is empty settings. Anything we could not write
    back faithfully is a :class:`SettingsError` and nothing is changed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return SettingsFile(path, None, {})
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise SettingsError(f"Cannot read {path} ({reason}). Nothing was changed.") from None
    if not text.strip():
        return SettingsFile(path, text, {})
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SettingsError(
            f"{path} is not valid JSON ({exc}); fix it first. Nothing was changed."
        ) from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path} must hold a JSON object. Nothing was changed.")
    hooks = data.get("hooks", {})
    if not isinstance(hooks, dict):
        raise SettingsError(f"{path}: 'hooks' must be an object. Nothing was changed.")
    groups = hooks.get(EVENT, [])
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise SettingsError(
            f"{path}: 'hooks.{EVENT}' must be a list of objects. Nothing was changed."
        )
    for group in groups:
        if not isinstance(group.get("hooks", []), list):
            raise SettingsError(
                f"{path}: every 'hooks.{EVENT}[].hooks' must be a list. Nothing was changed."
            )
    return SettingsFile(path, text, data)


def our_commands(data: dict[str, Any]) -> list[str]:
    """The commands of our hook entries in ``data``."""
    groups = data.get("hooks", {}).get(EVENT, []) if isinstance(data.get("hooks"), dict) else []
    found = []
    for group in groups if isinstance(groups, list) else []:
        hooks = group.get("hooks", []) if isinstance(group, dict) else []
        for hook in hooks if isinstance(hooks, list) else []:
            if isinstance(hook, dict) and is_ours(hook.get("command")):
                found.append(hook["command"])
    return found


def with_hook(data: dict[str, Any], command: str) -> dict[str, Any]:
    """``data`` with exactly one hook of ours, running ``command``: an entry of ours
    already there is kept (its command updated), others of ours are dropped."""
    new = copy.deepcopy(data)
    groups = new.setdefault("hooks", {}).setdefault(EVENT, [])
    kept = False
    for group in groups:
        hooks = group.get("hooks", [])
        remaining = []
        for hook in hooks:
            if isinstance(hook, dict) and is_ours(hook.get("command")):
                if kept:
                    continue
                hook["command"] = command
                kept = True
            remaining.append(hook)
        if "hooks" in group:
            group["hooks"] = remaining
    new["hooks"][EVENT] = [g for g in groups if g.get("hooks") != [] or "hooks" not in g]
    if not kept:
        new["hooks"][EVENT].append({"hooks": [{"type": "command", "command": command}]})
    return new


def without_hook(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without our hook entries; a group, the event's list or ``hooks`` that only
    ours filled is removed with them."""
    if not our_commands(data):
        return data
    new = copy.deepcopy(data)
    groups = new["hooks"][EVENT]
    for group in groups:
        group["hooks"] = [
            h for h in group["hooks"] if not (isinstance(h, dict) and is_ours(h.get("command")))
        ]
    groups[:] = [g for g in groups if g.get("hooks")]
    if not groups:
        del new["hooks"][EVENT]
    if not new["hooks"]:
        del new["hooks"]
    return new


def dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def unified_diff(settings: SettingsFile, new_text: str) -> str:
    old = settings.text or ""
    name = str(settings.path)
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=name if settings.text is not None else "/dev/null",
            tofile=name,
        )
    )


def write_settings(settings: SettingsFile, new_text: str) -> Path | None:
    """Back the old file up to ``<name>.bak``, then write ``new_text`` atomically, keeping
    the old file's permissions. A symbolic link (a dotfiles repository's) is written
    through, to its target. Returns the backup's path (``None`` when there was no file)."""
    from .stores.files import atomic_write_text

    target = settings.path.resolve() if settings.path.is_symlink() else settings.path
    target.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    mode = None
    if settings.text is not None:
        mode = target.stat().st_mode & 0o7777
        backup = target.with_name(target.name + BACKUP_SUFFIX)
        atomic_write_text(backup, settings.text)
        os.chmod(backup, mode)
    atomic_write_text(target, new_text)
    if mode is not None:
        os.chmod(target, mode)
    return backup
