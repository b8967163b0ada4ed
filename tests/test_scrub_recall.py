"""Scrub recall: generated secrets and personal data in every kind of field, and benign text.

The oracle is ``secret_generator`` (vendor formats written independently of the scrubber's
patterns). Every sample is placed in every string-field kind of an event (prompt text,
message parts, tool-call arguments as objects and as ``ensure_ascii`` JSON text, tool
description, labels, user agent, error, service and agent names, template name, the raw
record, a dict key), in JSON-escaped context, base64-encoded and URL-encoded. Personal data
is not placed in the identity fields, which keep it readable by design (see
``llmsiem.scrub.document``). Run with ``-s`` to see the per-type table.
"""

from __future__ import annotations

import base64
import json
import random
from collections import defaultdict
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from llmsiem.scrub import Scrubber, might_contain_sensitive
from llmsiem.scrub.scan import find_spans
from secret_generator import GENERATORS, Sample, benign_snippets, embed, samples

PER_TYPE = 50
BENIGN = 1500
MIN_RECALL = 0.995
MAX_BENIGN_ALTERED = 0.005
SCRUBBER = Scrubber()

Placer = Callable[[dict[str, Any], str], None]


def _set(document: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = document
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def _message(role: str, part: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": role, "parts": [part]}]


# field kind -> (how the text is placed, where to read it back)
PLAIN_FIELDS: dict[str, tuple[Placer, str]] = {
    "prompt_text": (lambda d, t: _set(d, "llmsiem.prompt.text", t), "llmsiem.prompt.text"),
    "response_text": (lambda d, t: _set(d, "llmsiem.response.text", t), "llmsiem.response.text"),
    "context_text": (lambda d, t: _set(d, "llmsiem.context.text", t), "llmsiem.context.text"),
    "message_text_part": (
        lambda d, t: _set(
            d, "gen_ai.input.messages", _message("user", {"type": "text", "content": t})
        ),
        "gen_ai.input.messages",
    ),
    "tool_call_part_arguments": (
        lambda d, t: _set(
            d,
            "gen_ai.output.messages",
            _message(
                "assistant",
                {
                    "type": "tool_call",
                    "id": "call_1",
                    "name": "run",
                    "arguments": {"cmd": t, "opts": {"note": [t]}},
                },
            ),
        ),
        "gen_ai.output.messages",
    ),
    "tool_call_response_part": (
        lambda d, t: _set(
            d,
            "gen_ai.system_instructions",
            [{"type": "tool_call_response", "id": "call_1", "response": t}],
        ),
        "gen_ai.system_instructions",
    ),
    "tool_call_result": (
        lambda d, t: _set(d, "gen_ai.tool.call.result", t),
        "gen_ai.tool.call.result",
    ),
    "tool_description": (
        lambda d, t: _set(d, "gen_ai.tool.description", t),
        "gen_ai.tool.description",
    ),
    "labels": (lambda d, t: _set(d, "labels.note", t), "labels.note"),
    "user_agent": (
        lambda d, t: _set(d, "user_agent.original", f"curl/8.4 ({t})"),
        "user_agent.original",
    ),
    "error_message": (lambda d, t: _set(d, "error.message", t), "error.message"),
    "error_type": (lambda d, t: _set(d, "error.type", t), "error.type"),
    "service_name": (lambda d, t: _set(d, "service.name", t), "service.name"),
    "agent_name": (lambda d, t: _set(d, "gen_ai.agent.name", t), "gen_ai.agent.name"),
    "template_name": (
        lambda d, t: _set(d, "llmsiem.prompt.template.name", t),
        "llmsiem.prompt.template.name",
    ),
    "dict_key": (
        lambda d, t: _set(d, "gen_ai.request.headers", {t: "x"}),
        "gen_ai.request.headers",
    ),
}
ESCAPED_FIELDS: dict[str, tuple[Placer, str]] = {
    "tool_arguments_ensure_ascii": (
        lambda d, t: _set(
            d, "gen_ai.tool.call.arguments", json.dumps({"q": f"“{t}”", "n": f"a\n{t}"})
        ),
        "gen_ai.tool.call.arguments",
    ),
    "event_original_json_line": (
        lambda d, t: _set(
            d, "event.original", json.dumps({"messages": [{"content": f"“{t}”\n{t}"}]})
        ),
        "event.original",
    ),
}
ENCODED_FIELDS: dict[str, tuple[Placer, str]] = {
    "base64": (
        lambda d, t: _set(d, "labels.blob", base64.b64encode(t.encode()).decode()),
        "labels.blob",
    ),
    "url_encoded": (
        lambda d, t: _set(
            d, "labels.callback", "https://app.example.com/cb?state=" + quote(t, safe="")
        ),
        "labels.callback",
    ),
}
IDENTITY_FIELDS = ("user.name", "llmsiem.api_key.alias", "gen_ai.conversation.id")


def _get(document: dict[str, Any], dotted: str) -> Any:
    node: Any = document
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _leaked(read_back: Any, needles: tuple[str, ...], encoded: str | None = None) -> bool:
    text = json.dumps(read_back, ensure_ascii=False)
    if encoded is not None and encoded in text:
        return True
    return any(n in text or json.dumps(n)[1:-1] in text for n in needles)


Placement = tuple[str, str, str, str | None]  # group, field kind, path, encoded form


def _placements(sample: Sample, rng: random.Random) -> tuple[dict[str, Any], list[Placement]]:
    """One event with the sample in every field kind, and where to read each back."""
    document: dict[str, Any] = {"event": {"action": "prompt"}}
    placed: list[Placement] = []
    for group, fields in (
        ("plain", PLAIN_FIELDS),
        ("escaped", ESCAPED_FIELDS),
        ("encoded", ENCODED_FIELDS),
    ):
        for field_kind, (place, path) in fields.items():
            text = embed(rng, sample.text) if field_kind != "dict_key" else sample.text
            place(document, text)
            encoded = None
            if field_kind == "base64":
                encoded = _get(document, path)
            elif field_kind == "url_encoded":
                encoded = quote(text, safe="")
            placed.append((group, field_kind, path, encoded))
    if not sample.pii:  # identity fields keep personal data readable by design
        for path in IDENTITY_FIELDS:
            _set(document, path, sample.text)
            placed.append(("plain", "identity:" + path, path, None))
    return document, placed


def _recall_table() -> tuple[dict[str, dict[str, list[int]]], dict[str, list[int]]]:
    by_type: dict[str, dict[str, list[int]]] = {}
    by_field: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    rng = random.Random(29)
    for kind in GENERATORS:
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for sample in samples(kind, PER_TYPE):
            document, placed = _placements(sample, rng)
            SCRUBBER.scrub_document(document)
            for group, field_kind, path, encoded in placed:
                removed = not _leaked(_get(document, path), sample.needles, encoded)
                counts[group][0] += removed
                counts[group][1] += 1
                by_field[field_kind][0] += removed
                by_field[field_kind][1] += 1
        by_type[kind] = dict(counts)
    return by_type, dict(by_field)


@pytest.fixture(scope="module")
def recall() -> tuple[dict[str, dict[str, list[int]]], dict[str, list[int]]]:
    by_type, by_field = _recall_table()
    header = f"{'type':28} {'plain':>8} {'escaped':>8} {'encoded':>8}"
    print(f"\n{header}   (recall, {PER_TYPE} samples each)")
    for kind, counts in by_type.items():
        cells = " ".join(
            f"{c[0] / c[1]:8.1%}" for c in (counts["plain"], counts["escaped"], counts["encoded"])
        )
        print(f"{kind:28} {cells}")
    worst = sorted(by_field.items(), key=lambda item: item[1][0] / item[1][1])[:5]
    print("lowest field kinds:", ", ".join(f"{k} {c[0] / c[1]:.1%}" for k, c in worst))
    return by_type, by_field


def test_generator_covers_at_least_29_types() -> None:
    assert len(GENERATORS) >= 29


def test_every_type_is_removed_from_every_field_kind(
    recall: tuple[dict[str, dict[str, list[int]]], dict[str, list[int]]],
) -> None:
    by_type, _ = recall
    for group in ("plain", "escaped", "encoded"):
        low = {
            kind: counts[group][0] / counts[group][1]
            for kind, counts in by_type.items()
            if counts[group][0] / counts[group][1] < MIN_RECALL
        }
        assert not low, f"{group} recall below {MIN_RECALL:.1%}: {low}"


def test_every_field_kind_is_scrubbed(
    recall: tuple[dict[str, dict[str, list[int]]], dict[str, list[int]]],
) -> None:
    _, by_field = recall
    low = {k: c[0] / c[1] for k, c in by_field.items() if c[0] / c[1] < MIN_RECALL}
    assert not low, f"field kinds below {MIN_RECALL:.1%}: {low}"


BENIGN_CONTEXTS = (
    "{}",
    "Please look at {} and tell me what changed.",
    'tool output: {{"value": "{}", "ok": true}}',
    "line one\n{}\nline three",
)


def test_benign_snippets_are_left_alone() -> None:
    snippets = benign_snippets(BENIGN)
    altered = []
    for index, snippet in enumerate(snippets):
        text = BENIGN_CONTEXTS[index % len(BENIGN_CONTEXTS)].format(snippet)
        result = SCRUBBER.scrub_text(text)
        if result.text != text:
            altered.append((snippet, result.types))
    rate = len(altered) / len(snippets)
    print(f"\nbenign snippets altered: {len(altered)}/{len(snippets)} ({rate:.2%})", altered[:10])
    assert rate <= MAX_BENIGN_ALTERED, altered[:20]


def test_pre_filter_never_misses_what_the_scan_finds() -> None:
    """``might_contain_sensitive`` is False only where ``find_spans`` finds nothing."""
    rng = random.Random(5)
    texts = [embed(rng, s.text) for kind in GENERATORS for s in samples(kind, 20, seed=3)]
    texts += [json.dumps({"x": t}) for t in texts[:300]]
    texts += [base64.b64encode(t.encode()).decode() for t in texts[:200]]
    texts += [quote(t) for t in texts[:200]]
    texts += benign_snippets(600, seed=4)
    missed = [t for t in texts if find_spans(t) and not might_contain_sensitive(t)]
    assert not missed, missed[:5]
    assert sum(might_contain_sensitive(t) for t in texts[-600:]) < 600  # it does skip
