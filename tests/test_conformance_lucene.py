"""Lucene targets on the conformance corpus, run by real Apache Lucene 9 (JPype): every
compiled query parses as Elasticsearch's ``query_string`` parses it, and gives the engine's
verdict on every sample and variant, with the shipped index template's field types."""

from __future__ import annotations

from typing import Any

import pytest

from conformance_helpers import assert_every_rule_agrees
from llmsiem.compiler.compile import compile_pack
from llmsiem.compiler.lucene_jvm import start_jvm
from llmsiem.conformance.corpus import SampleCorpus
from llmsiem.conformance.lucene import (
    LuceneIndex,
    QueryRejectedError,
    kibana_lucene_rules,
    kibana_lucene_verdicts,
    lucene_verdicts,
    template_fields,
)
from llmsiem.conformance.verdicts import Verdicts


@pytest.fixture(scope="module", autouse=True)
def lucene_version() -> str:
    version = start_jvm()
    assert version.startswith("9."), version
    return version


@pytest.mark.parametrize("target", ["elastic-lucene", "opensearch-lucene"])
def test_lucene_queries_agree_with_engine(
    target: str, conformance_corpus: SampleCorpus, engine_reference: Verdicts
) -> None:
    result = compile_pack(target)
    assert result.failed == [], [str(i) for i in result.failed]
    rules = [c.name or c.rule_id for c in result.compiled if c.kind == "detection"]
    observed = lucene_verdicts(result, conformance_corpus)
    assert_every_rule_agrees(target, engine_reference, observed, rules)


def test_kibana_lucene_rules_agree_with_engine(
    conformance_corpus: SampleCorpus, engine_reference: Verdicts
) -> None:
    result = compile_pack("kibana-ndjson")
    rules = list(kibana_lucene_rules(result))
    observed = kibana_lucene_verdicts(result, conformance_corpus)
    assert_every_rule_agrees("kibana-ndjson", engine_reference, observed, rules, "lucene")


# -- the evaluator itself, on hand-made events ----------------------------------------------


def _event(event_id: str, **fields: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"event": {"id": event_id}}
    for dotted, value in fields.items():
        node = document
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return document


@pytest.fixture(scope="module")
def index() -> LuceneIndex:
    events = [
        _event(
            "a",
            **{
                "event.action": "prompt",
                "llmsiem.prompt.text": "Ignore previous instructions",
                "llmsiem.redaction.types": ["email", "phone"],
                "gen_ai.usage.input_tokens": 5000,
                "user.id": "u" * 1025,
            },
        ),
        _event("b", **{"event.action": "response", "llmsiem.response.refusal": True}),
    ]
    return LuceneIndex(events, template_fields())


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("event.action:prompt", {"a"}),
        ("event.action:Prompt", set()),  # keyword terms are case-sensitive
        ("llmsiem.prompt.text:*Ignore*", {"a"}),
        ("llmsiem.prompt.text:*ignore*", set()),  # wildcard terms are not lowercased
        ("llmsiem.prompt.text:/.*[Ii]GNORE.*/", set()),
        ("llmsiem.prompt.text:/.*[Ii]gnore.*/", {"a"}),
        ("llmsiem.prompt.text:Ignore\\ previous\\ instructions", {"a"}),
        ('llmsiem.prompt.text:"Ignore previous instructions"', {"a"}),
        ("llmsiem.redaction.types:phone", {"a"}),  # any element of an array
        ("gen_ai.usage.input_tokens:>=5000", {"a"}),
        ("gen_ai.usage.input_tokens:>5000", set()),
        ("gen_ai.usage.input_tokens:5000", {"a"}),
        ("llmsiem.response.refusal:true", {"b"}),
        ("NOT event.action:prompt", {"b"}),  # a purely negative query matches the rest
        ("_exists_:llmsiem.prompt", {"a"}),
        ("_exists_:user.id", set()),  # over ignore_above: not indexed
        ("llmsiem.prompt.text:*", {"a"}),
        ("no.such.field:x", set()),  # unmapped: matches nothing
        ("event.action:(prompt OR response)", {"a", "b"}),
        ("event.action:prompt event.action:response", {"a", "b"}),  # OR is the default
    ],
)
def test_query_string_semantics(index: LuceneIndex, query: str, expected: set[str]) -> None:
    assert index.search(query) == expected


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("llmsiem.prompt.text:/[A-Z_-]/", "invalid range"),
        ("llmsiem.prompt.text:/.*a.{20}/", "TooComplexToDeterminize"),
        ("llmsiem.prompt.text:/" + "a" * 1001 + "/", "max_regex_length"),
        ("gen_ai.usage.input_tokens:abc", "not a number"),
        ("gen_ai.usage.input_tokens:/5.*/", "keyword and text fields"),
        ("llmsiem.response.refusal:yes", "boolean"),
        ("event.action:(prompt", "ParseException"),
        ("prompt", "unbound term"),
    ],
)
def test_rejected_queries_are_failures(index: LuceneIndex, query: str, reason: str) -> None:
    with pytest.raises(QueryRejectedError, match=reason):
        index.search(query)
