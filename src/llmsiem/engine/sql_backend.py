"""A pySigma backend that turns Sigma detections into DuckDB boolean expressions.

It is written for Sigma's semantics, which pySigma-backend-duckdb 0.1.4 gets wrong:

- string matches are case-insensitive (``ILIKE``), equality included;
- ``%`` and ``_`` in values are literals (escaped), so ``read_file`` never matches
  ``readXfile``; Sigma's ``*`` and ``?`` become ``%`` and ``_``;
- ``re`` searches anywhere in the value (RE2 ``regexp_matches``), flags ``i``/``m``/``s``
  become inline flags;
- a field that is absent makes a match false, not NULL, so ``not`` behaves (every leaf is
  wrapped in ``coalesce(..., false)``);
- list fields (``llmsiem.redaction.types``) match when any element matches.

For speed, an OR of string values on one field (``field|contains: [a, b, c]``) becomes a
single case-insensitive RE2 alternation, so the text is scanned once however long the
list; each value keeps its anchoring (``contains`` unanchored, ``startswith`` ``^...``).
Likewise the regexes OR-ed on one field become one alternation, each with its own flags.

Correlations (with real timespans and ordering) are evaluated in ``correlate.py``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
)
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.state import ConversionState
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaCompareExpression,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from llmsiem.columns import NUMERIC, column_ref, field_types, sql_literal

_RE_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}
_COMPARE = {
    SigmaCompareExpression.CompareOperators.LT: "<",
    SigmaCompareExpression.CompareOperators.LTE: "<=",
    SigmaCompareExpression.CompareOperators.GT: ">",
    SigmaCompareExpression.CompareOperators.GTE: ">=",
}


def like_pattern(value: SigmaString) -> str:
    """Sigma string -> ILIKE pattern: wildcards map, literal ``%``/``_``/``\\`` are escaped."""
    return value.convert(
        escape_char="\\", wildcard_multi="%", wildcard_single="_", add_escaped="\\"
    )


_RE2_SPECIAL = set("\\.^$|?*+()[]{}")


def sigma_string_regex(value: SigmaString) -> str:
    """One Sigma string as an anchored RE2 fragment (wildcards -> ``.*`` / ``.``)."""
    parts = []
    for part in value.s:
        if isinstance(part, str):
            parts.append("".join("\\" + c if c in _RE2_SPECIAL else c for c in part))
        elif part == SpecialChars.WILDCARD_MULTI:
            parts.append(".*")
        else:
            parts.append(".")
    body = "".join(parts)
    body = body[2:] if body.startswith(".*") else "^" + body
    if body.endswith(".*") and not body.endswith("\\.*"):
        body = body[:-2]
    else:
        body += "$"
    return f"(?:{body})"


class DuckDBSigmaBackend(TextQueryBackend):
    """Sigma detections -> DuckDB SQL boolean expressions over the events table."""

    name: ClassVar[str] = "llmsiem DuckDB engine"
    formats: ClassVar[dict[str, str]] = {"default": "DuckDB boolean SQL expression per rule"}
    requires_pipeline: ClassVar[bool] = False

    precedence: ClassVar[tuple[type[ConditionItem], type[ConditionItem], type[ConditionItem]]] = (
        ConditionNOT,
        ConditionAND,
        ConditionOR,
    )
    group_expression: ClassVar[str] = "({expr})"
    token_separator: str = " "
    or_token: ClassVar[str] = "OR"
    and_token: ClassVar[str] = "AND"
    not_token: ClassVar[str] = "NOT"
    eq_token: ClassVar[str] = " = "
    str_quote: ClassVar[str] = "'"
    escape_char: ClassVar[str] = "\\"
    wildcard_multi: ClassVar[str] = "%"
    wildcard_single: ClassVar[str] = "_"
    convert_or_as_in: ClassVar[bool] = True
    in_expressions_allow_wildcards: ClassVar[bool] = True

    # -- leaves ------------------------------------------------------------------------

    def _leaf(self, field: str, build: Any) -> str:
        """``build(ref)`` on a scalar field, or on each element of a list field."""
        kind = field_types().get(field)
        if kind is None:
            raise KeyError(f"field {field!r} is not in the LLMEvent schema")
        ref = column_ref(field)
        if kind.endswith("[]"):
            return f"coalesce(len(list_filter({ref}, lambda x: {build('x')})) > 0, false)"
        return f"coalesce({build(ref)}, false)"

    def _like(self, cond: ConditionFieldEqualsValueExpression, operator: str) -> str:
        """``field ILIKE/LIKE pattern``; numeric fields are compared as text."""
        value = cond.value
        assert isinstance(value, SigmaString)
        pattern = sql_literal(like_pattern(value))
        numeric = field_types().get(cond.field, "") in NUMERIC
        return self._leaf(
            cond.field,
            lambda ref: (
                f"{f'CAST({ref} AS VARCHAR)' if numeric else ref} {operator} {pattern} ESCAPE '\\'"
            ),
        )

    def convert_condition_field_eq_val_str(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._like(cond, "ILIKE")

    def convert_condition_field_eq_val_str_case_sensitive(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return self._like(cond, "LIKE")

    def convert_condition_field_eq_val_num(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value = cond.value
        assert isinstance(value, SigmaNumber)
        if field_types().get(cond.field) in NUMERIC:
            return self._leaf(cond.field, lambda ref: f"{ref} = {value.number}")
        literal = sql_literal(str(value.number))
        return self._leaf(cond.field, lambda ref: f"lower(CAST({ref} AS VARCHAR)) = {literal}")

    def convert_condition_field_eq_val_bool(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value = cond.value
        assert isinstance(value, SigmaBool)
        literal = "true" if value.boolean else "false"
        return self._leaf(cond.field, lambda ref: f"{ref} = {literal}")

    def _regex_leaf(self, field: str, values: list[SigmaRegularExpression]) -> str:
        """``field`` matches any of the regexes: one RE2 alternation, each regex a group
        with its own flags (RE2 scopes inline flags to their group)."""
        groups = []
        for value in values:
            flags = "".join(sorted(_RE_FLAGS[flag] for flag in value.flags))
            groups.append(f"(?{flags}:{value.regexp.to_plain()})")
        literal = sql_literal(groups[0] if len(groups) == 1 else "|".join(groups))
        return self._leaf(field, lambda ref: f"regexp_matches({ref}, {literal})")

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaRegularExpression)
        return self._regex_leaf(cond.field, [cond.value])

    def convert_condition_or(self, cond: ConditionOR, state: ConversionState) -> Any:
        """An OR whose regexes on one field become one alternation (the text is scanned
        once, not once per regex); the other branches convert as usual."""
        regexes: dict[str, list[SigmaRegularExpression]] = {}
        for arg in cond.args:
            if isinstance(arg, ConditionFieldEqualsValueExpression) and isinstance(
                arg.value, SigmaRegularExpression
            ):
                regexes.setdefault(arg.field, []).append(arg.value)
        merged = {field for field, values in regexes.items() if len(values) > 1}
        if not merged:
            return super().convert_condition_or(cond, state)
        rest = [
            arg
            for arg in cond.args
            if not (
                isinstance(arg, ConditionFieldEqualsValueExpression)
                and arg.field in merged
                and isinstance(arg.value, SigmaRegularExpression)
            )
        ]
        parts = [self._regex_leaf(field, regexes[field]) for field in sorted(merged)]
        others = super().convert_condition_or(ConditionOR(rest), state) if rest else None
        if others is not None:
            parts.append(str(others))
        return f" {self.or_token} ".join(parts)

    def convert_condition_field_compare_op_val(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        value = cond.value
        assert isinstance(value, SigmaCompareExpression)
        operator = _COMPARE[value.op]
        number = value.number.number
        return self._leaf(cond.field, lambda ref: f"TRY_CAST({ref} AS DOUBLE) {operator} {number}")

    def convert_condition_field_eq_val_null(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        assert isinstance(cond.value, SigmaNull)
        return f"({column_ref(cond.field)} IS NULL)"

    def convert_condition_field_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return f"({column_ref(cond.field)} IS NOT NULL)"

    def convert_condition_field_not_exists(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> str:
        return f"({column_ref(cond.field)} IS NULL)"

    def convert_condition_as_in_expression(
        self, cond: ConditionOR | ConditionAND, state: ConversionState
    ) -> str:
        """OR of string values on one field -> one case-insensitive regex alternation."""
        args = [arg for arg in cond.args if isinstance(arg, ConditionFieldEqualsValueExpression)]
        field = args[0].field
        values = [arg.value for arg in args]
        if field_types().get(field) in NUMERIC or not all(
            isinstance(v, SigmaString) for v in values
        ):
            joined = f" {self.or_token} ".join(str(self.convert_condition(a, state)) for a in args)
            return f"({joined})"
        pattern = "(?is)" + "|".join(
            sigma_string_regex(v) for v in values if isinstance(v, SigmaString)
        )
        literal = sql_literal(pattern)
        return self._leaf(field, lambda ref: f"regexp_matches({ref}, {literal})")

    def convert_condition_val(self, cond: Any, state: ConversionState) -> str:
        raise NotImplementedError("keyword (unbound value) searches are not supported")

    def finalize_query_default(
        self, rule: SigmaRule, query: str, index: int, state: ConversionState
    ) -> str:
        return query


def rule_expression(backend: DuckDBSigmaBackend, rule: SigmaRule) -> str:
    """The boolean SQL expression of one detection rule (several conditions are OR-ed)."""
    queries = backend.convert_rule(rule)
    if not queries:
        raise ValueError("rule produced no query")
    return " OR ".join(f"({q})" for q in queries)
