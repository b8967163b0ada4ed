"""Per-entity baselines (``llmsiem_baseline``) evaluated incrementally, like correlations.

Each entity (the group-by values, compared case-insensitively) has fixed buckets of one
timespan (``floor(time / timespan)``). A bucket is complete once an event at or after its
end has been loaded, or when the input ends; it then fires when its value meets the rule's
condition and exceeds the entity's baseline over its previous active buckets (see
``llmsiem.baseline_spec``), and joins the history whether it fired or not. The history and
the open bucket of every entity are carried from step to step, so chunked input gives the
alerts of one whole-input evaluation; events older than an entity's open bucket (input out
of time order) are not counted.

In ``--follow`` (eager) mode a bucket is reported as soon as its running value crosses the
threshold, with the value reached so far, and not again when it completes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb

from llmsiem.baseline_spec import Baseline
from llmsiem.engine.alerts import EvidenceEvent
from llmsiem.engine.correlate import Correlator, Island, matched_rows_sql
from llmsiem.engine.rules import CorrelationRule

Cite = Callable[[Iterable[int]], dict[int, EvidenceEvent]]


class Evaluator(Protocol):
    """What the detector needs of a correlation: ``Correlator`` or ``BaselineCorrelator``."""

    rule: CorrelationRule

    def advance(self, con: duckdb.DuckDBPyConnection, candidates: str) -> list[Island]: ...

    def close(self, watermark: float | None) -> list[Island]: ...


def correlator(rule: CorrelationRule, rule_index: dict[str, int], cite: Cite) -> Evaluator:
    """The evaluator of one correlation: a baseline one when the rule declares a baseline."""
    if rule.baseline is None:
        return Correlator(rule, rule_index)
    return BaselineCorrelator(rule, rule.baseline, rule_index, cite)


@dataclass
class _Bucket:
    """An entity's open bucket: its index, running value and events."""

    index: int
    value: float = 0.0
    seqs: list[int] = field(default_factory=list)
    island: Island | None = None
    """The alert of this bucket once its running value crossed the threshold."""


class BaselineCorrelator:
    """One baseline rule over the events not yet evaluated, with per-entity state."""

    def __init__(
        self,
        rule: CorrelationRule,
        baseline: Baseline,
        rule_index: dict[str, int],
        cite: Cite,
    ) -> None:
        assert rule.condition is not None
        self.rule = rule
        self.baseline = baseline
        self.condition = rule.condition
        self.rule_index = rule_index
        self.cite = cite
        self.history: dict[tuple[Any, ...], deque[float]] = {}
        self.open: dict[tuple[Any, ...], _Bucket] = {}
        self.finished: list[Island] = []

    def _threshold(self, key: tuple[Any, ...], value: float) -> float | None:
        """The baseline the value exceeds, None when it does not fire."""
        floor, op = self.condition.value, self.condition.op
        if value < floor or (op == "gt" and value == floor):
            return None
        threshold = self.baseline.threshold(self.history.get(key, ()))
        return threshold if threshold is not None and value > threshold else None

    def _island(self, key: tuple[Any, ...], bucket: _Bucket) -> Island:
        span = self.rule.timespan
        start = bucket.index * span
        group = dict(zip(self.rule.group_by, key, strict=False))
        seqs = tuple(sorted(bucket.seqs))
        return Island(group, start + span, bucket.value, start + span, seqs, start)

    def advance(self, con: duckdb.DuckDBPyConnection, candidates: str) -> list[Island]:
        """Add the events matching ``candidates`` to their entities' buckets; returns the
        buckets whose running value crossed the threshold in this call."""
        width = len(self.rule.group_by)
        groups = ", ".join(f"g{i}" for i in range(width))
        value = "count(*)" if self.rule.type == "event_count" else "sum(TRY_CAST(v AS DOUBLE))"
        rows = con.execute(
            f"""
            WITH m AS ({matched_rows_sql(self.rule, self.rule_index)})
            SELECT {groups}, CAST(floor(_ts / {self.rule.timespan}) AS BIGINT) AS b,
                   {value}, list(_seq ORDER BY _seq)
            FROM m WHERE {candidates}
            GROUP BY ALL ORDER BY b, {groups}
            """
        ).fetchall()
        crossed: list[Island] = []
        for *key_values, index, amount, seqs in rows:
            key = tuple(key_values)
            bucket = self.open.get(key)
            if bucket is not None and bucket.index < index:
                self._complete(key, self.open.pop(key))
                bucket = None
            if bucket is None:
                bucket = self.open[key] = _Bucket(index)
            elif bucket.index > index:
                continue  # late events of a bucket already left behind
            bucket.value += float(amount or 0.0)
            bucket.seqs.extend(seqs)
            if bucket.island is None and self._threshold(key, bucket.value) is not None:
                bucket.island = self._island(key, bucket)
                crossed.append(bucket.island)
        return crossed

    def _complete(self, key: tuple[Any, ...], bucket: _Bucket) -> None:
        if self._threshold(key, bucket.value) is not None:
            self.finished.append(self._island(key, bucket))
        history = self.history.setdefault(key, deque(maxlen=self.baseline.history_buckets))
        history.append(bucket.value)

    def close(self, watermark: float | None) -> list[Island]:
        """Complete the buckets that end at or before ``watermark`` (all when None); returns
        those that fired, with the events they cite."""
        span = self.rule.timespan
        for key, bucket in list(self.open.items()):
            if watermark is None or (bucket.index + 1) * span <= watermark:
                self._complete(key, self.open.pop(key))
        closed, self.finished = self.finished, []
        closed.sort(key=lambda i: (i.end, i.seqs))
        if closed:
            cited = self.cite(seq for island in closed for seq in island.seqs)
            for island in closed:
                island.evidence = [cited[s] for s in island.seqs if s in cited]
        return closed
