"""OpenSearch Lucene query strings."""

from __future__ import annotations

from sigma.conversion.base import Backend
from sigma.processing.pipeline import ProcessingPipeline

from llmsiem.compiler.backends import UnanchoredOpensearchBackend
from llmsiem.compiler.targets import ELASTIC, ELASTIC_INDEX, Stage, Target


def _opensearch(pipeline: ProcessingPipeline) -> Backend:
    return UnanchoredOpensearchBackend(pipeline, index_names=[ELASTIC_INDEX])


LUCENE = Target(
    "opensearch-lucene",
    "OpenSearch Lucene query strings",
    ELASTIC,
    Stage(_opensearch),
    (),
    evaluator="llmsiem.conformance.evaluators:lucene",
)
