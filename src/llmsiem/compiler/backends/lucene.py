"""Lucene query-string backends (Elasticsearch, OpenSearch, Kibana query rules).

The stock pySigma backends emit Sigma values as ``keyword``/``wildcard`` terms and ``re`` as a
raw ``/regex/``; Elasticsearch then matches plain values case-sensitively, treats ``^``/``$``
as literal characters, rejects classes ending in ``-`` and regexes over 10,000 determinized
states. Here every value is converted with the engine's semantics (Sigma's):

- a plain value (``contains``/``startswith``/``endswith``/equals, wildcards) matches
  case-insensitively: if it has cased letters it becomes a whole-value regexp with per-letter
  case classes (``/.*[Ii]gnore.*/``); otherwise the stock term or wildcard query is already
  exact;
- ``|cased`` values become case-sensitive regexps;
- ``re`` values are translated from the rule dialect (RE2, search anywhere, case-sensitive
  unless ``|i``) into equivalent whole-value Lucene RegExps
  (:mod:`llmsiem.compiler.lucene_regex`), one per top-level alternative, OR-ed, so that each
  stays within the determinization budget; a regex without an equivalent is refused per rule.
"""

from __future__ import annotations

from typing import Any

from sigma.backends.elasticsearch.elasticsearch_lucene import LuceneBackend
from sigma.backends.opensearch.opensearch import OpensearchLuceneBackend
from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionOR
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.types import (
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
)

from llmsiem.compiler.lucene_regex import (
    UntranslatableRegex,
    lucene_contains_regex,
    to_lucene_regexes,
)

# Flags other than IGNORECASE go into the pattern as inline flags, as the engine does.
_INLINE_FLAGS = {
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}


def _has_cased_letters(value: SigmaString) -> bool:
    return any(
        char.lower() != char or char.upper() != char
        for part in value.s
        if isinstance(part, str)
        for char in part
    )


class UnanchoredLuceneBackend(LuceneBackend):
    """Lucene backend with the engine's value semantics (case rules, regex dialect)."""

    def _regexp(self, field: str, regex: str) -> str:
        return f"{self.escape_and_quote_field(field)}:/{regex}/"

    def _value(self, value: Any, state: ConversionState) -> str:
        """One value of a ``field:(a OR b)`` list: a regexp, a term or a wildcard term."""
        if isinstance(value, SigmaString):
            if _has_cased_letters(value):
                return "/" + lucene_contains_regex(value, ignore_case=True, position="exact") + "/"
            return str(self.convert_value_str(value, state))
        return str(value)

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        assert isinstance(cond.value, SigmaString)
        if _has_cased_letters(cond.value):
            return self._regexp(
                cond.field,
                lucene_contains_regex(cond.value, ignore_case=True, position="exact"),
            )
        return super().convert_condition_field_eq_val_str(cond, state)

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        assert isinstance(cond.value, SigmaString)
        return self._regexp(
            cond.field, lucene_contains_regex(cond.value, ignore_case=False, position="exact")
        )

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        value = cond.value
        assert isinstance(value, SigmaRegularExpression)
        inline = "".join(sorted(_INLINE_FLAGS[f] for f in value.flags if f in _INLINE_FLAGS))
        pattern = (f"(?{inline})" if inline else "") + value.regexp.to_plain()
        try:
            regexes = to_lucene_regexes(
                pattern, ignore_case=SigmaRegularExpressionFlag.IGNORECASE in value.flags
            )
        except UntranslatableRegex as error:
            raise SigmaFeatureNotSupportedByBackendError(
                f"regex {pattern!r} has no Lucene RegExp equivalent: {error.reason}"
            ) from error
        queries = [self._regexp(cond.field, regex) for regex in regexes]
        return queries[0] if len(queries) == 1 else "(" + " OR ".join(queries) + ")"

    def convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> Any:
        args = [arg for arg in cond.args if isinstance(arg, ConditionFieldEqualsValueExpression)]
        values = [self._value(arg.value, state) for arg in args]
        operator = self.or_in_operator if isinstance(cond, ConditionOR) else self.and_in_operator
        return self.field_in_list_expression.format(
            field=self.escape_and_quote_field(args[0].field),
            op=operator,
            list=self.list_separator.join(values),
        )


class UnanchoredOpensearchBackend(UnanchoredLuceneBackend, OpensearchLuceneBackend):
    """OpenSearch Lucene backend with the same value semantics."""
