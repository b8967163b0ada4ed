"""Grafana Loki LogQL over JSON log lines."""

from __future__ import annotations

from sigma.conversion.base import Backend
from sigma.processing.pipeline import ProcessingPipeline

from llmsiem.compiler.backends import JsonLogQLBackend
from llmsiem.compiler.targets import Stage, Target


def _loki(pipeline: ProcessingPipeline) -> Backend:
    return JsonLogQLBackend(pipeline)


LOGQL = Target(
    "loki-logql",
    "Grafana Loki LogQL queries over JSON log lines",
    ("tuning.yml", "loki.yml"),
    Stage(_loki),
    (Stage(_loki),),
    evaluator="llmsiem.conformance.evaluators:logql",
)
