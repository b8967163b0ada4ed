"""``deploy elastic --anomaly-jobs``: the baseline rules' ML jobs created, opened and started
with the official client (hand-written cassettes following the ML API reference); an
existing job kept, a running datafeed left running, a Basic licence reported per job."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from llmsiem.compiler.compile import compile_pack
from llmsiem.connectors.anomaly_jobs import AnomalyJobDeployer
from llmsiem.connectors.deploy import DeployPlan

CASSETTES = Path(__file__).parent / "cassettes"
ES_URL = os.environ.get("LLMSIEM_TEST_ES_URL", "http://es.test:9200")
AGENT = "llmsiem-agent-tool-call-rate-baseline"
TOKENS = "llmsiem-correlation-token-baseline-per-api-key"


def _deployer() -> AnomalyJobDeployer:
    key = os.environ.get("LLMSIEM_TEST_ES_API_KEY", "unused")
    return AnomalyJobDeployer(Elasticsearch(ES_URL, api_key=key))


@pytest.fixture(scope="module")
def jobs() -> list[dict[str, Any]]:
    compiled = compile_pack("kibana-ndjson").anomaly_jobs
    assert [j["job_id"] for j in compiled] == [AGENT, TOKENS]
    return compiled


@pytest.mark.vcr(str(CASSETTES / "es_anomaly_jobs_deploy.handwritten.yaml"))
def test_missing_job_is_created_existing_kept_and_both_run(
    jobs: list[dict[str, Any]], sent: list[tuple[str, str, Any]]
) -> None:
    plan = DeployPlan()
    _deployer().deploy(jobs, plan)
    assert plan.errors == []
    assert (plan.jobs_created, plan.jobs_kept) == ([AGENT], [TOKENS])
    assert plan.datafeeds_started == [f"datafeed-{AGENT}", f"datafeed-{TOKENS}"]
    bodies = {(method, target): body for method, target, body in sent}
    compiled = jobs[0]["job"]
    # The job goes without its datafeed, which follows as its own resource on the job.
    assert bodies["PUT", f"/_ml/anomaly_detectors/{AGENT}"] == {
        k: v for k, v in compiled.items() if k != "datafeed_config"
    }
    feed = bodies["PUT", f"/_ml/datafeeds/datafeed-{AGENT}"]
    assert feed == {**compiled["datafeed_config"], "job_id": AGENT}
    assert ("PUT", f"/_ml/anomaly_detectors/{TOKENS}") not in bodies  # never changed


@pytest.mark.vcr(str(CASSETTES / "es_anomaly_jobs_deploy.handwritten.yaml"))
def test_dry_run_only_looks(jobs: list[dict[str, Any]], sent: list[tuple[str, str, Any]]) -> None:
    plan = DeployPlan()
    _deployer().plan(jobs, plan)
    assert (plan.jobs_created, plan.jobs_kept) == ([AGENT], [TOKENS])
    assert {method for method, _, _ in sent} == {"GET"}


@pytest.mark.vcr(str(CASSETTES / "es_anomaly_jobs_basic_licence.handwritten.yaml"))
def test_a_basic_licence_is_reported_per_job(jobs: list[dict[str, Any]]) -> None:
    plan = DeployPlan()
    _deployer().deploy(jobs, plan)
    assert plan.jobs_created == [] and plan.datafeeds_started == []
    assert plan.errors == [
        f"anomaly job {job}: 403 current license is non-compliant for [ml]"
        for job in (AGENT, TOKENS)
    ]
