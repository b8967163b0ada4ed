"""Pieces every source normalizer shares: message text, hashes, refusals, echoes, limits."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from llmsiem.event import set_dotted

MAX_TEXT_CHARS = 1_000_000
TRUNCATION_MARKER = " [TRUNCATED]"
REFUSAL_PREFIXES = (
    "i can't help",
    "i cannot help",
    "i can't assist",
    "i cannot assist",
    "i can't provide",
    "i cannot provide",
    "i won't",
    "i will not",
    "i'm sorry, but i can",
    "i am sorry, but i can",
    "sorry, i can't",
    "i'm not able to help",
    "i am unable to",
    "i'm unable to",
)
ECHO_WINDOW_WORDS = 8
_NUMBER = re.compile(r"\d+(\.\d+)?")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def truncate(text: str) -> str:
    """Cap text at 1,000,000 characters, marking the cut."""
    if len(text) <= MAX_TEXT_CHARS:
        return text
    return text[:MAX_TEXT_CHARS] + TRUNCATION_MARKER


def looks_like_refusal(text: str, finish_reasons: Iterable[str] = ()) -> bool:
    """A refusal: a content-filter finish, or an answer that opens with a refusal phrase."""
    if any(reason in ("content_filter", "refusal") for reason in finish_reasons):
        return True
    opening = text.strip().lower().replace("\u2019", "'")[:80]
    return opening.startswith(REFUSAL_PREFIXES)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def echoes(instructions: str, response: str) -> bool:
    """True when the response repeats any run of 8 consecutive words of the instructions."""
    words = _words(instructions)
    if len(words) < ECHO_WINDOW_WORDS or not response:
        return False
    answer = " " + " ".join(_words(response)) + " "
    return any(
        " " + " ".join(words[i : i + ECHO_WINDOW_WORDS]) + " " in answer
        for i in range(len(words) - ECHO_WINDOW_WORDS + 1)
    )


def part_text(part: Any) -> str:
    """Text carried by one OTel message part (text, tool call, tool response ...)."""
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return ""
    for key in ("content", "text", "result", "response", "arguments"):
        value = part.get(key)
        if value is None:
            continue
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return ""


def to_parts(content: Any) -> list[dict[str, Any]]:
    """OTel message parts from an OpenAI-style ``content`` (string or list of parts)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if isinstance(content, list):
        parts = []
        for item in content:
            if isinstance(item, dict) and item.get("type") in ("text", "input_text", "output_text"):
                parts.append({"type": "text", "content": item.get("text", item.get("content", ""))})
            elif isinstance(item, dict):
                parts.append({"type": str(item.get("type", "unknown")), "content": item})
            else:
                parts.append({"type": "text", "content": str(item)})
        return parts
    return [{"type": "text", "content": json.dumps(content, ensure_ascii=False)}]


@dataclass
class Conversation:
    """Messages split by role into the channels the rules inspect."""

    system: list[str] = field(default_factory=list)
    user: list[str] = field(default_factory=list)
    context: list[str] = field(default_factory=list)
    assistant: list[str] = field(default_factory=list)
    finish_reasons: list[str] = field(default_factory=list)

    def add(self, role: str, parts: list[dict[str, Any]], finish_reason: str | None = None) -> None:
        texts = []
        for part in parts:
            kind = part.get("type") if isinstance(part, dict) else "text"
            if kind == "tool_call":
                continue  # a requested tool call becomes its own tool_call event
            text = part_text(part)
            if not text:
                continue
            if kind in ("tool_call_response", "tool_result"):
                self.context.append(text)
            else:
                texts.append(text)
        channel = {
            "system": self.system,
            "developer": self.system,
            "user": self.user,
            "tool": self.context,
            "function": self.context,
            "assistant": self.assistant,
        }.get(role, self.user)
        channel.extend(texts)
        if finish_reason:
            self.finish_reasons.append(finish_reason)


def openai_conversation(messages: Any, response: Any) -> Conversation:
    """Conversation of OpenAI-style chat ``messages`` and a chat completion ``response``
    (``choices[].message``; an Anthropic-style ``content`` list is read too)."""
    conversation = Conversation()
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict):
            conversation.add(str(message.get("role", "user")), to_parts(message.get("content")))
    if isinstance(response, dict):
        for choice in response.get("choices") or []:
            message = choice.get("message") or {}
            parts = to_parts(message.get("content"))
            if message.get("refusal"):
                parts.append({"type": "text", "content": message["refusal"]})
                conversation.finish_reasons.append("refusal")
            conversation.add("assistant", parts, choice.get("finish_reason"))
        if "choices" not in response and isinstance(response.get("content"), list):
            conversation.add(
                "assistant", to_parts(response["content"]), response.get("stop_reason")
            )
    elif isinstance(response, str):
        conversation.add("assistant", to_parts(response))
    return conversation


def iso_from_nanos(value: Any) -> str | None:
    """ISO-8601 UTC from OTLP ``*UnixNano`` (string or int); None when absent or zero."""
    try:
        nanos = int(value)
    except (TypeError, ValueError):
        return None
    if nanos <= 0:
        return None
    return datetime.fromtimestamp(nanos / 1e9, UTC).isoformat(timespec="microseconds")


def iso_timestamp(value: Any) -> str | None:
    """ISO-8601 UTC from epoch seconds (number or numeric text) or ISO-8601 text; else None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
            moment = datetime.fromtimestamp(float(value), UTC)
        elif isinstance(value, str):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def ingest_time() -> str:
    """Now, for records whose format carries no time of its own (documented per source)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def record_id(prefix: str, record: Any) -> str:
    """A stable event id from a record's content, for formats that carry no id."""
    digest = hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()
    return f"{prefix}-{digest[:20]}"


def set_path(document: dict[str, Any], dotted: str, value: Any) -> None:
    """Set a dotted field on a nested document (``@timestamp`` stays flat); None is skipped."""
    if value is not None:
        set_dotted(document, dotted, value)


def apply_conversation(document: dict[str, Any], conversation: Conversation) -> None:
    """Fill the llmsiem text channels, hashes, refusal and echo flags from a conversation."""
    prompt = "\n".join(conversation.user)
    context = "\n".join(conversation.context)
    system = "\n".join(conversation.system)
    answer = "\n".join(conversation.assistant)
    if prompt:
        set_path(document, "llmsiem.prompt.text", truncate(prompt))
        set_path(document, "llmsiem.prompt.chars", len(prompt))
    if context:
        set_path(document, "llmsiem.context.text", truncate(context))
    if system:
        set_path(document, "llmsiem.system_instructions.sha256", sha256_hex(system))
    if answer or conversation.finish_reasons:
        refusal = looks_like_refusal(answer, conversation.finish_reasons)
        set_path(document, "llmsiem.response.text", truncate(answer))
        set_path(document, "llmsiem.response.chars", len(answer))
        set_path(document, "llmsiem.response.refusal", refusal)
        set_path(document, "llmsiem.response.echoes_system_instructions", echoes(system, answer))


def copy_identity(source: dict[str, Any], target: dict[str, Any]) -> None:
    """Copy API key, team and end-user identity from a model-call event to a derived one."""
    extension = source.get("llmsiem", {})
    for name in ("api_key", "team", "end_user"):
        if name in extension:
            target.setdefault("llmsiem", {})[name] = dict(extension[name])


def event_action(document: dict[str, Any]) -> str:
    """prompt, response or refusal, from what the document carries."""
    response = document.get("llmsiem", {}).get("response")
    if response is None:
        return "prompt"
    return "refusal" if response.get("refusal") else "response"
