"""Compile targets: which pySigma backend, output format and pipelines each one uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sigma.conversion.base import Backend
from sigma.processing.pipeline import ProcessingPipeline
from sigma.rule import SigmaRule

from llmsiem.compiler.backends import (
    FixedEqlBackend,
    JsonLogQLBackend,
    SavedSearchSplunkBackend,
    SigmaSplunkBackend,
    UnanchoredESQLBackend,
    UnanchoredLuceneBackend,
    UnanchoredOpensearchBackend,
)
from llmsiem.levels import SPLUNK_SEVERITY

ELASTIC_INDEX = "logs-llm*"

BackendFactory = Callable[[ProcessingPipeline], Backend]


def _splunk_query_settings(rule: SigmaRule) -> dict[str, str]:
    level = rule.level.name.lower() if rule.level else "medium"
    return {
        "cron_schedule": "*/5 * * * *",
        "enableSched": "1",
        "dispatch.earliest_time": "-10m",
        "dispatch.latest_time": "now",
        "alert.severity": str(SPLUNK_SEVERITY[level]),
        "alert.suppress": "0",
        "alert.track": "1",
        "counttype": "number of events",
        "relation": "greater than",
        "quantity": "0",
        "action.llmsiem_rule_id": str(rule.id),
    }


@dataclass(frozen=True)
class Stage:
    """One backend and output format used by a target."""

    factory: BackendFactory
    output_format: str = "default"


@dataclass(frozen=True)
class Target:
    """A compile target: pipelines, the stage for detection rules, stages for correlations."""

    name: str
    description: str
    pipelines: tuple[str, ...]
    detection: Stage
    correlation: tuple[Stage, ...]


def _lucene(pipeline: ProcessingPipeline) -> Backend:
    return UnanchoredLuceneBackend(pipeline, index_names=[ELASTIC_INDEX])


def _esql(pipeline: ProcessingPipeline) -> Backend:
    return UnanchoredESQLBackend(pipeline, index_names=[ELASTIC_INDEX])


def _eql(pipeline: ProcessingPipeline) -> Backend:
    return FixedEqlBackend(pipeline, index_names=[ELASTIC_INDEX])


def _splunk(pipeline: ProcessingPipeline) -> Backend:
    return SigmaSplunkBackend(pipeline)


def _splunk_saved(pipeline: ProcessingPipeline) -> Backend:
    return SavedSearchSplunkBackend(
        pipeline, query_settings=_splunk_query_settings, min_time="-10m", max_time="now"
    )


def _opensearch(pipeline: ProcessingPipeline) -> Backend:
    return UnanchoredOpensearchBackend(pipeline, index_names=[ELASTIC_INDEX])


def _loki(pipeline: ProcessingPipeline) -> Backend:
    return JsonLogQLBackend(pipeline)


ELASTIC = ("tuning.yml", "elastic.yml")
SPLUNK = ("tuning.yml", "splunk.yml")

TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "elastic-lucene",
            "Elasticsearch Lucene query strings",
            ELASTIC,
            Stage(_lucene),
            (),
        ),
        Target(
            "elastic-esql", "Elasticsearch ES|QL queries", ELASTIC, Stage(_esql), (Stage(_esql),)
        ),
        Target("elastic-eql", "Elasticsearch EQL queries", ELASTIC, Stage(_eql), (Stage(_eql),)),
        Target(
            "kibana-ndjson",
            "Elastic Security detection rules for /api/detection_engine/rules/_import",
            ELASTIC,
            Stage(_lucene, "siem_rule_ndjson"),
            (Stage(_eql, "siem_rule_ndjson"), Stage(_esql, "siem_rule_ndjson")),
        ),
        Target("splunk-spl", "Splunk SPL searches", SPLUNK, Stage(_splunk), (Stage(_splunk),)),
        Target(
            "splunk-savedsearches",
            "Splunk app folder with savedsearches.conf and filter macros",
            SPLUNK,
            Stage(_splunk_saved, "savedsearches"),
            (Stage(_splunk_saved, "savedsearches"),),
        ),
        Target(
            "opensearch-lucene",
            "OpenSearch Lucene query strings",
            ELASTIC,
            Stage(_opensearch),
            (),
        ),
        Target(
            "loki-logql",
            "Grafana Loki LogQL queries over JSON log lines",
            ("tuning.yml", "loki.yml"),
            Stage(_loki),
            (Stage(_loki),),
        ),
    )
}
