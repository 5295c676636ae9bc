"""``export --format html`` in a real browser: Debian's Chromium, headless, driven by
Playwright for Python through ``executable_path`` (Playwright never downloads a browser
here). The page is opened over file://; any console error, page error or network request
fails the test. axe-core (vendored in tests/vendor/axe-core/, MPL-2.0) checks accessibility.

The test set-up installs the ``chromium`` Debian package when it is missing and this
process may (tests/sysdeps.py); where it cannot, the tests skip saying what to install.
"""

from __future__ import annotations

import re
import statistics
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from history import fill_varied
from sysdeps import debian_binary

from phaser_analytics import AnalyticsQuery, query_executions
from phaser_analytics.cli import cli
from phaser_analytics.models import ExecutionStatus

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
#: What Chromium needs to run headless in a container, and to stay off the network.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
PAGE_SIZE = 50


def chromium_path() -> str:
    return debian_binary("chromium", "chromium", "Debian's Chromium")


@pytest.fixture(scope="module")
def browser_context() -> Iterator[Any]:
    """A persistent context of the system Chromium with a fresh profile directory."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("needs Playwright for Python: pip install -e '.[test]'")
    executable = chromium_path()
    with tempfile.TemporaryDirectory(prefix="phaser-chromium-") as profile, \
            sync_playwright() as playwright:  # fmt: skip
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=executable,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
            timezone_id="UTC",
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A store of 130 varied executions, its records as the store gives them back, and the
    page ``export --format html`` writes for it."""
    base = tmp_path_factory.mktemp("dashboard")
    project = base / "project"
    project.mkdir()
    fill_varied(project, 130)
    out = base / "dashboard.html"
    result = CliRunner().invoke(
        cli,
        ["analytics", "export", "--format", "html", "--project", str(project), "--tz", "UTC",
         "--by", "week", "-o", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return {"path": out, "records": query_executions(project, AnalyticsQuery())}


class OpenPage:
    """A page opened over file:// that records console errors, page errors and requests."""

    def __init__(self, context: Any, path: Path, color_scheme: str = "light") -> None:
        self.url = path.as_uri()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = context.new_page()
        self.page.emulate_media(color_scheme=color_scheme)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.goto(self.url)
        self.page.wait_for_function("window.phaserDashboard && window.phaserDashboard.ready")

    def _console(self, message: Any) -> None:
        if message.type in ("error", "assert"):
            self.errors.append(f"console {message.type}: {message.text}")

    def check_clean(self) -> None:
        assert self.errors == []
        assert self.requests == [self.url]  # the page itself, and nothing else

    def rows(self) -> list[dict[str, str]]:
        return self.page.evaluate(
            """() => [...document.querySelectorAll('#exec-table tbody tr.execution')].map(tr => {
                 const cells = [...tr.children].map(td => td.textContent.trim());
                 const heads = [...document.querySelectorAll('#exec-table thead th')]
                   .map(th => th.querySelector('button').dataset.sort);
                 return Object.fromEntries(heads.map((h, i) => [h, cells[i]]).concat(
                   [['id', tr.dataset.id]]));
               })"""
        )

    def range_text(self) -> str:
        return self.page.inner_text("#exec-range")


@pytest.fixture
def page(browser_context: Any, dashboard: dict[str, Any]) -> Iterator[OpenPage]:
    opened = OpenPage(browser_context, dashboard["path"])
    yield opened
    opened.check_clean()
    opened.page.close()


#: For each chart, each series: how many canvas pixels show its colour. Lines and points
#: are anti-aliased, so a colour within a small distance counts.
_SERIES_PIXELS = """() => window.phaserDashboard.charts.map(chart => {
  const canvas = chart.plot.ctx.canvas;
  const pixels = chart.plot.ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  const rgb = chart.colors.map(hex => {
    const m = hex.replace('#', '');
    return [0, 2, 4].map(i => parseInt(m.slice(i, i + 2), 16));
  });
  const counts = rgb.map(() => 0);
  for (let p = 0; p < pixels.length; p += 4) {
    if (pixels[p + 3] < 200) continue;
    rgb.forEach((c, i) => {
      if (Math.abs(pixels[p] - c[0]) + Math.abs(pixels[p + 1] - c[1]) +
          Math.abs(pixels[p + 2] - c[2]) < 40) counts[i] += 1;
    });
  }
  return {id: chart.id, series: chart.plot.series.length - 1, counts: counts,
          data: chart.plot.data.slice(1)};
})"""


def test_every_chart_draws_each_of_its_series(page: OpenPage, dashboard: dict) -> None:
    specs = page.page.evaluate("window.phaserDashboard.data.charts")
    drawn = {chart["id"]: chart for chart in page.page.evaluate(_SERIES_PIXELS)}
    assert set(drawn) == {spec["id"] for spec in specs}
    assert {"runs", "duration", "tests", "tokens", "cost", "phases", "reasons"} <= set(drawn)
    for spec in specs:
        chart = drawn[spec["id"]]
        assert chart["series"] == len(spec["series"])
        assert chart["data"] == [s["values"] for s in spec["series"]]
        for series, pixels in zip(spec["series"], chart["counts"], strict=True):
            if any(value for value in series["values"]):  # zero-height bars draw nothing
                assert pixels > 20, f"{spec['id']}: series {series['label']!r} is not drawn"


def test_the_figures_shown_match_the_store(page: OpenPage, dashboard: dict) -> None:
    records = dashboard["records"]
    shown = dict(page.page.evaluate(
        """() => [...document.querySelectorAll('.card')].map(card =>
             [card.dataset.key, card.querySelector('.value').textContent.trim()])"""
    ))  # fmt: skip
    from phaser_analytics.formatting import format_cost, format_duration, format_percent

    durations = [r.duration_seconds for r in records if r.duration_seconds is not None]
    successful = sum(1 for r in records if r.status is ExecutionStatus.SUCCESS)
    assert shown["runs"] == str(len(records)) == "130"
    assert shown["success_rate"] == format_percent(successful / len(records))
    assert shown["median_duration"] == format_duration(statistics.median(durations))
    assert shown["cost_usd"] == format_cost(sum(r.cost_usd or 0 for r in records))
    # The runs chart's table, opened as a reader would, against the store's weeks.
    page.page.click("#chart-runs summary")
    cells = page.page.evaluate(
        """() => [...document.querySelectorAll('#chart-runs tbody tr')].map(tr =>
             [tr.querySelector('th').textContent, tr.querySelector('td').textContent])"""
    )
    from collections import Counter
    from datetime import timezone

    from phaser_analytics.metrics import period_label, period_start

    weeks = Counter(
        period_label(period_start(r.started_at, "week", timezone.utc), "week") for r in records
    )
    assert [(w, str(n)) for w, n in sorted(weeks.items())] == [tuple(c) for c in cells]


def test_the_table_pages_through_every_execution(page: OpenPage, dashboard: dict) -> None:
    records = dashboard["records"]
    rows = page.rows()
    assert len(rows) == PAGE_SIZE
    assert [row["id"] for row in rows] == [r.execution_id for r in records[:PAGE_SIZE]]
    assert page.range_text() == f"Executions 1–50 of {len(records)}"
    page.page.click("#exec-next")
    assert [row["id"] for row in page.rows()] == [r.execution_id for r in records[50:100]]
    page.page.click("#exec-next")
    assert len(page.rows()) == len(records) - 100
    assert page.page.is_disabled("#exec-next")


def test_sorting_by_a_column_orders_the_rows(page: OpenPage, dashboard: dict) -> None:
    records = dashboard["records"]
    page.page.click("button[data-sort='duration']")  # longest first
    assert page.page.get_attribute("th:has(button[data-sort='duration'])", "aria-sort") == (
        "descending"
    )
    known = sorted((r for r in records if r.duration_seconds is not None),
                   key=lambda r: -r.duration_seconds)  # fmt: skip
    shown = page.rows()
    longest = {r.execution_id for r in known if r.duration_seconds == known[0].duration_seconds}
    assert shown[0]["id"] in longest
    from phaser_analytics.formatting import format_duration

    assert [row["duration"] for row in shown] == [
        format_duration(r.duration_seconds) for r in known[:PAGE_SIZE]
    ]
    page.page.click("button[data-sort='duration']")  # shortest first, unknown last
    shown = page.rows()
    assert shown[0]["duration"] == format_duration(known[-1].duration_seconds)
    page.page.click("button[data-sort='document']")
    documents = [row["document"] for row in page.rows()]
    assert documents == sorted(documents, key=str.lower)


def test_filtering_by_text_and_status(page: OpenPage, dashboard: dict) -> None:
    records = dashboard["records"]
    page.page.fill("#exec-filter", "document-01")
    expected = [r.execution_id for r in records if "document-01" in r.audit_document]
    assert [row["id"] for row in page.rows()] == expected
    assert page.range_text() == f"Executions 1–{len(expected)} of {len(expected)}"
    page.page.fill("#exec-filter", "type check")  # a failure reason
    expected = [r.execution_id for r in records
                if any("type check" in reason.lower() for reason in r.failure_reasons)]  # fmt: skip
    assert [row["id"] for row in page.rows()] == expected[:PAGE_SIZE]
    page.page.fill("#exec-filter", "")
    page.page.select_option("#exec-status", "2")
    failed = [r.execution_id for r in records if r.status is ExecutionStatus.FAILED]
    rows = page.rows()
    assert {row["status"] for row in rows} == {"Failed"}
    assert page.range_text().endswith(f" of {len(failed)}")
    page.page.fill("#exec-filter", "no such execution anywhere")
    assert page.rows() == []
    assert page.range_text() == "No executions match the filter."


def test_a_row_opens_to_its_phases_reasons_and_usage(page: OpenPage, dashboard: dict) -> None:
    record = next(
        r for r in dashboard["records"]
        if r.failure_reasons and r.tokens_by_model and len(r.tokens_by_model) == 2
    )  # fmt: skip
    page.page.fill("#exec-filter", record.execution_id)
    button = page.page.locator(f"tr[data-id='{record.execution_id}'] button.open")
    assert button.get_attribute("aria-expanded") == "false"
    button.click()
    assert button.get_attribute("aria-expanded") == "true"
    detail = page.page.locator("tr.detail")
    assert detail.count() == 1
    phases = detail.locator("table").nth(0).locator("tbody tr")
    assert phases.count() == len(record.phases)
    for i, phase in enumerate(record.phases):
        cells = phases.nth(i).locator("td").all_inner_texts()
        assert cells[0] == str(phase.phase_number) and cells[1] == phase.title
        assert cells[2] == phase.status.value.capitalize()
        assert cells[5] == (phase.error_message or "")
    assert detail.locator("li").all_inner_texts() == record.failure_reasons
    models = detail.locator("table").nth(1).locator("tbody tr td:first-child").all_inner_texts()
    assert models == sorted(record.tokens_by_model)
    page.page.locator(f"tr[data-id='{record.execution_id}']").click()  # the row closes again
    assert page.page.locator("tr.detail").count() == 0


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_or_critical_violation(
    browser_context: Any, dashboard: dict, scheme: str
) -> None:
    opened = OpenPage(browser_context, dashboard["path"], color_scheme=scheme)
    try:
        page = opened.page
        assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") == (
            scheme == "dark"
        )
        page.click("#chart-runs summary")  # a chart's table, and an opened execution
        page.locator("#exec-table button.open").first.click()
        page.evaluate(AXE.read_text(encoding="utf-8"))
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        serious = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert serious == []
        assert result["passes"]  # axe really ran
    finally:
        opened.check_clean()
        opened.page.close()


def test_the_numbers_are_there_without_javascript(browser_context: Any, dashboard: dict) -> None:
    """The headline and the chart tables are in the HTML itself, for readers without scripts."""
    html = dashboard["path"].read_text(encoding="utf-8")
    without_scripts = re.sub(r"<script\b.*?</script>", "", html, flags=re.S)
    page = browser_context.new_page()
    try:
        page.set_content(without_scripts)
        weeks = page.evaluate("window.phaserDashboard === undefined")
        assert weeks  # nothing ran
        assert page.locator(".card").count() == 7
        assert page.locator("#chart-runs tbody tr").count() == len(
            {r.started_at.isocalendar()[:2] for r in dashboard["records"]}
        )
    finally:
        page.close()


def test_without_chromium_these_tests_skip_naming_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sysdeps

    monkeypatch.setattr(sysdeps, "find_binary", lambda name, *globs: None)
    monkeypatch.setattr(sysdeps.os, "geteuid", lambda: 1000)  # not root: nothing installed
    sysdeps.ensure_debian_package.cache_clear()
    try:
        with pytest.raises(pytest.skip.Exception, match=r"apt-get install chromium"):
            chromium_path()
    finally:
        sysdeps.ensure_debian_package.cache_clear()
