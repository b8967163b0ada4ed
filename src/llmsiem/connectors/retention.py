"""Retention in Elasticsearch: an ILM policy on the events, and evidence kept past it.

``llmsiem-logs`` (ILM): the write index rolls over daily (or at 50 GB per primary shard) and
each backing index is deleted ``days`` after its rollover, so an event lives between ``days``
and ``days + 1`` days. ``PUT _index_template/logs-llm`` names the policy for new backing
indices, and ``PUT logs-llm-*/_settings`` attaches it to the ones that already exist.

Events an alert cites (an engine alert's ``llmsiem.alert.event_ids``, an Elastic Security
alert's ``kibana.alert.ancestors``) are copied by ``_reindex`` (``op_type: create``, ``_id``
kept, so a second copy is a harmless version conflict) into the ``llmsiem-incidents`` data
stream, whose policy ``llmsiem-incidents`` rolls over monthly and has no delete phase.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import scan

from llmsiem.connectors.elastic import TEMPLATE_NAME, index_template

EVENTS_POLICY = "llmsiem-logs"
EVENTS_PATTERN = "logs-llm-*"
INCIDENTS_POLICY = "llmsiem-incidents"
INCIDENTS_STREAM = "llmsiem-incidents"
INCIDENTS_TEMPLATE = "llmsiem-incidents"
DEFAULT_RETENTION_DAYS = 30
REINDEX_BATCH = 1000  # event ids per _reindex request (terms query)
KIBANA_ALERTS = ".alerts-security.alerts-default"  # Elastic Security alerts, default space
KIBANA_ALERTS_PAGE = 1_000
META = {"managed_by": "llmsiem"}


def events_policy(days: int) -> dict[str, Any]:
    """Hot (daily rollover), then delete ``days`` after rollover."""
    if days < 1:
        raise ValueError("retention must be at least one day")
    return {
        "_meta": {**META, "description": f"llmsiem events: delete {days} days after rollover"},
        "phases": {
            "hot": {
                "min_age": "0ms",
                "actions": {
                    "rollover": {"max_age": "1d", "max_primary_shard_size": "50gb"},
                    "set_priority": {"priority": 100},
                },
            },
            "delete": {"min_age": f"{days}d", "actions": {"delete": {}}},
        },
    }


def incidents_policy() -> dict[str, Any]:
    """Hot only (monthly rollover), no delete phase: evidence stays until a person removes it."""
    return {
        "_meta": {**META, "description": "llmsiem incident evidence: never deleted by ILM"},
        "phases": {
            "hot": {
                "min_age": "0ms",
                "actions": {"rollover": {"max_age": "30d", "max_primary_shard_size": "50gb"}},
            }
        },
    }


def _with_policy(template: dict[str, Any], policy: str, patterns: list[str]) -> dict[str, Any]:
    body = copy.deepcopy(template)
    body["index_patterns"] = patterns
    body["template"]["settings"]["index"]["lifecycle"] = {"name": policy}
    return body


def events_template() -> dict[str, Any]:
    """The ``logs-llm`` index template, naming the events policy."""
    return _with_policy(index_template(), EVENTS_POLICY, [EVENTS_PATTERN])


def incidents_template() -> dict[str, Any]:
    """The same mappings for the ``llmsiem-incidents`` data stream, naming its own policy."""
    body = _with_policy(index_template(), INCIDENTS_POLICY, [f"{INCIDENTS_STREAM}*"])
    body["_meta"] = {**META, "description": "llmsiem incident evidence (copied events)"}
    return body


def retention_bodies(days: int) -> dict[str, dict[str, Any]]:
    """Every body ``install_retention`` sends, by policy or template name (for ``--print``)."""
    return {
        f"_ilm/policy/{EVENTS_POLICY}": {"policy": events_policy(days)},
        f"_ilm/policy/{INCIDENTS_POLICY}": {"policy": incidents_policy()},
        f"_index_template/{TEMPLATE_NAME}": events_template(),
        f"_index_template/{INCIDENTS_TEMPLATE}": incidents_template(),
    }


def _put_template(client: Elasticsearch, name: str, body: dict[str, Any]) -> None:
    client.indices.put_index_template(
        name=name,
        index_patterns=body["index_patterns"],
        data_stream=body["data_stream"],
        priority=body["priority"],
        template=body["template"],
        meta=body["_meta"],
    )


def install_retention(client: Elasticsearch, days: int = DEFAULT_RETENTION_DAYS) -> list[str]:
    """Install both policies and both templates, then attach the events policy to existing
    backing indices. Returns what was installed, in order."""
    client.ilm.put_lifecycle(name=EVENTS_POLICY, policy=events_policy(days))
    client.ilm.put_lifecycle(name=INCIDENTS_POLICY, policy=incidents_policy())
    _put_template(client, TEMPLATE_NAME, events_template())
    _put_template(client, INCIDENTS_TEMPLATE, incidents_template())
    client.indices.put_settings(
        index=EVENTS_PATTERN,
        settings={"index": {"lifecycle": {"name": EVENTS_POLICY}}},
        allow_no_indices=True,
        expand_wildcards="all",
    )
    return [
        f"ILM policy {EVENTS_POLICY} (delete after {days} days)",
        f"ILM policy {INCIDENTS_POLICY} (no delete phase)",
        f"index template {TEMPLATE_NAME} -> {EVENTS_POLICY}",
        f"index template {INCIDENTS_TEMPLATE} -> {INCIDENTS_POLICY}",
        f"{EVENTS_PATTERN} backing indices -> {EVENTS_POLICY}",
    ]


@dataclass
class KeptEvidence:
    """What one ``keep_evidence`` run copied."""

    cited: int = 0  # distinct events the alerts cite
    found: int = 0  # of those, events still in logs-llm-*
    copied: int = 0  # newly copied into the incident stream
    already_kept: int = 0  # copied by an earlier run (version conflicts)
    failures: list[str] = field(default_factory=list)

    @property
    def missing(self) -> int:
        """Cited events no longer (or never) in Elasticsearch."""
        return self.cited - self.found


@dataclass
class CitedEvidence:
    """The events alerts cite: by ``event.id`` (engine alerts) or by ``_id`` in the events
    data stream (Elastic Security alerts' ancestors)."""

    event_ids: set[str] = field(default_factory=set)
    document_ids: set[str] = field(default_factory=set)


def _ancestors(alert: dict[str, Any]) -> list[dict[str, Any]]:
    """``kibana.alert.ancestors``: dotted keys in alert documents, nested in exports."""
    flat = alert.get("kibana.alert.ancestors")
    if flat is None:
        flat = alert.get("kibana", {}).get("alert", {}).get("ancestors", [])
    return list(flat)


def cited_evidence(alerts: Iterable[dict[str, Any]]) -> CitedEvidence:
    """What engine alerts (``llmsiem.alert.event_ids``) and Elastic Security alerts (ancestors
    of type ``event`` in a ``logs-llm-*`` backing index) cite as evidence."""
    cited = CitedEvidence()
    for alert in alerts:
        cited.event_ids.update(alert.get("llmsiem", {}).get("alert", {}).get("event_ids", []))
        for ancestor in _ancestors(alert):
            index = str(ancestor.get("index", "")).removeprefix(".ds-")
            if ancestor.get("type") == "event" and fnmatchcase(index, EVENTS_PATTERN):
                cited.document_ids.add(str(ancestor["id"]))
    return cited


def evidence_reindex_body(field_name: str, values: list[str]) -> dict[str, Any]:
    """One ``_reindex`` body: the events whose ``field_name`` (``event.id`` or ``_id``) is one
    of ``values``, created in the incident stream."""
    query = {"ids": {"values": values}} if field_name == "_id" else {"terms": {field_name: values}}
    return {
        "conflicts": "proceed",
        "source": {"index": EVENTS_PATTERN, "query": query},
        "dest": {"index": INCIDENTS_STREAM, "op_type": "create"},
    }


def kibana_alerts(client: Elasticsearch, since: str) -> Iterator[dict[str, Any]]:
    """Elastic Security alerts of llmsiem's rules from the last ``since`` (e.g. ``24h``), with
    their ancestors: every page, scrolled by the client's ``helpers.scan``. A bad duration
    raises ValueError before any request."""
    if not re.fullmatch(r"\d+[smhd]", since):
        raise ValueError(f"--kibana-since {since!r}: use a duration such as 30m, 24h or 7d")
    query = {
        "query": {
            "bool": {
                "filter": [
                    {"term": {"kibana.alert.rule.tags": "llmsiem"}},
                    {"range": {"@timestamp": {"gte": f"now-{since}"}}},
                ]
            }
        }
    }
    hits = scan(
        client,
        query=query,
        index=KIBANA_ALERTS,
        source_includes=["kibana.alert.ancestors"],
        size=KIBANA_ALERTS_PAGE,
    )
    return (hit["_source"] for hit in hits)


def keep_evidence(client: Elasticsearch, alerts: Iterable[dict[str, Any]]) -> KeptEvidence:
    """Copy every event the alerts cite into the incident stream (idempotent)."""
    cited = cited_evidence(alerts)
    kept = KeptEvidence(cited=len(cited.event_ids) + len(cited.document_ids))
    for field_name, values in (("event.id", cited.event_ids), ("_id", cited.document_ids)):
        ordered = sorted(values)
        for start in range(0, len(ordered), REINDEX_BATCH):
            body = evidence_reindex_body(field_name, ordered[start : start + REINDEX_BATCH])
            response = client.reindex(**body, refresh=True, wait_for_completion=True)
            kept.found += int(response.get("total", 0))
            kept.copied += int(response.get("created", 0))
            kept.already_kept += int(response.get("version_conflicts", 0))
            for failure in response.get("failures", []):
                cause = failure.get("cause", {})
                kept.failures.append(
                    f"{failure.get('id', '?')}: {cause.get('type', '?')} {cause.get('reason', '')}"
                )
    return kept
