"""Alert payloads from Kibana and Splunk webhooks, normalized to engine-style alerts."""

from __future__ import annotations

from functools import cache
from typing import Any

from llmsiem.event import flatten, set_dotted
from llmsiem.rulepack import RulePack

ENTITY_FIELDS = (
    "user.id",
    "llmsiem.api_key.id",
    "llmsiem.prompt.template.name",
    "llmsiem.prompt.template.version",
    "trace.id",
    "source.ip",
    "event.id",
)


class PayloadError(ValueError):
    """A webhook body that is not a recognised alert payload; the message says why."""


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for dotted, value in flat.items():
        set_dotted(document, dotted, value)
    return document


@cache
def _rule_index() -> dict[str, dict[str, Any]]:
    """Sigma rules by id, name and title, to recover level and tags of SIEM alerts."""
    index: dict[str, dict[str, Any]] = {}
    for _, rule in RulePack.load().parse_all():
        meta = {
            "id": str(rule.id),
            "name": rule.name,
            "title": rule.title,
            "level": rule.level.name.lower() if rule.level else "medium",
            "tags": [f"{t.namespace}.{t.name}" for t in rule.tags],
        }
        for key in (str(rule.id), rule.name, rule.title, f"llmsiem: {rule.title}"):
            if key:
                index[key] = meta
    return index


def _alert(rule_key: str, fields: dict[str, Any], source: str) -> dict[str, Any]:
    meta = _rule_index().get(rule_key)
    if meta is None:
        raise PayloadError(f"unknown rule {rule_key!r}: not an llmsiem rule")
    entities = {k: fields[k] for k in ENTITY_FIELDS if fields.get(k) not in (None, "")}
    alert = _nest(entities)
    alert.setdefault("event", {})["kind"] = "alert"
    alert["rule"] = {"id": meta["id"], "name": meta["name"]}
    alert["tags"] = meta["tags"]
    alert["llmsiem"] = {
        **alert.get("llmsiem", {}),
        "alert": {"title": meta["title"], "level": meta["level"], "source": source},
    }
    return alert


def from_kibana(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Kibana Webhook connector body for security rules: ``context.rule`` + ``context.alerts``."""
    context = body.get("context")
    if not isinstance(context, dict) or not isinstance(context.get("rule"), dict):
        raise PayloadError("Kibana payload needs context.rule and context.alerts")
    rule = context["rule"]
    alerts = context.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError("context.alerts must be a list")
    key = rule.get("rule_id") or rule.get("ruleId") or rule.get("name", "")
    return [_alert(str(key), flatten(a) if isinstance(a, dict) else {}, "kibana") for a in alerts]


def from_splunk(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Splunk webhook alert action body: ``sid, search_name, app, owner, results_link, result``."""
    if "search_name" not in body or not isinstance(body.get("result"), dict):
        raise PayloadError("Splunk payload needs search_name and result")
    return [_alert(str(body["search_name"]), dict(body["result"]), "splunk")]


def from_engine(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The engine's own alert document, or ``{"alerts": [...]}``; ``respond.alert`` checks each."""
    alerts = body.get("alerts", [body])
    if not isinstance(alerts, list):
        raise PayloadError("alerts must be a list of alert documents")
    return alerts
