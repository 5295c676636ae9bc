"""Token usage and cost: the claude_tokens plugin, the price table, ``import --no-tokens``.

The transcripts under ``tests/fixtures/claude/projects/`` hold, besides the lines that count,
a repeated message, a resumed session repeating it again, lines just outside the window,
malformed lines, a line of another project sharing the slug, a synthetic zero-usage line,
a timestamp with an offset, a tool input carrying an old ``timestamp`` and a model
without a price. The expected figures below are worked out by hand from those lines.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from storage_helpers import json_store

from phaser_analytics import ExecutionRecord, hookimpl, parse_execution_report
from phaser_analytics.cli import cli
from phaser_analytics.default_plugins import claude_tokens, claude_usage, report_parser
from phaser_analytics.pipeline import load_report
from phaser_analytics.pricing import BUNDLED_PRICES, Price, PriceBook, cost_usd, model_key

FIXTURES = Path(__file__).parent / "fixtures" / "claude"
PROJECT_PATH = "/work/audits/demo-app"
OPUS = "claude-opus-4-5-20251101"
SONNET = "claude-sonnet-4-5-20250929"
HAIKU = "claude-haiku-4-5-20251001"
UNPRICED = "claude-opus-9-9-20270101"
UTC = timezone.utc

# 2025-06-01 10:00–11:00 UTC, worked out line by line from 11111111-aaaa.jsonl and
# 22222222-bbbb.jsonl.
MEASURED_BY_MODEL = {
    OPUS: {  # msg_A1 once (of three lines), msg_A5 (cwd in src/), msg_B1
        "input": 100 + 7 + 1000,
        "output": 200 + 8 + 2000,
        "cache_creation": 1000,
        "cache_read": 5000 + 10000,
        "total": 19315,
        "cost_usd": 0.074485,  # 1107×5 + 2208×25 + 1000×6.25 + 15000×0.50, per million
    },
    SONNET: {  # msg_A2, msg_A4 (exactly at the end), msg_A7 (old timestamp in a tool input)
        "input": 10 + 1 + 2,
        "output": 20 + 2 + 3,
        "cache_creation": 3,
        "cache_read": 3000 + 4,
        "total": 3045,
        "cost_usd": 0.001326,  # 13×3 + 25×15 + 3×3.75 + 3004×0.30 = 1326.45 per million
    },
    HAIKU: {  # msg_A3 (written to the 1-hour cache), msg_A6 (+02:00 timestamp)
        "input": 50 + 5,
        "output": 60 + 5,
        "cache_creation": 400,
        "cache_read": 0,
        "total": 520,
        "cache_creation_1h": 400,
        "cost_usd": 0.00118,  # 55×1 + 65×5 + 400×2 (1-hour write price)
    },
}
MEASURED_TOKENS = {
    "input": 1175,
    "output": 2298,
    "cache_creation": 1403,
    "cache_read": 18004,
    "total": 22880,
}
MEASURED_COST = 0.076991


@pytest.fixture
def transcripts(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(FIXTURES))
    return FIXTURES


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """The fixture reports in a project directory of their own (with a .phaser/, so the
    project's config is found there and nowhere else)."""
    project = tmp_path / "work"
    (project / ".phaser").mkdir(parents=True)
    shutil.copytree(FIXTURES / "reports", project / "reports")
    return project


def _load(reports: Path, name: str) -> ExecutionRecord:
    record, warnings = load_report(reports / "reports" / name / "EXECUTION_REPORT.md", reports)
    assert warnings == []
    return record


def _record(**values: object) -> ExecutionRecord:
    base: dict[str, object] = {
        "execution_id": "e1",
        "project_path": PROJECT_PATH,
        "started_at": datetime(2025, 6, 1, 10, 0, tzinfo=UTC),
        "completed_at": datetime(2025, 6, 1, 11, 0, tzinfo=UTC),
    }
    base.update(values)
    return ExecutionRecord(**base)  # type: ignore[arg-type]


# -- transcripts --------------------------------------------------------------------------


def test_slug_replaces_every_character_but_ascii_letters_and_digits() -> None:
    assert claude_usage.project_slug("/work/audits/demo-app") == "-work-audits-demo-app"
    assert claude_usage.project_slug("/work/audits/demo/app") == "-work-audits-demo-app"
    assert claude_usage.project_slug("C:\\Users\\jü p\\x_1") == "C--Users-j--p-x-1"


def test_transcripts_give_exact_tokens_per_model_and_cost(transcripts: Path, reports: Path):
    record = _load(reports, "measured")
    assert record.tokens == MEASURED_TOKENS
    assert record.tokens_by_model == MEASURED_BY_MODEL
    assert record.cost_usd == MEASURED_COST
    assert record.extra["token_source"] == "transcripts"


def test_transcripts_win_over_the_report_table_which_is_kept(transcripts: Path, reports: Path):
    record = _load(reports, "measured")
    assert record.total_tokens == 22880
    assert record.extra["reported_token_usage"] == {
        "tokens": {
            "input": 1200,
            "output": 2300,
            "cache_creation": 1400,
            "cache_read": 18000,
            "total": 22900,
        },
        "cost_usd": 0.08,
    }


def test_a_model_without_a_price_leaves_the_cost_unknown(transcripts: Path, reports: Path):
    first = _load(reports, "unpriced")
    second = _load(reports, "unpriced")
    for record in (first, second):
        assert record.tokens == {
            "input": 110,
            "output": 110,
            "cache_creation": 0,
            "cache_read": 0,
            "total": 220,
        }
        assert record.cost_usd is None
        assert record.tokens_by_model is not None
        assert record.tokens_by_model[UNPRICED]["cost_usd"] is None
        assert record.tokens_by_model[SONNET]["cost_usd"] == 0.0018


def test_a_model_without_a_price_is_warned_about_once_per_process(reports: Path):
    """The warning is said once by a process that reads the model many times: the same
    report read three times in a fresh interpreter, as an import of many reports does."""
    report = reports / "reports" / "unpriced" / "EXECUTION_REPORT.md"
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from phaser_analytics.pipeline import load_report\n"
        "for _ in range(3):\n"
        "    record, warnings = load_report(Path(sys.argv[1]), Path(sys.argv[2]))\n"
        "    assert record.cost_usd is None and warnings == [], warnings\n"
    )
    env = {**os.environ, "CLAUDE_CONFIG_DIR": str(FIXTURES)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(report), str(reports)],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if UNPRICED in line]
    assert len(warnings) == 1
    assert "no price" in warnings[0]


def test_a_price_in_the_config_prices_the_model(
    transcripts: Path, reports: Path, isolated_home: Path
):
    (isolated_home / "config.json").write_text(
        json.dumps(
            {
                "analytics": {
                    "pricing": {
                        "opus-9-9": {"input": 100, "output": 100, "cache_write": 0, "cache_read": 0}
                    }
                }
            }
        )
    )
    record = _load(reports, "unpriced")
    assert record.tokens_by_model is not None
    assert record.tokens_by_model[UNPRICED]["cost_usd"] == 0.002  # 20 tokens × $100/M
    assert record.cost_usd == 0.0038


def test_the_project_config_wins_over_the_global_one(
    transcripts: Path, reports: Path, isolated_home: Path
):
    sonnet = {"input": 1000, "output": 0, "cache_write": 0, "cache_read": 0}
    (isolated_home / "config.json").write_text(
        json.dumps({"analytics": {"pricing": {"sonnet-4-5": sonnet}}})
    )
    cheap = {**sonnet, "input": 10}
    (reports / ".phaser" / "config.json").write_text(
        json.dumps({"analytics": {"pricing": {SONNET: cheap, "opus-9-9": cheap}}})
    )
    record = _load(reports, "unpriced")
    assert record.tokens_by_model is not None
    assert record.tokens_by_model[SONNET]["cost_usd"] == 0.001  # 100 input × $10/M
    assert record.cost_usd == 0.0011


def test_a_bad_price_entry_is_ignored_with_a_warning(
    transcripts: Path, reports: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]
):
    (isolated_home / "config.json").write_text(
        json.dumps({"analytics": {"pricing": {"sonnet-4-5": {"input": "three"}}}})
    )
    record = _load(reports, "unpriced")
    assert record.tokens_by_model is not None
    assert record.tokens_by_model[SONNET]["cost_usd"] == 0.0018  # the bundled price
    assert "pricing entry 'sonnet-4-5' needs a number for 'input'" in capsys.readouterr().err


def test_an_unreadable_config_costs_its_prices_not_the_tokens(
    transcripts: Path, reports: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]
):
    (isolated_home / "config.json").write_text("{not json")
    record = _load(reports, "measured")
    assert record.cost_usd == MEASURED_COST
    assert "is not valid JSON" in capsys.readouterr().err


def test_the_report_table_is_used_when_there_are_no_transcripts(reports: Path):
    record = _load(reports, "reported")
    assert record.tokens == {
        "input": 12345,
        "output": 6789,
        "cache_creation": 1000,
        "cache_read": 50000,
        "total": 70134,
    }
    assert record.cost_usd == 1.23
    assert record.tokens_by_model is None
    assert record.extra["token_source"] == "report"


def test_the_dialect_hands_the_table_over_and_the_file_is_not_read_again(
    reports: Path, monkeypatch: pytest.MonkeyPatch
):
    read_again: list[Path] = []
    monkeypatch.setattr(claude_usage, "report_token_usage", read_again.append)
    for name in ("reported", "unpriced"):  # a table, and none
        record = _load(reports, name)
        assert report_parser.REPORT_TOKEN_TABLES not in record.extra
    assert record.tokens is None
    assert _load(reports, "reported").cost_usd == 1.23
    assert read_again == []


def test_the_dialect_gives_the_token_usage_tables_in_report_order():
    parse_report_text = report_parser.parse_report_text

    text = (FIXTURES / "reports" / "reported" / "EXECUTION_REPORT.md").read_text(encoding="utf-8")
    text += "\n## Tokens\n\n| Input | 1k |\n|---|---|\n| Output | 2 |\n"
    tables = parse_report_text(text)[report_parser.REPORT_TOKEN_TABLES]
    assert [rows[:2] for rows in tables] == [
        [("Kind", "Count"), ("Input tokens", "12,345")],  # the fenced table is no table
        [("Input", "1k"), ("Output", "2")],
    ]
    assert claude_usage.usage_from_tables(tables)["tokens"]["total"] == 70134
    assert report_parser.REPORT_TOKEN_TABLES not in parse_execution_report(text)
    no_table = text.replace("## Token Usage", "## Usage").replace("## Tokens", "## Usage")
    assert report_parser.REPORT_TOKEN_TABLES not in parse_report_text(no_table)


@pytest.mark.parametrize("skip", [(), ("claude_tokens",)])
def test_the_handed_over_tables_never_reach_the_record(reports: Path, skip: tuple[str, ...]):
    report = reports / "reports" / "reported" / "EXECUTION_REPORT.md"
    record, _ = load_report(report, reports, skip_plugins=skip)
    assert report_parser.REPORT_TOKEN_TABLES not in record.extra
    assert record.total_tokens == (None if skip else 70134)


def test_a_dialect_that_hands_nothing_over_leaves_the_plugin_to_read_the_file(reports: Path):
    from phaser_analytics.plugins import build_host

    class Other:
        name = "other"
        patterns = ("EXECUTION_REPORT.md",)

        def detect(self, text: str) -> bool:
            return True

        def parse(self, text: str, path: Path | None) -> dict[str, Any]:
            return {"audit_document": "other.md"}

    class Plugin:
        @hookimpl
        def register_dialects(self, register: Any) -> None:
            register(Other())

    host = build_host([("other", Plugin())])
    report = reports / "reports" / "reported" / "EXECUTION_REPORT.md"
    record, _ = load_report(report, reports, dialect="other", host=host)
    assert record.audit_document == "other.md"
    assert record.total_tokens == 70134 and record.extra["token_source"] == "report"


def _enrich(record: ExecutionRecord) -> None:
    """What an import does with the plugin: the host runs it and applies its fields."""
    from phaser_analytics.plugins import build_host

    host = build_host([("claude_tokens", claude_tokens)], entry_points=False)
    assert host.enrich(record, None) == []


def test_nothing_found_leaves_the_fields_null(reports: Path):
    record = _load(reports, "unpriced")  # no transcripts (empty CLAUDE_CONFIG_DIR), no table
    assert (record.tokens, record.tokens_by_model, record.cost_usd) == (None, None, None)
    assert "token_source" not in record.extra


def test_a_bare_date_gives_no_window(transcripts: Path):
    record = _record(date_only=True)
    _enrich(record)
    assert record.tokens is None


def test_tokens_set_by_an_earlier_plugin_are_kept(transcripts: Path):
    record = _record(tokens={"input": 1, "output": 1, "cache_creation": 0, "cache_read": 0})
    _enrich(record)
    assert record.tokens == {"input": 1, "output": 1, "cache_creation": 0, "cache_read": 0}
    assert record.cost_usd is None


def test_only_lines_near_the_window_are_parsed(transcripts: Path, monkeypatch: pytest.MonkeyPatch):
    parsed: list[str] = []  # every text json.loads is given while the transcripts are read
    real_loads = json.loads

    def counting_loads(text: str, **options: Any) -> object:
        parsed.append(text)
        return real_loads(text, **options)

    monkeypatch.setattr(json, "loads", counting_loads)
    window = claude_usage.Window(
        datetime(2025, 6, 2, 9, 0, tzinfo=UTC), datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
    )
    files = claude_usage.transcript_files(transcripts, PROJECT_PATH)
    usage = claude_usage.scan_transcripts(files, PROJECT_PATH, window)
    assert set(usage) == {UNPRICED, SONNET}
    # The two lines of 2 June, and the line whose timestamp carries an offset (it cannot
    # be compared as text); none of the 1 June lines.
    assert len(parsed) == 3


def test_a_transcript_last_written_before_the_start_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    root = tmp_path / "claude"
    shutil.copytree(FIXTURES / "projects", root / "projects")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(root))
    resumed = root / "projects" / "-work-audits-demo-app" / "22222222-bbbb.jsonl"
    before = datetime(2025, 6, 1, 9, 0, tzinfo=UTC).timestamp()
    os.utime(resumed, (before, before))
    record = _record()
    _enrich(record)
    assert record.tokens_by_model is not None
    assert record.tokens_by_model[OPUS]["input"] == 100 + 7  # msg_B1's 1000 not read


def test_a_line_without_ids_is_counted_each_time(tmp_path: Path):
    line = json.dumps(
        {
            "type": "assistant",
            "cwd": "/p",
            "timestamp": "2025-06-01T10:10:00Z",
            "message": {"model": SONNET, "usage": {"input_tokens": 5, "output_tokens": 1}},
        }
    )
    transcript = tmp_path / "s.jsonl"
    transcript.write_text(line + "\n" + line + "\n")
    window = claude_usage.Window(
        datetime(2025, 6, 1, 10, 0, tzinfo=UTC), datetime(2025, 6, 1, 11, 0, tzinfo=UTC)
    )
    usage = claude_usage.scan_transcripts([transcript], "/p", window)
    assert usage == {SONNET: {"input": 10, "output": 2, "cache_creation": 0, "cache_read": 0}}


@pytest.mark.parametrize(
    ("cwd", "counted"),
    [
        ("/work/audits/demo-app", True),
        ("/work/audits/demo-app/", True),
        ("/work/audits/demo-app/src/deep", True),
        ("/work/audits/demo/app", False),
        ("/work/audits/demo-app-2", False),
    ],
)
def test_within_project(cwd: str, counted: bool) -> None:
    assert claude_usage.within_project(cwd, PROJECT_PATH) is counted


# -- the report table ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("Input", "input"),
        ("Input tokens", "input"),
        ("**Output**", "output"),
        ("Cache creation", "cache_creation"),
        ("Cache writes", "cache_creation"),
        ("Cache creation input tokens", "cache_creation"),
        ("Cache read", "cache_read"),
        ("Cache hits", "cache_read"),
        ("Total", "total"),
        ("Total cost", "cost"),
        ("Estimated cost (USD)", "cost"),
        ("Cache", None),
        ("Duration", None),
    ],
)
def test_row_kind(label: str, kind: str | None) -> None:
    assert claude_usage.row_kind(label) == kind


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("12,345", 12345),
        ("12 345 tokens", 12345),
        ("~$1.23", 1.23),
        ("$1,234.50", 1234.5),
        ("1.2M", 1_200_000),
        ("45k", 45_000),
        ("none", None),
    ],
)
def test_read_number(text: str, number: float | None) -> None:
    assert claude_usage.read_number(text) == number


def test_a_table_without_a_total_row_totals_its_rows() -> None:
    values = claude_usage.token_table_values([("Input", "10"), ("Output", "5")])
    assert values == {
        "tokens": {
            "input": 10,
            "output": 5,
            "cache_creation": None,
            "cache_read": None,
            "total": 15,
        },
        "cost_usd": None,
    }


def test_a_table_of_other_figures_is_not_token_usage() -> None:
    assert claude_usage.token_table_values([("Phase", "Duration"), ("1", "3m")]) is None


# -- prices -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("claude-sonnet-4-5-20250929", "sonnet-4-5"),
        ("claude-opus-4-20250514", "opus-4"),
        ("claude-opus-4-0", "opus-4"),
        ("claude-3-5-haiku-20241022", "haiku-3-5"),
        ("claude-3-7-sonnet-latest", "sonnet-3-7"),
        ("claude-3-opus-20240229", "opus-3"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "sonnet-4-5"),
        ("claude-sonnet-4-5@20250929", "sonnet-4-5"),
        ("claude-opus-5-5[1m]", "opus-5-5"),
    ],
)
def test_model_key(model: str, key: str) -> None:
    assert model_key(model) == key


def test_no_price_is_guessed_for_an_unknown_version() -> None:
    book = PriceBook()
    assert book.price("claude-opus-9-9-20270101") is None
    assert book.price("claude-sonnet") is None
    assert book.price("gpt-4o") is None
    assert book.price(OPUS) == BUNDLED_PRICES["opus-4-5"]


def test_cost_prices_each_kind_of_token() -> None:
    price = Price(input=1, output=2, cache_write=4, cache_read=8, cache_write_1h=16)
    usage = {
        "input": 1_000_000,
        "output": 1_000_000,
        "cache_creation": 3_000_000,
        "cache_creation_1h": 1_000_000,
        "cache_read": 1_000_000,
    }
    assert cost_usd(usage, price) == 1 + 2 + 2 * 4 + 16 + 8


# -- import --no-tokens -------------------------------------------------------------------


@pytest.mark.parametrize(("flags", "total"), [([], 22880), (["--no-tokens"], None)])
def test_import_no_tokens(runner, transcripts: Path, reports: Path, flags, total) -> None:
    report = reports / "reports" / "measured" / "EXECUTION_REPORT.md"
    result = runner.invoke(
        cli, ["analytics", "import", str(report), "--project", str(reports), *flags]
    )
    assert result.exit_code == 0, result.output
    (entry,) = list(json_store(reports).find())
    assert entry.total_tokens == total
    (record,) = json_store(reports).read([entry])
    assert record.cost_usd == (MEASURED_COST if total else None)


def test_the_documented_price_table_is_the_bundled_one() -> None:
    text = (Path(__file__).parent.parent / "docs" / "metrics.md").read_text(encoding="utf-8")
    table = text.split("<!-- prices:", 1)[1].split("<!-- /prices -->", 1)[0]
    documented = {}
    for line in table.splitlines()[3:]:
        key, *numbers = (cell.strip() for cell in line.strip().strip("|").split("|"))
        inp, out, write, write_1h, read = (float(n) for n in numbers)
        documented[key] = Price(inp, out, write, read, write_1h)
    assert documented == BUNDLED_PRICES


def test_a_pricing_section_does_not_upset_the_other_commands(runner, project: Path) -> None:
    (project / ".phaser").mkdir()
    (project / ".phaser" / "config.json").write_text(
        json.dumps({"analytics": {"pricing": {"opus-9-9": {"input": 1}}}})
    )
    result = runner.invoke(cli, ["analytics", "show", "--project", str(project)])
    assert result.exit_code == 0, result.output


def test_import_prices_with_the_target_projects_config(
    transcripts: Path, tmp_path: Path, runner
) -> None:
    """Issue 14 item 6: `import --project P report.md` with the report elsewhere (here in a
    directory with a .phaser/ config of its own) prices with P's config."""
    elsewhere = tmp_path / "downloads"
    (elsewhere / ".phaser").mkdir(parents=True)
    shutil.copytree(FIXTURES / "reports" / "unpriced", elsewhere / "unpriced")
    cheap = {"input": 100, "output": 100, "cache_write": 0, "cache_read": 0}
    (elsewhere / ".phaser" / "config.json").write_text(
        json.dumps({"analytics": {"pricing": {"opus-9-9": {**cheap, "input": 1}}}})
    )
    target = tmp_path / "target"
    (target / ".phaser").mkdir(parents=True)
    (target / ".phaser" / "config.json").write_text(
        json.dumps({"analytics": {"pricing": {"opus-9-9": cheap}}})
    )
    report = elsewhere / "unpriced" / "EXECUTION_REPORT.md"
    result = runner.invoke(cli, ["analytics", "import", str(report), "--project", str(target)])
    assert result.exit_code == 0, result.output
    exported = runner.invoke(cli, ["analytics", "export", "--project", str(target)])
    execution = json.loads(exported.stdout)["executions"][0]
    assert execution["tokens_by_model"][UNPRICED]["cost_usd"] == 0.002  # P's $100/M, not $1/M


def _assistant_line(message_id: str, request_id: str, tokens: int, at: str) -> str:
    return json.dumps({
        "type": "assistant", "cwd": "/work/audits/demo-app", "isSidechain": True,
        "requestId": request_id, "timestamp": at,
        "message": {"id": message_id, "role": "assistant", "model": "claude-opus-4-5-20251101",
                    "usage": {"input_tokens": tokens, "output_tokens": tokens,
                              "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}},
    })  # fmt: skip


def test_sub_agent_transcripts_count_once_each_message(
    tmp_path: Path, reports: Path, monkeypatch: pytest.MonkeyPatch, runner
) -> None:
    """Issue 14 item 5: `<slug>/<session>/subagents/*.jsonl` are part of the run; a message
    seen in two files (same message id and request id) counts once."""
    root = tmp_path / "claude"
    shutil.copytree(FIXTURES / "projects", root / "projects")
    subagents = root / "projects" / "-work-audits-demo-app" / "11111111-aaaa" / "subagents"
    subagents.mkdir(parents=True)
    (subagents / "agent-1.jsonl").write_text(
        _assistant_line("msg_sub1", "req_sub1", 1000, "2025-06-01T10:20:00.000Z")
        + "\n"
        + _assistant_line("msg_sub2", "req_sub2", 10, "2025-06-01T10:21:00.000Z")
        + "\n",
        encoding="utf-8",
    )
    (subagents / "agent-2.jsonl").write_text(  # repeats agent-1's second message
        _assistant_line("msg_sub2", "req_sub2", 10, "2025-06-01T10:21:00.000Z") + "\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(root))
    report = reports / "reports" / "measured" / "EXECUTION_REPORT.md"
    result = runner.invoke(cli, ["analytics", "import", str(report), "--project", str(reports)])
    assert result.exit_code == 0, result.output
    exported = runner.invoke(cli, ["analytics", "export", "--project", str(reports)])
    tokens = json.loads(exported.stdout)["executions"][0]["tokens"]
    assert tokens["input"] == MEASURED_TOKENS["input"] + 1010
    assert tokens["output"] == MEASURED_TOKENS["output"] + 1010
    assert tokens["total"] == MEASURED_TOKENS["total"] + 2020
