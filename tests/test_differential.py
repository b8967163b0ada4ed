"""Differential test: the DuckDB engine agrees with pySigma's SQLite backend (NOCASE
columns, Python REGEXP) on every rule over a generated corpus of 12,000 events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from differential_corpus import corpus
from llmsiem.engine.correlate import evaluate
from llmsiem.engine.detect import Detector
from llmsiem.engine.rules import compile_for_engine
from llmsiem.engine.sqlite_reference import SqliteReference
from llmsiem.engine.store import EventStore
from llmsiem.rulepack import RulePack

SIZE = 12_000


@pytest.fixture(scope="module")
def verdicts() -> dict[str, Any]:
    pack = RulePack.load()
    events = corpus(SIZE)
    rules = compile_for_engine(pack)
    store = EventStore()
    assert store.load_documents(events, "corpus").rejected == 0
    detector = Detector(rules, store)
    detector.run()
    engine_hits: dict[str, set[str]] = {}
    for index, rule in enumerate(rules.detections):
        rows = store.con.execute(
            'SELECT e."event"."id" FROM hits h JOIN events e USING (_seq) WHERE h.rule = ?',
            [index],
        ).fetchall()
        engine_hits[rule.meta.name] = {row[0] for row in rows}
    engine_groups = {
        c.meta.name: {
            json.dumps(f.group, sort_keys=True) for f in evaluate(store.con, c, detector.rule_index)
        }
        for c in rules.correlations
        if c.baseline is None  # per-entity baselines: tests/test_baselines_differential.py
    }
    reference = SqliteReference(pack)
    reference.load(events)
    return {
        "events": events,
        "engine_hits": engine_hits,
        "engine_groups": engine_groups,
        "reference": reference,
    }


def test_corpus_is_large_and_exercises_matches(verdicts: dict[str, Any]) -> None:
    assert len(verdicts["events"]) >= 10_000
    matched_rules = [name for name, hits in verdicts["engine_hits"].items() if hits]
    assert len(matched_rules) >= 0.9 * len(verdicts["engine_hits"])
    for name, hits in verdicts["engine_hits"].items():
        assert len(hits) < len(verdicts["events"]), f"{name} matches everything"


def test_detections_agree_with_sqlite_backend(verdicts: dict[str, Any]) -> None:
    reference: SqliteReference = verdicts["reference"]
    assert reference.skipped == {}
    disagreements = {}
    for name, hits in verdicts["engine_hits"].items():
        expected = reference.detection_matches(name)
        if hits != expected:
            disagreements[name] = (sorted(hits - expected)[:5], sorted(expected - hits)[:5])
    assert disagreements == {}


def test_correlations_agree_with_sqlite_backend(verdicts: dict[str, Any]) -> None:
    reference: SqliteReference = verdicts["reference"]
    fired = 0
    for name, groups in verdicts["engine_groups"].items():
        expected = {
            json.dumps(json.loads(g), sort_keys=True) for g in reference.correlation_groups(name)
        }
        assert groups == expected, name
        fired += bool(groups)
    assert fired >= 5
