"""Hostile OTLP and LiteLLM bodies: every one is either read or refused with ``BodyError``
(HTTP 400 with the reason); nothing else escapes the decoders."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from llmsiem.collect import litellm, otlp
from llmsiem.collect.otlp import JSON, PROTOBUF, BodyError

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "resourceSpans",
                    "scopeSpans",
                    "spans",
                    "traceId",
                    "spanId",
                    "attributes",
                    "key",
                    "value",
                    "stringValue",
                    "kvlistValue",
                    "values",
                    "resourceLogs",
                    "scopeLogs",
                    "logRecords",
                    "body",
                    "x",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=30,
)


def _read(body: bytes, kind: str) -> None:
    traces = ExportTraceServiceRequest()
    logs = ExportLogsServiceRequest()
    for message, split in ((traces, otlp.span_records), (logs, otlp.log_records)):
        try:
            otlp.decode(body, kind, message)
        except BodyError:
            continue
        json.dumps(split(message))  # records are plain JSON


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_protobuf_bodies(body: bytes) -> None:
    _read(body, PROTOBUF)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_VALUES)
def test_random_json_bodies(document: Any) -> None:
    body = json.dumps(document).encode()
    _read(body, JSON)
    with contextlib.suppress(BodyError):
        litellm.payloads(body)


@pytest.mark.parametrize(
    ("body", "payloads_refused"),
    [
        (b"[" * 10_000 + b"]" * 10_000, True),
        # a JSON object: LiteLLM payloads pass on, and the pipeline dead-letters the depth
        (b'{"resourceSpans": ' + b"[" * 200 + b"]" * 200 + b"}", False),
        (b"\xff\xfe not utf-8", True),
    ],
)
def test_deep_or_broken_json_is_a_body_error(body: bytes, payloads_refused: bool) -> None:
    with pytest.raises(BodyError):
        otlp.decode(body, JSON, ExportTraceServiceRequest())
    if payloads_refused:
        with pytest.raises(BodyError):
            litellm.payloads(body)


def test_deeply_nested_values_are_refused() -> None:
    value: dict[str, Any] = {"stringValue": "x"}
    for _ in range(150):
        value = {"arrayValue": {"values": [value]}}
    document = {
        "resourceSpans": [
            {"scopeSpans": [{"spans": [{"attributes": [{"key": "k", "value": value}]}]}]}
        ]
    }
    with pytest.raises(BodyError):
        otlp.decode(json.dumps(document).encode(), JSON, ExportTraceServiceRequest())
    request = ExportTraceServiceRequest()
    nested = request.resource_spans.add().scope_spans.add().spans.add().attributes.add().value
    for _ in range(150):
        nested = nested.array_value.values.add()
    nested.string_value = "x"
    with pytest.raises(BodyError):  # the protobuf parser's recursion limit
        otlp.decode(request.SerializeToString(), PROTOBUF, ExportTraceServiceRequest())
