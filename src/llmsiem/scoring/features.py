"""Hashed character n-grams of a text: the features the prompt-injection scorer reads.

A text is lower-cased, its whitespace runs become one space, and a long text keeps its head
and tail (``HEAD_CHARS`` + ``TAIL_CHARS`` code points). Each character n-gram (n in
``NGRAM_SIZES``) is hashed from its code points with a 64-bit polynomial hash, xor a seed
per n, and multiplicative (Fibonacci) hashing into one of ``2**bits`` buckets; every
occurrence weighs ``1 / sqrt(count)``, where count is the text's number of n-grams. Training
and inference share these functions, so a model scores exactly the features it was trained
on.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

NGRAM_SIZES = (2, 3, 4, 5)
HEAD_CHARS = 3072
TAIL_CHARS = 1024
_MULTIPLIER = np.uint64(0x100000001B3)
_SEEDS = {n: np.uint64((0x9E3779B97F4A7C15 * n) & 0xFFFFFFFFFFFFFFFF) for n in NGRAM_SIZES}
_FIBONACCI = np.uint64(0x9E3779B97F4A7C15)

Buckets = npt.NDArray[np.int64]


def normalise(text: str) -> str:
    """Lower case, single spaces, and at most the head and tail of a long text."""
    text = " ".join(text.lower().split())
    if len(text) > HEAD_CHARS + TAIL_CHARS:
        text = text[:HEAD_CHARS] + " " + text[-TAIL_CHARS:]
    return text


def buckets(text: str, bits: int) -> Buckets:
    """The bucket of every n-gram occurrence of ``text`` (already ``normalise``d)."""
    found, _ = batch_buckets([text], bits)
    return found


def batch_buckets(texts: list[str], bits: int) -> tuple[Buckets, Buckets]:
    """``buckets`` of several texts at once, and the index of the text each one belongs to.

    The texts are hashed as one array; an n-gram that would run past the end of its text
    is dropped, so each text gets exactly its own n-grams.
    """
    points = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype="<u4").astype(
        np.uint64
    )
    lengths = np.array([len(t) for t in texts], dtype=np.int64)
    owner = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    room = np.repeat(np.cumsum(lengths), lengths) - np.arange(len(points), dtype=np.int64)
    shift = np.uint64(64 - bits)
    parts, owners = [], []
    with np.errstate(over="ignore"):
        for n, values in _seeded_hashes(points).items():
            whole = room[: len(values)] >= n
            parts.append((values[whole] * _FIBONACCI) >> shift)
            owners.append(owner[: len(values)][whole])
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(parts).astype(np.int64), np.concatenate(owners)


def weighted_sums(
    texts: list[str], bits: int, weights: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Per text, the sum of ``weights`` over the buckets of its n-grams, and their count:
    what ``batch_buckets`` would give, without materialising the buckets.

    Every position of the joined texts is hashed; an n-gram running past the end of its
    text gets weight 0, and a running sum gives each text's total as a difference. One
    text (the per-record path) is gathered and summed in one go, as at prompt sizes the
    cost is numpy's overhead per call, not the hashing.
    """
    joined = "".join(texts).encode("utf-32-le", "surrogatepass")
    points = np.frombuffer(joined, dtype="<u4").astype(np.uint64)
    shift = np.uint64(64 - bits)
    with np.errstate(over="ignore"):
        hashed = _seeded_hashes(points)
        if len(texts) == 1:
            every = (np.concatenate(list(hashed.values())) * _FIBONACCI) >> shift
            count = sum(max(len(points) - n + 1, 0) for n in NGRAM_SIZES)
            return np.array([weights[every].sum(dtype=np.float64)]), np.array([count])
        lengths = np.array([len(t) for t in texts], dtype=np.int64)
        ends = np.cumsum(lengths)
        starts = ends - lengths
        room = np.repeat(ends, lengths) - np.arange(len(points), dtype=np.int64)
        sums = np.zeros(len(texts))
        counts = np.zeros(len(texts), dtype=np.int64)
        for n, values in hashed.items():
            gathered = weights[(values * _FIBONACCI) >> shift]
            gathered[room[: len(values)] < n] = 0
            running = np.concatenate(([0.0], np.cumsum(gathered, dtype=np.float64)))
            sums += (
                running[np.minimum(ends, len(values))] - running[np.minimum(starts, len(values))]
            )
            counts += np.maximum(lengths - n + 1, 0)
    return sums, counts


def _seeded_hashes(points: npt.NDArray[np.uint64]) -> dict[int, npt.NDArray[np.uint64]]:
    """Per n in ``NGRAM_SIZES``, the seeded hash of the n-gram starting at each position
    (callers silence numpy's overflow warning: the hash wraps on purpose)."""
    hashed = {}
    rolling = points
    for n in range(2, max(NGRAM_SIZES) + 1):
        rolling = rolling[:-1] * _MULTIPLIER + points[n - 1 :]
        if n in NGRAM_SIZES:
            hashed[n] = rolling ^ _SEEDS[n]
    return hashed


def reference_buckets(text: str, bits: int) -> list[int]:
    """``buckets`` one n-gram at a time in plain Python integers: the oracle tests use."""
    mask = (1 << 64) - 1
    out = []
    points = [ord(c) for c in text]
    for n in NGRAM_SIZES:
        for start in range(len(points) - n + 1):
            value = 0
            for point in points[start : start + n]:
                value = (value * int(_MULTIPLIER) + point) & mask
            value = ((value ^ int(_SEEDS[n])) * int(_FIBONACCI)) & mask
            out.append(value >> (64 - bits))
    return out
