"""Per-entity baselines declared in rule content: the ``llmsiem_baseline`` attribute.

A Sigma ``event_count`` or ``value_sum`` correlation grouped by an entity may carry

    llmsiem_baseline: {history_buckets: 30, deviations: 4, min_history: 5}

Its ``timespan`` is then a fixed bucket (``floor(time / timespan)``), and it fires for an
entity's bucket when the bucket's value meets the Sigma ``condition`` (an absolute floor)
and exceeds the entity's own rolling baseline: the mean plus ``deviations`` times the
sample standard deviation of its previous ``history_buckets`` active buckets (buckets in
which it had at least one matching event), once it has at least ``min_history`` of them.
The deviation used is never below ``min_spread_ratio`` times the mean, so an entity with a
perfectly steady history does not fire on one event more than usual.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sigma.correlations import SigmaCorrelationRule

from llmsiem.rulepack import AnyRule

ATTRIBUTE = "llmsiem_baseline"
BASELINE_TYPES = ("event_count", "value_sum")


class BaselineError(ValueError):
    """An ``llmsiem_baseline`` attribute that cannot be used; names the key."""


@dataclass(frozen=True)
class Baseline:
    """The rolling per-entity baseline of one correlation rule."""

    history_buckets: int = 24
    deviations: float = 3.0
    min_history: int = 6
    min_spread_ratio: float = 0.2

    def threshold(self, history: Sequence[float]) -> float | None:
        """The value a bucket must exceed given the entity's previous buckets (oldest
        first, at most ``history_buckets``); None while the history is too short."""
        if len(history) < self.min_history:
            return None
        mean = statistics.fmean(history)
        spread = max(statistics.stdev(history), self.min_spread_ratio * abs(mean))
        return mean + self.deviations * spread

    def describe(self) -> str:
        return (
            f"mean + {self.deviations:g} x stddev of the entity's previous "
            f"{self.history_buckets} buckets (at least {self.min_history})"
        )


_LIMITS: dict[str, tuple[type, float, float]] = {
    "history_buckets": (int, 2, 10_000),
    "deviations": (float, 0.0, 100.0),
    "min_history": (int, 2, 10_000),
    "min_spread_ratio": (float, 0.0, 100.0),
}


def _number(key: str, value: Any) -> int | float:
    kind, low, high = _LIMITS[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BaselineError(f"{ATTRIBUTE}.{key}: expected a number, got {value!r}")
    if kind is int and not float(value).is_integer():
        raise BaselineError(f"{ATTRIBUTE}.{key}: expected a whole number, got {value!r}")
    if not math.isfinite(value) or not low <= value <= high or (key == "deviations" and not value):
        bound = "above 0" if key == "deviations" else f"at least {low:g}"
        raise BaselineError(f"{ATTRIBUTE}.{key}: must be {bound} and at most {high:g}, got {value}")
    return int(value) if kind is int else float(value)


def baseline_of(rule: AnyRule) -> Baseline | None:
    """The rule's baseline, None without the attribute; ``BaselineError`` when it is invalid
    or on a rule that cannot carry one."""
    raw = rule.custom_attributes.get(ATTRIBUTE)
    if raw is None:
        return None
    if not isinstance(rule, SigmaCorrelationRule):
        raise BaselineError(f"{ATTRIBUTE}: only a correlation rule can carry a baseline")
    kind = rule.type.name.lower()
    if kind not in BASELINE_TYPES:
        raise BaselineError(
            f"{ATTRIBUTE}: baselines are kept for {' and '.join(BASELINE_TYPES)} "
            f"correlations, not {kind}"
        )
    if not rule.group_by:
        raise BaselineError(f"{ATTRIBUTE}: needs group-by (the entity the baseline is kept for)")
    op = getattr(getattr(rule.condition, "op", None), "name", "").lower()
    if op not in ("gt", "gte"):
        raise BaselineError(
            f"{ATTRIBUTE}: the correlation condition must be gt or gte (the absolute floor "
            f"a bucket must reach), got {op or 'none'}"
        )
    if not isinstance(raw, dict):
        raise BaselineError(f"{ATTRIBUTE}: expected a mapping of settings, got {raw!r}")
    known = {f.name for f in fields(Baseline)}
    unknown = sorted(str(k) for k in raw if k not in known)
    if unknown:
        raise BaselineError(
            f"{ATTRIBUTE}.{unknown[0]}: unknown setting (known: {', '.join(sorted(known))})"
        )
    baseline = Baseline(**{key: _number(key, value) for key, value in raw.items()})  # type: ignore[arg-type]
    if baseline.min_history > baseline.history_buckets:
        raise BaselineError(
            f"{ATTRIBUTE}.min_history: {baseline.min_history} is more than "
            f"history_buckets ({baseline.history_buckets})"
        )
    return baseline


def is_baseline(rule: AnyRule) -> bool:
    """The rule declares a per-entity baseline (valid or not)."""
    return ATTRIBUTE in rule.custom_attributes
