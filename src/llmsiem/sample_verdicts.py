"""Run every rule's sample cases through the embedded engine and check the labelled verdict.

A detection rule must match every event of a true-positive case and none of a true
negative; a correlation must fire on a true-positive case and stay silent on a true
negative. Each rule runs alone (a detection as if standalone, a correlation with its base
rules), so one rule's samples never depend on another rule. ``llmsiem validate`` and the
pytest suite both use this, so a wheel user gets the same check as the project's CI.

Samples that can catch bugs: a rule's samples should hold a *near miss*, a true negative
that differs from a true positive only in the matched part (one field, a similar value).
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import yaml

from llmsiem.conformance.corpus import detection_rules, run_engine
from llmsiem.engine.rules import EngineRules, compile_for_engine
from llmsiem.rule_samples import RuleSamples, SampleError, load_samples_file, samples_file
from llmsiem.rulepack import RulePack

NEAR_MISS_MIN_SIMILARITY = 0.5  # difflib ratio between the two texts
NEAR_MISS_FREE_LENGTH = 24  # shorter values (ids, enums, models) may change entirely


@dataclass(frozen=True)
class SampleFailure:
    """A sample case whose engine verdict is not its label (or that cannot run)."""

    rule: str
    case: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.case}: {self.message}"


def _alerts_by_rule(rules: EngineRules, events: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Rule name -> ids of the events in its alerts, over one in-memory store."""
    matched: dict[str, set[str]] = {}
    for alert in run_engine(rules, events):
        ids = matched.setdefault(alert["rule"]["name"], set())
        ids.update(alert["llmsiem"]["alert"]["event_ids"])
    return matched


def _verdict(
    key: str, matched: set[str], case: list[dict[str, Any]], detection: bool
) -> str | None:
    """The failure message of one case, or None when the engine gives its label."""
    if key == "true_negatives":
        return "true negative fired" if matched else None
    if not matched:
        return "true positive did not fire"
    missed = {event["event"]["id"] for event in case} - matched
    return f"{len(missed)} event(s) not matched" if detection and missed else None


def _cases(samples: RuleSamples) -> list[tuple[str, list[dict[str, Any]]]]:
    return [
        (f"{key}[{index}]", case)
        for key, cases in (
            ("true_positives", samples.true_positives),
            ("true_negatives", samples.true_negatives),
        )
        for index, case in enumerate(cases)
    ]


def check_pack_samples(pack: RulePack, samples_root: Path | None = None) -> list[SampleFailure]:
    """Every rule of a pack against its samples; an empty list means all verdicts agree.

    Detections run once over all their samples together (each forced standalone, and each
    judged on its own samples only); a correlation runs once per case with its base rules.
    """
    rules = compile_for_engine(pack)
    failures = [SampleFailure(i.title, "-", str(i)) for i in rules.issues]
    samples: dict[str, RuleSamples] = {}
    for file, rule in pack.parse_all():
        if not (name := rule.name):
            continue
        try:
            samples[name] = load_samples_file(samples_file(file.path, name, samples_root), name)
        except SampleError as exc:
            failures.append(SampleFailure(name, "-", str(exc)))
    detections = {d.meta.name: d for d in rules.detections}
    correlations = {c.meta.name: c for c in rules.correlations}
    events = [e for n in samples if n in detections for _, c in _cases(samples[n]) for e in c]
    try:
        detected = _alerts_by_rule(detection_rules(rules), events)
    except ValueError as exc:
        return [*failures, SampleFailure("-", "-", str(exc))]
    for name, rule_samples in samples.items():
        if name not in detections and name not in correlations:
            failures.append(SampleFailure(name, "-", "the engine did not compile this rule"))
            continue
        for label, case in _cases(rule_samples):
            ids = {event["event"]["id"] for event in case}
            if name in detections:
                matched = detected.get(name, set()) & ids
            else:
                correlation = correlations[name]
                bases = [d for d in rules.detections if d.meta.name in correlation.rules]
                alone = EngineRules(detections=bases, correlations=[correlation])
                try:
                    matched = _alerts_by_rule(alone, case).get(name, set())
                except ValueError as exc:
                    failures.append(SampleFailure(name, label, str(exc)))
                    continue
            message = _verdict(label.split("[")[0], matched, case, name in detections)
            if message:
                failures.append(SampleFailure(name, label, message))
    return failures


def _leaves(case: Any) -> list[dict[str, Any]]:
    events = case if isinstance(case, list) else [case]
    return [dict(event) for event in events]


def _one_field_apart(positive: Any, negative: Any) -> str | None:
    """The one field in which two cases differ with a similar value, or None."""
    pos, neg = _leaves(positive), _leaves(negative)
    if len(pos) != len(neg) or any(p.keys() != n.keys() for p, n in zip(pos, neg, strict=True)):
        return None
    differences = [
        (key, p[key], n[key])
        for p, n in zip(pos, neg, strict=True)
        for key in p
        if p[key] != n[key]
    ]
    if len(differences) != 1:
        return None
    key, before, after = differences[0]
    return key if _near(before, after) else None


def _near(before: Any, after: Any) -> bool:
    """Two values of one type, strings similar unless short identifiers, lists one apart."""
    if type(before) is not type(after):
        return False
    if isinstance(before, str):
        if max(len(before), len(after)) < NEAR_MISS_FREE_LENGTH:
            return True
        return SequenceMatcher(None, before, after).ratio() >= NEAR_MISS_MIN_SIMILARITY
    if isinstance(before, list):
        pairs = [(b, a) for b, a in zip(before, after, strict=False) if b != a]
        return len(before) == len(after) and len(pairs) == 1 and _near(*pairs[0])
    return isinstance(before, int | float)


def near_misses(path: Path) -> list[tuple[int, int, str]]:
    """(true positive, true negative, field) pairs one similar value apart in a samples file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [
        (p, n, key)
        for p, positive in enumerate(data.get("true_positives") or [])
        for n, negative in enumerate(data.get("true_negatives") or [])
        if (key := _one_field_apart(positive, negative)) is not None
    ]
