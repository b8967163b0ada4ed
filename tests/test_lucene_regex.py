"""The rule-regex -> Lucene RegExp translation, checked on real Lucene against Python ``re``.

The oracle is Python's ``re.search`` on the rule pattern (RE2-compatible constructs only; the
oracle spells ``\\d \\w \\s`` as RE2's ASCII classes and ``$`` as ``\\Z``, RE2's meaning); the
system under test is the translated regex run by Lucene 9's own ``RegExp`` automaton.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from llmsiem.compiler.lucene_jvm import regex_matcher, start_jvm
from llmsiem.compiler.lucene_regex import (
    UntranslatableRegex,
    lucene_contains_regex,
    to_lucene_regex,
    to_lucene_regexes,
)

ALPHABET = "abAB-.\n é_K1/@\u212a"


@dataclass(frozen=True)
class Pattern:
    """A generated regex in two spellings: the rule's and the Python oracle's."""

    rule: str
    oracle: str


def _both(text: str, oracle: str | None = None) -> Pattern:
    return Pattern(text, text if oracle is None else oracle)


ATOMS = st.one_of(
    st.sampled_from(ALPHABET).map(lambda c: _both(re.escape(c))),
    st.sampled_from(["[ab]", "[^a]", "[a-c]", "[.-]", "[A-Za-z_-]", "[^ -~]", "."]).map(_both),
    st.sampled_from(
        [
            ("\\d", "[0-9]"),
            ("\\w", "[0-9A-Za-z_]"),
            ("\\s", "[\\t\\n\\f\\r ]"),
            ("[^\\s]", "[^\\t\\n\\f\\r ]"),
            ("\\W", "[^0-9A-Za-z_]"),
        ]
    ).map(lambda pair: _both(*pair)),
)


def _extend(inner: st.SearchStrategy[Pattern]) -> st.SearchStrategy[Pattern]:
    quantifiers = st.sampled_from(["*", "+", "?", "{2}", "{1,3}", "{2,}", "*?", "{0,2}"])
    return st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(
            lambda ps: Pattern("".join(p.rule for p in ps), "".join(p.oracle for p in ps))
        ),
        st.lists(inner, min_size=2, max_size=3).map(
            lambda ps: Pattern(
                "(" + "|".join(p.rule for p in ps) + ")",
                "(" + "|".join(p.oracle for p in ps) + ")",
            )
        ),
        st.tuples(inner, quantifiers).map(
            lambda pq: Pattern(f"(?:{pq[0].rule}){pq[1]}", f"(?:{pq[0].oracle}){pq[1]}")
        ),
    )


BODIES = st.recursive(ATOMS, _extend, max_leaves=6)
LEADS = st.sampled_from([("", ""), ("^", "^"), ("(^|[^A-Za-z])", "(^|[^A-Za-z])"), ("(?s)", "")])
TRAILS = st.sampled_from([("", ""), ("$", "\\Z"), ("([^A-Za-z]|$)", "([^A-Za-z]|\\Z)")])


@st.composite
def patterns(draw: st.DrawFn) -> tuple[Pattern, bool]:
    lead, body, trail = draw(LEADS), draw(BODIES), draw(TRAILS)
    dotall = "(?s)" if lead[0] == "(?s)" else ""
    pattern = Pattern(lead[0] + body.rule + trail[0], dotall + lead[1] + body.oracle + trail[1])
    return pattern, draw(st.booleans())


@pytest.fixture(scope="module", autouse=True)
def lucene() -> str:
    return start_jvm()


def _check(pattern: Pattern, ignore_case: bool, texts: list[str]) -> None:
    flags = re.IGNORECASE if ignore_case else 0
    oracle = re.compile(pattern.oracle, flags)
    lucene: Callable[[str], bool] = regex_matcher(
        to_lucene_regex(pattern.rule, ignore_case=ignore_case)
    )
    for text in texts:
        assert lucene(text) == bool(oracle.search(text)), (pattern, ignore_case, text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patterns(), st.lists(st.text(ALPHABET, max_size=8), min_size=5, max_size=20), st.data())
def test_translation_agrees_with_python_re(
    case: tuple[Pattern, bool], texts: list[str], data: st.DataObject
) -> None:
    pattern, ignore_case = case
    matching = data.draw(
        st.lists(st.from_regex(re.compile(pattern.oracle), alphabet=ALPHABET), max_size=5)
    )
    _check(pattern, ignore_case, texts + matching)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("(^|[^A-Za-z])(DAN)([^A-Za-z]|$)", "(()|.*[^A-Za-z])(DAN)([^A-Za-z].*|())"),
        ("[A-Za-z0-9+/]{24,}={0,2}", ".*[\\+\\/-9A-Za-z]{24}.*"),
        ("[A-Za-z_-]", ".*[\\-A-Z\\_a-z].*"),
        ("a.b", ".*a[^\n]b.*"),
        ("^a@b$", "a\\@b"),
    ],
)
def test_translation_is_readable(pattern: str, expected: str) -> None:
    assert to_lucene_regex(pattern) == expected


def test_ignore_case_uses_unicode_case_orbits() -> None:
    assert to_lucene_regex("k", ignore_case=True) == ".*[Kk\u212a].*"
    assert regex_matcher(to_lucene_regex("STRASSE", ignore_case=True))("strasse")


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("a(?=b)", "lookahead"),
        ("(?<!a)b", "lookahead/lookbehind"),
        ("(a)\\1", "backreference"),
        ("a\\bb", "word boundary"),
        ("a^b", "anchor"),
        ("a++", "possessive"),
        ("(", "invalid regex"),
    ],
)
def test_untranslatable_regexes_are_rejected(pattern: str, reason: str) -> None:
    with pytest.raises(UntranslatableRegex, match=re.escape(reason)):
        to_lucene_regex(pattern)


@pytest.mark.parametrize(
    ("value", "position", "matches", "misses"),
    [
        ("Ignore previous", "contains", ["x IGNORE PREVIOUS y", "ignore previous"], ["ignore"]),
        ("rm -rf", "startswith", ["RM -RF /", "rm -rf"], [" rm -rf"]),
        ("a*b?c", "exact", ["a\nxxbZc", "abXC"], ["ab\nc!", "abc"]),
        (".env", "endswith", ["cat /x/.ENV"], ["cat .env "]),
        ("kelvin", "exact", ["\u212aELVIN"], ["kelvi"]),
    ],
)
def test_plain_values_match_case_insensitively(
    value: str, position: str, matches: list[str], misses: list[str]
) -> None:
    run = regex_matcher(lucene_contains_regex(value, ignore_case=True, position=position))  # type: ignore[arg-type]
    assert all(run(text) for text in matches)
    assert not any(run(text) for text in misses)


def test_plain_values_keep_escaped_wildcards_literal() -> None:
    run = regex_matcher(lucene_contains_regex("a\\*b", ignore_case=False, position="exact"))
    assert run("a*b") and not run("axb")


RUN_ALPHABET = "abcsk-_xy. "


@pytest.mark.parametrize(
    "pattern",
    [
        "sk-[a-z_-]{3,}",
        "sk-(xy-|a-)?[a-z_-]{3,}",
        "ab_[a-c_]{2}",
        "a[a-c]{3,}",
        "[a-c]{2,}[bc][a-c]{2,}",
        "aba[a-c]{2,}",  # first character repeats: not rewritten, still exact
        "sk-[a-z_-]{3,}x",  # not at the end: not rewritten
    ],
)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_first_occurrence_rewrite_is_exact(pattern: str, data: st.DataObject) -> None:
    oracle = re.compile(pattern)
    texts = data.draw(st.lists(st.text(RUN_ALPHABET, max_size=14), min_size=10, max_size=30))
    texts += data.draw(st.lists(st.from_regex(oracle, alphabet=RUN_ALPHABET), max_size=10))
    matchers = [regex_matcher(r) for r in to_lucene_regexes(pattern)]
    for text in texts:
        assert any(m(text) for m in matchers) == bool(oracle.search(text)), (pattern, text)


@pytest.mark.parametrize(
    "pattern",
    [
        "github_pat_[A-Za-z0-9_]{40,}",
        "sk-(proj-|ant-)?[A-Za-z0-9_-]{32,}",
        "AIza[0-9A-Za-z_-]{35}",
        "[A-Za-z0-9+]{20,}[G-Zg-z+][A-Za-z0-9+]{19,}",
        "(AKIA|ASIA)[A-Z0-9]{16}|gh[pousr]_[A-Za-z0-9]{36}|sk-[A-Za-z0-9_-]{32,}",
    ],
)
def test_overlapping_runs_fit_the_lucene_budget(pattern: str) -> None:
    for regex in to_lucene_regexes(pattern):
        regex_matcher(regex)  # raises TooComplexToDeterminizeException when over budget
