"""Batch detection: the pipeline's events of every input file, then the pack once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmsiem.engine.detect import Detector
from llmsiem.engine.rules import EngineRules
from llmsiem.engine.store import EventStore, LoadReport
from llmsiem.pipeline import Pipeline
from llmsiem.pipeline.sources import NORMALIZED
from llmsiem.records import JSONL_SUFFIXES, not_readable


@dataclass
class DetectRun:
    """The outcome of one ``llmsiem detect`` run."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    loaded: int = 0
    rejected: int = 0
    files: int = 0


def load_file(store: EventStore, pipeline: Pipeline, path: Path) -> LoadReport:
    """One file's events into ``store``: normalized JSONL in bulk, other formats per record."""
    if (
        path.suffix in JSONL_SUFFIXES
        and not_readable(path) is None
        and pipeline.file_source(path).name == NORMALIZED
    ):
        return store.load_file(path, pipeline)
    rejected_before = pipeline.rejected
    report = store.load_events(pipeline.file_events(path))
    report.rejected = pipeline.rejected - rejected_before
    return report


def detect_files(
    paths: Sequence[Path],
    rules: EngineRules,
    pipeline: Pipeline,
    on_file: Callable[[Path, int], None] | None = None,
) -> DetectRun:
    """Load every file (bad records dead-lettered), then evaluate the pack once."""
    store = EventStore()
    run = DetectRun(files=len(paths))
    for path in paths:
        report = load_file(store, pipeline, path)
        run.loaded += report.loaded
        run.rejected += report.rejected
        if on_file is not None:
            on_file(path, report.loaded)
    run.alerts = Detector(rules, store).run()
    return run
