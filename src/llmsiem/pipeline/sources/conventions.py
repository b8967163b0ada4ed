"""Span conventions other than OTel GenAI, rewritten to the names the OTLP source reads.

Detected per span from its attributes:

- **OpenInference** (Arize Phoenix, LlamaIndex): ``openinference.span.kind``,
  ``llm.input_messages.N.message.*``, ``llm.output_messages.N.message.*``,
  ``llm.token_count.*``, ``llm.model_name``, ``llm.invocation_parameters``, ``tool.*``.
- **OpenLLMetry / Traceloop**: ``traceloop.*``, ``llm.*`` and its own ``gen_ai.user``,
  ``gen_ai.is_streaming``, ``gen_ai.openai.api_base`` beside OTel GenAI names
  (``llm.usage.total_tokens``, ``llm.request.type``, ``traceloop.association.properties.*``);
  its indexed ``gen_ai.prompt.N.*`` messages the OTLP source reads already.
- **NeMo Guardrails** tracing (instrumentation scope ``nemo_guardrails``): ``guardrails.rail``
  spans (``rail.type``, ``rail.name``, ``rail.stop``, ``rail.decisions``) become guardrail
  verdicts; its LLM-call spans stay model calls; its ``guardrails.request`` and
  ``guardrails.action`` spans carry neither and are left out.

What is added holds OTel GenAI v1.41 names (or ``llmsiem.*``) only, and an attribute the
span already carries under its GenAI name is never overwritten.
"""

from __future__ import annotations

import json
from typing import Any

OPENINFERENCE = "openinference"
OPENLLMETRY = "openllmetry"
NEMO_GUARDRAILS = "nemo_guardrails"
JSON_MIME = "application/json"
# Attributes OpenLLMetry sets beside gen_ai.* that no OTel GenAI instrumentation sets.
OPENLLMETRY_KEYS = {"gen_ai.user", "gen_ai.is_streaming", "gen_ai.openai.api_base"}
OPENINFERENCE_KINDS = {"LLM": "chat", "TOOL": "execute_tool", "EMBEDDING": "embeddings"}
# Categories named by NeMo's built-in rail names (``jailbreak detection heuristics`` ...).
NEMO_RAIL_CATEGORIES = {
    "jailbreak": "jailbreak",
    "injection": "prompt_injection",
    "sensitive data": "pii",
    "content safety": "content_safety",
    "topic": "off_topic",
    "fact": "hallucination",
    "hallucination": "hallucination",
}
NEMO_STAGES = {
    "input": "input",
    "retrieval": "input",
    "output": "output",
    "tool_input": "tool",
    "tool_output": "tool",
}


def convention(attrs: dict[str, Any], scope: str = "") -> str | None:
    """The non-GenAI convention a span follows (from its attributes and instrumentation
    scope name), or None."""
    if "openinference.span.kind" in attrs:
        return OPENINFERENCE
    if scope == NEMO_GUARDRAILS or "rail.type" in attrs:
        return NEMO_GUARDRAILS
    if any(key.startswith(("traceloop.", "llm.")) or key in OPENLLMETRY_KEYS for key in attrs):
        return OPENLLMETRY
    return None


def _json_object(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {}
    return value if isinstance(value, dict) else {}


def _indexed(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """OpenInference ``<prefix>.N.message.role`` / ``.content`` / ``.contents.M.*`` /
    ``.tool_calls.M.*`` -> OTel GenAI messages (role, text and tool-call parts)."""
    messages = []
    index = 0
    while any(key.startswith(f"{prefix}.{index}.") for key in attrs):
        base = f"{prefix}.{index}.message"
        texts = []
        if isinstance(attrs.get(f"{base}.content"), str):
            texts.append(attrs[f"{base}.content"])
        part = 0
        while f"{base}.contents.{part}.message_content.type" in attrs:
            text = attrs.get(f"{base}.contents.{part}.message_content.text")
            if isinstance(text, str):
                texts.append(text)
            part += 1
        parts: list[dict[str, Any]] = [{"type": "text", "content": text} for text in texts]
        call = 0
        while f"{base}.tool_calls.{call}.tool_call.function.name" in attrs:
            call_base = f"{base}.tool_calls.{call}.tool_call"
            parts.append(
                {
                    "type": "tool_call",
                    "id": attrs.get(f"{call_base}.id"),
                    "name": attrs[f"{call_base}.function.name"],
                    "arguments": attrs.get(f"{call_base}.function.arguments"),
                }
            )
            call += 1
        messages.append({"role": str(attrs.get(f"{base}.role", "user")), "parts": parts})
        index += 1
    return messages


def _openinference(attrs: dict[str, Any]) -> dict[str, Any]:
    kind = str(attrs.get("openinference.span.kind", "")).upper()
    if kind not in OPENINFERENCE_KINDS:
        return {}  # CHAIN, RETRIEVER, AGENT ... spans are not model or tool calls
    out: dict[str, Any] = {"gen_ai.operation.name": OPENINFERENCE_KINDS[kind]}
    parameters = _json_object(attrs.get("llm.invocation_parameters"))
    out["gen_ai.provider.name"] = attrs.get("llm.provider") or attrs.get("llm.system")
    out["gen_ai.request.model"] = parameters.get("model")
    out["gen_ai.response.model"] = attrs.get("llm.model_name")
    out["gen_ai.request.temperature"] = parameters.get("temperature")
    out["gen_ai.request.max_tokens"] = parameters.get("max_tokens") or parameters.get(
        "max_completion_tokens"
    )
    out["gen_ai.usage.input_tokens"] = attrs.get("llm.token_count.prompt")
    out["gen_ai.usage.output_tokens"] = attrs.get("llm.token_count.completion")
    out["gen_ai.usage.cache_read.input_tokens"] = attrs.get(
        "llm.token_count.prompt_details.cache_read"
    )
    out["gen_ai.usage.reasoning.output_tokens"] = attrs.get(
        "llm.token_count.completion_details.reasoning"
    )
    if attrs.get("output.mime_type") == JSON_MIME:  # the provider's raw response
        out["gen_ai.response.id"] = _json_object(attrs.get("output.value")).get("id")
    out["llmsiem.usage.total_tokens"] = attrs.get("llm.token_count.total")
    out["llmsiem.usage.cost"] = attrs.get("llm.cost.total")
    out["llmsiem.end_user.id"] = parameters.get("user")
    reason = attrs.get("llm.finish_reason")
    out["gen_ai.response.finish_reasons"] = [reason] if isinstance(reason, str) else None
    if kind == "TOOL":
        out["gen_ai.tool.name"] = attrs.get("tool.name")
        out["gen_ai.tool.description"] = attrs.get("tool.description")
        out["gen_ai.tool.call.id"] = attrs.get("tool_call.id")
        out["gen_ai.tool.call.arguments"] = attrs.get(
            "tool_call.function.arguments", attrs.get("input.value")
        )
        out["gen_ai.tool.call.result"] = attrs.get("output.value")
        return out
    inputs = _indexed(attrs, "llm.input_messages")
    outputs = _indexed(attrs, "llm.output_messages")
    text_input = attrs.get("input.value")
    if not inputs and isinstance(text_input, str) and attrs.get("input.mime_type") != JSON_MIME:
        inputs = [{"role": "user", "parts": [{"type": "text", "content": text_input}]}]
    if outputs and out["gen_ai.response.finish_reasons"]:
        outputs[-1]["finish_reason"] = out["gen_ai.response.finish_reasons"][0]
    out["gen_ai.input.messages"] = inputs or None
    out["gen_ai.output.messages"] = outputs or None
    return out


def _openllmetry(attrs: dict[str, Any]) -> dict[str, Any]:
    association = "traceloop.association.properties."
    system = attrs.get("gen_ai.system")
    return {
        "gen_ai.provider.name": system.lower() if isinstance(system, str) else None,
        "gen_ai.operation.name": attrs.get("llm.request.type"),
        "llmsiem.usage.total_tokens": attrs.get(
            "llm.usage.total_tokens", attrs.get("gen_ai.usage.total_tokens")
        ),
        "llmsiem.end_user.id": attrs.get("gen_ai.user") or attrs.get("llm.user"),
        "user.id": attrs.get(f"{association}user_id"),
        "gen_ai.conversation.id": attrs.get(f"{association}session_id"),
    }


def nemo_rail_categories(name: str) -> list[str]:
    """Categories a NeMo rail's name states, e.g. ``["jailbreak"]``."""
    lowered = name.lower()
    return sorted({category for word, category in NEMO_RAIL_CATEGORIES.items() if word in lowered})


def nemo_rail_stopped(stop: Any, decisions: Any) -> bool:
    """A NeMo rail stopped the flow, or decided to refuse or block."""
    steps = decisions if isinstance(decisions, list) else []
    return bool(stop) or any(str(step).startswith(("refuse", "block")) for step in steps)


def _nemo_rail(attrs: dict[str, Any]) -> dict[str, Any]:
    blocked = nemo_rail_stopped(attrs.get("rail.stop"), attrs.get("rail.decisions"))
    return {
        "llmsiem.guardrail.name": attrs.get("rail.name"),
        "llmsiem.guardrail.provider": NEMO_GUARDRAILS,
        "llmsiem.guardrail.action": "block" if blocked else "allow",
        "llmsiem.guardrail.stage": NEMO_STAGES.get(str(attrs.get("rail.type"))),
        "llmsiem.guardrail.categories": nemo_rail_categories(str(attrs.get("rail.name"))) or None,
    }


def translate(attrs: dict[str, Any], scope: str = "") -> tuple[str | None, dict[str, Any]]:
    """The span's convention and its attributes with GenAI names added (originals kept).

    Spans of a convention that record no model call, tool call or verdict come back empty.
    """
    name = convention(attrs, scope)
    if name is None:
        return None, attrs
    if name == NEMO_GUARDRAILS:
        if "rail.type" not in attrs and attrs.get("gen_ai.operation.name") != "guardrails":
            return name, attrs  # the LLM calls NeMo made (self checks, generation)
        if str(attrs.get("rail.type")) not in NEMO_STAGES:
            return name, {}  # the request and action spans, dialog and generation rails
        added = _nemo_rail(attrs)
    elif name == OPENINFERENCE:
        added = _openinference(attrs)
        if not added:
            return name, {}  # CHAIN, RETRIEVER, AGENT ... spans
    else:
        added = _openllmetry(attrs)
    merged = dict(attrs)
    for key, value in added.items():
        if value is not None and key not in merged:
            merged[key] = value
    return name, merged
