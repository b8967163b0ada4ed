"""A pure-Python reading of Lucene ``RegExp`` syntax, for evaluators of EQL ``regex`` and
ES|QL ``RLIKE`` (both run Lucene's ``org.apache.lucene.util.automaton.RegExp``).

Lucene regular expressions match the whole value, have no anchors, let ``.`` match any
character (newlines included) and reserve ``@ & < > ~ # "`` besides the usual
metacharacters; see https://www.elastic.co/docs/reference/query-languages/query-dsl/regexp-syntax.
This module parses that syntax (the grammar in Lucene's ``RegExp`` javadoc) and builds an
equivalent Python pattern that is run with ``fullmatch`` and ``DOTALL``, so the accepted
language is the same. Supported: literals and ``\\`` escapes, ``.``, ``"..."`` strings,
``#`` (empty language), ``@`` (any string), groups, ``|``, character classes with ranges and
``^`` negation, ``\\d \\s \\w`` and their negations, and the repeats ``? * + {n} {n,} {n,m}``.
Intersection ``&``, complement ``~`` and intervals ``<n-m>`` have no Python equivalent and
raise :class:`LuceneSyntaxError` (none of the compiled queries uses them).
``ascii_case_insensitive`` mirrors Lucene's ``ASCII_CASE_INSENSITIVE`` flag, which
Elasticsearch sets for ``case_insensitive`` regexp queries: it applies to single ASCII
letters, not to class ranges.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["LuceneSyntaxError", "lucene_fullmatch", "lucene_to_python"]

_CLASS_ESCAPES = {
    "d": "0-9",
    "s": " \\t\\n\\r\\f\\v",
    "w": "a-zA-Z0-9_",
}


class LuceneSyntaxError(ValueError):
    """A pattern Lucene would reject, or one using an operator this module does not model."""


class _Parser:
    def __init__(self, pattern: str, ascii_case_insensitive: bool) -> None:
        self.text = pattern
        self.pos = 0
        self.fold = ascii_case_insensitive

    def error(self, message: str) -> LuceneSyntaxError:
        return LuceneSyntaxError(f"{message} at position {self.pos} of {self.text!r}")

    def peek(self, chars: str) -> bool:
        return self.pos < len(self.text) and self.text[self.pos] in chars

    def next(self) -> str:
        if self.pos >= len(self.text):
            raise self.error("unexpected end of pattern")
        char = self.text[self.pos]
        self.pos += 1
        return char

    def parse(self) -> str:
        result = self.union()
        if self.pos < len(self.text):
            raise self.error(f"unexpected {self.text[self.pos]!r}")
        return result

    def union(self) -> str:
        branches = [self.concat()]
        while self.peek("|"):
            self.pos += 1
            branches.append(self.concat())
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    def concat(self) -> str:
        parts = []
        while self.pos < len(self.text) and not self.peek("|)"):
            if self.peek("&"):
                raise self.error("intersection '&' is not modelled")
            parts.append(self.repeat())
        return "".join(parts)

    def repeat(self) -> str:
        atom = self.complement()
        while self.peek("?*+{"):
            op = self.next()
            if op == "{":
                match = re.match(r"(\d+)(,(\d*))?\}", self.text[self.pos :])
                if match is None:
                    raise self.error("invalid repeat")
                self.pos += match.end()
                low, comma, high = match.group(1), match.group(2), match.group(3)
                if comma and high and int(high) < int(low):
                    raise self.error("repeat maximum below minimum")
                op = "{" + low + ("," + high if comma else "") + "}"
            atom = f"(?:{atom}){op}"
        return atom

    def complement(self) -> str:
        if self.peek("~"):
            raise self.error("complement '~' is not modelled")
        if self.peek("["):
            return self.char_class()
        return self.simple()

    def simple(self) -> str:
        char = self.next()
        if char == ".":
            return "."
        if char == "#":
            return "(?!)"
        if char == "@":
            return ".*"
        if char == "<":
            raise self.error("interval/automaton '<...>' is not modelled")
        if char == '"':
            end = self.text.find('"', self.pos)
            if end < 0:
                raise self.error("unterminated string")
            literal = self.text[self.pos : end]
            self.pos = end + 1
            return "".join(self.literal(c) for c in literal)
        if char == "(":
            if self.peek(")"):
                self.pos += 1
                return ""
            inner = self.union()
            if not self.peek(")"):
                raise self.error("missing ')'")
            self.pos += 1
            return f"(?:{inner})"
        if char in ")|?*+{":
            raise self.error(f"unexpected {char!r}")
        if char == "\\":
            escaped = self.next()
            if escaped in _CLASS_ESCAPES:
                return f"[{_CLASS_ESCAPES[escaped]}]"
            if escaped.lower() in _CLASS_ESCAPES:
                return f"[^{_CLASS_ESCAPES[escaped.lower()]}]"
            return self.literal(escaped)
        return self.literal(char)

    def literal(self, char: str) -> str:
        if self.fold and char.isascii() and char.isalpha():
            return f"[{char.lower()}{char.upper()}]"
        return re.escape(char)

    def class_char(self) -> str:
        char = self.next()
        if char == "\\":
            return self.next()
        return char

    def char_class(self) -> str:
        self.pos += 1  # [
        negate = self.peek("^")
        if negate:
            self.pos += 1
        items: list[str] = []
        while not self.peek("]"):
            if self.pos >= len(self.text):
                raise self.error("missing ']'")
            if self.text.startswith("\\", self.pos) and self.pos + 1 < len(self.text):
                letter = self.text[self.pos + 1]
                if letter in _CLASS_ESCAPES:
                    self.pos += 2
                    items.append(_CLASS_ESCAPES[letter])
                    continue
            low = self.class_char()
            if self.peek("-"):
                self.pos += 1
                if self.peek("]"):
                    raise self.error("character class ends with '-'")
                high = self.class_char()
                if ord(high) < ord(low):
                    raise self.error("invalid class range")
                items.append(_class_literal(low) + "-" + _class_literal(high))
            else:
                items.append(
                    f"{low.lower()}{low.upper()}"
                    if self.fold and low.isascii() and low.isalpha()
                    else _class_literal(low)
                )
        self.pos += 1  # ]
        if not items:
            raise self.error("empty character class")
        return "[" + ("^" if negate else "") + "".join(items) + "]"


def _class_literal(char: str) -> str:
    return "\\" + char if char in "\\]^-[" else char


@lru_cache(maxsize=4096)
def lucene_to_python(pattern: str, ascii_case_insensitive: bool = False) -> re.Pattern[str]:
    """The Python pattern (to be used with ``fullmatch``) for a Lucene RegExp."""
    return re.compile(_Parser(pattern, ascii_case_insensitive).parse(), re.DOTALL)


def lucene_fullmatch(pattern: str, value: str, *, ascii_case_insensitive: bool = False) -> bool:
    """Whether Lucene's RegExp ``pattern`` accepts the whole of ``value``."""
    return lucene_to_python(pattern, ascii_case_insensitive).fullmatch(value) is not None
