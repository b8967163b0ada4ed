"""What a playbook step is: plan (read current state), execute, verify, undo."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

Impact = Literal["low", "high", "irreversible"]


class NotConfiguredError(RuntimeError):
    """The action's target system is not configured here; the step is skipped."""


@dataclass
class Plan:
    """What executing a step would change, read from the target's current state."""

    action: str
    principal: str
    before: Any
    after: Any
    impact: Impact
    detail: str = ""

    @property
    def changes(self) -> bool:
        return bool(self.before != self.after)

    def diff(self) -> str:
        if not self.changes:
            return "no change (already in the desired state)"
        return f"{json.dumps(self.before, default=str)} -> {json.dumps(self.after, default=str)}"


@dataclass
class Outcome:
    """What an executed step did and how to reverse it."""

    response: Any
    undo: dict[str, Any] = field(default_factory=dict)


class Action(ABC):
    """A response action against one target system."""

    name: str = "action"
    impact: Impact = "high"
    reversible: bool = True

    @property
    def implementation(self) -> str:
        """The class behind the action's name; approvals and undo check it has not changed."""
        return f"{type(self).__module__}.{type(self).__qualname__}"

    @abstractmethod
    def principal(self, inputs: dict[str, str]) -> str:
        """The principal acted upon (key id, user id, prompt name) for allowlists."""

    @abstractmethod
    def plan(self, inputs: dict[str, str]) -> Plan:
        """Read current state and describe the change; never modifies anything."""

    @abstractmethod
    def execute(self, inputs: dict[str, str], idempotency_key: str) -> Outcome:
        """Apply the change; repeating it with the same key has no further effect."""

    def verify(self, inputs: dict[str, str], expected: Plan) -> bool:
        """True when the target's current state is the planned ``after`` state."""
        return bool(self.plan(inputs).before == expected.after)

    def undo(self, handle: dict[str, Any]) -> Any:
        """Reverse an executed change from its undo handle."""
        raise NotImplementedError(f"{self.name} cannot be undone")
