"""Compile targets: the ``Target`` description and the registry of every known target.

A target names the pySigma backend (a subclass where the stock one is wrong), its output
format and the processing pipelines its queries need. Adding a target is one module here
with a ``Target`` object and one line in ``BUILTIN_TARGETS``; other packages register theirs
under the ``llmsiem.targets`` entry-point group instead
(``[project.entry-points."llmsiem.targets"] mysiem = "pkg.mod:TARGET"``). ``llmsiem compile
--target``, its coverage table, ``llmsiem test`` and the pySigma plugin
(``sigma.pipelines.llmsiem``) all list targets from ``TARGETS``; no target module is
imported to list their names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from llmsiem.plugins import TARGETS_GROUP, Registry

if TYPE_CHECKING:
    from sigma.conversion.base import Backend
    from sigma.processing.pipeline import ProcessingPipeline

    from llmsiem.compiler.compile import CompileResult

ELASTIC_INDEX = "logs-llm*"
# Pipelines shared by several targets: the tuning placeholders, then the field mappings.
ELASTIC = ("tuning.yml", "elastic.yml")
SPLUNK = ("tuning.yml", "splunk.yml")

BackendFactory = Callable[["ProcessingPipeline"], "Backend"]
Writer = Callable[["CompileResult", Path], list[Path]]


@dataclass(frozen=True)
class Stage:
    """One backend and output format used by a target."""

    factory: BackendFactory
    output_format: str = "default"


@dataclass(frozen=True)
class Target:
    """A compile target.

    ``pipelines`` are file names in the bundled ``mappings/`` folder or absolute paths (a
    plugin's own mappings); ``detection`` converts detection rules, ``correlation`` lists the
    stages tried in turn for a correlation (empty: the target has none); ``writer`` lays out
    ``compile --out`` (None: ``queries.json`` and ``queries.txt``); ``evaluator`` is the
    ``"module:function"`` that says what the compiled queries match on a sample corpus,
    ``(CompileResult, SampleCorpus) -> Verdicts`` (``llmsiem.conformance.evaluators``), for
    ``llmsiem test --targets`` (None: the target has none). ``anomaly_jobs``: the target
    also carries an Elastic anomaly-detection job per baseline rule (``CompileResult``).
    ``baselines``: the correlation backend converts per-entity baseline rules
    (``llmsiem_baseline``) into queries; other targets skip them with a reason.
    """

    name: str
    description: str
    pipelines: tuple[str, ...]
    detection: Stage
    correlation: tuple[Stage, ...]
    writer: Writer | None = None
    evaluator: str | None = None
    anomaly_jobs: bool = False
    """Write Elastic ML anomaly-detection jobs for per-entity baseline rules."""
    baselines: bool = False


BUILTIN_TARGETS = {
    "elastic-lucene": "llmsiem.compiler.targets.elastic:LUCENE",
    "elastic-esql": "llmsiem.compiler.targets.elastic:ESQL",
    "elastic-eql": "llmsiem.compiler.targets.elastic:EQL",
    "kibana-ndjson": "llmsiem.compiler.targets.elastic:KIBANA_NDJSON",
    "splunk-spl": "llmsiem.compiler.targets.splunk:SPL",
    "splunk-savedsearches": "llmsiem.compiler.targets.splunk:SAVEDSEARCHES",
    "opensearch-lucene": "llmsiem.compiler.targets.opensearch:LUCENE",
    "loki-logql": "llmsiem.compiler.targets.loki:LOGQL",
}
TARGETS: Registry[Target] = Registry(TARGETS_GROUP, Target, BUILTIN_TARGETS)
