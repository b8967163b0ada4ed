"""NeMo Guardrails: a real rails config against a local stub LLM blocks an injection; its
generation logs and its OpenTelemetry tracing output both become guardrail verdicts.

The producer (tests/sources/producers/nemo_guardrails_run.py) sends an injection and a benign
question through ``self check input`` / ``self check output`` rails; the stub LLM answers
the input check ``Yes`` (block) for the injection only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from llmsiem.deadletter import DeadLetter
from llmsiem.pipeline import Pipeline
from llmsiem.scrub import Scrubber
from source_helpers import ingest, run_producer

EXPECTED = [
    ("self check input", "input", "block"),  # the injection: stopped at the input rail
    ("self check input", "input", "allow"),  # the benign question passes both rails
    ("self check output", "output", "allow"),
]


@pytest.fixture(scope="module")
def nemo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("nemo")
    run_producer("nemo_guardrails_run.py", out / "logs.jsonl", out / "spans.json")
    return out / "logs.jsonl", out / "spans.json"


def _time(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["@timestamp"])


def _verdicts(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (e["llmsiem.guardrail.name"], e["llmsiem.guardrail.stage"], e["llmsiem.guardrail.action"])
        for e in events
        if e["event.action"] == "guardrail"
    ]


def test_generation_logs_become_rail_verdicts(nemo_run: tuple[Path, Path], tmp_path: Path) -> None:
    logs, _ = nemo_run
    assert Pipeline(Scrubber(), DeadLetter(None)).file_source(logs).name == "nemo_guardrails"
    events, letters = ingest(logs, tmp_path / "dead.jsonl")
    assert letters == []
    assert _verdicts(events) == EXPECTED
    blocked = events[0]
    assert blocked["event.type"] == ["denied"]
    assert blocked["event.category"] == ["intrusion_detection"]
    assert blocked["llmsiem.guardrail.provider"] == "nemo_guardrails"
    assert blocked["event.module"] == "nemo_guardrails"
    assert blocked["event.duration"] > 0
    assert [e["event.type"] for e in events[1:]] == [["allowed"], ["allowed"]]
    assert len({e["event.id"] for e in events}) == 3


def test_tracing_spans_become_the_same_verdicts(
    nemo_run: tuple[Path, Path], tmp_path: Path
) -> None:
    logs, spans = nemo_run
    events, letters = ingest(spans, tmp_path / "dead.jsonl")
    assert _verdicts(events) == EXPECTED
    from_logs, _ = ingest(logs, tmp_path / "logs-dead.jsonl")
    span_times = [_time(e) for e in events if e["event.action"] == "guardrail"]
    for span_time, log_time in zip(span_times, map(_time, from_logs), strict=True):
        assert abs(span_time - log_time) < timedelta(milliseconds=1)  # ns vs float seconds
    calls = [e for e in events if e["event.action"] != "guardrail"]
    assert {e["gen_ai.operation.name"] for e in calls} >= {"self_check_input", "self_check_output"}
    assert all(e["event.module"] == "nemo_guardrails" for e in events)
    assert all(e["gen_ai.request.model"] == "gpt-4o-mini" for e in calls)
    # the request and action spans and the generation rail ("generate user intent") record
    # no model call or verdict: dead-lettered, each named
    assert letters and all("not a GenAI span" in letter["reason"] for letter in letters)
    assert {letter["reason"].split("'")[1] for letter in letters} == {
        "guardrails.request",
        "guardrails.action",
        "guardrails.rail",
    }
