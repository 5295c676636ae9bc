"""Defaults from configuration files (spec §4.1): the project's beat the user's, which beat
the built-in ones, and anything given on the command line beats them all.

Files: ``{project}/.phaser/config.json`` and ``$PHASER_HOME/config.json``. Both belong to
Phaser as a whole, so our keys live under ``"analytics"`` and other top-level keys are left
to the rest of Phaser::

    {
      "analytics": {
        "template": ".phaser/templates/team-report.md.j2",
        "show":   {"format": "table", "last": 10},
        "export": {"format": "markdown"},
        "badge":  {"thresholds": [[90, "brightgreen"], [70, "yellow"], [0, "red"]]}
      }
    }

A file that cannot be read, a key we do not know or a value of the wrong kind is one error
naming the file and the key (``ConfigError``, exit status 2): a typo must not be ignored.
The project's file is a stranger's input in a cloned repository: a template it names must
lie inside the project's ``.phaser/templates/`` (docs/templates.md).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from .errors import AnalyticsError

CONFIG_NAME = "config.json"
#: The largest config file read (a config is a few hundred bytes).
CONFIG_MAX_BYTES = 1024 * 1024
SECTION = "analytics"

#: For each command, its config keys and the parameter each sets (``None``: not a command
#: line option; it goes to the render view's options under the key's name).
COMMAND_KEYS: dict[str, dict[str, str | None]] = {
    "show": {"format": "output_format", "last": "limit", "template": "template"},
    "export": {"format": "output_format", "template": "template"},
    "badge": {
        "format": "output_format",
        "label": "label",
        "metric": "metric",
        "thresholds": None,
    },
}
#: Keys directly under ``"analytics"``, for every command that has them.
SHARED_KEYS = ("template",)
#: Keys under ``"analytics"`` read and checked by their own functions (with
#: :func:`read_config_file`): ``pricing`` (model prices, :mod:`phaser_analytics.pricing`),
#: ``tz`` (the time zone of dates, :func:`configured_zone`), ``notify`` (the webhook of
#: :mod:`phaser_analytics.default_plugins.notifier`), ``store`` (the store URL,
#: :func:`store_setting`) and ``postgres`` (the PostgreSQL store's timeouts,
#: :mod:`phaser_analytics.stores.postgres`).
KEYS_READ_ELSEWHERE = ("pricing", "tz", "notify", "store", "postgres")


class ConfigError(AnalyticsError):
    """A configuration file is unreadable or holds a bad key or value."""

    exit_code = 2


class Setting:
    """One configured value, and where it came from (for error messages). A plain class:
    a frozen dataclass costs every command ~0.6 ms to define (docs/performance.md,
    "Start-up")."""

    __slots__ = ("key", "path", "value")

    def __init__(self, value: Any, path: Path, key: str) -> None:
        self.value = value
        self.path = path
        self.key = key

    def __repr__(self) -> str:
        return f"Setting(value={self.value!r}, path={self.path!r}, key={self.key!r})"

    def error(self, problem: str) -> ConfigError:
        return ConfigError(f"Config file {self.path}: '{self.key}' {problem}.")


def config_files(project_dir: Path) -> list[tuple[Path, Path]]:
    """``(config file, directory its relative paths start from)``, weakest first."""
    from .home import phaser_home

    home = phaser_home()
    project = Path(project_dir)
    return [(home / CONFIG_NAME, home), (project / ".phaser" / CONFIG_NAME, project)]


def read_config_file(path: Path) -> dict[str, Any]:
    """The ``"analytics"`` section of ``path``; empty when the file or section is absent."""
    from .untrusted_files import UnsafeFile, read_regular_file

    try:
        # A project's config is a stranger's file: a regular file, bounded, never waited on.
        text = read_regular_file(path, CONFIG_MAX_BYTES).decode("utf-8")
    except FileNotFoundError:
        return {}
    except UnsafeFile as exc:
        raise ConfigError(f"Config file {path} cannot be read (it {exc}).") from exc
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"Config file {path} cannot be read ({reason}).") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"Config file {path} is not valid JSON ({exc}).") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"Config file {path} must hold a JSON object.")
    section = data.get(SECTION, {})
    if not isinstance(section, dict):
        raise ConfigError(f"Config file {path}: '{SECTION}' must be an object.")
    return section


def file_settings(
    path: Path, base: Path, *, project: Path | None = None
) -> dict[str, dict[str, Setting]]:
    """Every setting of one file, checked, per command (shared keys copied into each).

    ``project``: the file is that project's own config, a stranger's input in a cloned
    repository, so a template it names must lie inside the project's ``.phaser/templates/``.
    """
    section = read_config_file(path)
    known = set(COMMAND_KEYS) | set(SHARED_KEYS) | set(KEYS_READ_ELSEWHERE)
    for key in section:
        if key not in known:
            raise ConfigError(
                f"Config file {path}: unknown key '{SECTION}.{key}' "
                f"(known: {', '.join(sorted(known))})."
            )
    shared = {
        key: _checked(Setting(section[key], path, f"{SECTION}.{key}"), key, base, project)
        for key in SHARED_KEYS
        if key in section
    }
    result: dict[str, dict[str, Setting]] = {}
    for command, keys in COMMAND_KEYS.items():
        table = section.get(command, {})
        if not isinstance(table, dict):
            raise ConfigError(f"Config file {path}: '{SECTION}.{command}' must be an object.")
        settings = {k: v for k, v in shared.items() if k in keys}
        for key, value in table.items():
            dotted = f"{SECTION}.{command}.{key}"
            if key not in keys:
                raise ConfigError(
                    f"Config file {path}: unknown key '{dotted}' (known: {', '.join(keys)})."
                )
            settings[key] = _checked(Setting(value, path, dotted), key, base, project)
        result[command] = settings
    return result


def store_setting(
    project_dir: Path, *, of_project: bool = True
) -> tuple[str, Path, bool] | None:
    """``analytics.store``: ``(url, config file, trusted)`` from the project's config
    (unless ``of_project`` is false), else the user's (``trusted``: from
    ``$PHASER_HOME``), else ``None``."""
    files = config_files(project_dir)
    for (path, _base), trusted in zip(reversed(files), (False, True), strict=True):
        if not trusted and not of_project:
            continue
        if not path.is_file():  # an unusable $PHASER_HOME only warns elsewhere
            continue
        value = read_config_file(path).get("store")
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(
                f"Config file {path}: '{SECTION}.store' must be a store URL or path, "
                f"not {json.dumps(value)}."
            )
        return value.strip(), path, trusted
    return None


def settings_for(project_dir: Path, command: str) -> dict[str, Setting]:
    """The configured defaults of ``command``: the project's over the user's."""
    merged: dict[str, Setting] = {}
    user, project = config_files(project_dir)
    merged.update(file_settings(*user).get(command, {}))
    merged.update(file_settings(*project, project=Path(project_dir)).get(command, {}))
    return merged


# -- checking values --------------------------------------------------------------------------

_COLOUR = re.compile(r"#?[0-9A-Za-z]+")


def _checked(setting: Setting, key: str, base: Path, project: Path | None = None) -> Setting:
    """``setting`` with its value checked (and a template path made absolute)."""
    value = setting.value
    if key in ("format", "label", "metric"):
        if not isinstance(value, str) or not value.strip():
            raise setting.error(f"must be a non-empty string, not {json.dumps(value)}")
        return setting
    if key == "last":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise setting.error(f"must be a whole number of at least 1, not {json.dumps(value)}")
        return setting
    if key == "template":
        return _checked_template(setting, base, project)
    if key == "thresholds":
        return Setting(_checked_thresholds(setting), setting.path, setting.key)
    raise AssertionError(f"no check for {key}")  # pragma: no cover


def _checked_template(setting: Setting, base: Path, project: Path | None) -> Setting:
    """A template file, or a bare name (``weekly-digest.md.j2``) looked up on the template
    search path as ``--template NAME`` is: the project's config gives a name whenever it
    has no directory part, the user's when no file of that name is beside the config."""
    from .templating import TemplateName, is_bare_name

    if not isinstance(setting.value, str) or not setting.value.strip():
        raise setting.error(f"must be a template file or name, not {json.dumps(setting.value)}")
    bare = is_bare_name(setting.value)
    if bare and (project is not None or not (base / setting.value).is_file()):
        return Setting(TemplateName(setting.value), setting.path, setting.key)
    if project is not None:
        return _checked_project_template(setting, project)
    path = Path(setting.value).expanduser()
    if not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise setting.error(f"names {path}, which is not a file")
    return Setting(path, setting.path, setting.key)


def _checked_project_template(setting: Setting, project: Path) -> Setting:
    """A template named by the project's own config: a relative path, from the project
    directory, to a regular file whose real path is inside the project's
    ``.phaser/templates/`` (docs/templates.md, "What a project's config may do")."""
    from .templating import confinement_root, is_inside, project_templates_dir

    text = setting.value
    rule = "a project's config may only name a template inside its .phaser/templates/"
    if text.startswith("~") or Path(text).is_absolute() or os.path.isabs(text):
        raise setting.error(f"names {text}, an absolute path; {rule}")
    path = Path(os.path.abspath(project / text))
    root = confinement_root(project)
    if not is_inside(path, project_templates_dir(project)) or root is None:
        raise setting.error(f"names {text}, which is outside .phaser/templates/; {rule}")
    if not is_inside(os.path.realpath(path), root):
        raise setting.error(f"names {text}, a link leading outside .phaser/templates/; {rule}")
    if not path.is_file():
        raise setting.error(f"names {path}, which is not a file")
    return Setting(path, setting.path, setting.key)


def _checked_thresholds(setting: Setting) -> list[list[Any]]:
    """``[[min_percent, colour], …]``, highest first."""
    value = setting.value
    shape = 'a list of [min_percent, colour] pairs, e.g. [[90, "brightgreen"], [0, "red"]]'
    if not isinstance(value, list) or not value:
        raise setting.error(f"must be {shape}")
    pairs = []
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2):
            raise setting.error(f"must be {shape}; {json.dumps(pair)} is not a pair")
        minimum, colour = pair
        if isinstance(minimum, bool) or not isinstance(minimum, (int, float)):
            raise setting.error(f"has {json.dumps(minimum)} where a percentage belongs")
        if not 0 <= minimum <= 100:
            raise setting.error(f"has {minimum}, outside 0 to 100")
        if not isinstance(colour, str) or not _COLOUR.fullmatch(colour):
            raise setting.error(f"has {json.dumps(colour)} where a colour name or #hex belongs")
        pairs.append([minimum, colour])
    return sorted(pairs, key=lambda pair: pair[0], reverse=True)


def configured_zone(project_dir: Path) -> Any:
    """The time zone ``analytics.tz`` sets (the project's over the user's); ``None`` (the
    machine's local time) when neither does or it says ``"local"``."""
    from .dates import UnknownTimeZoneError, resolve_zone

    chosen: Setting | None = None
    for path, _ in config_files(project_dir):
        section = read_config_file(path)
        if "tz" in section:
            chosen = Setting(section["tz"], path, f"{SECTION}.tz")
    if chosen is None:
        return None
    if not isinstance(chosen.value, str) or not chosen.value.strip():
        raise chosen.error(
            f"must be a time zone name such as Europe/Berlin, not {json.dumps(chosen.value)}"
        )
    try:
        return resolve_zone(chosen.value)
    except UnknownTimeZoneError:
        raise chosen.error(f"names an unknown time zone, {json.dumps(chosen.value)}") from None
