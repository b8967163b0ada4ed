"""Registries of named components, filled by built-ins and by other packages' entry points.

Each kind of component (sources, sinks, response actions, compile targets) has one
``Registry``, read like a mapping of name to component (``names()``, ``get(name)``, ``in``,
iteration). Built-ins are listed as ``"module:attribute"`` strings so a registry costs no
import until a component is used; third-party packages add theirs under the entry-point
group of the kind (``[project.entry-points."llmsiem.sinks"] mysink = "pkg.mod:SINK"``).
A built-in name cannot be replaced by a plugin.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from importlib.metadata import entry_points
from typing import Generic, TypeVar

SOURCES_GROUP = "llmsiem.sources"
SINKS_GROUP = "llmsiem.sinks"
ACTIONS_GROUP = "llmsiem.actions"
TARGETS_GROUP = "llmsiem.targets"

T = TypeVar("T")


class PluginError(LookupError):
    """A component name that is not registered, or a registration that cannot be loaded."""


def load_reference(reference: str) -> object:
    """The object a ``"module:attribute"`` reference names, its module imported."""
    module, _, attribute = reference.partition(":")
    value: object = importlib.import_module(module)
    for part in attribute.split(".") if attribute else ():
        value = getattr(value, part)
    return value


class Registry(Generic[T]):
    """Named components of one kind: built-ins first, then entry points of ``group``."""

    def __init__(self, group: str, kind: type[T], builtins: Mapping[str, str]) -> None:
        self.group = group
        self.kind = kind
        self._references = dict(builtins)
        self._loaded: dict[str, T] = {}
        self._discovered = False

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        for point in entry_points(group=self.group):
            self._references.setdefault(point.name, point.value)

    def names(self) -> list[str]:
        """Every registered name, built-ins first, in registration order."""
        self._discover()
        return list(self._references)

    def get(self, name: str) -> T:
        """The component registered as ``name``, imported on first use."""
        if name in self._loaded:
            return self._loaded[name]
        self._discover()
        reference = self._references.get(name)
        if reference is None:
            raise PluginError(f"no {self.group} component named {name!r}; one of {self.names()}")
        try:
            component = load_reference(reference)
        except (ImportError, AttributeError) as exc:
            raise PluginError(
                f"{self.group} {name!r} ({reference}) cannot be loaded: {exc}"
            ) from exc
        if not isinstance(component, self.kind):
            raise PluginError(
                f"{self.group} {name!r} ({reference}) is a {type(component).__name__}, "
                f"not a {self.kind.__name__}"
            )
        self._loaded[name] = component
        return component

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._references

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def register(self, name: str, reference: str) -> None:
        """Add a component by ``"module:attribute"`` (tests, embedding applications)."""
        self._discover()
        if name in self._references:
            raise PluginError(f"{self.group} {name!r} is already registered")
        self._references[name] = reference
