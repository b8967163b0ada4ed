"""The normalized event schema: round trip, rejection, committed exports."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from llmsiem.event import LLMEvent, flatten
from llmsiem.schema_export import (
    json_schema,
    leaf_fields,
    load_field_reference,
    render_field_reference_markdown,
    render_json_schema,
)


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        json_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def test_examples_cover_every_event_kind(examples: dict[str, dict[str, Any]]) -> None:
    kinds = {doc["event"]["action"] for doc in examples.values()}
    assert kinds == {
        "prompt",
        "response",
        "tool_call",
        "usage",
        "guardrail",
        "refusal",
        "evaluation",
    }


def test_examples_validate_with_pydantic_and_jsonschema(
    examples: dict[str, dict[str, Any]],
) -> None:
    validator = _validator()
    for name, doc in examples.items():
        LLMEvent.model_validate(doc)
        errors = list(validator.iter_errors(doc))
        assert errors == [], f"{name}: {[e.message for e in errors]}"


def test_round_trip_model_json_model(examples: dict[str, dict[str, Any]]) -> None:
    for doc in examples.values():
        event = LLMEvent.model_validate(doc)
        again = LLMEvent.model_validate_json(json.dumps(event.to_document()))
        assert again == event
        assert again.to_document() == event.to_document()


def test_document_uses_wire_names(examples: dict[str, dict[str, Any]]) -> None:
    flat = flatten(LLMEvent.model_validate(examples["response"]).to_document())
    assert flat["@timestamp"].startswith("2026-11-20T10:15:02.120")
    assert flat["gen_ai.usage.cache_read.input_tokens"] == 512
    assert flat["llmsiem.api_key.id"] == "key-3"
    assert "timestamp" not in flat


@pytest.mark.parametrize(
    ("path", "value", "field", "fragment"),
    [
        (("event", "action"), "chat_message", "event.action", "Input should be 'prompt'"),
        (("gen_ai", "usage", "input_tokens"), "many", "gen_ai.usage.input_tokens", "integer"),
        (("gen_ai", "usage", "input_tokens"), -5, "gen_ai.usage.input_tokens", "greater than"),
        (("source", "ip"), "not-an-ip", "source.ip", "IP"),
        (("@timestamp",), "2026-11-20T10:15:02", "@timestamp", "timezone"),
        (("llmsiem", "api_key", "hash"), "abc", "llmsiem.api_key.hash", "pattern"),
        (("gen_ai", "made_up"), 1, "gen_ai.made_up", "Extra inputs"),
    ],
)
def test_bad_values_are_rejected_naming_the_field(
    examples: dict[str, dict[str, Any]],
    path: tuple[str, ...],
    value: Any,
    field: str,
    fragment: str,
) -> None:
    doc = copy.deepcopy(examples["response"])
    node = doc
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
    with pytest.raises(ValidationError) as info:
        LLMEvent.model_validate(doc)
    errors = info.value.errors()
    locs = [".".join(map(str, e["loc"])) for e in errors]
    assert field in locs
    assert any(fragment in e["msg"] for e in errors)
    assert list(_validator().iter_errors(doc)), "jsonschema must reject it too"


def test_raw_api_key_is_refused(examples: dict[str, dict[str, Any]]) -> None:
    doc = copy.deepcopy(examples["prompt"])
    doc["llmsiem"]["api_key"]["id"] = "sk-proj-" + "a" * 40
    with pytest.raises(ValidationError, match="raw secret"):
        LLMEvent.model_validate(doc)


def test_missing_required_field_is_named(examples: dict[str, dict[str, Any]]) -> None:
    doc = copy.deepcopy(examples["prompt"])
    del doc["@timestamp"]
    with pytest.raises(ValidationError) as info:
        LLMEvent.model_validate(doc)
    assert info.value.errors()[0]["loc"] == ("@timestamp",)


def test_committed_json_schema_matches_fresh_export(repo: Path) -> None:
    committed = (repo / "schema" / "llm-event.schema.json").read_text()
    assert committed == render_json_schema(), "run: llmsiem schema export --out schema/..."


def test_field_reference_lists_exactly_the_model_fields(repo: Path) -> None:
    reference = load_field_reference(repo / "schema" / "fields.yaml")
    names = [item["name"] for item in reference]
    assert len(names) == len(set(names))
    assert set(names) == set(leaf_fields())
    types = leaf_fields()
    for item in reference:
        assert item["type"] == types[item["name"]], item["name"]
        assert item["meaning"] and item["source"]
        assert "example" in item


def test_field_reference_markdown_is_current(repo: Path) -> None:
    reference = load_field_reference(repo / "schema" / "fields.yaml")
    committed = (repo / "schema" / "FIELDS.md").read_text()
    assert committed == render_field_reference_markdown(reference)


def test_no_invented_gen_ai_names() -> None:
    """Only OTel GenAI v1.41 attribute names may appear under gen_ai.*."""
    otel_genai = {
        "gen_ai.operation.name",
        "gen_ai.provider.name",
        "gen_ai.request.model",
        "gen_ai.request.max_tokens",
        "gen_ai.request.temperature",
        "gen_ai.response.id",
        "gen_ai.response.model",
        "gen_ai.response.finish_reasons",
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
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "gen_ai.conversation.id",
        "gen_ai.agent.id",
        "gen_ai.agent.name",
        "gen_ai.data_source.id",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
    }
    ours = {name for name in leaf_fields() if name.startswith("gen_ai.")}
    assert ours <= otel_genai, ours - otel_genai
    namespaces = {name.split(".")[0] for name in leaf_fields()}
    ecs = {"@timestamp", "event", "user", "source", "user_agent", "trace", "span", "service"}
    ecs |= {"organization", "error", "labels", "http", "url", "cloud"}
    assert namespaces == ecs | {"gen_ai", "mcp", "llmsiem"}


def test_no_invented_mcp_names() -> None:
    """Only OTel MCP semconv attribute names may appear under mcp.*; the rest is llmsiem.mcp.*."""
    otel_mcp = {"mcp.method.name", "mcp.session.id", "mcp.resource.uri", "mcp.protocol.version"}
    ours = {name for name in leaf_fields() if name.startswith("mcp.")}
    assert ours <= otel_mcp, ours - otel_mcp
