"""The local enforcement list: revoked API keys and blocked users in one JSON file.

The LiteLLM ``custom_auth`` hook in ``llmsiem.integrations.litellm_auth`` consults it on
every request, so a revocation here takes effect on the next call with no SIEM involved.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llmsiem.respond.action import Action, Outcome, Plan

ENFORCEMENT_ENV = "LLMSIEM_ENFORCEMENT_FILE"
DEFAULT_PATH = Path(".llmsiem/enforcement.json")


def enforcement_path() -> Path:
    return Path(os.environ.get(ENFORCEMENT_ENV, str(DEFAULT_PATH)))


def key_fingerprint(secret_or_id: str) -> str:
    """How keys are listed: SHA-256 of the presented key (raw keys are never stored)."""
    return hashlib.sha256(secret_or_id.encode()).hexdigest()


class EnforcementList:
    """``{"keys": {id: entry}, "users": {id: entry}}`` with file locking and atomic writes."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or enforcement_path()

    def read(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {"keys": {}, "users": {}}
        data: dict[str, dict[str, Any]] = json.loads(self.path.read_text(encoding="utf-8"))
        data.setdefault("keys", {})
        data.setdefault("users", {})
        return data

    @contextmanager
    def _locked(self) -> Iterator[dict[str, dict[str, Any]]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with (self.path.parent / (self.path.name + ".lock")).open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self.read()
            yield data
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
            temporary.replace(self.path)

    def set(self, kind: str, principal: str, entry: dict[str, Any] | None) -> dict[str, Any] | None:
        """Add (entry) or remove (None) a principal; returns the previous entry."""
        with self._locked() as data:
            previous = data[kind].get(principal)
            if entry is None:
                data[kind].pop(principal, None)
            else:
                data[kind][principal] = entry
            return previous

    def contains(self, kind: str, principal: str) -> bool:
        return principal in self.read()[kind]


class LocalListAction(Action):
    """Put a key or user on the local enforcement list (reversible)."""

    kind = "keys"
    input_name = "api_key"
    impact = "low"

    def __init__(self, path: Path | None = None) -> None:
        self.list = EnforcementList(path)

    def principal(self, inputs: dict[str, str]) -> str:
        return inputs[self.input_name]

    def plan(self, inputs: dict[str, str]) -> Plan:
        principal = self.principal(inputs)
        listed = self.list.contains(self.kind, principal)
        return Plan(
            self.name,
            principal,
            {"blocked": listed},
            {"blocked": True},
            self.impact,
            f"local enforcement list {self.list.path}",
        )

    def execute(self, inputs: dict[str, str], idempotency_key: str) -> Outcome:
        principal = self.principal(inputs)
        entry = {
            "since": datetime.now(UTC).isoformat(),
            "reason": inputs.get("reason", ""),
            "idempotency_key": idempotency_key,
        }
        previous = self.list.set(self.kind, principal, entry)
        return Outcome({"listed": principal}, {"principal": principal, "previous": previous})

    def undo(self, handle: dict[str, Any]) -> Any:
        self.list.set(self.kind, handle["principal"], handle.get("previous"))
        return {"restored": handle["principal"]}


class RevokeKeyLocally(LocalListAction):
    name = "revoke_key_local"
    kind = "keys"
    input_name = "api_key"


class BlockUserLocally(LocalListAction):
    name = "block_user_local"
    kind = "users"
    input_name = "user"
