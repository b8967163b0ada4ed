"""Whole-value Lucene ``RegExp`` matching for the EQL ``regex`` and ES|QL ``RLIKE`` evaluators.

Both run Lucene's ``org.apache.lucene.util.automaton.RegExp``
(https://www.elastic.co/docs/reference/query-languages/query-dsl/regexp-syntax): the whole
value must match, ``.`` matches any character, there are no anchors. Matching here is real
Lucene (the jar and JVM of :mod:`llmsiem.conformance.lucene`), with the settings of an
Elasticsearch ``regexp`` query: all syntax flags, the 10,000-state determinization limit and
``index.max_regex_length`` (1,000 characters); a pattern Lucene refuses is an error of the
rule. Each pattern is compiled once per process.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from llmsiem.conformance.lucene import MAX_REGEX_LENGTH, regex_matcher

__all__ = ["LuceneSyntaxError", "lucene_fullmatch"]


class LuceneSyntaxError(ValueError):
    """A regex Elasticsearch refuses: Lucene rejects it, or it is too long or too complex."""


@lru_cache(maxsize=8192)
def _matcher(pattern: str) -> Callable[[str], bool]:
    if len(pattern) > MAX_REGEX_LENGTH:
        raise LuceneSyntaxError(
            f"regex of {len(pattern)} characters is over index.max_regex_length "
            f"({MAX_REGEX_LENGTH}): {pattern[:80]!r}..."
        )
    import jpype

    try:
        return regex_matcher(pattern)
    except jpype.JException as error:
        raise LuceneSyntaxError(
            f"Lucene rejects {pattern!r}: {error.getClass().getSimpleName()}: {error.getMessage()}"
        ) from error


def lucene_fullmatch(pattern: str, value: str) -> bool:
    """Whether Lucene's RegExp ``pattern`` accepts the whole of ``value``."""
    return _matcher(pattern)(value)
