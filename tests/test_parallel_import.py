"""A bulk import parses in worker processes while one process stores: the records are the
same as a one-process import's, and so is everything the command says."""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from report_factory import DAY0, write_report
from store_backends import BACKENDS, Backend

from phaser_analytics import hookimpl, pipeline
from phaser_analytics.cli import cli
from phaser_analytics.plugins import build_host, set_host
from phaser_analytics.stores import open_store
from phaser_analytics.stores.base import redact

pytestmark = pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="workers are forked"
)

#: Ids and import times differ between any two imports; everything else must not.
VARYING = ("execution_id", "imported_at")


def _reports(root: Path, count: int) -> Path:
    for number in range(count):
        write_report(
            root / f"run-{number:03d}",
            document=f"document-{number % 7}.md",
            started=DAY0 + timedelta(hours=number),
            status=("success", "partial", "failed")[number % 3],
            failed_phase=2 if number % 3 == 2 else None,
            tokens=1000 + number if number % 2 else None,
        )
    (root / "run-bad").mkdir()
    (root / "run-bad" / "EXECUTION_REPORT.md").write_text("no metadata here\n")
    return root


class _NotingPid:
    """A plugin whose ``enrich_record`` notes which process read each report (it runs
    where the report is parsed, in the forked workers too) and adds nothing."""

    def __init__(self, pids: Path) -> None:
        self.pids = pids

    @hookimpl
    def enrich_record(self, record: Any, source: Any) -> None:
        with self.pids.open("a") as handle:
            handle.write(f"{os.getpid()}\n")


@pytest.fixture
def pids(tmp_path: Path) -> Iterator[Path]:
    """The file every process that parses a report writes its id to, one a line."""
    noted = tmp_path / "pids"
    noted.write_text("")
    set_host(build_host([("noting_pid", _NotingPid(noted))]))
    yield noted
    set_host(None)


def _stored(url: str | None, project: Path) -> list[dict[str, Any]]:
    store = open_store(url, project_dir=project)
    records = [r.to_dict() for r in store.read(store.find())]
    for record in records:
        for name in VARYING:
            record.pop(name)
        # Each run imports into a project of its own; a store of many projects files the
        # executions under it (the path the reports state is kept in extra).
        if record["project_path"] == str(project.resolve()):
            record["project_path"] = "<project>"
    return sorted(records, key=lambda r: (r["started_at"], r["audit_document"]))


@pytest.mark.parametrize("backend", BACKENDS, ids=str)
def test_workers_store_the_same_records_as_one_process(
    tmp_path: Path, backend: Backend, pids: Path
) -> None:
    reports = _reports(tmp_path / "reports", 80)
    outputs, stored, parsers = {}, {}, {}
    for jobs in ("1", "2"):
        pids.write_text("")
        project = tmp_path / f"project-{jobs}"
        project.mkdir()
        url = backend.make_url(tmp_path / f"store-{jobs}", project)
        (tmp_path / f"store-{jobs}").mkdir()
        args = ["analytics", *(["--store", url] if url else []), "import", str(reports),
                "-r", "--jobs", jobs, "--project", str(project)]  # fmt: skip
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, result.output  # the one bad report
        # The same lines but the last, which names each run's own store.
        outputs[jobs] = result.output.replace(str(project), "<project>").replace(
            str(tmp_path / f"store-{jobs}"), "<store>"
        )
        if url:  # a database's store is named by its URL (PostgreSQL: one database per run)
            outputs[jobs] = outputs[jobs].replace(redact(url), "<store>")
        stored[jobs] = _stored(url, project)
        parsers[jobs] = set(pids.read_text().split())
    assert len(stored["1"]) == 80
    assert stored["2"] == stored["1"]
    assert outputs["2"] == outputs["1"]  # the same lines, in the same order
    assert "Imported 80 execution(s), 1 failed." in outputs["1"]
    assert parsers["1"] == {str(os.getpid())}
    assert str(os.getpid()) not in parsers["2"] and 1 <= len(parsers["2"]) <= 2


def test_auto_uses_workers_only_for_many_reports(tmp_path: Path, pids: Path) -> None:
    assert pipeline.PARALLEL_FROM > 4
    for count in (3, pipeline.PARALLEL_FROM):  # the default --jobs is 0, auto
        pids.write_text("")
        project = tmp_path / f"project-{count}"
        project.mkdir()
        reports = _reports(tmp_path / f"reports-{count}", count)
        result = CliRunner().invoke(
            cli, ["analytics", "import", str(reports), "-r", "--project", str(project)]
        )
        assert f"Imported {count} execution(s)" in result.output
        parsers = set(pids.read_text().split())
        if count < pipeline.PARALLEL_FROM or (os.cpu_count() or 1) == 1:
            assert parsers == {str(os.getpid())}
        else:
            assert parsers and str(os.getpid()) not in parsers


def test_a_worker_that_fails_on_a_report_fails_only_that_report(tmp_path: Path) -> None:
    reports = _reports(tmp_path / "reports", 70)
    (reports / "run-bin").mkdir()
    (reports / "run-bin" / "EXECUTION_REPORT.md").write_bytes(b"\x00\x01binary")
    project = tmp_path / "project"
    project.mkdir()
    result = CliRunner().invoke(
        cli, ["analytics", "import", str(reports), "-r", "-j", "2", "--project", str(project)]
    )
    assert "Imported 70 execution(s), 2 failed." in result.output
    shown = CliRunner().invoke(
        cli, ["analytics", "show", "--format", "json", "--last", "100", "--project", str(project)]
    )
    assert len(json.loads(shown.stdout)["executions"]) == 70
