"""EQL targets on the conformance corpus: the reference parser accepts every compiled query,
and Elasticsearch's EQL semantics give the engine's verdict on every sample and variant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import eql
import pytest

from conformance_helpers import assert_every_rule_agrees
from llmsiem.compiler.compile import CompiledRule, compile_pack
from llmsiem.conformance.corpus import SampleCorpus
from llmsiem.conformance.eql import (
    compiled_eql,
    eql_verdicts,
    evaluable_query,
    matches,
    parse_eql,
    sequence_fires,
)
from llmsiem.conformance.lucene_regexp import LuceneSyntaxError
from llmsiem.conformance.verdicts import Verdicts

BASE = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _eql_rules(target: str) -> list[CompiledRule]:
    result = compile_pack(target)
    assert result.failed == [], [str(i) for i in result.failed]
    return [rule for rule in result.compiled if compiled_eql(rule)]


@pytest.mark.parametrize("target", ["elastic-eql", "kibana-ndjson"])
def test_eql_queries_agree_with_engine(
    target: str, conformance_corpus: SampleCorpus, engine_reference: Verdicts
) -> None:
    rules = _eql_rules(target)
    observed = eql_verdicts(rules, conformance_corpus)
    names = [r.name or r.rule_id for r in rules]
    assert_every_rule_agrees(target, engine_reference, observed, names, "eql")


def test_every_correlation_but_value_count_and_value_sum_compiles_for_eql() -> None:
    result = compile_pack("elastic-eql")
    skipped = {i.path.split("/")[-1]: i.message for i in result.issues if i.skipped}
    baseline = "per-entity baseline"
    assert all(
        "value_count" in m or "value_sum" in m or m.startswith(baseline) for m in skipped.values()
    ), skipped
    kinds = {c.name for c in result.compiled if c.kind == "correlation"}
    assert "correlation_injection_then_sensitive_tool" in kinds


def _condition(condition: str) -> Any:
    return evaluable_query(f"any where {condition}").query


def _doc(**fields: Any) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for dotted, value in fields.items():
        *parents, leaf = dotted.split("__")
        node = document
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return document


@pytest.mark.parametrize(
    ("condition", "value", "expected"),
    [
        ('llmsiem.prompt.text : "ignore*"', "IGNORE all", True),
        ('llmsiem.prompt.text like~ "*ignore*"', "x IGNORE y", True),
        ('llmsiem.prompt.text like "*ignore*"', "x IGNORE y", False),
        ('llmsiem.prompt.text == "ignore"', "Ignore", False),
        ('llmsiem.prompt.text : "ignore"', "Ignore", True),
        ('llmsiem.prompt.text regex "ign.re"', "ignore", True),
        ('llmsiem.prompt.text regex "ign.re"', "I ignore", False),
        ('llmsiem.prompt.text regex "IGNORE"', "ignore", False),
        ('llmsiem.prompt.text regex "a.b"', "a\nb", True),
        ('llmsiem.prompt.text regex "^a"', "a", False),
    ],
)
def test_operators_follow_elasticsearch_case_and_anchoring_rules(
    condition: str, value: str, expected: bool
) -> None:
    assert matches(_condition(condition), _doc(llmsiem__prompt__text=value)) is expected


def test_arrays_match_on_any_element_and_null_checks_see_presence() -> None:
    document = _doc(llmsiem__redaction__types=["EMAIL", "api_key"])
    assert matches(_condition('llmsiem.redaction.types : "API_KEY"'), document)
    assert matches(_condition("llmsiem.redaction.types != null"), document)
    assert not matches(_condition("llmsiem.prompt.text != null"), document)
    assert matches(_condition('not llmsiem.prompt.text : "x"'), document)


def _event(seconds: int, trace: str, text: str) -> dict[str, Any]:
    event = _doc(trace__id=trace, llmsiem__prompt__text=text)
    event["@timestamp"] = (BASE + timedelta(seconds=seconds)).isoformat()
    return event


def test_sequences_need_order_join_key_and_maxspan() -> None:
    sequence = evaluable_query(
        "sequence by trace.id with maxspan=1m "
        '[any where llmsiem.prompt.text : "a"] [any where llmsiem.prompt.text : "b"]'
    )
    assert sequence_fires(sequence, [_event(0, "t", "a"), _event(60, "t", "b")])
    assert not sequence_fires(sequence, [_event(0, "t", "a"), _event(61, "t", "b")])
    assert not sequence_fires(sequence, [_event(0, "t", "b"), _event(10, "t", "a")])
    assert not sequence_fires(sequence, [_event(0, "t", "a"), _event(10, "u", "b")])
    runs = evaluable_query(
        'sequence by trace.id with maxspan=1m [any where llmsiem.prompt.text : "a"] with runs=3'
    )
    assert sequence_fires(runs, [_event(s, "t", "a") for s in (0, 10, 20)])
    assert not sequence_fires(runs, [_event(s, "t", "a") for s in (0, 10)])


def test_reference_parser_rejects_what_elasticsearch_rejects() -> None:
    for bad in (
        'any where llmsiem.prompt.text regex~ ".*(a\\/b).*"',
        "any where llmsiem.response.refusal:true",
        'any where llmsiem.prompt.text : "a\nb"',
    ):
        with pytest.raises(eql.EqlError):
            parse_eql(bad)


def test_regex_runs_on_real_lucene_which_refuses_what_elasticsearch_refuses() -> None:
    document = _doc(llmsiem__prompt__text="a-b")
    assert matches(_condition('llmsiem.prompt.text regex "a[-]b"'), document)
    with pytest.raises(LuceneSyntaxError):
        matches(_condition('llmsiem.prompt.text regex "a[x-]b"'), document)
