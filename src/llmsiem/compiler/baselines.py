"""Why a compile target skips a per-entity baseline rule (``llmsiem_baseline``).

A baseline rule's Sigma ``condition`` is only its absolute floor: a target that compiled
the correlation as written would emit a fixed-threshold query that fires for every entity
above the floor. No target emits the baseline itself today, so every target skips these
rules with the reason below, shown by ``llmsiem compile --coverage``; docs/baselines.md
says how each SIEM can express them.
"""

from __future__ import annotations

from llmsiem.baseline_spec import ATTRIBUTE, is_baseline
from llmsiem.rulepack import AnyRule

_PREFIX = f"per-entity baseline ({ATTRIBUTE}), not a fixed threshold: "
_BY_FAMILY = {
    "elastic": "no single Elastic query keeps a rolling mean and deviation per entity; "
    "deploy it as an ML anomaly-detection job (high_count/high_sum partitioned by the "
    "entity), see docs/baselines.md",
    "kibana": "Elastic Security runs it as a machine_learning rule on an anomaly-detection "
    "job (high_count/high_sum partitioned by the entity), not as a query rule; see "
    "docs/baselines.md",
    "splunk": "SPL expresses it with bin, stats and streamstats avg/stdev by the entity "
    "(docs/baselines.md); pySigma's Splunk backend has no such conversion and llmsiem does "
    "not emit it yet",
    "loki": "LogQL has no rolling statistics over past buckets of a log query; it needs a "
    "recording rule and a Prometheus alert (docs/baselines.md), not emitted",
    "opensearch": "OpenSearch expresses it only through its Anomaly Detection plugin "
    "(a detector per entity category field), not a query; not emitted",
}


def baseline_skip_reason(rule: AnyRule, target: str) -> str | None:
    """The skip reason of a baseline rule for ``target``; None for any other rule."""
    if not is_baseline(rule):
        return None
    family = target.split("-")[0]
    return _PREFIX + _BY_FAMILY.get(
        family, "this target has no per-entity baseline conversion (docs/baselines.md)"
    )
