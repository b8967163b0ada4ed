"""The conformance corpus: every rule's sample events, plus variants of every true positive.

Sample values alone rarely put a match at the very start or end of a value, in upper case or
across lines, which is where query dialects differ (anchors, case folding, ``.`` and newlines).
For each string field of each true-positive event, the engine finds the part of the value that
its rule matches (the shortest span it still matches, found by bisection in batched engine runs),
and the corpus adds events with that part alone, at the start, in the middle, at the end, between
lines, and with the value in upper, lower and mixed case. Their verdicts are whatever the engine
says: the variants are inputs, the engine is the reference.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sigma.correlations import SigmaCorrelationRule

from llmsiem.engine.detect import Detector
from llmsiem.engine.rules import EngineRules, compile_for_engine
from llmsiem.engine.store import EventStore
from llmsiem.rule_samples import (
    CASE_KEYS,
    build_event,
    built_case,
    case_label,
    partial_cases,
    read_samples,
    samples_file,
)
from llmsiem.rulepack import RulePack

LEAD = "Some leading words, "
TRAIL = " and some trailing words."


@dataclass(frozen=True)
class SampleOrigin:
    """Where a corpus event comes from: rule, sample case and variant (``upper:field``...)."""

    rule: str
    case: str
    variant: str


@dataclass
class CorrelationCase:
    """One correlation sample case: its events are evaluated together, apart from the rest."""

    rule: str
    label: str
    expected: bool
    events: list[dict[str, Any]]


@dataclass
class SampleCorpus:
    """Full, schema-valid event documents with unique ``event.id`` and their origins."""

    events: list[dict[str, Any]] = field(default_factory=list)
    origins: dict[str, SampleOrigin] = field(default_factory=dict)
    correlation_cases: list[CorrelationCase] = field(default_factory=list)

    def add(self, event: dict[str, Any], origin: SampleOrigin) -> None:
        event_id = str(event["event"]["id"])
        if event_id in self.origins:
            raise ValueError(f"duplicate corpus event id {event_id!r}")
        self.events.append(event)
        self.origins[event_id] = origin


@dataclass(frozen=True)
class _Probe:
    """A true-positive event whose ``field`` is replaced by parts of its value."""

    rule: str
    case: str
    partial: dict[str, Any]
    sequence: int
    field: str
    value: str

    def event(self, text: str, event_id: str) -> dict[str, Any] | None:
        """The probe's event with ``text`` in its field, or None if the schema refuses it."""
        try:
            event = build_event({**self.partial, self.field: text}, self.sequence, self.case)
        except ValidationError:
            return None
        event["event"]["id"] = event_id
        return event


def detection_rules(rules: EngineRules) -> EngineRules:
    """Every detection of the pack on its own (base rules of correlations included)."""
    return EngineRules(detections=[replace(d, standalone=True) for d in rules.detections])


def run_engine(rules: EngineRules, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The engine's alerts on a set of full event documents."""
    store = EventStore()
    report = store.load_documents(events, "conformance")
    if report.rejected:
        raise ValueError(f"{report.rejected} conformance events were rejected by the engine")
    return Detector(rules, store).run()


def matches(rules: EngineRules, events: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(rule name, event id) pairs the engine's standalone detections match."""
    return {
        (alert["rule"]["name"], event_id)
        for alert in run_engine(rules, events)
        for event_id in alert["llmsiem"]["alert"]["event_ids"]
    }


def _edge(rules: EngineRules, probes: list[_Probe], *, start: bool) -> list[int]:
    """Per probe, by batched bisection: the largest start (``start``) or the smallest end at
    which the rule still matches ``value[start:]`` or ``value[:end]``."""
    low = [0] * len(probes)
    high = [len(p.value) for p in probes]
    while trials := [
        (i, (low[i] + high[i] + 1) // 2 if start else (low[i] + high[i]) // 2)
        for i in range(len(probes))
        if low[i] < high[i]
    ]:
        events = [
            probes[i].event(probes[i].value[mid:] if start else probes[i].value[:mid], f"probe-{n}")
            for n, (i, mid) in enumerate(trials)
        ]
        hit = matches(rules, [e for e in events if e is not None])
        for n, (i, mid) in enumerate(trials):
            still_matches = (probes[i].rule, f"probe-{n}") in hit
            if start:
                low[i], high[i] = (mid, high[i]) if still_matches else (low[i], mid - 1)
            else:
                low[i], high[i] = (low[i], mid) if still_matches else (mid + 1, high[i])
    return low if start else high


def _spans(rules: EngineRules, probes: list[_Probe]) -> list[tuple[int, int] | None]:
    """The part of each probe's value its rule matches, confirmed by the engine, or None."""
    if not probes:
        return []
    starts = _edge(rules, probes, start=True)
    tails = [replace(p, value=p.value[s:]) for p, s in zip(probes, starts, strict=True)]
    ends = _edge(rules, tails, start=False)
    spans = [(s, s + e) for s, e in zip(starts, ends, strict=True)]
    events = [
        p.event(p.value[s:e], f"confirm-{n}")
        for n, (p, (s, e)) in enumerate(zip(probes, spans, strict=True))
    ]
    hit = matches(rules, [e for e in events if e is not None])
    return [
        span if span[1] > span[0] and (p.rule, f"confirm-{n}") in hit else None
        for n, (p, span) in enumerate(zip(probes, spans, strict=True))
    ]


def _mixed_case(text: str) -> str:
    return "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(text))


def variants(value: str, span: tuple[int, int] | None) -> dict[str, str]:
    """Derived values: case changes of the whole value, and the matched part moved around."""
    derived = {"upper": value.upper(), "lower": value.lower(), "mixed": _mixed_case(value)}
    if span is not None:
        part = value[span[0] : span[1]]
        derived |= {
            "exact": part,
            "exact_upper": part.upper(),
            "start": part + TRAIL,
            "middle": LEAD + part + TRAIL,
            "end": LEAD + part,
            "multiline": "first line\n" + part + "\nlast line",
        }
    return {name: text for name, text in derived.items() if text != value}


def build_corpus(
    pack: RulePack | None = None, samples_root: Path | None = None, *, with_variants: bool = True
) -> SampleCorpus:
    """Every rule's samples as full events, plus variants of each detection true positive."""
    pack = pack or RulePack.load()
    corpus = SampleCorpus()
    probes: list[_Probe] = []
    for file, rule in pack.parse_all():
        name = rule.name or str(rule.id)
        is_correlation = isinstance(rule, SigmaCorrelationRule)
        path = samples_file(file.path, name, samples_root)
        data = read_samples(path)
        for key in CASE_KEYS:
            for index, case in enumerate(partial_cases(data, key)):
                label = case_label(name, key, index)
                events = built_case(path, name, key, index, case)
                for event in events:
                    corpus.add(event, SampleOrigin(name, label, "sample"))
                if is_correlation:
                    corpus.correlation_cases.append(
                        CorrelationCase(name, label, key == "true_positives", events)
                    )
                elif key == "true_positives":
                    probes.extend(_string_probes(name, label, case))
    if with_variants:
        _add_variants(corpus, pack, probes)
    return corpus


def _string_probes(rule: str, label: str, case: list[dict[str, Any]]) -> Iterable[_Probe]:
    for sequence, partial in enumerate(case):
        for dotted, value in partial.items():
            if isinstance(value, str) and _free_text(partial, dotted):
                yield _Probe(rule, label, partial, sequence, dotted, value)


def _free_text(partial: dict[str, Any], dotted: str) -> bool:
    """Whether the schema takes any text in this field (not an enum, date, ip or number)."""
    try:
        build_event({**partial, dotted: "free text probe"}, 0, "probe")
    except ValidationError:
        return False
    return True


def _add_variants(corpus: SampleCorpus, pack: RulePack, probes: list[_Probe]) -> None:
    rules = detection_rules(compile_for_engine(pack))
    for probe, span in zip(probes, _spans(rules, probes), strict=True):
        for variant, text in variants(probe.value, span).items():
            event_id = f"{probe.case}-{probe.sequence}~{variant}:{probe.field}"
            event = probe.event(text, event_id)
            if event is not None:
                corpus.add(event, SampleOrigin(probe.rule, probe.case, f"{variant}:{probe.field}"))
