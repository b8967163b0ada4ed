"""Sigma correlations over the engine's rule hits, with real timespans and ordering.

Windows slide: every matching event closes a window ``[ts - timespan, ts]`` (inclusive) in
its group; a window whose metric meets the condition fires. Consecutive firing windows in a
group that are at most one timespan apart form one alert (no alert storms). Group-by
values are compared case-insensitively, as Sigma compares values; events whose group-by
field is missing belong to no group.

Evaluation is incremental, so that input of any size streams through a bounded window:
each call evaluates only the events not yet evaluated (their windows reach back over the
retained ones), and the state whole-input evaluation would hold at that point is carried
from call to call: each group's open island, and each group's partial ordered sequences.
An island is complete once the newest event is more than a timespan past its last firing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import duckdb

from llmsiem.columns import column_ref
from llmsiem.engine.rules import CorrelationRule


@dataclass(frozen=True)
class Firing:
    """One correlation alert: its group, the window and the events that made it fire."""

    group: dict[str, Any]
    start: float
    end: float
    metric: float
    seqs: tuple[int, ...]


def _group_sql(rule: CorrelationRule) -> tuple[str, str, str]:
    exprs = [f"lower(CAST({column_ref(f)} AS VARCHAR))" for f in rule.group_by]
    select = ", ".join(f"{e} AS g{i}" for i, e in enumerate(exprs)) or "NULL AS g0"
    partition = ", ".join(f"g{i}" for i in range(len(exprs))) or "g0"
    not_null = " AND ".join(f"{e} IS NOT NULL" for e in exprs) or "true"
    return select, partition, not_null


def matched_rows_sql(rule: CorrelationRule, rule_index: dict[str, int]) -> str:
    """SQL for the events a correlation's base rules matched: sequence, time, rule, its
    group-by columns and the value its condition reads (``v``)."""
    select, _, not_null = _group_sql(rule)
    ids = ", ".join(str(rule_index[r]) for r in rule.rules)
    value = "NULL"
    if rule.condition is not None and rule.condition.field:
        value = column_ref(rule.condition.field)
    # ``hits`` holds each (event, rule) pair once, so the join needs no DISTINCT.
    return f"""
        SELECT e._seq, e._ts, h.rule, {select}, {value} AS v
        FROM hits h JOIN events e ON e._seq = h._seq
        WHERE h.rule IN ({ids}) AND {not_null}
    """


# Metrics that only grow as a window widens.
LOWER_BOUNDED = ("event_count", "value_count")


def _metric(rule: CorrelationRule) -> str:
    return {
        "event_count": "count(*)",
        "value_count": "count(DISTINCT lower(CAST(v AS VARCHAR)))",
        "value_sum": "sum(TRY_CAST(v AS DOUBLE))",
        "value_avg": "avg(TRY_CAST(v AS DOUBLE))",
    }[rule.type]


@dataclass
class Island:
    """Consecutive firing windows of one group, at most one timespan apart: one alert.

    ``end`` is the first firing event's time, ``seqs`` the group's matched events in the
    window that closes there; ``metric`` is the highest value any window of the island
    reached, ``last`` the time of its latest firing event.
    """

    group: dict[str, Any]
    end: float
    metric: float
    last: float
    seqs: tuple[int, ...] = ()
    start: float | None = None
    """Where the window starts when it is not one timespan before ``end`` (ordered)."""
    evidence: list[Any] = field(default_factory=list)
    """What the alert cites, fetched while the events are still retained."""

    def firing(self, timespan: float) -> Firing:
        start = self.end - timespan if self.start is None else self.start
        return Firing(self.group, start, self.end, self.metric, self.seqs)


class Correlator:
    """One correlation evaluated incrementally: each call sees the events not yet evaluated.

    The state carried between calls is what whole-input evaluation would know at that
    point: the open island of each group (windowed types) or the partial sequences of each
    group (``temporal_ordered``). Windows are computed over every retained event, so the
    events of the previous timespan must still be loaded when a call evaluates new ones.
    """

    def __init__(self, rule: CorrelationRule, rule_index: dict[str, int]) -> None:
        self.rule = rule
        self.rule_index = rule_index
        self.open: dict[tuple[Any, ...], Island] = {}
        self.finished: list[Island] = []
        self.sequences: dict[tuple[Any, ...], _Sequence] = {}

    def advance(self, con: duckdb.DuckDBPyConnection, candidates: str) -> list[Island]:
        """Evaluate the events matching the SQL condition ``candidates`` (over ``_seq`` and
        ``_ts``) in time order; returns the islands they open."""
        if self.rule.type == "temporal_ordered":
            return self._ordered(con, candidates)
        return self._windowed(con, candidates)

    def close(self, watermark: float | None) -> list[Island]:
        """Islands no event after ``watermark`` can extend (all of them when None), in
        window order; forgets them and expired partial sequences."""
        span = self.rule.timespan
        done = [
            key
            for key, island in self.open.items()
            if watermark is None or watermark - island.last > span
        ]
        closed = self.finished + [self.open.pop(key) for key in done]
        self.finished = []
        closed.sort(key=lambda i: (i.end, i.seqs))
        if watermark is None:
            self.sequences.clear()
        else:
            for key in [k for k, s in self.sequences.items() if s.expired(watermark - span)]:
                del self.sequences[key]
        return closed

    def _windowed(self, con: duckdb.DuckDBPyConnection, candidates: str) -> list[Island]:
        """event_count, value_count, value_sum, value_avg and temporal (unordered)."""
        rule = self.rule
        _, partition, _ = _group_sql(rule)
        window = (
            f"PARTITION BY {partition} ORDER BY _ts "
            f"RANGE BETWEEN {rule.timespan} PRECEDING AND CURRENT ROW"
        )
        if rule.type == "temporal":
            flags = [
                f"max(CASE WHEN rule = {self.rule_index[r]} THEN 1 ELSE 0 END) OVER w"
                for r in rule.rules
            ]
            metric = " + ".join(flags)
            fires = f"metric = {len(rule.rules)}"
        else:
            metric = f"{_metric(rule)} OVER w"
            assert rule.condition is not None
            fires = rule.condition.sql("metric")
        width = len(rule.group_by) or 1
        matched = matched_rows_sql(rule, self.rule_index)
        bound = rule.condition
        if rule.group_by and rule.type in LOWER_BOUNDED and bound and bound.op in ("gt", "gte"):
            # A window never counts more than its whole group: groups whose total misses the
            # threshold cannot fire, and are dropped before the costly sliding windows.
            total = bound.sql(_metric(rule))
            matched = f"""
                WITH candidates AS ({matched})
                SELECT * FROM candidates SEMI JOIN (
                    SELECT {partition} FROM candidates GROUP BY {partition} HAVING {total}
                ) possible USING ({partition})
            """
        groups = ", ".join(f"g{i}" for i in range(width))
        rows = con.execute(
            f"""
            WITH m AS ({matched}),
            scored AS (SELECT *, {metric} AS metric FROM m WINDOW w AS ({window}))
            SELECT {groups}, _ts, metric FROM scored WHERE ({fires}) AND ({candidates})
            ORDER BY {groups}, _ts, _seq
            """
        ).fetchall()
        opened: list[Island] = []
        for *key_values, ts, value in rows:
            key = tuple(key_values)
            island = self.open.get(key)
            if island is not None and ts - island.last <= rule.timespan:
                island.last = max(island.last, ts)
                island.metric = max(island.metric, float(value))
                continue
            if island is not None:  # a gap: the old island is complete
                self.finished.append(island)
            island = Island(dict(zip(rule.group_by, key, strict=False)), ts, float(value), ts)
            self.open[key] = island
            opened.append(island)
        if opened:
            self._window_events(con, matched, opened)
        return opened

    def _window_events(
        self, con: duckdb.DuckDBPyConnection, matched: str, islands: list[Island]
    ) -> None:
        """Fill each island's ``seqs``: its group's matched events in its first window."""
        width = len(self.rule.group_by) or 1
        keys = [tuple(i.group.get(f) for f in self.rule.group_by) or (None,) for i in islands]
        starts = ", ".join(
            ["unnest($ends) AS end_ts", "unnest(range(len($ends))) AS i"]
            + [f"unnest($g{k})::VARCHAR AS g{k}" for k in range(width)]
        )
        same_group = " AND ".join(f"s.g{k} IS NOT DISTINCT FROM m.g{k}" for k in range(width))
        parameters: dict[str, Any] = {"ends": [i.end for i in islands]}
        parameters.update({f"g{k}": [key[k] for key in keys] for k in range(width)})
        rows = con.execute(
            f"""
            WITH m AS ({matched}), s AS (SELECT {starts})
            SELECT s.i, list(DISTINCT m._seq ORDER BY m._seq)
            FROM s JOIN m ON {same_group}
                 AND m._ts BETWEEN s.end_ts - {self.rule.timespan} AND s.end_ts
            GROUP BY s.i
            """,
            parameters,
        ).fetchall()
        for index, seqs in rows:
            islands[index].seqs = tuple(sorted(set(seqs)))

    def _ordered(self, con: duckdb.DuckDBPyConnection, candidates: str) -> list[Island]:
        """temporal_ordered: the referenced rules match in order within the timespan."""
        rule = self.rule
        steps = {self.rule_index[r]: k for k, r in enumerate(rule.rules)}
        rows = con.execute(
            f"SELECT * FROM ({matched_rows_sql(rule, self.rule_index)}) WHERE {candidates} "
            "ORDER BY _ts, _seq"
        ).fetchall()
        width = len(rule.group_by) or 1
        by_group: dict[tuple[Any, ...], dict[int, tuple[float, list[int]]]] = defaultdict(dict)
        for seq, ts, hit_rule, *rest in rows:
            by_group[tuple(rest[:width])].setdefault(seq, (ts, []))[1].append(steps[hit_rule])
        completed: list[Island] = []
        for key, events in by_group.items():
            sequence = self.sequences.setdefault(key, _Sequence(rule.timespan, len(rule.rules)))
            for seq, (ts, hit_steps) in events.items():
                found = sequence.step(seq, ts, hit_steps)
                if found is not None:
                    start, seqs = found
                    group = dict(zip(rule.group_by, key, strict=False))
                    completed.append(Island(group, ts, float(len(seqs)), ts, seqs, start))
        self.finished.extend(completed)
        return completed


class _Sequence:
    """temporal_ordered state of one group: the latest start of a partial sequence ending
    at each step, and the time until which a new completion is suppressed."""

    def __init__(self, timespan: float, length: int) -> None:
        self.timespan = timespan
        self.best: list[tuple[float, tuple[int, ...]] | None] = [None] * length
        self.fired_until = float("-inf")

    def step(self, seq: int, ts: float, steps: list[int]) -> tuple[float, tuple[int, ...]] | None:
        """Feed one event (the steps it matches); the (start, events) of a completed sequence."""
        last = len(self.best) - 1
        completed = None
        for step in sorted(steps, reverse=True):
            if step == 0:
                candidate: tuple[float, tuple[int, ...]] | None = (ts, (seq,))
            else:
                previous = self.best[step - 1]
                candidate = (previous[0], (*previous[1], seq)) if previous else None
            if candidate is None or candidate[0] < ts - self.timespan:
                continue
            current = self.best[step]
            if current is None or candidate[0] >= current[0]:
                self.best[step] = candidate
            if step == last and ts > self.fired_until:
                completed = candidate
                self.fired_until = candidate[0] + self.timespan
        return completed

    def expired(self, before: float) -> bool:
        """True when no partial sequence starts at or after ``before`` and nothing is
        suppressed past it: the state can be forgotten."""
        alive = any(b is not None and b[0] >= before for b in self.best)
        return not alive and self.fired_until < before


def evaluate(
    con: duckdb.DuckDBPyConnection, rule: CorrelationRule, rule_index: dict[str, int]
) -> list[Firing]:
    """All firings of one correlation over the whole ``hits`` and ``events`` tables."""
    correlator = Correlator(rule, rule_index)
    correlator.advance(con, "true")
    return [island.firing(rule.timespan) for island in correlator.close(None)]
