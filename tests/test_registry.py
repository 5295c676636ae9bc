"""The global registry (spec §1.5.3, §4.5): imports register their project, --global
aggregates every registered project, vanished projects are reported once and pruned."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from storage_helpers import (
    json_store,
    make_record,
    run_cli_unprivileged,
    run_python,
)
from storage_helpers import no_fsync as no_fsync  # a fixture, used through pytestmark

from phaser_analytics.cli import cli
from phaser_analytics.errors import StorageError
from phaser_analytics.project_registry import (
    load_projects,
    phaser_home,
    prune_projects,
    register_project,
    registry_path,
)

pytestmark = pytest.mark.usefixtures("no_fsync")


def _project(root: Path, name: str, count: int) -> Path:
    """A project with ``count`` executions, registered as an import would."""
    path = root / name
    path.mkdir()
    records = [make_record(path, hours=i, project_name=name) for i in range(count)]
    json_store(path).save(records)
    register_project(path, name, count)
    return path


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["analytics", *args])


@pytest.fixture
def three(tmp_path: Path) -> dict[str, Path]:
    """Alpha (2 executions), Beta (3) and Gamma (1), Gamma since deleted."""
    projects = {name: _project(tmp_path, name, n) for name, n in [("alpha", 2), ("beta", 3)]}
    gamma = _project(tmp_path, "gamma", 1)
    shutil.rmtree(gamma)
    projects["gamma"] = gamma
    return projects


def test_phaser_home_defaults_to_dot_phaser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PHASER_HOME")
    assert phaser_home() == Path.home() / ".phaser"
    monkeypatch.setenv("PHASER_HOME", "")
    assert phaser_home() == Path.home() / ".phaser"


def test_phaser_home_comes_from_the_environment(isolated_home: Path) -> None:
    assert phaser_home() == isolated_home
    assert registry_path() == isolated_home / "projects.json"


def test_register_writes_the_spec_format(tmp_path: Path, isolated_home: Path) -> None:
    _project(tmp_path, "alpha", 2)
    data = json.loads((isolated_home / "projects.json").read_text())
    assert data["schema_version"] == "1.0"
    (entry,) = data["projects"]
    assert entry["name"] == "alpha"
    assert entry["path"] == str((tmp_path / "alpha").resolve())
    assert entry["execution_count"] == 2
    assert entry["last_seen"].endswith("Z")


def test_registering_again_updates_instead_of_duplicating(tmp_path: Path) -> None:
    path = _project(tmp_path, "alpha", 2)
    register_project(path, "alpha", 7)
    (entry,) = load_projects()
    assert entry.execution_count == 7


def test_cli_import_registers_the_project(
    project: Path, example_report: Path, isolated_home: Path
) -> None:
    result = _invoke("import", str(example_report), "--project", str(project))
    assert result.exit_code == 0, result.output
    (entry,) = load_projects()
    assert entry.path == str(project.resolve())
    assert entry.execution_count == 1


def test_global_show_aggregates_and_skips_a_vanished_project_once(
    three: dict[str, Path],
) -> None:
    result = CliRunner().invoke(
        cli, ["analytics", "show", "--global", "--last", "50", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    stdout, stderr = result.stdout, result.stderr
    data = json.loads(stdout)
    paths = [e["project_path"] for e in data["executions"]]
    assert sorted(paths) == sorted([str(three["alpha"])] * 2 + [str(three["beta"])] * 3)
    assert {p["name"] for p in data["projects"]} == {"alpha", "beta"}
    assert stderr.count("no longer exists") == 1
    assert "gamma" in stderr and "--prune" in stderr


@pytest.mark.parametrize("command", [["export", "--format", "json"], ["badge"]])
def test_global_export_and_badge(three: dict[str, Path], command: list[str]) -> None:
    result = CliRunner().invoke(cli, ["analytics", *command, "--global"])
    assert result.exit_code == 0, result.output
    if command[0] == "export":
        assert len(json.loads(result.stdout)["executions"]) == 5
    else:
        assert json.loads(result.stdout)["message"] == "100%"


def test_projects_lists_every_project_and_flags_the_missing(three: dict[str, Path]) -> None:
    result = _invoke("projects")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["NAME", "PATH", "LAST", "SEEN", "EXECUTIONS", "DIRECTORY"]
    rows = {line.split()[0]: line.split() for line in lines[1:4]}
    assert rows["alpha"][1] == str(three["alpha"].resolve())
    assert rows["alpha"][-2:] == ["2", "ok"]
    assert rows["beta"][-2:] == ["3", "ok"]
    assert rows["gamma"][-2:] == ["1", "missing"]
    assert "--prune" in lines[-1]


def test_projects_json(three: dict[str, Path]) -> None:
    data = json.loads(_invoke("projects", "--json").output)
    assert {p["name"]: p["exists"] for p in data["projects"]} == {
        "alpha": True,
        "beta": True,
        "gamma": False,
    }
    assert "removed" not in data


def test_projects_prune_removes_only_the_vanished(three: dict[str, Path]) -> None:
    result = _invoke("projects", "--prune")
    assert result.exit_code == 0, result.output
    assert "Removed 1 project(s)" in result.output
    assert f"gamma ({three['gamma'].resolve()})" in result.output
    assert sorted(p.name for p in load_projects()) == ["alpha", "beta"]
    data = json.loads(_invoke("projects", "--prune", "--json").output)
    assert data["removed"] == []


def test_projects_when_none_are_registered() -> None:
    result = _invoke("projects")
    assert result.exit_code == 0
    assert "No projects registered yet" in result.output


def test_clear_refreshes_the_registered_count(three: dict[str, Path]) -> None:
    result = _invoke("clear", "--all", "--force", "--project", str(three["beta"]))
    assert result.exit_code == 0, result.output
    counts = {p.name: p.execution_count for p in load_projects()}
    assert counts == {"alpha": 2, "beta": 0, "gamma": 1}


def test_clear_does_not_register_an_unregistered_project(project: Path) -> None:
    json_store(project).save([make_record(project)])
    _invoke("clear", "--all", "--force", "--project", str(project))
    assert load_projects() == []


def test_corrupt_registry_is_an_error_for_global_naming_the_file(
    three: dict[str, Path], isolated_home: Path
) -> None:
    (isolated_home / "projects.json").write_text("{nope")
    result = _invoke("show", "--global")
    assert result.exit_code == 1
    assert f"The project registry {isolated_home / 'projects.json'} is unreadable" in result.output
    with pytest.raises(StorageError):
        prune_projects()


def test_unusable_phaser_home_warns_and_the_import_succeeds(
    project: Path, example_report: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("PHASER_HOME", str(blocker))
    result = _invoke("import", str(example_report), "--project", str(project))
    assert result.exit_code == 0, result.output
    assert "could not update the project registry" in result.stderr
    assert "the import itself succeeded" in result.stderr
    assert len(list(json_store(project).find())) == 1


def test_read_only_phaser_home_warns_and_the_import_succeeds(
    project: Path, example_report: Path, isolated_home: Path
) -> None:
    isolated_home.chmod(0o555)
    try:
        result = run_cli_unprivileged(
            ["analytics", "import", str(example_report), "--project", str(project)],
            cwd=project,
            env={"PHASER_HOME": str(isolated_home)},
        )
    finally:
        isolated_home.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert "could not update the project registry" in result.stderr
    assert "Permission denied" in result.stderr
    assert len(list(json_store(project).find())) == 1
    assert not (isolated_home / "projects.json").exists()


def test_simultaneous_imports_all_register(tmp_path: Path, isolated_home: Path) -> None:
    def code(worker: int) -> str:
        return f"""
import sys
from pathlib import Path
from phaser_analytics.project_registry import register_project
for i in range(5):
    path = Path({str(tmp_path)!r}) / f"p{worker}-{{i}}"
    path.mkdir()
    register_project(path, path.name, i, warn=lambda m: sys.exit(m))
"""

    workers = [run_python(code(w), env={"PHASER_HOME": str(isolated_home)}) for w in range(6)]
    for worker in workers:
        assert worker.wait(timeout=120) == 0
    assert len(load_projects()) == 30


def test_registry_schema_fields_tolerate_missing_optional_keys(isolated_home: Path) -> None:
    (isolated_home / "projects.json").write_text(
        json.dumps({"schema_version": "1.0", "projects": [{"path": "/somewhere/app"}]})
    )
    (entry,) = load_projects()
    assert entry.name == "app"
    assert entry.last_seen is None
    assert entry.execution_count == 0


def test_imports_into_a_database_store_skip_the_registry_which_projects_still_lists(
    tmp_path: Path, isolated_home: Path
) -> None:
    """A store of many projects answers --global and ``projects`` itself: an import into
    one writes no registry (no lock, no fsync per import), yet ``projects`` lists its
    projects with the store's counts next to the registered ones, and --global sees them."""
    from report_factory import write_report

    db = f"sqlite:///{tmp_path / 'team.db'}"
    counts = {"alpha": 2, "beta": 1}
    for name, count in counts.items():
        directory = tmp_path / name
        directory.mkdir()
        for run in range(count):
            report = write_report(tmp_path / "reports" / f"{name}{run}", project_name=name,
                                  project_path=str(directory), document=f"d-{run}.md")
            result = _invoke("--store", db, "import", str(report), "--project", str(directory))
            assert result.exit_code == 0, result.output
    assert not registry_path().exists()
    registered = _project(tmp_path, "gamma", 3)  # a project of its own JSON store

    data = json.loads(_invoke("--store", db, "projects", "--format", "json").output)
    listed = {p["name"]: (p["path"], p["execution_count"], p["exists"], p["source"])
              for p in data["projects"]}
    assert listed == {
        "alpha": (str(tmp_path / "alpha"), 2, True, "store"),
        "beta": (str(tmp_path / "beta"), 1, True, "store"),
        "gamma": (str(registered.resolve()), 3, True, "registry"),
    }
    table = run_cli_unprivileged(["analytics", "--store", db, "projects"], cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    rows = {line.split()[0]: line.split() for line in table.stdout.splitlines()[1:]}
    assert rows["alpha"][-3:] == ["-", "2", "store"]  # known from the store alone
    assert rows["gamma"][-2:] == ["3", "ok"]
    shown = json.loads(_invoke("--store", db, "show", "--global", "--format", "json").output)
    assert sorted(e["project_name"] for e in shown["executions"]) == ["alpha", "alpha", "beta"]
    # Without the database store in force, the registry alone, as before.
    data = json.loads(_invoke("projects", "--format", "json").output)
    assert [p["name"] for p in data["projects"]] == ["gamma"]


def test_projects_lists_the_registry_when_the_database_store_cannot_be_read(
    tmp_path: Path, isolated_home: Path
) -> None:
    registered = _project(tmp_path, "gamma", 3)
    (tmp_path / "not-a-db").write_text("this is not SQLite\n" * 100, encoding="utf-8")
    result = _invoke("--store", f"sqlite:///{tmp_path / 'not-a-db'}", "projects", "--json")
    assert result.exit_code == 0, result.output
    assert [p["path"] for p in json.loads(result.stdout)["projects"]] == [
        str(registered.resolve())
    ]
    assert "the projects of the store in force are not listed" in result.stderr


@pytest.mark.parametrize("named_by", ["project config", "PHASER_STORE", "user config", "--store"])
def test_an_import_registers_its_project_unless_its_store_is_shared_between_projects(
    named_by: str, tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SQLite store named by the project's own config is inside that project and no
    command elsewhere opens it: an import into it registers the project, which
    ``projects`` (and ``--global``'s list) elsewhere then knows, with its count. A store
    named by ``--store``, ``PHASER_STORE`` or the user's config is shared: the registry
    is left alone, and ``projects`` with that store in force lists the project from it."""
    from report_factory import write_report

    project = tmp_path / "alpha"
    (project / ".phaser").mkdir(parents=True)
    shared = f"sqlite:///{tmp_path / 'team.db'}"
    option: list[str] = []
    if named_by == "project config":
        config = {"analytics": {"store": "sqlite:history.db"}}
        (project / ".phaser" / "config.json").write_text(json.dumps(config), encoding="utf-8")
    elif named_by == "user config":
        config = {"analytics": {"store": shared}}
        (isolated_home / "config.json").write_text(json.dumps(config), encoding="utf-8")
    elif named_by == "PHASER_STORE":
        monkeypatch.setenv("PHASER_STORE", shared)
    else:
        option = ["--store", shared]
    for run in range(2):
        report = write_report(tmp_path / "reports" / f"r{run}", project_name="alpha",
                              project_path=str(project), document=f"d-{run}.md")
        result = _invoke(*option, "import", str(report), "--project", str(project))
        assert result.exit_code == 0, result.output
    if named_by == "project config":
        assert (project / "history.db").is_file()
        (entry,) = load_projects()
        assert (entry.name, entry.path, entry.execution_count) == ("alpha", str(project), 2)
        elsewhere = run_cli_unprivileged(["analytics", "projects"], cwd=tmp_path)
        assert elsewhere.returncode == 0, elsewhere.stderr
        assert "No projects registered" not in elsewhere.stdout
        assert elsewhere.stdout.splitlines()[1].split()[:2] == ["alpha", str(project)]
        assert elsewhere.stdout.splitlines()[1].split()[-2:] == ["2", "ok"]
    else:
        assert not registry_path().exists()
        listed = json.loads(_invoke(*option, "projects", "--format", "json").output)
        assert [(p["name"], p["execution_count"]) for p in listed["projects"]] == [("alpha", 2)]


def test_projects_of_a_team_store_imported_elsewhere_are_not_missing_here(
    tmp_path: Path, isolated_home: Path
) -> None:
    """With a team's store in force, the projects CI runners imported (paths that are no
    directory here) are listed as known from the store: not counted missing, no advice to
    prune them (which would remove none); a registered project whose directory is gone
    still is, and --prune forgets it alone."""
    from phaser_analytics.stores import open_store

    db = f"sqlite:///{tmp_path / 'team.db'}"
    store = open_store(db)
    try:
        store.save([make_record("/home/runner/work/alpha", hours=1, project_name="alpha"),
                    make_record("/home/runner/work/beta", hours=2, project_name="beta")])
    finally:
        store.close()

    table = run_cli_unprivileged(["analytics", "--store", db, "projects"], cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    rows = {line.split()[0]: line.split() for line in table.stdout.splitlines()[1:]}
    assert rows["alpha"][-2:] == ["1", "store"] and rows["beta"][-2:] == ["1", "store"]
    assert "no longer exist" not in table.stdout and "--prune" not in table.stdout
    data = json.loads(_invoke("--store", db, "projects", "--format", "json").output)
    assert {(p["name"], p["source"], p["exists"]) for p in data["projects"]} == {
        ("alpha", "store", False), ("beta", "store", False)
    }

    gone = _project(tmp_path, "gamma", 1)
    shutil.rmtree(gone)
    table = _invoke("--store", db, "projects")
    assert table.exit_code == 0, table.output
    rows = {line.split()[0]: line.split() for line in table.stdout.splitlines()[1:]}
    assert rows["gamma"][-1] == "missing"
    assert "1 project(s) no longer exist; 'phaser analytics projects --prune'" in table.stdout
    pruned = _invoke("--store", db, "projects", "--prune")
    assert "Removed 1 project(s)" in pruned.stdout and "gamma" in pruned.stdout
    assert "no longer exist" not in pruned.stdout
    assert [p.name for p in load_projects()] == []
