"""``--global`` reads come from the store in force. The dashboard's change against the
previous period comes from the store the page's own executions came from: with ``--global``
over a database store (``--store``, ``PHASER_STORE``), the previous period is that database's
too, never the registry's JSON stores. The Python API's ``get_global_executions`` reads the
store in force as ``show --global`` does."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from report_factory import write_report

from phaser_analytics import AnalyticsQuery, get_global_executions
from phaser_analytics.cli import cli

NOW = datetime.now(timezone.utc).replace(microsecond=0)

#: (project, days ago, status): in the shown period (the last 14 days) three runs, one of
#: them failed; in the 14 days before, five runs, two of them failed.
RUNS = [
    ("alpha", 2, "success"),
    ("alpha", 5, "failed"),
    ("beta", 3, "success"),
    ("alpha", 16, "success"),
    ("alpha", 20, "failed"),
    ("beta", 17, "success"),
    ("beta", 22, "failed"),
    ("beta", 25, "success"),
]
SHOWN = [run for run in RUNS if run[1] < 14]
BEFORE = [run for run in RUNS if 14 < run[1] < 28]


def success_rate(runs: list[tuple[str, int, str]]) -> float:
    return sum(1 for run in runs if run[2] == "success") / len(runs)


def invoke(runner: CliRunner, *args: str, env: dict[str, str] | None = None) -> str:
    result = runner.invoke(cli, ["analytics", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def fill(runner: CliRunner, tmp_path: Path, *store: str) -> dict[str, Path]:
    """Import every run of RUNS into its project, in the store ``store`` names (``--store
    URL``, or nothing: each project's own JSON store, which registers it)."""
    projects = {name: tmp_path / name for name in ("alpha", "beta")}
    for number, (name, days, status) in enumerate(RUNS):
        project = projects[name]
        report = write_report(
            project / "reports" / f"run-{number:02d}",
            document=f"document-{number}.md",
            project_name=name.title(),
            project_path=str(project),
            started=NOW - timedelta(days=days),
            status=status,
            failed_phase=2 if status == "failed" else None,
        )
        invoke(runner, "import", str(report), "--project", str(project), *store)
    return projects


def changes(page: str) -> dict[str, str]:
    """Each headline card's change against the previous period (``data-change``)."""
    return dict(re.findall(r'class="card" data-key="([^"]+)">.*?data-change="([^"]*)"', page, re.S))


def assert_compared_with_the_database(page: str) -> None:
    change = changes(page)
    assert change["runs"] != "", "no comparison with the previous period"
    assert int(change["runs"]) == len(SHOWN) - len(BEFORE) == -2
    assert float(change["success_rate"]) == pytest.approx(
        success_rate(SHOWN) - success_rate(BEFORE)
    )
    assert "Change against the period of the same length before" in page


def export_global(runner: CliRunner, tmp_path: Path, *store: str) -> str:
    out = tmp_path / "all.html"
    invoke(runner, "export", "--format", "html", "--global", "--since", "14d", "--tz", "UTC",
           "-o", str(out), *store)  # fmt: skip
    return out.read_text(encoding="utf-8")


def test_global_compares_with_the_previous_period_of_the_sqlite_store(
    runner: CliRunner, tmp_path: Path
) -> None:
    store = ("--store", f"sqlite:///{tmp_path / 'all.db'}")
    fill(runner, tmp_path, *store)
    assert_compared_with_the_database(export_global(runner, tmp_path, *store))


def test_the_previous_period_never_mixes_in_the_registered_json_stores(
    runner: CliRunner, tmp_path: Path
) -> None:
    store = ("--store", f"sqlite:///{tmp_path / 'all.db'}")
    projects = fill(runner, tmp_path, *store)
    register_gamma(runner, tmp_path)
    # Alpha registered too, its own JSON store holding one of the previous period's runs.
    invoke(runner, "import", str(projects["alpha"] / "reports" / "run-03" / "EXECUTION_REPORT.md"),
           "--project", str(projects["alpha"]))  # fmt: skip
    assert_compared_with_the_database(export_global(runner, tmp_path, *store))


def test_one_project_compares_with_its_previous_period_in_the_store_given(
    runner: CliRunner, tmp_path: Path
) -> None:
    store = ("--store", f"sqlite:///{tmp_path / 'all.db'}")
    projects = fill(runner, tmp_path, *store)
    out = tmp_path / "alpha.html"
    invoke(runner, "export", "--format", "html", "--project", str(projects["alpha"]),
           "--since", "14d", "--tz", "UTC", "-o", str(out), *store)  # fmt: skip
    page = out.read_text(encoding="utf-8")
    shown = [run for run in SHOWN if run[0] == "alpha"]
    before = [run for run in BEFORE if run[0] == "alpha"]
    assert int(changes(page)["runs"]) == len(shown) - len(before) == 0
    assert float(changes(page)["success_rate"]) == pytest.approx(
        success_rate(shown) - success_rate(before)
    )


def test_phaser_store_as_a_real_process(runner: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'all.db'}"
    fill(runner, tmp_path, "--store", url)
    out = tmp_path / "all.html"
    env = {**os.environ, "PHASER_STORE": url}
    result = subprocess.run(
        [sys.executable, "-m", "phaser_analytics", "analytics", "export", "--format", "html",
         "--global", "--since", "14d", "--tz", "UTC", "--output", str(out)],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert_compared_with_the_database(out.read_text(encoding="utf-8"))


def test_global_compares_with_the_previous_period_of_the_postgresql_store(
    runner: CliRunner, tmp_path: Path, pg_url: str
) -> None:
    fill(runner, tmp_path, "--store", pg_url)
    assert_compared_with_the_database(export_global(runner, tmp_path, "--store", pg_url))


def register_gamma(runner: CliRunner, tmp_path: Path) -> Path:
    """A project registered by an import into its own JSON store, with executions in the
    previous period that no database holds."""
    other = tmp_path / "gamma"
    for days in (15, 18, 19):
        report = write_report(other / "reports" / f"run-{days}", document=f"gamma-{days}.md",
                              project_name="Gamma", project_path=str(other),
                              started=NOW - timedelta(days=days))  # fmt: skip
        invoke(runner, "import", str(report), "--project", str(other))
    assert "Gamma" in invoke(runner, "projects")
    return other


def test_get_global_executions_reads_the_store_phaser_store_names(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'all.db'}"
    fill(runner, tmp_path, "--store", url)
    register_gamma(runner, tmp_path)
    monkeypatch.chdir(tmp_path)
    # No store in force: the registry's projects, that is Gamma's own JSON store.
    assert {name for name, _ in get_global_executions(AnalyticsQuery())} == {"Gamma"}
    monkeypatch.setenv("PHASER_STORE", url)
    pairs = get_global_executions(AnalyticsQuery())
    assert sorted((name, r.audit_document) for name, r in pairs) == sorted(
        (name.title(), f"document-{number}.md") for number, (name, _, _) in enumerate(RUNS)
    )
    starts = [r.started_at for _, r in pairs]
    assert starts == sorted(starts, reverse=True)  # newest first
    recent = get_global_executions(AnalyticsQuery(since=NOW - timedelta(days=14)))
    assert len(recent) == len(SHOWN)


def with_own_sqlite_store(runner: CliRunner, tmp_path: Path) -> Path:
    """Alpha, whose own config names a SQLite store inside it: its imports go there (and
    register it, as nothing run elsewhere would open that store)."""
    alpha = tmp_path / "alpha"
    (alpha / ".phaser").mkdir(parents=True)
    (alpha / ".phaser" / "config.json").write_text(
        '{"analytics": {"store": "sqlite:history.db"}}', encoding="utf-8"
    )
    for number, (name, days, status) in enumerate(RUNS):
        if name != "alpha":
            continue
        report = write_report(alpha / "reports" / f"run-{number:02d}",
                              document=f"document-{number}.md", project_name="Alpha",
                              project_path=str(alpha), started=NOW - timedelta(days=days),
                              status=status)  # fmt: skip
        invoke(runner, "import", str(report), "--project", str(alpha))
    assert (alpha / "history.db").is_file()
    assert not (alpha / ".phaser" / "analytics").exists()
    return alpha


ALPHA = sorted(f"document-{n}.md" for n, run in enumerate(RUNS) if run[0] == "alpha")
GAMMA = [f"gamma-{days}.md" for days in (15, 18, 19)]


@pytest.mark.parametrize("where", ["alpha", "gamma", "elsewhere"])
def test_global_reads_each_registered_project_from_the_store_its_config_names(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """With no store shared between projects in force, ``--global`` is every registered
    project, each read from its own store: Alpha's SQLite store (its config names it) and
    Gamma's JSON store; the same set wherever it runs, Alpha's own directory included."""
    alpha = with_own_sqlite_store(runner, tmp_path)
    register_gamma(runner, tmp_path)
    cwd = {"alpha": alpha, "gamma": tmp_path / "gamma", "elsewhere": tmp_path}[where]
    monkeypatch.chdir(cwd)
    pairs = get_global_executions(AnalyticsQuery())
    assert sorted(r.audit_document for _, r in pairs) == sorted(ALPHA + GAMMA)
    assert {name for name, _ in pairs} == {"Alpha", "Gamma"}
    shown = json.loads(invoke(runner, "show", "--global", "--last", "100", "--format", "json"))
    assert sorted(e["audit_document"] for e in shown["executions"]) == sorted(ALPHA + GAMMA)
    assert shown["stats"]["total_executions"] == len(ALPHA) + len(GAMMA)


def test_global_reads_a_project_config_store_as_a_real_process(
    runner: CliRunner, tmp_path: Path
) -> None:
    alpha = with_own_sqlite_store(runner, tmp_path)
    register_gamma(runner, tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "phaser_analytics", "analytics", "show", "--global",
         "--last", "100", "--format", "json"],
        capture_output=True, text=True, timeout=120, env=dict(os.environ), cwd=alpha,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)["executions"]
    assert sorted(e["audit_document"] for e in shown) == sorted(ALPHA + GAMMA)


def test_a_registered_projects_bad_config_skips_that_project_only(
    runner: CliRunner, tmp_path: Path
) -> None:
    """A cloned repository's config naming no usable store is one warning, and every other
    registered project is still shown."""
    alpha = with_own_sqlite_store(runner, tmp_path)
    register_gamma(runner, tmp_path)
    (alpha / ".phaser" / "config.json").write_text('{"analytics": {"store": 5}}',
                                                   encoding="utf-8")
    result = runner.invoke(cli, ["analytics", "show", "--global", "--last", "100", "--format",
                                 "json", "--project", str(tmp_path / "gamma")])  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)["executions"]
    assert sorted(e["audit_document"] for e in shown) == GAMMA
    assert "project 'Alpha'" in result.stderr and "skipped" in result.stderr


def test_global_never_creates_the_store_a_registered_projects_config_names(
    runner: CliRunner, tmp_path: Path
) -> None:
    alpha = with_own_sqlite_store(runner, tmp_path)
    register_gamma(runner, tmp_path)
    (alpha / ".phaser" / "config.json").write_text(
        '{"analytics": {"store": "sqlite:sub/none.db"}}', encoding="utf-8"
    )
    before = sorted(p.relative_to(alpha) for p in alpha.rglob("*"))
    shown = json.loads(invoke(runner, "show", "--global", "--last", "100", "--format", "json",
                              "--project", str(tmp_path / "gamma")))  # fmt: skip
    assert sorted(e["audit_document"] for e in shown["executions"]) == GAMMA
    assert sorted(p.relative_to(alpha) for p in alpha.rglob("*")) == before


def test_global_reads_the_store_the_users_config_shares_from_a_project_with_its_own(
    runner: CliRunner, tmp_path: Path, isolated_home: Path
) -> None:
    """Your own config's store is the one --global reads, also in a project whose config
    names a store of its own (that store is the project's, not a shared one)."""
    alpha = with_own_sqlite_store(runner, tmp_path)
    shared = f"sqlite:///{tmp_path / 'shared.db'}"
    beta = tmp_path / "beta"
    report = write_report(beta / "reports" / "r", document="beta.md", project_name="Beta",
                          project_path=str(beta), started=NOW - timedelta(days=1))  # fmt: skip
    invoke(runner, "import", str(report), "--project", str(beta), "--store", shared)
    (isolated_home / "config.json").write_text(
        json.dumps({"analytics": {"store": shared}}), encoding="utf-8"
    )
    for where in (alpha, beta, tmp_path):
        shown = json.loads(invoke(runner, "show", "--global", "--format", "json",
                                  "--project", str(where)))  # fmt: skip
        assert [e["audit_document"] for e in shown["executions"]] == ["beta.md"], where
        pairs = get_global_executions(AnalyticsQuery(), project_dir=where)
        assert [r.audit_document for _, r in pairs] == ["beta.md"]
