"""Benchmark of the shipping path against a local loopback Elasticsearch-compatible endpoint.

    python bench/ship.py [--events 20000]

Prints events/s for: the full path (read OTLP JSON -> normalize -> scrub -> validate ->
serialize -> HTTP bulk), the same path without scrubbing (so the scrubbing cost shows on its
own), and plain ``elasticsearch.helpers.streaming_bulk`` on pre-built documents.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch, helpers

from llmsiem.connectors.elastic import ElasticsearchSink
from llmsiem.deadletter import DeadLetter
from llmsiem.pipeline import Pipeline
from llmsiem.scrub import Scrubber
from llmsiem.synthetic import generate


class BulkEndpoint(BaseHTTPRequestHandler):
    """Accepts _bulk requests and answers 201 for every action, as Elasticsearch does."""

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        actions = body.strip().split("\n")[0::2]
        items = [
            {"create": {"_id": json.loads(a)["create"].get("_id"), "status": 201}} for a in actions
        ]
        payload = json.dumps({"took": 1, "errors": False, "items": items}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = do_PUT  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass


def otlp_file(path: Path, count: int) -> None:
    """Synthetic events re-expressed as OTLP spans (one export request per line)."""
    with path.open("w", encoding="utf-8") as out:
        for event in generate(count, seed=9):
            attributes = [
                {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
                {"key": "user.id", "value": {"stringValue": event["user"]["id"]}},
                {
                    "key": "gen_ai.input.messages",
                    "value": {
                        "stringValue": json.dumps(
                            [
                                {
                                    "role": "user",
                                    "parts": [
                                        {
                                            "type": "text",
                                            "content": event["llmsiem"]
                                            .get("prompt", {})
                                            .get("text", "hello"),
                                        }
                                    ],
                                }
                            ]
                        )
                    },
                },
            ]
            span = {
                "traceId": event["trace"]["id"],
                "spanId": event["span"]["id"],
                "name": "chat",
                "startTimeUnixNano": "1795168800000000000",
                "endTimeUnixNano": "1795168801000000000",
                "attributes": attributes,
            }
            out.write(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}) + "\n")


class _NoScrub(Scrubber):
    """Passes documents through untouched, to time the path without scrubbing."""

    def scrub_document(self, document: dict[str, Any]) -> dict[str, Any]:
        return document


def full_path(path: Path, client: Elasticsearch, scrub: bool) -> tuple[float, int]:
    start = time.perf_counter()
    letters = DeadLetter(None)
    scrubber = Scrubber() if scrub else _NoScrub()
    pipeline = Pipeline(scrubber, letters, "otlp")
    documents = [event.document for event in pipeline.file_events(path)]
    sink = ElasticsearchSink(client, letters)
    report = sink.send(documents)
    return time.perf_counter() - start, report.sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), BulkEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = Elasticsearch(f"http://127.0.0.1:{server.server_port}")
    Scrubber().scrub_text("warm up the recognizers: bob@example.com")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "otlp.jsonl"
        otlp_file(path, args.events)
        scrubbed_s, sent = full_path(path, client, scrub=True)
        plain_s, _ = full_path(path, client, scrub=False)
    documents = list(generate(args.events, seed=9))
    start = time.perf_counter()
    for _ in helpers.streaming_bulk(
        client,
        ({"_op_type": "create", "_index": "logs-llm-default", "_source": d} for d in documents),
    ):
        pass
    bulk_s = time.perf_counter() - start
    server.shutdown()
    print(f"full path with scrubbing:    {sent / scrubbed_s:,.0f} events/s ({scrubbed_s:.2f}s)")
    print(f"full path, without scrubbing: {sent / plain_s:,.0f} events/s ({plain_s:.2f}s)")
    print(f"scrubbing cost:              {(scrubbed_s - plain_s) / sent * 1e3:.2f} ms/event")
    print(f"plain streaming_bulk:        {len(documents) / bulk_s:,.0f} events/s ({bulk_s:.2f}s)")


if __name__ == "__main__":
    main()
