"""Loki target gives the engine's verdicts: LogQL evaluated with real RE2 and the documented
query-language rules (llmsiem.conformance.logql), on the conformance corpus."""

from __future__ import annotations

from typing import Any

import pytest

from conformance_helpers import assert_every_rule_agrees
from llmsiem.compiler.compile import compile_pack
from llmsiem.conformance import logql
from llmsiem.conformance.verdicts import Verdicts, engine_verdicts
from llmsiem.rule_samples import build_event
from test_conformance_splunk import case_insensitive_model_cases

SELECTOR = '{service_name="llmsiem"} | json | '
TEXT = "llmsiem_prompt_text"


def test_loki_agrees_with_engine(conformance_corpus: Any, engine_reference: Verdicts) -> None:
    result = compile_pack("loki-logql")
    rules = [str(c.name) for c in result.compiled]
    observed = logql.logql_verdicts(result, conformance_corpus)
    assert_every_rule_agrees("loki-logql", engine_reference, observed, rules)


def test_every_rule_is_compiled_or_skipped_with_a_reason() -> None:
    """A rule LogQL cannot express is removed from the target, with the reason reported."""
    result = compile_pack("loki-logql")
    assert not result.failed
    reasons = {i.path.split("/")[-1]: i.message for i in result.issues if i.skipped}
    assert "guardrail_injection_verdict.yml" in reasons
    assert "JSON array" in reasons["guardrail_injection_verdict.yml"]
    compiled = {c.name for c in result.compiled}
    assert {"prompt_injection_ignore_instructions", "jailbreak_dan_family"} <= compiled


def _labels(query: str, **fields: Any) -> bool:
    entry = logql.log_line(build_event(fields, 0, "unit"))
    return logql.parse_log_query(query).labels(entry) is not None


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        (SELECTOR + "llmsiem_prompt_text=~`abc`", "xabcx", False),
        (SELECTOR + "llmsiem_prompt_text=~`.*abc.*`", "x\nabc", False),
        (SELECTOR + "llmsiem_prompt_text=~`(?s).*abc.*`", "x\nabc", True),
        (SELECTOR + "llmsiem_prompt_text=~`(?i)ABC`", "abc", True),
        (SELECTOR + "llmsiem_prompt_text!~`abc`", "abc", False),
        (SELECTOR + "llmsiem_prompt_text=`abc`", "ABC", False),
        (SELECTOR + 'llmsiem_prompt_text="a\\nb"', "a\nb", True),
        (SELECTOR + "gen_ai_tool_name=``", "abc", True),
        (SELECTOR + "gen_ai_tool_name>=1", "abc", False),
        (SELECTOR + f"{TEXT}=~`a.*` or {TEXT}=~`z` and user_id=`x`", "ab", True),
        ('{service_name="llmsiem"} |= "abc" | json', "abc", True),
        ('{service_name="llmsiem"} |~ "ab[cd]" | json', "abd", True),
        ('{service_name="other"} | json', "abc", False),
    ],
)
def test_logql_rules(query: str, text: str, expected: bool) -> None:
    """Label regexes are whole-value RE2; missing labels are empty strings for string filters
    and fail numeric ones; line filters search anywhere; ``and`` binds tighter than ``or``."""
    assert _labels(query, **{"llmsiem.prompt.text": text, "user.id": "u"}) is expected


def test_json_parser_skips_arrays_and_renames_stream_label_clashes() -> None:
    entry = logql.log_line(build_event({"service.name": "app"}, 0, "unit"))
    labels = entry.parsed
    assert labels["service_name"] == "llmsiem" and labels["service_name_extracted"] == "app"
    assert not any(name.startswith("event_category") for name in labels)


def test_outside_the_subset_is_an_error() -> None:
    for query in (SELECTOR + "| line_format `x`", SELECTOR + "x=~`(`", "{a=`b`} | logfmt"):
        with pytest.raises(logql.LogQLError):
            logql.parse_log_query(query)
    with pytest.raises(logql.LogQLError):
        logql.parse_metric("rate({a=`b`}[5m])")


def test_correlation_groups_and_values_ignore_case() -> None:
    corpus = case_insensitive_model_cases()
    engine = engine_verdicts(corpus)
    observed = logql.logql_verdicts(compile_pack("loki-logql"), corpus)
    assert engine.correlations[("correlation_many_models_per_user", "four")]
    for key, fired in engine.correlations.items():
        assert observed.correlations[key] == fired, key


QUOTING_RULE = r"""
title: Quoting probe
id: 7b0d1c1e-0000-4000-8000-000000000002
logsource:
    product: llm
detection:
    plain:
        llmsiem.prompt.text|contains: 'a`b "c\d'
    regex:
        llmsiem.prompt.text|re: "^x`\\d+\n"
    condition: plain or regex
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('1 A`B "C\\D 2', True),
        ('1 a`b "cd 2', False),
        ("x`42\nrest", True),
        ("x`42 rest", False),
        ("y x`42\n", False),
    ],
)
def test_backticks_quotes_and_line_breaks_survive_logql_quoting(text: str, expected: bool) -> None:
    from sigma.collection import SigmaCollection

    from llmsiem.compiler.backends import JsonLogQLBackend
    from llmsiem.compiler.compile import load_pipeline

    backend = JsonLogQLBackend(load_pipeline(("tuning.yml", "loki.yml")))
    (query,) = backend.convert(SigmaCollection.from_yaml(QUOTING_RULE))
    assert "\n" not in query
    assert _labels(query, **{"llmsiem.prompt.text": text}) is expected


def test_partitioned_rule_keeps_every_alternative() -> None:
    """An over-long rule split into queries keeps all alternatives of its top-level OR."""
    from sigma.conditions import ConditionFieldEqualsValueExpression, ConditionOR
    from sigma.types import SigmaString

    from llmsiem.compiler.backends import JsonLogQLBackend

    leaves = [ConditionFieldEqualsValueExpression("f", SigmaString(str(n))) for n in range(3)]
    parts = JsonLogQLBackend().partition_rule(ConditionOR(leaves), 2)  # type: ignore[arg-type]
    kept = [str(leaf.value) for part in parts for leaf in part.args]
    assert sorted(kept) == ["0", "1", "2"] and len(parts) == 2
