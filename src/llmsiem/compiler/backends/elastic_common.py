"""Pieces shared by the EQL and ES|QL backends: Lucene regexes and double-quoted strings."""

from __future__ import annotations

import importlib
import re
from typing import Any

from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.types import SigmaRegularExpression, SigmaRegularExpressionFlag

from llmsiem.compiler.lucene_regex import UntranslatableRegex, to_lucene_regex

# Python's own regex parser (private modules without type stubs), as lucene_regex uses it.
sre: Any = importlib.import_module("re._constants")
sre_parse: Any = importlib.import_module("re._parser")

_INLINE_FLAGS = {SigmaRegularExpressionFlag.MULTILINE: "m", SigmaRegularExpressionFlag.DOTALL: "s"}
# EQL and ES|QL "..." strings take any character raw except a quote, a backslash and a line
# break; both read these escapes. (EQL also has \u{...}, which eql 1.0.1 unescapes wrongly
# when a string holds two of them, so it is not used.)
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"}


_GLOBAL_FLAGS = re.compile(r"^\(\?[aiLmsux]+\)")


def _top_level_alternatives(pattern: str) -> list[str]:
    """The alternatives of a pattern that is an alternation at its top level (else itself)."""
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return [pattern]
    if len(parsed.data) != 1 or parsed.data[0][0] is not sre.BRANCH:
        return [pattern]
    parts, current, depth, in_class, i = [], "", 0, False, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            current += pattern[i : i + 2]
            i += 2
            continue
        if in_class:
            in_class = char != "]" or current.endswith(("[", "[^"))
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(current)
            current, i = "", i + 1
            continue
        current += char
        i += 1
    parts.append(current)
    return parts if len(parts) == len(parsed.data[0][1][1]) else [pattern]


def sigma_lucene_regexes(value: SigmaRegularExpression) -> list[str]:
    """Whole-value Lucene RegExps, one of which matches exactly when the Sigma ``re`` value
    finds a match (``|i`` case-insensitive, ``|m``/``|s`` as the engine applies them).

    A top-level alternation becomes one RegExp per alternative: searching for ``A|B`` is
    searching for ``A`` or for ``B``, and Lucene determinizes each alone within its
    10,000-state limit where the union (``.*A.*|.*B.*``) can exceed it."""
    flags = "".join(sorted(_INLINE_FLAGS[f] for f in value.flags if f in _INLINE_FLAGS))
    pattern = value.regexp.to_plain()
    inline = _GLOBAL_FLAGS.match(pattern)
    prefix = (f"(?{flags})" if flags else "") + (inline.group() if inline else "")
    body = pattern[inline.end() :] if inline else pattern
    try:
        return [
            to_lucene_regex(
                prefix + part, ignore_case=SigmaRegularExpressionFlag.IGNORECASE in value.flags
            )
            for part in _top_level_alternatives(body)
        ]
    except UntranslatableRegex as error:
        raise SigmaFeatureNotSupportedByBackendError(
            f"regex {pattern!r} has no Lucene RegExp equivalent: {error.reason}"
        ) from error


def string_body(text: str) -> str:
    """``text`` escaped for the inside of an EQL or ES|QL double-quoted string."""
    return "".join(_ESCAPES.get(c, c) for c in text)
