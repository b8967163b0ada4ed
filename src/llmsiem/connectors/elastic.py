"""Elasticsearch: the ``logs-llm`` index template and the bulk sink.

Events go to the ``logs-llm-<namespace>`` data stream with ``op_type: create`` and an ``_id``
derived from ``event.id``, so a batch re-sent after a crash is rejected as a duplicate (409)
instead of being indexed twice. Per item: 409 counts as delivered, 429 and 5xx are retried
with exponential backoff, anything else (mapping errors) goes to the dead-letter file.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

from elasticsearch import Elasticsearch, helpers

from llmsiem.connectors.sink import Delivery, required_setting
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


class ElasticsearchSink:
    """Ships event documents with ``helpers.streaming_bulk``, item by item accounting."""

    def __init__(
        self,
        client: Elasticsearch,
        dead_letter: DeadLetter,
        data_stream: str = DEFAULT_DATA_STREAM,
        max_retries: int = 5,
        initial_backoff: float = 0.5,
        chunk_size: int = 500,
    ) -> None:
        self.client = client
        self.dead_letter = dead_letter
        self.data_stream = data_stream
        self.max_retries = max_retries
        self.initial_backoff = initial_backoff
        self.chunk_size = chunk_size

    def _actions(self, documents: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for document in documents:
            yield {
                "_op_type": "create",
                "_index": self.data_stream,
                "_id": document_id(document),
                "_source": document,
            }

    def open(self) -> None:
        """The client connects on first use."""

    def close(self) -> None:
        self.client.close()

    def send(self, documents: list[dict[str, Any]]) -> Delivery:
        """Deliver a batch: every item ends sent, duplicate, dead-lettered or retryable."""
        report = Delivery()
        pending = {document_id(d): d for d in documents}
        attempt = 0
        while pending:
            retry: dict[str, dict[str, Any]] = {}
            for ok, item in helpers.streaming_bulk(
                self.client,
                self._actions(pending.values()),
                chunk_size=self.chunk_size,
                max_retries=self.max_retries,
                initial_backoff=self.initial_backoff,
                raise_on_error=False,
                raise_on_exception=False,
            ):
                result = item.get("create", {})
                doc_id = str(result.get("_id"))
                status = int(result.get("status", 0))
                if ok:
                    report.sent += 1
                elif status == 409:
                    report.duplicate += 1
                elif status == 429 or status >= 500 or status == 0:
                    retry[doc_id] = pending[doc_id]
                else:
                    report.dead_lettered += 1
                    reason = json.dumps(result.get("error", {}))[:500]
                    self.dead_letter.write(
                        f"elasticsearch:{self.data_stream}", 0, reason, pending[doc_id]
                    )
            if retry and attempt >= self.max_retries:
                report.retryable = len(retry)
                report.retry_reason = "still refused as busy or unavailable after retries"
                return report
            if retry:
                time.sleep(self.initial_backoff * 2**attempt)
                attempt += 1
                report.retries += len(retry)
            pending = retry
        return report


class ElasticsearchSinkType:
    name = "elasticsearch"
    destination = "Elasticsearch URL (default $LLMSIEM_ES_URL; key in $LLMSIEM_ES_API_KEY)"

    def create(self, destination: str | None, dead_letter: DeadLetter) -> ElasticsearchSink:
        url = required_setting("LLMSIEM_ES_URL", destination)
        client = Elasticsearch(url, api_key=os.environ.get("LLMSIEM_ES_API_KEY"))
        return ElasticsearchSink(client, dead_letter)


SINK = ElasticsearchSinkType()
