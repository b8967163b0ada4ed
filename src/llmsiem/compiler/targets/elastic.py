"""Elasticsearch targets (Lucene, ES|QL, EQL) and Elastic Security detection rules (Kibana)."""

from __future__ import annotations

from sigma.conversion.base import Backend
from sigma.processing.pipeline import ProcessingPipeline

from llmsiem.compiler.backends import (
    FixedEqlBackend,
    UnanchoredESQLBackend,
    UnanchoredLuceneBackend,
)
from llmsiem.compiler.output import write_kibana
from llmsiem.compiler.targets import ELASTIC, ELASTIC_INDEX, Stage, Target


def _lucene(pipeline: ProcessingPipeline) -> Backend:
    return UnanchoredLuceneBackend(pipeline, index_names=[ELASTIC_INDEX])


def _esql(pipeline: ProcessingPipeline) -> Backend:
    return UnanchoredESQLBackend(pipeline, index_names=[ELASTIC_INDEX])


def _eql(pipeline: ProcessingPipeline) -> Backend:
    return FixedEqlBackend(pipeline, index_names=[ELASTIC_INDEX])


EVALUATORS = "llmsiem.conformance.evaluators"

LUCENE = Target(
    "elastic-lucene",
    "Elasticsearch Lucene query strings",
    ELASTIC,
    Stage(_lucene),
    (),
    evaluator=f"{EVALUATORS}:lucene",
)
ESQL = Target(
    "elastic-esql",
    "Elasticsearch ES|QL queries",
    ELASTIC,
    Stage(_esql),
    (Stage(_esql),),
    evaluator=f"{EVALUATORS}:esql",
)
EQL = Target(
    "elastic-eql",
    "Elasticsearch EQL queries",
    ELASTIC,
    Stage(_eql),
    (Stage(_eql),),
    evaluator=f"{EVALUATORS}:eql",
)
KIBANA_NDJSON = Target(
    "kibana-ndjson",
    "Elastic Security detection rules for /api/detection_engine/rules/_import",
    ELASTIC,
    Stage(_lucene, "siem_rule_ndjson"),
    (Stage(_eql, "siem_rule_ndjson"), Stage(_esql, "siem_rule_ndjson")),
    write_kibana,
    anomaly_jobs=True,
)
