"""A disk spool between the pipeline and a sink: at-least-once delivery across crashes.

Producers append events to segment files (fsynced). The shipper reads from a committed
cursor, sends one batch, and only then moves the cursor (atomic rename). A crash or a sink
outage between sending and committing re-sends that batch on restart: nothing is lost and
nothing is duplicated beyond the one uncommitted batch (and sinks that key documents by
``event.id`` drop even those).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmsiem.connectors.sink import Delivery, Sink

SEGMENT_EVENTS = 10_000


@dataclass(frozen=True)
class Cursor:
    segment: int
    offset: int


@dataclass
class Drained:
    """The sum of the ``Delivery`` reports of one drain, and why it stopped early if it did."""

    total: Delivery = field(default_factory=Delivery)
    stopped: str | None = None

    def add(self, delivery: Delivery) -> None:
        for name in ("sent", "duplicate", "dead_lettered", "retryable", "retries"):
            setattr(self.total, name, getattr(self.total, name) + getattr(delivery, name))


class Spool:
    """Append-only segments plus a committed read cursor, in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.cursor_path = directory / "cursor.json"

    def _segment(self, number: int) -> Path:
        return self.directory / f"segment-{number:08d}.jsonl"

    def _segments(self) -> list[int]:
        return sorted(int(p.stem.split("-")[1]) for p in self.directory.glob("segment-*.jsonl"))

    def append(self, documents: Iterable[dict[str, Any]]) -> int:
        """Durably append events; returns how many were spooled."""
        numbers = self._segments()
        number = numbers[-1] if numbers else 0
        path = self._segment(number)
        count = sum(1 for _ in path.open("rb")) if path.exists() else 0
        written = 0
        stream = path.open("a", encoding="utf-8")
        try:
            for document in documents:
                if count >= SEGMENT_EVENTS:
                    stream.flush()
                    os.fsync(stream.fileno())
                    stream.close()
                    number += 1
                    count = 0
                    stream = self._segment(number).open("a", encoding="utf-8")
                stream.write(json.dumps(document, ensure_ascii=False) + "\n")
                count += 1
                written += 1
            stream.flush()
            os.fsync(stream.fileno())
        finally:
            stream.close()
        return written

    def cursor(self) -> Cursor:
        if not self.cursor_path.exists():
            numbers = self._segments()
            return Cursor(numbers[0] if numbers else 0, 0)
        data = json.loads(self.cursor_path.read_text())
        return Cursor(int(data["segment"]), int(data["offset"]))

    def commit(self, cursor: Cursor) -> None:
        """Atomically record that everything before ``cursor`` was delivered."""
        temporary = self.cursor_path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"segment": cursor.segment, "offset": cursor.offset}))
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        temporary.replace(self.cursor_path)
        for number in self._segments():
            if number < cursor.segment:
                self._segment(number).unlink(missing_ok=True)

    def read_batch(self, cursor: Cursor, size: int) -> tuple[list[dict[str, Any]], Cursor]:
        """Up to ``size`` events after ``cursor`` and the cursor just past them."""
        batch: list[dict[str, Any]] = []
        segment, offset = cursor.segment, cursor.offset
        for number in [n for n in self._segments() if n >= segment]:
            if number != segment:
                segment, offset = number, 0
            with self._segment(number).open("rb") as stream:
                for index, line in enumerate(stream):
                    if index < offset or not line.endswith(b"\n"):
                        continue
                    batch.append(json.loads(line))
                    offset = index + 1
                    if len(batch) >= size:
                        return batch, Cursor(segment, offset)
        return batch, Cursor(segment, offset)

    def drain(
        self,
        sink: Sink,
        batch_size: int = 500,
        on_batch: Callable[[Delivery], None] | None = None,
    ) -> Drained:
        """Send everything after the cursor, committing after each completely handled batch.

        A batch whose ``Delivery`` is not complete (events retryable, or a fatal sink error)
        stays in the spool, uncommitted, and the drain stops there.
        """
        drained = Drained()
        cursor = self.cursor()
        while True:
            batch, after = self.read_batch(cursor, batch_size)
            if not batch:
                return drained
            delivery = sink.send(batch)
            drained.add(delivery)
            if on_batch is not None:
                on_batch(delivery)
            if not delivery.complete:
                drained.stopped = delivery.fatal or delivery.retry_reason or "not delivered"
                return drained
            self.commit(after)
            cursor = after
