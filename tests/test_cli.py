"""The CLI through click's CliRunner (spec §14.2 TestCLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from console import console_script, script_dirs

from phaser_analytics.cli import cli

EXAMPLE_REPORT = Path(__file__).resolve().parent.parent / "examples" / "EXECUTION_REPORT.md"

NO_DATA = "No analytics data found. Run 'phaser analytics import EXECUTION_REPORT.md' to import."


def run(runner, *args, input=None):
    return runner.invoke(cli, ["analytics", *map(str, args)], input=input)


def write_report(
    directory: Path, *, document: str, started: str, result: str = "✅ All phases completed"
) -> Path:
    """A copy of the example report with another identity (document and start time)."""
    text = EXAMPLE_REPORT.read_text(encoding="utf-8")
    text = text.replace("document-7-reverse.md", document)
    text = text.replace("2024-12-06T10:30:00Z", started)
    text = text.replace("✅ All phases completed", result)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "EXECUTION_REPORT.md"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def imported(runner, project, example_report):
    result = run(runner, "import", example_report, "--project", project)
    assert result.exit_code == 0, result.output
    return project


@pytest.fixture
def several(runner, project, tmp_path):
    """Three executions: success (Dec 4), partial (Dec 5), success (Dec 6)."""
    reports = tmp_path / "many"
    write_report(reports / "a", document="document-5-ci.md", started="2024-12-04T10:00:00Z")
    write_report(
        reports / "b",
        document="document-6-replay.md",
        started="2024-12-05T10:00:00Z",
        result="⚠️ Completed with issues",
    )
    write_report(reports / "c", document="document-7-reverse.md", started="2024-12-06T10:30:00Z")
    result = run(runner, "import", reports, "--recursive", "--project", project)
    assert result.exit_code == 0, result.output
    return project


class TestCLI:
    def test_show_default(self, runner, imported):
        result = run(runner, "show", "--project", imported)
        assert result.exit_code == 0, result.output
        assert "Phaser Analytics - Last 1 Execution" in result.output
        assert "document-7-reverse.md" in result.output
        assert "Summary: 1 execution | 1 successful (100%)" in result.output

    def test_show_with_limit(self, runner, several):
        result = run(runner, "show", "--last", 2, "--project", several, "--format", "json")
        payload = json.loads(result.output)
        documents = [e["audit_document"] for e in payload["executions"]]
        assert documents == ["document-7-reverse.md", "document-6-replay.md"]
        assert payload["query"]["limit"] == 2

    def test_show_json_format(self, runner, imported):
        result = run(runner, "show", "--format", "json", "--project", imported)
        assert result.exit_code == 0, result.output
        payload = json.loads(result.output)
        assert {"query", "project", "executions", "stats", "generated_at"} <= set(payload)
        execution = payload["executions"][0]
        assert execution["duration_seconds"] == 5003
        assert execution["test_delta"] == 32
        assert len(execution["phases"]) == 6
        assert payload["stats"]["success_rate"] == 1.0
        assert payload["project"]["name"] == "Phaser"

    def test_show_verbose(self, runner, imported):
        result = run(runner, "show", "--verbose", "--project", imported)
        assert result.exit_code == 0, result.output
        assert "Reverse Audit Specification" in result.output
        assert "b2c3d4e" in result.output
        assert "audit/2024-12-06-reverse" in result.output

    def test_show_status_filter(self, runner, several):
        result = run(
            runner, "show", "--status", "partial", "--format", "json", "--project", several
        )
        payload = json.loads(result.output)
        assert [e["status"] for e in payload["executions"]] == ["partial"]

    def test_show_since_until(self, runner, several):
        result = run(
            runner, "show", "--since", "2024-12-05", "--until", "2024-12-05",
            "--format", "json", "--project", several,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        payload = json.loads(result.output)
        assert [e["audit_document"] for e in payload["executions"]] == ["document-6-replay.md"]

    def test_show_one_execution_by_prefix(self, runner, imported):
        index = json.loads((imported / ".phaser/analytics/index.json").read_text())
        execution_id = index["executions"][0]["execution_id"]
        result = run(runner, "show", execution_id[:8], "--project", imported)
        assert result.exit_code == 0, result.output
        assert "Reverse Audit Specification" in result.output

    def test_export_json(self, runner, imported):
        result = run(runner, "export", "--project", imported)
        assert result.exit_code == 0, result.output
        payload = json.loads(result.output)
        assert payload["executions"][0]["audit_document"] == "document-7-reverse.md"

    def test_export_to_file(self, runner, imported, tmp_path):
        target = tmp_path / "out" / "report.md"
        target.parent.mkdir()
        result = run(
            runner, "export", "--format", "markdown", "--output", target, "--project", imported
        )
        assert result.exit_code == 0, result.output
        assert f"Exported to {target}" in result.output
        text = target.read_text(encoding="utf-8")
        assert text.startswith("# Phaser Analytics Report")
        assert "document-7-reverse.md" in text
        assert not list(target.parent.glob(".*.tmp"))

    def test_export_csv(self, runner, several):
        result = run(runner, "export", "--format", "csv", "--project", several)
        assert result.exit_code == 0, result.output
        lines = result.output.strip().splitlines()
        assert lines[0].startswith(
            "execution_id,audit_document,started_at,status,duration_seconds,test_delta"
        )
        assert len(lines) == 4

    def test_badge_shields_io(self, runner, several):
        result = run(runner, "badge", "--format", "shields-io", "--project", several)
        assert result.exit_code == 0, result.output
        payload = json.loads(result.output)
        assert payload == {
            "schemaVersion": 1,
            "label": "audits",
            "message": "67%",
            "color": "yellow",
        }

    def test_clear_without_terminal_refuses(self, runner, imported):
        # CliRunner's stdin is not a terminal, as in CI: no prompt to wait on.
        result = run(runner, "clear", "--all", "--project", imported)
        assert result.exit_code == 2
        assert "--force" in result.output
        assert len(list((imported / ".phaser/analytics/executions").iterdir())) == 1

    def test_clear_dry_run(self, runner, several):
        before = sorted(p.name for p in (several / ".phaser/analytics/executions").iterdir())
        result = run(runner, "clear", "--before", "2024-12-06", "--dry-run", "--project", several)
        assert result.exit_code == 0, result.output
        assert "Would delete 2 execution records:" in result.output
        assert "document-5-ci.md (2024-12-04)" in result.output
        after = sorted(p.name for p in (several / ".phaser/analytics/executions").iterdir())
        assert before == after

    def test_clear_force_no_confirm(self, runner, several):
        result = run(runner, "clear", "--before", "2024-12-06", "--force", "--project", several)
        assert result.exit_code == 0, result.output
        assert "Deleted 2 execution records." in result.output
        payload = json.loads(run(runner, "export", "--project", several).output)
        assert [e["audit_document"] for e in payload["executions"]] == ["document-7-reverse.md"]

    def test_clear_needs_all_or_before(self, runner, imported):
        result = run(runner, "clear", "--project", imported)
        assert result.exit_code == 2
        assert "--all, --before DATE or EXECUTION_IDs" in result.output

    def test_import_single_file(self, runner, project, example_report):
        result = run(runner, "import", example_report, "--project", project)
        assert result.exit_code == 0, result.output
        assert "✓ Imported: document-7-reverse.md" in result.output
        assert "Imported 1 execution(s)." in result.output
        assert len(list((project / ".phaser/analytics/executions").glob("*.json"))) == 1

    def test_import_twice_is_already_imported(self, runner, project, example_report):
        run(runner, "import", example_report, "--project", project)
        result = run(runner, "import", example_report, "--project", project)
        assert result.exit_code == 0, result.output
        assert "Already imported: document-7-reverse.md" in result.output
        forced = run(runner, "import", example_report, "--force", "--project", project)
        assert "Replaced: document-7-reverse.md" in forced.output
        assert len(list((project / ".phaser/analytics/executions").glob("*.json"))) == 1

    def test_import_directory(self, runner, project, tmp_path):
        reports = tmp_path / "reports"
        write_report(reports, document="a.md", started="2024-12-01T10:00:00Z")
        write_report(reports / "nested", document="b.md", started="2024-12-02T10:00:00Z")
        result = run(runner, "import", reports, "--project", project)
        assert result.exit_code == 0, result.output
        assert "Imported 1 execution(s)." in result.output

    def test_import_recursive(self, runner, project, tmp_path):
        reports = tmp_path / "reports"
        write_report(reports, document="a.md", started="2024-12-01T10:00:00Z")
        write_report(reports / "nested", document="b.md", started="2024-12-02T10:00:00Z")
        write_report(
            reports / "node_modules" / "x", document="c.md", started="2024-12-03T10:00:00Z"
        )
        result = run(runner, "import", reports, "--recursive", "--project", project)
        assert result.exit_code == 0, result.output
        assert "Imported 2 execution(s)." in result.output

    def test_import_missing_report(self, runner, project, tmp_path):
        missing = tmp_path / "nope.md"
        result = run(runner, "import", missing, "--project", project)
        assert result.exit_code == 1
        assert f"Execution report not found: {missing}" in result.output
        assert not (project / ".phaser").exists()

    def test_import_bad_report_fails_cleanly(self, runner, project, tmp_path):
        bad = tmp_path / "EXECUTION_REPORT.md"
        bad.write_text("# Execution Report: nothing\n\nno metadata here\n", encoding="utf-8")
        result = run(runner, "import", bad, "--project", project)
        assert result.exit_code == 1
        assert f"✗ Failed: {bad} - Cannot parse execution report:" in result.output
        assert "Traceback" not in result.output
        assert not list(project.glob(".phaser/analytics/executions/*.json"))

    def test_error_no_analytics_data(self, runner, project):
        result = run(runner, "show", "--project", project)
        assert result.exit_code == 0
        assert NO_DATA in result.output

    def test_error_invalid_date(self, runner, imported):
        result = run(runner, "show", "--since", "last tuesday", "--project", imported)
        assert result.exit_code == 2
        assert result.output.strip() == "Error: Invalid date format. Use ISO format: YYYY-MM-DD"

    def test_error_execution_not_found(self, runner, imported):
        result = run(runner, "show", "../../etc", "--project", imported)
        assert result.exit_code == 1
        assert "Execution not found: ../../etc" in result.output

    def test_unknown_format_is_usage_error(self, runner, imported):
        result = run(runner, "show", "--format", "xml", "--project", imported)
        assert result.exit_code == 2
        assert "table" in result.output


class TestCIOptions:
    def test_ci_exit_code_fails_on_partial(self, runner, several):
        result = run(runner, "show", "--ci-exit-code", "--project", several)
        assert result.exit_code == 1
        assert "1 partial" in result.output

    def test_ci_exit_code_passes_when_all_succeed(self, runner, imported):
        assert run(runner, "show", "--ci-exit-code", "--project", imported).exit_code == 0

    @pytest.mark.parametrize("rate", ["0.8", "80%", "80"])
    def test_fail_under(self, runner, several, rate):
        result = run(runner, "show", "--fail-under", rate, "--project", several)
        assert result.exit_code == 1
        assert "below 80%" in result.output

    def test_fail_under_passes(self, runner, several):
        assert run(runner, "show", "--fail-under", "60%", "--project", several).exit_code == 0

    def test_ci_minimal(self, runner, several):
        result = run(runner, "show", "--ci-minimal", "--project", several)
        assert result.exit_code == 0, result.output
        line = result.output.strip()
        assert "\n" not in line
        payload = json.loads(line)
        assert payload["success_rate"] == pytest.approx(2 / 3, abs=0.001) or payload.get(
            "stats", {}
        ).get("success_rate") == pytest.approx(2 / 3, abs=0.001)


def test_debug_shows_traceback(runner, imported):
    result = runner.invoke(
        cli, ["--debug", "analytics", "show", "--since", "nonsense", "--project", str(imported)]
    )
    assert result.exit_code != 0
    assert result.exception is not None


def test_version(runner):
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert "phaser" in result.output


def test_project_found_from_a_subdirectory(runner, imported, monkeypatch):
    sub = imported / "src" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    result = run(runner, "show", "--format", "json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["executions"]) == 1


def test_clear_then_import(runner, imported, example_report):
    assert run(runner, "clear", "--all", "--force", "--project", imported).exit_code == 0
    result = run(runner, "import", example_report, "--project", imported)
    assert "✓ Imported: document-7-reverse.md" in result.output


def test_example_report_is_shipped_and_the_console_script_installed():
    """The `phaser` of this interpreter's environment, not whatever PATH finds: the README's
    test command runs with a minimal PATH that holds no venv."""
    assert EXAMPLE_REPORT.is_file()
    assert console_script("phaser") is not None, f"no phaser script in {script_dirs()}"


def test_global_views_label_each_execution_with_its_registered_project(runner, tmp_path):
    for name, day in (("alpha", "04"), ("beta", "05")):
        directory = tmp_path / name
        report = write_report(
            directory / "r", document=f"{name}.md", started=f"2024-12-{day}T10:00:00Z"
        )
        text = report.read_text(encoding="utf-8")
        report.write_text(text.replace("| Project | Phaser |", f"| Project | {name} |"))
        assert run(runner, "import", report, "--project", directory).exit_code == 0
    payload = json.loads(run(runner, "show", "--global", "--format", "json").output)
    assert payload["project"] is None
    assert {p["name"] for p in payload["projects"]} == {"alpha", "beta"}
    labelled = {e["audit_document"]: e["project"] for e in payload["executions"]}
    assert labelled["alpha.md"] == {"name": "alpha", "path": str((tmp_path / "alpha").resolve())}
    # the report's own project path is kept as written
    assert payload["executions"][0]["project_path"] == "/Users/jp/Projects/Phaser"
    table = run(runner, "show", "--global").output
    assert "Project" in table and "alpha" in table and "beta" in table


@pytest.fixture
def seven(runner, project, tmp_path):
    """Seven executions, Dec 1–7: the two oldest failed, the five newest succeeded."""
    reports = tmp_path / "seven"
    for day in range(1, 8):
        write_report(
            reports / f"r{day}",
            document=f"document-{day}.md",
            started=f"2024-12-0{day}T10:00:00Z",
            result="❌ Failed" if day <= 2 else "✅ All phases completed",
        )
    result = run(runner, "import", reports, "--recursive", "--project", project)
    assert result.exit_code == 0, result.output
    return project


class TestGatesJudgeEveryMatch:
    """Issue 14 item 2: --last is what is shown; the gates judge every execution matched."""

    def test_fail_under_judges_more_than_the_five_shown(self, runner, seven):
        result = run(runner, "show", "--fail-under", "80%", "--project", seven)
        assert result.exit_code == 1, result.output
        assert "success rate 71% is below 80% (7 executions judged)" in result.output
        assert "Last 5 Executions" in result.output  # the table still shows five

    def test_fail_under_with_since_judges_and_shows_every_match(self, runner, seven):
        result = run(runner, "show", "--since", "2024-12-02", "--fail-under", "90%",
                     "--format", "json", "--project", seven)  # fmt: skip
        assert result.exit_code == 1
        payload = json.loads(result.stdout)
        assert len(payload["executions"]) == 6  # no default --last 5 with a date filter
        assert "(6 executions judged)" in result.stderr

    def test_a_passing_gate_says_what_it_judged(self, runner, seven):
        result = run(runner, "show", "--since", "2024-12-03", "--fail-under", "80%",
                     "--project", seven)  # fmt: skip
        assert result.exit_code == 0
        assert "CI gate: success rate 100% is at least 80% (5 executions judged)." in (
            result.stderr
        )

    def test_ci_exit_code_judges_every_match(self, runner, seven):
        result = run(runner, "show", "--last", "3", "--ci-exit-code", "--project", seven)
        assert result.exit_code == 1
        assert "2 failed and 0 partial execution(s) (7 executions judged)" in result.stderr

    def test_ci_minimal_counts_every_match(self, runner, seven):
        result = run(runner, "show", "--ci-minimal", "--project", seven)
        payload = json.loads(result.stdout)
        stats = payload.get("stats", payload)
        assert stats["total_executions"] == 7

    def test_an_explicit_last_still_limits_what_a_date_filter_shows(self, runner, seven):
        result = run(runner, "show", "--since", "2024-12-01", "--last", "2",
                     "--format", "json", "--project", seven)  # fmt: skip
        assert len(json.loads(result.stdout)["executions"]) == 2

    def test_until_alone_lifts_the_default_limit(self, runner, seven):
        result = run(runner, "show", "--until", "2024-12-07", "--format", "json",
                     "--project", seven)  # fmt: skip
        assert len(json.loads(result.stdout)["executions"]) == 7


class TestNothingMatches:
    """Issue 14 item 13: data that the filters exclude is not "no data"."""

    def test_filters_that_match_nothing_say_so(self, runner, seven):
        result = run(runner, "show", "--status", "partial", "--project", seven)
        assert result.exit_code == 0
        assert result.output.strip() == "No executions match --status partial."
        assert "No analytics data found" not in result.output

    def test_dates_that_match_nothing_name_the_dates(self, runner, seven):
        result = run(runner, "show", "--since", "2025-01-01", "--tz", "UTC", "--project", seven)
        assert result.stdout.strip() == "No executions match --since 2025-01-01 00:00."

    def test_an_empty_store_still_invites_an_import(self, runner, project):
        result = run(runner, "show", "--status", "failed", "--project", project)
        assert result.output.strip() == NO_DATA

    def test_since_after_until_warns(self, runner, seven):
        result = run(runner, "show", "--since", "2024-12-06", "--until", "2024-12-02",
                     "--tz", "UTC", "--project", seven)  # fmt: skip
        assert result.exit_code == 0
        assert result.stderr.startswith(
            "Warning: --since (2024-12-06T00:00+00:00) is after --until "
            "(2024-12-02T23:59+00:00): no execution can match."
        )
        assert "No executions match" in result.stdout
