"""The collector's consumer: a bounded queue of requests, a worker thread and an engine thread.

Requests are queued as lists of records (one per span, log record or LiteLLM payload). The
worker thread takes whole requests in batches, passes them through the one pipeline
(normalize, scrub, validate; rejected records go to the dead letter) and sends the events
to every sink; then it answers the requests, so a success means the request's events
reached every sink, and a sink that could not take them fails the request as retryable
(503) for the sender to send again. The events then wait for the engine thread, which
evaluates everything that arrived since its last run in one micro-batch of the streaming
engine (the pack's cost is mostly per run, so a busy collector evaluates larger batches)
and hands new alerts to the alert handlers (alerts file, metrics, response runner).

When ``max_queued`` records wait for the pipeline, or as many events wait for the engine,
new requests are refused (503 with Retry-After) before their body is read: nothing is
dropped without the sender knowing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmsiem.metrics import MeteredDeadLetter, Metrics
from llmsiem.pipeline.events import Event, Pipeline
from llmsiem.pipeline.sources import SOURCES
from llmsiem.records import RawRecord

if TYPE_CHECKING:
    from llmsiem.collect.fanout import SinkFanout
    from llmsiem.engine.stream import Follower

log = logging.getLogger("llmsiem.collect")
SOURCE_PREFIX = "collect:"
AlertHandler = Callable[[dict[str, Any]], object]


class QueueFullError(Exception):
    """The queue cannot take this request now; the sender should retry later."""


class RequestTooLargeError(Exception):
    """The request holds more records than the queue can ever hold."""


class SinkUnavailableError(Exception):
    """A sink could not take a batch; its requests are to be sent again."""


@dataclass(frozen=True)
class Outcome:
    """What became of one request's records."""

    accepted: int
    rejected: int
    reason: str = ""


@dataclass
class Submission:
    source: str
    source_format: str
    records: list[dict[str, Any]]
    unique_ids: bool
    result: Future[Outcome] = field(default_factory=Future)


class TallyingDeadLetter(MeteredDeadLetter):
    """A metered dead letter that also remembers which records of each source it took."""

    def __init__(self, path: Path | None, metrics: Metrics) -> None:
        super().__init__(path, metrics)
        self.tally: dict[str, dict[int, str]] = {}

    def write(self, source: str, line: int, reason: str, raw: Any) -> None:
        super().write(source, line, reason, raw)
        if source.startswith(SOURCE_PREFIX):  # not a sink's dead letters
            self.tally.setdefault(source, {}).setdefault(line, reason)


class Collector:
    """The request queue, the worker and engine threads, and the path of every batch."""

    def __init__(
        self,
        pipeline: Pipeline,
        dead_letter: TallyingDeadLetter,
        metrics: Metrics,
        fanout: SinkFanout | None = None,
        alert_handlers: list[AlertHandler] | None = None,
        max_queued: int = 100_000,
        max_batch: int = 4096,
    ) -> None:
        self.pipeline = pipeline
        self.dead_letter = dead_letter
        self.metrics = metrics
        self.fanout = fanout
        self.follower: Follower | None = None
        self.alert_handlers = alert_handlers or []
        self.max_queued = max_queued
        self.max_batch = max_batch
        self.queue: deque[Submission] = deque()
        self.queued = 0
        self.backlog: deque[list[Event]] = deque()
        self.unevaluated = 0
        self.sequence = 0
        self.closed = False
        self.drained = False
        self.condition = threading.Condition()
        self.delivery = threading.Lock()  # sinks are used by one thread at a time
        self.thread = threading.Thread(target=self._run, name="llmsiem-collect", daemon=True)
        self.engine_thread = threading.Thread(
            target=self._run_engine, name="llmsiem-collect-engine", daemon=True
        )

    def attach_engine(self, follower: Follower) -> None:
        """Evaluate every batch with ``follower`` (built with ``self.emit`` as its callback)."""
        self.follower = follower

    def start(self) -> None:
        if self.fanout is not None:
            self.fanout.open()
        self.thread.start()
        self.engine_thread.start()

    def stop(self) -> None:
        """Finish every queued request and evaluate its events, then close sinks and dead letter."""
        with self.condition:
            self.closed = True
            self.condition.notify_all()
        if self.thread.is_alive():
            self.thread.join()
        with self.condition:
            self.drained = True
            self.condition.notify_all()
        if self.engine_thread.is_alive():
            self.engine_thread.join()
        if self.fanout is not None:
            self.fanout.close()
        self.dead_letter.close()

    @property
    def full(self) -> bool:
        """No room: records waiting for the pipeline or events waiting for the engine."""
        return self.closed or max(self.queued, self.unevaluated) >= self.max_queued

    def submit(
        self, kind: str, source_format: str, records: list[dict[str, Any]], unique_ids: bool = False
    ) -> Future[Outcome]:
        """Queue one request's records of a registered source format (``otlp``, ``litellm``);
        QueueFullError or RequestTooLargeError if it cannot."""
        if len(records) > self.max_queued:
            raise RequestTooLargeError(
                f"{len(records)} records in one request; the limit is {self.max_queued}"
            )
        with self.condition:
            if self.full or self.queued + len(records) > self.max_queued:
                raise QueueFullError("the collector's queue is full")
            self.sequence += 1
            submission = Submission(
                f"{SOURCE_PREFIX}{kind}#{self.sequence}", source_format, records, unique_ids
            )
            self.queue.append(submission)
            self.queued += len(records)
            self.condition.notify_all()
        return submission.result

    def emit(self, alert: dict[str, Any]) -> None:
        """One new alert to every handler; a failing handler does not stop the others."""
        self.metrics.observe_alert(alert)
        for handler in self.alert_handlers:
            try:
                handler(alert)
            except Exception:
                log.exception("alert handler %r failed on alert %s", handler, alert["event"]["id"])

    def sending(self, handler: AlertHandler) -> AlertHandler:
        """``handler`` run under the sinks' lock: for handlers that send to the sinks
        (``collect --routes``), which the worker thread uses at the same time."""

        def locked(alert: dict[str, Any]) -> object:
            with self.delivery:
                return handler(alert)

        return locked

    def process(self, batch: list[Submission]) -> list[Outcome]:
        """One batch through pipeline, sinks and engine, synchronously; each request's outcome."""
        outcomes, events = self.accept(batch)
        if self.follower is not None and events:
            self.follower.process_events(events)
        return outcomes

    def accept(self, batch: list[Submission]) -> tuple[list[Outcome], list[Event]]:
        """One batch through the pipeline to the sinks: each request's outcome, and the events."""
        by_source = {submission.source: submission for submission in batch}
        records = [
            RawRecord(submission.source, line, record)
            for submission in batch
            for line, record in enumerate(submission.records, 1)
        ]
        events: list[Event] = []
        for source_format in {submission.source_format for submission in batch}:
            group = [r for r in records if by_source[r.source].source_format == source_format]
            events.extend(self.pipeline.events(group, SOURCES.get(source_format)))
        for event in events:
            if by_source[event.source].unique_ids:
                _make_id_unique(event, by_source[event.source].records[event.line - 1])
        if self.fanout is not None and events:
            with self.delivery:
                self._deliver([event.document for event in events])
        outcomes = []
        for submission in batch:
            rejected = self.dead_letter.tally.pop(submission.source, {})
            reason = next(iter(rejected.values()), "")
            accepted = len(submission.records) - len(rejected)
            outcomes.append(Outcome(accepted, len(rejected), reason))
        return outcomes, events

    def _next_batch(self) -> list[Submission] | None:
        with self.condition:
            while not self.queue and not self.closed:
                self.condition.wait()
            if not self.queue:
                return None
            batch = [self.queue.popleft()]
            size = len(batch[0].records)
            while self.queue and size + len(self.queue[0].records) <= self.max_batch:
                size += len(self.queue[0].records)
                batch.append(self.queue.popleft())
            return batch

    def _run(self) -> None:
        """Worker thread: batches of requests through pipeline and sinks, then answered; their
        events queue for the engine thread, so a request waits for its sinks, not the rules."""
        while (batch := self._next_batch()) is not None:
            try:
                outcomes, events = self.accept(batch)
            except Exception as exc:
                if not isinstance(exc, SinkUnavailableError):
                    log.exception("batch of %d requests failed", len(batch))
                for submission in batch:
                    submission.result.set_exception(exc)
            else:
                if self.follower is not None and events:
                    with self.condition:
                        self.backlog.append(events)
                        self.unevaluated += len(events)
                        self.condition.notify_all()
                for submission, outcome in zip(batch, outcomes, strict=True):
                    submission.result.set_result(outcome)
            finally:
                with self.condition:
                    self.queued -= sum(len(s.records) for s in batch)

    def _run_engine(self) -> None:
        """Engine thread: everything that arrived since the last run, evaluated at once."""
        while True:
            with self.condition:
                while not self.backlog and not self.drained:
                    self.condition.wait()
                if not self.backlog:
                    return
                events = [event for batch in self.backlog for event in batch]
                self.backlog.clear()
            try:
                if self.follower is not None:
                    self.follower.process_events(events)
            except Exception:
                log.exception("the engine failed on %d events (they are in the sinks)", len(events))
            finally:
                with self.condition:
                    self.unevaluated -= len(events)
                    self.condition.notify_all()

    def _deliver(self, documents: list[dict[str, Any]]) -> None:
        assert self.fanout is not None
        failures = []
        for name, delivery in self.fanout.send(documents).items():
            self.metrics.observe_sink_retries(name, delivery.retries)
            if not delivery.complete:
                failures.append(f"{name}: {delivery.fatal or delivery.retry_reason}")
        if failures:
            raise SinkUnavailableError("; ".join(failures))


def _make_id_unique(event: Event, record: dict[str, Any]) -> None:
    """Log records share their span's ids: their events get the record's digest in the id."""
    digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]
    identity = event.document["event"]
    identity["id"] = f"{identity['id']}-log-{digest}"
