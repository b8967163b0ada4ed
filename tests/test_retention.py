"""Retention: the ILM policies, templates and settings ``setup elastic`` sends, and the evidence
copy of ``keep-evidence``, replayed from hand-written recordings and judged by what the sent
requests do: an ILM timeline simulated from Elastic's documented phase rules, the template
Elasticsearch would pick for each data stream, and the reindex query run on the events."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from llmsiem.connectors.elastic import DEFAULT_DATA_STREAM, document_id
from llmsiem.connectors.retention import (
    INCIDENTS_STREAM,
    events_policy,
    install_retention,
    keep_evidence,
    kibana_alerts,
)
from llmsiem.resources import content_dir, demo_telemetry

CASSETTES = Path(__file__).parent / "cassettes"
ES_URL = os.environ.get("LLMSIEM_TEST_ES_URL", "http://es.test:9200")
# Elasticsearch's built-in template for logs-*-* data streams (priority 100).
BUILTIN_TEMPLATES = [{"name": "logs", "index_patterns": ["logs-*-*"], "priority": 100}]
# ILM phases in order and the actions each phase accepts (Elastic's ILM actions reference).
PHASE_ACTIONS = {
    "hot": {"rollover", "set_priority", "unfollow", "readonly", "shrink", "forcemerge",
            "searchable_snapshot", "downsample"},
    "warm": {"set_priority", "unfollow", "readonly", "allocate", "migrate", "shrink",
             "forcemerge", "downsample"},
    "cold": {"set_priority", "unfollow", "readonly", "allocate", "migrate",
             "searchable_snapshot", "downsample"},
    "frozen": {"unfollow", "searchable_snapshot"},
    "delete": {"wait_for_snapshot", "delete"},
}  # fmt: skip
UNITS = {"ms": 1 / 3_600_000, "s": 1 / 3600, "m": 1 / 60, "h": 1, "d": 24}


def _hours(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m|h|d)", duration)
    assert match, f"not an Elasticsearch time unit: {duration}"
    return int(match.group(1)) * UNITS[match.group(2)]


def _client() -> Elasticsearch:
    return Elasticsearch(ES_URL, api_key=os.environ.get("LLMSIEM_TEST_ES_API_KEY", "unused"))


def _check_policy(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The policy obeys ILM's rules: known phases, their own actions, min_age never falling."""
    phases = policy["phases"]
    assert list(phases) == [p for p in PHASE_ACTIONS if p in phases]
    ages = [_hours(phases[p].get("min_age", "0ms")) for p in phases]
    assert ages == sorted(ages)
    for name, phase in phases.items():
        assert set(phase["actions"]) <= PHASE_ACTIONS[name], name
    return dict(phases)


def _lifetimes(policy: dict[str, Any], horizon_days: int = 200) -> list[float]:
    """Hours each event lives under the policy, events arriving every hour: the write index
    rolls over at rollover.max_age; a rolled-over index's phase ages count from its rollover
    (as ILM documents); the delete phase deletes the whole index. inf: never deleted."""
    phases = _check_policy(policy)
    rollover = _hours(phases["hot"]["actions"]["rollover"]["max_age"])
    delete = phases.get("delete")
    lifetimes = []
    for arrival in range(horizon_days * 24):
        rolled_at = (arrival // rollover + 1) * rollover
        deleted_at = rolled_at + _hours(delete["min_age"]) if delete else float("inf")
        lifetimes.append(deleted_at - arrival)
    return lifetimes


@pytest.mark.parametrize("days", [30, 90])
def test_events_live_between_days_and_a_day_more(days: int) -> None:
    lifetimes = _lifetimes(events_policy(days))
    assert min(lifetimes) >= days * 24 and max(lifetimes) <= (days + 1) * 24


def _template_for(stream: str, templates: list[dict[str, Any]]) -> dict[str, Any]:
    """The template Elasticsearch applies: the highest priority one whose pattern matches."""
    matching = [t for t in templates if any(fnmatchcase(stream, p) for p in t["index_patterns"])]
    return max(matching, key=lambda t: t["priority"])


@pytest.mark.vcr(str(CASSETTES / "es_retention_setup.handwritten.yaml"))
def test_setup_installs_policies_that_templates_and_backing_indices_use(
    sent: list[tuple[str, str, Any]],
) -> None:
    install_retention(_client(), 30)
    policies = {
        target.split("?")[0].removeprefix("/_ilm/policy/"): body["policy"]
        for method, target, body in sent
        if method == "PUT" and target.startswith("/_ilm/policy/")
    }
    templates = [
        {"name": target.removeprefix("/_index_template/"), **body}
        for method, target, body in sent
        if method == "PUT" and target.startswith("/_index_template/")
    ]
    (settings,) = [(t, b) for m, t, b in sent if m == "PUT" and "/_settings" in t]
    assert len(sent) == 5 and len(policies) == 2 and len(templates) == 2
    # Events: the sink's data stream gets our template (not the built-in logs one), whose
    # policy deletes them 30 to 31 days after they arrive.
    events = _template_for(DEFAULT_DATA_STREAM, templates + BUILTIN_TEMPLATES)
    assert events["name"] == "logs-llm" and "data_stream" in events
    events_policy_name = events["template"]["settings"]["index"]["lifecycle"]["name"]
    lifetimes = _lifetimes(policies[events_policy_name])
    assert min(lifetimes) >= 30 * 24 and max(lifetimes) <= 31 * 24
    # Existing backing indices of the same data stream get the same policy.
    target, body = settings
    pattern = target.split("/")[1].split("?")[0]
    assert fnmatchcase(DEFAULT_DATA_STREAM, pattern)
    assert body == {"index": {"lifecycle": {"name": events_policy_name}}}
    # Incidents: their own template, mappings like the events', a policy that never deletes.
    incidents = _template_for(INCIDENTS_STREAM, templates + BUILTIN_TEMPLATES)
    assert incidents["name"] == "llmsiem-incidents" and "data_stream" in incidents
    assert incidents["template"]["mappings"] == events["template"]["mappings"]
    incident_policy = incidents["template"]["settings"]["index"]["lifecycle"]["name"]
    assert set(_lifetimes(policies[incident_policy])) == {float("inf")}
    assert not fnmatchcase(INCIDENTS_STREAM, "logs-llm-*")


REFUSALS = 16  # what the recorded reindex answers count


@pytest.fixture(scope="module")
def telemetry() -> list[dict[str, Any]]:
    """The demo telemetry's first 16 refusals among its first 200 other events."""
    documents = [json.loads(line) for line in demo_telemetry().read_text().splitlines()]
    refusals = [d for d in documents if d["event"]["action"] == "refusal"][:REFUSALS]
    others = [d for d in documents if d["event"]["action"] != "refusal"][:200]
    assert len(refusals) == REFUSALS, "the demo telemetry needs 16 refusals"
    return sorted(refusals + others, key=lambda d: str(d["@timestamp"]))


@pytest.fixture(scope="module")
def refusal_alerts(
    telemetry: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    """The engine's alerts of the model-refusal rule on that telemetry."""
    folder = tmp_path_factory.mktemp("alerts")
    events, out = folder / "events.jsonl", folder / "alerts.jsonl"
    events.write_text("".join(json.dumps(d) + "\n" for d in telemetry))
    rule = content_dir("rules") / "guardrail" / "model_refusal.yml"
    command = [sys.executable, "-m", "llmsiem", "detect", str(events)]
    run = subprocess.run(
        [*command, "--rules", str(rule), "--alerts", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1, run.stderr
    return [json.loads(line) for line in out.read_text().splitlines()]


def _terms_query(query: dict[str, Any], document: dict[str, Any]) -> bool:
    """Elasticsearch's ``terms`` query on a keyword field: any listed value equals the field."""
    ((field, values),) = query["terms"].items()
    value: Any = document
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value in values


@pytest.mark.vcr(str(CASSETTES / "es_keep_evidence.handwritten.yaml"))
def test_alert_evidence_is_copied_once_to_the_incident_stream(
    telemetry: list[dict[str, Any]],
    refusal_alerts: list[dict[str, Any]],
    sent: list[tuple[str, str, Any]],
) -> None:
    first = keep_evidence(_client(), refusal_alerts)
    second = keep_evidence(_client(), refusal_alerts)
    assert (first.cited, first.copied, first.already_kept, first.missing) == (16, 16, 0, 0)
    assert (second.copied, second.already_kept, second.failures) == (0, 16, [])
    (method, target, body), _ = sent
    assert method == "POST" and target.startswith("/_reindex")
    # What the request copies: run its query over the telemetry as indexed.
    documents = telemetry
    copied = {d["event"]["id"] for d in documents if _terms_query(body["source"]["query"], d)}
    cited = {i for alert in refusal_alerts for i in alert["llmsiem"]["alert"]["event_ids"]}
    assert copied == cited and len(cited) == 16
    assert all(d["event"]["action"] == "refusal" for d in documents if d["event"]["id"] in copied)
    assert fnmatchcase(DEFAULT_DATA_STREAM, body["source"]["index"])
    # Into the never-deleted stream, creating only (kept _ids make a re-run a no-op).
    assert body["dest"] == {"index": INCIDENTS_STREAM, "op_type": "create"}
    assert body["conflicts"] == "proceed" and "script" not in body


def _ids_query(query: dict[str, Any], document_id_: str) -> bool:
    """Elasticsearch's ``ids`` query: the document's ``_id`` is one of the values."""
    return document_id_ in query["ids"]["values"]


@pytest.mark.vcr(str(CASSETTES / "es_keep_kibana_evidence.handwritten.yaml"))
def test_elastic_security_alerts_evidence_is_copied(sent: list[tuple[str, str, Any]]) -> None:
    """Alerts of the deployed Kibana rules cite their events as ancestors (``_id`` in a
    ``logs-llm-*`` backing index); building-block ancestors and other data streams are not
    copied."""
    client = _client()
    kept = keep_evidence(client, kibana_alerts(client, "24h"))
    assert (kept.cited, kept.copied, kept.missing, kept.failures) == (3, 3, 0, [])
    (_, search_target, search), *scrolls, (_, _, reindex) = sent
    assert search_target.startswith("/.alerts-security.alerts-default/_search")
    # Every page is read (two scroll requests after the first page), then the scroll freed.
    assert [(method, target) for method, target, _ in scrolls] == [
        ("POST", "/_search/scroll"),
        ("POST", "/_search/scroll"),
        ("DELETE", "/_search/scroll"),
    ]
    assert all(body["scroll_id"].startswith("FGluY2x1") for _, _, body in scrolls)
    filters = search["query"]["bool"]["filter"]
    assert {"term": {"kibana.alert.rule.tags": "llmsiem"}} in filters
    assert {"range": {"@timestamp": {"gte": "now-24h"}}} in filters
    documents = [{"event": {"id": f"evt-7-{n:08d}"}} for n in range(1, 200)]
    copied = {
        d["event"]["id"]
        for d in documents
        if _ids_query(reindex["source"]["query"], document_id(d))  # the sink's _id
    }
    assert copied == {"evt-7-00000058", "evt-7-00000078", "evt-7-00000006"}
    assert reindex["dest"] == {"index": INCIDENTS_STREAM, "op_type": "create"}
    with pytest.raises(ValueError, match="duration"):
        kibana_alerts(client, "yesterday")  # refused before any request
    assert len(sent) == 5


def test_keep_evidence_names_the_bad_line_and_exits_2(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_text('{"llmsiem": {"alert": {"event_ids": ["e1"]}}}\n{not json\n')
    run = subprocess.run(
        [sys.executable, "-m", "llmsiem", "keep-evidence", str(alerts), "--url", ES_URL],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    message = " ".join(run.stderr.split())  # the console wraps long lines
    assert run.returncode == 2 and f"{alerts}:2: not JSON" in message
    assert "Traceback" not in run.stderr


def test_setup_print_shows_every_body_and_changes_nothing() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "llmsiem", "setup", "elastic", "--print", "--retention-days", "90"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    bodies = json.loads(run.stdout)
    assert set(bodies) == {
        "_ilm/policy/llmsiem-logs",
        "_ilm/policy/llmsiem-incidents",
        "_index_template/logs-llm",
        "_index_template/llmsiem-incidents",
    }
    lifetimes = _lifetimes(bodies["_ilm/policy/llmsiem-logs"]["policy"])
    assert min(lifetimes) >= 90 * 24 and max(lifetimes) <= 91 * 24


def test_setup_against_an_unreachable_elasticsearch_exits_2_without_traceback() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "llmsiem", "setup", "elastic", "--url", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "LLMSIEM_ES_API_KEY": "not-logged"},
    )
    assert run.returncode == 2 and "error: elasticsearch:" in run.stderr
    assert "Traceback" not in run.stderr and "not-logged" not in run.stderr + run.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "give alert files, --kibana-since, or both"),
        (["--kibana-since", "yesterday"], "use a duration such as 30m, 24h or 7d"),
    ],
)
def test_keep_evidence_usage_errors_exit_2(arguments: list[str], message: str) -> None:
    from click.testing import CliRunner

    from llmsiem.cli.main import cli

    result = CliRunner().invoke(cli, ["keep-evidence", "--url", ES_URL, *arguments])
    assert result.exit_code == 2 and message in " ".join(result.output.split())
