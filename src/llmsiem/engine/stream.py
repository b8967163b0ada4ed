"""Detection over a stream of event batches in bounded memory, and ``detect --follow``.

``DetectionStream`` loads batches, evaluates each (detections on the new events,
correlations over the retained window with their state carried over) and drops events
older than twice the longest correlation timespan. ``detect`` feeds it chunks of its
files; ``--follow`` feeds it what each poll of a growing file or stdin read (at most
``POLL_BYTES`` at a time, bad lines to the dead letter) and emits each alert once, a
correlation when its island opens.
"""

from __future__ import annotations

import io
import os
import select
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from llmsiem.engine.alerts import ENTITY_FIELDS
from llmsiem.engine.chunks import JsonlChunk
from llmsiem.engine.detect import Detector, Step
from llmsiem.engine.rules import EngineRules
from llmsiem.engine.store import EventStore, LoadReport
from llmsiem.pipeline import Event, Pipeline
from llmsiem.pipeline.sources import Source
from llmsiem.records import RawRecord, iter_jsonl

MIN_RETENTION_SECONDS = 600.0
POLL_BYTES = 32 * 1024 * 1024


class LineSource:
    """Complete lines appended to a file (or written to a pipe) since the last poll."""

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self.stream = stream
        self.name = name
        self.buffer = b""
        self.line = 1
        self.closed = False
        self.backlog = False

    @classmethod
    def open(cls, path: Path | None) -> LineSource:
        if path is None:
            return cls(os.fdopen(os.dup(0), "rb", buffering=0), "<stdin>")
        return cls(path.open("rb"), str(path))

    def _read_available(self) -> bytes:
        """At most ``POLL_BYTES`` of what is available; ``backlog`` says whether more is."""
        if self.name != "<stdin>":
            data = self.stream.read(POLL_BYTES) or b""
            self.backlog = len(data) == POLL_BYTES
            return data
        chunks: list[bytes] = []
        size = 0
        while size < POLL_BYTES and select.select([self.stream], [], [], 0)[0]:
            chunk = os.read(self.stream.fileno(), 65536)
            if not chunk:
                self.closed = True
                break
            chunks.append(chunk)
            size += len(chunk)
        self.backlog = size >= POLL_BYTES
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


class DetectionStream:
    """The pack over events that arrive in batches, in bounded memory: ``detect`` (chunks of
    its files) and ``detect --follow`` (what each poll read) both run on it.

    Each ``step`` evaluates what was loaded since the last one (see ``Detector.step``),
    then forgets events older than twice the longest correlation timespan (at least ten
    minutes) before the newest one; correlation state carries over in the detector.
    """

    def __init__(self, rules: EngineRules, pipeline: Pipeline, eager: bool = False) -> None:
        self.store = EventStore()
        self.detector = Detector(rules, self.store, eager)
        self.pipeline = pipeline
        self.retention = max(MIN_RETENTION_SECONDS, 2 * rules.max_timespan)
        self.fields = rules.fields() | set(ENTITY_FIELDS)
        self.events = 0
        self.rejected = 0
        self.late = 0
        """Events older than the newest one already evaluated (input out of time order)."""

    def _count(self, report: LoadReport, first_seq: int) -> LoadReport:
        self.events += report.loaded
        self.rejected += report.rejected
        horizon = self.detector.pending_from
        if horizon is not None and report.loaded:
            row = self.store.con.execute(
                "SELECT count(*) FROM events WHERE _seq >= ? AND _ts < ?", [first_seq, horizon]
            ).fetchone()
            self.late += int(row[0]) if row else 0
        return report

    def load_events(self, events: Iterable[Event]) -> LoadReport:
        """Events of the pipeline (read record by record); rejections counted."""
        first_seq = self.store.next_seq
        rejected_before = self.pipeline.rejected
        report = self.store.load_events(events)
        report.rejected = self.pipeline.rejected - rejected_before
        return self._count(report, first_seq)

    def load_records(
        self, records: Iterable[RawRecord], source: Source | None = None
    ) -> LoadReport:
        """Records of any format (or of ``source``) through the pipeline."""
        return self.load_events(self.pipeline.events(records, source))

    def load_chunks(self, chunks: Iterator[JsonlChunk]) -> Iterator[LoadReport]:
        """Chunks of a normalized JSONL file on the bulk path, one report each; the next
        chunk is prepared on a worker thread while the caller evaluates this one."""
        for prepared in self.store.prepared(chunks):
            first_seq = self.store.next_seq
            yield self._count(self.store.load_prepared(prepared, self.pipeline), first_seq)

    def load_parquet(self, path: Path) -> LoadReport:
        """One Parquet file, reading only the columns the rules and alerts need."""
        first_seq = self.store.next_seq
        report = self.store.load_parquet(path, self.pipeline, self.fields)
        return self._count(report, first_seq)

    def step(self, final: bool = False) -> Step:
        """Alerts made certain by what was loaded since the last step; then prune."""
        step = self.detector.step(final)
        self.detector.prune(self.retention)
        return step


class Follower:
    """Streaming detection over one line source: each poll's lines, alerts emitted once."""

    def __init__(
        self,
        rules: EngineRules,
        pipeline: Pipeline,
        emit: Callable[[dict[str, Any]], None],
    ) -> None:
        self.stream = DetectionStream(rules, pipeline, eager=True)
        self.store = self.stream.store
        self.pipeline = pipeline
        self.emit = emit
        self.emitted = 0

    @property
    def events(self) -> int:
        return self.stream.events

    def process(self, records: list[RawRecord]) -> int:
        """Load one micro-batch, evaluate, emit new alerts; returns alerts emitted."""
        if not records:
            return 0
        return self.process_events(self.stream.pipeline.events(records))

    def process_events(self, events: Iterable[Event]) -> int:
        """Evaluate events that already passed the pipeline (``llmsiem collect``)."""
        self.stream.load_events(events)
        step = self.stream.step()
        alerts = step.detections + [alert for _, alert in step.correlations]
        for alert in alerts:
            self.emit(alert)
        self.emitted += len(alerts)
        return len(alerts)

    def follow(
        self,
        source: LineSource,
        interval: float = 0.2,
        idle_exit: float | None = None,
    ) -> None:
        """Poll until the source closes (stdin EOF) or stays idle for ``idle_exit`` seconds;
        a poll reads at most ``POLL_BYTES``, so a large backlog is taken in bounded batches."""
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
            elif not source.backlog:
                time.sleep(interval)
