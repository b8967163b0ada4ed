"""Compiling the rule pack: golden outputs, per-rule isolation and pySigma workarounds."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from sigma.backends.elasticsearch.elasticsearch_eql import EqlBackend
from sigma.backends.splunk.splunk import SplunkBackend
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from llmsiem.compiler.backends import FixedEqlBackend, SavedSearchSplunkBackend
from llmsiem.compiler.compile import compile_pack, load_pipeline
from llmsiem.compiler.output import write_result
from llmsiem.compiler.targets import ELASTIC, SPLUNK, TARGETS
from llmsiem.rulecheck import rule_fields
from llmsiem.rulepack import RulePack
from llmsiem.schema_export import leaf_fields

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("LLMSIEM_UPDATE_GOLDEN") == "1"


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("target", list(TARGETS))
def test_compiled_output_matches_golden_files(target: str, tmp_path: Path) -> None:
    result = compile_pack(target)
    assert result.failed == [], [str(i) for i in result.failed]
    write_result(result, tmp_path)
    fresh = _files(tmp_path / target)
    golden_dir = GOLDEN / target
    if UPDATE:
        shutil.rmtree(golden_dir, ignore_errors=True)
        shutil.copytree(tmp_path / target, golden_dir)
    assert fresh == _files(golden_dir), f"regenerate with LLMSIEM_UPDATE_GOLDEN=1 ({target})"


def test_every_detection_rule_compiles_for_every_target() -> None:
    pack = RulePack.load()
    detections = {rule.name for _, rule in pack.parse_all() if isinstance(rule, SigmaRule)}
    names = {str(rule.id): rule.name for _, rule in pack.parse_all()}
    for target in TARGETS:
        result = compile_pack(target)
        assert not result.failed, (target, [str(i) for i in result.failed])
        compiled = {c.name for c in result.compiled if c.kind == "detection"}
        # a rule the target cannot express is skipped with its reason (Loki: JSON arrays);
        # a base rule that only feeds generate: false correlations is compiled inside them
        skipped = {names[i.rule_id] for i in result.issues if i.skipped} & detections
        base_only = {names[i.rule_id] for i in result.base_only}
        accounted = compiled | skipped | base_only
        assert accounted == detections, (target, detections ^ accounted)
        assert "llm_call_by_user" in base_only


def test_compiling_twice_gives_identical_output() -> None:
    first = compile_pack("splunk-spl")
    second = compile_pack("splunk-spl")
    assert [c.queries for c in first.compiled] == [c.queries for c in second.compiled]


def test_stock_pysigma_mutates_rules_when_converted_twice() -> None:
    """The reason every conversion parses a fresh rule: pipelines modify rules in place."""
    pack = RulePack.load()
    file = next(f for f in pack.files if f.path.stem == "tool_call_denied")
    rule = file.parse()
    backend = SplunkBackend(load_pipeline(SPLUNK))
    once = backend.convert(SigmaCollection([rule]))
    twice = backend.convert(SigmaCollection([rule]))
    assert once != twice
    assert twice[0].count('index="llm"') == 2


def test_correlation_before_base_rules_in_file_order(tmp_path: Path) -> None:
    """A correlation sorted before its base rule still embeds the processed base query."""
    src = RulePack.load().root
    (tmp_path / "a").mkdir()
    (tmp_path / "z").mkdir()
    shutil.copy(src / "correlation" / "correlation_refusal_burst.yml", tmp_path / "a")
    shutil.copy(src / "guardrail" / "model_refusal.yml", tmp_path / "z")
    result = compile_pack("elastic-esql", tmp_path)
    (correlation,) = [c for c in result.compiled if c.kind == "correlation"]
    (base,) = [c for c in result.compiled if c.kind == "detection"]
    assert correlation.queries[0].startswith("from logs-llm*")
    base_filter = base.queries[0].split("| where ", 1)[1]
    assert base_filter in correlation.queries[0]


def test_unsupported_correlation_is_skipped_per_rule_not_fatal() -> None:
    result = compile_pack("loki-logql")
    skipped = {i.title: i for i in result.issues if i.skipped}
    issue = skipped["Prompt Injection Followed By Sensitive Tool Call"]
    assert "Ordered temporal" in issue.message
    assert issue.path == "correlation/correlation_injection_then_sensitive_tool.yml"
    assert any(c.name == "correlation_refusal_burst" for c in result.compiled)


def test_failing_rule_names_rule_and_backend(tmp_path: Path) -> None:
    src = RulePack.load().root
    shutil.copy(src / "tool" / "tool_call_denied.yml", tmp_path)
    bad = (src / "tool" / "tool_call_failed.yml").read_text().replace("product: llm", "product: x")
    (tmp_path / "tool_call_failed.yml").write_text(bad)
    result = compile_pack("elastic-lucene", tmp_path)
    assert [c.name for c in result.compiled] == ["tool_call_denied"]
    (failure,) = result.failed
    assert failure.title == "Agent Tool Call Failed"
    assert failure.backend == "lucene:default"
    assert "only handles logsource product llm" in failure.message
    assert "tool_call_failed.yml" in str(failure)


def test_fixed_eql_temporal_ordered_is_valid_sequence() -> None:
    pack = RulePack.load()
    by_name = {f.path.stem: f for f in pack.files}
    names = ("prompt_injection_ignore_instructions", "tool_sensitive_file_access")
    texts = [by_name[n].text for n in (*names, "correlation_injection_then_sensitive_tool")]
    stock = EqlBackend(load_pipeline(ELASTIC)).convert(
        SigmaCollection.from_yaml("\n---\n".join(texts))
    )
    fixed = FixedEqlBackend(load_pipeline(ELASTIC)).convert(
        SigmaCollection.from_yaml("\n---\n".join(texts))
    )
    assert stock[-1].rstrip().endswith("by  with runs=2")
    assert fixed[-1].rstrip().endswith("]")
    assert fixed[-1].startswith("sequence by trace.id with maxspan=5m")


def test_fixed_eql_refuses_value_count_instead_of_inverting_it() -> None:
    result = compile_pack("elastic-eql")
    skipped = {i.title: i.message for i in result.issues if i.skipped}
    assert "distinct" in skipped["Many Distinct Models Per User"]
    stock = EqlBackend(load_pipeline(ELASTIC))
    by_name = {f.path.stem: f.text for f in RulePack.load().files}
    base = by_name["llm_call_by_user"].replace("user.id|exists: true", "user.id: u-1")
    base = base.replace("gen_ai.request.model|exists: true", "gen_ai.request.model: gpt*")
    out = stock.convert(
        SigmaCollection.from_yaml(base + "\n---\n" + by_name["correlation_many_models_per_user"])
    )
    assert "by gen_ai.request.model with runs=4" in out[-1]  # same-value runs: wrong


def test_splunk_savedsearch_never_starts_with_a_pipe() -> None:
    by_name = {f.path.stem: f for f in RulePack.load().files}
    text = by_name["markdown_image_exfiltration"].text
    pipeline = load_pipeline(SPLUNK)
    regex_or = text.replace(
        "    condition: selection",
        "    other:\n        llmsiem.response.text|contains: 'exfil'\n"
        "    condition: selection or other",
    )
    stock_or = SplunkBackend(load_pipeline(SPLUNK)).convert(
        SigmaCollection.from_yaml(regex_or), "savedsearches"
    )
    fixed_or = SavedSearchSplunkBackend(pipeline).convert(
        SigmaCollection.from_yaml(regex_or), "savedsearches"
    )
    assert "search =  \\\n| rex" in stock_or
    search = fixed_or.split("search = ", 1)[1]
    assert search.startswith('index="llm" sourcetype="llmsiem:telemetry"')
    assert search.rstrip().endswith("| `llmsiem_filter_markdown_image_exfiltration`")


def test_splunk_app_layout_and_filter_macros(tmp_path: Path) -> None:
    result = compile_pack("splunk-savedsearches")
    write_result(result, tmp_path)
    app = tmp_path / "splunk-savedsearches" / "llmsiem"
    conf = (app / "default" / "savedsearches.conf").read_text()
    macros = (app / "default" / "macros.conf").read_text()
    assert (app / "default" / "app.conf").is_file() and (
        app / "metadata" / "default.meta"
    ).is_file()
    stanzas = re.split(r"\n\[(?! search )", conf)[1:]  # "[ search" opens a multisearch part
    assert len(stanzas) == len(result.compiled)
    for stanza in stanzas:
        search = stanza.split("\nsearch = ", 1)[1]
        # only a generating command (multisearch, for temporal_ordered) may lead with a pipe
        assert not search.lstrip().startswith("|") or search.startswith("| multisearch"), stanza
        macro = search.rsplit("`", 2)[1]
        assert f"[{macro}]\ndefinition = search *" in macros
        assert "cron_schedule = */5 * * * *" in stanza


def test_kibana_ndjson_is_importable_shape_with_stable_ids(tmp_path: Path) -> None:
    write_result(compile_pack("kibana-ndjson"), tmp_path / "a")
    write_result(compile_pack("kibana-ndjson"), tmp_path / "b")
    text_a = (tmp_path / "a" / "kibana-ndjson" / "llmsiem-rules.ndjson").read_text()
    text_b = (tmp_path / "b" / "kibana-ndjson" / "llmsiem-rules.ndjson").read_text()
    assert text_a == text_b
    rules = [json.loads(line) for line in text_a.splitlines()][1:]  # line 1: exception list
    atlas_tagged = {
        str(rule.id): any(tag.namespace == "atlas" for tag in rule.tags)
        for _, rule in RulePack.load().parse_all()
    }
    for rule in rules:
        assert rule["rule_id"] in atlas_tagged
        assert rule["severity"] in {"low", "medium", "high", "critical"}
        assert rule["type"] in {"query", "eql", "esql", "machine_learning"}
        assert rule.get("index") == ["logs-llm*"] or rule["type"] in {"esql", "machine_learning"}
        has_atlas_threat = any(t["framework"] == "MITRE ATLAS" for t in rule["threat"])
        assert has_atlas_threat == atlas_tagged[rule["rule_id"]], rule["name"]
        assert rule["exceptions_list"][0]["list_id"] == "llmsiem-allowlist"
        if rule["type"] == "eql":
            assert not rule["query"].startswith("any where sequence")
    assert len({r["rule_id"] for r in rules}) == len(rules)


def test_kibana_build_needs_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.request

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    from sigma.data import mitre_attack

    monkeypatch.setattr(mitre_attack, "urlopen", refuse)
    result = compile_pack("kibana-ndjson")
    threats = [t for c in result.compiled for q in c.queries for t in q.get("threat", [])]
    assert any(t["technique"][0]["name"] == "Cloud Instance Metadata API" for t in threats) or any(
        t["technique"][0]["name"] == "Unsecured Credentials" for t in threats
    )


def _pipeline_fields(pipeline_names: tuple[str, ...]) -> set[str]:
    fields: set[str] = set()
    for file, rule in RulePack.load().parse_all():
        if isinstance(rule, SigmaRule):
            load_pipeline(pipeline_names).apply(rule)
        fields |= rule_fields(rule)
        del file
    return fields


def test_elastic_pipeline_fields_exist_in_elastic_schema() -> None:
    assert _pipeline_fields(ELASTIC) <= set(leaf_fields())


def test_splunk_pipeline_fields_exist_as_hec_extracted_fields() -> None:
    types = leaf_fields()
    splunk_fields = {name + "{}" if t.endswith("[]") else name for name, t in types.items()}
    splunk_fields |= {"index", "sourcetype"}
    used = _pipeline_fields(SPLUNK)
    assert used <= splunk_fields, used - splunk_fields
    assert "llmsiem.redaction.types{}" in used
