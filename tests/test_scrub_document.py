"""Scrubbing whole documents and raw lines: every leaf, keys, identities, keys for hashing."""

from __future__ import annotations

import json
import random
import re
import string
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmsiem.scrub import HMAC_KEY_ENV, MissingScrubKeyError, Scrubber, might_contain_sensitive
from llmsiem.scrub.decoding import base64_candidates
from secret_generator import GENERATORS, Sample, samples

SCRUBBER = Scrubber()
GITHUB = "ghp_" + "aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5"
ANTHROPIC = "sk-ant-api03-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe" * 2


def test_hash_mode_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HMAC_KEY_ENV, raising=False)
    with pytest.raises(MissingScrubKeyError, match=HMAC_KEY_ENV):
        Scrubber("hash")
    monkeypatch.setenv(HMAC_KEY_ENV, "")
    with pytest.raises(MissingScrubKeyError):
        Scrubber("hash")
    monkeypatch.setenv(HMAC_KEY_ENV, "k1")
    first = Scrubber("hash").scrub_text(f"use {GITHUB}").text
    assert first == Scrubber("hash").scrub_text(f"use {GITHUB}").text  # same key, same hash
    assert first != Scrubber("hash", hmac_key=b"k2").scrub_text(f"use {GITHUB}").text
    assert GITHUB not in first


def test_every_field_is_scrubbed_and_identities_keep_personal_data() -> None:
    document: dict[str, Any] = {
        "user": {"id": "alice@example.com", "email": "alice@example.com", "name": GITHUB},
        "user_agent": {"original": f"sdk/1.0 ({ANTHROPIC})"},
        "service": {"name": f"bot {GITHUB}"},
        "error": {"type": f"AuthError {ANTHROPIC}", "message": "call 555.867.5309"},
        "labels": {"owner": "bob@example.com", GITHUB: "leaked as a key"},
        "gen_ai": {
            "tool": {"description": f"uses {ANTHROPIC}"},
            "conversation": {"id": GITHUB},
            "agent": {"name": f"agent {GITHUB}"},
            "output": {
                "messages": [
                    {
                        "role": "assistant",
                        "parts": [
                            {
                                "type": "tool_call",
                                "name": "pay",
                                "arguments": {"card": 4111111111111111, "note": ANTHROPIC},
                            }
                        ],
                    }
                ]
            },
        },
        "llmsiem": {
            "api_key": {"alias": GITHUB, "id": "key-1"},
            "prompt": {"template": {"name": f"tpl {GITHUB}"}},
        },
    }
    SCRUBBER.scrub_document(document)
    dumped = json.dumps(document)
    assert GITHUB not in dumped and ANTHROPIC not in dumped and "4111111111111111" not in dumped
    assert "555.867.5309" not in dumped and "bob@example.com" not in dumped
    assert document["user"]["id"] == document["user"]["email"] == "alice@example.com"
    assert document["llmsiem"]["api_key"] == {"alias": "[REDACTED:GITHUB_TOKEN]", "id": "key-1"}
    assert "[REDACTED:GITHUB_TOKEN]" in document["labels"]
    redaction = document["llmsiem"]["redaction"]
    assert redaction["mode"] == "redact" and redaction["count"] == 14
    assert {"GITHUB_TOKEN", "ANTHROPIC_KEY", "CREDIT_CARD", "PHONE_NUMBER"} <= set(
        redaction["types"]
    )


def test_keep_mode_records_but_changes_nothing() -> None:
    document = {"llmsiem": {"prompt": {"text": f"token {GITHUB}"}}}
    Scrubber("keep").scrub_document(document)
    assert document["llmsiem"]["prompt"] == {"text": f"token {GITHUB}"}
    assert document["llmsiem"]["redaction"]["types"] == ["GITHUB_TOKEN"]


def test_raw_lines_stay_valid_json_and_lose_secrets_after_escapes() -> None:
    record = {"messages": [{"content": f"“{ANTHROPIC}”\n{GITHUB}\tcard 4111 1111 1111 1111"}]}
    line = json.dumps(record)  # ensure_ascii: \u201c before the key, \n before the token
    assert "\\u201c" + ANTHROPIC in line and "\\n" + GITHUB in line
    scrubbed = Scrubber("keep").scrub_raw(line)  # dead letters are always redacted
    content = json.loads(scrubbed)["messages"][0]["content"]
    assert ANTHROPIC not in scrubbed and GITHUB not in scrubbed and "4111" not in scrubbed
    assert content.startswith("“[REDACTED:ANTHROPIC_KEY]”\n[REDACTED:GITHUB_TOKEN]\t")
    assert (
        SCRUBBER.scrub_raw("not json at all: " + GITHUB)
        == "not json at all: [REDACTED:GITHUB_TOKEN]"
    )


def test_clean_documents_are_returned_untouched() -> None:
    document = {"event": {"id": "evt-1"}, "llmsiem": {"prompt": {"text": "hello there"}}}
    assert SCRUBBER.scrub_document(document) == {
        "event": {"id": "evt-1"},
        "llmsiem": {"prompt": {"text": "hello there"}},
    }
    assert not might_contain_sensitive(json.dumps(document))


SAMPLES: list[Sample] = [s for kind in GENERATORS for s in samples(kind, 4, seed=64)]
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["\ud800", "\\ud83d", "%", "%E2%80%9", "\\", "=" * 3, "a" * 40]),
)
json_values = st.recursive(
    json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=25,
)


def _nest(value: Any, depth: int, rng: random.Random) -> Any:
    for level in range(depth):
        value = {f"k{level}": value} if rng.random() < 0.6 else [value]
    return value


def _strings(value: Any) -> list[str]:
    found: list[str] = []
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, dict):
            found.extend(k for k in node if isinstance(k, str))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=json_values,
    sample=st.sampled_from(SAMPLES),
    depth=st.integers(min_value=0, max_value=64),
    padding=st.sampled_from([0, 1, 1000, 200_000]),
    as_key=st.booleans(),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_documents_of_any_shape_never_raise_and_never_keep_a_generated_secret(
    body: Any, sample: Sample, depth: int, padding: int, as_key: bool, seed: int
) -> None:
    rng = random.Random(seed)
    filler = ("lorem ipsum 42 dolor " * (padding // 20 + 1))[:padding]
    text = f"{filler} {sample.text}\n{filler[:50]}"
    secret: Any = {text: 1} if as_key else text
    document = {"payload": {"body": body, "deep": _nest(secret, depth, rng)}}
    SCRUBBER.scrub_document(document)
    for leaf in _strings(document):
        assert not any(needle in leaf for needle in sample.needles), (sample.kind, leaf[:200])


@settings(max_examples=100, deadline=None)
@given(document=st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_scrub_document_never_raises(document: dict[str, Any]) -> None:
    SCRUBBER.scrub_document(document)
    json.dumps(document)


def test_pre_filter_skips_the_clean_demo_events(repo: Path) -> None:
    """Telemetry full of ids, hashes and timestamps passes the pre-filter as clean."""
    lines = (repo / "connectors" / "samples" / "demo_telemetry.jsonl").read_text().splitlines()
    flagged = [line for line in lines if might_contain_sensitive(line)]
    with_findings = 0
    for line in lines:
        document = json.loads(line)
        SCRUBBER.scrub_document(document)
        with_findings += "redaction" in document["llmsiem"]
    assert with_findings and len(flagged) <= with_findings + 0.05 * len(lines), len(flagged)


ADVERSARIAL = {
    "spaced digits": "1 2 " * 25_000,
    "digit run": "4" * 100_000,
    "key prefixes": "sk-" * 33_000,
    "random base64": "".join(
        random.Random(3).choices(string.ascii_letters + "0123456789", k=100_000)
    ),
    "escapes": "\\n\\u201c" * 12_500,
    "card words": ("card " + "4111 " * 5) * 3_300,
    "emails": "a@b." * 25_000,
    "keywords": "password=" * 11_000,
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_100kb_adversarial_text_scrubs_in_bounded_time(name: str) -> None:
    """Every pattern is linear: no 100 KB input built from its own alphabet stalls it."""
    start = time.perf_counter()
    SCRUBBER.scrub_text(ADVERSARIAL[name])
    assert time.perf_counter() - start < 3.0  # generous: shared CI cores; quadratic took 15 s


RUN_ORACLE = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(["aB3+", "c0d3", "ZZZZ", "_-/", "=", "==", " ", "é", "\U0001f600"])
        | st.just("\ud800")
        | st.text(alphabet="aZ9=+ ", max_size=20),
        max_size=40,
    ).map("".join)
)
def test_base64_runs_are_the_longest_mixed_case_alphabet_runs(text: str) -> None:
    """Base64 runs as the plain regular expression defines them (and the case rule)."""
    expected = [
        (match.start(), match.end(), run)
        for match in RUN_ORACLE.finditer(text)
        if (run := match.group()).lower() != run and run.upper() != run
    ]
    assert base64_candidates(text) == expected
