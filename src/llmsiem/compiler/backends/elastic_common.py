"""Pieces shared by the EQL and ES|QL backends: Lucene regexes, double-quoted strings and
the test for an ``in`` list."""

from __future__ import annotations

from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionOR
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.types import SigmaRegularExpression, SigmaRegularExpressionFlag, SigmaString

from llmsiem.compiler.lucene_regex import UntranslatableRegex, to_lucene_regexes

_INLINE_FLAGS = {SigmaRegularExpressionFlag.MULTILINE: "m", SigmaRegularExpressionFlag.DOTALL: "s"}
# EQL and ES|QL "..." strings take any character raw except a quote, a backslash and a line
# break; both read these escapes. (EQL also has \u{...}, which eql 1.0.1 unescapes wrongly
# when a string holds two of them, so it is not used.)
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"}


def sigma_lucene_regexes(value: SigmaRegularExpression) -> list[str]:
    """Whole-value Lucene RegExps, one of which matches exactly when the Sigma ``re`` value
    finds a match (``|i`` case-insensitive, ``|m``/``|s`` as the engine applies them).

    A top-level or leading alternation becomes one RegExp per alternative
    (:func:`~llmsiem.compiler.lucene_regex.to_lucene_regexes`): searching for ``A|B`` is
    searching for ``A`` or for ``B``, and Lucene determinizes each alone within its
    10,000-state limit where the union (``.*A.*|.*B.*``) can exceed it."""
    flags = "".join(sorted(_INLINE_FLAGS[f] for f in value.flags if f in _INLINE_FLAGS))
    pattern = (f"(?{flags})" if flags else "") + value.regexp.to_plain()
    try:
        return to_lucene_regexes(
            pattern, ignore_case=SigmaRegularExpressionFlag.IGNORECASE in value.flags
        )
    except UntranslatableRegex as error:
        raise SigmaFeatureNotSupportedByBackendError(
            f"regex {pattern!r} has no Lucene RegExp equivalent: {error.reason}"
        ) from error


def string_body(text: str) -> str:
    """``text`` escaped for the inside of an EQL or ES|QL double-quoted string."""
    return "".join(_ESCAPES.get(c, c) for c in text)


def compares_only_strings(cond: ConditionOR | ConditionAND) -> bool:
    """Every argument compares a field with a string: the only ``in`` lists both dialects
    take (numbers, booleans and regexes keep their own comparisons)."""
    return all(
        isinstance(arg, ConditionFieldEqualsValueExpression) and isinstance(arg.value, SigmaString)
        for arg in cond.args
    )
