"""Playbooks: plain Python files in ``playbooks/`` that declare a ``PLAYBOOK``.

A playbook names its trigger (rule names or ids, tags, minimum level), how its inputs are
read from alert fields, and its steps (actions, in order). Loading imports each file by
path; a file that fails to load is reported with its name, never silently ignored.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from llmsiem.event import get_dotted
from llmsiem.levels import DEFAULT_LEVEL, rank
from llmsiem.plugins import PluginError
from llmsiem.resources import content_dir
from llmsiem.respond.action import Action
from llmsiem.respond.registry import ACTIONS


class PlaybookLoadError(Exception):
    """A playbook file that cannot be used; the message names the file and why."""


def _factory(step: Callable[[], Action] | str, playbook_id: str) -> Callable[[], Action]:
    """A step's action class; a name is looked up in the ``llmsiem.actions`` registry."""
    if not isinstance(step, str):
        return step
    try:
        found = ACTIONS.get(step)
    except PluginError as exc:
        raise PlaybookLoadError(f"playbook {playbook_id}: {exc}") from exc
    if not issubclass(found, Action):
        raise PlaybookLoadError(f"playbook {playbook_id}: {step!r} is not a response action")
    if found.name != step:
        raise PlaybookLoadError(
            f"playbook {playbook_id}: {step!r} is registered for an action named {found.name!r}"
        )
    return found


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
        level = alert.get("llmsiem", {}).get("alert", {}).get("level", DEFAULT_LEVEL)
        if rank(level) < rank(self.min_level):
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
    steps: tuple[Callable[[], Action] | str, ...]
    description: str = ""
    constants: dict[str, str] = field(default_factory=dict)
    source: str = ""
    factories: tuple[Callable[[], Action], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        factories = tuple(_factory(step, self.id) for step in self.steps)
        names = [action_name(factory) for factory in factories]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise PlaybookLoadError(f"playbook {self.id}: action names repeat: {repeated}")
        object.__setattr__(self, "factories", factories)

    def action(self, action_id: str) -> Callable[[], Action] | None:
        """The step whose action is named ``action_id`` (addresses never use positions)."""
        return next((f for f in self.factories if action_name(f) == action_id), None)

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
        playbooks.append(replace(playbook, source=str(path)))
    ids = [p.id for p in playbooks]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise PlaybookLoadError(f"duplicate playbook ids: {sorted(duplicates)}")
    return playbooks
