"""Langfuse trace and observation exports -> events.

Accepts what the public API (``GET /api/public/traces/{id}``, ``/api/public/observations``)
and the UI JSON export return: traces with embedded ``observations``, bare observations, or
an API page ``{"data": [...]}``. ``GENERATION`` observations become model-call events
(prompt name and version, usage, cost, tool calls); ``TOOL`` observations and
``toolCalls`` become ``tool_call`` events; ``GUARDRAIL`` observations become guardrail
events. Observations Langfuse ingested from OpenTelemetry keep the span's attributes in
``metadata.attributes``: MCP and HTTP fields there (``mcp.method.name``, ``mcp.session.id``,
the tool description and its SHA-256 ...) are copied onto the event, and a span of any type
that carries ``mcp.method.name`` (``tools/call``, ``tools/list``) becomes a ``tool_call``
event. Other observation types (SPAN, EVENT, AGENT, CHAIN ...) carry no model call and are
reported as skipped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from llmsiem.pipeline.sources.common import (
    Conversation,
    apply_conversation,
    event_action,
    set_path,
    to_parts,
)

# Span attributes (OTel names) that Langfuse keeps in ``metadata.attributes`` and the schema has.
SPAN_ATTRIBUTES = (
    "mcp.method.name",
    "mcp.session.id",
    "mcp.resource.uri",
    "mcp.protocol.version",
    "gen_ai.tool.description",
    "http.response.status_code",
    "url.full",
    "url.domain",
)


class ObservationError(ValueError):
    """An observation that cannot become an event; the message is the dead-letter reason."""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _conversation(observation: dict[str, Any]) -> Conversation:
    conversation = Conversation()
    given = observation.get("input")
    messages = given.get("messages") if isinstance(given, dict) else given
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict):
            conversation.add(str(message.get("role", "user")), to_parts(message.get("content")))
    output = observation.get("output")
    if isinstance(output, dict) and "choices" in output:
        output = (output["choices"] or [{}])[0].get("message")
    if isinstance(output, dict):
        conversation.add("assistant", to_parts(output.get("content")))
    elif output is not None:
        conversation.add("assistant", to_parts(_text(output)))
    return conversation


def _requested_tools(observation: dict[str, Any]) -> Iterator[tuple[str, str | None, str]]:
    for call in observation.get("toolCalls") or []:
        if isinstance(call, dict):
            function = call.get("function") or call
            yield (
                str(function.get("name", "")),
                call.get("id"),
                _text(function.get("arguments")) or "",
            )
    output = observation.get("output")
    if isinstance(output, dict):
        for call in output.get("tool_calls") or []:
            function = call.get("function") or {}
            yield (
                str(function.get("name", "")),
                call.get("id"),
                _text(function.get("arguments")) or "",
            )


def _base(observation: dict[str, Any], trace: dict[str, Any], suffix: str = "") -> dict[str, Any]:
    timestamp = observation.get("startTime") or observation.get("endTime")
    if not timestamp:
        raise ObservationError(f"observation {observation.get('id')!r} has no startTime")
    document: dict[str, Any] = {
        "@timestamp": timestamp,
        "event": {
            "kind": "event",
            "module": "langfuse",
            "dataset": "llmsiem.telemetry",
            "id": f"{observation.get('id')}{suffix}",
            "outcome": "failure" if observation.get("level") == "ERROR" else "success",
        },
    }
    fields = {
        "trace.id": observation.get("traceId") or trace.get("id"),
        "user.id": trace.get("userId"),
        "gen_ai.conversation.id": trace.get("sessionId"),
        "service.name": trace.get("name"),
        "service.environment": observation.get("environment") or trace.get("environment"),
        "service.version": trace.get("release"),
    }
    for name, value in fields.items():
        set_path(document, name, value)
    return document


def _generation(observation: dict[str, Any], trace: dict[str, Any]) -> list[dict[str, Any]]:
    document = _base(observation, trace)
    document["event"].update(category=["api"], type=["info"])
    usage = observation.get("usageDetails") or observation.get("usage") or {}
    version = observation.get("promptVersion")
    fields = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": observation.get("model"),
        "gen_ai.usage.input_tokens": usage.get("input"),
        "gen_ai.usage.output_tokens": usage.get("output"),
        "gen_ai.usage.cache_read.input_tokens": usage.get("cache_read_input_tokens"),
        "llmsiem.usage.total_tokens": usage.get("total"),
        "llmsiem.usage.cost": observation.get("calculatedTotalCost")
        or (observation.get("costDetails") or {}).get("total"),
        "llmsiem.prompt.template.name": observation.get("promptName"),
        "llmsiem.prompt.template.version": None if version is None else str(version),
        "error.message": observation.get("statusMessage")
        if observation.get("level") == "ERROR"
        else None,
    }
    for name, value in fields.items():
        set_path(document, name, value)
    apply_conversation(document, _conversation(observation))
    document["event"]["action"] = event_action(document)
    events = [document]
    for index, (name, call_id, arguments) in enumerate(_requested_tools(observation)):
        tool = _base(observation, trace, f"-tool-{index}")
        _tool(tool, name, call_id, arguments, None, "pending")
        events.append(tool)
    return events


def _tool(
    document: dict[str, Any],
    name: str,
    call_id: str | None,
    arguments: str | None,
    result: str | None,
    status: str,
) -> None:
    document["event"].update(
        action="tool_call",
        type=["access"],
        outcome="failure" if status == "error" else "success",
    )
    for field, value in (
        ("gen_ai.operation.name", "execute_tool"),
        ("gen_ai.tool.name", name),
        ("gen_ai.tool.call.id", call_id),
        ("gen_ai.tool.call.arguments", arguments),
        ("gen_ai.tool.call.result", result),
        ("llmsiem.tool.status", status),
    ):
        set_path(document, field, value)


def _span_attributes(observation: dict[str, Any]) -> dict[str, Any]:
    metadata = observation.get("metadata")
    attributes = metadata.get("attributes") if isinstance(metadata, dict) else None
    return attributes if isinstance(attributes, dict) else {}


def _copy_span_attributes(document: dict[str, Any], attributes: dict[str, Any]) -> None:
    for name in SPAN_ATTRIBUTES:
        set_path(document, name, attributes.get(name))
    for name, value in attributes.items():
        if name.startswith("llmsiem.mcp.server."):
            set_path(document, name, value)
    description = attributes.get("gen_ai.tool.description")
    if isinstance(description, str):
        digest = hashlib.sha256(description.encode()).hexdigest()
        set_path(document, "llmsiem.tool.description_sha256", digest)


def observation_to_events(
    observation: dict[str, Any], trace: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Events of one observation; raises ``ObservationError`` for types without events."""
    trace = trace or {}
    kind = str(observation.get("type", "")).upper()
    if kind == "GENERATION":
        return _generation(observation, trace)
    attributes = _span_attributes(observation)
    if kind == "TOOL" or "mcp.method.name" in attributes:
        document = _base(observation, trace)
        status = "error" if observation.get("level") == "ERROR" else "success"
        _tool(
            document,
            str(attributes.get("gen_ai.tool.name") or observation.get("name", "")),
            attributes.get("gen_ai.tool.call.id") or observation.get("id"),
            _text(observation.get("input")),
            _text(observation.get("output")),
            status,
        )
        _copy_span_attributes(document, attributes)
        return [document]
    if kind == "GUARDRAIL":
        document = _base(observation, trace)
        output = observation.get("output")
        blocked = observation.get("level") in ("WARNING", "ERROR") or (
            isinstance(output, dict) and bool(output.get("blocked") or output.get("flagged"))
        )
        document["event"].update(
            action="guardrail",
            category=["intrusion_detection"],
            type=["denied"] if blocked else ["allowed"],
        )
        set_path(document, "llmsiem.guardrail.name", observation.get("name"))
        set_path(document, "llmsiem.guardrail.action", "block" if blocked else "allow")
        return [document]
    raise ObservationError(
        f"observation {observation.get('id')!r} of type {kind or 'unknown'} carries no model call"
    )


def export_to_events(item: dict[str, Any]) -> Iterator[dict[str, Any] | ObservationError]:
    """Events of one exported item: a trace with observations, an observation, or a page."""
    if isinstance(item.get("data"), list):
        for entry in item["data"]:
            if isinstance(entry, dict):
                yield from export_to_events(entry)
        return
    observations = item.get("observations")
    if isinstance(observations, list):
        trace = item
        if not any(isinstance(o, dict) for o in observations):
            yield ObservationError(f"trace {item.get('id')!r} lists no observation objects")
        for observation in observations:
            if isinstance(observation, dict):
                yield from _safe(observation, trace)
        return
    if "type" in item and ("traceId" in item or "startTime" in item):
        yield from _safe(item, {})
        return
    yield ObservationError("not a Langfuse trace or observation export")


def _safe(
    observation: dict[str, Any], trace: dict[str, Any]
) -> Iterator[dict[str, Any] | ObservationError]:
    try:
        yield from observation_to_events(observation, trace)
    except ObservationError as exc:
        yield exc


class LangfuseSource:
    name = "langfuse"
    description = "Langfuse trace and observation exports"

    def sniff(self, record: dict[str, Any]) -> bool:
        return (
            "observations" in record
            or ("type" in record and "traceId" in record)
            or "data" in record
        )

    def normalize(self, record: dict[str, Any]) -> Iterator[dict[str, Any] | ObservationError]:
        return export_to_events(record)


SOURCE = LangfuseSource()
