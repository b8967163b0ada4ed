"""The dashboard description (``llmsiem-overview.yaml``): panels, their questions and queries.

Every generated dashboard (Grafana, Kibana, Splunk) reads this one model, so they stay in step.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DESCRIPTION_FILE = "llmsiem-overview.yaml"
GRID_COLUMNS = 24  # Grafana's grid; the other targets scale from it


class DescriptionError(ValueError):
    """The description file is unreadable or breaks a rule (message names file and field)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromQuery(_Strict):
    """One PromQL query of a Grafana panel (Grafana's ``$__rate_interval``/``$__range`` allowed)."""

    expr: str = Field(min_length=1)
    legend: str


class EventQuery(_Strict):
    """What a Kibana visualization and a Splunk panel count or sum over the events."""

    source: Literal["telemetry", "alerts"] = "telemetry"
    filter: dict[str, str | bool | tuple[str, ...]] = Field(default_factory=dict)
    measure: Literal["count", "sum"]
    fields: tuple[str, ...] = ()
    by: str | None = None
    over_time: bool
    top: int = Field(default=10, ge=1, le=100)

    @model_validator(mode="after")
    def _consistent(self) -> EventQuery:
        if (self.measure == "sum") != bool(self.fields):
            raise ValueError("measure 'sum' needs `fields`; 'count' takes none")
        if not self.over_time and self.by is None:
            raise ValueError("a top-N panel (over_time: false) needs `by`")
        if self.source == "alerts" and (self.by not in (None, "rule") or self.filter):
            raise ValueError("alerts panels split only `by: rule` and take no filter")
        return self


class Panel(_Strict):
    """One panel: the question it answers and its query per kind of backend."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1)
    question: str = Field(min_length=1)
    chart: Literal["timeseries", "bar", "stat", "table"]
    width: int = Field(ge=3, le=GRID_COLUMNS)
    unit: str = "short"
    prometheus: tuple[PromQuery, ...] = ()
    events: EventQuery | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Panel:
        if not self.prometheus and self.events is None:
            raise ValueError("a panel needs `prometheus`, `events` or both")
        if self.prometheus and self.chart == "table":
            raise ValueError("Grafana panels here are timeseries, bar or stat, not table")
        if self.events is not None and (self.chart == "timeseries") != self.events.over_time:
            raise ValueError("chart 'timeseries' goes with events.over_time: true, and only it")
        return self


class Dashboard(_Strict):
    """The whole description."""

    title: str
    uid: str = Field(pattern=r"^[a-z0-9-]{3,40}$")
    description: str
    time_from: str = Field(pattern=r"^now-\d+[mhdw]$")
    panels: tuple[Panel, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Dashboard:
        names = [panel.name for panel in self.panels]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"panel names repeat: {', '.join(repeated)}")
        return self

    def grafana_panels(self) -> list[Panel]:
        return [panel for panel in self.panels if panel.prometheus]

    def event_panels(self) -> list[tuple[Panel, EventQuery]]:
        return [(panel, panel.events) for panel in self.panels if panel.events is not None]


def load_dashboard(path: Path | None = None) -> Dashboard:
    """The packaged description, or the one at ``path``."""
    if path is None:
        source = resources.files("llmsiem.dashboards").joinpath(DESCRIPTION_FILE)
        name, text = DESCRIPTION_FILE, source.read_text(encoding="utf-8")
    else:
        try:
            name, text = str(path), path.read_text(encoding="utf-8")
        except OSError as exc:
            raise DescriptionError(f"{path}: {exc.strerror or exc}") from exc
    try:
        return Dashboard.model_validate(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise DescriptionError(f"{name}: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '(top)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise DescriptionError(f"{name}: {problems}") from exc


def quoted(value: str) -> str:
    """A double-quoted literal with backslash escapes, as SPL and Lucene both write one."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def layout(panels: list[Panel], height: int) -> list[tuple[Panel, int, int]]:
    """``(panel, x, y)`` on a 24-column grid: panels fill a row left to right, then wrap."""
    placed: list[tuple[Panel, int, int]] = []
    x = y = 0
    for panel in panels:
        if x + panel.width > GRID_COLUMNS:
            x, y = 0, y + height
        placed.append((panel, x, y))
        x += panel.width
    return placed
