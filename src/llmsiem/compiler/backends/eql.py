"""EQL backend."""

from __future__ import annotations

import re
from functools import cache
from typing import Any, ClassVar

from sigma.backends.elasticsearch.elasticsearch_eql import EqlBackend
from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionOR
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationRule, SigmaCorrelationType
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.types import SigmaBool, SigmaNumber, SigmaRegularExpression, SigmaString, SpecialChars

from llmsiem.compiler.backends.elastic_common import (
    compares_only_strings,
    sigma_lucene_regexes,
    string_body,
)
from llmsiem.schema_export import leaf_fields

_DANGLING_EQL_RUNS = re.compile(r"\s*by\s+with runs=\d+\s*$")


@cache
def _numeric_fields() -> frozenset[str]:
    """Schema fields the index template maps as numbers."""
    return frozenset(name for name, kind in leaf_fields().items() if kind in ("long", "float"))


class FixedEqlBackend(EqlBackend):
    """EQL backend with Sigma's matching semantics in Elasticsearch EQL.

    - Plain values keep the stock ``:`` and ``like~`` (case-insensitive, whole value with
      ``*``/``?`` wildcards), as Sigma compares them.
    - ``re`` becomes case-sensitive ``regex`` over whole-value Lucene RegExps equal to the
      rule regex's search (``|i`` as case classes; a top-level or leading alternation as
      a list, one RegExp per alternative, each within Lucene's determinization limit).
      Stock output used ``regex~``, which folds case for a case-sensitive ``re``, and
      Python escapes such as ``\\/`` that the EQL string grammar rejects.
    - Strings are escaped for EQL ``"..."`` literals (``\\n`` instead of a raw line break).
    - Booleans and numbers compare with ``==`` (``:`` and ``like~`` take strings only); a
      number on a string field is compared as text (``:"401"``), as the engine does.
    - ``exists`` is ``field != null``; ordered-temporal sequences lose the dangling ``by``
      and ``with runs=N`` that pySigma-backend-elasticsearch 2.1 appends; Kibana rules of
      correlations carry the plain sequence (stock output wraps it in ``any where``).
    - ``value_count`` is refused: the stock ``sequence ... by field with runs=N`` counts N
      events with the *same* value, the opposite of a distinct count, and EQL has no
      distinct count; nor can a sequence sum a field (``value_sum``). Targets fall back to
      a backend that can express them (ES|QL).
    """

    re_expression: ClassVar[str] = "{field} regex {regex}"
    field_exists_expression: ClassVar[str] = "{field} != null"
    field_not_exists_expression: ClassVar[str] = "{field} == null"

    def convert_value_str(self, s: SigmaString, state: ConversionState) -> str:
        parts = []
        for part in s.s:
            if isinstance(part, str):
                if "*" in part or "?" in part:
                    raise SigmaFeatureNotSupportedByBackendError(
                        f"EQL wildcard patterns cannot hold a literal '*' or '?' ({s})"
                    )
                parts.append(string_body(part))
            else:
                parts.append("*" if part is SpecialChars.WILDCARD_MULTI else "?")
        return self.quote_string("".join(parts))

    def convert_value_re(self, r: SigmaRegularExpression, state: ConversionState) -> str:
        regexes = [f'"{string_body(regex)}"' for regex in sigma_lucene_regexes(r)]
        return regexes[0] if len(regexes) == 1 else "(" + ", ".join(regexes) + ")"

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaBool)
        return (
            f"{self.escape_and_quote_field(cond.field)} == {self.bool_values[cond.value.boolean]}"
        )

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaNumber)
        field = self.escape_and_quote_field(cond.field)
        if cond.field in _numeric_fields():
            return f"{field} == {cond.value}"
        return f'{field} : "{string_body(str(cond.value))}"'

    def decide_convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> bool:
        return compares_only_strings(cond) and super().decide_convert_condition_as_in_expression(
            cond, state
        )

    def finalize_query(
        self,
        rule: Any,
        query: Any,
        index: int,
        state: ConversionState,
        output_format: str,
    ) -> Any:
        if (
            isinstance(rule, SigmaCorrelationRule)
            and rule.type in (SigmaCorrelationType.TEMPORAL_ORDERED, SigmaCorrelationType.TEMPORAL)
            and isinstance(query, str)
        ):
            query = _DANGLING_EQL_RUNS.sub("", query)
        return super().finalize_query(rule, query, index, state, output_format)

    def convert_correlation_value_count_rule(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("EQL sequences cannot count distinct values (value_count)")

    def convert_correlation_value_sum_rule(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("EQL sequences cannot sum a field (value_sum)")

    def finalize_query_siem_rule_ndjson(
        self,
        rule: Any,
        query: str,
        index: int,
        state: ConversionState,
    ) -> dict[str, Any]:
        document: dict[str, Any] = super().finalize_query_siem_rule_ndjson(
            rule, query, index, state
        )
        if isinstance(rule, SigmaCorrelationRule):
            document["query"] = query
        return document
