"""A normalized JSONL file cut into chunks of lines, read in large blocks.

A chunk keeps its lines as one block of bytes (what DuckDB reads) and the end offset of
each line, so the bulk path never makes a Python object per line. A line over the length
cap (``LLMSIEM_MAX_LINE_BYTES``) is read past without being held, and left empty in the
block; blank lines stay, so that a line's position in its chunk gives its number.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BufferedIOBase
from pathlib import Path

from llmsiem.records import (
    READ_ERRORS,
    breaks_bounds,
    iter_jsonl,
    max_line_bytes,
    open_input,
    read_error,
    risky_lines,
)

CHUNK_LINES = 250_000
CHUNK_BYTES = 64 * 1024 * 1024
"""Input bytes per chunk: what the chunk's memory follows, whatever the size of its events."""
READ_BYTES = 8 * 1024 * 1024
RAMP = 3
"""A file's first chunks take 1/8, 1/4 and 1/2 of the line and byte budgets: the first is
ready sooner (nothing else runs while it is prepared), then the next one is prepared while
the current one loads."""
PLACEHOLDER = b"{}\n"


@dataclass
class JsonlChunk:
    """Consecutive lines of a JSONL file: ``block`` holds them, each ending in a newline
    (a line over the length cap is left empty), ``ends`` the offset after each."""

    source: str
    first_line: int
    block: bytes
    ends: array[int]
    overlong: frozenset[int] = frozenset()
    blank: frozenset[int] = frozenset()
    """Positions of lines holding only whitespace."""

    def __len__(self) -> int:
        return len(self.ends)

    def line(self, position: int) -> bytes | None:
        """The raw line at ``position``; ``None`` for a line over the length cap."""
        if position in self.overlong:
            return None
        return self.block[self.ends[position - 1] if position else 0 : self.ends[position]]

    def irregular(self) -> set[int]:
        """Positions of blank lines and of lines over the length cap."""
        return set(self.overlong | self.blank)

    def staged(self, suspects: set[int]) -> bytes:
        """The lines as DuckDB reads them: one per position, ``{}`` in place of suspects."""
        if not suspects:
            return self.block
        pieces, start = [], 0
        for position in sorted(suspects):
            pieces += [self.block[start : self.ends[position - 1] if position else 0], PLACEHOLDER]
            start = self.ends[position]
        pieces.append(self.block[start:])
        return b"".join(pieces)

    def within_bounds(self) -> bool:
        """True when no line breaks a bound (depth, int64, finite floats): only the lines a
        byte scan flags are parsed. Lines over the length cap are the caller's."""
        flagged = sorted(p for p in risky_lines(self.block) if p < len(self))
        return not any(breaks_bounds(self.line(p) or b"") for p in flagged)

    def malformed(self, expected: int) -> set[int]:
        """Positions of lines that are no JSON object, looked for among lines that do not
        look like one: not in braces (a stray array, most torn lines) or with more opening
        than closing braces (a line torn just after a closing brace). The caller checks the
        count (a brace inside a string can hide a torn line)."""
        found: set[int] = set()
        skip = self.overlong | self.blank
        for position in range(len(self)):
            if position in skip:
                continue
            raw = self.line(position) or b""
            text = raw.strip()
            if text[:1] != b"{" or text[-1:] != b"}" or text.count(b"{") != text.count(b"}"):
                record = next(iter_jsonl([raw], self.source, self.first_line + position))
                if record.data is None:
                    found.add(position)
                    if len(found) == expected:
                        break
        return found


@dataclass
class _Lines:
    """Complete lines read and not yet taken: blocks of them, their line ends, odd lines."""

    parts: list[bytes] = field(default_factory=list)
    ends: array[int] = field(default_factory=lambda: array("q"))
    size: int = 0
    overlong: set[int] = field(default_factory=set)
    blank: set[int] = field(default_factory=set)

    def add(self, data: bytes, limit: int, overlong_first: bool = False) -> int:
        """Append the complete lines of ``data``, a line longer than ``limit`` (and the
        first one when ``overlong_first``) left empty; returns where the lines end."""
        pieces: list[bytes] = []
        start = position = 0
        find, ends = data.find, self.ends
        while (newline := find(b"\n", position)) >= 0:
            if newline - position > limit or (overlong_first and position == 0):
                self.overlong.add(len(ends))
                pieces += [data[start:position], b"\n"]
                start = newline + 1
                self.size += 1
            else:
                if data[position] != 123 and not data[position:newline].strip():  # not "{"
                    self.blank.add(len(ends))
                self.size += newline + 1 - position
            ends.append(self.size)
            position = newline + 1
        if pieces:
            pieces.append(data[start:position])
            self.parts.append(b"".join(pieces))
        elif position:
            self.parts.append(data if position == len(data) else data[:position])
        return position

    def take(self, source: str, first_line: int, count: int) -> JsonlChunk:
        """The first ``count`` lines as a chunk; the others stay."""
        cut = self.ends[count - 1]
        held, used = 0, 0
        while held + len(self.parts[used]) < cut:
            held += len(self.parts[used])
            used += 1
        last = self.parts[used]
        head = [*self.parts[:used], last[: cut - held]]
        self.parts = self.parts[used + 1 :]
        if cut - held < len(last):
            self.parts.insert(0, last[cut - held :])
        chunk = JsonlChunk(
            source,
            first_line,
            head[0] if len(head) == 1 else b"".join(head),
            self.ends[:count],
            frozenset(p for p in self.overlong if p < count),
            frozenset(p for p in self.blank if p < count),
        )
        self.ends = array("q", (end - cut for end in self.ends[count:]))
        self.size -= cut
        self.overlong = {p - count for p in self.overlong if p >= count}
        self.blank = {p - count for p in self.blank if p >= count}
        return chunk


class ReadBrokenError(Exception):
    """A file's read broke off (an I/O error, a corrupt or cut-off gzip stream) at ``line``;
    the complete lines before it were all yielded."""

    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(f"{source}:{line}: {reason}")
        self.source, self.line, self.reason = source, line, reason


def jsonl_chunks(
    path: Path, size: int = CHUNK_LINES, budget: int = CHUNK_BYTES, ramp: int = RAMP
) -> Iterator[JsonlChunk]:
    """A JSONL file (gzip or not) as chunks of at most ``size`` lines and about ``budget``
    bytes (at least one line each), the first ``ramp`` ones smaller (see ``RAMP``); raises
    ``ReadBrokenError`` after the last complete line when the read breaks off."""
    with open_input(path) as stream:
        yield from _chunks(stream, str(path), size, budget, ramp)


def _blocks(stream: BufferedIOBase, size: int) -> Iterator[bytes]:
    """Blocks of about ``size`` bytes; when a read fails, the bytes read before it first
    (a gzip stream's ``read`` would drop what it had decompressed), then the error."""
    parts: list[bytes] = []
    held = 0
    while True:
        try:
            part = stream.read1(size - held)
        except READ_ERRORS:
            if parts:
                yield b"".join(parts)
            raise
        if not part:
            if parts:
                yield b"".join(parts)
            return
        parts.append(part)
        held += len(part)
        if held >= size:
            yield b"".join(parts)
            parts, held = [], 0


def _chunks(
    stream: BufferedIOBase, source: str, size: int, budget: int, ramp: int = 0
) -> Iterator[JsonlChunk]:
    """Chunks of at most ``size`` lines and about ``budget`` bytes, the first ``ramp`` ones
    of a half, a quarter... of both."""
    limit = max_line_bytes()
    lines, first, rest, dropping = _Lines(), 1, b"", False
    made = 0

    def ready(final: bool) -> Iterator[JsonlChunk]:
        nonlocal first, made
        while True:
            shift = max(0, ramp - made)
            most, bytes_ = max(1, size >> shift), max(1, budget >> shift)
            if not (len(lines.ends) >= most or lines.size >= bytes_ or (final and lines.ends)):
                return
            count = max(1, min(most, bisect_right(lines.ends, bytes_)))
            yield lines.take(source, first, count)
            first += count
            made += 1

    blocks = _blocks(stream, READ_BYTES)
    while True:
        try:
            block = next(blocks, b"")
        except READ_ERRORS as exc:
            yield from ready(final=True)  # the line being read when it broke is lost
            raise ReadBrokenError(source, first, read_error(exc, first - 1)) from exc
        if not block:
            break
        if dropping:  # inside a line over the cap: read past it, keeping nothing
            newline = block.find(b"\n")
            if newline < 0:
                continue
            dropping = False
            data, overlong_first = block[newline:], True
        else:
            data, overlong_first = rest + block if rest else block, False
        rest = data[lines.add(data, limit, overlong_first) :]
        if len(rest) > limit:
            rest, dropping = b"", True
        yield from ready(final=False)
    if dropping:
        lines.add(b"\n", limit, overlong_first=True)
    elif rest:
        lines.add(rest + b"\n", limit)
    yield from ready(final=True)
