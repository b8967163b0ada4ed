"""Reading JSON and JSONL telemetry files record by record, with exact locations.

Bad bytes never stop a read: each line becomes a ``RawRecord`` that either holds a JSON
object or says precisely why it does not (invalid UTF-8, invalid JSON, not an object, out
of bounds). Everything is bounded: line length (``LLMSIEM_MAX_LINE_BYTES``, 8 MiB by
default), ``.json`` document size (``LLMSIEM_MAX_DOCUMENT_BYTES``, 256 MiB), nesting depth
(64), integers (int64) and floats (finite); only regular files are read, anything else
(a FIFO, a device, a directory, a dangling link) becomes one record saying it was skipped.
A gzip-compressed file (``.jsonl.gz``, rotated logs) is read decompressed, recognised by its
first bytes; a corrupt or cut-off one keeps the records before the break.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import stat
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BufferedIOBase
from pathlib import Path
from typing import Any

import orjson

JSONL_SUFFIXES = (".jsonl", ".ndjson")
JSON_SUFFIXES = (".json",)
GZIP_SUFFIX = ".gz"
GZIP_MAGIC = b"\x1f\x8b"
READ_ERRORS = (OSError, EOFError, zlib.error)
"""What reading a file can raise: an I/O error, or a gzip stream that is corrupt or cut off."""
MAX_DEPTH = 64
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
"""What a JSON escape such as ``\\ud800`` alone decodes to: valid JSON, no UTF-8."""
DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_DOCUMENT_BYTES = 256 * 1024 * 1024
SKIP_CHUNK = 1024 * 1024


def _setting(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() and int(value) > 0 else default


def max_line_bytes() -> int:
    """The longest JSONL line read (``LLMSIEM_MAX_LINE_BYTES``); longer ones are rejected."""
    return _setting("LLMSIEM_MAX_LINE_BYTES", DEFAULT_MAX_LINE_BYTES)


def max_document_bytes() -> int:
    """The largest ``.json`` document read (``LLMSIEM_MAX_DOCUMENT_BYTES``)."""
    return _setting("LLMSIEM_MAX_DOCUMENT_BYTES", DEFAULT_MAX_DOCUMENT_BYTES)


def _lone_surrogate(text: str) -> str | None:
    """Why ``text`` cannot be written as UTF-8 (a lone surrogate, which a JSON escape such
    as ``\\ud800`` decodes to), or None."""
    if text.isascii() or (found := LONE_SURROGATE.search(text)) is None:
        return None
    return f"a string holds a lone surrogate (\\u{ord(found.group()):04x}), which UTF-8 cannot hold"


def out_of_bounds(value: Any) -> str | None:
    """Why a parsed JSON value exceeds the bounds (depth, int64, finite floats, text UTF-8
    can hold), or None."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels"
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item if isinstance(key, str))
        elif isinstance(item, str):
            if problem := _lone_surrogate(item):
                return problem
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int) and not INT64_MIN <= item <= INT64_MAX:
            return f"integer outside the 64-bit range: {str(item)[:40]}"
        elif isinstance(item, float) and not math.isfinite(item):
            return f"number out of range: {item}"
    return None


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


def _loads(text: str) -> Any:
    """``json.loads`` with nesting the parser cannot follow reported as a bound."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None


def _checked_object(value: Any) -> tuple[dict[str, Any] | None, str | None]:
    if not isinstance(value, dict):
        return None, f"expected a JSON object, got {type(value).__name__}"
    problem = out_of_bounds(value)
    return (None, problem) if problem else (value, None)


def _parse_object(text: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        value = _loads(text)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg} (column {exc.colno})"
    except ValueError as exc:  # depth, or an integer too long for Python to convert
        return None, str(exc)
    return _checked_object(value)


DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
RISKY_NUMBERS = (b"0" * 19, b"NaN", b"Infinity")
NUMBER_BODY = b"0123456789.-+ \t\r"  # JSON whitespace but newline, which ends a line
BRACKETS_ONLY = bytes(b for b in range(256) if b not in b"[{\n")


def _opens_value(buffer: bytes, start: int) -> bool:
    """True when the number ending at ``start`` stands as a JSON value (after ``:[,``)."""
    while start > 0 and buffer[start - 1 : start] in NUMBER_BODY:
        start -= 1
    return start > 0 and buffer[start - 1 : start] in b":[,"


def _risky_in(buffer: bytes, first_line: int) -> Iterator[int]:
    brackets = buffer.translate(None, BRACKETS_ONLY).split(b"\n")
    if max(map(len, brackets)) > MAX_DEPTH:
        for offset, kept in enumerate(brackets):
            if len(kept) > MAX_DEPTH:
                yield first_line + offset
    digits = buffer.translate(DIGITS_AS_ZERO)  # so that one ``find`` spots any digit run
    for needle in RISKY_NUMBERS:
        start = digits.find(needle)
        while start >= 0:
            if _opens_value(buffer, start):
                yield first_line + buffer.count(b"\n", 0, start)
            start = digits.find(needle, start + len(needle))


def _parse_line(line: bytes, text: str) -> tuple[dict[str, Any] | None, str | None]:
    """``_parse_object(text)`` of one JSONL line (``line`` is ``text`` in UTF-8), faster.

    A line the byte scan of ``_risky_in`` does not flag has at most ``MAX_DEPTH`` brackets
    and no 19-digit number, and orjson refuses ``NaN``, infinities and overflowing floats,
    so what orjson parses from it is within bounds without a walk. Whatever orjson refuses
    (those, lone surrogates, any invalid JSON) and every flagged line take the standard
    library's path, as does a line that is not an object (orjson reads a bare integer over
    64 bits as a float), so that results and messages stay exactly ``_parse_object``'s.
    """
    if next(_risky_in(line, 1), None) is None:
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            pass
        else:
            if isinstance(value, dict):
                return value, None
    return _parse_object(text)


def risky_lines(block: bytes) -> set[int]:
    """0-based positions of the lines of ``block`` (complete lines) that might break the
    depth or number bounds (over 64 brackets, a 19-digit number, ``NaN``, ``Infinity``),
    found at the speed of a byte scan; ``breaks_bounds`` decides for each."""
    return {line - 1 for line in _risky_in(block, 1)}


def breaks_bounds(raw: bytes) -> bool:
    """True when a JSONL line breaks a bound (depth, int64, finite floats) or, flagged by
    ``risky_lines``, is no valid JSON object; a bulk reader then leaves its chunk to the
    record-by-record path."""
    text, _ = _decode(raw.strip())
    return text is not None and text != "" and _parse_object(text)[1] is not None


def bounded_lines(stream: BufferedIOBase, limit: int) -> Iterator[bytes | None]:
    """The lines of ``stream``, each at most ``limit`` bytes; ``None`` for a longer one."""
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while (rest := stream.readline(SKIP_CHUNK)) and not rest.endswith(b"\n"):
                pass
            yield None
            continue
        yield line


def iter_jsonl(
    lines: Iterable[bytes | None], source: str, start_line: int = 1
) -> Iterator[RawRecord]:
    """Records of JSON Lines (its lines, ``None`` for one over the length cap); blanks skipped."""
    for offset, raw in enumerate(lines):
        line = start_line + offset
        if raw is None:
            yield RawRecord(source, line, None, f"line longer than {max_line_bytes():,} bytes")
            continue
        stripped = raw.strip()
        if not stripped:
            continue
        text, error = _decode(stripped)
        if text is None:
            yield RawRecord(source, line, None, error, stripped.decode("utf-8", "replace"))
            continue
        data, error = _parse_line(stripped, text)
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
    limit = max_document_bytes()
    with open_input(path) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        yield RawRecord(source, 1, None, f"JSON document larger than {limit:,} bytes")
        return
    text, error = _decode(data)
    if text is None:
        yield RawRecord(source, 1, None, error)
        return
    try:
        value = _loads(text)
    except json.JSONDecodeError as exc:
        yield RawRecord(source, exc.lineno, None, f"invalid JSON: {exc.msg} (column {exc.colno})")
        return
    except ValueError as exc:
        yield RawRecord(source, 1, None, str(exc))
        return
    if isinstance(value, dict):
        checked, error = _checked_object(value)
        yield RawRecord(source, 1, checked, error)
        return
    if not isinstance(value, list):
        yield RawRecord(source, 1, None, f"expected an object or array, got {type(value).__name__}")
        return
    for item, line in zip(value, _line_of_items(text, len(value)), strict=True):
        checked, error = _checked_object(item)
        yield RawRecord(source, line, checked, error)


def data_suffix(path: Path) -> str:
    """The suffix that names the data format, ``.jsonl`` for ``events.jsonl.gz`` too."""
    return path.with_suffix("").suffix if path.suffix == GZIP_SUFFIX else path.suffix


def is_compressed(path: Path) -> bool:
    """Whether ``path`` starts as a gzip stream does (False when it cannot be read)."""
    try:
        with path.open("rb") as stream:
            return stream.read(len(GZIP_MAGIC)) == GZIP_MAGIC
    except OSError:
        return False


@contextmanager
def open_input(path: Path) -> Iterator[BufferedIOBase]:
    """``path`` for reading, decompressed when it is gzip (by its first bytes, whatever its
    name); reads may raise any of ``READ_ERRORS``."""
    with path.open("rb") as raw:
        if raw.peek(len(GZIP_MAGIC)).startswith(GZIP_MAGIC):
            with gzip.GzipFile(fileobj=raw) as unpacked:
                yield unpacked
        else:
            yield raw


def read_error(exc: BaseException, after_line: int) -> str:
    """The dead-letter reason for a read that broke off after ``after_line`` lines."""
    if isinstance(exc, OSError) and exc.strerror:
        why = exc.strerror
    elif isinstance(exc, EOFError):
        why = "compressed stream cut off"
    else:
        why = str(exc) or type(exc).__name__
    return f"read error after line {after_line:,}: {why}; the records before it are kept"


def expand_inputs(paths: Iterable[Path]) -> list[Path]:
    """Paths named directly, plus every JSON/JSONL name under named directories (sorted),
    gzip-compressed ones (``.jsonl.gz``) included.

    Names are listed whatever they are; ``read_records`` reports those that are not
    regular files.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(
                    p for p in path.rglob("*") if data_suffix(p) in JSONL_SUFFIXES + JSON_SUFFIXES
                )
            )
        elif path.exists() or path.is_symlink():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or directory")
    return files


def not_readable(path: Path) -> str | None:
    """Why ``path`` is skipped (not a regular file, dangling link, unreadable), or None."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "skipped: a dangling symbolic link" if path.is_symlink() else "skipped: not found"
    except OSError as exc:
        return f"skipped: {exc.strerror}"
    if stat.S_ISREG(mode):
        return None
    kinds = {stat.S_ISDIR: "a directory", stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket"}
    kind = next((name for test, name in kinds.items() if test(mode)), "a device")
    return f"skipped: {kind}, not a regular file"


def read_records(path: Path) -> Iterator[RawRecord]:
    """Records of one regular file, JSON (object/array) or JSONL by suffix, gzip or not."""
    reason = not_readable(path)
    if reason is not None:
        yield RawRecord(str(path), 0, None, reason)
        return
    line = 0
    try:
        if data_suffix(path) in JSON_SUFFIXES:
            yield from iter_json_document(path)
            return
        with open_input(path) as stream:
            for record in iter_jsonl(bounded_lines(stream, max_line_bytes()), str(path)):
                line = record.line
                yield record
    except READ_ERRORS as exc:
        yield RawRecord(str(path), line + 1, None, read_error(exc, line))
