"""Response policy: kill switch, protected principals, dedup, rate limits, approval rules.

Safety lives here, not in playbooks. Every check answers why an action must not run now
(a refusal message) or None when it may.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import time
from typing import Any

from llmsiem.respond.action import Plan
from llmsiem.respond.config import RunnerConfig
from llmsiem.respond.state import StateStore


def incident_fingerprint(alert: dict[str, Any]) -> str:
    """Same rule and same entities: the same incident, whatever the alert id."""
    rule = alert.get("rule", {}).get("id", "")
    entities = {
        key: alert.get(key) for key in ("user", "trace") if isinstance(alert.get(key), dict)
    }
    key = (alert.get("llmsiem", {}) or {}).get("api_key")
    return hashlib.sha256(json.dumps([rule, entities, key], sort_keys=True).encode()).hexdigest()


class Policy:
    """Decides whether an action may run; counts what ran in the state store."""

    def __init__(self, config: RunnerConfig, store: StateStore) -> None:
        self.config = config
        self.store = store

    def is_duplicate(self, alert: dict[str, Any]) -> bool:
        """A repeat of an incident already seen inside the dedup window."""
        return not self.store.first_seen(incident_fingerprint(alert), self.config.dedup_seconds)

    def refusal(self, principal: str) -> str | None:
        """Kill switch and protected principals: never act, approved or not."""
        if self.config.kill_switch.exists():
            return f"kill switch {self.config.kill_switch} is on"
        if any(fnmatch.fnmatch(principal, p) for p in self.config.protected_principals):
            return f"{principal} is a protected principal"
        return None

    def needs_approval(self, plan: Plan) -> bool:
        """Irreversible actions always; high-impact ones unless the config says otherwise."""
        return plan.impact == "irreversible" or (
            plan.impact == "high" and self.config.approve_high_impact
        )

    def take_rate_slot(self, action: str) -> str | None:
        """Count one start of ``action``; the refusal when a rate limit is reached instead."""
        since = time.time() - self.config.rate_window_seconds
        with self.store.transaction():
            per_action, overall = self.store.action_counts(action, since)
            if per_action >= self.config.per_action_limit:
                return f"rate limit: {per_action} {action} actions in the window"
            if overall >= self.config.global_limit:
                return f"global rate limit: {overall} actions in the window"
            self.store.record_action(action)
        return None
