"""``clear`` (spec §2.3, §12.4) and ``doctor``."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from storage_helpers import (
    DAY0,
    assert_consistent,
    fill,
    json_store,
    make_record,
    record_names,
    run_cli_unprivileged,
    run_python,
    tree_snapshot,
)
from storage_helpers import no_fsync as no_fsync  # a fixture, used through pytestmark

from phaser_analytics.cli import cli, maintenance
from phaser_analytics.stores import get_analytics_dir
from phaser_analytics.stores.json_files import record_filename

pytestmark = pytest.mark.usefixtures("no_fsync")


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bare dates are local midnights: pin the zone so the day boundaries are known."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _invoke(project: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["analytics", *args, "--project", str(project)], input=input)


@pytest.fixture
def three_days(project: Path) -> Path:
    """Executions at 09:00 UTC on 1, 2 and 3 December 2024."""
    json_store(project).save([make_record(project, hours=24 * day) for day in range(3)])
    return project


def _days(project: Path) -> list[str]:
    return sorted(e.started_at.date().isoformat() for e in list(json_store(project).find()))


# -- clear --------------------------------------------------------------------------------------


def test_clear_needs_all_or_before(project: Path) -> None:
    result = _invoke(project, "clear")
    assert result.exit_code == 2
    assert "Specify --all, --before DATE or EXECUTION_IDs" in result.output


def test_clear_all_and_before_conflict(project: Path) -> None:
    result = _invoke(project, "clear", "--all", "--before", "2024-12-01")
    assert result.exit_code == 2


def test_before_a_bare_date_keeps_that_day(three_days: Path) -> None:
    result = _invoke(three_days, "clear", "--before", "2024-12-02", "--force")
    assert result.exit_code == 0, result.output
    assert _days(three_days) == ["2024-12-02", "2024-12-03"]
    assert "Deleted 1 execution records. 2 remaining (2024-12-02 to 2024-12-03)." in result.output


def test_the_days_clear_names_are_those_of_the_zone_before_is_read_in(three_days: Path) -> None:
    """09:00 UTC is 18:00 in Tokyo and 01:00 in Los Angeles: the same days either way, but
    22:00 UTC is the next day in Tokyo, and what --dry-run lists says so."""
    late = make_record(three_days, hours=24 * 5 + 13)  # 22:00 UTC on 6 December
    json_store(three_days).save([late])
    result = _invoke(
        three_days, "clear", "--before", "2024-12-10", "--dry-run", "--tz", "Asia/Tokyo"
    )
    assert result.exit_code == 0, result.output
    assert "(2024-12-07)" in result.output
    assert "Nothing was deleted. 0 remaining." in result.output
    in_utc = _invoke(three_days, "clear", "--before", "2024-12-10", "--dry-run", "--tz", "UTC")
    assert "(2024-12-06)" in in_utc.output and "(2024-12-07)" not in in_utc.output


def test_before_a_moment_is_exact(three_days: Path) -> None:
    _invoke(three_days, "clear", "--before", "2024-12-02T09:00:01Z", "--force")
    assert _days(three_days) == ["2024-12-03"]


def test_before_keeps_executions_whose_start_is_unknown(project: Path) -> None:
    json_store(project).save([make_record(project), make_record(project, started_at=None)])
    _invoke(project, "clear", "--before", "2030-01-01", "--force")
    assert [e.started_at for e in list(json_store(project).find())] == [None]


def test_before_with_a_bad_date_says_how(project: Path) -> None:
    result = _invoke(project, "clear", "--before", "last tuesday", "--force")
    assert result.exit_code == 2
    assert "Invalid date format. Use ISO format: YYYY-MM-DD" in result.output


def test_dry_run_changes_nothing_and_lists(project: Path) -> None:
    fill(project, 14)
    before = tree_snapshot(project)
    result = _invoke(project, "clear", "--all", "--dry-run")
    assert result.exit_code == 0
    assert tree_snapshot(project) == before
    lines = result.output.splitlines()
    assert lines[0] == "Would delete 14 execution records:"
    assert sum(line.startswith("  - document-") for line in lines) == 10
    assert "  ... and 4 more" in lines
    assert lines[-1] == "Nothing was deleted. 0 remaining."


def test_without_a_terminal_it_refuses(three_days: Path) -> None:
    before = tree_snapshot(three_days)
    result = _invoke(three_days, "clear", "--all")
    assert result.exit_code == 2
    assert result.output.startswith(
        "Error: Refusing to delete 3 execution records without confirmation"
    )
    assert "--force" in result.output
    assert tree_snapshot(three_days) == before


def test_with_a_terminal_it_asks(three_days: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(maintenance, "can_prompt", lambda: True)
    declined = _invoke(three_days, "clear", "--all", input="n\n")
    assert "Delete 3 execution records? [y/N]" in declined.output
    # A user's "no" is an answer, not an error (issue 14 item 16).
    assert declined.exit_code == 0, declined.output
    assert "Aborted" not in declined.output
    assert "Nothing was deleted. 3 remaining" in declined.output
    assert len(record_names(three_days)) == 3
    accepted = _invoke(three_days, "clear", "--all", input="y\n")
    assert accepted.exit_code == 0
    assert "Deleted 3 execution records. 0 remaining." in accepted.output
    assert record_names(three_days) == []
    assert_consistent(three_days)


# -- clear ID… (issue 14 item 12) ---------------------------------------------------------------


def _ids(project: Path) -> list[str]:
    return [e.execution_id for e in json_store(project).find()]  # newest first


def test_show_lists_the_short_ids_that_clear_takes(three_days: Path) -> None:
    shown = _invoke(three_days, "show")
    short = [i.replace("-", "")[:8] for i in _ids(three_days)]
    for prefix in short:
        assert f"│ {prefix} │" in shown.output
    result = _invoke(three_days, "clear", short[0], short[2], "--force")
    assert result.exit_code == 0, result.output
    assert "Deleted 2 execution records. 1 remaining (2024-12-02 to 2024-12-02)." in result.output
    assert _days(three_days) == ["2024-12-02"]
    assert_consistent(three_days)


def test_clear_ids_asks_like_all(three_days: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    newest = _ids(three_days)[0]
    refused = _invoke(three_days, "clear", newest)
    assert refused.exit_code == 2 and "Refusing to delete 1 execution records" in refused.output
    monkeypatch.setattr(maintenance, "can_prompt", lambda: True)
    dry = _invoke(three_days, "clear", newest, "--dry-run")
    assert "Would delete 1 execution records:" in dry.output and len(_ids(three_days)) == 3
    accepted = _invoke(three_days, "clear", newest[:6], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert newest not in _ids(three_days) and len(_ids(three_days)) == 2


def test_clear_with_an_unknown_id_deletes_nothing(three_days: Path) -> None:
    before = tree_snapshot(three_days)
    result = _invoke(three_days, "clear", _ids(three_days)[0], "ffffffff", "--force")
    assert result.exit_code == 1
    assert result.output.strip() == "Error: Execution not found: ffffffff"
    assert tree_snapshot(three_days) == before


def test_clear_ids_do_not_mix_with_all_or_before(three_days: Path) -> None:
    for extra in (["--all"], ["--before", "2024-12-02"]):
        result = _invoke(three_days, "clear", _ids(three_days)[0], *extra, "--force")
        assert result.exit_code == 2
        assert "cannot be used together" in result.output
    assert len(_ids(three_days)) == 3


def test_nothing_to_delete(three_days: Path) -> None:
    result = _invoke(three_days, "clear", "--before", "2020-01-01")
    assert result.exit_code == 0
    assert "Nothing to delete. 3 remaining (2024-12-01 to 2024-12-03)." in result.output


def test_clear_on_a_project_without_a_store(project: Path) -> None:
    result = _invoke(project, "clear", "--all", "--force")
    assert result.exit_code == 0
    assert "Nothing to delete. 0 remaining." in result.output
    assert not (project / ".phaser").exists()


def test_clear_relative_date(project: Path) -> None:
    old = make_record(project, started_at=DAY0)
    recent = make_record(project, started_at=None, document="recent.md")
    json_store(project).save([old, recent])
    _invoke(project, "clear", "--before", "30d", "--force")
    assert [e.audit_document for e in list(json_store(project).find())] == ["recent.md"]


# -- doctor -------------------------------------------------------------------------------------


def _doctor(project: Path, *args: str) -> Result:
    return _invoke(project, "doctor", *args)


def test_doctor_on_a_healthy_store(project: Path) -> None:
    fill(project, 3)
    result = _doctor(project)
    assert result.exit_code == 0, result.output
    assert "✓ the index agrees with the 3 record file(s)" in result.output
    assert "✓ the lock is free" in result.output
    assert result.output.splitlines()[-1] == "No problems found."


def test_doctor_without_a_store(project: Path) -> None:
    result = _doctor(project, "--repair")
    assert result.exit_code == 0
    assert "no analytics store" in result.output
    assert not (project / ".phaser").exists()


def _damage(project: Path, kind: str) -> None:
    analytics = get_analytics_dir(project)
    executions = analytics / "executions"
    first = sorted(executions.glob("*.json"))[0]
    if kind == "corrupt":
        (executions / "2024-01-01T00-00-00-bad00000.json").write_text("{")
    elif kind == "unindexed":
        record = make_record(project, hours=99)
        (executions / record_filename(record)).write_text(json.dumps(record.to_dict()))
    elif kind == "vanished":
        first.unlink()
    elif kind == "edited":
        data = json.loads(first.read_text())
        data["status"] = "failed"
        first.write_text(json.dumps(data))
    elif kind == "journal":
        (analytics / ".journal").write_text("{}")
    elif kind == "temp":
        (executions / ".x.json.abcd.tmp").write_text("half")
    elif kind == "duplicate":
        data = json.loads(first.read_text())
        data["imported_at"] = "2001-01-01T00:00:00Z"
        (executions / "2001-01-01T00-00-00-dupe0000.json").write_text(json.dumps(data))
    elif kind == "index":
        (analytics / "index.json").write_text("[]")


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("corrupt", "corrupt record file 2024-01-01T00-00-00-bad00000.json"),
        ("unindexed", "1 record file(s) not in the index"),
        ("vanished", "1 index entries without a record file"),
        ("edited", "1 index entries disagree with their record file"),
        ("journal", "an interrupted write remain: .journal"),
        ("temp", "1 leftover temporary file(s): .x.json.abcd.tmp"),
        ("duplicate", "repeats the execution id of"),
        ("index", "the index is corrupt"),
    ],
)
def test_doctor_finds_and_repairs(project: Path, kind: str, words: str) -> None:
    fill(project, 3)
    _damage(project, kind)
    before = tree_snapshot(project)
    found = _doctor(project)
    assert found.exit_code == 1, found.output
    assert any(line.startswith("  ✗ ") and words in line for line in found.output.splitlines())
    assert "doctor --repair" in found.output.splitlines()[-1]
    assert tree_snapshot(project) == before  # checking changes nothing
    repaired = _doctor(project, "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert "repaired: " in repaired.output
    assert repaired.output.splitlines()[-1] == "No problems found."
    assert_consistent(project)
    assert _doctor(project).exit_code == 0


def test_doctor_repair_keeps_what_it_sets_aside(project: Path) -> None:
    fill(project, 2)
    _damage(project, "corrupt")
    _doctor(project, "--repair")
    quarantined = get_analytics_dir(project) / "quarantine" / "2024-01-01T00-00-00-bad00000.json"
    assert quarantined.read_text() == "{"
    result = _doctor(project)
    assert "· 1 file(s) in" in result.output and "quarantine" in result.output


def test_doctor_notes_a_newer_schema_without_failing(project: Path) -> None:
    fill(project, 1)
    record = make_record(project, hours=5).to_dict()
    record["schema_version"] = "2.0"
    path = get_analytics_dir(project) / "executions" / "2024-12-02T00-00-00-future00.json"
    path.write_text(json.dumps(record))
    list(json_store(project, warn=lambda m: None).find())  # any command records it as skipped
    result = _doctor(project)
    assert result.exit_code == 0, result.output
    assert "· 2024-12-02T00-00-00-future00.json has schema_version '2.0'" in result.output


def test_doctor_reports_a_held_lock(project: Path) -> None:
    fill(project, 1)
    code = f"""
import sys
from pathlib import Path
from phaser_analytics.stores.files import hold_lock
with hold_lock(Path({str(project)!r}) / ".phaser" / "analytics" / ".lock"):
    print("locked", flush=True)
    sys.stdin.read()
"""
    holder = run_python(code, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        store = json_store(project)
        store.check_lock_timeout = 0.1
        findings = store.check()
    finally:
        holder.communicate("", timeout=60)
    assert findings[0].problem
    assert "held the lock" in findings[0].message
    # The rest of the checks still ran.
    assert any("the index agrees" in f.message for f in findings)


def test_doctor_on_a_read_only_store(project: Path) -> None:
    fill(project, 2)
    analytics = get_analytics_dir(project)
    (analytics / ".lock").unlink()
    for directory in (analytics / "executions", analytics):
        directory.chmod(0o555)
    try:
        result = run_cli_unprivileged(["analytics", "doctor"], cwd=project)
    finally:
        for directory in (analytics, analytics / "executions"):
            directory.chmod(0o755)
    assert result.returncode == 1
    assert "✗ cannot take the lock" in result.stdout
    assert "✓ the index agrees with the 2 record file(s)" in result.stdout


def test_clear_heals_a_stale_index_first(project: Path) -> None:
    records = fill(project, 4)
    _damage(project, "vanished")  # the oldest record file, behind the index's back
    result = _invoke(project, "clear", "--before", "2024-12-01T11:00Z", "--force")
    assert result.exit_code == 0, result.output
    assert result.output.count("Warning: analytics index") == 1
    assert "is out of step with the record files" in result.output
    assert "Deleted 1 execution records. 2 remaining" in result.output
    kept = {e.execution_id for e in list(json_store(project).find())}
    assert kept == {r.execution_id for r in records if r.started_at >= DAY0 + timedelta(hours=2)}
    assert_consistent(project)
