"""pySigma backend subclasses that fix output the stock backends get wrong."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from sigma.backends.elasticsearch.elasticsearch_eql import EqlBackend
from sigma.backends.elasticsearch.elasticsearch_esql import ESQLBackend
from sigma.backends.elasticsearch.elasticsearch_lucene import LuceneBackend
from sigma.backends.loki import LogQLBackend
from sigma.backends.opensearch.opensearch import OpensearchLuceneBackend
from sigma.backends.splunk.splunk import SplunkBackend
from sigma.conversion.state import ConversionState
from sigma.correlations import SigmaCorrelationRule, SigmaCorrelationType

_DANGLING_EQL_RUNS = re.compile(r"\s*by\s+with runs=\d+\s*$")

# Sigma's ``re`` searches anywhere in the value; Lucene regexp, ES|QL RLIKE and EQL regex
# match the whole value. The subclasses below wrap the pattern so both agree.


class UnanchoredLuceneBackend(LuceneBackend):
    """Lucene backend whose ``re`` matches anywhere in the value, as Sigma specifies."""

    re_expression: ClassVar[str] = "{field}:/.*({regex}).*/"


class UnanchoredOpensearchBackend(OpensearchLuceneBackend):
    """OpenSearch Lucene backend whose ``re`` matches anywhere in the value."""

    re_expression: ClassVar[str] = "{field}:/.*({regex}).*/"


class UnanchoredESQLBackend(ESQLBackend):
    """ES|QL backend whose ``re`` (RLIKE) matches anywhere in the value."""

    re_expression: ClassVar[str] = '{field} rlike ".*({regex}).*"'


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


class JsonLogQLBackend(LogQLBackend):
    """LogQL backend for JSON log lines, where booleans are the strings true/false.

    pySigma-backend-loki 0.15 has no boolean mapping and refuses ``field: true``; after
    ``| json`` a JSON boolean is the label value ``true`` or ``false``.
    """

    bool_values: ClassVar[dict[bool, str | None]] = {True: "true", False: "false"}


class SavedSearchSplunkBackend(SplunkBackend):
    """Splunk backend whose savedsearches.conf searches are runnable and tunable.

    pySigma-backend-splunk 2.1 moves OR-ed regular expressions into leading
    ``| rex ... | eval`` commands; its ``savedsearches`` format then starts the search with
    a pipe, which Splunk refuses for a saved search. This subclass applies the same
    reordering the ``default`` format uses (base search terms first), starts with
    ``search`` when nothing else can lead, and ends every search with the rule's filter
    macro, the tuning hook that survives app upgrades (``local/macros.conf``).
    """

    def finalize_query_savedsearches(
        self,
        rule: Any,
        query: str,
        index: int,
        state: ConversionState,
    ) -> str:
        ordered = self.finalize_query_default(rule, query, index, state).strip()
        if ordered.startswith("|"):
            ordered = "search *\n" + ordered
        ordered += f"\n| `{filter_macro_name(rule.name or str(rule.id))}`"
        return str(super().finalize_query_savedsearches(rule, ordered, index, state))


def filter_macro_name(rule_name: str) -> str:
    """Name of the per-rule Splunk filter macro (``llmsiem_filter_<rule name>``)."""
    return "llmsiem_filter_" + re.sub(r"[^a-z0-9_]", "_", rule_name.lower())
