"""EQL backend."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from sigma.backends.elasticsearch.elasticsearch_eql import EqlBackend
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationRule, SigmaCorrelationType

_DANGLING_EQL_RUNS = re.compile(r"\s*by\s+with runs=\d+\s*$")


class FixedEqlBackend(EqlBackend):
    """EQL backend whose ordered-temporal sequences are valid EQL and that handles ``exists``.

    pySigma-backend-elasticsearch 2.1 ends ``temporal_ordered`` sequences with
    ``by  with runs=N`` when the base rules have no per-rule group-by: a dangling ``by``
    and a ``runs`` repetition the correlation does not ask for. Elasticsearch rejects it.
    Like the other Elastic backends its regex must match the whole value (fixed here). It
    also refuses the ``exists`` modifier, which EQL expresses as ``field != null``,
    wraps correlation sequences in ``any where`` in its SIEM-rule output (invalid EQL), and
    turns ``value_count`` into ``sequence ... by field with runs=N``, which counts N events
    with the *same* value: the opposite of a distinct count. Value counts are refused here so
    that targets fall back to a backend that can express them (ES|QL).
    """

    re_expression: ClassVar[str] = '{field} regex~ ".*({regex}).*"'
    field_exists_expression: ClassVar[str] = "{field} != null"
    field_not_exists_expression: ClassVar[str] = "{field} == null"

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
