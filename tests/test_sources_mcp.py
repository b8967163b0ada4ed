"""MCP, HTTP status, cloud and data-source fields from OTLP MCP spans and LiteLLM payloads."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from llmsiem.deadletter import DeadLetter
from llmsiem.event import LLMEvent, flatten
from llmsiem.pipeline import Pipeline
from llmsiem.scrub import Scrubber

FIXTURES = Path(__file__).parent / "sources_mcp"


def _events(name: str, tmp_path: Path) -> list[dict[str, Any]]:
    dead = tmp_path / "dead.jsonl"
    with DeadLetter(dead) as letters:
        docs = [e.document for e in Pipeline(Scrubber(), letters).file_events(FIXTURES / name)]
    assert not dead.exists() or dead.read_text() == ""
    for doc in docs:
        LLMEvent.model_validate(doc)
    return [flatten(d) for d in docs]


def test_otlp_mcp_spans(tmp_path: Path) -> None:
    listing, call, read, chat = _events("otlp_mcp_spans.json", tmp_path)
    assert listing["event.action"] == "tool_call"
    assert listing["mcp.method.name"] == "tools/list"
    assert listing["mcp.protocol.version"] == "2025-06-18"
    assert listing["llmsiem.mcp.server.name"] == "weather"
    assert call["mcp.method.name"] == "tools/call"
    assert call["mcp.session.id"] == "191c4850af6c49e08843a3f6c80e5046"
    assert call["gen_ai.tool.name"] == "get_forecast"
    description = call["gen_ai.tool.description"]
    digest = hashlib.sha256(description.encode()).hexdigest()
    assert call["llmsiem.tool.description_sha256"] == digest
    assert read["event.action"] == "tool_call"
    assert read["mcp.resource.uri"] == "file:///srv/app/.env"
    assert chat["http.response.status_code"] == 429
    assert chat["gen_ai.data_source.id"] == "kb-acme"
    assert chat["url.domain"] == "api.openai.com"
    assert chat["event.outcome"] == "failure"
    for event in (listing, call, read, chat):
        assert event["cloud.region"] == "eu-west-1"
        assert event["cloud.account.id"] == "111122223333"


def test_litellm_mcp_call_status_and_vector_store(tmp_path: Path) -> None:
    events = _events("litellm_mcp_payloads.jsonl", tmp_path)
    tools = [e for e in events if e["event.action"] == "tool_call"]
    assert len(tools) == 1
    tool = tools[0]
    assert tool["gen_ai.tool.name"] == "github/create_or_update_file"
    assert tool["mcp.method.name"] == "tools/call"
    assert tool["mcp.session.id"] == "sess-77"
    assert tool["llmsiem.mcp.server.name"] == "github"
    failed = [e for e in events if e.get("http.response.status_code")]
    assert [e["http.response.status_code"] for e in failed] == [429]
    assert failed[0]["gen_ai.data_source.id"] == "vs-acme-kb"
    assert abs(failed[0]["event.duration"] - 200_000_000) < 1_000  # float epoch seconds
