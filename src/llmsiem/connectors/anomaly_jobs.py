"""Deploying the baseline rules' Elastic ML anomaly-detection jobs (``compile --target
kibana-ndjson`` builds them, ``llmsiem.compiler.baselines.anomaly_job``).

Per job, with the official client: ``GET _ml/anomaly_detectors/<id>``; a missing job is
created with ``PUT _ml/anomaly_detectors/<id>`` (the job without its ``datafeed_config``) and
its datafeed with ``PUT _ml/datafeeds/datafeed-<id>`` (that config and the ``job_id``); then
``POST .../_open`` and ``POST _ml/datafeeds/datafeed-<id>/_start``, where a job already
open or a datafeed already started (409) is left as it runs. An existing job is never
changed (most job settings cannot be); delete it to take a new definition. ML needs a
Platinum or trial licence: Elasticsearch's refusal is reported per job.
"""

from __future__ import annotations

import contextlib
from typing import Any

from elasticsearch import ApiError, ConflictError, Elasticsearch, NotFoundError

from llmsiem.connectors.deploy import DeployPlan, siem_error_reason


def datafeed_id(job_id: str) -> str:
    return f"datafeed-{job_id}"


class AnomalyJobDeployer:
    """Creates, opens and starts the anomaly-detection jobs of the baseline rules."""

    def __init__(self, client: Elasticsearch) -> None:
        self.client = client

    def exists(self, job_id: str) -> bool:
        try:
            self.client.ml.get_jobs(job_id=job_id)
        except NotFoundError:
            return False
        return True

    def plan(self, jobs: list[dict[str, Any]], plan: DeployPlan) -> None:
        """Which jobs a deployment would create and which it keeps (``--dry-run``)."""
        for entry in jobs:
            job_id = entry["job_id"]
            (plan.jobs_kept if self.exists(job_id) else plan.jobs_created).append(job_id)

    def deploy(self, jobs: list[dict[str, Any]], plan: DeployPlan) -> None:
        """Create what is missing, then open every job and start its datafeed."""
        for entry in jobs:
            job_id = entry["job_id"]
            try:
                if self.exists(job_id):
                    plan.jobs_kept.append(job_id)
                else:
                    self._create(job_id, entry["job"])
                    plan.jobs_created.append(job_id)
                self._run(job_id)
                plan.datafeeds_started.append(datafeed_id(job_id))
            except ApiError as exc:
                plan.errors.append(
                    f"anomaly job {job_id}: {exc.meta.status} {siem_error_reason(exc)}"
                )

    def _create(self, job_id: str, body: dict[str, Any]) -> None:
        job = {key: value for key, value in body.items() if key != "datafeed_config"}
        self.client.ml.put_job(job_id=job_id, **job)
        feed = body["datafeed_config"]
        self.client.ml.put_datafeed(datafeed_id=datafeed_id(job_id), job_id=job_id, **feed)

    def _run(self, job_id: str) -> None:
        with contextlib.suppress(ConflictError):  # already open
            self.client.ml.open_job(job_id=job_id)
        with contextlib.suppress(ConflictError):  # already started
            self.client.ml.start_datafeed(datafeed_id=datafeed_id(job_id))
