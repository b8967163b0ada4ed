"""A third-party compile target for the tests: SQLite queries with the toy SIEM's field names.

Registered under the ``llmsiem.targets`` entry-point group; its pipelines are llmsiem's
tuning defaults plus its own mapping file (an absolute path).
"""

from __future__ import annotations

from pathlib import Path

from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.conversion.base import Backend
from sigma.processing.pipeline import ProcessingPipeline

from llmsiem.compiler.targets import Stage, Target


def _sqlite(pipeline: ProcessingPipeline) -> Backend:
    return sqliteBackend(pipeline)  # type: ignore[no-untyped-call]


TARGET = Target(
    "toy-sqlite",
    "SQLite queries over the toy SIEM's table",
    ("tuning.yml", str(Path(__file__).with_name("toy.yml"))),
    Stage(_sqlite),
    (Stage(_sqlite),),
)
