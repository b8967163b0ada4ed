"""The agent fleet of ``llmsiem agent-eval``: quiet agents whose tool-call rate jumps while
bulk agents always run high. The per-agent baseline separates them; no fixed ceiling does.
The ground truth is the generator's per-run label, and the ceiling sweep counts calls per
agent and minute straight from the events."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from llmsiem.agent_eval import FLEET_RULES, score_fleet
from llmsiem.cli.common import load_engine_rules, make_pipeline
from llmsiem.cli.main import cli
from llmsiem.deadletter import DeadLetter
from llmsiem.event import LLMEvent
from llmsiem.synthetic import FLEET_BENIGN, FLEET_JUMP, generate_agent_fleet

MINUTES = 120


@pytest.fixture(scope="module")
def fleet() -> list[dict[str, Any]]:
    return generate_agent_fleet(MINUTES, seed=23)


def test_fleet_is_valid_labelled_time_ordered_and_deterministic(
    fleet: list[dict[str, Any]],
) -> None:
    for event in fleet[::97]:
        LLMEvent.model_validate(event)
    stamps = [e["@timestamp"] for e in fleet]
    assert stamps == sorted(stamps)
    runs: dict[str, tuple[str, set[str]]] = {}
    for event in fleet:
        session = event["gen_ai"]["conversation"]["id"]
        label = event["llmsiem"]["label"]
        assert label["malicious"] == (label["scenario"] == FLEET_JUMP)
        runs.setdefault(session, (label["scenario"], set()))[1].add(event["gen_ai"]["agent"]["id"])
    assert all(len(agents) == 1 for _, agents in runs.values())  # one agent per run
    scenarios = [scenario for scenario, _ in runs.values()]
    assert scenarios.count(FLEET_JUMP) >= 10 and FLEET_BENIGN in scenarios
    assert generate_agent_fleet(MINUTES, seed=23) == fleet


def test_baseline_separates_jumps_from_bulk_agents_and_no_ceiling_does(
    fleet: list[dict[str, Any]],
) -> None:
    rules = load_engine_rules(None, None)
    report = score_fleet(rules, fleet, make_pipeline("redact", DeadLetter(None)))
    baseline, fixed = report["rules"]
    assert (baseline["rule"], fixed["rule"]) == FLEET_RULES
    assert baseline["recall"]["rate"] >= 0.85, baseline
    assert baseline["fpr"]["rate"] <= 0.01, baseline
    assert fixed["fpr"]["rate"] >= 0.10, fixed  # bulk agents always pass 30 a minute
    assert report["best_ceiling_at_target_fpr"]["recall"] <= 0.5
    assert report["best_ceiling_at_target_recall"]["fpr"] >= 0.2


def test_agent_eval_cli_reports_the_fleet() -> None:
    result = CliRunner().invoke(
        cli,
        [
            "agent-eval",
            "--sessions",
            "10",
            "--fleet-minutes",
            "60",
            "--corpora",
            "/nonexistent",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["fleet"]["hijacked_runs"] >= 5
    assert set(report["targets"]) >= {"fleet_baseline_recall", "fleet_baseline_fpr"}
    skipped = CliRunner().invoke(
        cli, ["agent-eval", "--sessions", "10", "--fleet-minutes", "0", "--format", "json"]
    )
    assert json.loads(skipped.output)["fleet"] is None
