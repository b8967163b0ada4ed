"""Helpers for engine tests: compile inline rules, run them over in-memory events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmsiem.engine.detect import Detector
from llmsiem.engine.rules import EngineRules, compile_for_engine
from llmsiem.engine.store import EventStore
from llmsiem.rule_samples import build_event
from llmsiem.rulepack import RulePack


def write_rules(directory: Path, *texts: str) -> RulePack:
    """A pack made of the given rule texts (one file each)."""
    directory.mkdir(parents=True, exist_ok=True)
    for index, text in enumerate(texts):
        (directory / f"rule_{index}.yml").write_text(text)
    return RulePack.load(directory)


def run_events(rules: EngineRules, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Alerts of the rules over fully built events."""
    store = EventStore()
    report = store.load_documents(events, "test")
    assert report.rejected == 0, "test events must be valid"
    return Detector(rules, store).run()


def run_partials(rules: EngineRules, partials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Alerts over partial events (dotted fields) merged onto the sample base event."""
    return run_events(rules, [build_event(p, n, "t") for n, p in enumerate(partials)])


def compile_texts(tmp_path: Path, *texts: str) -> EngineRules:
    rules = compile_for_engine(write_rules(tmp_path / "rules", *texts))
    assert rules.issues == [], [str(i) for i in rules.issues]
    return rules


def fired(alerts: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [a for a in alerts if a["rule"]["name"] == name]
