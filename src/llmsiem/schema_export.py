"""JSON Schema export, the list of leaf fields, and the field reference of ``LLMEvent``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from llmsiem.event import ECS_VERSION, OTEL_GENAI_SEMCONV_VERSION, SCHEMA_VERSION, LLMEvent

SCHEMA_ID = "https://llmsiem.dev/schema/llm-event.schema.json"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one normalized event."""
    schema = LLMEvent.model_json_schema(by_alias=True, mode="validation")
    return {
        **schema,
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "llmsiem LLM security-telemetry event",
        "description": (
            f"llmsiem schema {SCHEMA_VERSION}: OpenTelemetry GenAI semconv "
            f"{OTEL_GENAI_SEMCONV_VERSION} and ECS {ECS_VERSION} names; extensions under llmsiem.*"
        ),
    }


def render_json_schema() -> str:
    """The exported schema as committed text (stable key order, trailing newline)."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` and unwrap ``anyOf: [X, null]``."""
    if "$ref" in node:
        return _resolve(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    options = [opt for opt in node.get("anyOf", []) if opt.get("type") != "null"]
    if len(options) == 1:
        return _resolve(options[0], defs)
    return node


def _leaf_type(node: dict[str, Any], defs: dict[str, Any]) -> str:
    if {"format": "ipv4"} in node.get("anyOf", []):
        return "ip"
    kind = node.get("type")
    if kind == "array":
        return _leaf_type(_resolve(node.get("items", {}), defs), defs) + "[]"
    if kind == "string":
        fmt = node.get("format", "")
        return "date" if fmt == "date-time" else "keyword"
    return {"integer": "long", "number": "float", "boolean": "boolean"}.get(str(kind), "object")


def _walk(node: dict[str, Any], defs: dict[str, Any], prefix: str, out: dict[str, str]) -> None:
    for name, child in node.get("properties", {}).items():
        resolved = _resolve(child, defs)
        dotted = f"{prefix}{name}"
        if resolved.get("type") == "object" and resolved.get("additionalProperties") is False:
            _walk(resolved, defs, f"{dotted}.", out)
        else:
            out[dotted] = _leaf_type(resolved, defs)


def leaf_fields() -> dict[str, str]:
    """Every dotted leaf field of ``LLMEvent`` and its type (keyword, long, date, ip ...)."""
    schema = json_schema()
    out: dict[str, str] = {}
    _walk(schema, schema.get("$defs", {}), "", out)
    return out


def load_field_reference(path: Path) -> list[dict[str, Any]]:
    """The field reference (``schema/fields.yaml``): name, type, source, meaning, example."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    fields: list[dict[str, Any]] = data["fields"]
    return fields


def render_field_reference_markdown(fields: list[dict[str, Any]]) -> str:
    """Markdown table of the field reference, as committed in ``schema/FIELDS.md``."""
    lines = [
        "# Field reference",
        "",
        "Generated from `schema/fields.yaml` by `llmsiem schema fields --format md`.",
        f"Schema {SCHEMA_VERSION}; OTel GenAI semconv {OTEL_GENAI_SEMCONV_VERSION}; "
        f"ECS {ECS_VERSION}.",
        "",
        "| field | type | source | meaning | example |",
        "|---|---|---|---|---|",
    ]
    for item in fields:
        example = json.dumps(item.get("example"), ensure_ascii=False).replace("|", "\\|")
        lines.append(
            f"| `{item['name']}` | {item['type']} | {item['source']} | "
            f"{item['meaning']} | `{example}` |"
        )
    return "\n".join(lines) + "\n"
