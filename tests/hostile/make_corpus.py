"""Writes the hostile-input corpus: one JSONL file per case, a good record on either side.

Each ``<source>__<case>.jsonl`` holds three lines: a good record of the source, the hostile
record, the same good record again. Run from the repository root:
``python tests/hostile/make_corpus.py``. The files are committed; the test reads them.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SAMPLES = HERE.parent.parent / "connectors" / "samples"


def _good() -> dict[str, dict[str, Any]]:
    jsonl = json.loads((SAMPLES / "demo_telemetry.jsonl").read_text().splitlines()[0])
    litellm = json.loads((SAMPLES / "litellm_payloads.jsonl").read_text().splitlines()[0])
    otlp = json.loads((SAMPLES / "otlp_traces.json").read_text())
    langfuse_doc = json.loads((SAMPLES / "langfuse_export.json").read_text())
    langfuse = langfuse_doc["data"][0] if "data" in langfuse_doc else langfuse_doc
    return {"jsonl": jsonl, "otlp": otlp, "litellm": litellm, "langfuse": langfuse}


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = {"content": [value]}
    return value


def _first_span(record: dict[str, Any]) -> dict[str, Any]:
    span: dict[str, Any] = record["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    return span


def cases() -> dict[str, tuple[str, str]]:
    """Case name -> (source, hostile line)."""
    good = _good()
    out: dict[str, tuple[str, str]] = {}

    def case(name: str, source: str, mutate: Any) -> None:
        record = copy.deepcopy(good[source])
        result = mutate(record)
        out[name] = (source, result if isinstance(result, str) else json.dumps(record))

    case("deep_json_10000", "jsonl", lambda r: '{"a": ' + "[" * 10_000 + "]" * 10_000 + "}")
    case(
        "message_nested_900",
        "jsonl",
        lambda r: r.setdefault("gen_ai", {}).__setitem__(
            "input", {"messages": [{"role": "user", "parts": [_nested(450)]}]}
        ),
    )
    case(
        "integer_above_int64",
        "jsonl",
        lambda r: r["gen_ai"].__setitem__("usage", {"input_tokens": 2**70}),
    )
    case(
        "integer_above_int64_in_object",
        "jsonl",
        lambda r: r.setdefault("labels", {}).__setitem__("n", -(2**64)),
    )
    case("otlp_resource_spans_string", "otlp", lambda r: r.__setitem__("resourceSpans", "x"))
    case("otlp_resource_spans_null_item", "otlp", lambda r: r.__setitem__("resourceSpans", [None]))
    case(
        "otlp_scope_spans_null",
        "otlp",
        lambda r: r["resourceSpans"][0].__setitem__("scopeSpans", None),
    )
    case(
        "otlp_span_string",
        "otlp",
        lambda r: r["resourceSpans"][0]["scopeSpans"][0].__setitem__("spans", ["x"]),
    )
    case(
        "otlp_attributes_not_objects",
        "otlp",
        lambda r: _first_span(r).__setitem__("attributes", [1, "x", None]),
    )
    case("otlp_attributes_string", "otlp", lambda r: _first_span(r).__setitem__("attributes", "x"))
    case(
        "otlp_timestamp_out_of_range",
        "otlp",
        lambda r: _first_span(r).__setitem__("startTimeUnixNano", "9" * 30),
    )
    case("litellm_metadata_string", "litellm", lambda r: r.__setitem__("metadata", "x"))
    case("litellm_end_time_text", "litellm", lambda r: r.__setitem__("endTime", "abc"))
    case(
        "litellm_choices_int",
        "litellm",
        lambda r: r["response"].__setitem__("choices", [1]),
    )
    case(
        "litellm_tool_calls_int",
        "litellm",
        lambda r: r["response"]["choices"][0]["message"].__setitem__("tool_calls", [1]),
    )
    case("litellm_call_type_int", "litellm", lambda r: r.__setitem__("call_type", 5))
    case(
        "langfuse_usage_text",
        "langfuse",
        lambda r: (
            [o.__setitem__("usage", "lots") for o in r["observations"]]
            and [o.pop("usageDetails", None) for o in r["observations"]]
            and None
        ),
    )
    return out


def main() -> None:
    good = _good()
    for name, (source, line) in cases().items():
        first = json.dumps(good[source])

        (HERE / f"{source}__{name}.jsonl").write_text(f"{first}\n{line}\n{first}\n")


if __name__ == "__main__":
    main()
