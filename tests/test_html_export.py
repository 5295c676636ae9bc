"""``export --format html`` without a browser: the file, its data, escaping, the template
search path, and the numbers in its tables against the store. The page in a real browser
is tests/test_dashboard_browser.py."""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
from collections import Counter
from datetime import timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from history import fill_varied

from phaser_analytics import AnalyticsQuery, query_executions
from phaser_analytics.cli import cli
from phaser_analytics.dashboard_data import percentile
from phaser_analytics.metrics import period_label, period_start
from phaser_analytics.models import ExecutionStatus

UTC = timezone.utc
UPLOT_LICENCE = Path(__file__).resolve().parent.parent / "phaser_analytics/vendor/uplot/LICENSE"


class Page(HTMLParser):
    """The parts of the page the tests read: headline cards, chart tables, the data."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.cards: dict[str, str] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.data: dict[str, Any] = {}
        self._card: str | None = None
        self._chart: str | None = None
        self._row: list[str] | None = None
        self._in_data = False
        self._data_text: list[str] = []
        self.feed(text)
        self.data = json.loads("".join(self._data_text))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "div" and a.get("class") == "card":
            self._card = a.get("data-key")
        elif tag == "dd" and a.get("class") == "value" and self._card:
            self.cards[self._card] = a.get("data-value") or ""
        elif tag == "figure" and a.get("data-chart"):
            self._chart = a["data-chart"]
            self.tables[self._chart] = []
        elif tag == "tr" and self._chart:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._row.append(a.get("data-value") or "")
        elif tag == "script" and a.get("id") == "phaser-data":
            self._in_data = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._row is not None and self._chart:
            if self._row:
                self.tables[self._chart].append(self._row)
            self._row = None
        elif tag == "figure":
            self._chart = None
        elif tag == "script":
            self._in_data = False

    def handle_data(self, data: str) -> None:
        if self._in_data:
            self._data_text.append(data)


def export_html(runner: CliRunner, project: Path, *args: str) -> str:
    out = project.parent / "dashboard.html"
    result = runner.invoke(
        cli,
        ["analytics", "export", "--format", "html", "--project", str(project), "-o", str(out),
         "--tz", "UTC", *args],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


@pytest.fixture
def history(project: Path) -> list:
    fill_varied(project, 60)
    return query_executions(project, AnalyticsQuery())


def number(text: str) -> float | None:
    return float(text) if text else None


def test_the_page_is_self_contained(runner: CliRunner, project: Path, history: list) -> None:
    page = export_html(runner, project)
    assert page.startswith("<!DOCTYPE html>")
    assert "default-src 'none'" in page  # the browser refuses any request the page makes
    # Nothing is loaded from elsewhere: no src or href to another place, no CSS url().
    assert not re.search(r"""\b(src|href)\s*=\s*["']?(?!#)[^"'\s>]""", page)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page)
    assert "uPlot" in page
    assert UPLOT_LICENCE.read_text(encoding="utf-8").splitlines()[0] in page  # its licence
    assert page.count("<script") == 3  # data, uPlot, the page's own


def test_every_headline_figure_matches_the_store(
    runner: CliRunner, project: Path, history: list
) -> None:
    cards = Page(export_html(runner, project)).cards
    durations = sorted(r.duration_seconds for r in history if r.duration_seconds is not None)
    successful = sum(1 for r in history if r.status is ExecutionStatus.SUCCESS)
    assert int(cards["runs"]) == len(history) == 60
    assert number(cards["success_rate"]) == pytest.approx(successful / len(history))
    assert number(cards["median_duration"]) == pytest.approx(statistics.median(durations))
    p90 = statistics.quantiles(durations, n=10, method="inclusive")[8]
    assert number(cards["p90_duration"]) == pytest.approx(p90)
    assert int(cards["test_delta"]) == sum(r.test_delta for r in history)
    assert int(cards["tokens"]) == sum(r.total_tokens or 0 for r in history)
    assert number(cards["cost_usd"]) == pytest.approx(sum(r.cost_usd or 0 for r in history))


def test_the_chart_tables_match_the_store(runner: CliRunner, project: Path, history: list) -> None:
    page = Page(export_html(runner, project, "--by", "week"))
    weeks = Counter(period_label(period_start(r.started_at, "week", UTC), "week") for r in history)
    spec = next(c for c in page.data["charts"] if c["id"] == "runs")
    assert spec["x"] == sorted(weeks)
    assert [int(row[0]) for row in page.tables["runs"]] == [weeks[w] for w in sorted(weeks)]
    assert spec["series"][0]["values"] == [weeks[w] for w in sorted(weeks)]
    # Every chart's table holds exactly the numbers the chart draws.
    for chart in page.data["charts"]:
        rows = page.tables[chart["id"]]
        assert len(rows) == len(chart["x"])
        for i, series in enumerate(chart["series"]):
            shown = [number(row[i]) for row in rows]
            assert shown == pytest.approx(series["values"], nan_ok=True), chart["id"]
    phases = next(c for c in page.data["charts"] if c["id"] == "phases")
    runs = Counter(p.phase_number for r in history for p in r.phases)
    failed = Counter(p.phase_number for r in history for p in r.phases
                     if p.status.value == "failed")  # fmt: skip
    assert phases["x"] == [str(number) for number in sorted(runs)]
    assert phases["series"][0]["values"] == pytest.approx(
        [failed[number] / runs[number] for number in sorted(runs)]
    )
    assert len(set(phases["series"][0]["values"])) > 1  # some phases fail, some never
    reasons = next(c for c in page.data["charts"] if c["id"] == "reasons")
    expected = Counter(reason for r in history for reason in r.failure_reasons)
    assert dict(zip(reasons["x"], reasons["series"][0]["values"], strict=True)) == expected


def test_durations_per_period_are_median_and_p90(
    runner: CliRunner, project: Path, history: list
) -> None:
    page = Page(export_html(runner, project, "--by", "month"))
    spec = next(c for c in page.data["charts"] if c["id"] == "duration")
    for label, median, p90 in zip(spec["x"], *(s["values"] for s in spec["series"]), strict=True):
        values = sorted(
            r.duration_seconds for r in history
            if r.duration_seconds is not None
            and period_label(period_start(r.started_at, "month", UTC), "month") == label
        )  # fmt: skip
        assert median == pytest.approx(statistics.median(values))
        assert p90 == pytest.approx(percentile(values, 0.9))


def test_tokens_and_cost_are_charted_by_model(
    runner: CliRunner, project: Path, history: list
) -> None:
    page = Page(export_html(runner, project, "--by", "month"))
    tokens = next(c for c in page.data["charts"] if c["id"] == "tokens")
    cost = next(c for c in page.data["charts"] if c["id"] == "cost")
    assert [s["label"] for s in tokens["series"]] == ["claude-opus-4", "claude-sonnet-4"]
    for series in tokens["series"]:
        total = sum(r.tokens_by_model[series["label"]]["total"] for r in history
                    if r.tokens_by_model and series["label"] in r.tokens_by_model)  # fmt: skip
        assert sum(series["values"]) == total
    assert sum(v or 0 for s in cost["series"] for v in s["values"]) == pytest.approx(
        sum(r.cost_usd or 0 for r in history)
    )


def test_the_executions_data_holds_every_execution(
    runner: CliRunner, project: Path, history: list
) -> None:
    data = Page(export_html(runner, project)).data["executions"]
    assert len(data["rows"]) == len(history)
    ids = [row[0] for row in data["rows"]]
    assert ids == [r.execution_id for r in history]  # newest first, as the store gives them
    first = history[0]
    phases, reasons, usage = data["details"][0]
    assert [p[0] for p in phases] == [p.phase_number for p in first.phases]
    assert [data["strings"][i] for i in reasons] == first.failure_reasons
    assert len(usage) == len(first.tokens_by_model or {})


def test_report_text_cannot_break_out_of_the_page(
    runner: CliRunner, project: Path, history: list
) -> None:
    page = export_html(runner, project)
    assert "<b>bold</b>" not in page  # the document name with markup stays text
    assert "\\u003cb\\u003ebold\\u003c/b\\u003e" in page
    data = Page(page).data["executions"]
    assert "document-005-<b>bold</b>.md" in data["strings"]
    reasons = Page(page).tables["reasons"]
    assert reasons  # "Merge conflict in <main>" is a chart label, escaped in the table
    assert "Merge conflict in &lt;main&gt;" in page


def test_since_compares_with_the_period_before(
    runner: CliRunner, project: Path, history: list
) -> None:
    starts = sorted(r.started_at for r in history)
    since, until = starts[30], starts[-1]
    page = Page(export_html(runner, project, "--since", since.isoformat(),
                            "--until", until.isoformat()))  # fmt: skip
    length = until - since
    before = [r for r in history if since - length <= r.started_at < since]
    now = [r for r in history if since <= r.started_at <= until]
    assert int(page.cards["runs"]) == len(now)
    text = export_html(runner, project, "--since", since.isoformat(), "--until", until.isoformat())
    change = re.search(r'data-key="runs".*?data-change="([^"]*)"', text, re.S)
    assert change is not None and int(change.group(1)) == len(now) - len(before)


def test_a_team_template_overrides_a_block(runner: CliRunner, project: Path, history: list) -> None:
    templates = project / ".phaser" / "templates"
    templates.mkdir(parents=True)
    (templates / "dashboard.html.j2").write_text(
        '{% extends "default:dashboard.html.j2" %}'
        "{% block header_extra %}<p class=team>Nightly audits of {{ project.name }}</p>"
        "{% endblock %}",
        encoding="utf-8",
    )
    page = export_html(runner, project)
    assert "<p class=team>Nightly audits of Demo</p>" in page
    assert "phaser-data" in page  # the rest is the built-in page
    result = runner.invoke(cli, ["analytics", "export", "--format", "html", "--project",
                                 str(project), "--explain-templates"])  # fmt: skip
    assert result.exit_code == 0
    assert f"-> {templates / 'dashboard.html.j2'} (used)" in result.output


def test_an_empty_store_makes_a_page_that_says_so(runner: CliRunner, project: Path) -> None:
    page = export_html(runner, project)
    assert "No executions match, so there is nothing to chart." in page
    assert Page(page).data["executions"]["rows"] == []


def test_global_shows_projects_side_by_side(runner: CliRunner, tmp_path: Path) -> None:
    from phaser_analytics.project_registry import register_project

    first, second = tmp_path / "alpha", tmp_path / "beta"
    first.mkdir(), second.mkdir()
    fill_varied(first, 6, name="Alpha")
    fill_varied(second, 4, name="Beta")
    register_project(first, "Alpha", 6)
    register_project(second, "Beta", 4)
    out = tmp_path / "all.html"
    result = runner.invoke(cli, ["analytics", "export", "--global", "--format", "html",
                                 "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    page = Page(out.read_text(encoding="utf-8"))
    projects = next(c for c in page.data["charts"] if c["id"] == "projects")
    assert dict(zip(projects["x"], projects["series"][0]["values"], strict=True)) == {
        "Alpha": 6, "Beta": 4,
    }  # fmt: skip


def test_html_is_offered_by_export_only(runner: CliRunner, project: Path) -> None:
    result = runner.invoke(cli, ["analytics", "show", "--format", "html",
                                 "--project", str(project)])  # fmt: skip
    assert result.exit_code == 2
    assert "html" in runner.invoke(cli, ["analytics", "export", "--help"]).output


def test_as_a_real_process(project: Path, history: list, tmp_path: Path) -> None:
    out = tmp_path / "page.html"
    result = subprocess.run(
        [sys.executable, "-m", "phaser_analytics", "analytics", "export", "--format", "html",
         "--project", str(project), "--output", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Exported to {out}\n"
    assert len(Page(out.read_text(encoding="utf-8")).data["executions"]["rows"]) == 60


def test_a_store_holding_several_projects_shows_them_side_by_side(
    runner: CliRunner, project: Path
) -> None:
    fill_varied(project, 5, name="Frontend")
    from history import varied_record
    from storage_helpers import json_store

    backend = [varied_record(project, 100 + i, name="Backend") for i in range(3)]
    for record in backend:
        record.base_commit = f"backend-{record.base_commit}"
    json_store(project).save(backend)
    page = Page(export_html(runner, project))
    projects = next(c for c in page.data["charts"] if c["id"] == "projects")
    assert dict(zip(projects["x"], projects["series"][0]["values"], strict=True)) == {
        "Frontend": 5, "Backend": 3,
    }  # fmt: skip


def test_template_option_picks_an_html_page_and_leaves_markdown_templates_alone(
    runner: CliRunner, project: Path, history: list, tmp_path: Path
) -> None:
    page_template = tmp_path / "mine" / "page.html.j2"
    page_template.parent.mkdir()
    page_template.write_text(
        '{% extends "default:dashboard.html.j2" %}{% block title %}Ours{% endblock %}',
        encoding="utf-8",
    )
    assert "<title>Ours</title>" in export_html(runner, project, "--template", str(page_template))
    # A markdown template (say, configured for every export) is not rendered as the page.
    markdown_template = tmp_path / "mine" / "digest.md.j2"
    markdown_template.write_text("# Digest {{ executions|length }}", encoding="utf-8")
    page = export_html(runner, project, "--template", str(markdown_template))
    assert page.startswith("<!DOCTYPE html>") and "# Digest" not in page
    result = runner.invoke(cli, ["analytics", "export", "--format", "html", "--project",
                                 str(project), "--template", str(markdown_template),
                                 "--explain-templates"])  # fmt: skip
    assert "Template 'dashboard.html.j2'" in result.output


def test_no_control_or_bidi_character_reaches_the_page(
    runner: CliRunner, project: Path
) -> None:
    from history import varied_record
    from storage_helpers import json_store

    record = varied_record(project, 1)
    record.audit_document = "evil-\x1b[31mred\x1b[0m-\u202etxt.md"
    record.failure_reasons = ["bell \x07 and C1 \x9b here ✓"]
    json_store(project).save([record])
    page = export_html(runner, project)
    for character in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert character not in page
    data = Page(page).data["executions"]
    assert record.audit_document in data["strings"]  # the data keeps them, as JSON escapes
    assert "bell \x07 and C1 \x9b here ✓" in data["strings"]


def test_an_html_output_file_gets_the_dashboard_without_format(
    runner: CliRunner, project: Path, history: list, tmp_path: Path
) -> None:
    target = tmp_path / "audits.html"
    result = runner.invoke(cli, ["analytics", "export", "--project", str(project),
                                 "-o", str(target)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(Page(target.read_text(encoding="utf-8")).data["executions"]["rows"]) == 60
