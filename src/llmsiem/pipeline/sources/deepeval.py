"""DeepEval test runs -> one ``evaluation`` event per metric result of each test case.

Reads a test-run file (``DEEPEVAL_RESULTS_FOLDER``'s ``test_run_*.json`` or
``.deepeval/.latest_test_run.json``: ``testCases[]`` with ``name``, ``input``,
``actualOutput``, ``retrievalContext``, ``metricsData[]`` of ``name``, ``score``,
``threshold``, ``success``, ``reason``, ``evaluationModel``, ``error``) or one test case.
The case's input and output become the prompt and response text. A test case that
evaluates a production interaction names it in its additional metadata (``metadata`` in
run files, ``additionalMetadata`` in test cases): ``trace_id``,
``user_id``, ``session_id``, ``service``, ``environment`` and ``timestamp`` (its time);
a case without a timestamp gets the ingestion time, since test runs record none.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llmsiem.pipeline.sources.common import (
    Conversation,
    apply_conversation,
    ingest_time,
    iso_timestamp,
    mapping,
    record_id,
    set_path,
    to_parts,
)

IDENTITY = {
    "trace_id": "trace.id",
    "user_id": "user.id",
    "session_id": "gen_ai.conversation.id",
    "service": "service.name",
    "environment": "service.environment",
}


class RunError(ValueError):
    """A record that is not a DeepEval test run or test case."""


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(str(item) for item in value) or None
    return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def case_to_events(case: dict[str, Any], run_file: str | None) -> Iterator[dict[str, Any]]:
    """One evaluation event per metric result of a test case."""
    metadata = mapping(case.get("additionalMetadata") or case.get("metadata"))
    timestamp = iso_timestamp(metadata.get("timestamp")) or ingest_time()
    base_id = record_id("deepeval", {k: case.get(k) for k in ("name", "input", "actualOutput")})
    conversation = Conversation()
    conversation.add("user", to_parts(_text(case.get("input"))))
    conversation.add("tool", to_parts(_text(case.get("retrievalContext") or case.get("context"))))
    conversation.add("assistant", to_parts(_text(case.get("actualOutput"))))
    for index, metric in enumerate(case.get("metricsData") or []):
        if not isinstance(metric, dict):
            continue
        success = metric.get("success") if isinstance(metric.get("success"), bool) else None
        document: dict[str, Any] = {
            "@timestamp": timestamp,
            "event": {
                "kind": "event",
                "action": "evaluation",
                "category": ["api"],
                "type": ["info"],
                "outcome": {True: "success", False: "failure", None: "unknown"}[success],
                "id": f"{base_id}-{index}",
                "module": "deepeval",
                "dataset": "llmsiem.telemetry",
            },
        }
        for key, field in IDENTITY.items():
            value = metadata.get(key)
            set_path(document, field, str(value) if value is not None else None)
        apply_conversation(document, conversation)
        response = document.get("llmsiem", {}).get("response", {})
        for derived in ("refusal", "echoes_system_instructions"):  # model-call facts only
            response.pop(derived, None)
        set_path(document, "llmsiem.evaluation.metric", metric.get("name"))
        set_path(document, "llmsiem.evaluation.provider", "deepeval")
        set_path(document, "llmsiem.evaluation.score", _number(metric.get("score")))
        set_path(document, "llmsiem.evaluation.threshold", _number(metric.get("threshold")))
        set_path(document, "llmsiem.evaluation.success", success)
        set_path(document, "llmsiem.evaluation.reason", _text(metric.get("reason")))
        set_path(document, "llmsiem.evaluation.test_case", case.get("name") or run_file)
        set_path(document, "llmsiem.evaluation.model", _text(metric.get("evaluationModel")))
        set_path(document, "error.message", _text(metric.get("error")))
        yield document


def run_to_events(record: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Evaluation events of a test run (``testCases``) or of one test case (``metricsData``)."""
    if isinstance(record.get("metricsData"), list):
        yield from case_to_events(record, None)
        return
    cases = record.get("testCases")
    if not isinstance(cases, list):
        raise RunError("not a DeepEval test run (no testCases) or test case (no metricsData)")
    for case in cases:
        if isinstance(case, dict):
            yield from case_to_events(case, record.get("testFile"))


class DeepEvalSource:
    name = "deepeval"
    description = "DeepEval test-run results (testCases[].metricsData[]) or single test cases"

    def sniff(self, record: dict[str, Any]) -> bool:
        return isinstance(record.get("testCases"), list) or isinstance(
            record.get("metricsData"), list
        )

    def normalize(self, record: dict[str, Any]) -> Iterator[dict[str, Any] | RunError]:
        try:
            yield from run_to_events(record)
        except RunError as exc:
            yield exc


SOURCE = DeepEvalSource()
