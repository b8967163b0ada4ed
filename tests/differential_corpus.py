"""A generated corpus that exercises every modifier and value the rule pack uses.

Field values are built from the rules' own literals, mutated the ways Sigma semantics can
go wrong: case changes, ``_``/``%`` replaced by other characters, literals embedded in
noise, prefixes only, numbers around thresholds. Group-by fields come from small pools
(with case variants) and timestamps advance irregularly, so correlations fire and miss.
"""

from __future__ import annotations

import copy
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sigma.rule import SigmaDetection, SigmaRule
from sigma.types import SigmaCompareExpression, SigmaString

from llmsiem.columns import field_types
from llmsiem.event import EventAction
from llmsiem.rule_samples import load_samples_file, samples_file
from llmsiem.rulepack import RulePack
from llmsiem.synthetic import generate

NOISE = ("hello", "please", "the report", "x", "", "ok then", "zz", "数据", "Ünïcödé")
POOLS = {
    "user.id": ["u-1", "U-1", "u-2", "u-3"],
    "llmsiem.api_key.id": ["key-1", "KEY-1", "key-2"],
    "trace.id": ["t-1", "t-2", "T-2"],
    "user_agent.original": ["curl/8.5.0", "openai-python/1.54.0", "Go-http-client/1.1", "x/1"],
    "gen_ai.request.model": ["gpt-4o-mini", "o1-preview", "claude-3-opus", "llama-3", "GPT-4O"],
}
ENUM_FIELDS = {
    "event.action",
    "llmsiem.tool.status",
    "llmsiem.guardrail.action",
    "llmsiem.guardrail.stage",
}
IPS = ["10.0.0.1", "10.0.0.2", "198.51.100.7", "203.0.113.9"]


def _items(detection: SigmaDetection) -> list[Any]:
    found = []
    for item in detection.detection_items:
        found.extend(_items(item) if isinstance(item, SigmaDetection) else [item])
    return found


def harvest(pack: RulePack) -> tuple[dict[str, list[str]], dict[str, list[float]]]:
    """String literals and numeric thresholds per field, from the pack's detections."""
    strings: dict[str, list[str]] = defaultdict(list)
    numbers: dict[str, list[float]] = defaultdict(list)
    for _, rule in pack.parse_all():
        if not isinstance(rule, SigmaRule):
            continue
        for detection in rule.detection.detections.values():
            for item in _items(detection):
                for value in item.value:
                    if isinstance(value, SigmaString) and not value.contains_placeholder():
                        strings[item.field].append(value.to_plain())
                    elif isinstance(value, SigmaCompareExpression):
                        numbers[item.field].append(float(value.number.number))
    return strings, numbers


def _mutate(rng: random.Random, text: str) -> str:
    choice = rng.random()
    if choice < 0.25:
        # ASCII letters only: SQLite's NOCASE does not fold other letters (the engine does;
        # test_engine_semantics checks that).
        text = "".join(
            (c.upper() if rng.random() < 0.5 else c.lower()) if c.isascii() else c for c in text
        )
    elif choice < 0.4:
        text = text.replace("_", rng.choice("X_-")).replace("%", rng.choice("%Y"))
    elif choice < 0.5:
        text = text[: max(1, len(text) // 2)]
    elif choice < 0.6:
        text = text.replace(" ", "  ")
    return text


def _embed(rng: random.Random, text: str) -> str:
    mode = rng.random()
    if mode < 0.3:
        return text
    if mode < 0.5:
        return text + rng.choice(NOISE)
    return f"{rng.choice(NOISE)} {text} {rng.choice(NOISE)}"


def corpus(size: int = 12_000, seed: int = 11) -> list[dict[str, Any]]:
    """``size`` valid event documents."""
    rng = random.Random(seed)
    pack = RulePack.load()
    strings, numbers = harvest(pack)
    types = field_types()
    base = list(generate(2000, seed=seed, attack_every=4))
    for file, rule in pack.parse_all():  # rule samples carry strings that match regex rules
        name = rule.name or ""
        samples = load_samples_file(samples_file(file.path, name), name)
        for case in samples.true_positives + samples.true_negatives:
            base.extend(case * 3)
    clock = datetime(2026, 11, 20, tzinfo=UTC)
    events = []
    for index in range(size):
        event = copy.deepcopy(rng.choice(base))
        for field in rng.sample(sorted(strings), k=rng.randint(1, 3)):
            literal = rng.choice(strings[field])
            text = literal if field in ENUM_FIELDS else _embed(rng, _mutate(rng, literal))
            value: Any = [text] if types[field].endswith("[]") else text
            if types[field] in ("long", "float"):
                continue
            _set(event, field, value)
        for field in rng.sample(sorted(numbers), k=rng.randint(0, 2)):
            threshold = rng.choice(numbers[field])
            score = field.endswith("_score")  # a probability, 0..1 in the schema
            step = 0.01 if score else 1
            number = threshold + rng.choice([-1, 0, 1]) * rng.choice([0, step, threshold / 2])
            if types[field] == "long":
                _set(event, field, max(0, int(number)))
            else:
                _set(event, field, min(1.0, max(0.0, number)) if score else max(0.0, number))
        for field, pool in POOLS.items():
            if rng.random() < 0.7:
                _set(event, field, rng.choice(pool))
        _set(event, "source.ip", rng.choice(IPS))
        if rng.random() < 0.3:
            _set(event, "event.action", rng.choice(list(EventAction)).value)
        for flag in ("llmsiem.response.refusal", "llmsiem.response.echoes_system_instructions"):
            if rng.random() < 0.2:
                _set(event, flag, rng.random() < 0.5)
        clock += timedelta(seconds=rng.choice([0.5, 3, 20, 90, 400]), milliseconds=index % 997)
        event["@timestamp"] = clock.isoformat(timespec="milliseconds")
        event["event"]["id"] = f"diff-{index}"
        events.append(event)
    return events


def _set(document: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = document
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
