"""``export --format openmetrics``: Prometheus metrics read back with prometheus_client's own
OpenMetrics parser and checked against the store, written atomically for node_exporter."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from history import fill_varied
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from phaser_analytics import AnalyticsQuery, query_executions
from phaser_analytics.cli import cli
from phaser_analytics.models import ExecutionStatus
from phaser_analytics.project_registry import register_project


def parse(text: str) -> dict[str, Any]:
    """``{family name: family}`` as prometheus_client's parser reads ``text``."""
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(families: dict[str, Any], family: str, sample: str | None = None) -> dict:
    """``{frozenset(labels): value}`` of one family's samples named ``sample``."""
    name = sample or family
    return {
        frozenset(s.labels.items()): s.value for s in families[family].samples if s.name == name
    }


def export(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli, ["analytics", "export", "--format", "openmetrics", *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def history(project: Path) -> list:
    fill_varied(project, 40)
    return query_executions(project, AnalyticsQuery())


def test_the_output_parses_as_openmetrics_and_ends_with_eof(
    runner: CliRunner, project: Path, history: list
) -> None:
    text = export(runner, "--project", str(project))
    assert text.endswith("# EOF\n")
    families = parse(text)  # raises on anything that is not OpenMetrics
    assert set(families) == {
        "phaser_executions", "phaser_execution_duration_seconds",
        "phaser_last_execution_duration_seconds", "phaser_last_execution_timestamp_seconds",
        "phaser_tests_added", "phaser_tests_removed", "phaser_tokens", "phaser_cost_usd",
    }  # fmt: skip
    assert families["phaser_executions"].type == "counter"
    assert families["phaser_execution_duration_seconds"].type == "histogram"
    assert families["phaser_execution_duration_seconds"].unit == "seconds"
    assert families["phaser_last_execution_timestamp_seconds"].type == "gauge"
    # No execution ids as labels: nothing grows with the number of executions.
    ids = {record.execution_id for record in history}
    for family in families.values():
        for sample in family.samples:
            assert not ids & set(sample.labels.values())


def test_the_values_match_the_store(runner: CliRunner, project: Path, history: list) -> None:
    families = parse(export(runner, "--project", str(project)))
    runs = samples(families, "phaser_executions", "phaser_executions_total")
    for status in ExecutionStatus:
        expected = sum(1 for r in history if r.status is status)
        assert runs[frozenset({("project", "Demo"), ("status", status.value)})] == expected

    durations = [r.duration_seconds for r in history if r.duration_seconds is not None]
    assert len(durations) < len(history)  # the history has unknown durations
    name = "phaser_execution_duration_seconds"
    count = samples(families, name, name + "_count")
    total = samples(families, name, name + "_sum")
    assert count[frozenset({("project", "Demo")})] == len(durations)
    assert total[frozenset({("project", "Demo")})] == pytest.approx(sum(durations))
    buckets = {dict(labels)["le"]: value
               for labels, value in samples(families, name, name + "_bucket").items()}  # fmt: skip
    assert buckets["1800.0"] == sum(1 for d in durations if d <= 1800)
    assert buckets["+Inf"] == len(durations)

    newest = max(history, key=lambda r: r.started_at)
    last = samples(families, "phaser_last_execution_duration_seconds")
    if newest.duration_seconds is None:
        assert last == {}
    else:
        assert last[frozenset({("project", "Demo")})] == newest.duration_seconds
    stamps = samples(families, "phaser_last_execution_timestamp_seconds")
    for status in ExecutionStatus:
        latest = max(r.started_at for r in history if r.status is status)
        key = frozenset({("project", "Demo"), ("status", status.value)})
        assert stamps[key] == latest.timestamp()

    deltas = [r.test_delta for r in history if r.test_delta is not None]
    added = samples(families, "phaser_tests_added", "phaser_tests_added_total")
    removed = samples(families, "phaser_tests_removed", "phaser_tests_removed_total")
    assert added[frozenset({("project", "Demo")})] == sum(d for d in deltas if d > 0)
    assert removed[frozenset({("project", "Demo")})] == -sum(d for d in deltas if d < 0)
    assert removed[frozenset({("project", "Demo")})] > 0

    expected_tokens: dict[tuple[str, str], int] = defaultdict(int)
    for record in history:
        for model, counts in (record.tokens_by_model or {}).items():
            for kind in ("input", "output", "cache_creation", "cache_read"):
                expected_tokens[(model, kind)] += counts[kind]
    tokens = samples(families, "phaser_tokens", "phaser_tokens_total")
    assert {(dict(k)["model"], dict(k)["kind"]): v for k, v in tokens.items()} == expected_tokens
    cost = samples(families, "phaser_cost_usd", "phaser_cost_usd_total")
    expected_cost = sum(r.cost_usd for r in history if r.cost_usd is not None)
    assert cost[frozenset({("project", "Demo")})] == pytest.approx(expected_cost)


def test_the_filters_of_export_apply(runner: CliRunner, project: Path, history: list) -> None:
    families = parse(export(runner, "--project", str(project), "--status", "failed"))
    runs = samples(families, "phaser_executions", "phaser_executions_total")
    failed = sum(1 for r in history if r.status is ExecutionStatus.FAILED)
    assert runs[frozenset({("project", "Demo"), ("status", "failed")})] == failed
    assert runs[frozenset({("project", "Demo"), ("status", "success")})] == 0


def test_global_labels_each_project(runner: CliRunner, tmp_path: Path) -> None:
    first, second = tmp_path / "alpha", tmp_path / "beta"
    first.mkdir(), second.mkdir()
    fill_varied(first, 5, name="Alpha")
    fill_varied(second, 3, name="Beta")
    register_project(first, "Alpha", 5)  # as an import does
    register_project(second, "Beta", 3)
    families = parse(export(runner, "--global"))
    runs = samples(families, "phaser_executions", "phaser_executions_total")
    by_project: dict[str, float] = defaultdict(float)
    for labels, value in runs.items():
        by_project[dict(labels)["project"]] += value
    assert by_project == {"Alpha": 5, "Beta": 3}


def test_an_empty_store_gives_valid_output(runner: CliRunner, project: Path) -> None:
    text = export(runner, "--project", str(project))
    assert text.endswith("# EOF\n")
    families = parse(text)
    assert families["phaser_executions"].samples == []


def test_the_textfile_is_written_atomically_and_readable(
    runner: CliRunner, project: Path, history: list, tmp_path: Path
) -> None:
    textfile_dir = tmp_path / "textfile"
    textfile_dir.mkdir()
    target = textfile_dir / "phaser.prom"
    target.write_text("# old\n", encoding="utf-8")
    os.chmod(target, 0o644)
    before = target.stat().st_ino
    result = runner.invoke(cli, ["analytics", "export", "--format", "openmetrics",
                                 "--project", str(project), "--output", str(target)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert parse(target.read_text(encoding="utf-8"))["phaser_executions"].samples
    # Replaced by a rename (node_exporter never reads half a file), nothing left beside it.
    assert target.stat().st_ino != before
    assert sorted(p.name for p in textfile_dir.iterdir()) == ["phaser.prom"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_new_output_file_gets_the_umask_permissions(
    project: Path, history: list, tmp_path: Path
) -> None:
    target = tmp_path / "new.prom"
    code = "import os, sys; os.umask(0o022); from phaser_analytics.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "analytics", "export", "--format", "openmetrics",
         "--project", str(project), "-o", str(target)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # node_exporter runs as another user
    assert parse(target.read_text(encoding="utf-8"))


def test_as_a_real_process(project: Path, history: list) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "phaser_analytics", "analytics", "export",
         "--format", "openmetrics", "--project", str(project)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert samples(parse(result.stdout), "phaser_executions", "phaser_executions_total")


def test_without_prometheus_client_one_line_names_the_install(
    runner: CliRunner, project: Path, history: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(sys.modules):
        if name.split(".")[0] == "prometheus_client":
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import fails
    result = runner.invoke(
        cli, ["analytics", "export", "--format", "openmetrics", "--project", str(project)]
    )
    assert result.exit_code == 2 or result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [
        "Error: --format openmetrics and prometheus need prometheus_client, which is not "
        "installed: pip install prometheus-client"
    ]
    assert "Traceback" not in result.output


# -- the classic text format, and a real node_exporter --------------------------------------


def test_the_prometheus_format_has_the_same_samples_with_counter_types(
    runner: CliRunner, project: Path, history: list
) -> None:
    from prometheus_client.parser import text_string_to_metric_families as classic

    result = runner.invoke(cli, ["analytics", "export", "--format", "prometheus",
                                 "--project", str(project)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "# EOF" not in result.output
    families = {family.name: family for family in classic(result.output)}
    assert families["phaser_executions"].type == "counter"
    assert "# TYPE phaser_executions_total counter" in result.output
    om = parse(export(runner, "--project", str(project)))
    for name, family in om.items():
        ours = sorted((s.name, sorted(s.labels.items()), s.value) for s in family.samples)
        classic_samples = families[name].samples
        assert ours == sorted((s.name, sorted(s.labels.items()), s.value) for s in classic_samples)


def node_exporter() -> str:
    from sysdeps import debian_binary

    name = "prometheus-node-exporter"
    return debian_binary(name, name, "node_exporter")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(argv: list[str], ready_url: str) -> Iterator[None]:
    """Run the server ``argv`` until the block ends, once ``ready_url`` answers."""
    import time
    import urllib.request

    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(ready_url, timeout=5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield
    finally:
        server.terminate()
        server.wait(timeout=10)


def fetch(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode("utf-8")


def scrape_textfile(directory: Path) -> str:
    """What a real node_exporter (Debian's) serves with its textfile collector reading
    ``directory``: the scrape, as text."""
    port = _free_port()
    argv = [node_exporter(), "--collector.disable-defaults", "--collector.textfile",
            f"--collector.textfile.directory={directory}",
            f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
    with serving(argv, f"http://127.0.0.1:{port}/metrics"):
        return fetch(f"http://127.0.0.1:{port}/metrics")


@pytest.mark.parametrize(("fmt", "counter_type"), [("prometheus", "counter"),
                                                   ("openmetrics", "unknown")])  # fmt: skip
def test_node_exporter_reads_the_textfile(
    runner: CliRunner, project: Path, history: list, tmp_path: Path, fmt: str,
    counter_type: str,
) -> None:  # fmt: skip
    from prometheus_client.parser import text_string_to_metric_families as classic

    textfile_dir = tmp_path / "textfile"
    textfile_dir.mkdir()
    target = textfile_dir / "phaser.prom"
    result = runner.invoke(cli, ["analytics", "export", "--format", fmt, "--project",
                                 str(project), "-o", str(target)])  # fmt: skip
    assert result.exit_code == 0, result.output
    scraped = {family.name: family for family in classic(scrape_textfile(textfile_dir))}
    errors = scraped["node_textfile_scrape_error"].samples
    assert [s.value for s in errors] == [0]
    # node_exporter keeps the classic format's types; OpenMetrics counters arrive untyped
    # ("unknown" to prometheus_client's parser), under their sample name.
    runs = scraped.get("phaser_executions") or scraped["phaser_executions_total"]
    assert runs.type == counter_type
    served = {s.labels["status"]: s.value for s in runs.samples}
    assert served == {status.value: sum(1 for r in history if r.status is status)
                      for status in ExecutionStatus}  # fmt: skip
    tokens_family = scraped.get("phaser_tokens") or scraped["phaser_tokens_total"]
    tokens = sum(s.value for s in tokens_family.samples)
    assert tokens == sum(
        counts[kind] for r in history for counts in (r.tokens_by_model or {}).values()
        for kind in ("input", "output", "cache_creation", "cache_read")
    )  # fmt: skip


def test_a_prom_output_file_gets_the_classic_format_without_format(
    runner: CliRunner, project: Path, history: list, tmp_path: Path
) -> None:
    target = tmp_path / "phaser.prom"
    result = runner.invoke(cli, ["analytics", "export", "--project", str(project),
                                 "-o", str(target)])  # fmt: skip
    assert result.exit_code == 0, result.output
    text = target.read_text(encoding="utf-8")
    assert "# TYPE phaser_executions_total counter" in text  # node_exporter's format
    assert "# EOF" not in text


# -- a real Pushgateway, as the guide's hosted-runner step pushes ----------------------------


def pushgateway() -> str:
    from sysdeps import debian_binary

    name = "prometheus-pushgateway"
    return debian_binary(name, name, "the Pushgateway")


def test_the_pushgateway_takes_the_export_and_serves_it(
    runner: CliRunner, project: Path, history: list, tmp_path: Path
) -> None:
    """docs/guide.md's step: ``export --format prometheus`` then an HTTP POST of the file to
    ``/metrics/job/phaser_analytics``; Debian's Pushgateway accepts it (a malformed push is
    a 400) and serves every sample with the job label."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families as classic

    target = tmp_path / "phaser.prom"
    result = runner.invoke(cli, ["analytics", "export", "--format", "prometheus",
                                 "--project", str(project), "-o", str(target)])  # fmt: skip
    assert result.exit_code == 0, result.output
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with serving([pushgateway(), f"--web.listen-address=127.0.0.1:{port}"], f"{base}/-/ready"):
        push = urllib.request.Request(
            f"{base}/metrics/job/phaser_analytics", data=target.read_bytes(), method="POST"
        )
        with urllib.request.urlopen(push, timeout=10) as response:  # a 400 raises
            assert response.status == 200
        served = fetch(f"{base}/metrics")
    families = {family.name: family for family in classic(served)}
    runs = families["phaser_executions"]
    assert runs.type == "counter"
    by_status = {s.labels["status"]: s.value for s in runs.samples}
    assert by_status == {status.value: sum(1 for r in history if r.status is status)
                         for status in ExecutionStatus}  # fmt: skip
    assert {s.labels["job"] for s in runs.samples} == {"phaser_analytics"}
