"""Batch detection: every input file streamed through the pack in chunks, memory bounded.

Normalized JSONL is loaded on the bulk path in chunks of at most ``chunk_lines`` lines and
about ``CHUNK_BYTES`` of input, each read, bounds-checked and surveyed on a worker thread
while the previous one is loaded and evaluated; Parquet files (and
hive-partitioned folders of them) through DuckDB's Parquet reader, any other format record
by record through the pipeline. After every ``chunk_lines`` events the pack evaluates
what was loaded and the events older than the correlation window are dropped; alerts are
the same as one evaluation over the whole input when the input is in time order (events
that arrive older than already evaluated ones are counted as ``late``).
"""

from __future__ import annotations

import pickle
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from llmsiem.engine.chunks import CHUNK_BYTES, CHUNK_LINES, ReadBrokenError, jsonl_chunks
from llmsiem.engine.rules import EngineRules
from llmsiem.engine.store import LoadReport
from llmsiem.engine.stream import DetectionStream
from llmsiem.pipeline import Pipeline
from llmsiem.pipeline.sources import NORMALIZED
from llmsiem.records import JSONL_SUFFIXES, RawRecord, data_suffix, not_readable

PARQUET_SUFFIX = ".parquet"


@dataclass
class DetectRun:
    """The outcome of one ``llmsiem detect`` run."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    """Every alert, when the run was not given an ``emit`` callback."""
    by_rule: Counter[str] = field(default_factory=Counter)
    loaded: int = 0
    rejected: int = 0
    quarantined: int = 0
    """Lines the typed read would not take as the pipeline does (read per record)."""
    rescrubbed: int = 0
    """Rows whose findings the bulk scrubber left to the per-record pipeline."""
    late: int = 0
    files: int = 0

    @property
    def alert_count(self) -> int:
        return sum(self.by_rule.values())


def is_parquet(path: Path) -> bool:
    """A Parquet file, or a folder holding Parquet files (e.g. hive partitions)."""
    if path.is_dir():
        return next(path.rglob(f"*{PARQUET_SUFFIX}"), None) is not None
    return path.suffix == PARQUET_SUFFIX


def _loads(
    stream: DetectionStream, path: Path, chunk_lines: int, chunk_bytes: int
) -> Iterator[LoadReport]:
    """Load ``path`` piece by piece; each report is one piece of at most ``chunk_lines``."""
    pipeline = stream.pipeline
    if is_parquet(path):
        # Folders in name order: hive partitions by date (dt=2026-12-01/) come in time order.
        files = sorted(path.rglob(f"*{PARQUET_SUFFIX}")) if path.is_dir() else [path]
        for part in files:
            yield stream.load_parquet(part)
    elif (
        data_suffix(path) in JSONL_SUFFIXES
        and not_readable(path) is None
        and pipeline.file_source(path).name == NORMALIZED
    ):
        try:
            yield from stream.load_chunks(jsonl_chunks(path, chunk_lines, chunk_bytes))
        except ReadBrokenError as broken:
            yield stream.load_records([RawRecord(broken.source, broken.line, None, broken.reason)])
    else:
        events = pipeline.file_events(path)
        while True:
            report = stream.load_events(islice(events, chunk_lines))
            if not report.loaded and not report.rejected:
                return
            yield report


def detect_files(
    paths: Sequence[Path],
    rules: EngineRules,
    pipeline: Pipeline,
    on_file: Callable[[Path, int], None] | None = None,
    emit: Callable[[dict[str, Any]], None] | None = None,
    chunk_lines: int = CHUNK_LINES,
    chunk_bytes: int = CHUNK_BYTES,
) -> DetectRun:
    """Stream every file through the pack; bad records are dead-lettered.

    Alerts go to ``emit`` as they become certain (detections in input order, then the
    correlations in the order one whole-input evaluation gives them), or into
    ``run.alerts`` without one.
    """
    stream = DetectionStream(rules, pipeline)
    run = DetectRun(files=len(paths))
    # Correlation alerts wait for the end (whole-input order), pickled: a sixth of the
    # memory of the documents, so a long input holds about 1.7 KB per such alert.
    correlations: list[tuple[Any, bytes]] = []

    def deliver(alert: dict[str, Any]) -> None:
        run.by_rule[alert["rule"]["name"]] += 1
        if emit is None:
            run.alerts.append(alert)
        else:
            emit(alert)

    def step(final: bool) -> None:
        evaluated = stream.step(final)
        for alert in evaluated.detections:
            deliver(alert)
        correlations.extend((key, pickle.dumps(alert, 5)) for key, alert in evaluated.correlations)

    unevaluated = 0
    for path in paths:
        loaded = 0
        for report in _loads(stream, path, chunk_lines, chunk_bytes):
            loaded += report.loaded
            run.quarantined += report.quarantined
            run.rescrubbed += report.rescrubbed
            unevaluated += report.loaded
            if unevaluated >= chunk_lines:
                step(final=False)
                unevaluated = 0
        if on_file is not None:
            on_file(path, loaded)
    step(final=True)
    for _, pickled in sorted(correlations, key=lambda item: item[0]):
        deliver(pickle.loads(pickled))
    run.loaded, run.rejected, run.late = stream.events, stream.rejected, stream.late
    return run
