"""The reader of Phaser's ``EXECUTION_REPORT.md``, from markdown-it-py tokens (the
``markdown_report`` plugin's dialect calls it).

A section is what lies between two top-level ``#``/``##`` headings of the token stream, so
tables and headings inside code fences, lists or quotes never open or fill one. Every field
degrades on its own: a missing section leaves its fields out, a value that cannot be read is
left out with a warning naming the field and the report line. Only a report without a
readable Metadata table raises :class:`ReportParseError`.

``docs/report-format.md`` lists what is read from where and every variation accepted.
markdown-it-py is imported on the first parse; the plugin module imports this one on the
first ``parse``.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

from phaser_analytics.dates import utc_offset
from phaser_analytics.errors import ReportParseError
from phaser_analytics.models import ExecutionStatus, PhaseRecord, PhaseStatus

if TYPE_CHECKING:
    from phaser_analytics.long_lived import long_lived_import

    with long_lived_import():
        from markdown_it import MarkdownIt
    from markdown_it.token import Token

Fields = dict[str, Any]
Warnings = list[str]

#: The key of a dialect's parse (and, during ``enrich_record``, of the record's ``extra``)
#: under which a dialect that splits the report into sections hands over the tables of its
#: ``## Token Usage`` sections, as :func:`token_usage_tables` returns them, so the
#: ``claude_tokens`` plugin need not read and parse the report again. A dialect that does
#: so names the key in its
#: ``transient_keys``: the import then sets it in ``extra`` for the enrich hooks (``None``
#: when the parse gave none) and removes it before the record is stored. When the key is
#: absent from ``extra`` the plugin reads the tables from the report file.
REPORT_TOKEN_TABLES = "report_token_tables"

TokenTable = list[tuple[str, ...]]

# -- the Token Usage tables, for the claude_tokens plugin -------------------------------

_HEADING = re.compile(r"^[ \t]{0,3}#{1,2}[ \t]+[^\n]*\btokens?\b", re.IGNORECASE | re.MULTILINE)


@functools.lru_cache(maxsize=512)
def is_token_usage_title(title: str) -> bool:
    """A section title the ``claude_tokens`` plugin reads: it starts with "Token Usage" or
    is "Tokens"."""
    words = " ".join(re.sub(r"[^a-z]+", " ", title.lower()).split())
    return words.startswith("token usage") or words in ("tokens", "token")


def token_usage_tables(text: str, sections: Sequence[Section], md: MarkdownIt) -> list[TokenTable]:
    """The tables of the Token Usage sections among ``sections`` (the top-level sections of
    ``text``), in report order, each a list of rows of cell texts, the header first; ``[]``
    when there are none or no heading line of ``text`` names tokens."""
    # "token" in the title is a cheap necessary condition of is_token_usage_title.
    wanted = [s for s in sections if "token" in s.title.lower() and is_token_usage_title(s.title)]
    if not wanted or not _HEADING.search(text):
        return []
    return [
        [table.header.cells, *(row.cells for row in table.rows)]
        for section in wanted
        for table in section.tables(md)
    ]


def token_tables_in(text: str) -> list[TokenTable]:
    """The tables of the Token Usage sections of the markdown ``text`` (a report of any
    dialect), as :func:`token_usage_tables` gives them; ``[]`` when it has none."""
    if not _HEADING.search(text):
        return []  # the common case, decided without markdown-it-py
    md = _markdown()
    return token_usage_tables(text, split_sections(md.parse(text), md), md)


# -- the whole report ---------------------------------------------------------------------


def parse_report_text(text: str) -> dict[str, Any]:
    """Read an execution report into :class:`ExecutionRecord` field names.

    Gives only what the report states, plus ``"warnings"`` (one line each) and a few keys
    that are not record fields (``phaser_version_from``, ``base_commit_note``, …), and
    the tables of a ``## Token Usage`` section, if any, under
    :data:`REPORT_TOKEN_TABLES`.
    Raises :class:`ReportParseError` when there is no readable Metadata table.
    """
    md = _markdown()
    text = text.removeprefix("\ufeff")
    try:
        tokens = md.parse(without_unread_sections(text))
    except Exception as exc:  # markdown-it-py is robust; this only guards the contract
        raise ReportParseError(f"the markdown cannot be tokenized ({exc})") from exc
    all_sections = split_sections(tokens, md)
    sections = index_sections(all_sections)

    result, warnings = read_metadata(sections.get("metadata"), md)
    readers: list[tuple[str, str, Callable[[Section, MarkdownIt], tuple[Fields, Warnings]]]] = [
        ("summary", "Execution Summary", read_summary),
        ("tests", "Test Results", read_test_results),
        ("git", "Git History", read_git_history),
        ("files", "Files Changed", read_files_changed),
        ("issues", "Issues Encountered", read_issues),
    ]
    for key, title, reader in readers:
        section = sections.get(key)
        if section is None:
            continue
        fields, found = _guarded(reader, section, md, title)
        warnings += found
        lines = fields.pop("_lines", {})
        for name, value in fields.items():
            # Metadata is the primary source; Git History only fills gaps (branch, tag).
            if name in result and result[name] != value:
                warnings.append(
                    f"{title}: {name} {value!r} on line {lines.get(name, section.line)} "
                    f"differs from Metadata {result[name]!r}; keeping Metadata"
                )
            result.setdefault(name, value)

    result, found = reconcile(result)
    if token_tables := token_usage_tables(text, all_sections, md):
        result[REPORT_TOKEN_TABLES] = token_tables
    return {**result, "warnings": warnings + found}


def _guarded(
    reader: Callable[[Section, MarkdownIt], tuple[Fields, Warnings]],
    section: Section,
    md: MarkdownIt,
    title: str,
) -> tuple[Fields, Warnings]:
    # Only ReportParseError may leave the parser: a bug in one optional section must cost
    # that section, not the report (the tests assert this warning never appears).
    try:
        return reader(section, md)
    except Exception as exc:
        return {}, [
            f"{title}: section skipped after an internal error on line {section.line}: {exc!r}"
        ]


def reconcile(fields: Fields) -> tuple[Fields, Warnings]:
    """Fill in what follows from the other sections: the status when no ``Result`` is
    stated, and the error of each phase an issue names."""
    fields = dict(fields)
    warnings: Warnings = []
    if "status" not in fields:
        status = _derived_status(fields.get("phases_completed"), fields.get("phases_planned"))
        if status is None:
            warnings.append(
                "Execution Summary: no 'Result' and no phase counts; status taken as failed"
            )
            status = ExecutionStatus.FAILED
        fields["status"] = status
    if fields.get("phases") and fields.get("failure_reasons"):
        fields["phases"] = _with_errors(fields["phases"], fields["failure_reasons"])
    return fields, warnings


def _derived_status(completed: int | None, planned: int | None) -> ExecutionStatus | None:
    if completed is None or planned is None:
        return None
    if planned > 0 and completed >= planned:
        return ExecutionStatus.SUCCESS
    return ExecutionStatus.PARTIAL if completed > 0 else ExecutionStatus.FAILED


_PHASE_REFERENCE = re.compile(r"\bphase\s*#?\s*(\d+)\b", re.IGNORECASE)


def _with_errors(phases: list[PhaseRecord], reasons: list[str]) -> list[PhaseRecord]:
    """Each phase with the issues that name it ("Phase 38: …", "### Phase 38 …") as its
    error message; an issue names the first phase it mentions."""
    messages: dict[int, list[str]] = {}
    for reason in reasons:
        match = _PHASE_REFERENCE.search(reason)
        if match:
            messages.setdefault(int(match.group(1)), []).append(reason)
    return [
        dataclasses.replace(phase, error_message="; ".join(messages[phase.phase_number]))
        if phase.phase_number in messages
        else phase
        for phase in phases
    ]


# -- tokens to sections, tables and labelled lines ----------------------------------------


@functools.lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # Imported here, not at module top: loading plugins must not pay for markdown-it-py.
    from phaser_analytics.long_lived import long_lived_import

    with long_lived_import():
        from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("table")
    # A "---" rule right under a line separates report sections; read as a setext heading it
    # would turn the line above (often "**Delta:** +32 tests") into a section title. ATX
    # headings are all Phaser writes, and this rule is a third of the block parse time.
    md.block.ruler.disable(["lheading"])
    # Inline markup is parsed only for the few lines read (see _inline_text): parsing it
    # everywhere costs half a minute on a 20 MB pytest log written outside a code fence.
    # text_join only joins the children of inline tokens, which the inline rule makes.
    md.core.ruler.disable(["inline", "text_join"])
    return md


# An inline snippet longer than this is cut before parsing: no cell or label needs more,
# and inline parsing is the slow part of markdown-it-py.
_INLINE_LIMIT = 4000

# The characters at which one of the inline rules _markdown() keeps active can fire
# (newline, escape, backticks, emphasis, link, image, autolink, html_inline, entity), and a
# few more for margin (strikethrough's "~", "]", ">"). A snippet without any of them is one
# text token, its own text: nine in ten table cells and titles of a report.
_MARKUP = r"\n\\`*_\[\]<>&!~"
_INLINE_MARKUP = re.compile(f"[{_MARKUP}]")
# "**Label:** value", most of the rest: "**" then text that neither starts nor ends with
# whitespace, "**", then nothing or a space or tab and text, none of it markup. Both runs
# of "**" are then delimiters by CommonMark's flanking rules (the first can only open, the
# second only close), so they make one strong emphasis and the text is the two parts.
_STRONG_LABEL = re.compile(
    rf"\*\*([^\s{_MARKUP}](?:[^{_MARKUP}]*[^\s{_MARKUP}])?)\*\*((?:[ \t][^{_MARKUP}]*)?)"
)


def _inline_text(md: MarkdownIt, source: str) -> str:
    """The plain text of inline markdown: markup, links and HTML tags removed.

    The two commonest forms are read without markdown-it-py, with the same result
    (``tests/test_parsing_properties.py`` compares the two on generated text).
    """
    source = source[:_INLINE_LIMIT]
    if _INLINE_MARKUP.search(source) is None:
        return source.strip()
    if (label := _STRONG_LABEL.fullmatch(source)) is not None:
        return (label.group(1) + label.group(2)).strip()
    return _parsed_inline_text(md, source)


def _parsed_inline_text(md: MarkdownIt, source: str) -> str:
    """:func:`_inline_text` by markdown-it-py's inline parser, whatever the text holds."""
    tokens: list[Token] = []
    md.inline.parse(source[:_INLINE_LIMIT], md, {}, tokens)
    parts = []
    for token in tokens:
        if token.type in ("text", "text_special", "code_inline", "image"):
            parts.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts).strip()


def _line(token: Token, offset: int = 0) -> int:
    """The 1-based report line of ``token`` (plus ``offset`` lines into it)."""
    return (token.map[0] if token.map else 0) + 1 + offset


@dataclasses.dataclass
class Section:
    """A top-level ``#``/``##`` heading and the tokens up to the next one."""

    title: str
    line: int
    tokens: list[Token]
    #: :func:`read_tables` of ``tokens``, once read (:meth:`tables`).
    _tables: list[Table] | None = dataclasses.field(default=None, repr=False, compare=False)

    def tables(self, md: MarkdownIt) -> list[Table]:
        """:func:`read_tables` of the section's tokens, read once (several readers look)."""
        if self._tables is None:
            self._tables = read_tables(self.tokens, md)
        return self._tables


def split_sections(tokens: Sequence[Token], md: MarkdownIt) -> list[Section]:
    # One pass that only compares each token's type; each section's tokens are then a
    # slice, not appended one by one.
    starts = [
        index
        for index, token in enumerate(tokens)
        if token.type == "heading_open" and token.level == 0 and token.tag in ("h1", "h2")
    ]
    sections: list[Section] = []
    for number, index in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(tokens)
        title = _inline_text(md, tokens[index + 1].content)
        # heading_open, inline, heading_close, then the section's own tokens
        sections.append(Section(title, _line(tokens[index]), list(tokens[index + 3 : end])))
    return sections


# Heading text (lower case, letters only) → section key. A heading matches when its text
# equals a name or starts with it, so "Test Results (pytest)" and "2. Metadata" count.
_SECTION_NAMES = {
    "metadata": "metadata",
    "execution summary": "summary",
    "test results": "tests",
    "git history": "git",
    "files changed": "files",
    "issues encountered": "issues",
    "issues": "issues",
}


@functools.lru_cache(maxsize=512)  # a few titles recur in every report
def _section_key(title: str) -> str | None:
    words = " ".join(re.sub(r"[^a-z]+", " ", title.lower()).split())
    for name, key in _SECTION_NAMES.items():
        if words == name or words.startswith(name + " "):
            return key
    return None


def index_sections(sections: Sequence[Section]) -> dict[str, Section]:
    """The first section of each known name."""
    found: dict[str, Section] = {}
    for section in sections:
        key = _section_key(section.title)
        if key is not None and key not in found:
            found[key] = section
    return found


# -- sections no reader looks at, left out of the parse ------------------------------------
#
# Block parsing is most of an import's time, and a report's Audit Objectives, Acceptance
# Criteria, Checklist and Rollback sections (a third to a half of its blocks) are read by
# nobody. Their lines are made blank before the parse: the line count stays, so every
# token keeps its line, and a top-level "#"/"##" heading closes whatever block is open
# (paragraph, list, quote, table, indented code; markdown-it's heading rule terminates
# each), so the sections that are read get the very tokens a parse of the whole text
# gives. What a line scan cannot follow as markdown-it does is avoided, not imitated: a
# text with a carriage return or NUL (markdown-it rewrites them), a line that may open an
# HTML block (which a heading does not close), or an indented fence or heading line (which
# may belong to a list item) is parsed whole. tests/test_parsing_properties.py compares
# the two parses on generated reports.

_TOP_HEADING = re.compile(r"#{1,2}(?:[ \t]|$)")
_FENCE_OPEN = re.compile(r"(`{3,}|~{3,})(.*)")
# What makes the line scan unsafe (see above), at 1-3 spaces of indentation or none.
_UNSURE_LINE = re.compile(r" {0,3}<| {1,3}(?:#|`{3}|~{3})")
# The lines the scan looks at, by their first character: any other line is none of the
# above and closes no fence.
_SCANNED_LINE = re.compile(r"^[#`~ <].*", re.MULTILINE)


def without_unread_sections(text: str) -> str:
    """``text`` with the lines below each top-level heading whose section no reader looks
    at made blank (the heading lines stay), or ``text`` itself where that is not certain
    to leave the tokens of the other sections as they are (see above)."""
    if "\r" in text or "\0" in text:
        return text
    fence: tuple[str, int] | None = None  # the open top-level fence: its character, length
    unread: list[tuple[int, int]] = []  # where the text of each unread section starts, ends
    start: int | None = None  # where the unread section being scanned starts
    for match in _SCANNED_LINE.finditer(text):
        line = match.group()
        if fence is not None:
            if _closes_fence(line, *fence):
                fence = None
        elif line[0] == "#" and _TOP_HEADING.match(line):
            if start is not None:
                unread.append((start, match.start()))
            start = match.end() if _unread_heading(line) else None
        elif (opening := _FENCE_OPEN.match(line)) is not None:
            run, info = opening.groups()
            if not (run[0] == "`" and "`" in info):  # else not a fence: text
                fence = (run[0], len(run))
        elif _UNSURE_LINE.match(line):
            return text
    if start is not None:
        unread.append((start, len(text)))
    if not unread:
        return text
    parts: list[str] = []
    end = 0
    for start, stop in unread:
        parts += (text[end:start], "\n" * text.count("\n", start, stop))
        end = stop
    parts.append(text[end:])
    return "".join(parts)


def _closes_fence(line: str, char: str, length: int) -> bool:
    """Whether ``line`` closes a top-level fence of ``length`` times ``char``: at most three
    spaces, at least as many of the same character, then only spaces and tabs."""
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3 or not stripped.startswith(char * length):
        return False
    return not stripped.lstrip(char).strip(" \t")


def _unread_heading(line: str) -> bool:
    """Whether the ``#``/``##`` heading ``line`` opens a section no reader looks at, for
    certain: its text holds no markup and no ``#`` (so it is the title as written)."""
    title = line.lstrip("#")
    if "#" in title or _INLINE_MARKUP.search(title):
        return False
    title = title.strip(" \t")
    return _section_key(title) is None and "token" not in title.lower()


# Rows, tables and labelled lines are named tuples: a report makes dozens, and a tuple is
# made several times faster than a frozen dataclass.


class Row(NamedTuple):
    line: int
    cells: tuple[str, ...]


class Table(NamedTuple):
    line: int
    header: Row
    rows: tuple[Row, ...]


def read_tables(tokens: Sequence[Token], md: MarkdownIt) -> list[Table]:
    """Every table among ``tokens``, cells as plain text (``\\|`` already a pipe)."""
    tables: list[Table] = []
    header: Row | None = None
    rows: list[Row] = []
    cells: list[str] = []
    start = row_line = 0
    for token in tokens:
        if token.type == "table_open":
            header, rows, start = None, [], _line(token)
        elif token.type == "tr_open":
            cells, row_line = [], _line(token)
        elif token.type == "inline" and start:  # a table holds no other inline tokens
            cells.append(_inline_text(md, token.content))
        elif token.type == "tr_close":
            row = Row(row_line, tuple(cells))
            if header is None:
                header = row
            else:
                rows.append(row)
        elif token.type == "table_close" and header is not None:
            tables.append(Table(start, header, tuple(rows)))
            start = 0
    return tables


def _norm_label(text: str) -> str:
    return " ".join(text.lower().strip(" *_:`").split())


class Labelled(NamedTuple):
    """A ``**Label:** value`` line, or a two-column table row, of a section."""

    key: str  # canonical, from the section's label map
    label: str  # as written
    value: str
    line: int


# A line's leading label, read out of the raw inline text before any inline parsing, so a
# huge unfenced log costs one cheap match per line.
_LABEL = re.compile(r"[*_\s]*([A-Za-z][A-Za-z ]{0,40}?)[*_\s]*:")


def read_labelled(
    section: Section, md: MarkdownIt, labels: Mapping[str, str]
) -> dict[str, Labelled]:
    """The first line of each wanted label (``labels`` maps written label → key)."""
    found: dict[str, Labelled] = {}
    tokens = section.tokens
    for index in range(1, len(tokens)):
        token = tokens[index]
        if token.type == "inline" and tokens[index - 1].type == "paragraph_open":
            for offset, raw in enumerate(token.content.split("\n")):
                match = _LABEL.match(raw)
                key = labels.get(_norm_label(match.group(1))) if match else None
                if key is None or key in found:
                    continue
                label, _, value = _inline_text(md, raw).partition(":")
                found[key] = Labelled(key, label.strip(" *_"), value.strip(), _line(token, offset))
    for table in section.tables(md):
        for row in (table.header, *table.rows):
            key = labels.get(_norm_label(row.cells[0])) if len(row.cells) >= 2 else None
            if key and (key not in found or found[key].line > row.line):
                found[key] = Labelled(key, row.cells[0].strip(" *_:"), row.cells[1], row.line)
    return found


def _code_blocks(tokens: Sequence[Token]) -> Iterator[tuple[str, int]]:
    """Fenced and indented code blocks: their text and the line their content starts on."""
    for token in tokens:
        if token.type == "fence":
            yield token.content, _line(token, 1)
        elif token.type == "code_block":
            yield token.content, _line(token)


def _cannot_read(section: str, label: str, line: int, value: str) -> str:
    shown = value if len(value) <= 80 else value[:77] + "..."
    return f"{section}: cannot read '{label}' on line {line}: {shown!r}"


# -- Metadata -----------------------------------------------------------------------------

_METADATA_KEYS = {
    "audit document": "audit_document",
    "audit": "audit_document",
    "document": "audit_document",
    "audit file": "audit_document",
    "document title": "document_title",
    "title": "document_title",
    "project": "project_name",
    "project name": "project_name",
    "project path": "project_path",
    "path": "project_path",
    "branch": "branch",
    "branch or tag": "branch",
    "branch/tag": "branch",
    "tag": "tag",
    "base commit": "base_commit",
    "base": "base_commit",
    "base sha": "base_commit",
    "started": "started_at",
    "started at": "started_at",
    "start": "started_at",
    "start time": "started_at",
    "completed": "completed_at",
    "completed at": "completed_at",
    "finished": "completed_at",
    "finished at": "completed_at",
    "end time": "completed_at",
    "phaser version": "phaser_version",
    "version": "phaser_version",
}

# Values that say "not known": the field is left out, without a warning.
_PLACEHOLDERS = {"", "-", "--", "—", "–", "?", "n/a", "na", "none", "unknown", "tbd", "null"}


def read_metadata(section: Section | None, md: MarkdownIt) -> tuple[Fields, Warnings]:
    """Fields of the ``## Metadata`` table; the one section a report cannot do without."""
    if section is None:
        raise ReportParseError("there is no '## Metadata' section", section="Metadata")
    tables = section.tables(md)
    if not tables:
        raise ReportParseError(
            "the Metadata section has no Field | Value table", section="Metadata", line=section.line
        )
    table = tables[0]
    rows = list(table.rows)
    # A table written without a "Field | Value" header has its first pair as the header.
    if table.header.cells and _norm_label(table.header.cells[0]) in _METADATA_KEYS:
        rows.insert(0, table.header)
    if not rows:
        raise ReportParseError(
            "the Metadata table has no rows", section="Metadata", line=table.line
        )

    fields: Fields = {}
    warnings: Warnings = []
    unknown: dict[str, str] = {}
    for row in rows:
        label = row.cells[0].strip(" *_:") if row.cells else ""
        value = row.cells[1].strip() if len(row.cells) > 1 else ""
        name = _METADATA_KEYS.get(_norm_label(label))
        if name is None:
            if label:
                unknown.setdefault(label, value)
            continue
        if name in fields or value.lower() in _PLACEHOLDERS:
            continue
        read, problem = _metadata_value(name, value)
        if problem:
            warnings.append(_cannot_read("Metadata", label, row.line, value))
        for key, item in read.items():
            fields.setdefault(key, item)
    if unknown:
        fields["metadata_extra"] = unknown
    return fields, warnings


_VERSION_ARROW = re.compile(r"\s*(?:->|→|=>|⟶)\s*")


def _metadata_value(name: str, value: str) -> tuple[Fields, bool]:
    """The fields one metadata value gives, and whether it could not be read."""
    if name in ("started_at", "completed_at"):
        parsed = parse_timestamp(value)
        if parsed is None:
            return {}, True
        moment, date_only = parsed
        return ({name: moment, "date_only": True} if date_only else {name: moment}), False
    if name == "base_commit":
        sha, _, note = value.partition(" ")
        note = note.strip().strip("()").strip()
        return ({name: sha, "base_commit_note": note} if note else {name: sha}), False
    if name == "phaser_version":
        parts = [part for part in _VERSION_ARROW.split(value) if part]
        if len(parts) >= 2:
            return {name: parts[-1], "phaser_version_from": parts[0]}, False
    if name in ("branch", "tag"):
        # Ref names hold no spaces; what follows is a note ("(deleted after merge)").
        return {name: value.split()[0]}, False
    return {name: value}, False


_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:(?:T|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?)?"
    r"(?=$|[\s(,;])",
    re.IGNORECASE,
)


def parse_timestamp(value: str) -> tuple[datetime, bool] | None:
    """A timezone-aware datetime (no zone → UTC) and whether it was a bare date."""
    match = _TIMESTAMP.match(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=utc_offset(zone) if zone is not None else timezone.utc,
        )
    except ValueError:
        return None
    return moment, hour is None


# -- Execution Summary --------------------------------------------------------------------

_SUMMARY_LABELS = {
    "result": "result",
    "overall result": "result",
    "status": "result",
    "overall status": "result",
    "outcome": "result",
    "phases": "phases",
    "phases completed": "phases",
}
_PHASE_COUNTS = re.compile(r"(\d+)\s*(?:of|/|out of)\s*(\d+)", re.IGNORECASE)


def read_summary(section: Section, md: MarkdownIt) -> tuple[Fields, Warnings]:
    """Result, phase counts and the phase table of ``## Execution Summary``.

    Counts come from ``**Phases:** X of Y completed``, else from the rows; when both exist
    and disagree, the stated counts are kept and a warning says so.
    """
    fields: Fields = {}
    warnings: Warnings = []
    labelled = read_labelled(section, md, _SUMMARY_LABELS)
    if (result := labelled.get("result")) and result.value:
        fields["status"] = ExecutionStatus.from_report(_emoji(result.value))
        fields["result_text"] = result.value
    counts = labelled.get("phases")
    if counts is not None:
        match = _PHASE_COUNTS.search(_without_separators(counts.value))
        if match:
            fields["phases_completed"] = int(match.group(1))
            fields["phases_planned"] = int(match.group(2))
        else:
            warnings.append(
                _cannot_read("Execution Summary", counts.label, counts.line, counts.value)
            )
    table = next((t for t in section.tables(md) if _phase_columns(t.header.cells)), None)
    if table is None:
        return fields, warnings
    phases, found = read_phase_rows(table, _phase_columns(table.header.cells) or {})
    warnings += found
    fields["phases"] = phases
    done = sum(1 for phase in phases if phase.status is PhaseStatus.COMPLETED)
    if phases and counts is not None and "phases_planned" in fields:
        planned, completed = fields["phases_planned"], fields["phases_completed"]
        stated = f"Execution Summary: 'Phases' on line {counts.line} says"
        rows = f"the phase table on line {table.line}"
        if planned != len(phases):
            warnings.append(
                f"{stated} {planned} planned but {rows} has {len(phases)} rows; "
                "keeping the stated figure"
            )
        if completed != done:
            warnings.append(
                f"{stated} {completed} completed but {rows} marks {done} completed; "
                "keeping the stated figure"
            )
    elif phases:
        fields["phases_planned"], fields["phases_completed"] = len(phases), done
    return fields, warnings


_PHASE_COLUMNS = {
    "phase": ("phase", "#", "phase #", "no", "no.", "number", "phase number"),
    "title": ("title", "name", "phase title", "description", "phase name"),
    "status": ("status", "result", "state", "outcome"),
    "commit": ("commit", "sha", "commit sha", "hash", "commit hash"),
}


def _phase_columns(header: Sequence[str]) -> dict[str, int] | None:
    """Column index of phase, title, status, commit; ``None`` unless phase and status exist."""
    names = [_norm_label(cell) for cell in header]
    columns: dict[str, int] = {}
    for role, aliases in _PHASE_COLUMNS.items():
        for index, name in enumerate(names):
            if name in aliases and index not in columns.values():
                columns[role] = index
                break
    if "title" not in columns:
        # "| # | Phase | Status |": the number is under "#", the phase's name under "Phase".
        spare = [i for i, name in enumerate(names) if name in _PHASE_COLUMNS["phase"]]
        if len(spare) > 1:
            columns["title"] = spare[1]
    return columns if "phase" in columns and "status" in columns else None


# GitHub shortcodes, which some reports use instead of the symbols.
_SHORTCODES = {
    ":white_check_mark:": "✅",
    ":heavy_check_mark:": "✅",
    ":x:": "❌",
    ":warning:": "⚠️",
}


def _emoji(text: str) -> str:
    for code, symbol in _SHORTCODES.items():
        text = text.replace(code, symbol)
    return text


_EMPTY_COMMITS = _PLACEHOLDERS | {"pending", "no commit", "(none)"}


def read_phase_rows(table: Table, columns: Mapping[str, int]) -> tuple[list[PhaseRecord], Warnings]:
    phases: list[PhaseRecord] = []
    warnings: Warnings = []

    def cell(row: Row, role: str) -> str:
        index = columns.get(role)
        return row.cells[index].strip() if index is not None and index < len(row.cells) else ""

    for row in table.rows:
        number = re.search(r"\d+", cell(row, "phase"))
        if number is None:
            warnings.append(
                _cannot_read("Execution Summary", "Phase", row.line, cell(row, "phase"))
            )
            continue
        status = cell(row, "status")
        if not status:
            warnings.append(
                f"Execution Summary: empty 'Status' for phase {number.group()} on line "
                f"{row.line}; taken as skipped"
            )
        commit = cell(row, "commit").split()
        phases.append(
            PhaseRecord(
                phase_number=int(number.group()),
                title=cell(row, "title"),
                status=PhaseStatus.from_symbol(_emoji(status)),
                commit_sha=commit[0]
                if commit and commit[0].lower() not in _EMPTY_COMMITS
                else None,
            )
        )
    return phases, warnings


# -- Test Results -------------------------------------------------------------------------

_TEST_LABELS = {
    "baseline": "baseline",
    "baseline tests": "baseline",
    "before": "baseline",
    "final": "final",
    "final tests": "final",
    "after": "final",
    "delta": "delta",
    "test delta": "delta",
    "change": "delta",
}

# Thousands separators between digit groups: "1,204", "1_204", "1 204" (narrow no-break).
_SEPARATOR = re.compile(r"(?<=\d)[,_'\u00a0\u202f](?=\d{3}(?!\d))")
_TOTAL = re.compile(r"(\d+)\s+(?:tests?\s+)?total\b|\btotal\s*(?:of\s*)?:?\s*(\d+)", re.I)
_OUTCOME = re.compile(r"(\d+)\s+(passed|failed|errors?|skipped|xfailed|xpassed)\b", re.I)
_PARENTHESES = re.compile(r"\(([^()]*)\)")
_SIGNED = re.compile(r"([+\-−–±]?)\s*(\d+)")


def _without_separators(text: str) -> str:
    return _SEPARATOR.sub("", text)


def test_count_readings(value: str) -> list[int]:
    """Every way to read a ``Baseline``/``Final`` value as a count, best first: a stated
    ``N total``, the sum of pytest outcomes, then each number outside parentheses in order
    (``108 tests (test_bridge.py), 499 total`` → 499, 108)."""
    text = _without_separators(value)
    readings: list[int] = []
    if total := _TOTAL.search(text):
        readings.append(int(total.group(1) or total.group(2)))
    outcomes = [int(count) for count, _ in _OUTCOME.findall(text)]
    if outcomes:
        readings.append(sum(outcomes))
    readings.extend(int(number) for number in re.findall(r"\d+", _PARENTHESES.sub(" ", text)))
    return list(dict.fromkeys(readings))


def agreeing_counts(baseline: str, final: str, delta: int) -> tuple[int, int] | None:
    """The readings of ``baseline`` and ``final`` whose difference is the stated ``delta``,
    the best-ranked pair first; ``None`` when no reading agrees."""
    pairs = [
        (rank_b + rank_f, b, f)
        for rank_b, b in enumerate(test_count_readings(baseline))
        for rank_f, f in enumerate(test_count_readings(final))
        if f - b == delta
    ]
    if not pairs:
        return None
    _, b, f = min(pairs)
    return b, f


def read_test_count(value: str) -> tuple[int, Fields] | None:
    """A test count, and notes worth keeping, from a ``Baseline``/``Final`` value.

    A stated ``N total`` wins; else pytest outcomes are summed (``472 passed, 7 failed``
    → 479); else the first number outside parentheses.
    """
    text = _without_separators(value)
    notes: Fields = {}
    if found := [note.strip() for note in _PARENTHESES.findall(text) if note.strip()]:
        notes["note"] = "; ".join(found)
    outcomes: dict[str, int] = {}
    for count, kind in _OUTCOME.findall(text):
        kind = kind.lower()
        kind = "errors" if kind.startswith("error") else kind
        outcomes[kind] = outcomes.get(kind, 0) + int(count)
    if outcomes:
        notes["outcomes"] = outcomes
    if total := _TOTAL.search(text):
        return int(total.group(1) or total.group(2)), notes
    if outcomes:
        return sum(outcomes.values()), notes
    number = re.search(r"\d+", _PARENTHESES.sub(" ", text)) or re.search(r"\d+", text)
    return (int(number.group()), notes) if number else None


def read_delta(value: str) -> int | None:
    text = _without_separators(value).strip()
    if text.lower().rstrip(".") in ("no change", "none", "unchanged"):
        return 0
    match = _SIGNED.search(text)
    if match is None:
        return None
    sign, digits = match.groups()
    return -int(digits) if sign in ("-", "−", "–") else int(digits)


def read_test_results(section: Section, md: MarkdownIt) -> tuple[Fields, Warnings]:
    """Baseline, final and the stated delta of ``## Test Results``."""
    fields: Fields = {}
    warnings: Warnings = []
    labelled = read_labelled(section, md, _TEST_LABELS)
    for key, name in (("baseline", "baseline_tests"), ("final", "final_tests")):
        if (item := labelled.get(key)) is None:
            continue
        count = read_test_count(item.value)
        if count is None:
            warnings.append(_cannot_read("Test Results", item.label, item.line, item.value))
            continue
        fields[name] = count[0]
        for note, detail in count[1].items():
            fields[f"{name}_{note}"] = detail
    if (item := labelled.get("delta")) is not None:
        delta = read_delta(item.value)
        if delta is None:
            warnings.append(_cannot_read("Test Results", item.label, item.line, item.value))
        else:
            fields["reported_test_delta"] = delta
    if {"baseline_tests", "final_tests", "reported_test_delta"} <= fields.keys():
        computed = fields["final_tests"] - fields["baseline_tests"]
        stated = fields["reported_test_delta"]
        agreeing = agreeing_counts(
            labelled["baseline"].value, labelled["final"].value, stated
        ) if computed != stated else None  # fmt: skip
        if agreeing is not None:
            # "108 tests (test_bridge.py), 499 total" after "88 tests", Delta +20: the
            # reading that makes the three figures agree is the one the report means.
            fields["baseline_tests"], fields["final_tests"] = agreeing
        elif computed != stated:
            warnings.append(
                f"Test Results: stated Delta {stated:+d} on line "
                f"{labelled['delta'].line} differs from Final - Baseline = {computed:+d}; "
                "keeping the stated figures"
            )
    return fields, warnings


# -- Git History --------------------------------------------------------------------------

_GIT_LABELS = {
    "branch": "branch",
    "tag": "tag",
    "commits": "commits",
    "commit count": "commits",
    "total commits": "commits",
    "commits made": "commits",
}
_SHA_LIKE = re.compile(r"[0-9A-Za-z]{4,64}")
_HEX = re.compile(r"[0-9a-fA-F]+")


def read_git_history(section: Section, md: MarkdownIt) -> tuple[Fields, Warnings]:
    """Branch or tag, commit count and the newest commit of ``## Git History``."""
    fields: Fields = {}
    warnings: Warnings = []
    labelled = read_labelled(section, md, _GIT_LABELS)
    for key in ("branch", "tag"):
        if (item := labelled.get(key)) and item.value.lower() not in _PLACEHOLDERS:
            fields[key] = item.value.split()[0]
            fields.setdefault("_lines", {})[key] = item.line
    if item := labelled.get("commits"):
        number = re.search(r"\d+", _without_separators(item.value))
        if number:
            fields["commit_count"] = int(number.group())
        else:
            warnings.append(_cannot_read("Git History", item.label, item.line, item.value))
    for content, line in _code_blocks(section.tokens):
        shas = log_shas(content)
        if shas:
            # `git log` lists newest first: the first commit is the final one.
            fields["final_commit"] = shas[0]
            fields.setdefault("commit_count", len(shas))
        else:
            first = next((text for text in content.splitlines() if text.strip()), "")
            warnings.append(_cannot_read("Git History", "final commit", line, first.strip()))
        break
    return fields, warnings


def log_shas(content: str) -> list[str]:
    """The commit SHAs of ``git log`` output (``--oneline``, full or ``--graph``), as written.

    Hand-written examples use non-hex SHAs (``z9y8x7w``), so any word of letters and digits
    counts if it holds a digit or is hexadecimal.
    """
    lines = [line.strip().lstrip("*|/\\ ") for line in content.splitlines()]
    lines = [line for line in lines if line and not line.startswith(("$", ">", "#"))]
    if any(line.startswith("commit ") for line in lines):
        words = [line.split()[1] for line in lines if line.startswith("commit ")]
    else:
        words = [line.split()[0] for line in lines]
    return [
        word
        for word in words
        if _SHA_LIKE.fullmatch(word) and (_HEX.fullmatch(word) or any(c.isdigit() for c in word))
    ]


# -- Files Changed ------------------------------------------------------------------------

_FILES_LABELS = {"summary": "summary", "diff summary": "summary", "diffstat": "summary"}
_FILES = re.compile(r"(\d+)\s+files?\s+changed", re.IGNORECASE)
_ADDED = re.compile(r"(\d+)\s+(?:insertions?|additions?|lines?\s+added)\b", re.IGNORECASE)
_REMOVED = re.compile(r"(\d+)\s+(?:deletions?|removals?|lines?\s+removed)\b", re.IGNORECASE)


def read_files_changed(section: Section, md: MarkdownIt) -> tuple[Fields, Warnings]:
    """Files, insertions and deletions from the ``**Summary:**`` line of ``## Files Changed``,
    else from the ``git diff --stat`` summary line of its code block."""
    summary = read_labelled(section, md, _FILES_LABELS).get("summary")
    if summary is not None:
        fields = read_diffstat(summary.value)
        if fields is None:
            return {}, [_cannot_read("Files Changed", summary.label, summary.line, summary.value)]
        return fields, []
    for content, _line_number in _code_blocks(section.tokens):
        for text in reversed(content.splitlines()):
            if _FILES.search(text):
                return read_diffstat(text) or {}, []
    return {}, []


def read_diffstat(text: str) -> Fields | None:
    """``12 files changed, 1486 insertions(+), 37 deletions(-)`` as fields.

    ``git diff --stat`` leaves out a half that is zero, so with ``N files changed`` present a
    missing insertions or deletions half is 0.
    """
    text = _without_separators(text)
    files, added, removed = (pattern.search(text) for pattern in (_FILES, _ADDED, _REMOVED))
    if not (files or added or removed):
        return None
    fields: Fields = {}
    if files:
        fields["files_changed"] = int(files.group(1))
    if added or files:
        fields["lines_added"] = int(added.group(1)) if added else 0
    if removed or files:
        fields["lines_removed"] = int(removed.group(1)) if removed else 0
    return fields


# -- Issues Encountered -------------------------------------------------------------------

_NO_ISSUES = {
    "none",
    "n/a",
    "no issues",
    "no issues encountered",
    "no issues encountered during execution",
    "no issues were encountered",
    "no issues were encountered during execution",
}


def read_issues(section: Section, md: MarkdownIt) -> tuple[Fields, Warnings]:
    """Failure reasons: one per sub-heading (with the paragraph under it), else one per
    top-level list item, else one per paragraph; "No issues encountered…" is none."""
    reasons = [" ".join(text.split()) for text, _line in _issue_blocks(section.tokens, md)]
    return {
        "failure_reasons": [r for r in reasons if _norm_label(r).rstrip(".!") not in _NO_ISSUES]
    }, []


def _issue_blocks(tokens: Sequence[Token], md: MarkdownIt) -> list[tuple[str, int]]:
    headings: list[tuple[str, int]] = []
    items: list[tuple[str, int]] = []
    paragraphs: list[tuple[str, int]] = []
    heading: tuple[str, int] | None = None  # a sub-heading awaiting its first paragraph
    for index, token in enumerate(tokens[:-1]):
        following = tokens[index + 1]
        if token.type == "heading_open" and token.level == 0:
            heading = (_inline_text(md, following.content), _line(token))
            headings.append(heading)
            continue
        if token.type == "paragraph_open" and token.level == 0:
            text = _inline_text(md, following.content)
            if heading is not None and text:
                headings[-1] = (f"{heading[0]}: {text}", heading[1])
            paragraphs.append((text, _line(token)))
        elif token.type == "list_item_open" and token.level == 1 and not headings:
            items.append((_item_text(tokens, index, md), _line(token)))
        if token.type not in ("heading_close", "inline"):
            heading = None
    blocks = sorted(headings + items, key=lambda block: block[1]) if headings else items
    blocks = blocks or paragraphs
    return [block for block in blocks if block[0]]


def _item_text(tokens: Sequence[Token], start: int, md: MarkdownIt) -> str:
    """The text of a list item's first paragraph (its sub-lists are its detail)."""
    for index in range(start + 1, min(start + 4, len(tokens))):
        if tokens[index].type == "inline":
            return _inline_text(md, tokens[index].content)
        if tokens[index].type == "list_item_close":
            break
    return ""


# -- the spec's §6.3–§6.5 functions (and Phaser's parse_execution_result, parse_git_info) -----
# Views of one section each, read by the readers above from the same token stream: there is
# no second parser. Unlike parse_report_text they need no Metadata table.


def _section(text: str, key: str) -> tuple[Section | None, MarkdownIt]:
    md = _markdown()
    tokens = md.parse(text.removeprefix("\ufeff").replace("\r\n", "\n"))
    return index_sections(split_sections(tokens, md)).get(key), md


def metadata_table(text: str) -> dict[str, str]:
    """The ``## Metadata`` table as written: each row's label (without ``**``) → value."""
    section, md = _section(text, "metadata")
    if section is None:
        return {}
    tables = read_tables(section.tokens, md)
    if not tables:
        return {}
    table = tables[0]
    rows = list(table.rows)
    if table.header.cells and _norm_label(table.header.cells[0]) in _METADATA_KEYS:
        rows.insert(0, table.header)
    found: dict[str, str] = {}
    for row in rows:
        label = row.cells[0].strip(" *_:") if row.cells else ""
        if label:
            found.setdefault(label, row.cells[1].strip() if len(row.cells) > 1 else "")
    return found


def phase_table(text: str) -> list[PhaseRecord]:
    """The phases of ``## Execution Summary``'s phase table."""
    section, md = _section(text, "summary")
    return list(read_summary(section, md)[0].get("phases", [])) if section else []


def summary_result(text: str) -> tuple[ExecutionStatus | None, int | None, int | None]:
    """``(status, phases completed, phases planned)`` of ``## Execution Summary``."""
    section, md = _section(text, "summary")
    fields = read_summary(section, md)[0] if section else {}
    return fields.get("status"), fields.get("phases_completed"), fields.get("phases_planned")


def test_results(text: str) -> dict[str, int]:
    """``baseline``, ``final`` and ``delta`` of ``## Test Results``, those it states."""
    section, md = _section(text, "tests")
    fields = read_test_results(section, md)[0] if section else {}
    names = {"baseline_tests": "baseline", "final_tests": "final", "reported_test_delta": "delta"}
    return {short: fields[name] for name, short in names.items() if name in fields}


def git_info(text: str) -> dict[str, Any]:
    """What ``## Git History`` and ``## Files Changed`` state: branch or tag, commit count,
    final commit, files changed and lines added and removed."""
    found: dict[str, Any] = {}
    for key, reader in (("git", read_git_history), ("files", read_files_changed)):
        section, md = _section(text, key)
        if section is not None:
            fields = reader(section, md)[0]
            fields.pop("_lines", None)
            found.update(fields)
    return found
