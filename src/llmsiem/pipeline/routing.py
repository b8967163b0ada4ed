"""Routing: which sinks each event goes to, from one YAML routes file.

A pipeline stage after normalize, scrub, validate and detection (Vector's sources ->
transforms -> sinks): a route is a condition on the event, and on whether an alert of the
run cites it, plus the name of a sink declared in the same file. An event goes to every
sink of every route it matches (once per sink); an event no route matches goes nowhere.

```yaml
sinks:
  cold: {type: parquet, dest: archive/}
  siem: {type: elasticsearch}
routes:
  - {name: everything, to: cold}                     # no `when`: every event
  - name: flagged
    to: siem
    when:
      any:
        - alerted: true                              # cited by an alert (detection runs first)
        - {field: event.action, in: [tool_call, guardrail, refusal]}
```

A condition is ``alerted: BOOL``, ``field: NAME`` with one of ``in``, ``equals`` or
``exists``, or ``any`` / ``all`` / ``not`` of conditions. Field names must be in the event
schema; sink types must be registered (``llmsiem sinks``). Errors name the file and field.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Annotated, Any, Union

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from llmsiem.columns import field_types
from llmsiem.event import get_dotted

Scalar = str | int | float | bool


class RoutesError(ValueError):
    """A routes file that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldCondition(_Strict):
    """A test on one schema field: value in a list, equal to a value, or present at all."""

    field: str
    in_: list[Scalar] | None = Field(default=None, alias="in")
    equals: Scalar | None = None
    exists: bool | None = None

    @field_validator("field")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in field_types():
            raise ValueError(f"{name!r} is not a field of the event schema (llmsiem schema fields)")
        return name

    @model_validator(mode="after")
    def _one_test(self) -> FieldCondition:
        given = [t for t in ("in_", "equals", "exists") if getattr(self, t) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of `in`, `equals` or `exists`")
        return self

    def matches(self, document: dict[str, Any], alerted: bool) -> bool:
        value = get_dotted(document, self.field)
        if self.exists is not None:
            return (value is not None) == self.exists
        wanted = self.in_ if self.in_ is not None else [self.equals]
        values = value if isinstance(value, list) else [value]
        return any(v is not None and v in wanted for v in values)


class AlertedCondition(_Strict):
    """True when an alert of the run cites the event (``llmsiem.alert.event_ids``)."""

    alerted: bool

    def matches(self, document: dict[str, Any], alerted: bool) -> bool:
        return alerted == self.alerted


class AnyCondition(_Strict):
    any: list[Condition] = Field(min_length=1)

    def matches(self, document: dict[str, Any], alerted: bool) -> bool:
        return any(c.matches(document, alerted) for c in self.any)


class AllCondition(_Strict):
    all: list[Condition] = Field(min_length=1)

    def matches(self, document: dict[str, Any], alerted: bool) -> bool:
        return all(c.matches(document, alerted) for c in self.all)


class NotCondition(_Strict):
    not_: Condition = Field(alias="not")

    def matches(self, document: dict[str, Any], alerted: bool) -> bool:
        return not self.not_.matches(document, alerted)


CONDITION_KEYS = {
    "field": "FieldCondition",
    "alerted": "AlertedCondition",
    "any": "AnyCondition",
    "all": "AllCondition",
    "not": "NotCondition",
}


def _condition_kind(value: Any) -> str | None:
    """Which condition a mapping is, by its key (``field``, ``alerted``, ``any`` ...)."""
    if isinstance(value, BaseModel):
        return type(value).__name__
    if isinstance(value, dict):
        return next((CONDITION_KEYS[k] for k in CONDITION_KEYS if k in value), None)
    return None


Condition = Annotated[
    Union[  # noqa: UP007
        Annotated[FieldCondition, Tag("FieldCondition")],
        Annotated[AlertedCondition, Tag("AlertedCondition")],
        Annotated[AnyCondition, Tag("AnyCondition")],
        Annotated[AllCondition, Tag("AllCondition")],
        Annotated[NotCondition, Tag("NotCondition")],
    ],
    Discriminator(
        _condition_kind,
        custom_error_type="condition",
        custom_error_message="a condition has one of the keys " + ", ".join(CONDITION_KEYS),
    ),
]
for _model in (AnyCondition, AllCondition, NotCondition):
    _model.model_rebuild()


class SinkSpec(_Strict):
    """A sink of the routes file: a registered sink type and its ``--dest``."""

    type: str
    dest: str | None = None


class Route(_Strict):
    name: str
    to: list[str] = Field(min_length=1)
    when: Condition | None = None

    @field_validator("to", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    def uses_alerts(self) -> bool:
        return self.when is not None and _uses_alerts(self.when)


class RoutesFile(_Strict):
    sinks: dict[str, SinkSpec] = Field(min_length=1)
    routes: list[Route] = Field(min_length=1)


def _uses_alerts(condition: Condition) -> bool:
    if isinstance(condition, AlertedCondition):
        return True
    if isinstance(condition, AnyCondition):
        return any(map(_uses_alerts, condition.any))
    if isinstance(condition, AllCondition):
        return any(map(_uses_alerts, condition.all))
    if isinstance(condition, NotCondition):
        return _uses_alerts(condition.not_)
    return False


class Router:
    """The routes of one file, applied to events."""

    def __init__(self, routes: RoutesFile) -> None:
        self.routes = routes
        self.sinks = routes.sinks
        self.uses_alerts = any(route.uses_alerts() for route in routes.routes)
        """Some route tests ``alerted``: detection must run before routing."""

    def destinations(self, document: dict[str, Any], alerted: bool = False) -> list[str]:
        """The sinks an event goes to, each once, in the order the file declares them."""
        chosen = {
            name
            for route in self.routes.routes
            if route.when is None or route.when.matches(document, alerted)
            for name in route.to
        }
        return [name for name in self.sinks if name in chosen]

    def split(
        self, documents: Iterable[dict[str, Any]], alerted_ids: Collection[str] = ()
    ) -> dict[str, list[dict[str, Any]]]:
        """Each sink's share of a batch (sinks with no event left out)."""
        shares: dict[str, list[dict[str, Any]]] = {}
        for document in documents:
            alerted = get_dotted(document, "event.id") in alerted_ids
            for name in self.destinations(document, alerted):
                shares.setdefault(name, []).append(document)
        return shares


def alerted_event_ids(alerts: Iterable[dict[str, Any]]) -> set[str]:
    """The ids of the events the alerts cite."""
    return {
        str(event_id)
        for alert in alerts
        for event_id in (get_dotted(alert, "llmsiem.alert.event_ids") or [])
    }


def _location(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as the file's field path (condition kinds left out)."""
    tags = set(CONDITION_KEYS.values())
    return ".".join(str(p) for p in loc if p not in tags) or "(top level)"


def load_routes(path: Path, sink_types: Collection[str]) -> Router:
    """Read and validate a routes file; ``RoutesError`` names the file and the field."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RoutesError(f"{path}: {exc.strerror or exc}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RoutesError(f"{path}: not valid YAML: {exc}") from exc
    try:
        routes = RoutesFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{_location(error['loc'])}: {error['msg']}" for error in exc.errors())
        raise RoutesError(f"{path}: {problems}") from None
    for index, route in enumerate(routes.routes):
        for name in route.to:
            if name not in routes.sinks:
                raise RoutesError(
                    f"{path}: routes.{index}.to: sink {name!r} is not declared under `sinks` "
                    f"({', '.join(routes.sinks)})"
                )
    for name, spec in routes.sinks.items():
        if spec.type not in sink_types:
            raise RoutesError(
                f"{path}: sinks.{name}.type: {spec.type!r} is not a registered sink "
                f"({', '.join(sorted(sink_types))})"
            )
    return Router(routes)
