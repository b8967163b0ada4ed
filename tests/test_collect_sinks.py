"""``collect`` and its sinks: retries counted in ``llmsiem_sink_retries_total`` (oracle: the
requests the bulk endpoint saw), and a sink that cannot take a batch answered 503 with
Retry-After, so the sender sends the request again instead of losing it."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch
from starlette.testclient import TestClient

from collect_helpers import otlp_json
from fake_bulk import API_KEY, BulkState, bulk_endpoint
from llmsiem.collect.fanout import SinkFanout
from llmsiem.collect.server import Settings, create_app
from llmsiem.collect.worker import Collector, TallyingDeadLetter
from llmsiem.connectors.elastic import ElasticsearchSink
from llmsiem.connectors.files import JsonlSink
from llmsiem.connectors.sink import RetryPolicy
from llmsiem.metrics import MeteredPipeline, Metrics
from llmsiem.pipeline import Pipeline
from llmsiem.scrub import Scrubber


def _collector(url: str, retry: RetryPolicy) -> Collector:
    metrics = Metrics()
    letters = TallyingDeadLetter(None, metrics)
    sink = ElasticsearchSink(Elasticsearch(url, api_key=API_KEY), letters, retry=retry)
    pipeline = MeteredPipeline.around(Pipeline(Scrubber("redact"), letters), metrics)
    return Collector(pipeline, letters, metrics, fanout=SinkFanout({"elasticsearch": sink}))


def _spans(count: int) -> dict[str, Any]:
    body = otlp_json(secrets.token_hex(16), "hello")
    spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
    genai = spans[0]
    spans[:] = [{**genai, "spanId": secrets.token_hex(8)} for _ in range(count)]
    return body


def test_sink_retries_are_counted() -> None:
    state = BulkState(item_429=0.3)
    with bulk_endpoint(state) as url:
        collector = _collector(url, RetryPolicy(deadline=30, initial=0.01))
        client = TestClient(create_app(collector, Settings(token="t")))
        with client:
            answer = client.post(
                "/v1/traces", json=_spans(200), headers={"Authorization": "Bearer t"}
            )
    assert answer.status_code == 200 and answer.json() == {}
    assert sum(state.created.values()) == 200
    retries = collector.metrics.sink_retries.labels("elasticsearch")._value.get()
    assert retries == state.requests - 1 > 0  # every bulk request after the first is a retry


def test_a_sink_outage_answers_503_with_retry_after() -> None:
    state = BulkState(outage="503")
    with bulk_endpoint(state) as url:
        collector = _collector(url, RetryPolicy(deadline=1, initial=0.05))
        client = TestClient(create_app(collector, Settings(token="t")))
        with client:
            answer = client.post(
                "/v1/traces", json=_spans(3), headers={"Authorization": "Bearer t"}
            )
            assert answer.status_code == 503
            assert answer.headers["retry-after"] == "2"
            assert "sink unavailable: elasticsearch" in answer.json()["message"]
            state.outage = None  # the sender retries once the sink is back
            again = client.post("/v1/traces", json=_spans(3), headers={"Authorization": "Bearer t"})
    assert again.status_code == 200
    assert sum(state.created.values()) == 3


def test_a_request_sent_again_after_one_sink_failed_is_not_doubled_in_the_others(
    tmp_path: Path,
) -> None:
    """The JSONL sink took the request the Elasticsearch sink could not; the sender's resend
    reaches Elasticsearch and leaves the JSONL file with each event once."""
    state = BulkState(outage="503")
    events = tmp_path / "events.jsonl"
    with bulk_endpoint(state) as url:
        metrics = Metrics()
        letters = TallyingDeadLetter(None, metrics)
        elastic = ElasticsearchSink(
            Elasticsearch(url, api_key=API_KEY),
            letters,
            retry=RetryPolicy(deadline=1, initial=0.05),
        )
        fanout = SinkFanout({"jsonl": JsonlSink(events), "elasticsearch": elastic})
        pipeline = MeteredPipeline.around(Pipeline(Scrubber("redact"), letters), metrics)
        collector = Collector(pipeline, letters, metrics, fanout=fanout)
        client = TestClient(create_app(collector, Settings(token="t")))
        body = _spans(3)
        with client:
            first = client.post("/v1/traces", json=body, headers={"Authorization": "Bearer t"})
            state.outage = None
            again = client.post("/v1/traces", json=body, headers={"Authorization": "Bearer t"})
    assert (first.status_code, again.status_code) == (503, 200)
    ids = [json.loads(line)["event"]["id"] for line in events.read_text().splitlines()]
    assert len(ids) == 3 and len(set(ids)) == 3
    assert sum(state.created.values()) == 3
