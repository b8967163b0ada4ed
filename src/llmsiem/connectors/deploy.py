"""Deploying compiled rules: Kibana detection rules and Splunk saved searches.

Kibana: ``GET /api/detection_engine/rules/_find`` to diff, then
``POST /api/detection_engine/rules/_import?overwrite=true`` with the NDJSON file
(multipart field ``file``, header ``kbn-xsrf``); per-rule errors come back in ``errors``.
The file's first line creates the exception list ``llmsiem-allowlist``. ``overwrite`` replaces
rules only: ``overwrite_exceptions`` stays at its documented default ``false``, so an existing
list keeps its items and Kibana reports it in ``exceptions_errors`` with status 409
("already exists ... skipped"), which is counted as kept, not as an error.
Dashboards: ``POST /api/saved_objects/_import?overwrite=true`` with the saved-objects NDJSON
of ``llmsiem.dashboards.kibana`` (data views, visualizations, the overview dashboard); each
object is created or overwritten under its fixed id, and per-object errors come back in
``errors``.
Splunk (splunk-sdk): saved searches are created or updated in the ``llmsiem`` app; each
rule's filter macro is created only when missing, so a SOC's tuning is never overwritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import requests

from llmsiem.compiler.compile import CompileResult
from llmsiem.compiler.kibana import is_rule_line


def siem_error_reason(exc: Exception) -> str:
    """The SIEM's own reason for refusing a request (its first root cause), on one line."""
    info = getattr(exc, "info", None) or getattr(exc, "body", None)
    if isinstance(info, dict):
        error = info.get("error", info)
        if isinstance(error, dict):
            cause = (error.get("root_cause") or [error])[0]
            return str(cause.get("reason") or cause.get("type") or error)[:300]
    return " ".join(str(exc).split())[:300]


@dataclass
class DeployPlan:
    """What a deployment will do (or did): rule ids or names per action."""

    create: list[str] = field(default_factory=list)
    update: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    macros_created: list[str] = field(default_factory=list)
    macros_kept: list[str] = field(default_factory=list)
    lists_created: list[str] = field(default_factory=list)
    lists_kept: list[str] = field(default_factory=list)
    saved_objects: list[str] = field(default_factory=list)
    jobs_created: list[str] = field(default_factory=list)
    jobs_kept: list[str] = field(default_factory=list)
    datafeeds_started: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return dict(self.__dict__)


class KibanaDeployer:
    """Imports Elastic Security rules through the Kibana detection-engine API."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        session: requests.Session | None = None,
        verify: bool = True,
    ) -> None:
        self.url = url.rstrip("/")
        self.session = session or requests.Session()
        self.session.headers.update({"kbn-xsrf": "llmsiem"})
        if api_key:
            self.session.headers["Authorization"] = f"ApiKey {api_key}"
        self.verify = verify

    def existing(self) -> dict[str, dict[str, Any]]:
        """Installed rules by ``rule_id`` (paged ``_find``)."""
        rules: dict[str, dict[str, Any]] = {}
        page = 1
        while True:
            response = self.session.get(
                f"{self.url}/api/detection_engine/rules/_find",
                params={
                    "page": str(page),
                    "per_page": "100",
                    "filter": "alert.attributes.tags:llmsiem",
                },
                timeout=30,
                verify=self.verify,
            )
            response.raise_for_status()
            body = response.json()
            for rule in body.get("data", []):
                rules[rule["rule_id"]] = rule
            if page * int(body.get("per_page", 100)) >= int(body.get("total", 0)):
                return rules
            page += 1

    def plan(self, rules: list[dict[str, Any]]) -> DeployPlan:
        """Diff the compiled rules against Kibana (``--dry-run``)."""
        installed = self.existing()
        plan = DeployPlan()
        for rule in filter(is_rule_line, rules):
            current = installed.get(rule["rule_id"])
            if current is None:
                plan.create.append(rule["rule_id"])
            elif current.get("query") != rule.get("query") or current.get("name") != rule["name"]:
                plan.update.append(rule["rule_id"])
            else:
                plan.unchanged.append(rule["rule_id"])
        return plan

    def deploy(self, ndjson: str) -> DeployPlan:
        """Import (overwrite) every rule; returns imported ids and per-rule errors."""
        response = self.session.post(
            f"{self.url}/api/detection_engine/rules/_import",
            params={"overwrite": "true"},
            files={"file": ("llmsiem-rules.ndjson", ndjson.encode(), "application/ndjson")},
            timeout=120,
            verify=self.verify,
        )
        response.raise_for_status()
        body = response.json()
        plan = DeployPlan()
        failed = set()
        for error in body.get("errors", []):
            rule_id = error.get("rule_id", "?")
            failed.add(rule_id)
            detail = error.get("error", {})
            plan.errors.append(f"{rule_id}: {detail.get('status_code')} {detail.get('message')}")
        kept, lists_failed = set(), set()
        for error in body.get("exceptions_errors", []):
            detail = error.get("error", {})
            if detail.get("status_code") == 409 and "list_id" in error and "item_id" not in error:
                kept.add(error["list_id"])
                continue
            lists_failed.add(error.get("list_id"))
            plan.errors.append(
                f"exception list {error.get('list_id', '?')}: "
                f"{detail.get('status_code')} {detail.get('message')}"
            )
        for document in map(json.loads, ndjson.splitlines()):
            if is_rule_line(document):
                if document["rule_id"] not in failed:
                    plan.update.append(document["rule_id"])
            elif "item_id" not in document and document["list_id"] not in lists_failed:
                lists = plan.lists_kept if document["list_id"] in kept else plan.lists_created
                lists.append(document["list_id"])
        return plan

    def import_saved_objects(self, ndjson: str, plan: DeployPlan) -> None:
        """Import (overwrite) the dashboard's saved objects; ``type/id`` of each one imported
        go to ``plan.saved_objects``, failures to ``plan.errors``."""
        response = self.session.post(
            f"{self.url}/api/saved_objects/_import",
            params={"overwrite": "true"},
            files={"file": ("llmsiem-dashboards.ndjson", ndjson.encode(), "application/ndjson")},
            timeout=120,
            verify=self.verify,
        )
        response.raise_for_status()
        body = response.json()
        for result in body.get("successResults", []):
            plan.saved_objects.append(f"{result['type']}/{result['id']}")
        for error in body.get("errors", []):
            detail = error.get("error", {})
            missing = ", ".join(
                f"{ref.get('type')}/{ref.get('id')}" for ref in detail.get("references", [])
            )
            plan.errors.append(
                f"{error.get('type')}/{error.get('id')}: {detail.get('type')}"
                + (f" ({missing})" if missing else "")
                + (f" {detail['message']}" if detail.get("message") else "")
            )


def saved_searches(result: CompileResult) -> dict[str, dict[str, str]]:
    """Saved-search name -> settings, parsed from the compiled savedsearches stanzas."""
    searches: dict[str, dict[str, str]] = {}
    for compiled in result.compiled:
        for stanza in compiled.queries:
            lines = str(stanza).strip().split("\n")
            name = lines[0].strip("[]")
            settings: dict[str, str] = {}
            key = None
            for line in lines[1:]:
                if key and settings[key].endswith("\\"):
                    settings[key] = settings[key][:-1] + "\n" + line
                    continue
                key, _, value = line.partition(" = ")
                settings[key] = value
            searches[name] = {k: v.rstrip("\\").rstrip() for k, v in settings.items()}
    return searches


class SplunkDeployer:
    """Creates or updates saved searches and missing filter macros with splunk-sdk."""

    def __init__(self, service: Any) -> None:
        self.service = service

    def plan(self, searches: dict[str, dict[str, str]], macros: dict[str, str]) -> DeployPlan:
        plan = DeployPlan()
        existing = {s.name: s for s in self.service.saved_searches}
        for name, settings in searches.items():
            current = existing.get(name)
            if current is None:
                plan.create.append(name)
            elif current.content.get("search", "").strip() != settings["search"].strip():
                plan.update.append(name)
            else:
                plan.unchanged.append(name)
        stanzas = {s.name for s in self.service.confs["macros"]}
        for macro in macros:
            (plan.macros_kept if macro in stanzas else plan.macros_created).append(macro)
        return plan

    def deploy(self, searches: dict[str, dict[str, str]], macros: dict[str, str]) -> DeployPlan:
        plan = self.plan(searches, macros)
        collection = self.service.saved_searches
        for name, settings in searches.items():
            search = settings["search"]
            options = {k: v for k, v in settings.items() if k != "search"}
            if name in plan.create:
                collection.create(name, search, **options)
            elif name in plan.update:
                collection[name].update(search=search, **options)
        conf = self.service.confs["macros"]
        for macro in plan.macros_created:
            conf.create(macro, definition=macros[macro], iseval="0")
        return plan
