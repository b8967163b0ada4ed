"""Helicone request logs -> one model-call event (prompt, response or refusal) with usage.

Reads the request-log export (``HeliconeRequest`` objects: ``request_id``,
``request_created_at``, ``request_body``, ``response_body``, ``response_status``,
``request_user_id``, ``request_properties``, ``provider``, token counts, ``costUSD``,
``delay_ms``, ``time_to_first_token``, ``country_code``; bare, in an array or in the query
API's ``{"data": [...]}``) and webhook payloads (``request_id``, ``user_id``,
``request_body`` and ``response_body`` as JSON text, optional ``metadata`` with ``cost``,
token counts and ``latencyMs``). The API key is kept as a fingerprint only: the log's
``user_api_key_hash`` (SHA-256 hex, else hashed again) as ``llmsiem.api_key.hash`` and its
first 16 hex digits as ``llmsiem.api_key.id``; ``key_name`` is the alias. A
webhook payload without ``created_at`` takes the completion's ``created`` time, else the
ingestion time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from llmsiem.pipeline.sources.common import (
    apply_conversation,
    event_action,
    ingest_time,
    iso_timestamp,
    mapping,
    openai_conversation,
    set_path,
    sha256_hex,
)

SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class RequestError(ValueError):
    """A record that is not a Helicone request log or webhook payload."""


def _body(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _is_request(value: Any) -> bool:
    return isinstance(value, dict) and "request_id" in value and "request_body" in value


def _key_fingerprint(record: dict[str, Any], document: dict[str, Any]) -> None:
    """API key hash and id from the log's key hash (re-hashed when it is not SHA-256 hex)."""
    digest = record.get("user_api_key_hash")
    if not isinstance(digest, str) or not digest:
        return
    key_hash = digest if SHA256_HEX.fullmatch(digest) else sha256_hex(digest)
    set_path(document, "llmsiem.api_key.hash", key_hash)
    set_path(document, "llmsiem.api_key.id", key_hash[:16])


def _number(*values: Any) -> float | None:
    for value in values:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def request_to_event(record: dict[str, Any]) -> dict[str, Any]:
    """The model-call event of one request log or webhook payload."""
    if not _is_request(record):
        raise RequestError("not a Helicone request log (no request_id and request_body)")
    request = _body(record.get("request_body"))
    response = _body(record.get("response_body"))
    request = request if isinstance(request, dict) else {"messages": request}
    metadata = mapping(record.get("metadata"))
    properties = mapping(record.get("request_properties") or record.get("properties"))
    usage = mapping(mapping(response).get("usage"))
    timestamp = (
        iso_timestamp(record.get("request_created_at"))
        or iso_timestamp(record.get("created_at"))
        or (iso_timestamp(response.get("created")) if isinstance(response, dict) else None)
        or ingest_time()
    )
    status = record.get("response_status")
    failed = isinstance(status, int) and status >= 400
    document: dict[str, Any] = {
        "@timestamp": timestamp,
        "event": {
            "kind": "event",
            "action": "prompt",
            "category": ["api"],
            "type": ["info"],
            "outcome": "failure" if failed else "success",
            "id": str(record["request_id"]),
            "module": "helicone",
            "dataset": "llmsiem.telemetry",
        },
    }
    provider = record.get("provider")
    fields = {
        "user.id": record.get("request_user_id") or record.get("user_id"),
        "source.geo.country_iso_code": record.get("country_code"),
        "gen_ai.provider.name": provider.lower() if isinstance(provider, str) else None,
        "gen_ai.operation.name": "chat" if "messages" in request else None,
        "gen_ai.request.model": record.get("request_model") or request.get("model"),
        "gen_ai.response.model": record.get("response_model")
        or (response.get("model") if isinstance(response, dict) else None),
        "gen_ai.response.id": response.get("id") if isinstance(response, dict) else None,
        "gen_ai.conversation.id": properties.get("Helicone-Session-Id"),
        "http.response.status_code": status if isinstance(status, int) else None,
        "llmsiem.api_key.alias": record.get("key_name"),
    }
    for name, value in fields.items():
        set_path(document, name, value)
    input_tokens = _number(
        record.get("prompt_tokens"), metadata.get("promptTokens"), usage.get("prompt_tokens")
    )
    output_tokens = _number(
        record.get("completion_tokens"),
        metadata.get("completionTokens"),
        usage.get("completion_tokens"),
    )
    total = _number(record.get("total_tokens"), metadata.get("totalTokens"))
    cost = _number(record.get("costUSD"), record.get("cost"), metadata.get("cost"))
    latency_ms = _number(record.get("delay_ms"), metadata.get("latencyMs"))
    first_token_ms = _number(record.get("time_to_first_token"))
    set_path(
        document, "gen_ai.usage.input_tokens", None if input_tokens is None else int(input_tokens)
    )
    set_path(
        document,
        "gen_ai.usage.output_tokens",
        None if output_tokens is None else int(output_tokens),
    )
    set_path(document, "llmsiem.usage.total_tokens", None if total is None else int(total))
    set_path(document, "llmsiem.usage.cost", cost)
    if latency_ms is not None and latency_ms >= 0:
        set_path(document, "event.duration", int(latency_ms * 1e6))
    if first_token_ms is not None and first_token_ms >= 0:
        set_path(document, "gen_ai.response.time_to_first_chunk", first_token_ms / 1000)
    if failed and isinstance(response, dict):
        error = response.get("error")
        message = error.get("message") if isinstance(error, dict) else error
        set_path(document, "error.message", str(message) if message else None)
    _key_fingerprint(record, document)
    conversation = openai_conversation(request.get("messages"), None if failed else response)
    apply_conversation(document, conversation)
    document["event"]["action"] = event_action(document)
    return document


def _requests(record: dict[str, Any]) -> list[Any]:
    data = record.get("data")
    return data if "request_id" not in record and isinstance(data, list) else [record]


class HeliconeSource:
    name = "helicone"
    description = "Helicone request-log exports (HeliconeRequest) and webhook payloads"

    def sniff(self, record: dict[str, Any]) -> bool:
        requests = _requests(record)
        return bool(requests) and _is_request(requests[0])

    def normalize(self, record: dict[str, Any]) -> Iterator[dict[str, Any] | RequestError]:
        for item in _requests(record):
            try:
                yield request_to_event(item if isinstance(item, dict) else {})
            except RequestError as exc:
                yield exc


SOURCE = HeliconeSource()
