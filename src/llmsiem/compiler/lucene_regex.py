"""Translate rule regexes and plain Sigma values into Lucene ``RegExp`` syntax.

The rule dialect is the embedded engine's: RE2 syntax as DuckDB's ``regexp_matches`` runs
it, searching anywhere in the value; ``.`` does not match a newline unless ``(?s)``;
case-sensitive unless ``(?i)`` (Sigma's ``|i``); ``\\d`` ``\\w`` ``\\s`` are ASCII classes
and ``$`` (without ``(?m)``) matches only at the very end. Lucene's
``org.apache.lucene.util.automaton.RegExp``, used by Elasticsearch ``regexp`` queries,
``query_string`` ``/.../`` terms, ES|QL ``RLIKE`` and EQL ``regex``, matches the whole value,
has no anchors (``^`` and ``$`` are plain characters), lets ``.`` match any character and
reserves ``@ & < > ~ # "`` besides the usual metacharacters.

The pattern is parsed by Python's own regex parser (``re._parser``) into an AST and emitted
node by node: search semantics become an explicit any-string (``.*``) at each edge of the
pattern, pushed into leading/trailing groups and alternatives so that edge anchors
(``(^|[^A-Za-z])X``) turn into an alternative without the any-string; case-insensitivity
becomes per-letter case classes (``[kKK]``); every literal is escaped. What has no
equivalent (lookaround, backreferences, word boundaries, anchors inside the pattern)
raises :class:`UntranslatableRegex`.

State budget: an unbounded or bounded repeat directly after the leading any-string (or
before the trailing one) can be cut to its minimum without changing the language
(``.*X{24,}`` accepts exactly the strings ``.*X{24}`` accepts), which keeps the
determinized automaton small.
"""

from __future__ import annotations

import importlib
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any, Literal

from sigma.types import SigmaString, SpecialChars

# Python's own regex parser and its node constants (private, untyped modules of ``re``).
sre: Any = importlib.import_module("re._constants")
sre_parse: Any = importlib.import_module("re._parser")

__all__ = [
    "AUTOMATON_UNSUPPORTED",
    "UntranslatableRegex",
    "lucene_contains_regex",
    "to_lucene_regex",
    "to_lucene_regexes",
]

Position = Literal["contains", "startswith", "endswith", "exact"]
Interval = tuple[int, int]

MAX_CODE_POINT = 0x10FFFF
MAX_ALTERNATIVES = 16
ANY_STRING = ".*"
EMPTY = "()"
# Characters with a meaning in Lucene RegExp (all syntax flags on) or in a query_string
# /regex/ term, plus ^ $ - which are literals in Lucene but read like anchors/ranges.
_SPECIAL = frozenset('.?+*|{}[]()"\\#@&<>~/^$-')
# RE2's Perl classes are ASCII-only.
_CATEGORIES: dict[Any, tuple[Interval, ...]] = {
    sre.CATEGORY_DIGIT: ((0x30, 0x39),),
    sre.CATEGORY_SPACE: ((0x09, 0x0A), (0x0C, 0x0D), (0x20, 0x20)),
    sre.CATEGORY_WORD: ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)),
}
_NEGATED_CATEGORIES = {
    sre.CATEGORY_NOT_DIGIT: sre.CATEGORY_DIGIT,
    sre.CATEGORY_NOT_SPACE: sre.CATEGORY_SPACE,
    sre.CATEGORY_NOT_WORD: sre.CATEGORY_WORD,
}
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT)
AUTOMATON_UNSUPPORTED = {  # automaton engines (Lucene RegExp, RE2) have none of these
    sre.ASSERT: "lookahead/lookbehind",
    sre.ASSERT_NOT: "negative lookahead/lookbehind",
    sre.GROUPREF: "backreference",
    sre.GROUPREF_EXISTS: "conditional group",
    sre.ATOMIC_GROUP: "atomic group",
    sre.POSSESSIVE_REPEAT: "possessive repeat",
}


class UntranslatableRegex(ValueError):  # noqa: N818 - public API name
    """The regex has no Lucene RegExp equivalent; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# -- character sets ------------------------------------------------------------------------


def _normalize(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    merged: list[list[int]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return tuple((lo, hi) for lo, hi in merged)


def _complement(intervals: tuple[Interval, ...]) -> tuple[Interval, ...]:
    result: list[Interval] = []
    start = 0
    for lo, hi in intervals:
        if lo > start:
            result.append((start, lo - 1))
        start = hi + 1
    if start <= MAX_CODE_POINT:
        result.append((start, MAX_CODE_POINT))
    return tuple(result)


@lru_cache(maxsize=1)
def _case_orbits() -> dict[int, tuple[int, ...]]:
    """Characters with the same Unicode simple case folding, RE2's ``(?i)`` orbits
    (``k`` ``K`` and the Kelvin sign; not U+0131 dotless i, which has no folding)."""
    return _group_by(_simple_fold)


def _simple_fold(char: str) -> str:
    folded = char.casefold()
    if len(folded) == 1:
        return folded
    lower = char.lower()  # full folding is multi-character (ß, ẞ): the simple one is lower
    return lower if len(lower) == 1 else char


def _group_by(key: Callable[[str], str]) -> dict[int, tuple[int, ...]]:
    """Code points grouped by ``key``, for the code points whose group is not a singleton."""
    groups: dict[str, set[int]] = {}
    for cp in _cased_candidates():
        char = chr(cp)
        k = key(char)
        if k != char:
            groups.setdefault(k, {ord(k)} if len(k) == 1 else set()).add(cp)
    result: dict[int, tuple[int, ...]] = {}
    for members in groups.values():
        if len(members) > 1:
            ordered = tuple(sorted(members))
            for cp in ordered:
                result[cp] = ordered
    return result


@lru_cache(maxsize=1)
def _cased_candidates() -> tuple[int, ...]:
    """Code points that may have case: those of every 256-character block in which lower,
    upper or fold case changes anything (most of Unicode has no case and is skipped)."""
    found: list[int] = []
    for start in range(0, MAX_CODE_POINT + 1, 256):
        if 0xD800 <= start <= 0xDFFF:  # surrogates (block-aligned)
            continue
        text = "".join(map(chr, range(start, start + 256)))
        if text.lower() != text or text.upper() != text or text.casefold() != text:
            found.extend(range(start, start + 256))
    return tuple(found)


@lru_cache(maxsize=1)
def _cased() -> list[int]:
    return sorted(_case_orbits())


def _case_close(intervals: tuple[Interval, ...]) -> tuple[Interval, ...]:
    """The intervals plus every case variant of the characters in them."""
    cased, orbits = _cased(), _case_orbits()
    extra = [
        (other, other)
        for lo, hi in intervals
        for cp in cased[bisect_left(cased, lo) : bisect_right(cased, hi)]
        for other in orbits[cp]
    ]
    return _normalize((*intervals, *extra))


def _char(cp: int, in_class: bool) -> str:
    char = chr(cp)
    if char == "\\" and not in_class:
        # ``[\\]``, not ``\\``: in a query_string ``/.../`` term, ``\\/`` would swallow the
        # closing slash when the value ends in a backslash.
        return "[\\\\]"
    if char in _SPECIAL or (in_class and 0x21 <= cp <= 0x7E and not char.isalnum()):
        return "\\" + char
    return char


def _charset(intervals: tuple[Interval, ...]) -> str:
    """A Lucene character class (or a single escaped character) for the intervals."""
    if not intervals:
        raise UntranslatableRegex("empty character class (matches nothing)")
    if intervals == ((0, MAX_CODE_POINT),):
        return "."
    if len(intervals) == 1 and intervals[0][0] == intervals[0][1]:
        return _char(intervals[0][0], in_class=False)
    negated = _complement(intervals)
    if len(negated) < len(intervals):
        return "[^" + _class_body(negated) + "]"
    return "[" + _class_body(intervals) + "]"


def _class_body(intervals: tuple[Interval, ...]) -> str:
    parts = []
    for lo, hi in intervals:
        if lo == hi:
            parts.append(_char(lo, in_class=True))
        elif hi == lo + 1:
            parts.append(_char(lo, in_class=True) + _char(hi, in_class=True))
        else:
            parts.append(_char(lo, in_class=True) + "-" + _char(hi, in_class=True))
    return "".join(parts)


def _in_set(items: Sequence[tuple[Any, Any]], ignore_case: bool) -> tuple[Interval, ...]:
    negate = False
    intervals: list[Interval] = []
    for op, av in items:
        if op is sre.NEGATE:
            negate = True
        elif op is sre.LITERAL:
            intervals.append((av, av))
        elif op is sre.RANGE:
            intervals.append((av[0], av[1]))
        elif op is sre.CATEGORY:
            if av in _CATEGORIES:
                intervals.extend(_CATEGORIES[av])
            elif av in _NEGATED_CATEGORIES:  # RE2 folds \w before negating it: (?i)\W
                positive = _CATEGORIES[_NEGATED_CATEGORIES[av]]
                intervals.extend(_complement(_case_close(positive) if ignore_case else positive))
            else:
                raise UntranslatableRegex(f"unsupported character category {av}")
        else:
            raise UntranslatableRegex(f"unsupported class item {op}")
    result = _normalize(intervals)
    if ignore_case:
        result = _case_close(result)
    return _complement(result) if negate else result


# -- the AST walk --------------------------------------------------------------------------


def _is_edge_anchor(item: tuple[Any, Any], flags: int, left: bool) -> bool:
    op, av = item
    if op is not sre.AT:
        return False
    if left:
        return av in (sre.AT_BEGINNING, sre.AT_BEGINNING_STRING)
    return av in (sre.AT_END, sre.AT_END_STRING)


class _Emitter:
    """Emits Lucene RegExp text for ``re._parser`` nodes under the active flags."""

    def seq(self, items: Sequence[tuple[Any, Any]], flags: int, lead: bool, trail: bool) -> str:
        """A sequence; ``lead``/``trail``: an any-string is still owed at that edge."""
        items = list(items)
        if not items:
            return ANY_STRING if (lead or trail) else EMPTY
        if lead:
            return self._lead(items, flags, trail)
        if trail:
            return self._trail(items, flags)
        return "".join(self.atom(item, flags) for item in items)

    def _lead(self, items: list[tuple[Any, Any]], flags: int, trail: bool) -> str:
        first, rest = items[0], items[1:]
        op, av = first
        only = not rest
        if _is_edge_anchor(first, flags, left=True):
            if av is sre.AT_BEGINNING and flags & re.MULTILINE:
                return "(" + ANY_STRING + "\n)?" + self.seq(rest, flags, False, trail)
            return self.seq(rest, flags, False, trail)
        if op is sre.SUBPATTERN or op is sre.BRANCH:
            head = self._group(first, flags, True, trail and only)
            return head + ("" if only else self.seq(rest, flags, False, trail))
        if trail and (rewritten := self._first_occurrence(items, flags)) is not None:
            return rewritten
        if op in _REPEATS:
            low, _high, body = av
            if low == 0:  # absorbed by the any-string
                return self.seq(rest, flags, True, trail)
            cut = (op, (low, low, body))
            return ANY_STRING + self.seq([cut, *rest], flags, False, trail)
        return ANY_STRING + self.seq(items, flags, False, trail)

    def _first_occurrence(self, items: list[tuple[Any, Any]], flags: int) -> str | None:
        """A search for a run of one character class ``C`` containing a marker, rewritten
        to look only at the marker's first occurrence in the run, which is exact because the
        first occurrence leaves the most of the run after it. Without this, Lucene tracks
        every overlapping occurrence at once and exceeds its determinization budget
        (``.*github_pat_[0-9A-Za-z_]{40}.*``). Two shapes, both ending the pattern:

        - ``P Q? C{n,}``: ``P`` a literal whose characters are in ``C``, its first
          character nowhere else in ``P``; optional parts ``Q`` made of ``C`` characters
          (implied by ``C{n}``) are dropped;
        - ``C{n,} D C{m,}``: ``D`` a class inside ``C`` (``.*C{n}[C-D]*D C{m}.*``).

        The run starts at the value's start or after a character outside ``C``.
        """
        last = _repeat_set(items[-1], flags)
        if last is None or last[0] < 1:
            return None
        count, run = last
        head = items[:-1]
        while head and _optional_within(head[-1], flags, run):
            head = head[:-1]
        marker: str | None = None
        first = _repeat_set(items[0], flags)
        if len(head) == 2 and first is not None and first[1] == run and first[0] >= 1:
            inner = _single_set(head[1], flags)
            if inner is not None and inner != run and _within(inner, run):
                rest = _intersect(run, _complement(inner))
                marker = f"{_charset(run)}{{{first[0]}}}{_charset(rest)}*{_charset(inner)}"
        elif head and all(op is sre.LITERAL for op, _ in head) and not flags & re.IGNORECASE:
            text = [cp for _, cp in head]
            if all(_within(((cp, cp),), run) for cp in text) and text[0] not in text[1:]:
                marker = _first_literal(text, run)
        if marker is None:
            return None
        boundary = _charset(_complement(run))
        repeat = _charset(run) + _quantifier(count, count)
        return f"(()|{ANY_STRING}{boundary}){marker}{repeat}{ANY_STRING}"

    def _trail(self, items: list[tuple[Any, Any]], flags: int) -> str:
        last, rest = items[-1], items[:-1]
        op, av = last
        only = not rest
        if _is_edge_anchor(last, flags, left=False):
            if av is sre.AT_END and flags & re.MULTILINE:
                return self.seq(rest, flags, False, False) + "(\n" + ANY_STRING + ")?"
            return self.seq(rest, flags, False, False)
        if op is sre.SUBPATTERN or op is sre.BRANCH:
            tail = self._group(last, flags, False, True)
            return ("" if only else self.seq(rest, flags, False, False)) + tail
        if op in _REPEATS:
            low, _high, body = av
            if low == 0:
                return self.seq(rest, flags, False, True)
            cut = (op, (low, low, body))
            return self.seq([*rest, cut], flags, False, False) + ANY_STRING
        return self.seq(items, flags, False, False) + ANY_STRING

    def _group(self, item: tuple[Any, Any], flags: int, lead: bool, trail: bool) -> str:
        op, av = item
        if op is sre.BRANCH:
            alternatives = [self.seq(alt, flags, lead, trail) for alt in av[1]]
            return "(" + "|".join(alternatives) + ")"
        _group, add_flags, del_flags, body = av
        inner_flags = (flags | add_flags) & ~del_flags
        if len(body) == 1 and body[0][0] is sre.BRANCH:
            return self._group(body[0], inner_flags, lead, trail)
        return "(" + self.seq(body, inner_flags, lead, trail) + ")"

    def atom(self, item: tuple[Any, Any], flags: int) -> str:
        op, av = item
        ignore_case = bool(flags & re.IGNORECASE)
        if op in AUTOMATON_UNSUPPORTED:
            raise UntranslatableRegex(
                f"{AUTOMATON_UNSUPPORTED[op]} is not supported by Lucene RegExp"
            )
        if op is sre.LITERAL:
            return _charset(_in_set([(sre.LITERAL, av)], ignore_case))
        if op is sre.NOT_LITERAL:
            return _charset(_in_set([(sre.NEGATE, None), (sre.LITERAL, av)], ignore_case))
        if op is sre.IN:
            return _charset(_in_set(av, ignore_case))
        if op is sre.ANY:
            return "." if flags & re.DOTALL else "[^\n]"
        if op is sre.SUBPATTERN or op is sre.BRANCH:
            return self._group(item, flags, False, False)
        if op in _REPEATS:
            low, high, body = av
            text = self.seq(body, flags, False, False)
            if not _is_atomic(body):
                text = "(" + text + ")"
            return text + _quantifier(low, high)
        if op is sre.AT:
            if av in (sre.AT_BOUNDARY, sre.AT_NON_BOUNDARY):
                raise UntranslatableRegex("word boundary \\b/\\B has no Lucene RegExp equivalent")
            raise UntranslatableRegex("anchor ^/$ is only translatable at the pattern's edges")
        raise UntranslatableRegex(f"unsupported regex construct {op}")


def _single_set(item: tuple[Any, Any], flags: int) -> tuple[Interval, ...] | None:
    """The characters a one-character node matches, or None for any other node."""
    op, av = item
    ignore_case = bool(flags & re.IGNORECASE)
    if op is sre.LITERAL:
        return _in_set([(sre.LITERAL, av)], ignore_case)
    if op is sre.NOT_LITERAL:
        return _in_set([(sre.NEGATE, None), (sre.LITERAL, av)], ignore_case)
    if op is sre.IN:
        return _in_set(av, ignore_case)
    if op is sre.ANY:
        everything = ((0, MAX_CODE_POINT),)
        return everything if flags & re.DOTALL else _intersect(everything, _complement(((10, 10),)))
    return None


def _repeat_set(item: tuple[Any, Any], flags: int) -> tuple[int, tuple[Interval, ...]] | None:
    """(minimum, characters) of a repeat of one class, ``C{n,m}``; None otherwise."""
    op, av = item
    if op not in _REPEATS or len(av[2]) != 1:
        return None
    chars = _single_set(av[2][0], flags)
    return None if chars is None else (av[0], chars)


def _optional_within(item: tuple[Any, Any], flags: int, run: tuple[Interval, ...]) -> bool:
    """An optional part (``Q?``) whose every character is in ``run``."""
    op, av = item
    return op in _REPEATS and av[0] == 0 and _chars_within(av[2], flags, run)


def _chars_within(items: Sequence[tuple[Any, Any]], flags: int, run: tuple[Interval, ...]) -> bool:
    for item in items:
        op, av = item
        chars = _single_set(item, flags)
        if chars is not None:
            if not _within(chars, run):
                return False
        elif op is sre.BRANCH:
            if not all(_chars_within(alt, flags, run) for alt in av[1]):
                return False
        elif op is sre.SUBPATTERN:
            if not _chars_within(av[3], (flags | av[1]) & ~av[2], run):
                return False
        elif op in _REPEATS:
            if not _chars_within(av[2], flags, run):
                return False
        else:
            return False
    return True


def _within(inner: tuple[Interval, ...], outer: tuple[Interval, ...]) -> bool:
    return _normalize((*inner, *outer)) == outer


def _intersect(a: tuple[Interval, ...], b: tuple[Interval, ...]) -> tuple[Interval, ...]:
    return _complement(_normalize((*_complement(a), *_complement(b))))


def _first_literal(text: list[int], run: tuple[Interval, ...]) -> str:
    """``C``-strings ending at the first occurrence of the literal ``text`` (``p`` its first
    character, nowhere else in it): from the run start, skip ``C-p``; after a ``p``, a
    mismatch either is ``p`` (restart) or any other character (back to the start)."""
    start = text[0]

    def other(*excluded: int) -> tuple[Interval, ...]:
        return _intersect(run, _complement(_normalize((cp, cp) for cp in excluded)))

    def restart(i: int) -> str:  # text[1:i] then p, for every i: nested optionals
        return "" if i >= len(text) - 1 else f"({_char(text[i], False)}{restart(i + 1)})?"

    def mismatch(i: int) -> str:  # text[1:i] then a character that is neither text[i] nor p
        options = [_charset(chars)] if (chars := other(text[i], start)) else []
        if i + 1 < len(text):
            options.append(_char(text[i], False) + mismatch(i + 1))
        return "(" + "|".join(options) + ")"

    skip = (f"{_charset(chars)}*" if (chars := other(start)) else "") + _char(start, False)
    if len(text) == 1:
        return skip
    again = f"({restart(1)}{_char(start, False)})*"
    rest = "".join(_char(cp, False) for cp in text[1:])
    return f"({skip}{again}{mismatch(1)})*{skip}{again}{rest}"


def _is_atomic(body: Sequence[tuple[Any, Any]]) -> bool:
    return len(body) == 1 and body[0][0] in (
        sre.LITERAL,
        sre.NOT_LITERAL,
        sre.IN,
        sre.ANY,
        sre.SUBPATTERN,
        sre.BRANCH,
    )


def _quantifier(low: int, high: int) -> str:
    unbounded = high is sre.MAXREPEAT or high == sre.MAXREPEAT
    if unbounded:
        return {0: "*", 1: "+"}.get(low, f"{{{low},}}")
    if (low, high) == (0, 1):
        return "?"
    if low == high:
        return "" if low == 1 else f"{{{low}}}"
    return f"{{{low},{high}}}"


def _parse(pattern: str, ignore_case: bool) -> tuple[list[tuple[Any, Any]], int]:
    try:
        parsed = sre_parse.parse(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as error:
        raise UntranslatableRegex(f"invalid regex: {error}") from error
    flags = parsed.state.flags
    if flags & re.VERBOSE:
        raise UntranslatableRegex("verbose mode (?x) is not supported")
    return list(parsed.data), flags


def to_lucene_regex(pattern: str, *, ignore_case: bool = False) -> str:
    """A whole-value Lucene RegExp (no slashes) accepting exactly the strings in which the
    rule regex ``pattern`` finds a match (``ignore_case``: Sigma's ``|i``)."""
    items, flags = _parse(pattern, ignore_case)
    return _Emitter().seq(items, flags, True, True)


def to_lucene_regexes(
    pattern: str, *, ignore_case: bool = False, limit: int = MAX_ALTERNATIVES
) -> list[str]:
    """Like :func:`to_lucene_regex`, split into whole-value regexes whose union is the same
    language, one per top-level or leading alternative. Searching for ``A|B`` is searching
    for ``A`` or for ``B``; OR-ing the parts keeps each determinized automaton small where
    one union of independent counters (``.*X{36}.*|.*Y{40}.*``) would exceed Lucene's
    10,000-state budget."""
    items, flags = _parse(pattern, ignore_case)
    emitter = _Emitter()
    return [emitter.seq(part, flags, True, True) for part in _alternatives(items, limit)]


def _alternatives(items: list[tuple[Any, Any]], limit: int) -> list[list[tuple[Any, Any]]]:
    """Alternatives whose union is the pattern: its top-level ones, and a leading alternation
    distributed over the rest (``(^|[.!?] +)X`` -> ``^X``, ``[.!?] +X``); at most ``limit``,
    otherwise the pattern as it is."""
    if not items:
        return [items]
    (op, av), rest = items[0], items[1:]
    if op is sre.SUBPATTERN and not av[1] and not av[2] and (len(av[3]) == 1 or not rest):
        return _alternatives([*av[3], *rest], limit)  # a group without scoped flags
    if op is not sre.BRANCH:
        return [items]
    parts = [part for alternative in av[1] for part in _alternatives([*alternative, *rest], limit)]
    return parts if len(parts) <= limit else [items]


def lucene_contains_regex(
    value: str | SigmaString, *, ignore_case: bool, position: Position
) -> str:
    """A whole-value Lucene RegExp for a plain Sigma value.

    ``value`` follows Sigma's string rules: ``*`` is any sequence (newlines included),
    ``?`` any one character, ``\\*`` ``\\?`` ``\\\\`` are escaped literals. ``position``
    says where the value may sit: anywhere (``contains``), at the start, at the end, or the
    whole value (``exact``, e.g. when the modifiers are already wildcards in ``value``).
    ``ignore_case`` compares as lower-cased text, the engine's ``ILIKE`` (``K`` ``k`` and
    the Kelvin sign all lower-case to ``k``).
    """
    sigma = value if isinstance(value, SigmaString) else SigmaString(value)
    parts: list[str] = []
    if position in ("contains", "endswith"):
        parts.append(ANY_STRING)
    for part in sigma.s:
        if part is SpecialChars.WILDCARD_MULTI:
            parts.append(ANY_STRING)
        elif part is SpecialChars.WILDCARD_SINGLE:
            parts.append(".")
        elif isinstance(part, str):
            parts.extend(_plain_char(char, ignore_case) for char in part)
        else:
            raise UntranslatableRegex(f"unsupported value part {part!r}")
    if position in ("contains", "startswith"):
        parts.append(ANY_STRING)
    merged: list[str] = []
    for part in parts:
        if not (part == ANY_STRING and merged and merged[-1] == ANY_STRING):
            merged.append(part)
    return "".join(merged) or EMPTY


@lru_cache(maxsize=1)
def _lower_classes() -> dict[int, tuple[int, ...]]:
    """Characters with the same (single-character) lower case, the engine's ``ILIKE``."""
    return _group_by(_simple_lower)


def _simple_lower(char: str) -> str:
    """Unicode's simple lower-case mapping, as DuckDB applies it: ``str.lower`` is the full
    mapping, which differs only for U+0130 (capital I with dot, simple lower case ``i``)."""
    if char == "\u0130":
        return "i"
    lower = char.lower()
    return lower if len(lower) == 1 else char


@lru_cache(maxsize=4096)
def _plain_char(char: str, ignore_case: bool) -> str:
    members = _lower_classes().get(ord(char), (ord(char),)) if ignore_case else (ord(char),)
    return _charset(_normalize((cp, cp) for cp in members))
