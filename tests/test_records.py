"""Reading files record by record: bad bytes and bad JSON are located, never fatal."""

from __future__ import annotations

import io
import json
from pathlib import Path

from llmsiem.records import expand_inputs, iter_jsonl, read_records


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
