"""MLflow prompt registry: roll the serving alias back to the last known-good version.

The known-good version comes from the alert (the telemetry's last approved template
version) when it carries one, else it is the registry's previous version. Undo moves the
alias back to where it was.
"""

from __future__ import annotations

import os
from typing import Any

from llmsiem.respond.action import Action, NotConfiguredError, Outcome, Plan


def _client() -> Any:
    uri = os.environ.get("LLMSIEM_MLFLOW_URI")
    if not uri:
        raise NotConfiguredError("set LLMSIEM_MLFLOW_URI")
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


class MlflowPromptAliasRollback(Action):
    """``set_prompt_alias`` back to a known-good version (reversible)."""

    name = "mlflow_rollback_prompt_alias"
    impact = "high"

    def principal(self, inputs: dict[str, str]) -> str:
        return inputs["prompt_name"]

    def _current(self, inputs: dict[str, str]) -> int:
        alias = inputs.get("alias", "production")
        version = _client().get_prompt_version_by_alias(self.principal(inputs), alias)
        return int(version.version)

    def _target(self, inputs: dict[str, str], current: int) -> int:
        known_good = inputs.get("known_good_version")
        if known_good and known_good.isdigit() and int(known_good) != current:
            return int(known_good)
        versions = sorted(
            int(v.version) for v in _client().search_prompt_versions(self.principal(inputs))
        )
        earlier = [v for v in versions if v < current]
        if not earlier:
            raise ValueError(f"prompt {self.principal(inputs)!r} has no version before {current}")
        return earlier[-1]

    def plan(self, inputs: dict[str, str]) -> Plan:
        alias = inputs.get("alias", "production")
        current = self._current(inputs)
        return Plan(
            self.name,
            self.principal(inputs),
            {alias: current},
            {alias: self._target(inputs, current)},
            self.impact,
            "MLflow prompt registry",
        )

    def execute(self, inputs: dict[str, str], idempotency_key: str) -> Outcome:
        alias = inputs.get("alias", "production")
        name = self.principal(inputs)
        current = self._current(inputs)
        target = self._target(inputs, current)
        _client().set_prompt_alias(name, alias, target)
        return Outcome({alias: target}, {"name": name, "alias": alias, "version": current})

    def verify(self, inputs: dict[str, str], expected: Plan) -> bool:
        """The alias now points at the planned version (re-planning would step back again)."""
        return bool({inputs.get("alias", "production"): self._current(inputs)} == expected.after)

    def undo(self, handle: dict[str, Any]) -> Any:
        _client().set_prompt_alias(handle["name"], handle["alias"], int(handle["version"]))
        return {handle["alias"]: handle["version"]}
