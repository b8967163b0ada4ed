"""What an alert shows a person: the matched fields and a short scrubbed excerpt of each.

Matchers come from the rule's detection items after the engine's pipeline processed them
(placeholders expanded): a Sigma string becomes its regex without the edge wildcards,
case-insensitive unless ``|cased``; a Sigma ``re`` keeps its flags. They run only on the
events of alerts, after detection, so they never slow the detection itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import (
    SigmaCasedString,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
)

from llmsiem.scrub import Scrubber

CONTEXT = 40  # characters shown on each side of a match
MAX_EXCERPT = 240
_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}
_SCRUBBER = Scrubber("redact")


@dataclass(frozen=True)
class Matcher:
    """One detection value of one field, as a Python regex."""

    field: str
    pattern: re.Pattern[str]


def _items(detection: SigmaDetection) -> list[SigmaDetectionItem]:
    items: list[SigmaDetectionItem] = []
    for item in detection.detection_items:
        items.extend(_items(item) if isinstance(item, SigmaDetection) else [item])
    return items


def _pattern(value: Any) -> re.Pattern[str] | None:
    try:
        if isinstance(value, SigmaRegularExpression):
            flags = sum(_FLAGS.get(flag, 0) for flag in value.flags)
            return re.compile(value.to_plain(), flags)
        if isinstance(value, SigmaString):
            regex = value.to_regex().to_plain()
            regex = regex.removeprefix(".*")
            if regex.endswith(".*") and not regex.endswith("\\.*"):
                regex = regex[:-2]
            flags = 0 if isinstance(value, SigmaCasedString) else re.IGNORECASE
            return re.compile(regex, flags) if regex else None
    except (re.error, ValueError):
        return None
    return None


def rule_matchers(rule: SigmaRule) -> tuple[Matcher, ...]:
    """Matchers of every field item of a processed rule (keyword items have no field)."""
    matchers = []
    for detection in rule.detection.detections.values():
        for item in _items(detection):
            if not item.field:
                continue
            for value in item.value:
                pattern = _pattern(value)
                if pattern is not None:
                    matchers.append(Matcher(item.field, pattern))
    return tuple(matchers)


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [text for v in value for text in _texts(v)]
    return [str(value)]


def excerpt(text: str, match: re.Match[str]) -> str:
    """``CONTEXT`` characters around the match, at most ``MAX_EXCERPT``, scrubbed."""
    start, end = max(0, match.start() - CONTEXT), min(len(text), match.end() + CONTEXT)
    end = min(end, start + MAX_EXCERPT)
    piece = text[start:end]
    piece = ("…" if start else "") + piece + ("…" if end < len(text) else "")
    return _SCRUBBER.scrub_text(piece).text.replace("\n", " ")


def evidence(matchers: tuple[Matcher, ...], values: dict[str, Any]) -> list[dict[str, str]]:
    """One ``{field, excerpt}`` per field that a matcher finds in ``values`` (first match)."""
    found: dict[str, str] = {}
    for matcher in matchers:
        if matcher.field in found:
            continue
        for text in _texts(values.get(matcher.field)):
            match = matcher.pattern.search(text)
            if match:
                found[matcher.field] = excerpt(text, match)
                break
    return [{"field": field, "excerpt": text} for field, text in found.items()]
