"""Prometheus metrics: the LLM traffic llmsiem sees and what it does with it.

Names are a published interface (dashboards query them): ``llm_requests_total``,
``llm_tokens_total{direction}``, ``llm_request_duration_seconds``, ``llm_cost_usd_total``,
``llm_refusals_total`` (labels ``model``, ``provider``), ``llmsiem_alerts_total{rule,level}``,
``llmsiem_guardrail_blocks_total``, ``llmsiem_events_dead_lettered_total`` and
``llmsiem_sink_retries_total{sink}``.

Cardinality is bounded: ``model`` and ``provider`` keep the first ``max_label_values``
distinct values each (50 by default, ``LLMSIEM_METRICS_MAX_LABEL_VALUES``); later values are
counted under ``other``. ``rule`` and ``level`` come from the loaded rule pack and ``sink``
from the sink registry, so they are bounded by construction. User and API-key ids are never
labels: they are unbounded, and they stay in the events and alerts.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import start_http_server

from llmsiem.deadletter import DeadLetter
from llmsiem.pipeline.events import Event, Pipeline
from llmsiem.pipeline.sources import Source
from llmsiem.records import RawRecord

MAX_LABEL_VALUES = 50
OTHER = "other"
UNKNOWN = "unknown"
LLM_ACTIONS = frozenset({"prompt", "response", "usage", "refusal"})
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)


class BoundedLabel:
    """One label's values: the first ``limit`` distinct ones, then ``other``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.values: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, value: Any) -> str:
        text = str(value) if value not in (None, "") else UNKNOWN
        if text in self.values:
            return text
        with self.lock:
            if len(self.values) < self.limit:
                self.values.add(text)
                return text
        return OTHER


def _limit_from_env() -> int:
    value = os.environ.get("LLMSIEM_METRICS_MAX_LABEL_VALUES", "")
    try:
        return max(1, int(value)) if value else MAX_LABEL_VALUES
    except ValueError:
        raise ValueError(f"LLMSIEM_METRICS_MAX_LABEL_VALUES={value!r} is not an integer") from None


class Metrics:
    """The metrics of one process, in their own registry."""

    def __init__(self, max_label_values: int | None = None) -> None:
        limit = max_label_values or _limit_from_env()
        self.model = BoundedLabel(limit)
        self.provider = BoundedLabel(limit)
        self.registry = CollectorRegistry()
        labels = ("model", "provider")
        self.requests = Counter(
            "llm_requests_total", "LLM calls seen.", labels, registry=self.registry
        )
        self.tokens = Counter(
            "llm_tokens_total",
            "Tokens of LLM calls, by direction (input, output).",
            (*labels, "direction"),
            registry=self.registry,
        )
        self.duration = Histogram(
            "llm_request_duration_seconds",
            "Duration of LLM calls.",
            labels,
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.cost = Counter(
            "llm_cost_usd_total", "Cost of LLM calls in USD.", labels, registry=self.registry
        )
        self.refusals = Counter(
            "llm_refusals_total", "LLM calls the model refused.", labels, registry=self.registry
        )
        self.alerts = Counter(
            "llmsiem_alerts_total", "Alerts raised.", ("rule", "level"), registry=self.registry
        )
        self.guardrail_blocks = Counter(
            "llmsiem_guardrail_blocks_total",
            "Guardrail verdicts that blocked a request or response.",
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "llmsiem_events_dead_lettered_total",
            "Records and events written to a dead letter (input or sink).",
            registry=self.registry,
        )
        self.sink_retries = Counter(
            "llmsiem_sink_retries_total",
            "Retried sends to a sink.",
            ("sink",),
            registry=self.registry,
        )

    def observe_event(self, document: dict[str, Any]) -> None:
        """Count one valid event."""
        event = document.get("event", {})
        action = event.get("action")
        llmsiem = document.get("llmsiem", {})
        if action == "guardrail":
            if llmsiem.get("guardrail", {}).get("action") == "block":
                self.guardrail_blocks.inc()
            return
        if action not in LLM_ACTIONS:
            return
        gen_ai = document.get("gen_ai", {})
        request, response = gen_ai.get("request", {}), gen_ai.get("response", {})
        model = self.model(request.get("model") or response.get("model"))
        provider = self.provider(gen_ai.get("provider", {}).get("name"))
        self.requests.labels(model, provider).inc()
        usage = gen_ai.get("usage", {})
        for direction in ("input", "output"):
            tokens = usage.get(f"{direction}_tokens")
            if isinstance(tokens, int) and tokens > 0:
                self.tokens.labels(model, provider, direction).inc(tokens)
        duration = event.get("duration")
        if isinstance(duration, int) and duration >= 0:
            self.duration.labels(model, provider).observe(duration / 1e9)
        cost = llmsiem.get("usage", {}).get("cost")
        if isinstance(cost, int | float) and cost > 0:
            self.cost.labels(model, provider).inc(cost)
        if action == "refusal" or llmsiem.get("response", {}).get("refusal") is True:
            self.refusals.labels(model, provider).inc()

    def observe_alert(self, alert: dict[str, Any]) -> None:
        """Count one alert by rule name and level."""
        meta = alert.get("llmsiem", {}).get("alert", {})
        self.alerts.labels(
            alert.get("rule", {}).get("name", UNKNOWN), meta.get("level", UNKNOWN)
        ).inc()

    def observe_sink_retries(self, sink: str, retries: int) -> None:
        """Count the retries of one sink send (its dead letters count where they are written)."""
        if retries:
            self.sink_retries.labels(sink).inc(retries)

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """``/metrics`` on ``host:port`` from a daemon thread (``detect --follow``)."""
        start_http_server(port, addr=host, registry=self.registry)


class MeteredDeadLetter(DeadLetter):
    """A dead letter that counts every record written to it."""

    def __init__(self, path: Path | None, metrics: Metrics) -> None:
        super().__init__(path)
        self.metrics = metrics

    def write(self, source: str, line: int, reason: str, raw: Any) -> None:
        super().write(source, line, reason, raw)
        self.metrics.dead_lettered.inc()


class MeteredPipeline(Pipeline):
    """The same pipeline, counting every event it yields."""

    metrics: Metrics

    @classmethod
    def around(cls, pipeline: Pipeline, metrics: Metrics) -> MeteredPipeline:
        """A metered pipeline with ``pipeline``'s scrubber, dead letter and source format."""
        metered = cls(pipeline.scrubber, pipeline.dead_letter)
        metered.fixed = pipeline.fixed
        metered.metrics = metrics
        return metered

    def events(self, records: Iterable[RawRecord], source: Source | None = None) -> Iterator[Event]:
        for event in super().events(records, source):
            self.metrics.observe_event(event.document)
            yield event
