"""``checked_document`` (typed-dict validation, no model round trip) against the model path.

The oracle is ``check_record`` then ``LLMEvent.to_document``: for generated events, a rich
hand-written event and hypothesis mutations of them (values replaced, removed or added at
any depth), both give the same document (same keys, order, types, values) or the same
located problems.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmsiem.records import RawRecord
from llmsiem.synthetic import generate
from llmsiem.validation import check_record, checked_document

RICH: dict[str, Any] = {
    "@timestamp": "2026-11-20T09:00:17.397+02:00",
    "event": {"action": "tool_call", "duration": 5, "created": "2026-11-20T09:00:17Z"},
    "user": {"id": "u-1", "name": "Bob", "email": "bob@example.com"},
    "source": {"ip": "::FFFF:10.0.0.1", "geo": {"country_iso_code": "DE"}, "as": {"number": 3}},
    "http": {"response": {"status_code": 200}},
    "url": {"full": "https://x.test/a", "domain": "x.test"},
    "cloud": {"region": "eu", "account": {"id": "1"}},
    "mcp": {"method": {"name": "tools/call"}, "session": {"id": "s"}},
    "labels": {"team": "a"},
    "error": {"message": "m", "type": "t"},
    "organization": {"id": "o"},
    "gen_ai": {
        "input": {
            "messages": [
                {"role": "user", "parts": [{"type": "text", "content": "hi", "extra": [1]}]},
                {"role": "assistant", "finish_reason": "stop", "note": {"a": None}},
            ]
        },
        "system_instructions": [{"type": "text", "content": "be nice"}],
        "request": {"temperature": 0.5, "max_tokens": 10},
        "response": {"finish_reasons": ["stop"], "time_to_first_chunk": 0.25},
        "usage": {"input_tokens": 1, "cache_read": {"input_tokens": 2}},
        "tool": {"name": "t", "call": {"id": "c", "arguments": "{}"}},
    },
    "llmsiem": {
        "api_key": {"id": "key-1", "hash": "a" * 64},
        "guardrail": {"action": "block", "categories": ["x"], "score": 1},
        "evaluation": {"metric": "Toxicity", "score": 0.1, "success": True},
        "redaction": {"mode": "redact", "types": ["email"], "count": 1},
        "response": {"refusal": False, "chars": 3},
        "usage": {"cost": 0.001, "total_tokens": 4},
        "tool": {"status": "error", "description_sha256": "b" * 64},
        "label": {"malicious": True},
    },
}
BASES = [RICH, *generate(60, seed=4)]
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**130),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(
        [
            "10.0.0.1",
            "::1",
            "::FFFF:1.2.3.4",
            "1.2.3",
            "01.2.3.4",
            "fe80::1%eth0",
            " 10.0.0.1",
            "2026-01-01T00:00:00",
            "2026-01-01T00:00:00+02:00",
            "2026-01-01",
            "sk-" + "x" * 30,
            "sk-short",
            "a" * 64,
            "A" * 64,
            "prompt",
            "user",
            "block",
            "",
        ]
    ),
    st.lists(st.sampled_from(["api", "info", "web", 1, None]), max_size=3),
    st.just({"type": "text", "content": "x"}),
    st.just({}),
    st.just({"id": "sk-" + "y" * 30}),
)


def _mutated(document: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    document = copy.deepcopy(document)
    for _ in range(data.draw(st.integers(1, 4))):
        node: Any = document
        while True:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            key = data.draw(st.sampled_from(keys))
            child = node[key]
            if isinstance(child, dict | list) and child and data.draw(st.booleans()):
                node = child
                continue
            action = data.draw(st.sampled_from(["replace", "remove", "add"]))
            if action == "replace":
                node[key] = copy.deepcopy(data.draw(VALUES))
            elif action == "remove":
                del node[key]
            elif isinstance(node, dict):
                node[data.draw(st.sampled_from(["zz", "id", "type", "as_", "@timestamp"]))] = (
                    copy.deepcopy(data.draw(VALUES))
                )
            break
    return document


def _assert_alike(document: dict[str, Any]) -> None:
    record = RawRecord("in.jsonl", 7, document)
    fast, problems = checked_document(record)
    checked = check_record(record)
    expected = checked.event.to_document() if checked.event is not None else None
    assert repr(fast) == repr(expected)
    assert [str(p) for p in problems] == [str(p) for p in checked.problems]


def test_generated_and_rich_events_give_the_model_paths_document() -> None:
    for base in BASES:
        _assert_alike(copy.deepcopy(base))
    assert checked_document(RawRecord("in.jsonl", 1, copy.deepcopy(RICH)))[0] is not None


def test_raw_api_keys_and_a_missing_extension_are_decided_alike() -> None:
    for name in ("id", "alias"):
        for value in ("sk-" + "x" * 30, "AKIA" + "Y" * 16, "AKIA" + "Y" * 17, "sk-short"):
            document = copy.deepcopy(RICH)
            document["llmsiem"]["api_key"][name] = value
            _assert_alike(document)
            refused = checked_document(RawRecord("in.jsonl", 1, document))[0] is None
            assert refused == (len(value) > 20)
    document = copy.deepcopy(RICH)
    del document["llmsiem"]
    _assert_alike(document)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(BASES), st.data())
def test_mutated_events_give_the_model_paths_document_or_problems(
    base: dict[str, Any], data: st.DataObject
) -> None:
    _assert_alike(_mutated(base, data))


def test_unreadable_record_keeps_its_reason() -> None:
    record = RawRecord("in.jsonl", 3, None, "invalid JSON: x")
    assert [str(p) for p in checked_document(record)[1]] == ["in.jsonl:3: invalid JSON: x"]
