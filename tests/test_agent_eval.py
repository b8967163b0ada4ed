"""Agent/MCP scenarios: labelled generated sessions, their scoring, AgentDojo in context."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import shared_path
from llmsiem.agent_eval import agentdojo_traces, score_agentdojo, score_sessions
from llmsiem.cli.common import load_engine_rules, make_pipeline
from llmsiem.cli.main import cli
from llmsiem.deadletter import DeadLetter
from llmsiem.engine.rules import EngineRules
from llmsiem.event import LLMEvent
from llmsiem.pipeline import Pipeline
from llmsiem.synthetic import AGENT_ATTACKS, generate_agent_sessions


@pytest.fixture(scope="module")
def rules() -> EngineRules:
    return load_engine_rules(None, None)


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return make_pipeline("redact", DeadLetter(None))


@pytest.fixture(scope="module")
def sessions() -> list[dict[str, Any]]:
    return list(generate_agent_sessions(3 * len(AGENT_ATTACKS) * 10, seed=11))


def test_generated_sessions_are_valid_labelled_and_deterministic(
    sessions: list[dict[str, Any]],
) -> None:
    for event in sessions:
        LLMEvent.model_validate(event)
        assert set(event["llmsiem"]["label"]) == {"scenario", "malicious"}
        assert "label" not in event.get("gen_ai", {})
    scenarios = {e["llmsiem"]["label"]["scenario"] for e in sessions}
    assert scenarios == {s.__name__ for s in AGENT_ATTACKS} | {"benign_agent_session"}
    again = list(generate_agent_sessions(3 * len(AGENT_ATTACKS) * 10, seed=11))
    assert again == sessions


def test_session_recall_and_benign_fpr_meet_targets(
    rules: EngineRules, pipeline: Pipeline, sessions: list[dict[str, Any]]
) -> None:
    report = score_sessions(rules, sessions, pipeline)
    for scenario in report["scenarios"]:
        assert scenario["total"] == 3
    assert report["attack_sessions"]["rate"] >= 0.90, report["scenarios"]
    assert report["benign_sessions"]["rate"] <= 0.01, report["benign_sessions"]


def test_scoring_counts_alerts_on_sessions_labelled_benign(
    rules: EngineRules, pipeline: Pipeline, sessions: list[dict[str, Any]]
) -> None:
    """The scorer can fail: attack sessions relabelled benign show up as false positives."""
    relabelled = json.loads(json.dumps(sessions))
    for event in relabelled:
        event["llmsiem"]["label"]["malicious"] = False
    report = score_sessions(rules, relabelled, pipeline)
    assert report["attack_sessions"]["total"] == 0
    assert report["benign_sessions"]["hits"] >= 3 * len(AGENT_ATTACKS) * 0.9


def test_agentdojo_injected_calls_are_caught_in_context(
    rules: EngineRules, pipeline: Pipeline
) -> None:
    corpora = shared_path("corpora", "dev")
    shared_path("corpora", "dev", "agentdojo")
    report = score_agentdojo(rules, corpora, pipeline)
    templates = {t["name"]: t for t in report["attack_templates"]}
    important = templates["important_instructions"]
    assert important["rate"] >= 0.70
    # over all four templates, "TODO: {goal}" included, as `agent-eval` checks it
    hits = sum(t["hits"] for t in templates.values())
    assert hits >= 0.70 * sum(t["total"] for t in templates.values())
    assert (
        important["rules"].get("agent_tool_call_after_injected_result", 0)
        >= 0.70 * important["total"]
    )
    # the context rule never fires on an ordinary call after ordinary data
    assert "agent_tool_call_after_injected_result" not in report["ordinary_tool_calls"]["rules"]
    assert report["ordinary_tool_calls"]["rate"] <= 0.005, report["ordinary_tool_calls"]
    # a payee change alerts after an injected result, not as an ordinary write on its own
    assert important["rules"].get("agent_payment_redirect_after_injected_result", 0) >= 1
    assert "tool_payee_change" not in report["ordinary_tool_calls"]["rules"]
    # the injected call itself (not just its tool result) is what counts
    cases = agentdojo_traces(corpora)
    assert all(len(events) == 2 for _, _, events in cases)


def test_agent_eval_cli_reports_json_and_checks(tmp_path: Any) -> None:
    result = CliRunner().invoke(
        cli,
        ["agent-eval", "--sessions", "70", "--corpora", str(tmp_path), "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["agentdojo"] is None
    assert report["targets"]["session_recall"]["met"]
    bad = CliRunner().invoke(cli, ["agent-eval", "--sessions", "0"])
    assert bad.exit_code == 2


def test_generate_writes_labelled_agent_sessions(tmp_path: Any) -> None:
    out = tmp_path / "agent.jsonl"
    result = CliRunner().invoke(cli, ["generate", "--agent-sessions", "20", "--out", str(out)])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert events == list(generate_agent_sessions(20, seed=7))
    assert {e["llmsiem"]["label"]["malicious"] for e in events} == {True, False}
