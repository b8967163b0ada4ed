"""Shared builders for the response tests: alerts, a flaky test action, runners."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from llmsiem.respond.action import Action, Impact, Outcome, Plan
from llmsiem.respond.config import RunnerConfig
from llmsiem.respond.playbook import Playbook, Trigger
from llmsiem.respond.runner import Runner

AUDIT_KEY = b"audit-key-for-tests-0123456789"


def make_alert(
    rule: str = "correlation_guardrail_block_burst",
    user: Any = "u-7",
    key: Any = "key-7",
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
    impact: Impact = "low"
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


def make_runner(tmp_path: Path, steps: tuple[Any, ...], **config: Any) -> Runner:
    FlakyAction.failures, FlakyAction.executions, FlakyAction.state = 0, 0, {}
    playbook = Playbook(
        id="pb",
        title="PB",
        trigger=Trigger(rules=("correlation_guardrail_block_burst",), min_level="medium"),
        inputs={"user": "user.id"},
        steps=steps,
    )
    settings = {"state_dir": tmp_path / "state", "retry_backoff_seconds": 0.0, **config}
    return Runner(RunnerConfig(**settings), [playbook], actor="tester", audit_key=AUDIT_KEY)
