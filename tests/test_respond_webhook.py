"""The webhook receiver: authentication, replays, limits, validation, isolation, logs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from llmsiem.respond.config import RunnerConfig
from llmsiem.respond.playbook import load_playbooks
from llmsiem.respond.runner import Runner
from llmsiem.respond.server import create_app, sign
from respond_helpers import AUDIT_KEY

SECRET, TOKEN = "s3cret-for-tests", "t0ken-for-tests"


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    runner = Runner(RunnerConfig(state_dir=tmp_path / "state"), load_playbooks(), "hook", AUDIT_KEY)
    return TestClient(create_app(runner, SECRET, TOKEN))


def _kibana_body() -> dict[str, Any]:
    return {
        "context": {
            "rule": {"rule_id": "ef6ee2ae-009e-5e6f-b82d-8634f454e441", "name": "llmsiem: x"},
            "alerts": [{"user": {"id": "u-13"}, "event": {"id": "e-9"}, "kibana.alert.uuid": "k1"}],
        }
    }


def test_unauthenticated_requests_get_401_and_change_nothing(
    client: TestClient, tmp_path: Path
) -> None:
    body = json.dumps(_kibana_body()).encode()
    assert client.post("/hooks/kibana", content=body).status_code == 401
    bearer = {"Authorization": "Bearer nope"}
    assert client.post("/hooks/kibana", content=body, headers=bearer).status_code == 401
    stale = {"X-Llmsiem-Signature": sign(SECRET, body, int(time.time()) - 3600)}
    assert client.post("/hooks/kibana", content=body, headers=stale).status_code == 401
    forged = {"X-Llmsiem-Signature": sign("other-secret", body)}
    assert client.post("/hooks/kibana", content=body, headers=forged).status_code == 401
    assert not (tmp_path / "state" / "audit.jsonl").exists()


def test_signed_kibana_webhook_runs_playbooks(client: TestClient) -> None:
    body = json.dumps(_kibana_body()).encode()
    response = client.post(
        "/hooks/kibana", content=body, headers={"X-Llmsiem-Signature": sign(SECRET, body)}
    )
    assert response.status_code == 200
    steps = response.json()["steps"]
    assert any(s["playbook"] == "block_user" and s["principal"] == "u-13" for s in steps)


def test_splunk_webhook_with_query_token(client: TestClient) -> None:
    body = {
        "sid": "scheduler_x",
        "search_name": "Guardrail Block Burst Per User",
        "app": "llmsiem",
        "owner": "nobody",
        "results_link": "https://splunk.test/app/search",
        "result": {"user.id": "u-13"},
    }
    response = client.post(f"/hooks/splunk?token={TOKEN}", json=body)
    assert response.status_code == 200 and response.json()["alerts"] == 1


def test_malformed_bodies_get_400_with_reason(client: TestClient) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    bad = client.post("/hooks/kibana", content=b"{not json", headers=headers)
    assert bad.status_code == 400 and "malformed" in bad.json()["error"]
    missing = client.post("/hooks/splunk", json={"sid": "x"}, headers=headers)
    assert missing.status_code == 400 and "search_name" in missing.json()["error"]
    unknown = client.post(
        "/hooks/splunk", json={"search_name": "Not Ours", "result": {}}, headers=headers
    )
    assert unknown.status_code == 400 and "unknown rule" in unknown.json()["error"]
