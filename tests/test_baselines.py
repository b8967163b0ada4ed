"""Per-entity baseline rules: validation of ``llmsiem_baseline``, engine semantics on small
hand-computed cases, and every compile target skipping them with a stated reason."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from engine_helpers import compile_texts, fired, run_partials
from llmsiem.baseline_spec import Baseline
from llmsiem.cli.main import cli
from llmsiem.compiler.baselines import ANOMALY_JOBS_FILE
from llmsiem.compiler.compile import compile_pack
from llmsiem.compiler.lucene_jvm import start_jvm
from llmsiem.compiler.output import write_result
from llmsiem.compiler.targets import TARGETS
from llmsiem.conformance.corpus import SampleCorpus
from llmsiem.conformance.lucene import LuceneIndex, template_fields
from llmsiem.conformance.verdicts import Verdicts

BASE = """\
title: Tool Call
id: 11111111-1111-4111-8111-111111111111
name: tool_call
status: test
description: Every tool call.
references: [https://example.org]
author: test
date: '2026-12-03'
tags: [owasp.llm06]
logsource: {product: llm, category: tool_call}
detection:
    selection: {event.action: tool_call}
    condition: selection
falsepositives: [All]
level: informational
"""
BASELINE = """\
title: Tool Calls Above Baseline
id: 22222222-2222-4222-8222-222222222222
name: tool_calls_above_baseline
status: test
description: Detects an agent above its own baseline.
references: [https://example.org]
author: test
date: '2026-12-03'
tags: [owasp.llm10]
correlation:
    type: {type}
    rules: [tool_call]
    group-by: [gen_ai.agent.id]
    timespan: 1m
    condition: {{gte: 3}}
    generate: false
llmsiem_baseline: {settings}
falsepositives: [Bigger tasks]
level: medium
"""
SETTINGS = "{history_buckets: 4, deviations: 2, min_history: 3, min_spread_ratio: 0.1}"


def _rule(settings: str = SETTINGS, kind: str = "event_count") -> str:
    return BASELINE.format(type=kind, settings=settings)


def _calls(per_minute: list[int], agent: str = "agent-1") -> list[dict[str, Any]]:
    return [
        {
            "event.action": "tool_call",
            "gen_ai.agent.id": agent,
            "@timestamp": f"2026-11-20T12:{minute:02d}:{second:02d}Z",
        }
        for minute, count in enumerate(per_minute)
        for second in range(count)
    ]


def test_threshold_is_mean_plus_k_sample_deviations_with_a_floor() -> None:
    baseline = Baseline(history_buckets=4, deviations=2, min_history=3, min_spread_ratio=0.1)
    assert baseline.threshold([4, 4]) is None  # too little history
    # mean 5, sample stddev 1 -> 5 + 2 x 1
    assert baseline.threshold([4, 5, 6]) == pytest.approx(7.0)
    # flat history: the spread is 0.1 x mean, not 0 (one more call does not fire)
    assert baseline.threshold([10, 10, 10]) == pytest.approx(12.0)


@pytest.mark.parametrize(
    ("history", "last", "fires"),
    [
        ([4, 5, 6], 8, True),  # above 7
        ([4, 5, 6], 7, False),  # not above 7
        ([4, 5], 9, False),  # two buckets of history, three needed
        ([1, 1, 1], 2, False),  # above 1.2 but under the floor of 3 calls
        ([30, 4, 5, 6, 5], 8, True),  # the 30 has left the 4-bucket history
    ],
)
def test_engine_fires_on_the_bucket_above_the_entity_baseline(
    tmp_path: Path, history: list[int], last: int, fires: bool
) -> None:
    rules = compile_texts(tmp_path, BASE, _rule())
    (correlation,) = rules.correlations
    assert correlation.baseline == Baseline(4, 2.0, 3, 0.1)
    alerts = fired(run_partials(rules, _calls([*history, last])), "tool_calls_above_baseline")
    if not fires:
        assert alerts == []
        return
    (alert,) = alerts
    details = alert["llmsiem"]["alert"]
    assert details["event_count"] == last and details["correlation"]["metric"] == last
    window = details["correlation"]["window"]
    minute = len(history)
    assert window["start"].startswith(f"2026-11-20T12:{minute:02d}:00")
    assert window["end"].startswith(f"2026-11-20T12:{minute + 1:02d}:00")


def test_each_entity_keeps_its_own_baseline_case_insensitively(tmp_path: Path) -> None:
    rules = compile_texts(tmp_path, BASE, _rule())
    quiet = _calls([4, 5, 6, 0, 8], "Agent-Q")[:-8] + _calls([0, 0, 0, 8], "agent-q")
    busy = _calls([40, 41, 39, 40, 44], "agent-busy")
    partials = sorted(quiet + busy, key=lambda p: p["@timestamp"])
    (alert,) = fired(run_partials(rules, partials), "tool_calls_above_baseline")
    assert alert["llmsiem"]["alert"]["correlation"]["group_by"] == {"gen_ai.agent.id": "agent-q"}


@pytest.mark.parametrize(
    ("settings", "kind", "message"),
    [
        ("{deviations: 0}", "event_count", "llmsiem_baseline.deviations: must be above 0"),
        (
            "{history_buckets: 2.5}",
            "event_count",
            "llmsiem_baseline.history_buckets: expected a whole",
        ),
        (
            "{min_history: 9, history_buckets: 4}",
            "event_count",
            "llmsiem_baseline.min_history: 9 is more than",
        ),
        ("{windows: 3}", "event_count", "llmsiem_baseline.windows: unknown setting"),
        ("{deviations: lots}", "event_count", "llmsiem_baseline.deviations: expected a number"),
        ("[3]", "event_count", "llmsiem_baseline: expected a mapping"),
        (
            SETTINGS,
            "value_count",
            "llmsiem_baseline: baselines are kept for event_count and value_sum correlations",
        ),
    ],
)
def test_validate_names_the_file_and_the_bad_key(
    tmp_path: Path, settings: str, kind: str, message: str
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "tool_call.yml").write_text(BASE)
    text = _rule(settings, kind)
    if kind == "value_count":
        text = text.replace("condition: {gte: 3}", "condition: {gte: 3, field: gen_ai.tool.name}")
    (rules / "tool_calls_above_baseline.yml").write_text(text)
    result = CliRunner().invoke(cli, ["validate", "--rules", str(rules), "--format", "json"])
    assert result.exit_code == 1, result.output
    findings = json.loads(result.stdout)["findings"]
    baseline = [f for f in findings if f["check"] == "baseline"]
    assert len(baseline) == 1, findings
    assert baseline == [
        {
            "path": "tool_calls_above_baseline.yml",
            "rule": "tool_calls_above_baseline",
            "check": "baseline",
            "message": baseline[0]["message"],
        }
    ]
    assert baseline[0]["message"].startswith(message), baseline[0]["message"]


PACK_BASELINES = {"agent_tool_call_rate_baseline", "correlation_token_baseline_per_api_key"}


SPLUNK_TARGETS = ("splunk-spl", "splunk-savedsearches")
CONVERTING = (*SPLUNK_TARGETS, "kibana-ndjson")  # kibana-ndjson: machine_learning rules


@pytest.mark.parametrize("target", [t for t in TARGETS.names() if t not in CONVERTING])
def test_every_other_target_skips_baseline_rules_with_a_reason(target: str) -> None:
    assert not TARGETS.get(target).baselines
    result = compile_pack(target)
    assert not PACK_BASELINES & {str(c.name) for c in result.compiled}
    skipped = {Path(i.path).stem: i for i in result.issues if i.skipped}
    for name in PACK_BASELINES:
        assert skipped[name].message.startswith("per-entity baseline (llmsiem_baseline)")
        assert "docs/baselines.md" in skipped[name].message or "Anomaly" in skipped[name].message


@pytest.mark.parametrize("target", SPLUNK_TARGETS)
def test_splunk_targets_compile_baseline_rules(target: str) -> None:
    """Their behaviour is checked on data: tests/test_baselines_differential.py (generated
    entities) and tests/test_conformance_splunk.py (the rule samples)."""
    result = compile_pack(target)
    assert {str(c.name) for c in result.compiled} >= PACK_BASELINES
    assert not [i for i in result.issues if Path(i.path).stem in PACK_BASELINES]


def test_coverage_table_shows_the_baseline_reason() -> None:
    result = CliRunner().invoke(cli, ["compile", "--target", "elastic-lucene", "--coverage"])
    assert result.exit_code == 0, result.output
    row = next(
        line for line in result.output.splitlines() if "agent_tool_call_rate_baseline" in line
    )
    (note,) = re.findall(r"⊘ \[(\d+)\]", row)
    assert f"[{note}] per-entity baseline (llmsiem_baseline)" in result.output


def test_docs_describe_every_pack_baseline_rule() -> None:
    docs = (Path(__file__).parents[1] / "docs" / "baselines.md").read_text(encoding="utf-8")
    for name in PACK_BASELINES:
        assert name in docs


def test_kibana_bundle_carries_an_anomaly_job_per_baseline_rule(
    tmp_path: Path, conformance_corpus: SampleCorpus, engine_reference: Verdicts
) -> None:
    """Each job has the documented shape, and its datafeed query, run on real Lucene over the
    conformance corpus, selects exactly the events the engine's base rule matches."""
    result = compile_pack("kibana-ndjson")
    write_result(result, tmp_path)
    jobs = json.loads((tmp_path / "kibana-ndjson" / ANOMALY_JOBS_FILE).read_text())
    assert len(jobs) == len(PACK_BASELINES)
    start_jvm()
    index = LuceneIndex(conformance_corpus.events, template_fields())
    expected = {
        "agent_tool_call_rate_baseline": ("1m", "high_non_zero_count", "gen_ai.agent.id", None),
        "correlation_token_baseline_per_api_key": (
            "10m",
            "high_non_null_sum",
            "llmsiem.api_key.id",
            "llmsiem.usage.total_tokens",
        ),
    }
    for entry in jobs:
        job = entry["job"]
        name = entry["job_id"].removeprefix("llmsiem-").replace("-", "_")
        span, function, entity, value = expected[name]
        assert re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}[a-z0-9]", entry["job_id"])
        analysis = job["analysis_config"]
        (detector,) = analysis["detectors"]
        assert analysis["bucket_span"] == span and analysis["influencers"] == [entity]
        assert detector["function"] == function and detector["partition_field_name"] == entity
        assert detector.get("field_name") == value
        assert job["data_description"] == {"time_field": "@timestamp"}
        assert job["datafeed_config"]["indices"] == ["logs-llm*"]
        query = job["datafeed_config"]["query"]["query_string"]["query"]
        base = "agent_tool_call" if "agent" in name else "llm_call_by_api_key"
        assert engine_reference.detections[base]
        assert index.search(query) == engine_reference.detections[base], name
    # Elastic Security alerts on each job's anomalies through a machine_learning rule.
    ndjson = (tmp_path / "kibana-ndjson" / "llmsiem-rules.ndjson").read_text()
    ml_rules = {
        rule["machine_learning_job_id"][0]: rule
        for rule in map(json.loads, ndjson.splitlines())
        if rule.get("type") == "machine_learning"
    }
    assert set(ml_rules) == {entry["job_id"] for entry in jobs}
    ids = {str(c.name): c.rule_id for c in result.compiled}
    for entry in jobs:
        rule = ml_rules[entry["job_id"]]
        name = entry["job_id"].removeprefix("llmsiem-").replace("-", "_")
        assert rule["rule_id"] == ids[name] == entry["job"]["custom_settings"]["llmsiem"]["rule_id"]
        assert 0 < rule["anomaly_threshold"] <= 100
        assert "index" not in rule and "query" not in rule and "language" not in rule
        assert rule["exceptions_list"][0]["list_id"] == "llmsiem-allowlist"
