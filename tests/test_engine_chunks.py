"""The block reader of ``detect`` against the line reader it replaced (``bounded_lines``).

Random files mix objects, blank and whitespace lines, lines just under and over a small
length cap, and lines over the cap that span many reads; read sizes, chunk sizes and byte
budgets are random too. Every line must come back at its position, with the same bytes,
blank lines flagged and lines over the cap as ``None``; the staged block must equal the
per-line construction.
"""

from __future__ import annotations

import io
import json
import random
from array import array
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

import pytest

import llmsiem.engine.chunks as chunks
from llmsiem.records import bounded_lines
from llmsiem.synthetic import generate

LIMIT = 50


def _file(rng: random.Random) -> bytes:
    lines = []
    for _ in range(rng.randint(0, 30)):
        kind = rng.choice(["object", "blank", "spaces", "near", "over", "array"])
        lines.append(
            {
                "object": b'{"a": %d}' % rng.randint(0, 10 ** rng.randint(1, 30)),
                "blank": b"",
                "spaces": b" \t ",
                "near": b'{"x": "' + b"y" * rng.randint(38, 46) + b'"}',
                "over": b"z" * rng.randint(LIMIT + 1, 8 * LIMIT),
                "array": b"[1, 2]",
            }[kind]
        )
    return b"\n".join(lines) + (b"\n" if rng.random() < 0.5 else b"")


@pytest.mark.parametrize("seed", range(4))
def test_chunks_give_the_lines_bounded_lines_gives(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMSIEM_MAX_LINE_BYTES", str(LIMIT))
    rng = random.Random(seed)
    for _ in range(400):
        data = _file(rng)
        expected = [
            None if raw is None else raw if raw.endswith(b"\n") else raw + b"\n"
            for raw in bounded_lines(io.BytesIO(data), LIMIT)
        ]
        monkeypatch.setattr(chunks, "READ_BYTES", rng.randint(1, 120))
        size, budget = rng.randint(1, 12), rng.randint(1, 300)
        got: list[bytes | None] = []
        for chunk in chunks._chunks(io.BytesIO(data), "f", size, budget):
            assert 1 <= len(chunk) <= size
            assert chunk.first_line == len(got) + 1
            lines = [chunk.line(p) for p in range(len(chunk))]
            assert chunk.blank == {
                p for p, r in enumerate(lines) if r is not None and not r.strip()
            }
            suspects = {p for p in range(len(chunk)) if rng.random() < 0.3} | chunk.irregular()
            assert chunk.staged(suspects) == b"".join(
                chunks.PLACEHOLDER if raw is None or p in suspects else raw
                for p, raw in enumerate(lines)
            )
            got += lines
        assert got == expected


def test_prepared_chunks_come_in_order_and_an_early_stop_closes_the_next(tmp_path: Any) -> None:
    from llmsiem.engine.store import EventStore

    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(b'{"a": %d}\n' % n for n in range(100)))
    store = EventStore()
    firsts = [p.chunk.first_line for p in store.prepared(chunks.jsonl_chunks(path, 7, ramp=0))]
    assert firsts == list(range(1, 101, 7))
    made = store.prepared(chunks.jsonl_chunks(path, 7, ramp=0))
    first = next(made)
    made.close()  # the worker had begun the second chunk: it is waited for and closed
    assert first.staged is not None and first.suspects == set(range(7)), "a is no schema field"
    first.close()


def test_a_failure_on_the_worker_reaches_the_caller(tmp_path: Any) -> None:
    from llmsiem.engine.store import EventStore

    def failing() -> Iterator[chunks.JsonlChunk]:
        yield from chunks.jsonl_chunks(tmp_path / "missing.jsonl")

    with pytest.raises(FileNotFoundError):
        list(EventStore().prepared(failing()))


def test_first_chunks_ramp_up_to_the_budgets() -> None:
    """With a ramp the first chunks take a half, a quarter... of both budgets, and the
    lines are still every line once, in order."""
    data = b"".join(b'{"n": %d}\n' % n for n in range(200))
    made = list(chunks._chunks(io.BytesIO(data), "f", 40, 10**9, ramp=3))
    assert [len(c) for c in made][:5] == [5, 10, 20, 40, 40]
    assert b"".join(c.block for c in made) == data
    assert [c.first_line for c in made] == [
        1 + sum(len(c) for c in made[:k]) for k in range(len(made))
    ]
    by_bytes = list(chunks._chunks(io.BytesIO(data), "f", 10**6, 800, ramp=2))
    assert all(len(c.block) <= b for c, b in zip(by_bytes, [200, 400, 800, 800], strict=False))
    assert len(by_bytes[0].block) < len(by_bytes[1].block) < len(by_bytes[2].block)


@pytest.mark.parametrize("seed", range(3))
def test_lines_torn_just_after_a_closing_brace_are_found_by_the_chunk_itself(seed: int) -> None:
    """A live writer can tear a line just after a closing brace, so it still looks braced;
    the chunk's own scan must find it (else every such chunk pays the numbered re-scan
    of ``survey.flagged_lines``)."""
    rng = random.Random(seed)
    lines = [json.dumps(document).encode() for document in generate(300, seed=seed)]
    torn = set(rng.sample(range(len(lines)), 25))
    for n in torn:
        inner = [i + 1 for i in range(len(lines[n]) - 1) if lines[n][i : i + 1] == b"}"]
        lines[n] = lines[n][: rng.choice(inner)]
    for n in torn:
        assert lines[n].endswith(b"}")
        with pytest.raises(ValueError):
            json.loads(lines[n])
    chunk = chunks.JsonlChunk(
        "f",
        1,
        b"".join(line + b"\n" for line in lines),
        array("q", accumulate(len(line) + 1 for line in lines)),
    )
    assert chunk.malformed(len(torn)) == torn
