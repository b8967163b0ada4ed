"""Reading files record by record: bad bytes and bad JSON are located, never fatal."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from llmsiem.records import (
    MAX_DEPTH,
    _parse_line,
    _parse_object,
    expand_inputs,
    iter_jsonl,
    read_records,
)


def test_jsonl_reports_each_bad_line_and_keeps_going() -> None:
    data = b'{"a": 1}\n\nnot json\n\xff\xfeabc\n[1, 2]\n{"b": 2}\n'
    records = list(iter_jsonl(io.BytesIO(data), "in.jsonl"))
    assert [r.line for r in records] == [1, 3, 4, 5, 6]
    assert records[0].data == {"a": 1}
    assert records[1].error is not None and records[1].error.startswith("invalid JSON")
    assert records[2].error is not None and "invalid UTF-8 at byte 0" in records[2].error
    assert records[3].error == "expected a JSON object, got list"
    assert records[4].data == {"b": 2}
    assert records[1].where == "in.jsonl:3"


def test_json_array_items_carry_their_line(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text('[\n  {"a": 1},\n  {"b": 2},\n  3\n]\n')
    records = list(read_records(path))
    assert [r.line for r in records] == [2, 3, 4]
    assert records[2].error == "expected a JSON object, got int"


def test_invalid_json_document_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "a": 1,\n  "b": \n}\n')
    (record,) = list(read_records(path))
    assert record.line == 4 and record.error is not None


def test_directories_expand_to_json_files_sorted(tmp_path: Path) -> None:
    (tmp_path / "b.jsonl").write_text(json.dumps({"x": 1}) + "\n")
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("skip me")
    assert [p.name for p in expand_inputs([tmp_path])] == ["a.json", "b.jsonl"]


# The fast JSONL line parser against the standard library's path it replaces: the same
# objects (types, key order, float bits) and the same errors, on valid and broken lines.
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
NUMBER_TEXT = st.from_regex(r"\A-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,4})?\Z")
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=24,
)


def _assert_parsed_alike(line: bytes) -> None:
    stripped = line.strip()
    if not stripped:
        return
    try:
        text = stripped.decode("utf-8")
    except UnicodeDecodeError:
        return  # never parsed: the reader reports the bytes
    assert repr(_parse_line(stripped, text)) == repr(_parse_object(text))


@settings(max_examples=400, deadline=None)
@given(
    JSON_VALUES,
    st.sampled_from([(", ", ": "), (",", ":"), (" ,\t", "\r:\r"), (",\r", ": ")]),
    st.booleans(),
)
def test_fast_line_parse_equals_the_standard_library(
    value: Any, separators: tuple[str, str], ascii_only: bool
) -> None:
    document = {"v": value, "w": [value]}
    line = json.dumps(document, separators=separators, ensure_ascii=ascii_only)
    _assert_parsed_alike(line.encode("utf-8", "surrogatepass"))


@settings(max_examples=400, deadline=None)
@example("20000000000000000000", "%s")  # orjson reads it as a float
@example("20000000000000000000", '{"n":\r%s}')
@given(NUMBER_TEXT, st.sampled_from(['{"n": %s}', '{"n":[1,%s]}', '{"n":\r%s}', "[%s]", "%s"]))
def test_fast_line_parse_equals_the_standard_library_on_numbers(number: str, shape: str) -> None:
    _assert_parsed_alike((shape % number).encode())


@settings(max_examples=400, deadline=None)
@given(JSON_VALUES, st.data())
def test_fast_line_parse_equals_the_standard_library_on_broken_lines(
    value: Any, data: st.DataObject
) -> None:
    line = json.dumps({"v": value}).encode()
    cut = data.draw(st.integers(0, len(line)))
    noise = data.draw(st.binary(max_size=4))
    _assert_parsed_alike(line[:cut])  # a torn line
    _assert_parsed_alike(line[:cut] + noise + line[cut:])


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 1100])
@pytest.mark.parametrize(
    "number",
    [
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775809",
        "18446744073709551616",
        "1.7976931348623157e308",
        "1.7976931348623159e308",
        "1e400",
        "-1e400",
        "NaN",
        "-Infinity",
        "4.9e-324",
        "2.4703282292062328e-324",
        "0.1234567890123456789",
    ],
)
def test_fast_line_parse_equals_the_standard_library_at_the_bounds(depth: int, number: str) -> None:
    nested = '{"a":' + "[" * (depth - 1) + number + "]" * (depth - 1) + "}"
    _assert_parsed_alike(nested.encode())
    if depth > MAX_DEPTH:
        assert _parse_line(nested.encode(), nested) == (
            None,
            f"nested deeper than {MAX_DEPTH} levels",
        )
    _assert_parsed_alike(('{"a": ' + number + ', "b": "\\ud800"}').encode())
