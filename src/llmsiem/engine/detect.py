"""Running the compiled pack over an ``EventStore``: rule hits, then correlations, then alerts."""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from llmsiem.columns import column_ref, field_types
from llmsiem.engine.alerts import ENTITY_FIELDS, EvidenceEvent, build_alert
from llmsiem.engine.correlate import evaluate
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

    def __init__(self, rules: EngineRules, store: EventStore) -> None:
        self.rules = rules
        self.store = store
        self.rule_index: dict[str, int] = {}
        for index, rule in enumerate(rules.detections):
            self.rule_index[rule.meta.name] = index
            self.rule_index[rule.meta.id] = index
        self.evaluated_through = 0
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

    def _record_hits(self) -> None:
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
        reads only the fields the fired rules' matchers name."""
        known = field_types()
        fields = sorted(
            {
                m.field
                for rule_number in {r for r, _ in rows}
                for m in self.rules.detections[rule_number].matchers
                if m.field in known
            }
        )
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
        return {
            (rule_number, seq): evidence(self.rules.detections[rule_number].matchers, values[seq])
            for rule_number, seq in rows
            if seq in values
        }

    def run(self) -> list[dict[str, Any]]:
        """Alerts for events loaded since the last run (detections) and for correlations."""
        with _cyclic_gc_paused():
            return self._run()

    def _run(self) -> list[dict[str, Any]]:
        first_new = self.evaluated_through
        self._record_hits()
        standalone = [i for i, r in enumerate(self.rules.detections) if r.standalone]
        rows = self.store.con.execute(
            "SELECT rule, _seq FROM hits WHERE _seq > ? AND rule IN (SELECT unnest(?)) "
            "ORDER BY _seq, rule",
            [first_new, standalone],
        ).fetchall()
        firings = [
            (correlation, firing)
            for correlation in self.rules.correlations
            for firing in evaluate(self.store.con, correlation, self.rule_index)
        ]
        # One scan of the events table fetches what every alert cites.
        cited = self.evidence(
            [seq for _, seq in rows] + [seq for _, f in firings for seq in f.seqs]
        )
        matched = self.matches(rows)
        alerts = [
            build_alert(
                self.rules.detections[rule_number].meta,
                "detection",
                [cited[seq]],
                matches=matched.get((rule_number, seq)),
            )
            for rule_number, seq in rows
            if seq in cited
        ]
        for correlation, firing in firings:
            evidence = [cited[s] for s in firing.seqs if s in cited]
            if evidence:
                alerts.append(
                    build_alert(
                        correlation.meta,
                        "correlation",
                        evidence,
                        group=firing.group,
                        correlation_type=correlation.type,
                        metric=firing.metric,
                        window=(firing.start, firing.end),
                    )
                )
        return alerts

    def prune(self, keep_seconds: float) -> None:
        """Forget events (and their hits) older than the newest event minus ``keep_seconds``."""
        row = self.store.con.execute("SELECT max(_ts) FROM events").fetchone()
        if not row or row[0] is None:
            return
        cutoff = float(row[0]) - keep_seconds
        self.store.con.execute(
            "DELETE FROM hits WHERE _seq IN (SELECT _seq FROM events WHERE _ts < ?)", [cutoff]
        )
        self.store.prune_before(cutoff)
