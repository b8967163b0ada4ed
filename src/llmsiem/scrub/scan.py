"""Finding secrets and personal data in one text: every detector over its decoded views.

First, one pass of an RE2 set of every detector's needle (plus a scan for base64 runs)
tells which detectors can match at all; a clean text costs that one pass. Only those
detectors then run their Python patterns and checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import re2

from llmsiem.records import LONE_SURROGATE
from llmsiem.scrub.decoding import (
    View,
    base64_candidates,
    decode_base64,
    decoded_text,
    decoded_view,
)
from llmsiem.scrub.detectors import DETECTORS, Detector, starts_clean

MAX_NESTED_DECODING = 2  # base64 inside base64 inside the text, and no deeper
# Detectors without a needle (random-looking values such as AWS secret keys) run wherever
# a base64 candidate run is found: every value they match lies in such a run.
RUN_DETECTORS = tuple(d for d in DETECTORS if not d.needle)
NEEDLED = tuple(d for d in DETECTORS if d.needle)


def _needle_set() -> re2.Set:
    """Every detector's needle (short: counted repeats over broad classes blow up RE2's DFA)."""
    needles = re2.Set.SearchSet(re2.Options())
    for detector in NEEDLED:
        needles.Add(detector.needle)
    needles.Compile()
    return needles


NEEDLES = _needle_set()


@dataclass(frozen=True)
class Span:
    """A finding: where it is in the original text and what type it is."""

    start: int
    end: int
    kind: str


def _candidates(text: str) -> tuple[list[Detector], list[tuple[int, int, str]]]:
    """Detectors whose needle occurs in ``text``, and its base64 runs worth decoding."""
    text = _valid_utf8(text)
    detectors = [NEEDLED[i] for i in sorted(NEEDLES.Match(text) or ())]
    runs = base64_candidates(text)
    if runs:
        detectors.extend(RUN_DETECTORS)
    return detectors, runs


def _valid_utf8(text: str) -> str:
    """The text with lone surrogates (JSON allows them, RE2 does not) as ``?``: same length."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return LONE_SURROGATE.sub("?", text)
    return text


def needle_union() -> str:
    """One RE2 pattern matching wherever a detector's needle does (each needle in a group
    of its own, so its inline flags stay its own): with an escape to decode and a base64
    run (see ``might_contain_sensitive``), what a pre-filter elsewhere (SQL) must pass."""
    return "|".join(f"(?:{detector.needle})" for detector in NEEDLED)


def might_contain_sensitive(text: str) -> bool:
    """False only when no detector can report anything in ``text`` (a cheap pre-filter).

    One RE2 pass of every detector's needle over the text with JSON and percent escapes
    decoded, plus a scan for base64 runs worth decoding. Whatever :func:`find_spans`
    reports, this reports True for.
    """
    detectors, runs = _candidates(decoded_text(text))
    return bool(detectors or runs)


def _matches(detector: Detector, text: str) -> list[tuple[int, int]]:
    """Spans of the detector's value."""
    found = []
    position = 0
    while (match := detector.pattern.search(text, position)) is not None:
        verdict = starts_clean(text, match.start(), detector.not_after) and (
            detector.check is None or detector.check(text, match)
        )
        if not verdict:  # digit runs may hold a number one group later; tokens may not
            position = match.start() + 1 if detector.pii else match.end()
            continue
        span = verdict if isinstance(verdict, tuple) else match.span(detector.group)
        found.append(span)
        position = match.end()
    return found


def find_spans(text: str, *, pii: bool = True, depth: int = 0) -> list[Span]:
    """Non-overlapping findings in ``text``; ``pii=False`` looks for secrets only."""
    view = decoded_view(text)
    detectors, runs = _candidates(view.text)
    spans: list[Span] = []
    for detector in detectors:
        if pii or not detector.pii:
            for start, end in _matches(detector, view.text):
                spans.extend(_mapped(view, start, end, detector.kind))
    if depth < MAX_NESTED_DECODING:
        for run_start, run_end, run in runs:
            content = decode_base64(run)
            inner = find_spans(content, pii=pii, depth=depth + 1) if content else []
            if inner:
                spans.extend(_mapped(view, run_start, run_end, inner[0].kind))
    return _merge(spans)


def _mapped(view: View, start: int, end: int, kind: str) -> list[Span]:
    start, end = view.span(start, end)
    return [Span(start, end, kind)] if end > start else []


def _merge(spans: list[Span]) -> list[Span]:
    """Non-overlapping spans; where two overlap, the longer (then earlier) one names both."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -(s.end - s.start))):
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            if span.end > last.end:
                merged[-1] = Span(last.start, span.end, last.kind)
            continue
        merged.append(span)
    return merged
