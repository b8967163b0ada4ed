"""Running the compiled pack over an ``EventStore`` step by step: hits, correlations, alerts."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from llmsiem.columns import column_ref, field_types
from llmsiem.engine.alerts import ENTITY_FIELDS, EvidenceEvent, build_alert
from llmsiem.engine.baselines import correlator
from llmsiem.engine.evidence import evidence
from llmsiem.engine.rules import EngineRules
from llmsiem.engine.store import EventStore


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Alerts are acyclic dicts; letting the cyclic collector rescan the tens of thousands
    already built while more are added costs about a fifth of a large run."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Detector:
    """Evaluates detections on new events and correlations on the retained window."""

    def __init__(self, rules: EngineRules, store: EventStore, eager: bool = False) -> None:
        self.rules = rules
        self.store = store
        self.eager = eager
        self.rule_index: dict[str, int] = {}
        for index, rule in enumerate(rules.detections):
            self.rule_index[rule.meta.name] = index
            self.rule_index[rule.meta.id] = index
        self.evaluated_through = 0
        self.correlators = [
            correlator(c, self.rule_index, self.evidence) for c in rules.correlations
        ]
        self.correlated_through = 0
        self.pending_from: float | None = None
        store.con.execute("CREATE TABLE IF NOT EXISTS hits (_seq BIGINT, rule INTEGER)")
        if rules.detections:
            # Every rule in one prepared statement (regexes are compiled once); each branch
            # reads only its own columns and returns only its matches, which beats one wide
            # scan unpivoted into (event, rule) pairs. Each evaluation scans only the events
            # loaded since the previous one.
            branches = " UNION ALL ".join(
                f"SELECT _seq, {i} FROM events WHERE _seq > $1 AND ({rule.sql})"
                for i, rule in enumerate(rules.detections)
            )
            store.con.execute(f"PREPARE record_hits AS INSERT INTO hits {branches}")

    def record_hits(self) -> None:
        """Evaluate every detection on events not yet evaluated, in one statement."""
        if self.rules.detections:
            self.store.con.execute(f"EXECUTE record_hits({int(self.evaluated_through)})")
        self.evaluated_through = self.store.next_seq - 1

    def evidence(self, seqs: Iterable[int]) -> dict[int, EvidenceEvent]:
        """Alert-relevant fields of the given events."""
        wanted = sorted(set(seqs))
        if not wanted:
            return {}
        fields = ", ".join(column_ref(f) for f in ENTITY_FIELDS)
        rows = self.store.con.execute(
            f"""SELECT _seq, coalesce("event"."id", _source || ':' || _line),
                       strftime("@timestamp", '%Y-%m-%dT%H:%M:%S.%g') || 'Z', {fields}
                FROM events WHERE _seq IN (SELECT unnest(?))""",
            [wanted],
        ).fetchall()
        return {
            row[0]: EvidenceEvent(
                row[0], row[1], row[2], dict(zip(ENTITY_FIELDS, row[3:], strict=True))
            )
            for row in rows
        }

    def matches(self, rows: list[tuple[int, int]]) -> dict[tuple[int, int], list[dict[str, str]]]:
        """Evidence excerpts per (rule, event) hit, from one scan of the events table that
        reads only the fields the fired rules' matchers name; the excerpts of one rule over
        the same field values are made once (telemetry repeats its values)."""
        known = field_types()
        named = {
            rule_number: sorted(
                {m.field for m in self.rules.detections[rule_number].matchers if m.field in known}
            )
            for rule_number in {r for r, _ in rows}
        }
        fields = sorted({f for names in named.values() for f in names})
        if not fields:
            return {}
        columns = ", ".join(column_ref(f) for f in fields)
        values = {
            seq: dict(zip(fields, found, strict=True))
            for seq, *found in self.store.con.execute(
                f"SELECT _seq, {columns} FROM events WHERE _seq IN (SELECT unnest(?))",
                [sorted({seq for _, seq in rows})],
            ).fetchall()
        }
        made: dict[tuple[Any, ...], list[dict[str, str]]] = {}
        found: dict[tuple[int, int], list[dict[str, str]]] = {}
        for rule_number, seq in rows:
            if seq not in values:
                continue
            row = values[seq]
            key = (rule_number, *(_hashable(row[f]) for f in named[rule_number]))
            if key not in made:
                made[key] = evidence(self.rules.detections[rule_number].matchers, row)
            found[(rule_number, seq)] = [dict(item) for item in made[key]]
        return found

    def run(self) -> list[dict[str, Any]]:
        """Every alert of the events loaded so far, as if the input ended here."""
        step = self.step(final=True)
        return step.detections + [alert for _, alert in sorted(step.correlations, key=_order)]

    def step(self, final: bool = False) -> Step:
        """Alerts that became certain with the events loaded since the last step.

        Detections are certain at once. A correlation firing at the newest timestamp waits
        for the next step (more events of that instant may follow), and an island is
        reported when no later event can extend it (``final``: the input has ended). In
        ``eager`` mode (``--follow``) every loaded event is evaluated and an island is
        reported when it opens, with the metric it reached so far.
        """
        with _cyclic_gc_paused():
            return self._step(final)

    def _step(self, final: bool) -> Step:
        first_new = self.evaluated_through
        self.record_hits()
        standalone = [i for i, r in enumerate(self.rules.detections) if r.standalone]
        rows = self.store.con.execute(
            "SELECT rule, _seq FROM hits WHERE _seq > ? AND rule IN (SELECT unnest(?)) "
            "ORDER BY _seq, rule",
            [first_new, standalone],
        ).fetchall()
        newest = self.store.newest()
        through = None if final or self.eager else newest
        opened = [
            (position, island)
            for position, correlator in enumerate(self.correlators)
            for island in correlator.advance(self.store.con, self._candidates(through))
        ]
        self.correlated_through = self.store.next_seq - 1
        self.pending_from = through
        # One scan of the events table fetches what every alert cites.
        cited = self.evidence(
            [seq for _, seq in rows] + [seq for _, island in opened for seq in island.seqs]
        )
        for _, island in opened:
            island.evidence = [cited[s] for s in island.seqs if s in cited]
        matched = self.matches(rows)
        step = Step()
        step.detections = [
            build_alert(
                self.rules.detections[rule_number].meta,
                "detection",
                [cited[seq]],
                matches=matched.get((rule_number, seq)),
            )
            for rule_number, seq in rows
            if seq in cited
        ]
        closed = [
            (position, island)
            for position, correlator in enumerate(self.correlators)
            for island in correlator.close(None if final else newest)
        ]
        for position, island in opened if self.eager else closed:
            if island.evidence:
                correlation = self.correlators[position].rule
                firing = island.firing(correlation.timespan)
                alert = build_alert(
                    correlation.meta,
                    "correlation",
                    island.evidence,
                    group=firing.group,
                    correlation_type=correlation.type,
                    metric=firing.metric,
                    window=(firing.start, firing.end),
                )
                step.correlations.append(((position, firing.end, firing.seqs), alert))
        return step

    def _candidates(self, through: float | None) -> str:
        """SQL condition for the events a correlation step evaluates: those loaded since the
        last step and those held back at the previous newest timestamp, up to (not
        including) ``through``."""
        fresh = f"_seq > {int(self.correlated_through)}"
        if self.pending_from is not None:
            fresh = f"({fresh} OR _ts >= {self.pending_from!r})"
        return fresh if through is None else f"{fresh} AND _ts < {through!r}"

    def prune(self, keep_seconds: float) -> None:
        """Forget events (and their hits) older than the newest event minus ``keep_seconds``."""
        newest = self.store.newest()
        if newest is None:
            return
        cutoff = newest - keep_seconds
        # Hits below the first event kept go (a range delete, much cheaper than a join with
        # the events dropped); those of older events that arrived late stay until that
        # point passes them, and match no event meanwhile (correlations join the events).
        self.store.con.execute(
            "DELETE FROM hits WHERE _seq < (SELECT min(_seq) FROM events WHERE _ts >= ?)",
            [cutoff],
        )
        self.store.prune_before(cutoff)


def _hashable(value: Any) -> Any:
    """A field value as a dictionary key: lists and structs become tagged tuples (a
    column holds one type, so equal keys are equal values)."""
    if isinstance(value, list):
        return ("list", *(_hashable(v) for v in value))
    if isinstance(value, dict):
        return ("struct", *((k, _hashable(v)) for k, v in value.items()))
    return value


def _order(item: tuple[tuple[int, float, tuple[int, ...]], dict[str, Any]]) -> Any:
    return item[0]


@dataclass
class Step:
    """The alerts one detection step made certain: detections in event order, and
    correlations keyed for the whole input's order (correlation, window end, events)."""

    detections: list[dict[str, Any]] = field(default_factory=list)
    correlations: list[tuple[tuple[int, float, tuple[int, ...]], dict[str, Any]]] = field(
        default_factory=list
    )
