"""ES|QL backend."""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

from sigma.backends.elasticsearch.elasticsearch_esql import ESQLBackend
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
)
from sigma.conversion.deferred import DeferredQueryExpression
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationRule, SigmaCorrelationType
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.types import SigmaRegularExpression, SigmaString, SpecialChars

from llmsiem.compiler.backends.elastic_common import (
    compares_only_strings,
    sigma_lucene_regexes,
    string_body,
)
from llmsiem.schema_export import leaf_fields

# Literal characters a LIKE pattern escapes with a backslash (ES|QL LIKE documentation).
_LIKE_SPECIAL = "*?\\"
# Joins the values of a multi-valued field into one string (a character keywords never hold).
_SEPARATOR = "\x1f"
# Characters with a meaning in Lucene RegExp (all syntax flags), escaped as literals.
_LUCENE_SPECIAL = frozenset('.?+*|{}[]()"\\#@&<>~/^$-')


@cache
def _list_fields() -> frozenset[str]:
    """Schema fields that hold arrays, multi-valued in Elasticsearch."""
    return frozenset(name for name, kind in leaf_fields().items() if kind.endswith("[]"))


def _element_regex(value: SigmaString) -> str:
    """Lucene RegExp for one lower-cased Sigma value matching one whole array element."""
    parts: list[str] = []
    for part in value.s:
        if isinstance(part, str):
            parts.extend("\\" + c if c in _LUCENE_SPECIAL else c for c in part.lower())
        else:
            parts.append(f"[^{_SEPARATOR}]" + ("*" if part is SpecialChars.WILDCARD_MULTI else ""))
    return "".join(parts)


class UnanchoredESQLBackend(ESQLBackend):
    """ES|QL backend with Sigma's matching semantics.

    - Plain values are case-insensitive, as Sigma compares them: ``to_lower(field)`` is
      compared with the lower-cased value by ``==``, ``in`` or ``like`` (ES|QL's ``==``,
      ``in`` and ``like`` are case-sensitive; stock output used them on the raw field).
    - ``re`` is ``rlike`` over a whole-value Lucene RegExp equal to the rule regex's search,
      case-sensitive unless ``|i`` (then case classes); a top-level or leading alternation
      is one ``rlike`` per alternative, each within Lucene's determinization limit.
    - Arrays (``llmsiem.redaction.types`` ...) are multi-valued fields, on which ES|QL's
      ``==``/``in``/``like`` give null: their values are joined with ``mv_concat`` and one
      ``rlike`` accepts the joined string when some whole element matches a value.
    - ``not`` is ``not coalesce(..., false)``: a missing field makes a match false, not
      null, so its negation holds, as in the engine (ES|QL would drop the row).
    - String literals are escaped for ES|QL ``"..."`` strings (``\\n`` instead of a raw line
      break, which the ES|QL lexer rejects).
    - Correlations ignore events without the group-by fields (Sigma's and the engine's
      rule; ES|QL ``stats ... by`` would make a group of nulls), and two more types are
      expressed: ``value_sum`` (``sum``) and two-rule ``temporal_ordered`` (the first rule's
      earliest match before the second rule's latest in the same group and bucket).
      Like the stock ``event_count`` and ``value_count``, they count in fixed buckets of the
      timespan (``date_trunc``), not in a sliding window: events in one window that straddle
      a bucket boundary are not counted together. Kibana rules say so in their description.
    """

    re_expression: ClassVar[str] = '{field} rlike "{regex}"'
    field_in_list_expression: ClassVar[str] = "to_lower({field}) {op} ({list})"
    value_sum_aggregation_expression: ClassVar[dict[str, str]] = {
        "stats": "| eval timebucket=date_trunc({timespan}, @timestamp) "
        "| stats value_sum=sum({field}){fields}{groupby}"
    }
    value_sum_condition_expression: ClassVar[dict[str, str]] = {
        "stats": "| where value_sum {op} {count}"
    }
    temporal_ordered_correlation_query: ClassVar[dict[str, str]] = {
        "stats": "{search}\n{typing}\n{aggregate}\n{condition}"
    }
    temporal_ordered_typing_expression: ClassVar[str] = "| eval {queries}"
    temporal_ordered_typing_step_expression: ClassVar[str] = "step{step}=case({query}, @timestamp)"
    temporal_ordered_aggregation_expression: ClassVar[dict[str, str]] = {
        "stats": "| eval timebucket=date_trunc({timespan}, @timestamp) "
        "| stats first_step0=min(step0), last_step1=max(step1){fields}{groupby}"
    }
    temporal_ordered_condition_expression: ClassVar[dict[str, str]] = {
        "stats": "| where first_step0 < last_step1"
    }
    bucket_note: ClassVar[str] = (
        " ES|QL counts this correlation in fixed {timespan} buckets, not a sliding window: "
        "events less than {timespan} apart that straddle a bucket boundary are not "
        "counted together."
    )

    def _string(self, value: SigmaString, like: bool) -> str:
        """A lower-cased ES|QL string literal; ``like``: a LIKE pattern with wildcards."""
        parts = []
        for part in value.s:
            if isinstance(part, str):
                text = part.lower()
                if like:
                    text = "".join("\\" + c if c in _LIKE_SPECIAL else c for c in text)
                parts.append(text)
            else:
                parts.append("*" if part is SpecialChars.WILDCARD_MULTI else "?")
        return '"' + string_body("".join(parts)) + '"'

    def _any_element(self, field: str, values: list[SigmaString]) -> str:
        """Some whole element of an array field matches one of the values."""
        joined = f'to_lower(mv_concat({self.escape_and_quote_field(field)}, "{_SEPARATOR}"))'
        alternatives = "|".join(_element_regex(v) for v in values)
        regex = f"(.*{_SEPARATOR})?({alternatives})({_SEPARATOR}.*)?"
        return f'{joined} rlike "{string_body(regex)}"'

    def convert_value_str(self, s: SigmaString, state: ConversionState) -> str:
        return self._string(s, like=False)

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value = cond.value
        assert isinstance(value, SigmaString)
        if cond.field in _list_fields():
            return self._any_element(cond.field, [value])
        field = f"to_lower({self.escape_and_quote_field(cond.field)})"
        if value.contains_special():
            return f"{field} like {self._string(value, like=True)}"
        return f"{field}=={self._string(value, like=False)}"

    def decide_convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> bool:
        strings = compares_only_strings(cond)
        fields = {getattr(arg, "field", None) for arg in cond.args}
        if strings and isinstance(cond, ConditionOR) and fields <= _list_fields():
            return len(fields) == 1
        return strings and super().decide_convert_condition_as_in_expression(cond, state)

    def convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> Any:
        args = [a for a in cond.args if isinstance(a, ConditionFieldEqualsValueExpression)]
        if args and args[0].field in _list_fields():
            values = [a.value for a in args if isinstance(a.value, SigmaString)]
            return self._any_element(args[0].field, values)
        return super().convert_condition_as_in_expression(cond, state)

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        if cond.field in _list_fields():
            raise SigmaFeatureNotSupportedByBackendError(
                f"re on the array field {cond.field} has no ES|QL equivalent"
            )
        value = cond.value
        assert isinstance(value, SigmaRegularExpression)
        field = self.escape_and_quote_field(cond.field)
        tests = [
            self.re_expression.format(field=field, regex=string_body(regex))
            for regex in sigma_lucene_regexes(value)
        ]
        return tests[0] if len(tests) == 1 else "(" + " or ".join(tests) + ")"

    def convert_condition_not(self, cond: ConditionNOT, state: ConversionState) -> Any:
        arg = cond.args[0]
        if isinstance(arg, ConditionAND | ConditionOR | ConditionNOT):
            inner = self.convert_condition_group(arg, state)
        else:
            inner = self.convert_condition(arg, state)
        if isinstance(inner, DeferredQueryExpression):
            return inner.negate()
        return f"not coalesce({inner}, false)"

    def convert_correlation_search(self, rule: SigmaCorrelationRule, **kwargs: Any) -> str:
        search = super().convert_correlation_search(rule, **kwargs)
        if not rule.group_by:
            return search
        present = " and ".join(
            f"{self.escape_and_quote_field(field)} is not null" for field in rule.group_by
        )
        return f"({search}) and {present}"

    def convert_correlation_typing(self, rule: SigmaCorrelationRule) -> str:
        if rule.type != SigmaCorrelationType.TEMPORAL_ORDERED:
            return super().convert_correlation_typing(rule)
        queries = [
            query
            for reference in rule.referenced_rules
            for query in reference.rule.get_conversion_result()
        ]
        if len(queries) != 2:
            raise NotImplementedError(
                "ES|QL temporal_ordered is expressed for two rules of one query each"
            )
        return self.temporal_ordered_typing_expression.format(
            queries=", ".join(
                self.temporal_ordered_typing_step_expression.format(step=step, query=query)
                for step, query in enumerate(queries)
            )
        )

    def finalize_query_siem_rule_ndjson(
        self, rule: Any, query: str, index: int, state: ConversionState
    ) -> dict[str, Any]:
        document: dict[str, Any] = super().finalize_query_siem_rule_ndjson(
            rule, query, index, state
        )
        if isinstance(rule, SigmaCorrelationRule) and rule.timespan is not None:
            timespan = f"{rule.timespan.count}{rule.timespan.unit}"
            document["description"] += self.bucket_note.format(timespan=timespan)
        return document
