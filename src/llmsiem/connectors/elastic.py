"""Elasticsearch: the ``logs-llm`` index template and the bulk sink.

Events go to the ``logs-llm-<namespace>`` data stream with ``op_type: create`` and an ``_id``
derived from ``event.id``, so a batch re-sent after a crash is rejected as a duplicate (409)
instead of being indexed twice. Per item: 409 counts as delivered, 429 and 5xx are retried,
anything else (mapping errors) goes to the dead-letter file. For the whole request: 401,
403 and 404 stop shipping (``Delivery.fatal``: the spool keeps every event), 413 splits the
batch in halves (a single event still too large is dead-lettered), 429, 5xx and transport
errors (refused or dropped connections, timeouts) are retried. All retries follow one
``RetryPolicy`` with a total deadline per batch; the client itself retries nothing.
Each document is serialized once (orjson); a retried or split chunk reuses its lines.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import orjson
from elasticsearch import ApiError, Elasticsearch, TransportError
from elasticsearch.serializer import OrjsonSerializer

from llmsiem.connectors.sink import Delivery, RetryPolicy, json_bytes, required_setting
from llmsiem.deadletter import DeadLetter
from llmsiem.schema_export import leaf_fields

TEMPLATE_NAME = "logs-llm"
DEFAULT_DATA_STREAM = "logs-llm-default"
# Free-text fields: wildcard keeps them searchable with Sigma's *contains* queries at any length.
TEXT_FIELDS = {
    "llmsiem.prompt.text",
    "llmsiem.response.text",
    "llmsiem.context.text",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "error.message",
    "event.original",
    "user_agent.original",
}
ES_TYPES: dict[str, dict[str, Any]] = {
    "keyword": {"type": "keyword", "ignore_above": 1024},
    "keyword[]": {"type": "keyword", "ignore_above": 1024},
    "long": {"type": "long"},
    "float": {"type": "double"},
    "boolean": {"type": "boolean"},
    "date": {"type": "date"},
    "ip": {"type": "ip"},
    "object": {"type": "flattened"},
    "object[]": {"type": "flattened"},
}


def index_template(priority: int = 250) -> dict[str, Any]:
    """The composable index template for ``logs-llm-*`` data streams, from the schema."""
    properties: dict[str, Any] = {}
    for name, kind in leaf_fields().items():
        mapping: dict[str, Any] = (
            {"type": "wildcard"} if name in TEXT_FIELDS else dict(ES_TYPES[kind])
        )
        if name == "@timestamp":
            properties[name] = mapping
            continue
        node = properties
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[leaf] = mapping
    return {
        "index_patterns": ["logs-llm-*"],
        "data_stream": {},
        "priority": priority,
        "template": {
            "settings": {"index": {"mapping": {"total_fields": {"limit": 2000}}}},
            "mappings": {"dynamic": False, "properties": properties},
        },
        "_meta": {"managed_by": "llmsiem", "description": "llmsiem normalized LLM telemetry"},
    }


def install_template(client: Elasticsearch) -> dict[str, Any]:
    """``PUT _index_template/logs-llm`` (idempotent)."""
    body = index_template()
    response = client.indices.put_index_template(
        name=TEMPLATE_NAME,
        index_patterns=body["index_patterns"],
        data_stream=body["data_stream"],
        priority=body["priority"],
        template=body["template"],
        meta=body["_meta"],
    )
    return dict(response.body)


def document_id(document: dict[str, Any]) -> str:
    """Stable ``_id``: the event id, hashed (or the whole document when it has none)."""
    key = document.get("event", {}).get("id") or json.dumps(document, sort_keys=True)
    return hashlib.sha256(str(key).encode()).hexdigest()[:40]


# The headers ``Elasticsearch.bulk`` sends; the body goes as serialized here, as NDJSON bytes.
BULK_HEADERS = {"accept": "application/json", "content-type": "application/x-ndjson"}
Entry = tuple[dict[str, Any], bytes]
"""A document and its action and source lines."""

FATAL_STATUSES = {
    401: "authentication failed (check LLMSIEM_ES_API_KEY)",
    403: "the API key may not write to the data stream",
    404: "the endpoint or data stream does not exist (check the URL)",
}


class ElasticsearchSink:
    """Ships event documents with ``_bulk``, accounting for every item."""

    def __init__(
        self,
        client: Elasticsearch,
        dead_letter: DeadLetter,
        data_stream: str = DEFAULT_DATA_STREAM,
        retry: RetryPolicy | None = None,
        chunk_size: int = 500,
    ) -> None:
        self.client = client.options(max_retries=0, retry_on_timeout=False)
        self.dead_letter = dead_letter
        self.data_stream = data_stream
        self.retry = retry or RetryPolicy()
        self.chunk_size = chunk_size

    def _entries(self, documents: list[dict[str, Any]]) -> list[Entry]:
        """Each document with its two NDJSON lines (action, source), serialized once."""
        action = b'{"create":{"_index":' + orjson.dumps(self.data_stream) + b',"_id":"'
        return [
            (
                document,
                b"".join(
                    (action, document_id(document).encode(), b'"}}\n', json_bytes(document), b"\n")
                ),
            )
            for document in documents
        ]

    def open(self) -> None:
        """The client connects on first use."""

    def close(self) -> None:
        self.client.close()

    def _reject(self, document: dict[str, Any], reason: str, report: Delivery) -> None:
        report.dead_lettered += 1
        self.dead_letter.write(f"elasticsearch:{self.data_stream}", 0, reason[:500], document)

    def send(self, documents: list[dict[str, Any]]) -> Delivery:
        """Deliver a batch: every item ends sent, duplicate, dead-lettered or retryable."""
        report = Delivery()
        retry = self.retry.restart()
        entries = self._entries(documents)
        chunks = [entries[i : i + self.chunk_size] for i in range(0, len(entries), self.chunk_size)]
        while chunks:
            chunk = chunks.pop(0)
            try:
                response = self.client.perform_request(
                    "PUT",
                    "/_bulk",
                    headers=BULK_HEADERS,
                    body=b"".join(line for _, line in chunk),
                    endpoint_id="bulk",
                )
            except ApiError as exc:
                status = exc.meta.status
                if status in FATAL_STATUSES:
                    report.fatal = f"Elasticsearch answered {status}: {FATAL_STATUSES[status]}"
                    return report
                if status == 413 and len(chunk) > 1:
                    half = len(chunk) // 2
                    chunks[:0] = [chunk[:half], chunk[half:]]
                    continue
                if status == 413:
                    self._reject(chunk[0][0], "413: event larger than the bulk size limit", report)
                    continue
                if status == 429 or status >= 500:
                    reason = f"Elasticsearch answered {status}"
                else:
                    report.fatal = f"Elasticsearch refused the bulk request: {status} {exc.message}"
                    return report
                if not self._again(chunk, chunks, retry, report, reason):
                    return report
                continue
            except TransportError as exc:
                reason = f"Elasticsearch unreachable: {type(exc).__name__}: {exc.message}"
                if not self._again(chunk, chunks, retry, report, reason):
                    return report
                continue
            pending = self._account(chunk, response.body.get("items", []), report)
            if pending and not self._again(
                pending, chunks, retry, report, "items refused as busy or unavailable"
            ):
                return report
        return report

    def _account(
        self, chunk: list[Entry], items: list[dict[str, Any]], report: Delivery
    ) -> list[Entry]:
        """Count each item's outcome; the entries to retry."""
        pending: list[Entry] = []
        for entry, item in zip(chunk, items, strict=False):
            result = item.get("create", {})
            status = int(result.get("status", 0))
            if 200 <= status < 300:
                report.sent += 1
            elif status == 409:
                report.duplicate += 1
            elif status == 429 or status >= 500 or status == 0:
                pending.append(entry)
            else:
                self._reject(entry[0], json.dumps(result.get("error", {})), report)
        pending.extend(chunk[len(items) :])  # items missing from the answer
        return pending

    @staticmethod
    def _again(
        chunk: list[Entry],
        chunks: list[list[Entry]],
        retry: RetryPolicy,
        report: Delivery,
        reason: str,
    ) -> bool:
        """Queue ``chunk`` again after a pause; False when the deadline is spent."""
        if not retry.wait():
            report.retryable = len(chunk) + sum(len(c) for c in chunks)
            report.retry_reason = f"{reason}; gave up after {retry.deadline:.0f} s"
            return False
        report.retries += 1
        chunks.insert(0, chunk)
        return True


class ElasticsearchSinkType:
    name = "elasticsearch"
    destination = "Elasticsearch URL (default $LLMSIEM_ES_URL; key in $LLMSIEM_ES_API_KEY)"

    def create(self, destination: str | None, dead_letter: DeadLetter) -> ElasticsearchSink:
        url = required_setting("LLMSIEM_ES_URL", destination)
        client = Elasticsearch(
            url,
            api_key=os.environ.get("LLMSIEM_ES_API_KEY"),
            max_retries=0,
            request_timeout=30,
            serializer=OrjsonSerializer(),  # a bulk answer holds an item per event
        )
        return ElasticsearchSink(client, dead_letter, retry=RetryPolicy.from_env())


SINK = ElasticsearchSinkType()
