"""Verdicts of the engine and of a target on the conformance corpus, and their comparison."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from llmsiem.conformance.corpus import SampleCorpus, detection_rules, matches, run_engine
from llmsiem.engine.rules import EngineRules, compile_for_engine
from llmsiem.rulepack import RulePack


@dataclass
class Verdicts:
    """What one evaluator says: matched event ids per detection, fired per correlation case."""

    detections: dict[str, frozenset[str]] = field(default_factory=dict)
    correlations: dict[tuple[str, str], bool] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def engine_verdicts(corpus: SampleCorpus, pack: RulePack | None = None) -> Verdicts:
    """The embedded engine's verdicts: the reference every compile target must reproduce."""
    rules = compile_for_engine(pack or RulePack.load())
    if rules.issues:
        raise ValueError("; ".join(map(str, rules.issues)))
    hits = matches(detection_rules(rules), corpus.events)
    verdicts = Verdicts()
    for detection in rules.detections:
        name = detection.meta.name
        verdicts.detections[name] = frozenset(e for rule, e in hits if rule == name)
    for case in corpus.correlation_cases:
        correlation = next(c for c in rules.correlations if c.meta.name == case.rule)
        bases = [d for d in rules.detections if d.meta.name in correlation.rules]
        alone = EngineRules(detections=bases, correlations=[correlation])
        alerts = run_engine(alone, case.events)
        verdicts.correlations[case.rule, case.label] = any(
            alert["rule"]["name"] == case.rule for alert in alerts
        )
    return verdicts


@dataclass
class RuleAgreement:
    """One rule on one target: events or cases where the target and the engine differ."""

    rule: str
    missed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def agrees(self) -> bool:
        return not (self.missed or self.extra or self.error)

    def describe(self) -> str:
        if self.error:
            return f"{self.rule}: error: {self.error}"
        parts = []
        if self.missed:
            parts.append(f"engine matches, target does not: {', '.join(self.missed[:5])}")
        if self.extra:
            parts.append(f"target matches, engine does not: {', '.join(self.extra[:5])}")
        return f"{self.rule}: " + "; ".join(parts)


@dataclass
class TargetReport:
    """Agreement of one target with the engine, rule by rule."""

    target: str
    rules: list[RuleAgreement]

    @property
    def disagreements(self) -> list[RuleAgreement]:
        return [r for r in self.rules if not r.agrees]

    def summary_line(self) -> str:
        errors = sum(1 for r in self.rules if r.error)
        agree = len(self.rules) - len(self.disagreements)
        return (
            f"{self.target}: rules {len(self.rules)}, agree {agree}, "
            f"disagree {len(self.disagreements) - errors}, parse errors {errors}"
        )


def compare(
    target: str, engine: Verdicts, observed: Verdicts, rules: Iterable[str]
) -> TargetReport:
    """Compare a target's verdicts with the engine's for the rules the target compiled."""
    report = TargetReport(target, [])
    for rule in rules:
        agreement = RuleAgreement(rule)
        report.rules.append(agreement)
        if rule in observed.errors:
            agreement.error = observed.errors[rule]
        elif rule in engine.detections:
            if rule not in observed.detections:
                agreement.error = "no verdict from the target"
                continue
            expected, seen = engine.detections[rule], observed.detections[rule]
            agreement.missed = sorted(expected - seen)
            agreement.extra = sorted(seen - expected)
        else:
            cases = [key for key in engine.correlations if key[0] == rule]
            if not cases:
                agreement.error = "the engine has no sample case for this rule"
            for key in cases:
                if key not in observed.correlations:
                    agreement.error = f"no verdict from the target on {key[1]}"
                elif observed.correlations[key] != engine.correlations[key]:
                    (agreement.missed if engine.correlations[key] else agreement.extra).append(
                        key[1]
                    )
    return report
