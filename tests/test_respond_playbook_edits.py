"""Approvals and undo address actions by ``playbook_id/action_id``, so they survive edits.

Each case records an approval or an execution, rewrites the playbook file (reordered,
extended, shrunk, or the name bound to another class), reloads the playbooks as a new CLI
invocation would, and checks the same action is acted on or the runner refuses with why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmsiem.respond.config import RunnerConfig
from llmsiem.respond.playbook import load_playbooks
from llmsiem.respond.runner import Runner
from llmsiem.respond.step import Status
from respond_helpers import AUDIT_KEY, make_alert

PLAYBOOK_FILE = """
import json
from pathlib import Path

from llmsiem.respond.action import Action, Outcome, Plan
from llmsiem.respond.playbook import Playbook, Trigger

STATE = Path({state!r})


def _load():
    return json.loads(STATE.read_text()) if STATE.exists() else {{"on": {{}}, "calls": []}}


def _save(data):
    STATE.write_text(json.dumps(data))


class Recording(Action):
    impact = {impact!r}

    def principal(self, inputs):
        return inputs["user"]

    def plan(self, inputs):
        on = _load()["on"].get(self.name, False)
        return Plan(self.name, inputs["user"], {{"on": on}}, {{"on": True}}, self.impact)

    def execute(self, inputs, idempotency_key):
        data = _load()
        data["on"][self.name] = True
        data["calls"].append(["execute", type(self).__name__])
        _save(data)
        return Outcome({{}}, {{"user": inputs["user"]}})

    def undo(self, handle):
        data = _load()
        data["on"][self.name] = False
        data["calls"].append(["undo", type(self).__name__])
        _save(data)
        return {{}}


class Notify(Recording):
    name = "notify"


class Lock(Recording):
    name = "lock"


class Wipe(Recording):
    name = "wipe"


class OtherLock(Recording):
    name = "lock"


PLAYBOOK = Playbook(
    id="contain",
    title="Contain",
    trigger=Trigger(rules=("correlation_guardrail_block_burst",), min_level="medium"),
    inputs={{"user": "user.id"}},
    steps=({steps}),
)
"""


class Setup:
    def __init__(self, tmp_path: Path, impact: str) -> None:
        self.folder = tmp_path / "playbooks"
        self.folder.mkdir()
        self.state = tmp_path / "target.json"
        self.state_dir = tmp_path / "state"
        self.impact = impact

    def write(self, steps: str) -> Runner:
        """Write the playbook with these steps and start a runner as a new process would."""
        text = PLAYBOOK_FILE.format(state=str(self.state), impact=self.impact, steps=steps)
        (self.folder / "contain.py").write_text(text)
        config = RunnerConfig(execute=True, state_dir=self.state_dir, dedup_seconds=0)
        return Runner(config, load_playbooks(self.folder), actor="t", audit_key=AUDIT_KEY)

    def target(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.state.read_text()) if self.state.exists() else {}
        return data


def test_approval_after_reordering_executes_the_approved_action(tmp_path: Path) -> None:
    setup = Setup(tmp_path, "high")
    runner = setup.write("Notify, Lock")
    runner.handle(make_alert())
    lock = next(a for a in runner.approvals() if a.action_ref == "contain/lock")
    runner = setup.write("Lock, Wipe, Notify")  # position 1 is now "wipe"
    record = runner.decide_approval(lock.id, True, "analyst")
    assert record is not None and record.status is Status.EXECUTED and record.ref == "contain/lock"
    assert setup.target()["calls"] == [["execute", "Lock"]]


def test_approval_of_a_removed_action_is_refused_with_the_reason(tmp_path: Path) -> None:
    setup = Setup(tmp_path, "high")
    runner = setup.write("Notify, Lock")
    runner.handle(make_alert())
    lock = next(a for a in runner.approvals() if a.action_ref == "contain/lock")
    runner = setup.write("Notify,")
    record = runner.decide_approval(lock.id, True, "analyst")
    assert record is not None and record.status is Status.REFUSED
    assert "no longer has action 'lock'" in record.detail and lock.id in record.detail
    assert setup.target() == {}


def test_approval_of_a_name_now_bound_to_another_class_is_refused(tmp_path: Path) -> None:
    setup = Setup(tmp_path, "high")
    runner = setup.write("Notify, Lock")
    runner.handle(make_alert())
    lock = next(a for a in runner.approvals() if a.action_ref == "contain/lock")
    runner = setup.write("Notify, OtherLock")
    record = runner.decide_approval(lock.id, True, "analyst")
    assert record is not None and record.status is Status.REFUSED
    assert "OtherLock" in record.detail and setup.target() == {}


def test_undo_after_reordering_reverses_the_executed_actions(tmp_path: Path) -> None:
    setup = Setup(tmp_path, "low")
    runner = setup.write("Notify, Lock")
    records = runner.handle(make_alert())
    assert [r.status for r in records] == [Status.EXECUTED, Status.EXECUTED]
    runner = setup.write("Lock, Wipe, Notify")
    undone = runner.undo(records[0].run_id, "analyst")
    assert {r.ref: r.status for r in undone} == {
        "contain/lock": Status.UNDONE,
        "contain/notify": Status.UNDONE,
    }
    calls = setup.target()["calls"]
    assert sorted(calls[2:]) == [["undo", "Lock"], ["undo", "Notify"]]


def test_undo_of_a_removed_action_is_refused_and_the_rest_is_undone(tmp_path: Path) -> None:
    setup = Setup(tmp_path, "low")
    runner = setup.write("Notify, Lock")
    records = runner.handle(make_alert())
    runner = setup.write("Notify,")
    undone = {r.ref: r for r in runner.undo(records[0].run_id, "analyst")}
    assert undone["contain/notify"].status is Status.UNDONE
    assert undone["contain/lock"].status is Status.REFUSED
    assert "no longer has action 'lock'; undo refused" in undone["contain/lock"].detail
    assert setup.target()["on"] == {"notify": False, "lock": True}
