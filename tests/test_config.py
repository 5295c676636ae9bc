"""Configuration files (spec §4.1): project beats global beats built-in; the command line
beats them all; a bad file is one error naming the file and the key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from storage_helpers import fill
from storage_helpers import no_fsync as no_fsync  # a fixture, used through pytestmark

from phaser_analytics.cli import cli
from phaser_analytics.config import (
    COMMAND_KEYS,
    KEYS_READ_ELSEWHERE,
    SHARED_KEYS,
    ConfigError,
    settings_for,
)

pytestmark = pytest.mark.usefixtures("no_fsync")


@pytest.fixture
def populated(project: Path) -> Path:
    fill(project, 12)
    return project


def _write(path: Path, analytics: Any, **other: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"analytics": analytics, **other}))
    return path


def _project_config(project: Path, analytics: Any, **other: Any) -> Path:
    return _write(project / ".phaser" / "config.json", analytics, **other)


def _global_config(home: Path, analytics: Any) -> Path:
    return _write(home / "config.json", analytics)


def _show(project: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["analytics", "show", "--project", str(project), *args])


def _executions_shown(result: Result) -> int:
    assert result.exit_code == 0, result.output
    return len(json.loads(result.output)["executions"])


def test_built_in_defaults_without_config(populated: Path) -> None:
    assert _executions_shown(_show(populated, "--format", "json")) == 5
    assert settings_for(populated, "show") == {}


def test_project_config_sets_format_and_last(populated: Path) -> None:
    _project_config(populated, {"show": {"format": "json", "last": 7}})
    assert _executions_shown(_show(populated)) == 7


def test_global_config_applies_everywhere(populated: Path, isolated_home: Path) -> None:
    _global_config(isolated_home, {"show": {"format": "json", "last": 3}})
    assert _executions_shown(_show(populated)) == 3


def test_project_beats_global_key_by_key(populated: Path, isolated_home: Path) -> None:
    _global_config(isolated_home, {"show": {"format": "json", "last": 3}})
    _project_config(populated, {"show": {"last": 9}})
    # last from the project, format still from the global file
    assert _executions_shown(_show(populated)) == 9


def test_command_line_beats_config(populated: Path) -> None:
    _project_config(populated, {"show": {"format": "markdown", "last": 9}})
    assert _executions_shown(_show(populated, "--last", "2", "--format", "json")) == 2
    # An explicit value equal to the built-in default still wins over the config.
    assert _executions_shown(_show(populated, "--last", "5", "--format", "json")) == 5


def test_export_format_from_config(populated: Path) -> None:
    _project_config(populated, {"export": {"format": "csv"}})
    result = CliRunner().invoke(cli, ["analytics", "export", "--project", str(populated)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("execution_id") or "," in result.output
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.output)


def test_other_phaser_settings_are_left_alone(populated: Path) -> None:
    _project_config(populated, {"show": {"last": 4, "format": "json"}}, hooks={"pre": "x"})
    assert _executions_shown(_show(populated)) == 4


def test_keys_other_modules_read_are_accepted(populated: Path) -> None:
    prices = {"claude-x": {"input": 1, "output": 2}}
    _project_config(populated, {"pricing": prices, "show": {"format": "json", "last": 2}})
    assert _executions_shown(_show(populated)) == 2


def test_badge_thresholds_apply_highest_first_in_any_order(populated: Path) -> None:
    """Every execution succeeded: 100 % is at least 95 and at least 50, and the highest
    threshold it reaches gives the colour, whichever order the config lists them in."""
    for thresholds in ([[50, "yellow"], [95, "#00ff00"]], [[95, "#00ff00"], [50, "yellow"]]):
        _project_config(populated, {"badge": {"thresholds": thresholds}})
        result = CliRunner().invoke(cli, ["analytics", "badge", "--project", str(populated)])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["color"] == "#00ff00"


def test_badge_colour_follows_configured_thresholds(populated: Path) -> None:
    _project_config(populated, {"badge": {"thresholds": [[100, "purple"], [0, "black"]]}})
    result = CliRunner().invoke(cli, ["analytics", "badge", "--project", str(populated)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["color"] == "purple"


def test_badge_label_and_metric_from_config(populated: Path) -> None:
    _project_config(populated, {"badge": {"label": "team audits", "metric": "executions"}})
    result = CliRunner().invoke(cli, ["analytics", "badge", "--project", str(populated)])
    badge_json = json.loads(result.output)
    assert badge_json["label"] == "team audits"
    assert badge_json["message"] == "12"


def test_template_path_is_relative_to_the_project(populated: Path) -> None:
    template = populated / ".phaser" / "templates" / "team.md.j2"
    template.parent.mkdir(parents=True)
    template.write_text("Team report: {{ stats.total_executions }} runs\n")
    _project_config(populated, {"template": ".phaser/templates/team.md.j2"})
    settings = settings_for(populated, "export")
    assert settings["template"].value == template
    result = CliRunner().invoke(
        cli, ["analytics", "export", "--format", "markdown", "--project", str(populated)]
    )
    assert result.exit_code == 0, result.output
    assert "Team report: 12 runs" in result.output


def test_global_template_path_is_relative_to_phaser_home(
    populated: Path, isolated_home: Path
) -> None:
    (isolated_home / "mine.md.j2").write_text("x")
    _global_config(isolated_home, {"show": {"template": "mine.md.j2"}})
    assert settings_for(populated, "show")["template"].value == isolated_home / "mine.md.j2"


def test_a_bare_name_in_the_project_config_is_looked_up_like_template_name(
    populated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``"template": "team.md.j2"`` finds .phaser/templates/team.md.j2, as ``--template
    team.md.j2`` does; a file of that name in the working directory (the cloned
    repository's root) is never taken instead."""
    templates = populated / ".phaser" / "templates"
    templates.mkdir(parents=True)
    (templates / "team.md.j2").write_text("Team report: {{ stats.total_executions }} runs\n")
    (populated / "team.md.j2").write_text("{% include '/etc/passwd' %}")
    monkeypatch.chdir(populated)
    _project_config(populated, {"export": {"template": "team.md.j2"}})
    result = CliRunner().invoke(
        cli, ["analytics", "export", "--format", "markdown", "--project", str(populated)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Team report: 12 runs"


def test_a_bare_name_in_the_user_config_finds_phaser_home_templates(
    populated: Path, isolated_home: Path
) -> None:
    (isolated_home / "templates").mkdir()
    (isolated_home / "templates" / "digest.md.j2").write_text("Digest of {{ command }}\n")
    _global_config(isolated_home, {"show": {"template": "digest.md.j2"}})
    result = CliRunner().invoke(
        cli, ["analytics", "show", "--format", "markdown", "--project", str(populated)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Digest of show"


def test_a_configured_name_found_nowhere_is_one_line(populated: Path) -> None:
    _project_config(populated, {"show": {"template": "nowhere.md.j2"}})
    result = CliRunner().invoke(
        cli, ["analytics", "show", "--format", "markdown", "--project", str(populated)]
    )
    assert result.exit_code != 0
    assert "Template not found: nowhere.md.j2" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_command_template_beats_the_shared_one(populated: Path) -> None:
    templates = populated / ".phaser" / "templates"
    templates.mkdir(parents=True)
    for name in ("shared.j2", "show.j2"):
        (templates / name).write_text("x")
    shared, show = ".phaser/templates/shared.j2", ".phaser/templates/show.j2"
    _project_config(populated, {"template": shared, "show": {"template": show}})
    assert settings_for(populated, "show")["template"].value.name == "show.j2"
    assert settings_for(populated, "export")["template"].value.name == "shared.j2"


# -- bad files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("analytics", "key", "words"),
    [
        ({"show": {"last": 0}}, "analytics.show.last", "at least 1"),
        ({"show": {"last": "ten"}}, "analytics.show.last", "whole number"),
        ({"show": {"last": True}}, "analytics.show.last", "whole number"),
        ({"show": {"lats": 3}}, "analytics.show.lats", "unknown key"),
        ({"shwo": {}}, "analytics.shwo", "unknown key"),
        ({"show": {"format": ""}}, "analytics.show.format", "non-empty string"),
        ({"show": []}, "analytics.show", "must be an object"),
        ({"badge": {"thresholds": "90:green"}}, "analytics.badge.thresholds", "pairs"),
        ({"badge": {"thresholds": [[90]]}}, "analytics.badge.thresholds", "not a pair"),
        ({"badge": {"thresholds": [[120, "red"]]}}, "analytics.badge.thresholds", "0 to 100"),
        ({"badge": {"thresholds": [["x", "red"]]}}, "analytics.badge.thresholds", "percentage"),
        ({"badge": {"thresholds": [[9, "r d"]]}}, "analytics.badge.thresholds", "colour"),
        ({"template": ".phaser/templates/nowhere.j2"}, "analytics.template", "not a file"),
        ({"template": "reports/nowhere.j2"}, "analytics.template", "outside .phaser/templates/"),
        ({"export": {"template": 3}}, "analytics.export.template", "template file or name"),
    ],
)
def test_bad_value_names_the_file_and_key(
    populated: Path, analytics: Any, key: str, words: str
) -> None:
    path = _project_config(populated, analytics)
    result = _show(populated)
    assert result.exit_code == 2
    line = result.output.strip()
    assert line.startswith(f"Error: Config file {path}: '{key}'") or (
        line.startswith(f"Error: Config file {path}: unknown key '{key}'")
    )
    assert words in line
    assert len(result.output.strip().splitlines()) == 1


def test_format_no_renderer_offers_is_an_error(populated: Path) -> None:
    path = _project_config(populated, {"show": {"format": "xml"}})
    result = _show(populated)
    assert result.exit_code == 2
    assert f"Config file {path}: 'analytics.show.format' is invalid" in result.output
    assert "'xml'" in result.output


def test_metric_outside_the_choices_is_an_error(populated: Path) -> None:
    _project_config(populated, {"badge": {"metric": "vibes"}})
    result = CliRunner().invoke(cli, ["analytics", "badge", "--project", str(populated)])
    assert result.exit_code == 2
    assert "'analytics.badge.metric' is invalid" in result.output


@pytest.mark.parametrize(
    ("content", "words"),
    [("{oops", "is not valid JSON"), ("[1]", "must hold a JSON object")],
)
def test_unreadable_file_is_named(populated: Path, content: str, words: str) -> None:
    path = populated / ".phaser" / "config.json"
    path.write_text(content)
    result = _show(populated)
    assert result.exit_code == 2
    assert f"Error: Config file {path} {words}" in result.output


def test_analytics_section_must_be_an_object(populated: Path) -> None:
    path = _project_config(populated, "fast please")
    result = _show(populated)
    assert f"Config file {path}: 'analytics' must be an object" in result.output


def test_bad_global_file_is_named(populated: Path, isolated_home: Path) -> None:
    path = _global_config(isolated_home, {"export": {"fromat": "csv"}})
    with pytest.raises(ConfigError, match=str(path)):
        settings_for(populated, "export")


def test_config_that_is_a_directory_is_an_error(populated: Path) -> None:
    (populated / ".phaser" / "config.json").mkdir()
    result = _show(populated)
    assert result.exit_code == 2
    assert "cannot be read" in result.output


def test_every_config_key_is_documented() -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "storage.md").read_text()
    keys = [
        f"analytics.{command}.{key}" for command, table in COMMAND_KEYS.items() for key in table
    ]
    keys += [f"analytics.{key}" for key in (*SHARED_KEYS, *KEYS_READ_ELSEWHERE)]
    missing = [key for key in keys if f"`{key}`" not in docs]
    assert missing == []
