"""Engine alerts as ECS-style documents that playbooks and SIEMs can consume."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from llmsiem.engine.rules import RuleMeta
from llmsiem.event import set_dotted
from llmsiem.levels import RISK_SCORE

# Entity fields copied from matched events into the alert (ECS / OTel / llmsiem names).
ENTITY_FIELDS = (
    "user.id",
    "llmsiem.end_user.id",
    "llmsiem.api_key.id",
    "llmsiem.api_key.alias",
    "llmsiem.prompt.template.name",
    "llmsiem.prompt.template.version",
    "trace.id",
    "source.ip",
    "gen_ai.conversation.id",
    "gen_ai.request.model",
    "service.name",
)


@dataclass(frozen=True)
class EvidenceEvent:
    """The parts of a matched event an alert cites."""

    seq: int
    event_id: str
    timestamp: str
    entities: dict[str, Any]


def alert_id(rule_id: str, group: dict[str, Any], first_event: str) -> str:
    """Deterministic id: the same rule, group and first event always give the same alert."""
    key = "|".join([rule_id, repr(sorted(group.items())), first_event])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def build_alert(
    meta: RuleMeta,
    kind: str,
    evidence: list[EvidenceEvent],
    group: dict[str, Any] | None = None,
    correlation_type: str | None = None,
    metric: float | None = None,
    window: tuple[float, float] | None = None,
    matches: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """One alert document (``event.kind: alert``); ``matches`` are the evidence excerpts."""
    group = group or {}
    identifier = alert_id(meta.id, group, evidence[0].event_id)
    document: dict[str, Any] = {
        "@timestamp": evidence[-1].timestamp,
        "event": {
            "kind": "alert",
            "id": identifier,
            "category": ["intrusion_detection"],
            "type": ["indicator"],
            "dataset": "llmsiem.alerts",
            "severity": RISK_SCORE[meta.level],
            "created": datetime.now(UTC).isoformat(timespec="milliseconds"),
        },
        "rule": {
            "id": meta.id,
            "name": meta.name,
            "description": meta.description,
            "ruleset": "llmsiem",
            "reference": meta.path,
        },
        "tags": list(meta.tags),
        "llmsiem": {
            "alert": {
                "title": meta.title,
                "level": meta.level,
                "kind": kind,
                "event_ids": [e.event_id for e in evidence],
                "event_count": len(evidence),
            }
        },
    }
    alert = document["llmsiem"]["alert"]
    if matches:
        alert["evidence"] = matches
    if correlation_type:
        alert["correlation"] = {
            "type": correlation_type,
            "group_by": group,
            "metric": metric,
            "window": {
                "start": datetime.fromtimestamp(window[0], UTC).isoformat() if window else None,
                "end": datetime.fromtimestamp(window[1], UTC).isoformat() if window else None,
            },
        }
    if len(evidence) == 1:  # most alerts: one event, no merging of values
        for field, value in evidence[0].entities.items():
            if value is not None:
                set_dotted(document, field, value)
        return document
    for field in ENTITY_FIELDS:
        values = {e.entities.get(field) for e in evidence} - {None}
        if len(values) == 1:
            set_dotted(document, field, values.pop())
        elif values:
            set_dotted(document, field, sorted(values))
    return document
