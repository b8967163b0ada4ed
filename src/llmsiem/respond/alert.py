"""The alert documents playbooks act on: a strict model, a nesting bound and a stable key.

Every alert, whether from a webhook or an alerts file, is checked here before the runner
sees it, so a malformed one is refused with the reason and nothing is acted on or audited.
Principal fields (user, API key, prompt, trace, source) must be strings (or lists of
strings, as the engine merges several events' values); an object there is refused, never
turned into a principal by ``str()``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, ValidationError, field_validator

from llmsiem.levels import DEFAULT_LEVEL, LEVELS

MAX_DEPTH = 32

Principal = StrictStr | list[StrictStr]


class AlertError(ValueError):
    """An alert document that cannot be acted on; the message says which field and why."""


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class _Event(_Part):
    kind: Literal["alert"]
    id: StrictStr | None = None


class _Rule(_Part):
    id: StrictStr
    name: StrictStr


class _AlertMeta(_Part):
    level: StrictStr = DEFAULT_LEVEL
    title: StrictStr | None = None

    @field_validator("level")
    @classmethod
    def _known_level(cls, level: str) -> str:
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r} (one of {', '.join(LEVELS)})")
        return level


class _Identified(_Part):
    id: Principal | None = None


class _ApiKey(_Part):
    id: Principal | None = None
    alias: Principal | None = None


class _Template(_Part):
    name: Principal | None = None
    version: StrictStr | StrictInt | list[StrictStr | StrictInt] | None = None


class _Prompt(_Part):
    template: _Template | None = None


class _Llmsiem(_Part):
    alert: _AlertMeta = _AlertMeta()
    api_key: _ApiKey | None = None
    prompt: _Prompt | None = None
    end_user: _Identified | None = None


class _Source(_Part):
    ip: Principal | None = None


class AlertModel(_Part):
    """The fields the runner, triggers and playbook inputs read, with their types."""

    event: _Event
    rule: _Rule
    tags: list[StrictStr] = []
    llmsiem: _Llmsiem = _Llmsiem()
    user: _Identified | None = None
    trace: _Identified | None = None
    source: _Source | None = None


def _too_deep(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return False


def check_alert(alert: Any) -> dict[str, Any]:
    """The alert when it is a valid alert document; AlertError with the reason otherwise."""
    if not isinstance(alert, dict):
        raise AlertError(f"an alert must be a JSON object, not {type(alert).__name__}")
    if _too_deep(alert, MAX_DEPTH):
        raise AlertError(f"nested deeper than {MAX_DEPTH} levels")
    try:
        AlertModel.model_validate(alert)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "alert"
        raise AlertError(f"{where}: {error['msg']}") from None
    return alert


def alert_key(alert: dict[str, Any]) -> str:
    """Identifies one alert across deliveries: rule and alert id, else the whole document."""
    rule_id = alert["rule"]["id"]
    event_id = alert["event"].get("id")
    basis: Any = [rule_id, event_id] if event_id else alert
    return hashlib.sha256(json.dumps(basis, sort_keys=True, default=str).encode()).hexdigest()
