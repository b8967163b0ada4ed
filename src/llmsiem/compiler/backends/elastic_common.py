"""Pieces shared by the EQL and ES|QL backends: Lucene regexes and double-quoted strings."""

from __future__ import annotations

from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.types import SigmaRegularExpression, SigmaRegularExpressionFlag

from llmsiem.compiler.lucene_regex import UntranslatableRegex, to_lucene_regex

_INLINE_FLAGS = {SigmaRegularExpressionFlag.MULTILINE: "m", SigmaRegularExpressionFlag.DOTALL: "s"}
# EQL and ES|QL "..." strings take any character raw except a quote, a backslash and a line
# break; both read these escapes. (EQL also has \u{...}, which eql 1.0.1 unescapes wrongly
# when a string holds two of them, so it is not used.)
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"}


def sigma_lucene_regex(value: SigmaRegularExpression) -> str:
    """The whole-value Lucene RegExp equal to a Sigma ``re`` value's search, flags applied
    (``|i`` case-insensitive, ``|m``/``|s`` as inline flags, as the engine applies them)."""
    flags = "".join(sorted(_INLINE_FLAGS[f] for f in value.flags if f in _INLINE_FLAGS))
    pattern = (f"(?{flags})" if flags else "") + value.regexp.to_plain()
    try:
        return to_lucene_regex(
            pattern, ignore_case=SigmaRegularExpressionFlag.IGNORECASE in value.flags
        )
    except UntranslatableRegex as error:
        raise SigmaFeatureNotSupportedByBackendError(
            f"regex {pattern!r} has no Lucene RegExp equivalent: {error.reason}"
        ) from error


def string_body(text: str) -> str:
    """``text`` escaped for the inside of an EQL or ES|QL double-quoted string."""
    return "".join(_ESCAPES.get(c, c) for c in text)
