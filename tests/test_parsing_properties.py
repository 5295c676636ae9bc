"""Properties of the parser: it never fails but with ReportParseError, and a report written
from known values, in any of the accepted styles, reads back as those values."""

from __future__ import annotations

import string
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phaser_analytics.default_plugins.report_parser import (
    _inline_text,
    _markdown,
    _parsed_inline_text,
    _unread_heading,
    parse_report_text,
    split_sections,
    without_unread_sections,
)
from phaser_analytics.errors import ReportParseError
from phaser_analytics.models import ExecutionRecord, ExecutionStatus, PhaseRecord, PhaseStatus

# Small runs: the whole parsing suite stays well under 20 s.
TEXT = settings(max_examples=300, deadline=None)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROUND_TRIP = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RECORD_FIELDS = set(ExecutionRecord.__dataclass_fields__)


def parse_or_reject(text: str) -> dict[str, Any] | None:
    """Parse ``text``; ``None`` when it is rejected the one allowed way."""
    try:
        result = parse_report_text(text)
    except ReportParseError as error:
        assert error.section == "Metadata"
        return None
    assert isinstance(result["warnings"], list)
    assert all(isinstance(w, str) and "\n" not in w for w in result["warnings"])
    # A bug in a section reader would show up as this warning instead of an exception.
    assert not [w for w in result["warnings"] if "internal error" in w]
    assert not [key for key in result if key.startswith("_")]
    assert all(isinstance(p, PhaseRecord) for p in result.get("phases", []))
    assert isinstance(result["status"], ExecutionStatus)
    return result


# -- never anything but ReportParseError --------------------------------------------------

WORDS = [
    "Metadata",
    "Execution Summary",
    "Test Results",
    "Git History",
    "Files Changed",
    "Issues Encountered",
    "Acceptance Criteria Status",
    "Phase",
    "Status",
    "Commit",
    "Title",
    "Field",
    "Value",
    "Started",
    "Completed",
    "Base Commit",
    "Phaser Version",
    "Branch",
    "Tag",
    "**Result:**",
    "**Phases:**",
    "**Baseline:**",
    "**Final:**",
    "**Delta:**",
    "**Commits:**",
    "**Summary:**",
    "✅",
    "❌",
    "⚠️",
    "⚠",
    "âœ…",
    "âš ï¸",
    "1 of 2",
    "3",
    "-7",
    "1,204",
    "2024-12-06",
    "2024-12-06T10:30:00Z",
    "+02:00",
    "->",
    "→",
    "(v1)",
    "\\|",
    "|",
    "`",
    "*",
    "_",
    "-",
    "#",
    "```",
    "~~~",
    "Phase 3:",
    "files changed",
    "insertions(+)",
    "passed",
    "failed",
    "total",
    "No issues encountered during execution.",
    "<div>",
    "[link](x)",
    "\\",
    "&amp;",
    "",
]
cell = st.lists(st.sampled_from(WORDS) | st.text(max_size=6), max_size=3).map(" ".join)


@st.composite
def table(draw: st.DrawFn) -> str:
    width = draw(st.integers(1, 5))
    header = draw(st.sampled_from(["Field | Value", "Phase | Title | Status | Commit", None]))
    rows = draw(st.lists(st.lists(cell, min_size=0, max_size=width + 1), max_size=5))
    lines = [f"| {header} |" if header else "| " + " | ".join(["h"] * width) + " |"]
    lines.append(draw(st.sampled_from(["|---|---|", "| :-: | -- | --- | - |", "-|-", "|-|"])))
    lines += [draw(st.sampled_from(["| ", ""])) + " | ".join(row) for row in rows]
    return "\n".join(lines)


block = st.one_of(
    st.builds(lambda level, text: "#" * level + " " + text, st.integers(1, 6), cell),
    table(),
    st.builds(lambda fence, body: f"{fence}\n{body}", st.sampled_from(["```", "~~~"]), cell),
    st.builds(lambda label, value: f"{label} {value}", st.sampled_from(WORDS), cell),
    st.builds(
        lambda marker, text: marker + text, st.sampled_from(["- ", "1. ", "> ", "    "]), cell
    ),
    st.sampled_from(["---", "***", "", "\t", "Setext\n===", "<!-- c -->", "- [x] done"]),
    st.text(max_size=30),
)
markdownish = st.builds(
    lambda blocks, joiner: joiner.join(blocks),
    st.lists(block, max_size=20),
    st.sampled_from(["\n", "\n\n", "\r\n", "\r"]),
)
METADATA = "## Metadata\n\n| Field | Value |\n|---|---|\n| Project | Phaser |\n\n"


@TEXT
@given(st.text(max_size=2000))
def test_arbitrary_text_never_raises_anything_else(text: str):
    parse_or_reject(text)


@FUZZ
@given(markdownish)
def test_markdownish_text_never_raises_anything_else(text: str):
    parse_or_reject(text)


@FUZZ
@given(markdownish)
def test_whatever_follows_a_readable_metadata_table_it_is_read(after: str):
    result = parse_or_reject(f"# Execution Report\n\n{METADATA}{after}")
    assert result is not None
    assert result["project_name"] == "Phaser"


# -- round trip ---------------------------------------------------------------------------

word = st.text(string.ascii_letters + string.digits, min_size=1, max_size=8)
# "None", "N/A", "unknown"… alone in a metadata cell mean "not known" (docs/report-format.md).
text_value = (
    st.lists(word, min_size=1, max_size=4)
    .map(" ".join)
    .filter(lambda v: v.lower() not in {"na", "none", "unknown", "tbd", "null"})
)
hex_sha = st.text("0123456789abcdef", min_size=7, max_size=12)
sha = hex_sha | st.text(string.ascii_lowercase + string.digits, min_size=7, max_size=12).filter(
    lambda s: any(c.isdigit() for c in s)
)
moment = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2099, 12, 31),
    timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=2))]),
).map(lambda d: d.replace(microsecond=0))
SYMBOLS = {
    PhaseStatus.COMPLETED: ["✅", "✅ Completed", "Done", "âœ…"],
    PhaseStatus.FAILED: ["❌", "❌ Failed", "Failed", "âŒ"],
    PhaseStatus.SKIPPED: ["⚠️", "⚠", "Skipped", "âš ï¸"],
}


def write_timestamp(value: datetime, form: int) -> str:
    if value.utcoffset() == timedelta(0):
        zone = ["Z", "Z", " UTC", ""][form]
    else:
        zone = "+02:00"
    separator = " " if form == 1 else "T"
    return value.strftime(f"%Y-%m-%d{separator}%H:%M:%S") + zone


@st.composite
def report(draw: st.DrawFn) -> tuple[str, dict[str, Any], list[tuple]]:
    padded = draw(st.booleans())
    spaced = draw(st.booleans())  # blank lines between labelled lines

    def row(*cells: str) -> str:
        return "| " + " | ".join(cells) + " |" if padded else "|".join(cells)

    def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
        return [row(*header), row(*["---"] * len(header)), *(row(*r) for r in rows)]

    started, completed = draw(moment), draw(moment)
    form = draw(st.integers(0, 3))
    values: dict[str, Any] = {
        "audit_document": draw(word) + ".md",
        "document_title": draw(text_value),
        "project_name": draw(text_value),
        "project_path": "/" + "/".join(draw(st.lists(word, min_size=1, max_size=3))),
        "branch": "audit/" + draw(word),
        "base_commit": draw(sha),
        "started_at": started,
        "completed_at": completed,
        "phaser_version": ".".join(str(draw(st.integers(0, 20))) for _ in range(3)),
    }
    metadata = [
        ("Audit Document", values["audit_document"]),
        ("Document Title", values["document_title"].replace(" ", " \\| ", 1)),
        ("Project", values["project_name"]),
        ("Project Path", values["project_path"]),
        ("Branch", values["branch"]),
        ("Base Commit", values["base_commit"]),
        ("Started", write_timestamp(started, form)),
        ("Completed", write_timestamp(completed, form)),
        ("Phaser Version", values["phaser_version"]),
    ]
    values["document_title"] = values["document_title"].replace(" ", " | ", 1)
    numbers = draw(st.lists(st.integers(1, 999), min_size=1, max_size=8, unique=True))
    phases = []
    for number in numbers:
        status = draw(st.sampled_from(list(PhaseStatus)))
        commit = draw(sha) if status is PhaseStatus.COMPLETED else None
        phases.append((number, draw(text_value), status, commit))
    done = sum(1 for p in phases if p[2] is PhaseStatus.COMPLETED)
    baseline = draw(st.integers(0, 50_000))
    final = draw(st.integers(0, 50_000))
    shas = draw(st.lists(sha, min_size=1, max_size=6))
    files, added = draw(st.integers(1, 500)), draw(st.integers(0, 10_000))
    removed = draw(st.integers(0, 10_000))
    values.update(
        phases_planned=len(phases),
        phases_completed=done,
        baseline_tests=baseline,
        final_tests=final,
        reported_test_delta=final - baseline,
        commit_count=len(shas),
        final_commit=shas[0],
        files_changed=files,
        lines_added=added,
        lines_removed=removed,
    )
    gap = "\n\n" if spaced else "\n"
    lines = ["# Execution Report: " + values["document_title"], "", "## Metadata", ""]
    lines += table(("Field", "Value"), metadata)
    lines += ["", "## Execution Summary", ""]
    lines += [f"**Phases:** {done} of {len(phases)} completed", ""]
    lines += table(
        ("Phase", "Title", "Status", "Commit"),
        [
            (str(n), title, draw(st.sampled_from(SYMBOLS[status])), commit or "")
            for n, title, status, commit in phases
        ],
    )
    lines += ["", "## Test Results", ""]
    counts = [f"**Baseline:** {baseline:,} tests", f"**Final:** {final} tests"]
    lines.append(gap.join([*counts, f"**Delta:** {final - baseline:+d} tests"]))
    lines += ["", "## Git History", "", f"**Commits:** {len(shas)}", "", "```"]
    lines += [f"{s} Phase {i}: work" for i, s in enumerate(shas)] + ["```"]
    summary = f"{files} files changed, {added} insertions(+), {removed} deletions(-)"
    lines += ["", "## Files Changed", "", f"**Summary:** {summary}", ""]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    bom = draw(st.sampled_from(["", "\ufeff"]))
    return bom + newline.join(lines), values, phases


@ROUND_TRIP
@given(report())
def test_a_written_report_reads_back(case: tuple[str, dict[str, Any], list[tuple]]):
    text, values, phases = case
    result = parse_or_reject(text)
    assert result is not None
    assert {key: result.get(key) for key in values} == values
    assert [(p.phase_number, p.title, p.status, p.commit_sha) for p in result["phases"]] == phases
    done = sum(1 for p in phases if p[2] is PhaseStatus.COMPLETED)
    expected = (
        ExecutionStatus.SUCCESS
        if done == len(phases)
        else ExecutionStatus.PARTIAL
        if done
        else ExecutionStatus.FAILED
    )
    assert result["status"] is expected
    assert result["warnings"] == []
    assert set(values) <= RECORD_FIELDS


# -- the inline fast path -----------------------------------------------------------------

# Every character an inline rule of markdown-it-py's commonmark preset reacts to, the ones
# it reserves for extensions, whitespace it does and does not count as such, and text.
INLINE_ALPHABET = list("ab1 :|-#+=$%@^{}()'\"\t\n\r\\`*_[]<>&!~\u00a0\u2003\x1c\x85é✅⚠️")
# Whole constructs, which random characters seldom form.
INLINE_PIECES = [
    "&amp;", "&#35;", "&copy;", "[a](b)", "[ref]", "![i](s.png)", "<https://x.y>", "<b>",
    "</i>", "`c`", "``", "\\*", "*e*", "**s**", "_u_", "__w__", "~~t~~", "  \n", "\n  ",
]  # fmt: skip
inline_snippets = st.one_of(
    st.text(alphabet=st.sampled_from(INLINE_ALPHABET), max_size=40),
    st.lists(st.sampled_from(INLINE_PIECES + INLINE_ALPHABET), max_size=12).map("".join),
    st.text(max_size=80),
    st.builds("**{}:** {}".format, st.text(max_size=12), st.text(max_size=20)),
    st.builds("**{}**{}".format, *[st.text(alphabet=st.sampled_from(INLINE_ALPHABET))] * 2),
)


@settings(max_examples=1500, deadline=None)
@given(inline_snippets)
def test_inline_text_is_what_markdown_it_makes_of_it(text: str):
    md = _markdown()
    assert _inline_text(md, text) == _parsed_inline_text(md, text)


def test_plain_inline_text_skips_the_inline_parser(monkeypatch):
    md = _markdown()

    def refuse(*args: Any) -> None:
        raise AssertionError("the inline parser ran on plain text")

    monkeypatch.setattr(md.inline, "parse", refuse)
    assert _inline_text(md, "  Phase 3: Query filters (v2) ✅ ") == "Phase 3: Query filters (v2) ✅"
    assert _inline_text(md, "x" * 5000) == "x" * 4000


def test_the_fast_path_knows_every_active_inline_rule():
    # _INLINE_MARKUP lists the characters these rules start at; a rule added by a
    # markdown-it-py upgrade or by _markdown() must be added there too.
    assert _markdown().inline.ruler.get_active_rules() == [
        "text",
        "newline",
        "escape",
        "backticks",
        "emphasis",
        "link",
        "image",
        "autolink",
        "html_inline",
        "entity",
    ]
    assert _markdown().inline.ruler2.get_active_rules() == [
        "balance_pairs",
        "emphasis",
        "fragments_join",
    ]


# -- the sections no reader looks at, left out of the parse ---------------------------------

# Lines that open, close or hide sections, or look as if they did: headings at every depth
# and indentation, fences of both kinds and lengths (with and without info strings), list
# items, quotes, tables, HTML, indented code and plain text.
TRICKY_LINES = [
    "# Execution Report",
    "## Metadata",
    "## Execution Summary",
    "## Test Results",
    "## Git History",
    "## Files Changed",
    "## Issues Encountered",
    "## Token Usage",
    "## Audit Objectives",
    "## Rollback Instructions",
    "# Checklist",
    "##",
    "## Rollback ##",
    "## *Notes*",
    "### Phase 3 failed",
    "  ## Indented heading",
    "    ## Indented code",
    "\t## Tabbed",
    "#hashtag",
    "```",
    "````",
    "```bash",
    "```a`b",
    "~~~",
    "~~~ text",
    "  ```",
    "   ~~~",
    "    ```",
    "``` ",
    "- item",
    "- ```",
    "  - nested",
    "  continued",
    "1. first",
    "> quoted",
    "> ```",
    "| Field | Value |",
    "|-------|-------|",
    "| Started | 2024-10-05T13:30:00Z |",
    "| Phase | Title | Status | Commit |",
    "| 1 | Setup | ✅ | abc1234 |",
    "**Result:** ✅ Success",
    "**Phases:** 1 of 1 completed",
    "**Baseline:** 10 tests",
    "**Final:** 12 tests",
    "<details>",
    "  <!-- note -->",
    "[ref]: /url",
    '"title',
    "---",
    "plain text",
    "",
    "",
    "",
]


def _section_tokens(text: str) -> list[tuple[str, int, list[tuple[Any, ...]]]]:
    md = _markdown()
    return [
        (
            section.title,
            section.line,
            [(t.type, t.tag, t.map, t.level, t.content, t.info, t.markup) for t in section.tokens],
        )
        for section in split_sections(md.parse(text), md)
    ]


def _same_read_sections(text: str) -> None:
    """Every section a reader may look at has the same tokens in the parse of the text with
    the unread sections blanked as in the parse of the whole text."""
    whole = _section_tokens(text)
    shortened_text = without_unread_sections(text)
    assert shortened_text.count("\n") == text.count("\n")
    shortened = _section_tokens(shortened_text)
    assert [(title, line) for title, line, _ in shortened] == [(t, n) for t, n, _ in whole]
    for (title, _, tokens), (_, _, expected) in zip(shortened, whole, strict=True):
        if not _unread_heading("## " + title):
            assert tokens == expected, title


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(TRICKY_LINES), max_size=40))
def test_unread_sections_leave_the_read_ones_as_a_whole_parse_makes_them(lines: list[str]):
    _same_read_sections("\n".join(lines))


def test_unread_sections_are_blanked_in_the_example_and_fixture_reports():
    import pathlib

    root = pathlib.Path(__file__).parent
    texts = [
        p.read_text(encoding="utf-8-sig") for p in (root / "fixtures" / "reports").glob("*.md")
    ]
    texts += [p.read_text(encoding="utf-8") for p in (root.parent / "examples").rglob("*.md")]
    assert len(texts) > 20
    for text in texts:
        _same_read_sections(text.replace("\r\n", "\n"))
    example = (root.parent / "examples" / "EXECUTION_REPORT.md").read_text(encoding="utf-8")
    shortened = without_unread_sections(example)
    assert shortened != example  # its Audit Objectives and Rollback sections are blank
    assert "## Rollback" in shortened and "## Metadata" in shortened


def test_a_heading_in_an_unread_sections_fence_is_no_section():
    text = "## Rollback\n\n```\n## Metadata\n```\n\n## Metadata\n\n| Field | Value |\n|--|--|\n"
    shortened = without_unread_sections(text)
    assert shortened == "## Rollback\n\n\n\n\n\n## Metadata\n\n| Field | Value |\n|--|--|\n"
    _same_read_sections(text)


def test_lines_the_scan_cannot_follow_leave_the_text_whole():
    for unsure in ("<div>", "  ```", " ## Indented", "a\rb", "a\0b"):
        text = f"## Rollback\n\n{unsure}\n\nsteps\n\n## Metadata\n"
        assert without_unread_sections(text) == text
