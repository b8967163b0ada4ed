"""NeMo Guardrails generation logs -> one ``guardrail`` event per input, output, retrieval or
tool rail that ran.

Reads ``GenerationResponse`` JSON (``rails.generate(..., options={"log": {"activated_rails":
True}})`` dumped with ``model_dump_json``) or its bare ``log`` (``GenerationLog``). Each
activated rail gives the rail name, its stage (``type``) and the decision: a rail that
stopped the flow (``stop``), refused, or whose action returned ``decision: block`` blocked;
one whose action returned transforms redacted; any other allowed. Dialog and generation
rails are flow steps, not verdicts, and are left out. NeMo's OTel tracing output
(``guardrails.rail`` spans) goes through the OTLP source instead (``conventions``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llmsiem.pipeline.sources.common import iso_timestamp, record_id, set_path
from llmsiem.pipeline.sources.conventions import (
    NEMO_GUARDRAILS,
    NEMO_STAGES,
    nemo_rail_categories,
    nemo_rail_stopped,
)


class LogError(ValueError):
    """A record that is not a NeMo Guardrails generation log."""


def _log(record: dict[str, Any]) -> dict[str, Any]:
    log = record.get("log") if "log" in record else record
    if not isinstance(log, dict) or not isinstance(log.get("activated_rails"), list):
        raise LogError("not a NeMo Guardrails generation log (no log.activated_rails)")
    return log


def _action(rail: dict[str, Any]) -> str:
    returned = [
        action.get("return_value")
        for action in rail.get("executed_actions") or []
        if isinstance(action, dict)
    ]
    verdicts = [value for value in returned if isinstance(value, dict)]
    stopped = nemo_rail_stopped(rail.get("stop"), rail.get("decisions"))
    if stopped or any(v.get("decision") == "block" for v in verdicts):
        return "block"
    if any(v.get("transforms") for v in verdicts):
        return "redact"
    return "allow"


def log_to_events(record: dict[str, Any]) -> Iterator[dict[str, Any] | LogError]:
    """Guardrail events of one generation log; a ``LogError`` per rail that has no time."""
    log = _log(record)
    for index, rail in enumerate(log["activated_rails"]):
        if not isinstance(rail, dict) or str(rail.get("type")) not in NEMO_STAGES:
            continue
        name = str(rail.get("name") or "")
        timestamp = iso_timestamp(rail.get("started_at")) or iso_timestamp(rail.get("finished_at"))
        if timestamp is None:
            yield LogError(f"rail {index} ({name!r}) has no started_at or finished_at")
            continue
        action = _action(rail)
        document: dict[str, Any] = {
            "@timestamp": timestamp,
            "event": {
                "kind": "event",
                "action": "guardrail",
                "category": ["intrusion_detection"],
                "type": ["denied"] if action == "block" else ["allowed"],
                "outcome": "success",
                "id": f"{record_id('nemo', rail)}-{index}",
                "module": NEMO_GUARDRAILS,
                "dataset": "llmsiem.telemetry",
            },
        }
        duration = rail.get("duration")
        if isinstance(duration, int | float) and duration >= 0:
            set_path(document, "event.duration", int(duration * 1e9))
        set_path(document, "llmsiem.guardrail.name", name or None)
        set_path(document, "llmsiem.guardrail.provider", NEMO_GUARDRAILS)
        set_path(document, "llmsiem.guardrail.action", action)
        set_path(document, "llmsiem.guardrail.stage", NEMO_STAGES[str(rail["type"])])
        set_path(document, "llmsiem.guardrail.categories", nemo_rail_categories(name) or None)
        yield document


class NemoGuardrailsSource:
    name = NEMO_GUARDRAILS
    description = "NeMo Guardrails generation logs (GenerationResponse.log.activated_rails)"

    def sniff(self, record: dict[str, Any]) -> bool:
        log = record.get("log", record)
        return isinstance(log, dict) and isinstance(log.get("activated_rails"), list)

    def normalize(self, record: dict[str, Any]) -> Iterator[dict[str, Any] | LogError]:
        try:
            yield from log_to_events(record)
        except LogError as exc:
            yield exc


SOURCE = NemoGuardrailsSource()
