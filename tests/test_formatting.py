"""The display helpers of phaser_analytics.formatting (spec §11.4)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timedelta, timezone

import pytest

from phaser_analytics.formatting import (
    UNKNOWN,
    clean_text,
    display_width,
    format_cost,
    format_count,
    format_date,
    format_datetime,
    format_delta,
    format_duration,
    format_percent,
    format_timestamp,
    pad_to_width,
    truncate_to_width,
)


class TestFormatDuration:
    def test_format_duration_hours(self):
        assert format_duration(5003) == "1h 23m"
        assert format_duration(7500) == "2h 05m"
        assert format_duration(3600) == "1h 00m"
        assert format_duration(30 * 3600) == "30h 00m"

    def test_format_duration_minutes(self):
        assert format_duration(45 * 60 + 12) == "45m 12s"
        assert format_duration(60) == "1m 00s"
        assert format_duration(3599) == "59m 59s"

    def test_format_duration_seconds(self):
        assert format_duration(42) == "42s"
        assert format_duration(0) == "0s"
        assert format_duration(0.4) == "0s"

    def test_format_duration_precise_keeps_seconds(self):
        assert format_duration(5003, precise=True) == "1h 23m 23s"
        assert format_duration(45 * 60 + 12, precise=True) == "45m 12s"

    def test_rounds_to_the_second_before_splitting(self):
        assert format_duration(59.5) == "1m 00s"
        assert format_duration(3599.6) == "1h 00m"

    @pytest.mark.parametrize("value", [None, float("nan"), float("inf"), "12", True])
    def test_unknown_is_a_dash(self, value):
        assert format_duration(value) == UNKNOWN == "-"

    def test_negative_duration_is_shown_not_hidden(self):
        assert format_duration(-300) == "-5m 00s"


class TestFormatDelta:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [(32, "+32"), (-3, "-3"), (0, "0"), (None, "-"), (34.4, "+34.4"), (12.0, "+12")],
    )
    def test_signs(self, value, expected):
        assert format_delta(value) == expected


class TestFormatPercent:
    @pytest.mark.parametrize(
        ("ratio", "expected"),
        [(0.6, "60%"), (1.0, "100%"), (0.0, "0%"), (2 / 3, "67%"), (0.125, "13%"), (None, "-")],
    )
    def test_values(self, ratio, expected):
        assert format_percent(ratio) == expected

    def test_never_rounds_up_to_a_perfect_score(self):
        assert format_percent(0.996) == "99%"
        assert format_percent(0.9996, digits=1) == "99.9%"

    def test_never_rounds_down_to_nothing(self):
        assert format_percent(0.001) == "1%"

    def test_digits(self):
        assert format_percent(0.955, digits=1) == "95.5%"


class TestCountsAndMoney:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (950, "950"),
            (12_345, "12.3K"),
            (1_234_567, "1.2M"),
            (4 * 10**9, "4B"),
            (20_000, "20K"),
            (None, "-"),
        ],
    )
    def test_format_count(self, value, expected):
        assert format_count(value) == expected

    @pytest.mark.parametrize(
        ("value", "expected"),
        [(3.4, "$3.40"), (0, "$0.00"), (1234.5, "$1,234.50"), (0.0042, "$0.0042"), (None, "-")],
    )
    def test_format_cost(self, value, expected):
        assert format_cost(value) == expected


class TestDates:
    moment = datetime(2024, 12, 6, 23, 30, 5, tzinfo=timezone.utc)

    def test_format_date_in_utc(self):
        assert format_date(self.moment) == "2024-12-06"
        plus_two = self.moment.astimezone(timezone(timedelta(hours=2)))
        assert format_date(plus_two) == "2024-12-06"

    def test_format_date_reads_iso_strings_of_record_dicts(self):
        assert format_date("2024-12-06T23:30:05Z") == "2024-12-06"
        assert format_date("not a date") == UNKNOWN
        assert format_date(None) == UNKNOWN
        assert format_date(date(2024, 1, 2)) == "2024-01-02"

    def test_format_datetime(self):
        assert format_datetime(self.moment) == "2024-12-06 23:30:05"
        assert format_datetime(self.moment, "%H:%M") == "23:30"
        naive = datetime(2024, 12, 6, 9, 0)
        assert format_datetime(naive) == "2024-12-06 09:00:00"

    def test_format_timestamp(self):
        assert format_timestamp(self.moment) == "2024-12-06T23:30:05Z"
        midnight = datetime(2024, 12, 6, tzinfo=timezone.utc)
        assert format_timestamp(midnight, date_only=True) == "2024-12-06"
        assert format_timestamp(midnight) == "2024-12-06T00:00:00Z"
        assert format_timestamp(None) == UNKNOWN


class TestDisplayWidth:
    @pytest.mark.parametrize(
        ("text", "width"),
        [("abc", 3), ("✅", 2), ("❌", 2), ("⚠️", 2), ("日本語", 6), ("e\u0301", 1), ("", 0)],
    )
    def test_display_width(self, text, width):
        assert display_width(text) == width

    def test_control_characters_do_not_make_it_negative(self):
        assert display_width("a\x1bb") == 2

    def test_truncate_keeps_short_text(self):
        assert truncate_to_width("document.md", 11) == "document.md"

    def test_truncate_adds_ellipsis_within_width(self):
        assert truncate_to_width("document-7-reverse.md", 10) == "document-…"

    def test_truncate_never_splits_a_wide_character(self):
        cut = truncate_to_width("日本語のドキュメント", 6)
        assert cut == "日本…"
        assert display_width(cut) == 5

    def test_truncate_never_splits_an_emoji_sequence(self):
        text = "a⚠️b👨‍👩‍👧cdef"
        assert truncate_to_width(text, 6) == "a⚠️b…"
        assert truncate_to_width(text, 7) == "a⚠️b👨‍👩‍👧…"

    def test_truncate_tiny_widths(self):
        assert truncate_to_width("abcdef", 1) == "…"
        assert truncate_to_width("abcdef", 0) == ""

    def test_pad_and_fit(self):
        assert pad_to_width("✅", 4) == "✅  "
        assert pad_to_width("ab", 4, "right") == "  ab"
        assert pad_to_width("ab", 5, "center") == " ab  "
        assert pad_to_width(truncate_to_width("日本語", 5), 5) == "日本…"
        assert display_width(pad_to_width(truncate_to_width("日本語テキスト", 7), 7)) == 7


def test_clean_text_defuses_terminal_control_characters():
    assert clean_text("doc\x1b[31mred\x07.md") == "doc\ufffd[31mred\ufffd.md"
    assert clean_text("two\nlines\tand tab") == "two lines and tab"
    assert clean_text("abc\u202edef") == "abcdef"
    assert clean_text("a\u200db") == "a\u200db"  # ZWJ joins emoji; it stays


def test_importing_formatting_does_not_import_wcwidth():
    code = "import sys, phaser_analytics.formatting; print('wcwidth' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False"
