"""Batch detection: load input files, run the pack once, return alerts and counts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmsiem.deadletter import DeadLetter
from llmsiem.engine.detect import Detector
from llmsiem.engine.rules import EngineRules
from llmsiem.engine.store import EventStore
from llmsiem.ingest import InputLoader


@dataclass
class DetectRun:
    """The outcome of one ``llmsiem detect`` run."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    loaded: int = 0
    rejected: int = 0
    files: int = 0


def detect_files(
    paths: Sequence[Path],
    rules: EngineRules,
    dead_letter: DeadLetter,
    source_format: str = "auto",
    on_file: Callable[[Path, int], None] | None = None,
) -> DetectRun:
    """Load every file (bad records dead-lettered), then evaluate the pack once."""
    store = EventStore()
    loader = InputLoader(store, dead_letter, source_format)
    run = DetectRun(files=len(paths))
    for path in paths:
        report = loader.load(path)
        run.loaded += report.loaded
        run.rejected += report.rejected
        if on_file is not None:
            on_file(path, report.loaded)
    run.alerts = Detector(rules, store).run()
    return run
