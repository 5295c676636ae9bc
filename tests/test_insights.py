"""``compare``, ``anomalies`` (and ``show``'s marks), ``estimate``: through the CLI, on
histories built to hold known outliers and a known normal spread."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from report_factory import DAY0, write_history, write_report

from phaser_analytics.anomalies import MIN_HISTORY, find_anomalies, robust_spread
from phaser_analytics.cli.main import cli

#: Durations (minutes) of ten normal runs: median 60, MAD 2 → usual 60 ± 3.5 × 2.97 min,
#: floored at one minute of spread.
NORMAL = [56, 58, 59, 60, 60, 60, 61, 62, 63, 64]


def invoke(runner, *args):
    return runner.invoke(cli, ["analytics", *args], catch_exceptions=False)


def imported(runner, project: Path, runs: list[dict]) -> None:
    write_history(project / "reports", runs)
    result = invoke(runner, "import", "-r", str(project / "reports"), "--project", str(project))
    assert result.exit_code == 0, result.output


def ids(runner, project: Path) -> list[str]:
    out = invoke(runner, "export", "--project", str(project)).output
    return [e["execution_id"] for e in json.loads(out)["executions"]]  # newest first


@pytest.fixture
def history(runner, project):
    """Ten normal runs of one document, then an eleventh that took 400 minutes and cost
    ten times as much; a second document with three runs."""
    runs = [dict(minutes=m, tokens=100_000, cost=1.50) for m in NORMAL]
    runs.append(dict(minutes=400, tokens=100_000, cost=15.0, status="failed", failed_phase=2))
    runs += [dict(document="document-9-other.md", minutes=m) for m in (61, 59, 300)]
    imported(runner, project, runs)
    return project


# -- the rule -------------------------------------------------------------------------------


class Run:
    """What the rule reads of an execution: the ``number``-th day's run."""

    def __init__(self, number, document="d.md", **figures):
        self.execution_id = f"id-{number}"
        self.audit_document = document
        self.started_at = DAY0 + timedelta(days=number)
        for key in ("duration_seconds", "cost_usd", "total_tokens", "test_delta"):
            setattr(self, key, figures.get(key))


def test_the_spread_is_the_scaled_mad_never_below_the_floor():
    spread = robust_spread([10, 12, 14, 16, 100], floor=1)
    assert spread.median == 14 and spread.spread == pytest.approx(1.4826 * 2)
    assert robust_spread([5, 5, 5, 5, 5], floor=60).spread == 60


def test_an_outlier_is_flagged_and_a_normal_spread_is_not():
    runs = [Run(i, duration_seconds=m * 60) for i, m in enumerate(NORMAL)]
    usual = Run(98, duration_seconds=66 * 60)
    slow = Run(99, duration_seconds=400 * 60)
    found = find_anomalies([slow, usual, *runs], [*runs, slow, usual])
    assert set(found) == {"id-99"}
    (anomaly,) = found["id-99"]
    assert anomaly.figure.key == "duration_seconds" and anomaly.scope == "document"
    assert anomaly.history == 11  # the ten and the usual one before it, never itself
    assert anomaly.low < 60 * 60 < anomaly.high < 400 * 60


def test_the_history_is_what_came_before_at_most_the_limit():
    """An outlier early on is judged by the runs before it (too few: not judged), and a run
    by at most the `limit` most recent runs before it."""
    early = Run(0, duration_seconds=900 * 60)
    runs = [early, *(Run(i, duration_seconds=60 * 60) for i in range(1, 12))]
    assert find_anomalies([early], runs) == {}
    late = Run(50, duration_seconds=400 * 60)
    (anomaly,) = find_anomalies([late], [*runs, late], limit=6)["id-50"]
    assert anomaly.history == 6


def test_nothing_is_flagged_on_too_little_history():
    runs = [Run(i, duration_seconds=60 * 60) for i in range(MIN_HISTORY - 1)]
    slow = Run(99, duration_seconds=1000 * 60)
    assert find_anomalies([slow], [*runs, slow]) == {}


def test_a_short_document_history_falls_back_to_the_project():
    project = [Run(i, document="big.md", total_tokens=100_000 + i * 1000) for i in range(8)]
    project.append(Run(100, document="big.md", total_tokens=100_000))  # later: not history
    new = Run(99, document="new.md", total_tokens=2_000_000)
    (anomaly,) = find_anomalies([new], [*project, new])["id-99"]
    assert anomaly.scope == "project" and anomaly.history == 8
    assert "other 8 runs of the project" in anomaly.reason()


def test_a_test_delta_far_below_is_flagged():
    runs = [Run(i, test_delta=d) for i, d in enumerate([10, 12, 9, 11, 10, 13, 8])]
    lost = Run(99, test_delta=-40)
    (anomaly,) = find_anomalies([lost], [*runs, lost])["id-99"]
    assert anomaly.direction == "below" and anomaly.reason().startswith("test delta -40 is below")


def test_each_item_is_judged_by_its_own_document_and_project_windows():
    """Whatever the history's other documents, each item is judged against the most recent
    runs before it of its document and of the project (a reference computed item by item:
    the rule builds timelines of the judged documents only)."""
    import random

    from phaser_analytics.anomalies import judge

    rng = random.Random(7)
    documents = [f"doc-{n}.md" for n in range(12)] + [None]
    history = [
        Run(day, document=rng.choice(documents),
            duration_seconds=rng.choice([60, 61, 62, 59, 58, 600]) * 60,
            cost_usd=rng.choice([1.0, 1.1, 0.9, 9.0]))
        for day in range(300)
    ]  # fmt: skip
    items = [*rng.sample(history, 25), Run(400, document="doc-3.md", duration_seconds=9000)]
    limit = 20
    expected = {}
    for item in items:
        before = sorted((h for h in history if h.started_at < item.started_at
                         and h.execution_id != item.execution_id),
                        key=lambda h: h.started_at)[-limit:]  # fmt: skip
        same = [h for h in sorted(history, key=lambda h: h.started_at)
                if h.audit_document == item.audit_document and h.started_at < item.started_at
                and h.execution_id != item.execution_id][-limit:]  # fmt: skip
        found = judge(item, same if item.audit_document else [], before)
        if found:
            expected[item.execution_id] = found
    got = find_anomalies(iter(items), history, limit=limit)
    assert expected, "the history holds outliers"
    assert {k: [a.reason() for a in v] for k, v in got.items()} == {
        k: [a.reason() for a in v] for k, v in expected.items()
    }


# -- anomalies and show through the CLI -----------------------------------------------------


def test_anomalies_lists_the_figure_the_usual_range_and_the_history(runner, history):
    result = invoke(runner, "anomalies", "--project", str(history), "--format", "json")
    rows = json.loads(result.output)["breakdown"]["rows"]
    assert [(r["document"], r["figure"], r["history_scope"]) for r in rows] == [
        # Newest first. document-9 has three runs: too few, so the project's 13 others.
        ("document-9-other.md", "duration_seconds", "project"),
        ("document-7-reverse.md", "duration_seconds", "document"),
        ("document-7-reverse.md", "cost_usd", "document"),
    ]
    assert rows[0]["history"] == 13
    duration = rows[1]
    assert duration["value"] == 400 * 60 and duration["median"] == 60 * 60
    assert duration["history"] == 10
    assert duration["usual_low"] < 3600 < duration["usual_high"] < 400 * 60
    assert duration["reason"].startswith("duration 6h 40m is above the usual")
    assert rows[2]["reason"].startswith("cost $15.00 is above the usual $1.")
    table = invoke(runner, "anomalies", "--project", str(history)).output
    assert "Anomalies: 2 of 14 execution(s)" in table
    # Filters choose what is judged; the history stays the project's.
    only = invoke(runner, "anomalies", "--project", str(history), "--status", "failed").output
    assert "Anomalies: 1 of 1 execution(s)" in only and "6h 40m" in only
    none = invoke(runner, "anomalies", "--project", str(history), "--document", "nothing").output
    assert "Anomalies: 0 of 0 execution(s)" in none and "No executions match." in none
    # Executions matched and none is an anomaly: the table says so, not "no match".
    calm = ["anomalies", "--project", str(history), "--document", "document-7-reverse.md",
            "--status", "success"]  # fmt: skip
    for output in (invoke(runner, *calm).output,
                   invoke(runner, *calm, "--format", "markdown").output):  # fmt: skip
        assert "Anomalies: 0 of 10 execution(s)" in output
        assert "No anomalies among these 10 execution(s)." in output
        assert "No executions match." not in output


def test_show_marks_flagged_rows_and_lists_why(runner, history):
    result = invoke(runner, "show", "--project", str(history), "--document", "document-7")
    lines = result.output.splitlines()
    flagged = [line for line in lines if "❌ !" in line]
    assert len(flagged) == 1 and "6h 40m" in flagged[0]
    assert sum("✅ !" in line for line in lines) == 0
    assert "Anomalies (phaser analytics anomalies):" in result.output
    assert "duration 6h 40m is above the usual" in result.output


def test_show_json_and_csv_carry_the_reasons(runner, history):
    data = json.loads(invoke(runner, "show", "--project", str(history), "--format", "json").output)
    reasons = {
        e["audit_document"] + str(e["duration_seconds"]): e["anomalies"] for e in data["executions"]
    }
    assert any(r for r in reasons.values())
    assert all(isinstance(r, list) for r in reasons.values())
    out = invoke(runner, "show", "--project", str(history), "--format", "csv", "--last", "20")
    rows = list(csv.DictReader(io.StringIO(out.output)))
    flagged = [r for r in rows if r["anomalies"]]
    documents = [r["audit_document"] for r in flagged]
    assert documents == ["document-9-other.md", "document-7-reverse.md"]
    assert flagged[1]["duration_seconds"] == "24000"
    assert "; cost $15.00 is above the usual" in flagged[1]["anomalies"]


def test_show_markdown_says_why_under_the_status(runner, history):
    out = invoke(
        runner,
        "show",
        "--project",
        str(history),
        "--document",
        "document-7",
        "--format",
        "markdown",
    ).output
    lines = out.splitlines()
    flagged = [i for i, line in enumerate(lines) if line.startswith("- **Anomaly:** ")]
    assert len(flagged) == 1
    assert lines[flagged[0] - 1] == "- **Status:** ❌ Failed"
    assert "duration 6h 40m is above the usual" in lines[flagged[0]]


def test_show_fail_on_anomaly_gates_ci(runner, history):
    bad = runner.invoke(
        cli, ["analytics", "show", "--project", str(history), "--last", "20", "--fail-on-anomaly"]
    )
    assert bad.exit_code == 1
    assert "CI gate: 2 of the 14 execution(s) judged are anomalies (3 figure(s))." in bad.output
    fine = runner.invoke(
        cli,
        [
            "analytics",
            "show",
            "--project",
            str(history),
            "--status",
            "success",
            "--document",
            "document-7",
            "--fail-on-anomaly",
        ],
    )
    assert fine.exit_code == 0, fine.output


def test_show_fail_on_anomaly_judges_every_match_not_only_those_shown(runner, history):
    """Like the other gates: `--last 1` shows one clean run, the gate judges all 14."""
    result = runner.invoke(
        cli,
        [
            "analytics",
            "show",
            "--project",
            str(history),
            "--last",
            "1",
            "--status",
            "success",
            "--fail-on-anomaly",
        ],
    )
    assert result.exit_code == 1
    assert "CI gate: 1 of the 13 execution(s) judged are anomalies" in result.output


def test_anomalies_fail_on_anomaly(runner, history):
    result = runner.invoke(
        cli, ["analytics", "anomalies", "--project", str(history), "--fail-on-anomaly"]
    )
    assert result.exit_code == 1


# -- compare --------------------------------------------------------------------------------


@pytest.fixture
def two(runner, project):
    imported(
        runner,
        project,
        [
            dict(minutes=60, tokens=100_000, cost=1.25, baseline=100, final=110, added=100),
            dict(
                minutes=95,
                tokens=150_000,
                cost=2.0,
                baseline=110,
                final=112,
                added=340,
                status="partial",
                failed_phase=3,
                phases=5,
            ),
        ],
    )
    newer, older = ids(runner, project)
    return project, older, newer


def rows_by_field(output: str) -> dict[str, dict]:
    breakdown = json.loads(output)["breakdown"]
    return {row["field"]: row for row in breakdown["rows"]}, breakdown["sections"][0]["rows"]


def test_compare_two_executions_by_prefix_with_the_deltas(runner, two):
    project, older, newer = two
    result = invoke(
        runner, "compare", older[:6], newer[:6], "--project", str(project), "--format", "json"
    )
    fields, phases = rows_by_field(result.output)
    assert fields["duration"]["delta_value"] == 35 * 60
    assert fields["duration"]["delta"] == "+35m 00s"
    assert fields["status"]["a"] == "success" and fields["status"]["b"] == "partial"
    assert fields["phases completed"]["b"] == "4/5"
    assert fields["test delta"]["delta_value"] == -8
    assert fields["lines added"]["delta_value"] == 240
    assert fields["tokens"]["delta_value"] == 50_000
    assert fields["cost"]["delta_value"] == pytest.approx(0.75)
    assert [(p["phase"], p["a_status"], p["b_status"]) for p in phases] == [
        (1, "completed", "completed"),
        (2, "completed", "completed"),
        (3, "completed", "failed"),
        (4, "completed", "completed"),
        (5, None, "completed"),
    ]


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_compare_in_every_format(runner, two, fmt):
    project, older, newer = two
    result = invoke(runner, "compare", older, newer, "--project", str(project), "--format", fmt)
    assert result.exit_code == 0
    assert "+35m 00s" in result.output and "$0.75" not in result.output.replace("+$0.75", "")
    assert older[:8] in result.output.replace("-", "") or fmt == "csv"


def test_compare_last_takes_the_newest_two_runs_of_one_document(runner, two):
    project, _, _ = two
    write_report(project / "reports" / "other", document="document-9-other.md")
    invoke(runner, "import", str(project / "reports" / "other"), "-r", "--project", str(project))
    result = invoke(
        runner,
        "compare",
        "--last",
        "--document",
        "document-7",
        "--project",
        str(project),
        "--format",
        "json",
    )
    fields, _ = rows_by_field(result.output)
    assert fields["duration"]["a_value"] == 3600 and fields["duration"]["b_value"] == 95 * 60


def test_compare_last_with_one_run_says_so(runner, project):
    imported(runner, project, [dict()])
    result = runner.invoke(cli, ["analytics", "compare", "--last", "--project", str(project)])
    assert result.exit_code == 1
    assert result.output == (
        "Error: Only one run of document-7-reverse.md; compare --last needs two.\n"
    )


def test_compare_an_unknown_id_is_one_line(runner, two):
    project, older, _ = two
    result = runner.invoke(
        cli, ["analytics", "compare", older, "ffffffff", "--project", str(project)]
    )
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert result.output.startswith("Error: Execution not found: ffffffff")


def test_compare_needs_two_ids_or_last(runner, project):
    result = runner.invoke(cli, ["analytics", "compare", "abc", "--project", str(project)])
    assert result.exit_code == 2 and "Give two execution ids" in result.output


# -- estimate -------------------------------------------------------------------------------


def test_estimate_from_the_documents_history(runner, history):
    result = invoke(
        runner, "estimate", "document-7-reverse.md", "--project", str(history), "--format", "json"
    )
    breakdown = json.loads(result.output)["breakdown"]
    rows = {row["figure"]: row for row in breakdown["rows"]}
    assert breakdown["title"] == "Estimate for document-7-reverse.md (4 phases)"
    assert rows["duration"]["runs"] == 11 and rows["duration"]["median"] == 60 * 60
    # 11 values, inclusive deciles: the 10th percentile is 58 min, the 90th 64 min.
    assert rows["duration"]["low"] == 58 * 60 and rows["duration"]["high"] == 64 * 60
    assert rows["duration"]["based_on"] == "11 runs of this document"
    assert rows["cost"]["median"] == 1.5


def test_estimate_of_an_audit_document_by_its_phase_count(runner, history, tmp_path):
    audit = tmp_path / "document-12-new.md"
    audit.write_text(
        "# Document 12\n\n## Phase 50: A\n\n## Phase 51: B\n\n### Phase 52: C\n\n"
        "## Phase 53: D\n\n## Phase 53: D again\n",
        encoding="utf-8",
    )
    result = invoke(runner, "estimate", str(audit), "--project", str(history))
    assert "Estimate for document-12-new.md (4 phases)" in result.output
    assert "14 runs with about 4 phases" in result.output


def test_estimate_of_a_report_reads_its_phase_count(runner, history, tmp_path):
    report = write_report(tmp_path / "new", document="document-20-x.md", phases=4)
    result = invoke(runner, "estimate", str(report), "--project", str(history), "--format", "json")
    rows = json.loads(result.output)["breakdown"]["rows"]
    assert rows[0]["based_on"] == "14 runs with about 4 phases"


def test_estimate_from_one_run_says_no_spread_is_known(runner, project):
    imported(runner, project, [dict(minutes=42)])
    result = invoke(runner, "estimate", "document-7-reverse.md", "--project", str(project))
    assert "1 run: no spread known" in result.output and "1 run of this document" in result.output


def test_estimate_refuses_to_guess_from_nothing(runner, history, tmp_path):
    result = runner.invoke(
        cli, ["analytics", "estimate", "document-99.md", "--project", str(history)]
    )
    assert result.exit_code == 1
    assert result.output == (
        "Error: Cannot estimate from no history: no stored run of document-99.md (and its "
        "phase count is unknown: pass the audit document's path).\n"
    )
    audit = tmp_path / "huge.md"
    audit.write_text("".join(f"## Phase {n}\n" for n in range(40)), encoding="utf-8")
    result = runner.invoke(cli, ["analytics", "estimate", str(audit), "--project", str(history)])
    assert result.exit_code == 1 and "none of a document with about 40 phases" in result.output


# -- --global: every project, each judged by its own history ----------------------------------


@pytest.fixture(params=["json", "sqlite"])
def two_projects(request, runner, tmp_path, monkeypatch):
    """Project A holds ``history`` (outliers of 400 minutes); project B runs the same
    document for 400 minutes every time (normal there). With ``sqlite``, both live in one
    database (``PHASER_STORE``); with ``json``, each in its own store, found through the
    registry of $PHASER_HOME."""
    if request.param == "sqlite":
        monkeypatch.setenv("PHASER_STORE", f"sqlite:///{tmp_path / 'team.db'}")
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    alpha = dict(project_name="Alpha", project_path="/work/alpha")
    runs = [dict(minutes=m, tokens=100_000, cost=1.50, **alpha) for m in NORMAL]
    runs.append(
        dict(minutes=400, tokens=100_000, cost=15.0, status="failed", failed_phase=2, **alpha)
    )
    imported(runner, first, runs)
    beta = dict(project_name="Beta", project_path="/work/beta")
    imported(runner, second, [dict(minutes=400 + m % 3, **beta) for m in range(12)])
    return first, second


def test_anomalies_global_judges_each_project_by_its_own_history(runner, two_projects):
    first, _ = two_projects
    result = invoke(runner, "anomalies", "--global", "--project", str(first), "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["breakdown"]["rows"]
    # B's 400-minute runs are its normal; A's one is an outlier of A.
    assert {(r["project"], r["figure"]) for r in rows} == {
        ("Alpha", "duration_seconds"),
        ("Alpha", "cost_usd"),
    }
    table = invoke(runner, "anomalies", "--global", "--project", str(first)).output
    assert "Project" in table and "of 23 execution(s)" in table


def test_estimate_global_rests_on_every_projects_runs(runner, two_projects):
    first, _ = two_projects

    def runs(*args):
        result = invoke(
            runner, "estimate", "document-7-reverse.md", "--project", str(first),
            "--format", "json", *args,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        return json.loads(result.output)["breakdown"]["rows"][0]["runs"]

    assert runs() == 11
    assert runs("--global") == 23


def test_compare_global_finds_ids_in_any_project(runner, two_projects, request):
    first, second = two_projects
    (a_newest, *_), (b_newest, *_) = ids(runner, first), ids(runner, second)
    if "json" in request.node.callspec.id:  # one database answers for any id it holds
        args = ["analytics", "compare", a_newest, b_newest, "--project", str(first)]
        alone = runner.invoke(cli, args)
        assert alone.exit_code != 0 and f"Execution not found: {b_newest}" in alone.output
    result = invoke(
        runner, "compare", a_newest[:8], b_newest[:8], "--global", "--project", str(first),
        "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    fields, _ = rows_by_field(result.output)
    assert fields["duration"]["a_value"] == 400 * 60
    assert fields["duration"]["b_value"] == 402 * 60  # B's newest: the 12th run, 400 + 11 % 3
    last = invoke(
        runner, "compare", "--last", "--global", "--project", str(first), "--format", "json"
    )
    assert last.exit_code == 0, last.output
    fields, _ = rows_by_field(last.output)
    # The newest run of all is B's 12th (day 11; A's last is day 10): B's two newest runs,
    # the older as A.
    assert (fields["duration"]["a_value"], fields["duration"]["b_value"]) == (401 * 60, 402 * 60)


def test_the_anomaly_median_is_statistics_median() -> None:
    """anomalies keeps its own median (to spare show the statistics module's import)."""
    import random
    import statistics

    from phaser_analytics.anomalies import MAD_SCALE, robust_spread

    rng = random.Random(7)
    for size in range(1, 40):
        values = [
            rng.choice([rng.uniform(-1e4, 1e4), float(rng.randint(0, 9))]) for _ in range(size)
        ]
        spread = robust_spread(values, 0.0)
        median = statistics.median(values)
        assert spread.median == median
        assert spread.spread == max(
            MAD_SCALE * statistics.median(abs(v - median) for v in values), 0.0
        )
