"""OTLP/HTTP bodies: decode requests, split them into records, encode responses.

Requests are parsed with the official ``opentelemetry-proto`` messages, in binary protobuf
(``application/x-protobuf``) or in the OTLP JSON encoding (``application/json``: protobuf
JSON mapping with lowerCamelCase names, hex trace and span ids, unknown fields ignored).
Each span becomes one OTLP JSON trace export holding that span alone, the shape
``llmsiem.pipeline.sources.otlp`` normalizes, so a span the pipeline rejects costs a dead
letter of that span only. Each log record becomes such an export too, its attributes on a
span of the record's trace and span ids: GenAI events sent as logs (the
``gen_ai.client.inference.operation.details`` event carries the span's attributes; older
per-message events such as ``gen_ai.user.message`` carry the message in their body, which
becomes the attributes of a span event of the same name).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
ID_FIELDS = ("traceId", "spanId", "parentSpanId")
MAX_NESTING = 64


class BodyError(ValueError):
    """A body that is not a valid export request of its content type (HTTP 400)."""


def media_type(content_type: str) -> str | None:
    """``application/x-protobuf`` or ``application/json`` from a Content-Type, else None."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind if kind in (PROTOBUF, JSON) else None


def _hex_ids_to_base64(node: Any, depth: int = 0) -> None:
    """OTLP JSON carries ids in hex; the protobuf JSON mapping expects base64 for bytes."""
    if depth > MAX_NESTING:
        raise BodyError(f"nested deeper than {MAX_NESTING} levels")
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ID_FIELDS and isinstance(value, str):
                try:
                    node[key] = base64.b64encode(bytes.fromhex(value)).decode()
                except ValueError:
                    raise BodyError(f"{key} {value[:40]!r} is not hex") from None
            else:
                _hex_ids_to_base64(value, depth + 1)
    elif isinstance(node, list):
        for item in node:
            _hex_ids_to_base64(item, depth + 1)


def decode(body: bytes, kind: str, message: Message) -> None:
    """Parse ``body`` of media type ``kind`` into ``message``; BodyError if it is not one."""
    if kind == PROTOBUF:
        try:
            message.ParseFromString(body)
        except (DecodeError, RecursionError) as exc:
            raise BodyError(f"not a protobuf {type(message).__name__}: {exc}") from None
        return
    try:
        document = json.loads(body)
    except RecursionError:
        raise BodyError("JSON nested too deep") from None
    except ValueError as exc:
        raise BodyError(f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BodyError(f"a {type(message).__name__} must be a JSON object")
    _hex_ids_to_base64(document)
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError) as exc:
        raise BodyError(f"not an OTLP JSON {type(message).__name__}: {exc}") from None


def any_value(value: AnyValue) -> dict[str, Any]:
    """An ``AnyValue`` in the OTLP JSON encoding."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return {"stringValue": value.string_value}
    if which == "int_value":
        return {"intValue": str(value.int_value)}
    if which == "double_value":
        return {"doubleValue": value.double_value}
    if which == "bool_value":
        return {"boolValue": value.bool_value}
    if which == "array_value":
        return {"arrayValue": {"values": [any_value(v) for v in value.array_value.values]}}
    if which == "kvlist_value":
        return {"kvlistValue": {"values": key_values(value.kvlist_value.values)}}
    if which == "bytes_value":
        return {"bytesValue": base64.b64encode(value.bytes_value).decode()}
    return {}


def key_values(items: Any) -> list[dict[str, Any]]:
    """Repeated ``KeyValue`` in the OTLP JSON encoding."""
    return [{"key": item.key, "value": any_value(item.value)} for item in items]


def _span(span: Span) -> dict[str, Any]:
    return {
        "traceId": span.trace_id.hex(),
        "spanId": span.span_id.hex(),
        "parentSpanId": span.parent_span_id.hex(),
        "name": span.name,
        "kind": span.kind,
        "startTimeUnixNano": str(span.start_time_unix_nano),
        "endTimeUnixNano": str(span.end_time_unix_nano),
        "attributes": key_values(span.attributes),
        "events": [
            {
                "timeUnixNano": str(event.time_unix_nano),
                "name": event.name,
                "attributes": key_values(event.attributes),
            }
            for event in span.events
        ],
        "status": {"code": span.status.code, "message": span.status.message},
    }


def _export(
    resource: list[dict[str, Any]], scope: dict[str, Any], span: dict[str, Any]
) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": resource},
                "scopeSpans": [{"scope": scope, "spans": [span]}],
            }
        ]
    }


def span_records(request: ExportTraceServiceRequest) -> list[dict[str, Any]]:
    """One OTLP JSON trace export per span of ``request``."""
    records: list[dict[str, Any]] = []
    for resource_spans in request.resource_spans:
        resource = key_values(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = {"name": scope_spans.scope.name, "version": scope_spans.scope.version}
            records.extend(_export(resource, scope, _span(span)) for span in scope_spans.spans)
    return records


def _log_span(record: LogRecord) -> dict[str, Any]:
    """A log record as a span: its attributes, times and ids; its body as a span event."""
    name = record.event_name or next(
        (kv.value.string_value for kv in record.attributes if kv.key == "event.name"), ""
    )
    stamp = str(record.time_unix_nano or record.observed_time_unix_nano)
    body = record.body
    if body.WhichOneof("value") == "kvlist_value":
        body_attributes = key_values(body.kvlist_value.values)
    elif body.WhichOneof("value") is not None:
        body_attributes = [{"key": "content", "value": any_value(body)}]
    else:
        body_attributes = []
    return {
        "traceId": record.trace_id.hex(),
        "spanId": record.span_id.hex(),
        "name": name,
        "startTimeUnixNano": stamp,
        "attributes": key_values(record.attributes),
        "events": [{"timeUnixNano": stamp, "name": name, "attributes": body_attributes}],
    }


def log_records(request: ExportLogsServiceRequest) -> list[dict[str, Any]]:
    """One OTLP JSON trace export per log record of ``request`` (see the module doc)."""
    records: list[dict[str, Any]] = []
    for resource_logs in request.resource_logs:
        resource = key_values(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            scope = {"name": scope_logs.scope.name, "version": scope_logs.scope.version}
            records.extend(
                _export(resource, scope, _log_span(record)) for record in scope_logs.log_records
            )
    return records


def export_response(signal: str, rejected: int, message: str, kind: str) -> bytes:
    """The ``Export*ServiceResponse`` body, with ``partial_success`` when anything was rejected."""
    response: ExportTraceServiceResponse | ExportLogsServiceResponse
    if signal == "traces":
        response = ExportTraceServiceResponse()
        if rejected:
            response.partial_success.rejected_spans = rejected
            response.partial_success.error_message = message
    else:
        response = ExportLogsServiceResponse()
        if rejected:
            response.partial_success.rejected_log_records = rejected
            response.partial_success.error_message = message
    return encode(response, kind)


def status_body(code: int, message: str, kind: str) -> bytes:
    """A ``google.rpc.Status`` error body, as the OTLP/HTTP spec answers failures."""
    return encode(status_pb2.Status(code=code, message=message), kind)


def encode(message: Message, kind: str) -> bytes:
    """``message`` in binary protobuf or the OTLP JSON encoding."""
    if kind == PROTOBUF:
        serialized: bytes = message.SerializeToString()
        return serialized
    return json.dumps(json_format.MessageToDict(message)).encode()
