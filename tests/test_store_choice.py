"""Which store a command uses: --store (before or after the subcommand), PHASER_STORE,
config analytics.store (the project's beats yours, and may only name a store inside the
project), else the project's JSON store; unknown schemes, passwords, plugins' schemes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from storage_helpers import make_record

from phaser_analytics import hookimpl
from phaser_analytics.cli import cli
from phaser_analytics.plugins import build_host, set_host
from phaser_analytics.stores import open_store
from phaser_analytics.stores.base import redact, resolve_store_url


def _info(project: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(
        cli,
        ["analytics", *args, "store", "info", "--json", "--project", str(project)],
        env=env,
    )


def _config(directory: Path, value: object) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps({"analytics": {"store": value}}))


def test_nothing_set_is_the_projects_json_store(project: Path) -> None:
    result = _info(project)
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["backend"] == "json"
    assert info["location"] == str(project / ".phaser" / "analytics")
    assert not (project / ".phaser").exists()  # store info writes nothing


def test_the_store_option_beats_the_environment_which_beats_config(
    project: Path, tmp_path: Path, isolated_home: Path
) -> None:
    _config(project / ".phaser", "sqlite:from-config.db")
    env_db, flag_db = tmp_path / "env.db", tmp_path / "flag.db"
    assert json.loads(_info(project).stdout)["location"] == (
        f"sqlite:///{(project / 'from-config.db').resolve()}"
    )
    env = {"PHASER_STORE": f"sqlite:///{env_db}"}
    assert json.loads(_info(project, env=env).stdout)["location"] == f"sqlite:///{env_db}"
    both = _info(project, "--store", f"sqlite:///{flag_db}", env=env)
    assert json.loads(both.stdout)["location"] == f"sqlite:///{flag_db}"


def test_the_projects_config_beats_yours(project: Path, isolated_home: Path) -> None:
    _config(isolated_home, str(project / "mine"))
    assert json.loads(_info(project).stdout)["location"] == str(project / "mine")
    _config(project / ".phaser", "team-store")
    assert json.loads(_info(project).stdout)["location"] == str(
        (project / "team-store").resolve()
    )


@pytest.mark.parametrize(
    "value",
    ["/tmp/elsewhere", "../outside", "sqlite:///etc/passwd", "sqlite:../x.db", "file:///tmp/x",
     "postgresql://db.example.com/team"],
)  # fmt: skip
def test_a_projects_config_may_only_name_a_store_inside_it(project: Path, value: str) -> None:
    _config(project / ".phaser", value)
    result = _info(project)
    assert result.exit_code != 0
    assert result.stderr.count("\n") == 1 and "analytics.store" in result.stderr
    assert not (project / ".phaser" / "analytics").exists()


def test_your_config_may_name_any_store(project: Path, tmp_path: Path, isolated_home) -> None:
    _config(isolated_home, f"sqlite:///{tmp_path / 'everything.db'}")
    assert json.loads(_info(project).stdout)["backend"] == "sqlite"


def test_an_unknown_scheme_lists_the_installed_ones_and_hides_the_password(
    project: Path,
) -> None:
    result = _info(project, "--store", "nosuch://alice:s3cret@db.example.com/team")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: Unknown store scheme 'nosuch' in nosuch://alice:***@db.example.com/team; "
        "installed schemes: file, postgres, postgresql, sqlite.\n"
    )
    assert "s3cret" not in result.output


def test_redact() -> None:
    assert redact("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"
    assert redact("sqlite:///a/b.db") == "sqlite:///a/b.db"


def test_a_plain_directory_is_a_json_store(project: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared-store"
    result = CliRunner().invoke(
        cli,
        ["analytics", "--store", str(shared), "import",
         str(Path(__file__).parent.parent / "examples" / "EXECUTION_REPORT.md"),
         "--project", str(project)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(list((shared / "executions").glob("*.json"))) == 1
    assert json.loads((shared / "index.json").read_text())["execution_count"] == 1
    assert not (project / ".phaser" / "analytics").exists()
    same = open_store(f"file://{shared}", project_dir=project)
    assert same.info().count == 1


def test_resolve_store_url_reads_the_environment(project: Path, monkeypatch) -> None:
    monkeypatch.setenv("PHASER_STORE", "sqlite:x.db")
    assert resolve_store_url(None, project) == "sqlite:x.db"
    assert resolve_store_url("sqlite:y.db", project) == "sqlite:y.db"
    monkeypatch.delenv("PHASER_STORE")
    assert resolve_store_url(None, project) is None


class _MemoryStore:
    """A store of a plugin's scheme: the built-in JSON store in a directory named by it."""

    def __init__(self, url: str, project_dir: Path | None, warn: Any) -> None:
        from phaser_analytics.stores.json_files import JsonStore

        inner = JsonStore.from_url(url.removeprefix("memo://"), warn=warn)
        self.__dict__["inner"] = inner
        self.url = url
        self.backend = "memo"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["inner"], name)


class _MemoPlugin:
    @hookimpl
    def register_stores(self, register: Any) -> None:
        register("memo", lambda url, *, project_dir=None, warn=None: _MemoryStore(
            url, project_dir, warn))  # fmt: skip


def test_a_plugins_scheme_is_used_like_a_built_in_one(project: Path, tmp_path: Path) -> None:
    set_host(build_host([("memo", _MemoPlugin())]))
    url = f"memo://{tmp_path / 'memo'}"
    store = open_store(url, project_dir=project)
    store.save([make_record(project)])
    result = CliRunner().invoke(
        cli, ["analytics", "--store", url, "show", "--format", "json", "--project", str(project)]
    )
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["executions"]) == 1
    listed = CliRunner().invoke(cli, ["analytics", "plugins"])
    assert "stores: memo" in listed.output and "stores: file, sqlite" in listed.output


class _Clashing:
    @hookimpl
    def register_stores(self, register: Any) -> None:
        register("sqlite", lambda url, **options: pytest.fail("the plugin's sqlite was used"))


class _Raising:
    @hookimpl
    def register_stores(self, register: Any) -> None:
        raise RuntimeError("boom")


def test_a_plugin_cannot_take_a_built_in_scheme(project: Path, tmp_path: Path) -> None:
    warnings: list[str] = []
    set_host(build_host([("clash", _Clashing())], warn=warnings.append))
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}", project_dir=project)
    assert store.info().backend == "sqlite"
    listed = CliRunner().invoke(cli, ["analytics", "plugins"])
    assert "registered by both" in listed.output + listed.stderr


def test_a_plugin_whose_registration_raises_is_its_own_problem(project: Path) -> None:
    set_host(build_host([("raising", _Raising())]))
    assert open_store(None, project_dir=project).info().backend == "json"
    listed = CliRunner().invoke(cli, ["analytics", "plugins"])
    assert "failed while registering its stores (RuntimeError: boom)" in (
        listed.output + listed.stderr
    )


@pytest.mark.parametrize(
    ("url", "path"),
    [("sqlite:///a/b.db", "/a/b.db"), ("sqlite:////a/b.db", "/a/b.db"),
     ("sqlite:rel/x.db", "rel/x.db")],
)  # fmt: skip
def test_sqlite_urls(url: str, path: str) -> None:
    from phaser_analytics.stores.sqlite import path_of

    assert str(path_of(url)) == path


@pytest.mark.parametrize("url", ["sqlite://host/x.db", "sqlite:", "sqlite:///"])
def test_bad_sqlite_urls_are_one_line(project: Path, url: str) -> None:
    result = _info(project, "--store", url)
    assert result.exit_code == 1 and result.stderr.startswith("Error: Bad SQLite store URL")


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_a_sqlite_database_named_as_a_plain_path_is_refused_with_its_url(
    project: Path, tmp_path: Path
) -> None:
    """A bare path is a JSON store's directory: a SQLite database named so once read as an
    empty store, and `store migrate --from history.db` copied nothing and said 'Verified'."""
    db = tmp_path / "history.db"
    report = Path(__file__).parent.parent / "examples" / "EXECUTION_REPORT.md"
    made = CliRunner().invoke(
        cli, ["analytics", "--store", f"sqlite:///{db}", "import", str(report),
              "--project", str(project)])  # fmt: skip
    assert made.exit_code == 0, made.output
    before = _tree(tmp_path)
    for args in (
        ["--store", str(db), "show", "--project", str(project)],
        ["--store", str(db), "store", "info", "--project", str(project)],
        ["store", "migrate", "--from", str(db), "--to", f"sqlite:///{tmp_path / 'copy.db'}"],
    ):
        result = CliRunner().invoke(cli, ["analytics", *args])
        assert result.exit_code == 1, (args, result.output)
        assert result.stderr == (
            f"Error: The store {db} is a SQLite database, not a JSON store's directory: "
            f"name it sqlite:///{str(db).lstrip('/')}.\n"
        ), args
    assert _tree(tmp_path) == before  # nothing created, nothing changed
    # The URL it names is the store.
    named = CliRunner().invoke(
        cli, ["analytics", "--store", f"sqlite:///{str(db).lstrip('/')}", "store", "info",
              "--json", "--project", str(project)])  # fmt: skip
    assert named.exit_code == 0 and json.loads(named.stdout)["count"] == 1


@pytest.mark.parametrize("link", [False, True])
def test_a_file_named_as_a_store_is_refused(project: Path, tmp_path: Path, link: bool) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("not a store\n")
    named = target
    if link:
        named = tmp_path / "link"
        named.symlink_to(target)
    before = _tree(tmp_path)
    for command in (["show"], ["import", str(Path(__file__).parent.parent / "examples")]):
        result = CliRunner().invoke(
            cli, ["analytics", "--store", str(named), *command, "--project", str(project)]
        )
        assert result.exit_code == 1, result.output
        assert result.stderr == (
            f"Error: The store {named} is a file, not a directory: a JSON store is a "
            "directory (a SQLite database is named sqlite:///path.db).\n"
        )
    assert _tree(tmp_path) == before
