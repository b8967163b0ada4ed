"""Per-entity baseline rules (``llmsiem_baseline``) on compile targets.

A baseline rule's Sigma ``condition`` is only its absolute floor: a target that compiled
the correlation as written would emit a fixed-threshold query that fires for every entity
above the floor. The Splunk targets emit the baseline itself (``bin``, ``stats``,
``streamstats``; ``llmsiem.compiler.backends.splunk``, ``Target.baselines``);
``kibana-ndjson`` carries, per baseline rule, the Elastic ML anomaly-detection job that
models each entity's own history (``anomaly_job``) and the ``machine_learning`` detection
rule that alerts on its anomalies (``machine_learning_rule``). Every other target skips
these rules with the reason below, shown by ``llmsiem compile --coverage``;
docs/baselines.md says how each SIEM can express them.
"""

from __future__ import annotations

from typing import Any

from sigma.correlations import SigmaCorrelationRule

from llmsiem.baseline_spec import ATTRIBUTE, baseline_of, is_baseline
from llmsiem.compiler.targets import Target
from llmsiem.rulepack import AnyRule

ANOMALY_JOBS_FILE = "llmsiem-anomaly-jobs.json"
# Elastic ML detector functions that, like the engine's history of active buckets, ignore
# buckets in which the entity has no event (count) or no value (sum).
DETECTOR_FUNCTIONS = {"event_count": "high_non_zero_count", "value_sum": "high_non_null_sum"}

_PREFIX = f"per-entity baseline ({ATTRIBUTE}), not a fixed threshold: "
_BY_FAMILY = {
    "elastic": "no single Elastic query keeps a rolling mean and deviation per entity; "
    "deploy it as an ML anomaly-detection job (high_count/high_sum partitioned by the "
    "entity), see docs/baselines.md",
    "loki": "LogQL has no rolling statistics over past buckets of a log query; it needs a "
    "recording rule and a Prometheus alert (docs/baselines.md), not emitted",
    "opensearch": "OpenSearch expresses it only through its Anomaly Detection plugin "
    "(a detector per entity category field), not a query; not emitted",
}


def baseline_skip_reason(rule: AnyRule, target: Target) -> str | None:
    """The skip reason of a baseline rule for a target that neither converts baselines nor
    runs them as anomaly-detection jobs; None for any other rule or target."""
    if target.baselines or target.anomaly_jobs or not is_baseline(rule):
        return None
    family = target.name.split("-")[0]
    return _PREFIX + _BY_FAMILY.get(
        family, "this target has no per-entity baseline conversion (docs/baselines.md)"
    )


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def anomaly_job(rule: SigmaCorrelationRule, datafeed_query: str, index: str) -> dict[str, Any]:
    """The Elastic anomaly-detection job of one baseline rule: its ``job_id`` and ``job``,
    the body of ``PUT _ml/anomaly_detectors/<job_id>``. A high-side detector on the bucket
    value, partitioned by the entity, over the events the base rules match (the datafeed's
    ``datafeed_query``, Lucene)."""
    baseline = baseline_of(rule)
    assert baseline is not None and rule.group_by
    kind = rule.type.name.lower()
    entity = rule.group_by[0]
    detector: dict[str, Any] = {
        "function": DETECTOR_FUNCTIONS[kind],
        "partition_field_name": entity,
        "detector_description": f"{rule.title}; llmsiem's engine: {baseline.describe()}",
    }
    if kind == "value_sum":
        detector["field_name"] = getattr(rule.condition, "fieldref", None)
    job = {
        "description": rule.title,
        "groups": ["llmsiem", "security"],  # "security": listed by Elastic Security
        "analysis_config": {
            "bucket_span": _duration(rule.timespan.seconds),
            "detectors": [detector],
            "influencers": list(rule.group_by),
        },
        "data_description": {"time_field": "@timestamp"},
        "datafeed_config": {
            "indices": [index],
            "query": {"query_string": {"query": datafeed_query}},
        },
        "custom_settings": {"llmsiem": {"rule_id": str(rule.id), ATTRIBUTE: vars(baseline)}},
    }
    return {"job_id": f"llmsiem-{rule.name}".replace("_", "-"), "job": job}


ANOMALY_THRESHOLD = 75
"""Anomaly score (0-100) at which the Elastic Security rule alerts: "critical" in the ML app."""


def machine_learning_rule(rule: SigmaCorrelationRule, job_id: str) -> dict[str, Any]:
    """The Elastic Security ``machine_learning`` rule of a baseline rule's job: it alerts on
    the job's anomaly records (score >= ``ANOMALY_THRESHOLD``). Named as pySigma names its
    rules (``SIGMA - title``), finished for ``_import`` like every other rule."""
    return {
        "rule_id": str(rule.id),
        "name": f"SIGMA - {rule.title}",
        "description": rule.description or rule.title,
        "type": "machine_learning",
        "machine_learning_job_id": [job_id],
        "anomaly_threshold": ANOMALY_THRESHOLD,
        "author": [rule.author] if rule.author else [],
        "references": list(rule.references or []),
        "false_positives": list(rule.falsepositives or []),
    }
