"""End to end, as a user runs it: the real ``phaser`` executable, real plugin
distributions pip-installed into a throwaway virtual environment (spec §14.2
TestIntegration)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from console import phaser_command

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_REPORT = REPO / "examples" / "EXECUTION_REPORT.md"
PLUGINS = REPO / "plugins"


def phaser(*args, cwd: Path, env: dict | None = None, python: Path | None = None, input=None):
    command = [str(python), "-m", "phaser_analytics"] if python else phaser_command()
    return subprocess.run(
        [*command, *map(str, args)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        input=input,
        timeout=120,
    )


def copy_report(target_dir: Path, *, document: str | None = None, started: str | None = None):
    text = EXAMPLE_REPORT.read_text(encoding="utf-8")
    if document:
        text = text.replace("document-7-reverse.md", document)
    if started:
        text = text.replace("2024-12-06T10:30:00Z", started)
    target_dir.mkdir(parents=True, exist_ok=True)
    path = target_dir / "EXECUTION_REPORT.md"
    path.write_text(text, encoding="utf-8")
    return path


class TestIntegration:
    def test_full_workflow_import_query_export(self, project):
        report = copy_report(project)
        imported = phaser("analytics", "import", report, cwd=project)
        assert imported.returncode == 0, imported.stderr
        assert "✓ Imported: document-7-reverse.md" in imported.stdout

        shown = phaser("analytics", "show", cwd=project)
        assert shown.returncode == 0, shown.stderr
        assert "document-7-reverse.md" in shown.stdout
        assert shown.stdout.splitlines()[0].startswith("╭")

        exported = phaser("analytics", "export", "--format", "json", cwd=project)
        payload = json.loads(exported.stdout)
        assert payload["stats"]["success_rate"] == 1.0
        assert payload["executions"][0]["phases"][0]["phase_number"] == 36

        csv_out = project / "metrics.csv"
        phaser("analytics", "export", "--format", "csv", "--output", csv_out, cwd=project)
        assert csv_out.read_text(encoding="utf-8").count("\n") == 2

        badge = phaser("analytics", "badge", "--format", "shields-io", cwd=project)
        assert json.loads(badge.stdout)["message"] == "100%"

    def test_import_after_execute(self, project):
        """A Phaser run leaves EXECUTION_REPORT.md in the project root: importing the
        project directory itself finds it, and a second import skips it."""
        copy_report(project)
        first = phaser("analytics", "import", ".", cwd=project)
        assert first.returncode == 0, first.stderr
        assert "Imported 1 execution(s)." in first.stdout
        second = phaser("analytics", "import", ".", cwd=project)
        assert "Already imported: document-7-reverse.md" in second.stdout
        assert "Imported 0 execution(s), 1 already imported." in second.stdout

    def test_clear_then_import(self, project):
        report = copy_report(project)
        phaser("analytics", "import", report, cwd=project)
        cleared = phaser("analytics", "clear", "--all", "--force", cwd=project)
        assert "Deleted 1 execution records." in cleared.stdout
        again = phaser("analytics", "import", report, cwd=project)
        assert "✓ Imported: document-7-reverse.md" in again.stdout

    def test_global_aggregation(self, tmp_path):
        projects = []
        for index, name in enumerate(("alpha", "beta")):
            directory = tmp_path / name
            report = copy_report(
                directory / "reports",
                document=f"{name}.md",
                started=f"2024-12-0{index + 1}T10:00:00Z",
            )
            result = phaser("analytics", "import", report, cwd=directory)
            assert result.returncode == 0, result.stderr
            projects.append(directory)
        shutil.rmtree(projects[1])

        shown = phaser("analytics", "show", "--global", "--format", "json", cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        payload = json.loads(shown.stdout)
        assert [e["audit_document"] for e in payload["executions"]] == ["alpha.md"]
        assert "beta" in shown.stderr and "no longer exists" in shown.stderr

    def test_bad_input_is_one_line_without_traceback(self, project):
        result = phaser("analytics", "show", "--since", "soon", cwd=project)
        assert result.returncode == 2
        assert result.stderr == "Error: Invalid date format. Use ISO format: YYYY-MM-DD\n"

    @pytest.mark.skipif(sys.platform == "win32", reason="uses a POSIX pseudo-terminal")
    def test_clear_asks_on_a_terminal(self, project):
        import pty

        phaser("analytics", "import", copy_report(project), cwd=project)
        command = [*phaser_command(), "analytics", "clear", "--all"]
        pid, fd = pty.fork()
        if pid == 0:  # the child: run phaser on the terminal
            os.chdir(project)
            os.execvpe(command[0], command, os.environ)
        output = b""
        while b"[y/N]" not in output:
            output += os.read(fd, 1024)
        os.write(fd, b"y\n")
        try:
            while chunk := os.read(fd, 1024):
                output += chunk
        except OSError:
            pass  # the terminal closes when phaser exits
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert b"Delete 1 execution records?" in output
        assert b"Deleted 1 execution records." in output


@pytest.mark.skipif(sys.platform == "win32", reason="uses a POSIX pseudo-terminal")
def test_a_batch_shows_a_progress_bar_on_a_terminal(project):
    import pty

    for index in range(8):
        copy_report(project / "reports" / str(index), document=f"d{index}.md")
    command = [*phaser_command(), "analytics", "import", "reports", "--recursive"]
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdout and stderr are the terminal
        os.chdir(project)
        os.execvpe(command[0], command, os.environ)
    output = b""
    try:
        while chunk := os.read(fd, 4096):
            output += chunk
    except OSError:
        pass  # the terminal closes when phaser exits
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"Importing" in output
    assert b"Imported 8 execution(s)." in output


def _throwaway_venv(path: Path) -> Path:
    """A virtual environment that sees this environment's packages (phaser-analytics and
    its dependencies) through a .pth file, so nothing is downloaded."""
    venv.create(path, with_pip=False)
    python = path / ("Scripts" if sys.platform == "win32" else "bin") / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    parents = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    # addsitedir, not a bare path: the parent's own .pth files (an editable install of
    # phaser-analytics among them) must be processed too.
    lines = [f"import site; site.addsitedir({parent!r})" for parent in parents]
    Path(site, "_parent_env.pth").write_text("\n".join(lines) + "\n")
    return python


def _pip_install(python: Path, *distributions: Path) -> None:
    result = subprocess.run(
        [
            sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
            "--no-deps", "--no-build-isolation", "--no-index", *map(str, distributions),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_third_party_plugin_distribution_end_to_end(tmp_path):
    """pip-install plugins/phaser-analytics-tsv (and a broken plugin) into a fresh venv:
    the new format and dialect work through the CLI, the broken one is one line."""
    python = _throwaway_venv(tmp_path / "venv")
    # pip builds a source tree in place (build/, *.egg-info): build copies, not the checkout.
    sources = tmp_path / "plugins"
    for name in ("phaser-analytics-tsv", "phaser-analytics-broken"):
        shutil.copytree(PLUGINS / name, sources / name)
    _pip_install(python, sources / "phaser-analytics-tsv", sources / "phaser-analytics-broken")
    project = tmp_path / "project"
    logs = project / "logs" / "run-1"
    logs.mkdir(parents=True)
    (logs / "PHASER_RUN.log").write_text(
        "phaser-run-log\n"
        "document: audit-9.md\n"
        "project: Demo\n"
        "started: 2025-01-03T10:00:00Z\n"
        "completed: 2025-01-03T10:30:00Z\n"
        "result: success\n"
        "tests: 10 -> 14\n",
        encoding="utf-8",
    )
    copy_report(project / "logs" / "run-0")

    listed = phaser("analytics", "plugins", "--json", cwd=project, python=python)
    assert listed.returncode == 0, listed.stderr
    payload = json.loads(listed.stdout)
    tsv = next(p for p in payload["plugins"] if p["name"] == "tsv")
    assert tsv["distribution"] == "phaser-analytics-tsv" and tsv["version"] == "0.1.0"
    assert tsv["renderers"] == ["tsv"] and tsv["dialects"] == ["runlog"]
    assert payload["failed"][0]["distribution"] == "phaser-analytics-broken"
    warning_lines = [line for line in listed.stderr.splitlines() if "broken" in line]
    assert len(warning_lines) == 1 and "failed to load" in warning_lines[0]

    helped = phaser("analytics", "export", "--help", cwd=project, python=python)
    assert "tsv" in helped.stdout

    imported = phaser("analytics", "import", "logs", "--recursive", cwd=project, python=python)
    assert imported.returncode == 0, imported.stderr
    assert "✓ Imported: audit-9.md" in imported.stdout
    assert "✓ Imported: document-7-reverse.md" in imported.stdout

    exported = phaser("analytics", "export", "--format", "tsv", cwd=project, python=python)
    assert exported.returncode == 0, exported.stderr
    rows = [line.split("\t") for line in exported.stdout.strip().splitlines()]
    assert rows[0][:2] == ["execution_id", "audit_document"]
    by_document = {row[1]: row for row in rows[1:]}
    assert by_document["audit-9.md"][3:] == ["success", "1800.0", "4"]
    assert by_document["document-7-reverse.md"][3] == "success"
