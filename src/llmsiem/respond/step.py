"""What happened to one action of one playbook for one alert: its status and record."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from llmsiem.respond.action import Plan


class Status(StrEnum):
    """The outcome of one step (or one undo) as the runner records it."""

    PLANNED = "planned"
    EXECUTED = "executed"
    SKIPPED = "skipped"
    REFUSED = "refused"
    PENDING_APPROVAL = "pending_approval"
    FAILED = "failed"
    DEDUPLICATED = "deduplicated"
    REPLAYED = "replayed"
    UNDONE = "undone"


def action_ref(playbook_id: str, action_id: str) -> str:
    """The stable address of an action: ``playbook_id/action_id`` (never a step index)."""
    return f"{playbook_id}/{action_id}"


@dataclass
class StepRecord:
    """What happened to one action of one playbook for one alert."""

    run_id: str
    playbook: str
    action: str
    principal: str
    status: Status
    detail: str = ""
    plan: Plan | None = None

    @property
    def ref(self) -> str:
        return action_ref(self.playbook, self.action)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "run_id": self.run_id,
            "playbook": self.playbook,
            "action": self.action,
            "ref": self.ref,
            "principal": self.principal,
            "status": self.status.value,
            "detail": self.detail,
        }
        if self.plan is not None:
            data["diff"] = self.plan.diff()
            data["impact"] = self.plan.impact
        return data
