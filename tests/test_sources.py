"""Sources: OTLP, LiteLLM and Langfuse fixtures normalize to valid, scrubbed events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmsiem.deadletter import DeadLetter
from llmsiem.event import LLMEvent, flatten
from llmsiem.pipeline import Pipeline
from llmsiem.pipeline.sources.common import MAX_TEXT_CHARS, TRUNCATION_MARKER
from llmsiem.pipeline.sources.otlp import request_to_events
from llmsiem.resources import content_dir
from llmsiem.scrub import Scrubber

SAMPLES = content_dir("connectors") / "samples"


def _events(path: Path, tmp_path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dead = tmp_path / "dead.jsonl"
    with DeadLetter(dead) as letters:
        docs = [event.document for event in Pipeline(Scrubber(), letters).file_events(path)]
    for doc in docs:
        LLMEvent.model_validate(doc)
    letters_written = (
        [json.loads(x) for x in dead.read_text().splitlines()] if dead.exists() else []
    )
    return [flatten(d) for d in docs], letters_written


def test_formats_are_sniffed_from_content() -> None:
    pipeline = Pipeline(Scrubber(), DeadLetter(None))
    assert pipeline.file_source(SAMPLES / "otlp_traces.json").name == "otlp"
    assert pipeline.file_source(SAMPLES / "litellm_payloads.jsonl").name == "litellm"
    assert pipeline.file_source(SAMPLES / "langfuse_export.json").name == "langfuse"
    assert pipeline.file_source(SAMPLES / "demo_telemetry.jsonl").name == "jsonl"


def test_otlp_v141_and_deprecated_attributes(tmp_path: Path) -> None:
    events, letters = _events(SAMPLES / "otlp_traces.json", tmp_path)
    chat, requested, executed, legacy = events
    assert chat["event.action"] == "response"
    assert chat["gen_ai.provider.name"] == "openai"
    assert chat["gen_ai.usage.cache_read.input_tokens"] == 512
    assert chat["llmsiem.prompt.text"].startswith("Ignore previous instructions")
    assert chat["source.ip"] == "203.0.113.7" and chat["user.id"] == "u-1042"
    assert chat["service.environment"] == "production"
    assert chat["event.duration"] == 1_840_000_000
    assert len(chat["llmsiem.system_instructions.sha256"]) == 64
    assert requested["event.action"] == "tool_call"
    assert requested["llmsiem.tool.status"] == "pending"
    assert json.loads(requested["gen_ai.tool.call.arguments"]) == {"path": "/etc/passwd"}
    assert executed["llmsiem.tool.status"] == "error"
    assert executed["error.message"] == "permission denied"
    assert legacy["gen_ai.provider.name"] == "anthropic"  # gen_ai.system
    assert legacy["gen_ai.usage.input_tokens"] == 40  # gen_ai.usage.prompt_tokens
    assert legacy["user.id"] == "u-2001"  # enduser.id
    assert "[REDACTED:AWS_KEY]" in legacy["llmsiem.prompt.text"]
    assert "AKIAQWERTYUIOPASDFGH" not in json.dumps(events)
    assert legacy["llmsiem.redaction.types"] == ["AWS_KEY"]
    assert legacy["event.action"] == "refusal"
    reasons = sorted(entry["reason"] for entry in letters)
    assert any("not a GenAI span" in r for r in reasons)
    assert any("no start or end timestamp" in r for r in reasons)
    assert all(entry["line"] == 1 for entry in letters)


def test_litellm_standard_logging_payload(tmp_path: Path) -> None:
    events, letters = _events(SAMPLES / "litellm_payloads.jsonl", tmp_path)
    by_id = {e["event.id"]: e for e in events}
    first = by_id["chatcmpl-litellm-1"]
    assert first["llmsiem.api_key.alias"] == "support-bot-prod"
    assert len(first["llmsiem.api_key.hash"]) == 64
    assert first["llmsiem.end_user.id"] == "cust-991"
    assert first["llmsiem.team.id"] == "team-support"
    assert first["source.ip"] == "203.0.113.7"
    assert first["llmsiem.usage.cost"] == pytest.approx(0.00021)
    assert first["gen_ai.response.time_to_first_chunk"] == pytest.approx(0.4, abs=1e-6)
    tool = by_id["chatcmpl-litellm-2-tool-0"]
    assert (
        tool["gen_ai.tool.name"] == "run_sql" and "DROP TABLE" in tool["gen_ai.tool.call.arguments"]
    )
    guardrail = by_id["chatcmpl-litellm-3-guardrail-0"]
    assert guardrail["llmsiem.guardrail.action"] == "block"
    assert guardrail["llmsiem.guardrail.stage"] == "input"
    assert by_id["chatcmpl-litellm-3"]["event.outcome"] == "failure"
    mcp = by_id["chatcmpl-litellm-4-tool-0"]
    assert mcp["gen_ai.tool.name"] == "list_files" and mcp["llmsiem.tool.status"] == "success"
    assert sorted(entry["line"] for entry in letters) == [5, 6]
    assert "no startTime or endTime" in next(e for e in letters if e["line"] == 6)["reason"]


def test_langfuse_trace_export(tmp_path: Path) -> None:
    events, letters = _events(SAMPLES / "langfuse_export.json", tmp_path)
    by_id = {e["event.id"]: e for e in events}
    generation = by_id["obs-gen-1"]
    assert generation["user.id"] == "u-3003"
    assert generation["gen_ai.conversation.id"] == "sess-77"
    assert generation["llmsiem.prompt.template.name"] == "support-answer"
    assert generation["llmsiem.prompt.template.version"] == "8"
    assert generation["llmsiem.response.echoes_system_instructions"] is True
    tool = by_id["obs-tool-1"]
    assert "169.254.169.254" in tool["gen_ai.tool.call.arguments"]
    assert tool["llmsiem.tool.status"] == "error"
    requested = by_id["obs-gen-2-tool-0"]
    assert requested["gen_ai.tool.name"] == "send_email"
    assert "SPAN carries no model call" in letters[0]["reason"]


def test_oversized_prompt_is_truncated_but_length_kept() -> None:
    text = "A" * (MAX_TEXT_CHARS + 5000)
    request = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "t",
                                "spanId": "s",
                                "startTimeUnixNano": "1795168800000000000",
                                "attributes": [
                                    {"key": "gen_ai.request.model", "value": {"stringValue": "m"}},
                                    {"key": "gen_ai.prompt", "value": {"stringValue": text}},
                                ],
                            }
                        ]
                    }
                ]
            }
        ]
    }
    (event,) = list(request_to_events(request))
    assert isinstance(event, dict)
    prompt = event["llmsiem"]["prompt"]
    assert prompt["chars"] == len(text)
    assert prompt["text"].endswith(TRUNCATION_MARKER)
    assert len(prompt["text"]) == MAX_TEXT_CHARS + len(TRUNCATION_MARKER)


def test_invalid_utf8_line_is_dead_lettered(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    good = (SAMPLES / "litellm_payloads.jsonl").read_bytes().splitlines()[0]
    path.write_bytes(good + b"\n\xff\xfe broken\n")
    events, letters = _events(path, tmp_path)
    assert len(events) == 1
    assert letters[0]["line"] == 2 and "invalid UTF-8" in letters[0]["reason"]
