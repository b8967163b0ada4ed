"""Grafana Loki LogQL backend.

pySigma-backend-loki 0.15 turns every value into a label filter, and a label filter regex
(``=~``) must match the whole label value (Loki anchors it as ``^(?:...)$``). This subclass
gives each Sigma value its meaning under that rule:

- a plain value is a case-insensitive whole-value RE2 with ``(?s)``, so a wildcard also spans
  line breaks, as in the engine;
- a ``re`` value searches anywhere: ``(?s:.*)(?:re)(?s:.*)``, its own flags kept inside;
- a boolean is the string label value ``true``/``false`` the json parser extracts;
- a field that holds a JSON array has no label (``| json`` skips arrays), so a rule that
  tests one cannot be expressed and is skipped with that reason;
- correlations drop lines without a group-by (or counted) value and lower-case those
  values, as the engine groups and counts case-insensitively.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections import deque
from functools import cache
from typing import Any, ClassVar

from sigma.backends.loki import LogQLBackend
from sigma.conditions import ConditionFieldEqualsValueExpression, ConditionItem, ConditionOR
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.types import (
    SigmaCasedString,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from llmsiem.schema_export import leaf_fields

# A line break inside a query string is written as the regex escape (RE2 reads \n as one).
_CONTROL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_RE2_SPECIAL = set("\\.^$|?*+()[]{}")
_FLAG_LETTERS = (
    (SigmaRegularExpressionFlag.IGNORECASE, "i"),
    (SigmaRegularExpressionFlag.MULTILINE, "m"),
    (SigmaRegularExpressionFlag.DOTALL, "s"),
)


@cache
def array_fields() -> frozenset[str]:
    """Schema fields that hold JSON arrays, which Loki's json parser does not extract."""
    return frozenset(name for name, kind in leaf_fields().items() if kind.endswith("[]"))


def _top_or(condition: Any) -> ConditionOR | None:
    """The OR nearest the root of a parsed condition (breadth first)."""
    queue: deque[Any] = deque([condition])
    while queue:
        node = queue.popleft()
        if isinstance(node, ConditionOR):
            return node
        if isinstance(node, ConditionItem):
            queue.extend(node.args)
    return None


def _outside_condition(condition: Any) -> dict[int, Any]:
    """A deepcopy memo that keeps what the condition tree only points up to (detection items,
    detections, the rule) shared: copying a condition must not copy the whole rule."""
    nodes: list[Any] = [condition]
    inside: set[int] = set()
    outside: dict[int, Any] = {}
    while nodes:
        node = nodes.pop()
        inside.add(id(node))
        nodes.extend(a for a in getattr(node, "args", None) or [] if a is not None)
    stack = [condition]
    while stack:
        node = stack.pop()
        for parent in node.parent_chain() if hasattr(node, "parent_chain") else []:
            if id(parent) not in inside:
                outside[id(parent)] = parent
        stack.extend(a for a in getattr(node, "args", None) or [] if a is not None)
    return outside


class WholeValueRegex(SigmaRegularExpression):
    """A plain Sigma value already written as a whole-value label regex."""


def whole_value_regex(value: SigmaString) -> WholeValueRegex:
    """Sigma string -> RE2 for a whole label value: wildcards ``.*``/``.``, case-insensitive
    unless the value is ``|cased``."""
    body = "".join(
        "".join("\\" + c if c in _RE2_SPECIAL else c for c in part)
        if isinstance(part, str)
        else (".*" if part == SpecialChars.WILDCARD_MULTI else ".")
        for part in value.s
    )
    flags = "(?s)" if isinstance(value, SigmaCasedString) else "(?is)"
    return WholeValueRegex(flags + body)


class JsonLogQLBackend(LogQLBackend):
    """LogQL over JSON log lines with Sigma's matching semantics (see the module docstring)."""

    bool_values: ClassVar[dict[bool, str | None]] = {True: "`true`", False: "`false`"}

    def update_parsed_conditions(self, condition: Any, negated: bool = False) -> Any:
        if isinstance(condition, ConditionFieldEqualsValueExpression):
            if condition.field in array_fields():
                raise SigmaFeatureNotSupportedByBackendError(
                    f"{condition.field} holds a JSON array, which Loki's json parser does not "
                    "extract as a label, so no LogQL label filter can test it"
                )
            if isinstance(condition.value, SigmaString) and not isinstance(
                condition.value, WholeValueRegex
            ):
                condition.value = whole_value_regex(condition.value)
        return super().update_parsed_conditions(condition, negated)

    def partition_rule(self, condition: Any, partitions: int) -> list[Any]:
        """Split an over-long rule into queries over parts of its top-level OR, every part
        kept (pySigma-backend-loki 0.15 slices ``n // partitions`` arguments per query and
        drops the remainder: 3 alternatives in 2 queries lost the third)."""
        top = _top_or(condition)
        if top is None:
            return [condition]
        count = min(partitions, len(top.args))
        bounds = [round(k * len(top.args) / count) for k in range(count + 1)]
        parts = []
        for start, end in itertools.pairwise(bounds):
            copied = copy.deepcopy(condition, _outside_condition(condition))
            copied_top = _top_or(copied)
            assert copied_top is not None
            copied_top.args = copied_top.args[start:end]
            parts.append(copied)
        return parts

    def convert_correlation_aggregation_from_template(
        self, rule: SigmaCorrelationRule, correlation_type: Any, method: str, search: str
    ) -> str:
        """Group-by and counted values as the engine compares them: lines without them are
        dropped (a missing label would group as the empty string), values lower-cased."""
        fields = list(rule.group_by or [])
        condition = rule.condition
        if correlation_type == "value_count" and isinstance(condition, SigmaCorrelationCondition):
            fields += [condition.fieldref] if isinstance(condition.fieldref, str) else []
        labels = [self.escape_and_quote_field(f) for f in fields]
        if labels:
            present = " and ".join(f'{label}!=""' for label in labels)
            lowered = ", ".join(f'{label}="{{{{ ToLower .{label} }}}}"' for label in labels)
            search = f"{search} | {present} | label_format {lowered}"
        return str(
            super().convert_correlation_aggregation_from_template(
                rule, correlation_type, method, search
            )
        )

    def convert_value_re(self, r: SigmaRegularExpression, state: ConversionState) -> str:
        if isinstance(r, WholeValueRegex):
            pattern = r.regexp.to_plain()
        else:
            flags = "".join(letter for flag, letter in _FLAG_LETTERS if flag in r.flags)
            pattern = f"(?s:.*)(?{flags}:{r.regexp.to_plain()})(?s:.*)"
        pattern = re.sub(r"\\?[\n\r\t]", lambda m: _CONTROL_ESCAPES[m.group()[-1]], pattern)
        if "`" not in pattern:
            return f"`{pattern}`"
        return '"' + pattern.replace("\\", "\\\\").replace('"', '\\"') + '"'
