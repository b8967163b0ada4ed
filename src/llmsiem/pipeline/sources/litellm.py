"""LiteLLM ``StandardLoggingPayload`` (``kwargs["standard_logging_object"]``) -> events.

One payload becomes the model-call event (response, refusal, or prompt when the call
failed), one ``tool_call`` event per tool call the model requested or per MCP tool call,
and one ``guardrail`` event per guardrail that ran.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from llmsiem.pipeline.sources.common import (
    apply_conversation,
    copy_identity,
    event_action,
    openai_conversation,
    set_path,
)

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
GUARDRAIL_ACTIONS = {
    "guardrail_intervened": "block",
    "success": "allow",
    "guardrail_failed_to_respond": "flag",
}


class PayloadError(ValueError):
    """A payload that cannot become events; the message is the dead-letter reason."""


def _iso(epoch: Any) -> str | None:
    try:
        return datetime.fromtimestamp(float(epoch), UTC).isoformat(timespec="microseconds")
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _identity(payload: dict[str, Any], timestamp: str) -> dict[str, Any]:
    metadata = payload.get("metadata") or {}
    document: dict[str, Any] = {
        "@timestamp": timestamp,
        "event": {"kind": "event", "module": "litellm", "dataset": "llmsiem.telemetry"},
    }
    fields = {
        "trace.id": payload.get("trace_id"),
        "user.id": metadata.get("user_api_key_user_id"),
        "user.email": metadata.get("user_api_key_user_email"),
        "source.ip": payload.get("requester_ip_address") or metadata.get("requester_ip_address"),
        "user_agent.original": metadata.get("user_agent"),
        "organization.id": metadata.get("user_api_key_org_id"),
        "llmsiem.api_key.alias": metadata.get("user_api_key_alias"),
        "llmsiem.team.id": metadata.get("user_api_key_team_id"),
        "llmsiem.team.alias": metadata.get("user_api_key_team_alias"),
        "llmsiem.end_user.id": payload.get("end_user") or metadata.get("user_api_key_end_user_id"),
        "gen_ai.request.model": payload.get("model_group") or payload.get("model"),
        "gen_ai.provider.name": payload.get("custom_llm_provider"),
    }
    key_hash = metadata.get("user_api_key_hash")
    if key_hash:
        fields["llmsiem.api_key.id"] = str(key_hash)[:16]
        if SHA256_HEX.fullmatch(str(key_hash)):
            fields["llmsiem.api_key.hash"] = str(key_hash)
    prompt = metadata.get("prompt_management_metadata") or {}
    if isinstance(prompt, dict):
        fields["llmsiem.prompt.template.name"] = prompt.get("prompt_id")
        version = prompt.get("prompt_version")
        fields["llmsiem.prompt.template.version"] = None if version is None else str(version)
    for name, value in fields.items():
        set_path(document, name, value)
    return document


def _tool_calls(payload: dict[str, Any]) -> Iterator[tuple[str, str | None, str, str | None, str]]:
    """(name, call id, arguments, result, status) of requested and MCP tool calls."""
    response = payload.get("response")
    if isinstance(response, dict):
        for choice in response.get("choices") or []:
            for call in (choice.get("message") or {}).get("tool_calls") or []:
                function = call.get("function") or {}
                arguments = function.get("arguments", "")
                if not isinstance(arguments, str):
                    arguments = json.dumps(arguments, ensure_ascii=False)
                yield str(function.get("name", "")), call.get("id"), arguments, None, "pending"
    mcp = (payload.get("metadata") or {}).get("mcp_tool_call_metadata")
    if isinstance(mcp, dict) and mcp.get("name"):
        arguments = mcp.get("arguments")
        result = mcp.get("result")
        yield (
            str(mcp.get("namespaced_tool_name") or mcp["name"]),
            None,
            arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False),
            None if result is None else (result if isinstance(result, str) else json.dumps(result)),
            "error" if payload.get("status") == "failure" else "success",
        )


def _guardrails(payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    info = payload.get("guardrail_information")
    items = info if isinstance(info, list) else [info] if isinstance(info, dict) else []
    for item in items:
        if item.get("guardrail_status") in (None, "not_run"):
            continue
        yield item


def _mcp_and_http(
    payload: dict[str, Any], main: dict[str, Any], events: list[dict[str, Any]]
) -> None:
    """HTTP status of a failed call, vector store read, MCP server and session of an MCP call."""
    code = str((payload.get("error_information") or {}).get("error_code") or "")
    if code.isdigit() and 100 <= int(code) <= 599:
        set_path(main, "http.response.status_code", int(code))
    metadata = payload.get("metadata") or {}
    stores = metadata.get("vector_store_request_metadata") or []
    store_ids = [s.get("vector_store_id") for s in stores if isinstance(s, dict)]
    set_path(main, "gen_ai.data_source.id", next((i for i in store_ids if i), None))
    mcp = metadata.get("mcp_tool_call_metadata")
    if isinstance(mcp, dict) and mcp.get("name") and len(events) > 1:
        tool = events[-1]  # _tool_calls yields the MCP call last
        set_path(tool, "mcp.method.name", "tools/call")
        set_path(tool, "mcp.session.id", mcp.get("mcp_session_id"))
        set_path(tool, "llmsiem.mcp.server.name", mcp.get("mcp_server_name"))


def payload_to_events(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """All events of one StandardLoggingPayload; raises ``PayloadError`` when unusable."""
    if not isinstance(payload, dict) or "call_type" not in payload:
        raise PayloadError("not a LiteLLM StandardLoggingPayload (no call_type)")
    timestamp = _iso(payload.get("startTime")) or _iso(payload.get("endTime"))
    if timestamp is None:
        raise PayloadError(f"payload {payload.get('id')!r} has no startTime or endTime")
    call_id = str(payload.get("id") or payload.get("trace_id") or "")
    failed = payload.get("status") == "failure"
    main = _identity(payload, timestamp)
    main["event"].update(
        id=call_id, category=["api"], type=["info"], outcome="failure" if failed else "success"
    )
    set_path(
        main,
        "gen_ai.operation.name",
        "chat" if "completion" in payload["call_type"] else payload["call_type"],
    )
    set_path(main, "gen_ai.usage.input_tokens", payload.get("prompt_tokens"))
    set_path(main, "gen_ai.usage.output_tokens", payload.get("completion_tokens"))
    set_path(main, "llmsiem.usage.total_tokens", payload.get("total_tokens"))
    set_path(main, "llmsiem.usage.cost", payload.get("response_cost"))
    start, end, first = (
        payload.get("startTime"),
        payload.get("endTime"),
        payload.get("completionStartTime"),
    )
    if start is not None and end is not None:
        set_path(main, "event.duration", int(max(0.0, float(end) - float(start)) * 1e9))
    if start is not None and first is not None and float(first) >= float(start):
        set_path(main, "gen_ai.response.time_to_first_chunk", float(first) - float(start))
    response = payload.get("response")
    if isinstance(response, dict):
        set_path(main, "gen_ai.response.id", response.get("id"))
        set_path(main, "gen_ai.response.model", response.get("model"))
        reasons = [
            c.get("finish_reason") for c in response.get("choices") or [] if c.get("finish_reason")
        ]
        set_path(main, "gen_ai.response.finish_reasons", reasons or None)
    if failed:
        error = payload.get("error_information") or {}
        set_path(main, "error.message", payload.get("error_str") or error.get("error_message"))
        set_path(main, "error.type", error.get("error_class"))
    apply_conversation(main, openai_conversation(payload.get("messages"), payload.get("response")))
    main["event"]["action"] = event_action(main)
    events = [main]
    identity = {k: v for k, v in main.items() if k not in ("event", "gen_ai", "llmsiem", "error")}
    for index, (name, tool_id, arguments, result, status) in enumerate(_tool_calls(payload)):
        tool = json.loads(json.dumps(identity))
        tool["event"] = {
            "kind": "event",
            "module": "litellm",
            "dataset": "llmsiem.telemetry",
            "action": "tool_call",
            "id": f"{call_id}-tool-{index}",
            "type": ["access"],
            "outcome": "failure" if status == "error" else "success",
        }
        set_path(tool, "gen_ai.operation.name", "execute_tool")
        set_path(tool, "gen_ai.tool.name", name)
        set_path(tool, "gen_ai.tool.call.id", tool_id)
        set_path(tool, "gen_ai.tool.call.arguments", arguments)
        set_path(tool, "gen_ai.tool.call.result", result)
        set_path(tool, "llmsiem.tool.status", status)
        copy_identity(main, tool)
        events.append(tool)
    _mcp_and_http(payload, main, events)
    for index, item in enumerate(_guardrails(payload)):
        verdict = json.loads(json.dumps(identity))
        action = GUARDRAIL_ACTIONS.get(str(item.get("guardrail_status")), "flag")
        mode = str(item.get("guardrail_mode") or "")
        verdict["event"] = {
            "kind": "event",
            "module": "litellm",
            "dataset": "llmsiem.telemetry",
            "action": "guardrail",
            "id": f"{call_id}-guardrail-{index}",
            "category": ["intrusion_detection"],
            "type": ["denied"] if action == "block" else ["allowed"],
        }
        set_path(verdict, "llmsiem.guardrail.name", item.get("guardrail_name"))
        set_path(verdict, "llmsiem.guardrail.provider", item.get("guardrail_provider"))
        set_path(verdict, "llmsiem.guardrail.action", action)
        set_path(
            verdict,
            "llmsiem.guardrail.stage",
            "output" if "post" in mode else "tool" if "mcp" in mode else "input",
        )
        copy_identity(main, verdict)
        events.append(verdict)
    return events


class LiteLLMSource:
    name = "litellm"
    description = "LiteLLM StandardLoggingPayload (bare or as logged callback kwargs)"

    def sniff(self, record: dict[str, Any]) -> bool:
        return "call_type" in record or "standard_logging_object" in record

    def normalize(self, record: dict[str, Any]) -> Iterator[dict[str, Any] | PayloadError]:
        try:
            yield from payload_to_events(record.get("standard_logging_object", record))
        except PayloadError as exc:
            yield exc


SOURCE = LiteLLMSource()
