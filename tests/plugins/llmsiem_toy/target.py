"""A third-party compile target for the tests: SQLite queries with the toy SIEM's field names.

Registered under the ``llmsiem.targets`` entry-point group; its pipelines are llmsiem's
tuning defaults plus its own mapping file (an absolute path), and its evaluator runs the
compiled queries in SQLite over a table named the toy SIEM's way.
"""

from __future__ import annotations

from pathlib import Path

from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.conversion.base import Backend
from sigma.processing.pipeline import ProcessingPipeline

from llmsiem.compiler.compile import CompileResult
from llmsiem.compiler.targets import Stage, Target
from llmsiem.conformance.corpus import SampleCorpus
from llmsiem.conformance.verdicts import Verdicts
from llmsiem.engine.sqlite_reference import SqliteReference
from llmsiem.rulepack import RulePack


def _sqlite(pipeline: ProcessingPipeline) -> Backend:
    return sqliteBackend(pipeline)  # type: ignore[no-untyped-call]


def sqlite_verdicts(result: CompileResult, corpus: SampleCorpus) -> Verdicts:
    """The event ids each compiled detection query selects from the corpus in SQLite."""
    table = SqliteReference(RulePack(Path(), ()))  # its flat table only, no rules
    table.load(corpus.events)
    table.con.execute('ALTER TABLE logs RENAME COLUMN "llmsiem.prompt.text" TO prompt_text')
    verdicts = Verdicts()
    for rule in result.compiled:
        if rule.kind == "detection":
            (query,) = rule.queries
            selected = table.con.execute(query.replace("*", '"event.id"', 1))
            verdicts.detections[rule.name or rule.rule_id] = frozenset(row[0] for row in selected)
    return verdicts


TARGET = Target(
    "toy-sqlite",
    "SQLite queries over the toy SIEM's table",
    ("tuning.yml", str(Path(__file__).with_name("toy.yml"))),
    Stage(_sqlite),
    (Stage(_sqlite),),
    evaluator="llmsiem_toy.target:sqlite_verdicts",
)
