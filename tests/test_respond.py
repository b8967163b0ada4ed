"""The response runner's safety rules, the audit chain, undo, and the webhook receiver."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest
from starlette.testclient import TestClient

from llmsiem.respond.action import Action, Outcome, Plan
from llmsiem.respond.audit import AuditLog
from llmsiem.respond.playbook import Playbook, Trigger, load_playbooks
from llmsiem.respond.runner import Runner, RunnerConfig
from llmsiem.respond.server import create_app, sign
from llmsiem.respond.targets.local import BlockUserLocally, EnforcementList, RevokeKeyLocally


def _alert(
    rule: str = "correlation_guardrail_block_burst",
    user: str = "u-7",
    key: str = "key-7",
    level: str = "high",
    alert_id: str = "a-1",
) -> dict[str, Any]:
    return {
        "event": {"kind": "alert", "id": alert_id},
        "rule": {"id": f"id-{rule}", "name": rule},
        "tags": ["owasp.llm01"],
        "user": {"id": user},
        "llmsiem": {"api_key": {"id": key}, "alert": {"level": level, "title": rule}},
    }


class FlakyAction(Action):
    """Fails a set number of times, then succeeds; counts executions."""

    name = "flaky"
    impact = "low"
    failures = 0
    executions = 0
    state: ClassVar[dict[str, bool]] = {}

    def principal(self, inputs: dict[str, str]) -> str:
        return inputs["user"]

    def plan(self, inputs: dict[str, str]) -> Plan:
        done = type(self).state.get(inputs["user"], False)
        return Plan(self.name, inputs["user"], {"done": done}, {"done": True}, self.impact)

    def execute(self, inputs: dict[str, str], idempotency_key: str) -> Outcome:
        type(self).executions += 1
        if type(self).failures > 0:
            type(self).failures -= 1
            raise ConnectionError("target down")
        type(self).state[inputs["user"]] = True
        return Outcome({"ok": True}, {"user": inputs["user"]})

    def undo(self, handle: dict[str, Any]) -> Any:
        type(self).state[handle["user"]] = False
        return {"undone": handle["user"]}


class Irreversible(FlakyAction):
    name = "irreversible"
    impact = "irreversible"
    reversible = False


def _runner(tmp_path: Path, steps: tuple[Any, ...], **config: Any) -> Runner:
    FlakyAction.failures, FlakyAction.executions, FlakyAction.state = 0, 0, {}
    playbook = Playbook(
        id="pb",
        title="PB",
        trigger=Trigger(rules=("correlation_guardrail_block_burst",), min_level="medium"),
        inputs={"user": "user.id"},
        steps=steps,
    )
    settings = {"state_dir": tmp_path / "state", "retry_backoff_seconds": 0.0, **config}
    return Runner(RunnerConfig(**settings), [playbook], actor="tester")


def test_dry_run_is_the_default_and_changes_nothing(tmp_path: Path) -> None:
    runner = _runner(tmp_path, (FlakyAction,))
    (record,) = runner.handle(_alert())
    assert record.status == "planned" and "dry-run" in record.detail
    assert FlakyAction.executions == 0
    assert record.plan is not None and record.plan.diff() == '{"done": false} -> {"done": true}'


def test_execute_is_idempotent_and_audited(tmp_path: Path) -> None:
    runner = _runner(tmp_path, (FlakyAction,), execute=True, dedup_seconds=0)
    (first,) = runner.handle(_alert(alert_id="a-1"))
    (second,) = runner.handle(_alert(alert_id="a-2"))
    assert first.status == "executed" and first.detail == "verified"
    assert second.status == "skipped"
    assert FlakyAction.executions == 1
    kinds = [r["kind"] for r in runner.audit.records()]
    assert kinds.count("request") == 1 and kinds.count("response") == 1
    assert runner.audit.verify() == []


def test_protected_principals_are_refused(tmp_path: Path) -> None:
    runner = _runner(tmp_path, (FlakyAction,), execute=True)
    (record,) = runner.handle(_alert(user="svc-billing"))
    assert record.status == "refused" and "protected" in record.detail
    assert FlakyAction.executions == 0


def test_kill_switch_stops_everything(tmp_path: Path) -> None:
    runner = _runner(tmp_path, (FlakyAction,), execute=True)
    runner.config.kill_switch.write_text("stop")
    (record,) = runner.handle(_alert())
    assert record.status == "refused" and "kill switch" in record.detail


def test_rate_limits_cap_the_blast_radius(tmp_path: Path) -> None:
    runner = _runner(tmp_path, (FlakyAction,), execute=True, per_action_limit=3, dedup_seconds=0)
    statuses = [runner.handle(_alert(user=f"u-{n}", alert_id=f"a-{n}"))[0].status for n in range(6)]
    assert statuses == ["executed"] * 3 + ["refused"] * 3
    assert FlakyAction.executions == 3


def test_repeated_alerts_are_deduplicated(tmp_path: Path) -> None:
    runner = _runner(tmp_path, (FlakyAction,), execute=True)
    runner.handle(_alert(alert_id="a-1"))
    (again,) = runner.handle(_alert(alert_id="a-2"))
    assert again.status == "deduplicated"


def test_irreversible_needs_approval_and_timeout_means_deny(tmp_path: Path) -> None:
    runner = _runner(
        tmp_path,
        (Irreversible,),
        execute=True,
        approve_high_impact=False,
        approval_timeout_seconds=1,
    )
    (record,) = runner.handle(_alert())
    assert record.status == "pending_approval"
    assert len(runner.approvals()) == 1
    time.sleep(1.2)
    assert runner.approvals() == []
    assert any(r.get("detail") == "approval timed out" for r in runner.audit.records())
    assert FlakyAction.executions == 0


def test_approval_executes_and_deny_does_not(tmp_path: Path) -> None:
    runner = _runner(tmp_path, (FlakyAction,), execute=True, dedup_seconds=0)
    runner.config.approve_high_impact = True
    FlakyAction.impact = "high"
    try:
        runner.handle(_alert(user="u-a", alert_id="a-1"))
        runner.handle(_alert(user="u-b", alert_id="a-2"))
        first, second = runner.approvals()
        assert runner.decide_approval(second["id"], False, "analyst") is None
        record = runner.decide_approval(first["id"], True, "analyst")
        assert record is not None and record.status == "executed"
        assert FlakyAction.state == {"u-a": True}
        with pytest.raises(KeyError):
            runner.decide_approval(second["id"], True, "analyst")
    finally:
        FlakyAction.impact = "low"


def test_failures_are_retried_then_recorded(tmp_path: Path) -> None:
    runner = _runner(tmp_path, (FlakyAction,), execute=True)
    FlakyAction.failures = 2
    (record,) = runner.handle(_alert())
    assert record.status == "executed" and FlakyAction.executions == 3
    runner2 = _runner(tmp_path / "b", (FlakyAction,), execute=True)
    FlakyAction.failures = 5
    (failed,) = runner2.handle(_alert())
    assert failed.status == "failed" and "target down" in failed.detail
    assert runner2.audit.records()[-1]["status"] == "failed"


def test_undo_reverses_a_run_and_is_audited(tmp_path: Path) -> None:
    runner = _runner(tmp_path, (FlakyAction,), execute=True)
    (record,) = runner.handle(_alert())
    assert FlakyAction.state["u-7"] is True
    assert runner.undo(record.run_id, "analyst") == ["flaky"]
    assert FlakyAction.state["u-7"] is False
    assert runner.audit.records()[-1]["kind"] == "undo"
    with pytest.raises(KeyError):
        runner.undo(record.run_id, "analyst")


def test_audit_chain_detects_tampering(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    for n in range(4):
        log.append("decision", n=n)
    assert log.verify() == []
    lines = log.path.read_text().splitlines()
    edited = json.loads(lines[1])
    edited["n"] = 99
    lines[1] = json.dumps(edited, sort_keys=True, separators=(",", ":"))
    log.path.write_text("\n".join(lines) + "\n")
    assert [p.line for p in log.verify()] == [3]
    log.path.write_text("\n".join([lines[0], lines[2], lines[3]]) + "\n")
    assert log.verify()[0].line == 2


def test_local_enforcement_actions_and_bundled_playbooks(tmp_path: Path) -> None:
    path = tmp_path / "enforcement.json"
    revoke, block = RevokeKeyLocally(path), BlockUserLocally(path)
    plan = revoke.plan({"api_key": "key-1"})
    outcome = revoke.execute({"api_key": "key-1"}, "k")
    assert revoke.verify({"api_key": "key-1"}, plan)
    block.execute({"user": "u-1"}, "k2")
    assert EnforcementList(path).read()["users"].keys() == {"u-1"}
    revoke.undo(outcome.undo)
    assert not EnforcementList(path).contains("keys", "key-1")
    ids = {p.id for p in load_playbooks()}
    assert {"revoke_api_key", "block_user", "rollback_prompt_version", "notify"} <= ids


# -- webhook receiver ----------------------------------------------------------------------

SECRET, TOKEN = "s3cret-for-tests", "t0ken-for-tests"


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    runner = Runner(RunnerConfig(state_dir=tmp_path / "state"), load_playbooks(), actor="hook")
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
    assert (
        client.post(
            "/hooks/kibana", content=body, headers={"Authorization": "Bearer nope"}
        ).status_code
        == 401
    )
    stale = sign(SECRET, body, int(time.time()) - 3600)
    assert (
        client.post(
            "/hooks/kibana", content=body, headers={"X-Llmsiem-Signature": stale}
        ).status_code
        == 401
    )
    forged = sign("other-secret", body)
    assert (
        client.post(
            "/hooks/kibana", content=body, headers={"X-Llmsiem-Signature": forged}
        ).status_code
        == 401
    )
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
