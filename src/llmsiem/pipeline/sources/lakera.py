"""Lakera Guard screening results -> one ``guardrail`` event per screened request.

Reads a Guard API response, bare or logged with the request it answered
(``{"request": {...}, "response": {...}, "timestamp": ...}``):

- v2 ``/v2/guard``: ``flagged``, ``breakdown[]`` (``detector_type``, ``detected``),
  ``metadata.request_uuid``; the request's ``metadata`` (``user_id``, ``ip_address``,
  ``session_id``) gives the identity, its last message's role the stage.
- v1: ``results[]`` with ``flagged``, ``categories`` (name -> bool) and ``category_scores``.

Categories are the detector types (or v1 categories) that fired, the score the highest
score among them (v1; v2 carries none). A flagged result is ``flag``: blocking is the
caller's decision, recorded when the log names it (``action``). A response logged without
a time gets the ingestion time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llmsiem.pipeline.sources.common import (
    ingest_time,
    iso_timestamp,
    mapping,
    record_id,
    set_path,
)

ACTIONS = {"allow", "block", "redact", "flag"}
STAGES = {"assistant": "output", "tool": "tool"}


class ResponseError(ValueError):
    """A record that is not a Lakera Guard response."""


def _is_response(value: Any) -> bool:
    return isinstance(value, dict) and (
        ("flagged" in value and ("breakdown" in value or "metadata" in value))
        or (
            isinstance(value.get("results"), list)
            and all(isinstance(r, dict) and "category_scores" in r for r in value["results"])
        )
    )


def _verdict(response: dict[str, Any]) -> tuple[bool, list[str], float | None]:
    """(flagged, categories that fired, highest score among them or overall)."""
    if isinstance(response.get("results"), list):  # v1
        categories: set[str] = set()
        fired_scores, all_scores = [], []
        for result in response["results"]:
            fired = {k for k, v in (result.get("categories") or {}).items() if v is True}
            categories |= fired
            for name, score in (result.get("category_scores") or {}).items():
                if isinstance(score, int | float) and not isinstance(score, bool):
                    all_scores.append(float(score))
                    if name in fired:
                        fired_scores.append(float(score))
        flagged = any(r.get("flagged") for r in response["results"])
        scores = fired_scores or all_scores
        return flagged, sorted(categories), max(scores) if scores else None
    detectors = [d for d in response.get("breakdown") or [] if isinstance(d, dict)]
    fired_types = sorted(
        {str(d["detector_type"]) for d in detectors if d.get("detected") and d.get("detector_type")}
    )
    return bool(response.get("flagged")), fired_types, None


def _stage(request: dict[str, Any]) -> str:
    messages = [m for m in request.get("messages") or [] if isinstance(m, dict)]
    return STAGES.get(str(messages[-1].get("role")), "input") if messages else "input"


def record_to_event(record: dict[str, Any]) -> dict[str, Any]:
    """The guardrail event of one response (bare or logged with its request)."""
    response = record.get("response", record)
    if not _is_response(response):
        raise ResponseError("not a Lakera Guard response (no flagged/breakdown or v1 results)")
    request = mapping(record.get("request"))
    metadata = mapping(request.get("metadata"))
    flagged, categories, score = _verdict(response)
    timestamp = next(
        (
            t
            for t in (iso_timestamp(record.get(k)) for k in ("@timestamp", "timestamp", "time"))
            if t
        ),
        None,
    )
    action = str(record.get("action", "flag" if flagged else "allow"))
    if action not in ACTIONS:
        raise ResponseError(f"action {action!r} is not one of {sorted(ACTIONS)}")
    uuid = mapping(response.get("metadata")).get("request_uuid")
    document: dict[str, Any] = {
        "@timestamp": timestamp or ingest_time(),
        "event": {
            "kind": "event",
            "action": "guardrail",
            "category": ["intrusion_detection"],
            "type": ["denied"] if action == "block" else ["allowed"],
            "outcome": "success",
            "id": str(uuid) if uuid else record_id("lakera", record),
            "module": "lakera",
            "dataset": "llmsiem.telemetry",
        },
    }
    set_path(document, "user.id", metadata.get("user_id") or record.get("user_id"))
    set_path(document, "source.ip", metadata.get("ip_address"))
    set_path(document, "gen_ai.conversation.id", metadata.get("session_id"))
    set_path(document, "llmsiem.guardrail.name", request.get("project_id") or "lakera-guard")
    set_path(document, "llmsiem.guardrail.provider", "lakera")
    set_path(document, "llmsiem.guardrail.action", action)
    set_path(document, "llmsiem.guardrail.categories", categories)
    set_path(document, "llmsiem.guardrail.score", score)
    set_path(document, "llmsiem.guardrail.stage", _stage(request))
    return document


class LakeraSource:
    name = "lakera"
    description = "Lakera Guard API responses (v2 breakdown or v1 category scores), bare or logged"

    def sniff(self, record: dict[str, Any]) -> bool:
        return _is_response(record.get("response", record))

    def normalize(self, record: dict[str, Any]) -> Iterator[dict[str, Any] | ResponseError]:
        try:
            yield record_to_event(record)
        except ResponseError as exc:
            yield exc


SOURCE = LakeraSource()
