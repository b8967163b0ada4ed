"""Lakera Guard and Helicone, whose servers cannot run here: hand-written recordings that
follow their documented bodies (tests/sources/*.handwritten.json), plus sniffing, naming a
source explicitly and records a source cannot read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from llmsiem.deadletter import DeadLetter
from llmsiem.pipeline import Pipeline
from llmsiem.scrub import Scrubber
from source_helpers import ingest

FIXTURES = Path(__file__).parent / "sources"
KEY_HASH = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("lakera.handwritten.json", "lakera"),
        ("helicone.handwritten.json", "helicone"),
        ("helicone_webhook.handwritten.json", "helicone"),
    ],
)
def test_recordings_are_sniffed(name: str, source: str) -> None:
    assert Pipeline(Scrubber(), DeadLetter(None)).file_source(FIXTURES / name).name == source


def test_lakera_verdicts_with_categories_scores_and_identity(tmp_path: Path) -> None:
    events, letters = ingest(FIXTURES / "lakera.handwritten.json", tmp_path / "dead.jsonl")
    assert letters == []
    attack, clean, pii, v1 = events
    assert {e["event.action"] for e in events} == {"guardrail"}
    assert {e["llmsiem.guardrail.provider"] for e in events} == {"lakera"}
    assert attack["llmsiem.guardrail.action"] == "flag"
    assert attack["llmsiem.guardrail.categories"] == ["prompt_attack"]  # pii/email not detected
    assert attack["llmsiem.guardrail.stage"] == "input"
    assert attack["llmsiem.guardrail.name"] == "project-support-bot"
    assert attack["user.id"] == "u-13"
    assert attack["source.ip"] == "198.51.100.23"
    assert attack["gen_ai.conversation.id"] == "sess-9"
    assert attack["event.id"] == "ce8180b1-26bc-4177-9d7f-54ca7377378a"
    assert attack["@timestamp"] == "2026-12-01T09:00:00Z"
    assert clean["llmsiem.guardrail.action"] == "allow"
    assert clean["llmsiem.guardrail.categories"] == []
    assert clean["event.type"] == ["allowed"]
    assert pii["llmsiem.guardrail.stage"] == "output"  # the screened message is the answer
    assert pii["llmsiem.guardrail.action"] == "block"  # the caller's logged decision
    assert pii["event.type"] == ["denied"]
    assert pii["llmsiem.guardrail.categories"] == ["pii/email"]
    assert "jane.doe@example.com" not in json.dumps(events)
    assert v1["llmsiem.guardrail.categories"] == ["jailbreak"]
    assert v1["llmsiem.guardrail.score"] == 0.97
    assert v1["user.id"] == "u-16"
    assert v1["@timestamp"].startswith("2025-12-01T09:23:00")


def test_lakera_response_without_time_gets_the_ingestion_time(tmp_path: Path) -> None:
    bare = tmp_path / "bare.json"
    response = {
        "flagged": True,
        "breakdown": [{"detector_type": "prompt_attack", "detected": True}],
    }
    bare.write_text(json.dumps(response))
    before = datetime.now(UTC)
    (event,), _ = ingest(bare, tmp_path / "dead.jsonl")
    assert before - timedelta(seconds=1) <= datetime.fromisoformat(event["@timestamp"])
    assert event["llmsiem.guardrail.categories"] == ["prompt_attack"]
    assert event["event.id"].startswith("lakera-")


def test_helicone_request_log_export(tmp_path: Path) -> None:
    events, letters = ingest(FIXTURES / "helicone.handwritten.json", tmp_path / "dead.jsonl")
    assert letters == []
    ok, limited = events
    assert ok["event.action"] == "response"
    assert ok["event.module"] == "helicone"
    assert ok["event.id"] == "9c1f7e2a-8d3b-4c5e-a6f7-b8c9d0e1f2a3"
    assert ok["@timestamp"] == "2026-12-01T10:00:00Z"
    assert ok["user.id"] == "u-1042"
    assert ok["source.geo.country_iso_code"] == "DE"
    assert ok["gen_ai.provider.name"] == "openai"
    assert ok["gen_ai.request.model"] == "gpt-4o-mini"
    assert ok["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert ok["gen_ai.response.id"] == "chatcmpl-AbC123"
    assert ok["gen_ai.conversation.id"] == "sess-77"
    assert ok["gen_ai.usage.input_tokens"] == 42
    assert ok["gen_ai.usage.output_tokens"] == 8
    assert ok["llmsiem.usage.total_tokens"] == 50
    assert ok["llmsiem.usage.cost"] == pytest.approx(0.0000111)
    assert ok["event.duration"] == 1_840_000_000
    assert ok["gen_ai.response.time_to_first_chunk"] == 0.42
    assert ok["llmsiem.prompt.text"] == "When does order 1182 ship?"
    assert ok["llmsiem.response.text"] == "Your order ships on Monday."
    assert len(ok["llmsiem.system_instructions.sha256"]) == 64
    assert ok["llmsiem.api_key.alias"] == "orders-prod"
    assert ok["llmsiem.api_key.hash"] == KEY_HASH
    assert ok["llmsiem.api_key.id"] == KEY_HASH[:16]
    assert limited["event.outcome"] == "failure"
    assert limited["http.response.status_code"] == 429
    assert limited["error.message"] == "Rate limit reached for gpt-4o-mini"
    assert limited["event.action"] == "prompt"  # no answer came back


def test_helicone_webhook_payload(tmp_path: Path) -> None:
    path = FIXTURES / "helicone_webhook.handwritten.json"
    (event,), letters = ingest(path, tmp_path / "dead.jsonl")
    assert letters == []
    assert event["event.action"] == "refusal"
    assert event["user.id"] == "u-2001"
    assert event["@timestamp"] == "2026-12-02T11:00:00Z"  # the completion's created time
    assert event["llmsiem.usage.cost"] == 0.000112
    assert event["gen_ai.usage.input_tokens"] == 17
    assert event["llmsiem.usage.total_tokens"] == 24
    assert event["event.duration"] == 950_000_000
    assert event["llmsiem.prompt.text"].startswith("Ignore previous instructions")


def test_named_source_reads_and_refuses(tmp_path: Path) -> None:
    events, _ = ingest(FIXTURES / "lakera.handwritten.json", tmp_path / "a.jsonl", "lakera")
    assert len(events) == 4
    events, letters = ingest(FIXTURES / "lakera.handwritten.json", tmp_path / "b.jsonl", "helicone")
    assert events == []
    assert len(letters) == 4
    assert all("helicone: not a Helicone request log" in letter["reason"] for letter in letters)


@pytest.mark.parametrize(
    ("source", "record", "reason"),
    [
        ("deepeval", {"testCases": "x"}, "not a DeepEval test run"),
        (
            "nemo_guardrails",
            {"log": {"activated_rails": [{"type": "input", "name": "x"}]}},
            "has no started_at",
        ),
        (
            "lakera",
            {"response": {"flagged": True, "metadata": {}}, "action": "ban"},
            "action 'ban'",
        ),
    ],
)
def test_unreadable_records_are_dead_lettered_with_a_reason(
    tmp_path: Path, source: str, record: dict[str, object], reason: str
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(record) + "\n")
    events, letters = ingest(path, tmp_path / "dead.jsonl", source)
    assert events == []
    assert len(letters) == 1 and reason in letters[0]["reason"]
    assert letters[0]["line"] == 1


def test_older_openllmetry_and_openinference_span_shapes(tmp_path: Path) -> None:
    """Indexed legacy prompts and traceloop association properties; OpenInference
    multi-part contents, cost, TOOL spans, and a CHAIN span that is no model call."""
    path = FIXTURES / "conventions.handwritten.json"
    events, letters = ingest(path, tmp_path / "dead.jsonl")
    legacy, llm, tool = events
    assert legacy["event.module"] == "openllmetry"
    assert legacy["gen_ai.provider.name"] == "openai"
    assert legacy["llmsiem.prompt.text"] == "Book me a flight to Lisbon"
    assert legacy["llmsiem.response.text"] == "Which dates?"
    assert legacy["llmsiem.usage.total_tokens"] == 34
    assert legacy["gen_ai.usage.input_tokens"] == 30
    assert legacy["user.id"] == "u-3001"
    assert legacy["gen_ai.conversation.id"] == "sess-3001"
    assert llm["event.module"] == "openinference"
    assert llm["llmsiem.prompt.text"] == "Summarise the attached policy"
    assert llm["gen_ai.usage.cache_read.input_tokens"] == 1024
    assert llm["llmsiem.usage.cost"] == 0.0042
    assert llm["user.id"] == "u-3002" and llm["gen_ai.conversation.id"] == "sess-3002"
    assert tool["event.action"] == "tool_call"
    assert tool["gen_ai.tool.name"] == "read_file"
    assert json.loads(tool["gen_ai.tool.call.arguments"]) == {"path": "/etc/shadow"}
    assert tool["gen_ai.tool.call.result"] == "permission denied"
    (letter,) = letters
    assert "'RetrieverQueryEngine.query'" in letter["reason"]
