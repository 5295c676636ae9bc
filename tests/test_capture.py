"""``hooks install|uninstall|status`` and ``capture``: the Claude Code SessionEnd hook, run
as Claude Code runs it (the installed command, through a shell, the JSON on stdin)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from report_factory import write_report

from phaser_analytics import capture as capturing
from phaser_analytics.cli.main import cli

UTC = timezone.utc


def run_cli(runner, *args, input=None):
    return runner.invoke(cli, ["analytics", *args], input=input, catch_exceptions=False)


def claude_dir() -> Path:
    return Path(os.environ["CLAUDE_CONFIG_DIR"])


# -- hooks install / uninstall / status -----------------------------------------------------

OTHER = {
    "model": "opus",
    "permissions": {"allow": ["Bash(ls:*)"]},
    "hooks": {
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "echo pre"}]}],
        "SessionEnd": [{"hooks": [{"type": "command", "command": "~/bin/save-notes.sh"}]}],
    },
}


def write_settings(data) -> Path:
    path = claude_dir() / "settings.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def session_end_commands(path: Path) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [h["command"] for g in data["hooks"]["SessionEnd"] for h in g["hooks"]]


def test_install_keeps_every_other_key_and_hook_and_backs_up(runner):
    path = write_settings(OTHER)
    before = path.read_text(encoding="utf-8")
    result = run_cli(runner, "hooks", "install")
    assert result.exit_code == 0, result.output
    assert f"Installed the SessionEnd hook in {path}" in result.output
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["model"] == "opus" and data["permissions"] == OTHER["permissions"]
    assert data["hooks"]["PreToolUse"] == OTHER["hooks"]["PreToolUse"]
    commands = session_end_commands(path)
    assert commands[0] == "~/bin/save-notes.sh"
    assert len(commands) == 2 and commands[1].endswith("analytics capture")
    assert (path.parent / "settings.json.bak").read_text(encoding="utf-8") == before


def test_install_twice_leaves_one_entry_and_changes_nothing(runner):
    path = write_settings(OTHER)
    run_cli(runner, "hooks", "install")
    after_first = path.read_text(encoding="utf-8")
    result = run_cli(runner, "hooks", "install")
    assert "already installed" in result.output
    assert path.read_text(encoding="utf-8") == after_first
    assert sum(c.endswith("analytics capture") for c in session_end_commands(path)) == 1


def test_install_recognises_an_older_entry_of_ours_by_its_command(runner):
    data = json.loads(json.dumps(OTHER))
    data["hooks"]["SessionEnd"].append(
        {"hooks": [{"type": "command", "command": "/old/venv/bin/phaser analytics capture"}]}
    )
    path = write_settings(data)
    run_cli(runner, "hooks", "install")
    ours = [c for c in session_end_commands(path) if c.endswith("analytics capture")]
    assert len(ours) == 1 and not ours[0].startswith("/old/")


def test_dry_run_prints_a_diff_and_writes_nothing(runner):
    path = write_settings(OTHER)
    before = path.read_bytes()
    result = run_cli(runner, "hooks", "install", "--dry-run")
    assert result.exit_code == 0
    assert result.output.startswith(f"--- {path}\n+++ {path}\n")
    assert '+            "command": ' in result.output and "analytics capture" in result.output
    assert path.read_bytes() == before
    assert not (path.parent / "settings.json.bak").exists()


def test_install_creates_a_missing_settings_file(runner, project):
    result = run_cli(runner, "hooks", "install", "--scope", "local", "--project", str(project))
    assert result.exit_code == 0, result.output
    path = project / ".claude" / "settings.local.json"
    assert len(session_end_commands(path)) == 1
    assert not (project / ".claude" / "settings.local.json.bak").exists()


def test_uninstall_removes_only_ours(runner):
    path = write_settings(OTHER)
    run_cli(runner, "hooks", "install")
    result = run_cli(runner, "hooks", "uninstall")
    assert result.exit_code == 0 and "Removed the SessionEnd hook" in result.output
    assert json.loads(path.read_text(encoding="utf-8")) == OTHER
    again = run_cli(runner, "hooks", "uninstall")
    assert "not installed" in again.output


def test_uninstall_drops_the_containers_only_ours_filled(runner):
    path = write_settings({"model": "opus"})
    run_cli(runner, "hooks", "install")
    run_cli(runner, "hooks", "uninstall")
    assert json.loads(path.read_text(encoding="utf-8")) == {"model": "opus"}


def test_status_says_where_it_is_installed(runner, project):
    write_settings(OTHER)
    run_cli(runner, "hooks", "install", "--scope", "project", "--project", str(project))
    result = run_cli(runner, "hooks", "status", "--project", str(project))
    lines = result.output.splitlines()
    assert lines[0].startswith("user ") and lines[0].endswith(": not installed")
    assert lines[1].startswith("project ") and "installed: " in lines[1]
    assert lines[1].endswith("analytics capture")
    assert lines[2].endswith("not installed (no file)")


@pytest.mark.parametrize(
    "text",
    ["{not json", "[1, 2]", '{"hooks": []}', '{"hooks": {"SessionEnd": {"a": 1}}}'],
)
def test_a_settings_file_we_cannot_read_is_left_alone(runner, text):
    path = claude_dir() / "settings.json"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(cli, ["analytics", "hooks", "install"])
    assert result.exit_code == 2
    assert result.output.startswith("Error: ") and "Nothing was changed." in result.output
    assert "Traceback" not in result.output
    assert path.read_text(encoding="utf-8") == text
    assert not (path.parent / "settings.json.bak").exists()


def test_a_projects_claude_link_leading_outside_is_refused(runner, project, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (project / ".claude").symlink_to(outside)
    result = runner.invoke(
        cli, ["analytics", "hooks", "install", "--scope", "project", "--project", str(project)]
    )
    assert result.exit_code == 2 and "leads outside the project" in result.output
    assert list(outside.iterdir()) == []


def test_a_user_settings_link_is_written_through(runner, tmp_path):
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "claude-settings.json"
    target.write_text(json.dumps(OTHER), encoding="utf-8")
    (claude_dir() / "settings.json").symlink_to(target)
    assert run_cli(runner, "hooks", "install").exit_code == 0
    assert (claude_dir() / "settings.json").is_symlink()
    assert len(session_end_commands(target)) == 2


def test_the_file_keeps_its_permissions(runner):
    path = write_settings(OTHER)
    path.chmod(0o600)
    run_cli(runner, "hooks", "install")
    assert path.stat().st_mode & 0o777 == 0o600


# -- capture --------------------------------------------------------------------------------


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def assistant(moment, message_id, model, input_tokens, output_tokens, cwd):
    return json.dumps(
        {
            "type": "assistant",
            "timestamp": stamp(moment),
            "requestId": f"req-{message_id}",
            "cwd": str(cwd),
            "message": {
                "id": message_id,
                "model": model,
                "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
            },
        }
    )


@pytest.fixture
def session(tmp_path: Path) -> dict:
    """A project with a git directory, a session that began a minute ago with a
    transcript (two messages, one written twice) and a sub-agent transcript."""
    project = tmp_path / "app"
    (project / ".git").mkdir(parents=True)
    began = datetime.now(UTC) - timedelta(minutes=1)
    folder = claude_dir() / "projects" / "-app"
    (folder / "sess-1" / "subagents").mkdir(parents=True)
    transcript = folder / "sess-1.jsonl"
    lines = [
        json.dumps({"type": "user", "timestamp": stamp(began), "cwd": str(project)}),
        assistant(began, "m1", "claude-sonnet-4-5", 1000, 200, project),
        assistant(began, "m1", "claude-sonnet-4-5", 1000, 200, project),  # a second block
        assistant(began, "m2", "claude-sonnet-4-5", 3000, 400, project / "src"),
    ]
    transcript.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "sess-1" / "subagents" / "agent-1.jsonl").write_text(
        assistant(began, "m3", "claude-sonnet-4-5", 500, 50, project) + "\n", encoding="utf-8"
    )
    payload = {
        "session_id": "sess-1",
        "transcript_path": str(transcript),
        "cwd": str(project),
        "hook_event_name": "SessionEnd",
        "reason": "prompt_input_exit",
    }
    return {"project": project, "payload": payload, "began": began, "transcript": transcript}


def installed_command(runner) -> str:
    assert run_cli(runner, "hooks", "install").exit_code == 0
    (command,) = session_end_commands(claude_dir() / "settings.json")
    return command


def run_hook(command: str, payload: object, cwd: Path) -> subprocess.CompletedProcess:
    """Run the hook command as Claude Code does: a shell, the JSON on stdin."""
    data = payload if isinstance(payload, str) else json.dumps(payload)
    # The machine running the tests is shared and loaded: the time budgets are the
    # bench's to check (bench/run.py), not these tests'.
    env = {**os.environ, capturing.BUDGET_SCALE_ENV: "100"}
    return subprocess.run(
        command, shell=True, input=data, text=True, capture_output=True, cwd=cwd, env=env,
        timeout=60,
    )


def stored(project: Path) -> list[dict]:
    records = []
    for path in sorted((project / ".phaser" / "analytics" / "executions").glob("*.json")):
        records.append(json.loads(path.read_text(encoding="utf-8")))
    return records


def capture_log(project: Path) -> list[str]:
    path = project / ".phaser" / "analytics" / "capture.log"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def capture_log_home() -> list[str]:
    path = Path(os.environ["PHASER_HOME"]) / "capture.log"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def test_installed_hook_imports_the_sessions_report_with_its_tokens(runner, session):
    command = installed_command(runner)
    project = session["project"]
    write_report(project, project_path=str(project), minutes=30)
    result = run_hook(command, session["payload"], project)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    (record,) = stored(project)
    # m1 once, m2 (in a subdirectory of the project) and the sub-agent's m3.
    assert record["tokens"] == {
        "input": 4500,
        "output": 650,
        "cache_creation": 0,
        "cache_read": 0,
        "total": 5150,
    }
    assert record["extra"]["token_source"] == "session"
    assert record["extra"]["claude_session_id"] == "sess-1"
    assert record["cost_usd"] == pytest.approx(4500 * 3e-6 + 650 * 15e-6)
    assert capture_log(project) == []


def test_the_same_session_twice_stores_one_record(runner, session):
    command = installed_command(runner)
    project = session["project"]
    write_report(project, project_path=str(project))
    run_hook(command, session["payload"], project)
    again = run_hook(command, session["payload"], project)
    assert again.returncode == 0 and again.stderr == ""
    assert len(stored(project)) == 1


def test_a_report_imported_before_is_not_stored_again(runner, session):
    project = session["project"]
    report = write_report(project, project_path=str(project))
    run_cli(runner, "import", str(report), "--project", str(project))
    result = run_hook(installed_command(runner), session["payload"], project)
    assert result.returncode == 0
    assert len(stored(project)) == 1


def test_a_report_from_before_the_session_is_left_alone(runner, session):
    project = session["project"]
    report = write_report(project, project_path=str(project))
    old = (session["began"] - timedelta(hours=2)).timestamp()
    os.utime(report, (old, old))
    result = run_hook(installed_command(runner), session["payload"], project)
    assert result.returncode == 0 and result.stderr == ""
    assert not (project / ".phaser").exists()


def test_a_report_in_a_subdirectory_of_the_project_is_found(runner, session):
    project = session["project"]
    cwd = project / "src"
    cwd.mkdir()
    write_report(project / "audits" / "q1", project_path=str(project))
    payload = {**session["payload"], "cwd": str(cwd)}
    assert run_hook(installed_command(runner), payload, cwd).returncode == 0
    (record,) = stored(project)
    assert record["report_path"] == str(project / "audits" / "q1" / "EXECUTION_REPORT.md")


@pytest.mark.parametrize(
    ("stdin", "logged"),
    [
        ("", "no hook input"),
        ("{not json", "not JSON"),
        ("[1]", "not a JSON object"),
        ('{"cwd": "/"}', "no session_id"),
        ('{"session_id": "s", "cwd": "relative/dir"}', "no absolute cwd"),
    ],
)
def test_malformed_input_is_logged_and_exits_zero(runner, session, stdin, logged):
    project = session["project"]
    (project / ".phaser" / "analytics").mkdir(parents=True)
    result = run_hook(installed_command(runner), stdin, project)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    (line,) = capture_log(project)
    assert logged in line and "error:" in line


def test_a_missing_transcript_is_logged_and_the_report_imported_without_session_tokens(
    runner, session
):
    project = session["project"]
    write_report(project, project_path=str(project), tokens=9000, cost=0.25)
    payload = {**session["payload"], "transcript_path": str(project / "gone.jsonl")}
    result = run_hook(installed_command(runner), payload, project)
    assert result.returncode == 0 and result.stderr == ""
    (record,) = stored(project)
    assert record["tokens"]["total"] == 9000  # the report's own table
    assert record["extra"]["token_source"] == "report"
    (line,) = capture_log(project)
    assert "gone.jsonl not readable" in line and "session=sess-1" in line


def test_a_report_that_cannot_be_parsed_is_logged(runner, session):
    project = session["project"]
    (project / ".phaser" / "analytics").mkdir(parents=True)
    (project / "EXECUTION_REPORT.md").write_text("# nothing here\n", encoding="utf-8")
    result = run_hook(installed_command(runner), session["payload"], project)
    assert result.returncode == 0 and result.stderr == ""
    (line,) = capture_log(project)
    assert "error:" in line and "EXECUTION_REPORT.md" in line
    assert stored(project) == []


def test_a_session_without_time_left_is_spooled_and_the_next_command_imports_it(
    runner, session, monkeypatch
):
    project = session["project"]
    write_report(project, project_path=str(project))
    monkeypatch.setattr(capturing, "IMPORT_START_BUDGET_SECONDS", -1.0)
    result = runner.invoke(
        cli, ["analytics", "capture"], input=json.dumps(session["payload"])
    )
    assert result.exit_code == 0
    assert stored(project) == []
    assert len(capturing.pending()) == 1
    monkeypatch.setattr(capturing, "IMPORT_START_BUDGET_SECONDS", 1000.0)
    shown = runner.invoke(cli, ["analytics", "show", "--project", str(project)])
    assert shown.exit_code == 0
    assert "Imported 1 execution(s) from Claude Code sessions captured earlier" in shown.output
    assert len(stored(project)) == 1 and capturing.pending() == []
    assert stored(project)[0]["extra"]["token_source"] == "session"


def test_a_slow_search_is_spooled_and_capture_drain_imports_it(runner, session, monkeypatch):
    project = session["project"]
    write_report(project, project_path=str(project))
    monkeypatch.setattr(capturing, "SEARCH_BUDGET_SECONDS", -1.0)
    runner.invoke(cli, ["analytics", "capture"], input=json.dumps(session["payload"]))
    assert stored(project) == [] and len(capturing.pending()) == 1
    assert any("spooled: the search for a report took too long" in line for line in (
        capture_log(project) + capture_log_home()
    ))
    result = run_cli(runner, "capture", "--drain")
    assert result.output.startswith("Drained the spool: 1 imported, 0 already imported")
    assert len(stored(project)) == 1 and capturing.pending() == []


def test_a_hook_killed_mid_import_leaves_the_session_spooled(session, monkeypatch):
    """The spool entry is written before the import starts: a process killed during the
    import leaves it behind for the next command."""
    project = session["project"]
    write_report(project, project_path=str(project))

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # stands in for the kill: nothing after it runs

    monkeypatch.setattr(capturing, "import_session", killed)
    with pytest.raises(KeyboardInterrupt):
        capturing.capture(capturing.parse_payload(json.dumps(session["payload"]).encode()), 1e12)
    (entry,) = capturing.pending()
    assert json.loads(entry.read_text())["reports"] == [str(project / "EXECUTION_REPORT.md")]


@pytest.mark.parametrize(
    ("command", "ours"),
    [
        ("phaser analytics capture", True),
        ("/home/me/.venv/bin/phaser analytics capture", True),
        ("'/opt/my tools/bin/phaser' analytics capture", True),
        ("phaser-analytics capture", True),
        ("/usr/bin/python3 -m phaser_analytics analytics capture", True),
        ("phaser analytics show", False),
        ("~/bin/capture-notes.sh", False),
        ("myphaser analytics capture", False),
    ],
)
def test_our_hook_is_recognised_by_its_command(command, ours):
    from phaser_analytics.claude_settings import is_ours

    assert is_ours(command) is ours


def test_status_counts_the_spooled_sessions(runner, session, monkeypatch):
    project = session["project"]
    write_report(project, project_path=str(project))
    monkeypatch.setattr(capturing, "IMPORT_START_BUDGET_SECONDS", -1.0)
    runner.invoke(cli, ["analytics", "capture"], input=json.dumps(session["payload"]))
    result = runner.invoke(cli, ["analytics", "hooks", "status"], catch_exceptions=False)
    # hooks status is a command like any other: it drains the spool first, then reports.
    assert "Imported 1 execution(s) from Claude Code sessions captured earlier" in result.output
    assert "wait in the spool" not in result.output
    assert len(stored(project)) == 1


def test_a_spooled_session_that_keeps_failing_is_dropped_with_a_log_line(session, monkeypatch):
    project = session["project"]
    write_report(project, project_path=str(project))
    monkeypatch.setattr(capturing, "IMPORT_START_BUDGET_SECONDS", -1.0)
    capturing.capture(capturing.parse_payload(json.dumps(session["payload"]).encode()), 0.0)
    assert len(capturing.pending()) == 1

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(capturing, "import_session", broken)
    for attempt in range(1, capturing.MAX_ATTEMPTS + 1):
        assert capturing.drain().failed == 1
        left = capturing.pending()
        if attempt < capturing.MAX_ATTEMPTS:
            assert json.loads(left[0].read_text())["attempts"] == attempt
    assert capturing.pending() == []
    lines = capture_log(project) + capture_log_home()
    assert any("gave up on a spooled session (disk full)" in line for line in lines)


def test_a_transcript_path_that_is_a_fifo_does_not_hang_the_hook(runner, session):
    project = session["project"]
    write_report(project, project_path=str(project))
    fifo = project / "transcript.jsonl"
    os.mkfifo(fifo)
    payload = {**session["payload"], "transcript_path": str(fifo)}
    result = run_hook(installed_command(runner), payload, project)  # a 60 s timeout
    assert result.returncode == 0
    assert len(stored(project)) == 1
    assert any("transcript.jsonl not readable" in line for line in capture_log(project))
