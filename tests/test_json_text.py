"""json_text.dumps_indented writes exactly what json.dumps(indent=…) writes."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from storage_helpers import make_record

from phaser_analytics.json_text import dumps_indented

LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(value=VALUES, indent=st.sampled_from([0, 1, 2, 4]), ascii_only=st.booleans())
def test_the_text_is_json_dumps_text(value: object, indent: int, ascii_only: bool) -> None:
    expected = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    assert dumps_indented(value, indent=indent, ensure_ascii=ascii_only) == expected


class Colour(str, Enum):
    RED = "red"


def test_what_only_json_dumps_knows_falls_back_to_it() -> None:
    value = {"colour": Colour.RED, 1: [Path("/x")], "nested": {2.5: None}}
    for kwargs in ({"default": str}, {"default": lambda v: getattr(v, "value", str(v))}):
        assert dumps_indented(value, **kwargs) == json.dumps(value, indent=2, **kwargs)
    cycle: list[object] = []
    cycle.append(cycle)
    try:
        dumps_indented(cycle)
    except ValueError as exc:
        assert "Circular" in str(exc)
    else:
        raise AssertionError("a cycle must fail as json.dumps fails")


def test_a_record_file_is_unchanged(tmp_path: Path) -> None:
    record = make_record(tmp_path, document="document-7-✅.md", cost_usd=0.1 + 0.2)
    data = record.to_dict()
    assert dumps_indented(data) == json.dumps(data, indent=2)
    assert dumps_indented(data, ensure_ascii=False) == json.dumps(
        data, indent=2, ensure_ascii=False
    )
