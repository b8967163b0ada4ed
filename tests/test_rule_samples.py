"""Every rule's true-positive and true-negative samples give exactly the expected verdict."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from engine_helpers import fired, run_events
from llmsiem.engine.rules import EngineRules, compile_for_engine
from llmsiem.resources import content_dir
from llmsiem.rule_samples import load_samples, sample_dir
from llmsiem.rulepack import RulePack

PACK = RulePack.load()
NAMES = [rule.name or "" for _, rule in PACK.parse_all()]


@pytest.fixture(scope="module")
def engine_rules() -> EngineRules:
    rules = compile_for_engine(PACK)
    assert rules.issues == [], [str(i) for i in rules.issues]
    return rules


def _only(rules: EngineRules, name: str) -> EngineRules:
    """The rule alone (detections forced standalone), plus base rules for a correlation."""
    for detection in rules.detections:
        if detection.meta.name == name:
            return EngineRules(detections=[replace(detection, standalone=True)])
    correlation = next(c for c in rules.correlations if c.meta.name == name)
    bases = [d for d in rules.detections if d.meta.name in correlation.rules]
    return EngineRules(detections=bases, correlations=[correlation])


def _matched(rules: EngineRules, name: str, case: list[dict[str, Any]]) -> set[str]:
    """Event ids a detection matched, or the event ids of a correlation's alerts."""
    alerts = fired(run_events(_only(rules, name), case), name)
    return {event for alert in alerts for event in alert["llmsiem"]["alert"]["event_ids"]}


@pytest.mark.parametrize("name", NAMES)
def test_rule_samples_give_expected_verdicts(engine_rules: EngineRules, name: str) -> None:
    samples = load_samples(sample_dir(content_dir("rule_samples"), name))
    assert samples.true_positives and samples.true_negatives
    is_detection = any(d.meta.name == name for d in engine_rules.detections)
    for index, case in enumerate(samples.true_positives):
        matched = _matched(engine_rules, name, case)
        if is_detection:
            assert matched == {e["event"]["id"] for e in case}, f"{name}: TP {index} missed"
        else:
            assert matched, f"{name}: correlation TP {index} did not fire"
    for index, case in enumerate(samples.true_negatives):
        assert _matched(engine_rules, name, case) == set(), f"{name}: TN {index} fired"
