"""OTLP JSON traces (``ExportTraceServiceRequest``) with OTel GenAI attributes -> events.

Reads semantic conventions v1.41 (``gen_ai.input.messages``, ``gen_ai.output.messages``,
``gen_ai.system_instructions``, ``gen_ai.provider.name``, ``gen_ai.usage.*``,
``gen_ai.tool.*`` and ``execute_tool`` spans) and the deprecated names still emitted by
older instrumentations: ``gen_ai.system``, ``gen_ai.usage.prompt_tokens`` /
``completion_tokens``, ``gen_ai.prompt`` / ``gen_ai.completion`` (JSON or indexed
``gen_ai.prompt.0.content`` attributes) and the per-message span events
(``gen_ai.user.message``, ``gen_ai.choice`` ...). OpenInference, OpenLLMetry and NeMo
Guardrails spans are recognised per span and rewritten to these names first
(``conventions``); ``event.module`` names the convention a span followed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from llmsiem.pipeline.sources import conventions
from llmsiem.pipeline.sources.common import (
    Conversation,
    apply_conversation,
    copy_identity,
    event_action,
    iso_from_nanos,
    set_path,
    to_parts,
)

STATUS_ERROR = {2, "2", "STATUS_CODE_ERROR"}
PASSTHROUGH = (
    "gen_ai.request.model",
    "gen_ai.request.max_tokens",
    "gen_ai.request.temperature",
    "gen_ai.response.id",
    "gen_ai.response.model",
    "gen_ai.response.time_to_first_chunk",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.tool.name",
    "gen_ai.tool.type",
    "gen_ai.tool.description",
    "gen_ai.tool.call.id",
    "gen_ai.conversation.id",
    "gen_ai.agent.id",
    "gen_ai.agent.name",
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "user.id",
    "user.name",
    "user.email",
    "user_agent.original",
    "gen_ai.data_source.id",
    "mcp.method.name",
    "mcp.session.id",
    "mcp.resource.uri",
    "mcp.protocol.version",
    "http.response.status_code",
    "url.full",
    "url.domain",
)
# Resource attributes of the OTel cloud conventions, copied onto every event of the resource.
RESOURCE_PASSTHROUGH = ("cloud.region", "cloud.account.id")
RENAMED = {
    "gen_ai.system": "gen_ai.provider.name",
    "gen_ai.usage.prompt_tokens": "gen_ai.usage.input_tokens",
    "gen_ai.usage.completion_tokens": "gen_ai.usage.output_tokens",
    "enduser.id": "user.id",
    "session.id": "gen_ai.conversation.id",
    "client.address": "source.ip",
}
EVENT_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
    "gen_ai.choice": "assistant",
}


class SpanError(ValueError):
    """A span that cannot become an event; the message is the dead-letter reason."""


def any_value(value: dict[str, Any]) -> Any:
    """Python value of an OTLP ``AnyValue``."""
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [any_value(v) for v in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return attributes(value["kvlistValue"].get("values", []))
    return None


def attributes(items: list[dict[str, Any]]) -> dict[str, Any]:
    """OTLP ``KeyValue`` list -> dict."""
    return {item["key"]: any_value(item.get("value", {})) for item in items if "key" in item}


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _messages(value: Any) -> list[dict[str, Any]]:
    """OTel v1.41 messages or legacy OpenAI-style messages -> OTel message dicts."""
    value = _json(value)
    if isinstance(value, str):
        return [{"role": "user", "parts": [{"type": "text", "content": value}]}]
    messages = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, dict):
            continue
        role = str(item.get("role", "user"))
        parts = item.get("parts")
        if not isinstance(parts, list):
            parts = to_parts(item.get("content", item.get("message")))
        message = {"role": role, "parts": parts}
        if item.get("finish_reason"):
            message["finish_reason"] = item["finish_reason"]
        messages.append(message)
    return messages


def _indexed_messages(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """OpenLLMetry-style ``gen_ai.prompt.0.role`` / ``gen_ai.prompt.0.content`` attributes."""
    messages = []
    index = 0
    while f"{prefix}.{index}.content" in attrs or f"{prefix}.{index}.role" in attrs:
        role = str(attrs.get(f"{prefix}.{index}.role", "user"))
        content = attrs.get(f"{prefix}.{index}.content")
        messages.append({"role": role, "parts": to_parts(content)})
        index += 1
    return messages


def _conversation(attrs: dict[str, Any], events: list[dict[str, Any]]) -> Conversation:
    conversation = Conversation()
    inputs = _messages(attrs.get("gen_ai.input.messages", attrs.get("gen_ai.prompt", [])))
    inputs = inputs or _indexed_messages(attrs, "gen_ai.prompt")
    outputs = _messages(attrs.get("gen_ai.output.messages", attrs.get("gen_ai.completion", [])))
    outputs = outputs or _indexed_messages(attrs, "gen_ai.completion")
    system = _json(attrs.get("gen_ai.system_instructions"))
    if system:
        conversation.add("system", to_parts(system) if not isinstance(system, list) else system)
    for event in events:
        name = event.get("name", "")
        event_attrs = attributes(event.get("attributes", []))
        if name == "gen_ai.client.inference.operation.details":
            inputs += _messages(event_attrs.get("gen_ai.input.messages", []))
            outputs += _messages(event_attrs.get("gen_ai.output.messages", []))
        elif name in EVENT_ROLES:
            body = event_attrs.get("content", event_attrs.get("message"))
            message = _json(body) if body is not None else None
            if isinstance(message, dict):
                body = message.get("content", message)
            parts = to_parts(body)
            conversation.add(EVENT_ROLES[name], parts, event_attrs.get("finish_reason"))
    for message in inputs:
        conversation.add(message["role"], message["parts"])
    for message in outputs:
        conversation.add("assistant", message["parts"], message.get("finish_reason"))
    return conversation


def _tool_event(document: dict[str, Any], attrs: dict[str, Any], failed: bool) -> None:
    arguments = attrs.get("gen_ai.tool.call.arguments")
    result = attrs.get("gen_ai.tool.call.result")
    set_path(
        document,
        "gen_ai.tool.call.arguments",
        arguments if isinstance(arguments, str) or arguments is None else json.dumps(arguments),
    )
    set_path(
        document,
        "gen_ai.tool.call.result",
        result if isinstance(result, str) or result is None else json.dumps(result),
    )
    status = attrs.get("llmsiem.tool.status") or ("error" if failed else "success")
    set_path(document, "llmsiem.tool.status", status)
    document["event"].update(
        action="tool_call",
        type=["denied"] if status == "denied" else ["access"],
        outcome="failure" if status in ("error", "denied") else "success",
    )


def _requested_tools(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    """``tool_call`` parts of the output messages: tools the model asked to run."""
    calls = []
    for message in _messages(attrs.get("gen_ai.output.messages", [])):
        for part in message["parts"]:
            if isinstance(part, dict) and part.get("type") == "tool_call":
                calls.append(part)
    return calls


def span_attributes(span: dict[str, Any], scope: str = "") -> tuple[str | None, dict[str, Any]]:
    """The span's non-GenAI convention (or None) and its attributes under GenAI names."""
    return conventions.translate(attributes(span.get("attributes", [])), scope)


def span_to_events(
    span: dict[str, Any], resource: dict[str, Any], scope: str = ""
) -> list[dict[str, Any]]:
    """One GenAI span -> its event, plus one pending ``tool_call`` per requested tool."""
    convention, attrs = span_attributes(span, scope)
    document = span_to_event(span, resource, convention, attrs)
    events = [document]
    if document["event"]["action"] in ("tool_call", "guardrail"):
        return events
    for index, call in enumerate(_requested_tools(attrs)):
        tool = json.loads(json.dumps({k: v for k, v in document.items() if k != "llmsiem"}))
        tool.pop("gen_ai", None)
        arguments = call.get("arguments")
        tool["event"].update(
            action="tool_call", id=f"{document['event']['id']}-tool-{index}", type=["access"]
        )
        set_path(tool, "gen_ai.operation.name", "execute_tool")
        set_path(tool, "gen_ai.tool.name", call.get("name"))
        set_path(tool, "gen_ai.tool.call.id", call.get("id"))
        set_path(
            tool,
            "gen_ai.tool.call.arguments",
            arguments if isinstance(arguments, str) else json.dumps(arguments),
        )
        set_path(tool, "llmsiem.tool.status", "pending")
        copy_identity(document, tool)
        events.append(tool)
    return events


def span_to_event(
    span: dict[str, Any], resource: dict[str, Any], convention: str | None, attrs: dict[str, Any]
) -> dict[str, Any]:
    """One GenAI span -> one normalized event document (not yet validated or scrubbed);
    ``convention`` and ``attrs`` are its ``span_attributes``."""
    if not any(key.startswith(("gen_ai.", "mcp.", "llmsiem.guardrail.")) for key in attrs):
        raise SpanError(
            f"span {span.get('name')!r} has no gen_ai.* or mcp.* attributes (not a GenAI span)"
        )
    timestamp = iso_from_nanos(span.get("startTimeUnixNano")) or iso_from_nanos(
        span.get("endTimeUnixNano")
    )
    if timestamp is None:
        raise SpanError(f"span {span.get('spanId')!r} has no start or end timestamp")
    failed = span.get("status", {}).get("code") in STATUS_ERROR
    document: dict[str, Any] = {
        "@timestamp": timestamp,
        "event": {
            "kind": "event",
            "action": "prompt",
            "category": ["api"],
            "type": ["info"],
            "outcome": "failure" if failed else "success",
            "id": f"{span.get('traceId', '')}-{span.get('spanId', '')}",
            "module": convention or "otlp",
            "dataset": "llmsiem.telemetry",
        },
    }
    start, end = span.get("startTimeUnixNano"), span.get("endTimeUnixNano")
    if start and end:
        set_path(document, "event.duration", max(0, int(end) - int(start)))
    set_path(document, "trace.id", span.get("traceId") or None)
    set_path(document, "span.id", span.get("spanId") or None)
    set_path(document, "service.name", resource.get("service.name"))
    set_path(
        document,
        "service.environment",
        resource.get("deployment.environment.name", resource.get("deployment.environment")),
    )
    set_path(document, "service.version", resource.get("service.version"))
    for old, new in RENAMED.items():
        if old in attrs:
            set_path(document, new, attrs[old])
    for name in PASSTHROUGH:
        if name in attrs:
            set_path(document, name, attrs[name])
    for name in RESOURCE_PASSTHROUGH:
        if name in resource:
            set_path(document, name, str(resource[name]))
    for name, value in attrs.items():
        if name.startswith("llmsiem.") and name != "llmsiem.tool.status":
            set_path(document, name, value)
    description = attrs.get("gen_ai.tool.description")
    if isinstance(description, str):
        digest = hashlib.sha256(description.encode()).hexdigest()
        set_path(document, "llmsiem.tool.description_sha256", digest)
    reasons = attrs.get("gen_ai.response.finish_reasons")
    if reasons is not None:
        set_path(document, "gen_ai.response.finish_reasons", list(reasons))
    if failed:
        set_path(document, "error.message", span.get("status", {}).get("message") or None)
        set_path(document, "error.type", attrs.get("error.type"))
    if "llmsiem.guardrail.action" in attrs:  # a verdict span (NeMo Guardrails rails ...)
        blocked = attrs["llmsiem.guardrail.action"] == "block"
        document["event"].update(
            action="guardrail",
            category=["intrusion_detection"],
            type=["denied"] if blocked else ["allowed"],
        )
        return document
    operation = attrs.get("gen_ai.operation.name", "")
    if operation == "execute_tool" or "gen_ai.tool.call.arguments" in attrs:
        _tool_event(document, attrs, failed)
        return document
    if "mcp.method.name" in attrs:  # tools/list, resources/read ... without a tool call
        _tool_event(document, attrs, failed)
        return document
    apply_conversation(document, _conversation(attrs, span.get("events", [])))
    document["event"]["action"] = event_action(document)
    return document


def request_to_events(request: dict[str, Any]) -> Iterator[dict[str, Any] | SpanError]:
    """Every span of an ``ExportTraceServiceRequest``: an event, or why it is not one."""
    if "resourceSpans" not in request:
        yield SpanError("not an OTLP trace export: no resourceSpans")
        return
    if not any(True for _ in _scoped_spans(request)):
        yield SpanError("OTLP trace export holds no spans")
        return
    for resource_spans in request.get("resourceSpans", []):
        resource = attributes(resource_spans.get("resource", {}).get("attributes", []))
        for scope_spans in resource_spans.get("scopeSpans", []):
            scope = str((scope_spans.get("scope") or {}).get("name") or "")
            for span in scope_spans.get("spans", []):
                try:
                    yield from span_to_events(span, resource, scope)
                except SpanError as exc:
                    yield exc
                except (TypeError, ValueError, KeyError, AttributeError) as exc:
                    yield SpanError(f"span {span.get('spanId')!r}: malformed ({exc})")


def _scoped_spans(record: dict[str, Any]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(scope name, attribute list) of every well-formed span (sniffing must not fail)."""
    for resource_spans in _dicts(record.get("resourceSpans")):
        for scope_spans in _dicts(resource_spans.get("scopeSpans")):
            scope = scope_spans.get("scope")
            name = str(scope.get("name") or "") if isinstance(scope, dict) else ""
            for span in _dicts(scope_spans.get("spans")):
                items = span.get("attributes", [])
                if isinstance(items, list):
                    yield name, [item for item in items if isinstance(item, dict)]


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    yield from (item for item in value if isinstance(item, dict)) if isinstance(value, list) else ()


class OtlpSource:
    """OTLP JSON traces; with a ``convention``, sniffs only exports holding spans of it (every
    span is read whatever its convention)."""

    def __init__(self, name: str, description: str, convention: str | None = None):
        self.name = name
        self.description = description
        self.convention = convention

    def sniff(self, record: dict[str, Any]) -> bool:
        if "resourceSpans" not in record:
            return False
        if self.convention is None:
            return True
        try:
            return any(
                conventions.convention(attributes(items), scope) == self.convention
                for scope, items in _scoped_spans(record)
            )
        except (TypeError, ValueError, AttributeError):  # malformed spans: normalize says why
            return False

    def normalize(self, record: dict[str, Any]) -> Iterator[dict[str, Any] | SpanError]:
        return request_to_events(record)


SOURCE = OtlpSource("otlp", "OTLP JSON trace exports with OTel GenAI attributes")
