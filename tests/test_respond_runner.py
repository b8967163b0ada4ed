"""The response runner's safety rules: dry-run, policy, retries, approvals and undo."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from llmsiem.respond.action import Outcome, Plan
from llmsiem.respond.actions.local import BlockUserLocally, EnforcementList, RevokeKeyLocally
from llmsiem.respond.audit import AuditKeyError
from llmsiem.respond.config import RunnerConfig
from llmsiem.respond.playbook import load_playbooks
from llmsiem.respond.runner import Runner
from llmsiem.respond.step import Status
from respond_helpers import AUDIT_KEY, FlakyAction, Irreversible, make_alert, make_runner


def test_dry_run_is_the_default_and_changes_nothing(tmp_path: Path) -> None:
    runner = make_runner(tmp_path, (FlakyAction,))
    (record,) = runner.handle(make_alert())
    assert record.status is Status.PLANNED and "dry-run" in record.detail
    assert record.ref == "pb/flaky"
    assert FlakyAction.executions == 0
    assert record.plan is not None and record.plan.diff() == '{"done": false} -> {"done": true}'


def test_execute_refuses_to_start_without_an_audit_key(tmp_path: Path) -> None:
    with pytest.raises(AuditKeyError, match="LLMSIEM_AUDIT_KEY"):
        Runner(RunnerConfig(execute=True, state_dir=tmp_path), [], audit_key=None)
    Runner(RunnerConfig(execute=False, state_dir=tmp_path), [], audit_key=None)


def test_execute_is_idempotent_and_audited(tmp_path: Path) -> None:
    runner = make_runner(tmp_path, (FlakyAction,), execute=True, dedup_seconds=0)
    (first,) = runner.handle(make_alert(alert_id="a-1"))
    (second,) = runner.handle(make_alert(alert_id="a-2"))
    assert first.status is Status.EXECUTED and first.detail == "verified"
    assert second.status is Status.SKIPPED
    assert FlakyAction.executions == 1
    assert runner.audit is not None
    kinds = [r["kind"] for r in runner.audit.records()]
    assert kinds.count("request") == 1 and kinds.count("response") == 1
    assert runner.audit.verify().problems == []


def test_protected_principals_are_refused(tmp_path: Path) -> None:
    runner = make_runner(tmp_path, (FlakyAction,), execute=True)
    (record,) = runner.handle(make_alert(user="svc-billing"))
    assert record.status is Status.REFUSED and "protected" in record.detail
    assert FlakyAction.executions == 0


def test_kill_switch_stops_everything(tmp_path: Path) -> None:
    runner = make_runner(tmp_path, (FlakyAction,), execute=True)
    runner.config.kill_switch.write_text("stop")
    (record,) = runner.handle(make_alert())
    assert record.status is Status.REFUSED and "kill switch" in record.detail


def test_rate_limits_cap_the_blast_radius(tmp_path: Path) -> None:
    runner = make_runner(
        tmp_path, (FlakyAction,), execute=True, per_action_limit=3, dedup_seconds=0
    )
    statuses = [
        runner.handle(make_alert(user=f"u-{n}", alert_id=f"a-{n}"))[0].status for n in range(6)
    ]
    assert statuses == [Status.EXECUTED] * 3 + [Status.REFUSED] * 3
    assert FlakyAction.executions == 3


def test_repeated_alerts_are_deduplicated(tmp_path: Path) -> None:
    runner = make_runner(tmp_path, (FlakyAction,), execute=True)
    runner.handle(make_alert(alert_id="a-1"))
    (again,) = runner.handle(make_alert(alert_id="a-2"))
    assert again.status is Status.DEDUPLICATED


def test_the_same_alert_never_acts_twice_even_after_undo(tmp_path: Path) -> None:
    runner = make_runner(tmp_path, (FlakyAction,), execute=True, dedup_seconds=0)
    (first,) = runner.handle(make_alert(alert_id="a-1"))
    runner.undo(first.run_id, "analyst")
    (replayed,) = runner.handle(make_alert(alert_id="a-1"))
    assert replayed.status is Status.REPLAYED and first.run_id in replayed.detail
    assert FlakyAction.executions == 1 and FlakyAction.state["u-7"] is False


def test_irreversible_needs_approval_and_timeout_means_deny(tmp_path: Path) -> None:
    runner = make_runner(
        tmp_path,
        (Irreversible,),
        execute=True,
        approve_high_impact=False,
        approval_timeout_seconds=1,
    )
    (record,) = runner.handle(make_alert())
    assert record.status is Status.PENDING_APPROVAL
    assert len(runner.approvals()) == 1
    time.sleep(1.2)
    assert runner.approvals() == []
    assert runner.audit is not None
    assert any(r.get("detail") == "approval timed out" for r in runner.audit.records())
    assert FlakyAction.executions == 0


def test_approval_executes_and_deny_does_not(tmp_path: Path) -> None:
    runner = make_runner(tmp_path, (FlakyAction,), execute=True, dedup_seconds=0)
    FlakyAction.impact = "high"
    try:
        runner.handle(make_alert(user="u-a", alert_id="a-1"))
        runner.handle(make_alert(user="u-b", alert_id="a-2"))
        first, second = runner.approvals()
        assert first.action_ref == "pb/flaky"
        assert runner.decide_approval(second.id, False, "analyst") is None
        record = runner.decide_approval(first.id, True, "analyst")
        assert record is not None and record.status is Status.EXECUTED
        assert FlakyAction.state == {"u-a": True}
        with pytest.raises(KeyError):
            runner.decide_approval(second.id, True, "analyst")
    finally:
        FlakyAction.impact = "low"


def test_failures_are_retried_then_recorded(tmp_path: Path) -> None:
    runner = make_runner(tmp_path, (FlakyAction,), execute=True)
    FlakyAction.failures = 2
    (record,) = runner.handle(make_alert())
    assert record.status is Status.EXECUTED and FlakyAction.executions == 3
    runner2 = make_runner(tmp_path / "b", (FlakyAction,), execute=True)
    FlakyAction.failures = 5
    (failed,) = runner2.handle(make_alert())
    assert failed.status is Status.FAILED and "target down" in failed.detail
    assert FlakyAction.executions == 3
    assert runner2.audit is not None
    assert runner2.audit.records()[-1]["status"] == "failed"


class Hanging(FlakyAction):
    """A target that never answers an execute call."""

    name = "hanging"
    release = threading.Event()

    def execute(self, inputs: dict[str, str], idempotency_key: str) -> Outcome:
        type(self).executions += 1
        type(self).release.wait()
        return Outcome({}, {})


def test_a_target_that_never_answers_fails_within_the_deadline(tmp_path: Path) -> None:
    runner = make_runner(
        tmp_path,
        (Hanging,),
        execute=True,
        call_timeout_seconds=0.2,
        step_deadline_seconds=0.5,
        retry_attempts=10,
    )
    Hanging.executions = 0
    started = time.monotonic()
    try:
        (record,) = runner.handle(make_alert())
    finally:
        Hanging.release.set()
    assert record.status is Status.FAILED and "no answer within" in record.detail
    assert time.monotonic() - started < 1.5
    assert 1 < Hanging.executions <= 3


def test_undo_reverses_a_run_and_is_audited(tmp_path: Path) -> None:
    runner = make_runner(tmp_path, (FlakyAction,), execute=True)
    (record,) = runner.handle(make_alert())
    assert FlakyAction.state["u-7"] is True
    (undone,) = runner.undo(record.run_id, "analyst")
    assert undone.status is Status.UNDONE and undone.ref == "pb/flaky"
    assert FlakyAction.state["u-7"] is False
    assert runner.audit is not None
    assert runner.audit.records()[-1]["kind"] == "undo"
    with pytest.raises(KeyError):
        runner.undo(record.run_id, "analyst")


def test_irreversible_actions_are_not_undone(tmp_path: Path) -> None:
    runner = make_runner(tmp_path, (Irreversible,), execute=True)
    (pending,) = runner.handle(make_alert())
    (approval,) = runner.approvals()
    record = runner.decide_approval(approval.id, True, "analyst")
    assert record is not None and record.status is Status.EXECUTED
    (refused,) = runner.undo(pending.run_id, "analyst")
    assert refused.status is Status.REFUSED and "irreversible" in refused.detail


def test_a_principal_that_is_not_a_string_is_never_acted_on(tmp_path: Path) -> None:
    runner = make_runner(tmp_path, (FlakyAction,), execute=True)
    (record,) = runner.handle(make_alert(user={"x": 1}))
    assert record.status is Status.SKIPPED and "lacks inputs" in record.detail
    assert FlakyAction.executions == 0


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


def test_plan_records_carry_the_stable_address(tmp_path: Path) -> None:
    runner = Runner(
        RunnerConfig(state_dir=tmp_path / "state"), load_playbooks(), audit_key=AUDIT_KEY
    )
    alert: dict[str, Any] = make_alert(rule="correlation_token_burst_per_api_key")
    refs = {r.ref for r in runner.handle(alert)}
    assert {"revoke_api_key/revoke_key_local", "revoke_api_key/litellm_block_key"} <= refs


def test_plan_shape_is_unchanged(tmp_path: Path) -> None:
    plan = Plan("a", "p", {"x": 1}, {"x": 2}, "low")
    assert plan.changes and plan.diff() == '{"x": 1} -> {"x": 2}'


def test_a_bad_respond_yml_is_a_usage_error_naming_the_file(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from llmsiem.cli.main import cli

    config = tmp_path / "respond.yml"
    config.write_text("execute: false\nno_such_setting: 1\n")
    result = CliRunner().invoke(cli, ["respond", "kill-switch", "status", "--config", str(config)])
    assert result.exit_code == 2 and "respond.yml" in result.output
    assert "no_such_setting" in result.output and "Traceback" not in result.output


def test_a_state_folder_from_the_index_addressed_runner_is_refused_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from click.testing import CliRunner

    from llmsiem.cli.main import cli

    state = tmp_path / "state"
    state.mkdir()
    with sqlite3.connect(state / "respond.db") as db:
        db.execute(
            "CREATE TABLE executed (idempotency_key TEXT PRIMARY KEY, run_id TEXT, "
            "playbook TEXT, step INTEGER, action TEXT, undo TEXT, undone INTEGER DEFAULT 0)"
        )
    config = tmp_path / "respond.yml"
    config.write_text(f"state_dir: {state}\n")
    monkeypatch.setenv("LLMSIEM_AUDIT_KEY", AUDIT_KEY.decode())
    result = CliRunner().invoke(cli, ["respond", "approvals", "--config", str(config)])
    assert result.exit_code == 2 and "older llmsiem" in result.output
