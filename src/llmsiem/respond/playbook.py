"""Playbooks: plain Python files in ``playbooks/`` that declare a ``PLAYBOOK``.

A playbook names its trigger (rule names or ids, tags, minimum level), how its inputs are
read from alert fields, and its steps (actions, in order). Loading imports each file by
path; a file that fails to load is reported with its name, never silently ignored.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmsiem.event import get_dotted
from llmsiem.resources import content_dir
from llmsiem.respond.action import Action

LEVELS = ["informational", "low", "medium", "high", "critical"]


class PlaybookLoadError(Exception):
    """A playbook file that cannot be used; the message names the file and why."""


def action_name(step: Callable[[], Action]) -> str:
    """The name of the action a step creates (its class attribute, else an instance's)."""
    name = getattr(step, "name", None)
    return name if isinstance(name, str) else step().name


@dataclass(frozen=True)
class Trigger:
    """Which alerts start a playbook; any listed rule or tag matches, at or above the level."""

    rules: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    min_level: str = "high"

    def matches(self, alert: dict[str, Any]) -> bool:
        level = alert.get("llmsiem", {}).get("alert", {}).get("level", "medium")
        if LEVELS.index(level) < LEVELS.index(self.min_level):
            return False
        rule = alert.get("rule", {})
        named = {rule.get("name"), rule.get("id")} & set(self.rules)
        tagged = set(alert.get("tags", [])) & set(self.tags)
        return bool(named or tagged) or (not self.rules and not self.tags)


@dataclass(frozen=True)
class Playbook:
    """Declared metadata and steps of one playbook."""

    id: str
    title: str
    trigger: Trigger
    inputs: dict[str, str]
    steps: tuple[Callable[[], Action], ...]
    description: str = ""
    constants: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        names = [action_name(step) for step in self.steps]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise PlaybookLoadError(f"playbook {self.id}: action names repeat: {repeated}")

    def action(self, action_id: str) -> Callable[[], Action] | None:
        """The step whose action is named ``action_id`` (addresses never use positions)."""
        return next((s for s in self.steps if action_name(s) == action_id), None)

    def resolve_inputs(self, alert: dict[str, Any]) -> dict[str, str] | None:
        """Inputs from the alert's entity fields; None when one is missing or not a scalar."""
        values = dict(self.constants)
        for name, path in self.inputs.items():
            value = get_dotted(alert, path)
            if isinstance(value, list):
                value = value[0] if len(value) == 1 else None
            if not isinstance(value, str | int) or isinstance(value, bool):
                return None
            values[name] = str(value)
        values.setdefault(
            "reason", f"{alert.get('rule', {}).get('name')} alert {get_dotted(alert, 'event.id')}"
        )
        return values


def load_playbooks(directory: Path | None = None) -> list[Playbook]:
    """Every ``PLAYBOOK`` defined by the Python files of the folder."""
    directory = directory or content_dir("playbooks")
    playbooks = []
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        spec = importlib.util.spec_from_file_location(f"llmsiem_playbook_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise PlaybookLoadError(f"{path}: cannot be imported")
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except PlaybookLoadError as exc:
            raise PlaybookLoadError(f"{path}: {exc}") from exc
        except Exception as exc:  # a playbook file is user code: report any failure by name
            raise PlaybookLoadError(f"{path}: {type(exc).__name__}: {exc}") from exc
        playbook = getattr(module, "PLAYBOOK", None)
        if not isinstance(playbook, Playbook):
            raise PlaybookLoadError(f"{path}: defines no PLAYBOOK = Playbook(...)")
        playbooks.append(Playbook(**{**playbook.__dict__, "source": str(path)}))
    ids = [p.id for p in playbooks]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise PlaybookLoadError(f"duplicate playbook ids: {sorted(duplicates)}")
    return playbooks
