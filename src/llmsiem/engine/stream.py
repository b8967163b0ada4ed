"""``detect --follow``: micro-batches over a growing file or stdin, alerts emitted once.

Each poll reads the complete lines appended since the last one, passes them through the
pipeline (bad lines go to the dead letter), evaluates detections on them and correlations over
the retained window. Events older than twice the longest correlation timespan are dropped,
so memory stays bounded; alert ids are deterministic, so a correlation that keeps firing as
its window grows is emitted once.
"""

from __future__ import annotations

import io
import os
import select
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from llmsiem.engine.detect import Detector
from llmsiem.engine.rules import EngineRules
from llmsiem.engine.store import EventStore
from llmsiem.pipeline import Event, Pipeline
from llmsiem.records import RawRecord, iter_jsonl

MIN_RETENTION_SECONDS = 600.0
MAX_REMEMBERED_ALERTS = 100_000


class LineSource:
    """Complete lines appended to a file (or written to a pipe) since the last poll."""

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self.stream = stream
        self.name = name
        self.buffer = b""
        self.line = 1
        self.closed = False

    @classmethod
    def open(cls, path: Path | None) -> LineSource:
        if path is None:
            return cls(os.fdopen(os.dup(0), "rb", buffering=0), "<stdin>")
        return cls(path.open("rb"), str(path))

    def _read_available(self) -> bytes:
        if self.name != "<stdin>":
            return self.stream.read() or b""
        chunks = []
        while select.select([self.stream], [], [], 0)[0]:
            chunk = os.read(self.stream.fileno(), 65536)
            if not chunk:
                self.closed = True
                break
            chunks.append(chunk)
        return b"".join(chunks)

    def poll(self) -> Iterator[RawRecord]:
        data = self.buffer + self._read_available()
        complete, _, self.buffer = data.rpartition(b"\n")
        if self.closed and self.buffer:
            complete, self.buffer = data, b""
        if not complete:
            return
        first = self.line
        self.line += complete.count(b"\n") + (0 if complete.endswith(b"\n") else 1)
        yield from iter_jsonl(io.BytesIO(complete + b"\n"), self.name, start_line=first)


class Follower:
    """Streaming detection over one line source."""

    def __init__(
        self,
        rules: EngineRules,
        pipeline: Pipeline,
        emit: Callable[[dict[str, Any]], None],
    ) -> None:
        self.rules = rules
        self.store = EventStore()
        self.detector = Detector(rules, self.store)
        self.pipeline = pipeline
        self.emit = emit
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.retention = max(MIN_RETENTION_SECONDS, 2 * rules.max_timespan)
        self.emitted = 0
        self.events = 0

    def process(self, records: list[RawRecord]) -> int:
        """Load one micro-batch, evaluate, emit new alerts; returns alerts emitted."""
        if not records:
            return 0
        return self.process_events(self.pipeline.events(records))

    def process_events(self, events: Iterable[Event]) -> int:
        """Evaluate events that already passed the pipeline (``llmsiem collect``)."""
        report = self.store.load_events(events)
        self.events += report.loaded
        fresh = 0
        for alert in self.detector.run():
            key = alert["event"]["id"]
            if key in self.seen:
                continue
            self.seen[key] = None
            if len(self.seen) > MAX_REMEMBERED_ALERTS:
                self.seen.popitem(last=False)
            self.emit(alert)
            fresh += 1
        self.detector.prune(self.retention)
        self.emitted += fresh
        return fresh

    def follow(
        self,
        source: LineSource,
        interval: float = 0.2,
        idle_exit: float | None = None,
    ) -> None:
        """Poll until the source closes (stdin EOF) or stays idle for ``idle_exit`` seconds."""
        last_data = time.monotonic()
        while True:
            records = list(source.poll())
            if records:
                last_data = time.monotonic()
                self.process(records)
            elif source.closed or (
                idle_exit is not None and time.monotonic() - last_data >= idle_exit
            ):
                return
            else:
                time.sleep(interval)
