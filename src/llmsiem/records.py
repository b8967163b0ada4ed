"""Reading JSON and JSONL telemetry files record by record, with exact locations.

Bad bytes never stop a read: each line becomes a ``RawRecord`` that either holds a JSON
object or says precisely why it does not (invalid UTF-8, invalid JSON, not an object).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JSONL_SUFFIXES = (".jsonl", ".ndjson")
JSON_SUFFIXES = (".json",)


@dataclass(frozen=True)
class RawRecord:
    """One input record: a parsed object, or the reason it could not be parsed."""

    source: str
    line: int
    data: dict[str, Any] | None
    error: str | None = None
    raw: str | None = None

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


def _decode(raw: bytes) -> tuple[str | None, str | None]:
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, f"invalid UTF-8 at byte {exc.start}: {raw[exc.start : exc.start + 4]!r}"


def _parse_object(text: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg} (column {exc.colno})"
    if not isinstance(value, dict):
        return None, f"expected a JSON object, got {type(value).__name__}"
    return value, None


def iter_jsonl(lines: Iterable[bytes], source: str, start_line: int = 1) -> Iterator[RawRecord]:
    """Records of JSON Lines (a binary stream or its lines); blank lines are skipped."""
    for offset, raw in enumerate(lines):
        line = start_line + offset
        stripped = raw.strip()
        if not stripped:
            continue
        text, error = _decode(stripped)
        if text is None:
            yield RawRecord(source, line, None, error, stripped.decode("utf-8", "replace"))
            continue
        data, error = _parse_object(text)
        yield RawRecord(source, line, data, error, text if error else None)


def _line_of_items(text: str, count: int) -> list[int]:
    """Best-effort 1-based line of each top-level array item, for error messages."""
    decoder = json.JSONDecoder()
    lines: list[int] = []
    pos = text.index("[") + 1
    for _ in range(count):
        while text[pos] in " \t\r\n,":
            pos += 1
        lines.append(text.count("\n", 0, pos) + 1)
        _, pos = decoder.raw_decode(text, pos)
    return lines


def iter_json_document(path: Path) -> Iterator[RawRecord]:
    """Records of a ``.json`` file holding one object or an array of objects."""
    source = str(path)
    text, error = _decode(path.read_bytes())
    if text is None:
        yield RawRecord(source, 1, None, error)
        return
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        yield RawRecord(source, exc.lineno, None, f"invalid JSON: {exc.msg} (column {exc.colno})")
        return
    if isinstance(value, dict):
        yield RawRecord(source, 1, value)
        return
    if not isinstance(value, list):
        yield RawRecord(source, 1, None, f"expected an object or array, got {type(value).__name__}")
        return
    for item, line in zip(value, _line_of_items(text, len(value)), strict=True):
        if isinstance(item, dict):
            yield RawRecord(source, line, item)
        else:
            yield RawRecord(
                source, line, None, f"expected a JSON object, got {type(item).__name__}"
            )


def expand_inputs(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, plus every JSON/JSONL file under named directories (sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*") if p.suffix in JSONL_SUFFIXES + JSON_SUFFIXES)
            )
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or directory")
    return files


def read_records(path: Path) -> Iterator[RawRecord]:
    """Records of one file, JSON (object/array) or JSONL by suffix."""
    if path.suffix in JSON_SUFFIXES:
        yield from iter_json_document(path)
        return
    with path.open("rb") as stream:
        yield from iter_jsonl(stream, str(path))
