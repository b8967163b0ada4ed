"""Regex portability: every rule regex must run on every target the pack is compiled for.

Two dialects are checked:

- **RE2**, the engine's (DuckDB ``regexp_matches``) and Loki's: rule regexes are written in
  Python/RE2 syntax, and what Python accepts but RE2 does not (lookaround, backreferences,
  conditionals, atomic groups, possessive repeats, ``\\Z``) is refused.
- **Lucene RegExp**, used by ``elastic-lucene``, ``opensearch-lucene``, the Kibana query rules,
  ES|QL ``RLIKE`` and EQL ``regex``: the regex must translate
  (:mod:`llmsiem.compiler.lucene_regex`; no word boundaries or inner anchors), each translated
  regex must stay within Elasticsearch's ``index.max_regex_length`` (1,000 characters) and
  within Lucene's determinization budget (10,000). The budget is *measured* with real Lucene
  (``RegExp.toAutomaton`` through JPype, as ``RegexpQuery`` builds it) when the ``dev`` extra
  and the Lucene jar (``make lucene``) are installed; without them it is not checked here (the
  conformance test enforces it in CI).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaDetection, SigmaDetectionItem
from sigma.types import SigmaRegularExpression, SigmaRegularExpressionFlag

from llmsiem.compiler.lucene_jvm import LuceneUnavailableError, regex_matcher, start_jvm
from llmsiem.compiler.lucene_regex import (
    AUTOMATON_UNSUPPORTED,
    UntranslatableRegex,
    sre,
    sre_parse,
    to_lucene_regexes,
)

LUCENE_TARGETS = "Lucene RegExp (elastic-lucene, opensearch-lucene, kibana-ndjson, ES|QL, EQL)"
RE2_TARGETS = "RE2 (engine, loki-logql)"
MAX_REGEX_LENGTH = 1_000
_INLINE_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}


def _items(detection: SigmaDetection) -> Iterator[SigmaDetectionItem]:
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            yield from _items(item)
        else:
            yield item


def rule_regexes(rule: Any) -> Iterator[SigmaRegularExpression]:
    """Every ``re`` value of a detection rule."""
    if isinstance(rule, SigmaCorrelationRule):
        return
    for detection in rule.detection.detections.values():
        for item in _items(detection):
            for value in item.value:
                if isinstance(value, SigmaRegularExpression):
                    yield value


def _re2_problems(nodes: Any) -> Iterator[str]:
    for op, av in nodes:
        if op in AUTOMATON_UNSUPPORTED:
            yield AUTOMATON_UNSUPPORTED[op]
        elif op is sre.AT and av is sre.AT_END_STRING:
            yield "\\Z (RE2 spells it \\z)"
        if op is sre.BRANCH:
            for branch in av[1]:
                yield from _re2_problems(branch)
        elif op is sre.SUBPATTERN:
            yield from _re2_problems(av[3])
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            yield from _re2_problems(av[2])
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            yield from _re2_problems(av[1])


@cache
def _lucene_budget() -> Callable[[str], str | None] | None:
    """A real-Lucene complexity check, or None when Java/the jar/JPype are unavailable."""
    try:
        version = start_jvm()  # raises LuceneUnavailableError without JPype, Java or the jar
    except LuceneUnavailableError:
        return None
    import jpype

    def check(regex: str) -> str | None:
        try:
            regex_matcher(regex)
        except jpype.JException as error:
            name = str(error.getClass().getSimpleName())
            if name == "TooComplexToDeterminizeException":
                return f"over the 10,000 determinize-work budget (measured on Lucene {version})"
            return f"rejected by Lucene {version}: {error.getMessage()}"
        return None

    return check


def inline_flags(value: SigmaRegularExpression) -> str:
    """The regex's Sigma modifiers (``|i``, ``|m``, ``|s``) as inline flag letters."""
    return "".join(sorted(_INLINE_FLAGS[f] for f in value.flags if f in _INLINE_FLAGS))


def regex_problems(value: SigmaRegularExpression) -> Iterator[str]:
    """``target: reason`` for each target that cannot run this rule regex."""
    flags = inline_flags(value)
    pattern = value.regexp.to_plain()
    try:
        parsed = sre_parse.parse(pattern)
    except Exception as error:  # re.error and the parser's internal errors alike
        yield f"{RE2_TARGETS}: invalid regex {pattern!r}: {error}"
        return
    for problem in dict.fromkeys(_re2_problems(parsed.data)):
        yield f"{RE2_TARGETS}: {problem} in {pattern!r}"
    ignore_case = "i" in flags
    inline = flags.replace("i", "")
    try:
        regexes = to_lucene_regexes(
            (f"(?{inline})" if inline else "") + pattern, ignore_case=ignore_case
        )
    except UntranslatableRegex as error:
        yield f"{LUCENE_TARGETS}: {error.reason} in {pattern!r}"
        return
    budget = _lucene_budget()
    for regex in regexes:
        length = len(regex.encode("utf-16-le")) // 2
        if length > MAX_REGEX_LENGTH:
            yield (
                f"{LUCENE_TARGETS}: translated regex is {length} characters, over "
                f"index.max_regex_length ({MAX_REGEX_LENGTH}): {pattern!r}"
            )
        elif budget is not None and (too_complex := budget(regex)) is not None:
            yield f"{LUCENE_TARGETS}: {too_complex}: {pattern!r} -> {regex!r}"


def check_rule(rule: Any) -> Iterator[str]:
    """Portability problems of every regex of a rule."""
    for value in rule_regexes(rule):
        yield from regex_problems(value)
