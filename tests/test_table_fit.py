"""Every box fits the width, and piped output is whole (issue 14 item 14)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from console import phaser_command
from storage_helpers import make_record

from phaser_analytics.cli import cli
from phaser_analytics.formatting import display_width
from phaser_analytics.stores import project_store

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(*args, columns: int):
    return CliRunner(env={"COLUMNS": str(columns)}).invoke(cli, ["analytics", *map(str, args)])


@pytest.fixture
def imported(project):
    assert run("import", EXAMPLES, "-r", "--project", project, columns=100).exit_code == 0
    return project


def test_the_summary_wraps_between_its_parts(imported):
    result = run("show", "--project", imported, columns=44)
    summary = result.stdout.split("\n\n")[1].splitlines()
    assert len(summary) > 1
    assert all(display_width(line) <= 44 for line in summary)
    joined = " ".join(line.strip() for line in summary)
    assert (
        joined == "Summary: 3 executions | 1 successful (33%) | Avg: 51m 21s | Total Δ: +60 tests"
    )
    assert summary[1].startswith(" " * len("Summary: ")) and summary[0].endswith("|")


def test_a_year_by_day_fits_and_says_what_a_mark_spans(project):
    store = project_store(project)
    store.save([make_record(project, hours=24 * day, document=f"d{day}.md") for day in range(360)])
    store.close()
    result = run("trends", "--by", "day", "--tz", "UTC", "--project", project, columns=100)
    assert result.exit_code == 0, result.output
    assert all(display_width(line) <= 100 for line in result.stdout.splitlines()), result.stdout
    assert "a mark per 9 days" in result.stdout
    assert "Trends at a glance, 2024-12-01 to 2025-11-25" in result.stdout
    marks = re.search(r"│ Success rate │ (\S+)", result.stdout).group(1)
    assert len(marks) == 40


def test_piped_output_without_columns_is_not_cut(project):
    long_name = "document-" + "x" * 140 + ".md"
    store = project_store(project)
    store.save([make_record(project, document=long_name)])
    store.close()
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    done = subprocess.run([*phaser_command(), "analytics", "show", "--project", str(project)],
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert long_name in done.stdout and "…" not in done.stdout
    with_columns = subprocess.run(
        [*phaser_command(), "analytics", "show", "--project", str(project)],
        env={**env, "COLUMNS": "80"}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "…" in with_columns.stdout
    assert all(display_width(line) <= 80 for line in with_columns.stdout.splitlines())


def test_verbose_at_200_columns_sizes_the_title_column_to_its_content(imported):
    result = run("show", "--verbose", "--project", imported, columns=200)
    assert result.exit_code == 0, result.output
    widths = {
        display_width(line) for line in result.stdout.split("\n\nSummary")[0].splitlines() if line
    }
    assert max(widths) < 100  # the long Issues line of the bridge report wraps instead
    # The Title column is as wide as the longest title of its execution, not stretched.
    first = result.stdout.split("\n\n")[0]
    header = next(line for line in first.splitlines() if line.startswith("│ Phase │ Title"))
    assert display_width(header.split("│")[2]) == len("Reverse Audit Specification") + 2
    issues = [line for line in result.stdout.splitlines() if "baseline test suite failed" in line]
    assert issues and "…" not in "".join(result.stdout.split("Issues:")[1].splitlines()[:4])
