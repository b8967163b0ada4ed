"""Sigma correlations over the engine's rule hits, with real timespans and ordering.

Windows slide: every matching event closes a window ``[ts - timespan, ts]`` (inclusive) in
its group; a window whose metric meets the condition fires. Consecutive firing windows in a
group that are at most one timespan apart form one alert (no alert storms). Group-by
values are compared case-insensitively, as Sigma compares values; events whose group-by
field is missing belong to no group.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
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


def _matched(rule: CorrelationRule, rule_index: dict[str, int]) -> str:
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


def _windowed(
    con: duckdb.DuckDBPyConnection, rule: CorrelationRule, rule_index: dict[str, int]
) -> list[Firing]:
    """event_count, value_count, value_sum, value_avg and temporal (unordered)."""
    _, partition, _ = _group_sql(rule)
    window = (
        f"PARTITION BY {partition} ORDER BY _ts "
        f"RANGE BETWEEN {rule.timespan} PRECEDING AND CURRENT ROW"
    )
    if rule.type == "temporal":
        flags = [
            f"max(CASE WHEN rule = {rule_index[r]} THEN 1 ELSE 0 END) OVER w" for r in rule.rules
        ]
        metric = " + ".join(flags)
        fires = f"metric = {len(rule.rules)}"
    else:
        metric = f"{_metric(rule)} OVER w"
        assert rule.condition is not None
        fires = rule.condition.sql("metric")
    width = len(rule.group_by) or 1
    same_group = " AND ".join(f"f.g{i} IS NOT DISTINCT FROM m.g{i}" for i in range(width))
    group_columns = ", ".join(f"f.g{i}" for i in range(width))
    matched = _matched(rule, rule_index)
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
    rows = con.execute(
        f"""
        WITH m AS ({matched}),
        scored AS (SELECT *, {metric} AS metric FROM m WINDOW w AS ({window})),
        fired AS (SELECT * FROM scored WHERE {fires}),
        marked AS (
            SELECT *, CASE WHEN _ts - lag(_ts) OVER (PARTITION BY {partition} ORDER BY _ts, _seq)
                           <= {rule.timespan} THEN 0 ELSE 1 END AS new_island
            FROM fired
        ),
        islands AS (
            SELECT *, sum(new_island) OVER (PARTITION BY {partition} ORDER BY _ts, _seq
                                            ROWS UNBOUNDED PRECEDING) AS island
            FROM marked
        ),
        firsts AS (
            SELECT {partition}, island, min(_ts) AS end_ts, max(metric) AS metric
            FROM islands GROUP BY {partition}, island
        )
        SELECT {group_columns}, f.end_ts, list(DISTINCT m._seq ORDER BY m._seq), f.metric
        FROM firsts f JOIN m ON {same_group}
             AND m._ts BETWEEN f.end_ts - {rule.timespan} AND f.end_ts
        GROUP BY {group_columns}, f.island, f.end_ts, f.metric ORDER BY f.end_ts
        """
    ).fetchall()
    firings = []
    for row in rows:
        *groups, end, seqs, metric = row
        group = dict(zip(rule.group_by, groups, strict=False))
        firings.append(
            Firing(group, end - rule.timespan, end, float(metric), tuple(sorted(set(seqs))))
        )
    return firings


def _ordered(
    con: duckdb.DuckDBPyConnection, rule: CorrelationRule, rule_index: dict[str, int]
) -> list[Firing]:
    """temporal_ordered: the referenced rules match in order within the timespan."""
    steps = {rule_index[r]: k for k, r in enumerate(rule.rules)}
    rows = con.execute(
        f"SELECT * FROM ({_matched(rule, rule_index)}) ORDER BY _ts, _seq"
    ).fetchall()
    width = len(rule.group_by) or 1
    by_group: dict[tuple[Any, ...], list[tuple[int, float, int]]] = defaultdict(list)
    for seq, ts, hit_rule, *rest in rows:
        by_group[tuple(rest[:width])].append((seq, ts, hit_rule))
    firings: list[Firing] = []
    last = len(rule.rules) - 1
    for key, events in by_group.items():
        firings.extend(_ordered_group(rule, key, events, steps, last))
    return sorted(firings, key=lambda f: f.end)


def _ordered_group(
    rule: CorrelationRule,
    key: tuple[Any, ...],
    events: list[tuple[int, float, int]],
    steps: dict[int, int],
    last: int,
) -> Iterator[Firing]:
    # best[k]: latest start (time, seqs) of a partial sequence whose step k is matched
    best: list[tuple[float, tuple[int, ...]] | None] = [None] * (last + 1)
    fired_until = float("-inf")
    by_seq: dict[int, list[int]] = defaultdict(list)
    times: dict[int, float] = {}
    for seq, ts, hit_rule in events:
        by_seq[seq].append(steps[hit_rule])
        times[seq] = ts
    for seq in sorted(by_seq, key=lambda s: (times[s], s)):
        ts = times[seq]
        for step in sorted(by_seq[seq], reverse=True):
            if step == 0:
                candidate: tuple[float, tuple[int, ...]] | None = (ts, (seq,))
            else:
                previous = best[step - 1]
                candidate = (previous[0], (*previous[1], seq)) if previous else None
            if candidate is None or candidate[0] < ts - rule.timespan:
                continue
            current = best[step]
            if current is None or candidate[0] >= current[0]:
                best[step] = candidate
            if step == last and ts > fired_until:
                group = dict(zip(rule.group_by, key, strict=False))
                yield Firing(group, candidate[0], ts, float(len(candidate[1])), candidate[1])
                fired_until = candidate[0] + rule.timespan


def evaluate(
    con: duckdb.DuckDBPyConnection, rule: CorrelationRule, rule_index: dict[str, int]
) -> list[Firing]:
    """All firings of one correlation over the ``hits`` and ``events`` tables."""
    if rule.type == "temporal_ordered":
        return _ordered(con, rule, rule_index)
    return _windowed(con, rule, rule_index)
