"""Kibana saved objects: data views, one aggregation-based visualization per panel, a dashboard.

The NDJSON is the body of ``POST /api/saved_objects/_import`` (one object per line: ``type``,
``id``, ``attributes``, ``references``). Objects carry no migration version, so Kibana runs
its migrations on import as it does for an export of an older release. Every cross-object
link is a reference (``kibanaSavedObjectMeta.searchSourceJSON.index`` for a visualization's
data view, ``<panel>:panel_<panel>`` for a dashboard panel), as Kibana's exports write them.
Telemetry panels read the ``logs-llm*`` data view; alert panels read the Elastic Security
alerts alias of the default space, filtered to the rules ``llmsiem deploy elastic`` installs
(tag ``llmsiem``). The alias is named exactly: its indices are hidden, so a wildcard would not
expand to them.
"""

from __future__ import annotations

import json
from typing import Any

from llmsiem.dashboards.description import Dashboard, EventQuery, Panel, layout, quoted

EVENTS_VIEW = {"id": "llmsiem-logs-llm", "title": "logs-llm*", "name": "llmsiem events"}
ALERTS_VIEW = {
    "id": "llmsiem-security-alerts",
    "title": ".alerts-security.alerts-default",
    "name": "llmsiem alerts (Elastic Security)",
}
ALERTS_QUERY = 'kibana.alert.rule.tags:"llmsiem"'
ALERT_FIELDS = {"rule": "kibana.alert.rule.name"}
GRID_SCALE = 2  # Kibana's dashboard grid has 48 columns
PANEL_HEIGHT = 15
INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"
VIS_TYPES = {"timeseries": "line", "bar": "horizontal_bar", "table": "table", "stat": "metric"}


def lucene_filter(query: EventQuery) -> str:
    """The panel's filter in Lucene query syntax (every pair must hold), which the tests run
    on real Lucene; ``""`` matches every event."""
    if query.source == "alerts":
        return ALERTS_QUERY
    return " AND ".join(f"{field}:{_lucene_value(value)}" for field, value in query.filter.items())


def _lucene_value(value: str | bool | tuple[str, ...]) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return "(" + " OR ".join(map(quoted, value)) + ")"
    return quoted(value)


def split_field(query: EventQuery) -> str | None:
    """The field the panel splits by, in the index it reads."""
    if query.by is None or query.source == "telemetry":
        return query.by
    return ALERT_FIELDS[query.by]


def _metrics(query: EventQuery) -> list[dict[str, Any]]:
    if query.measure == "count":
        return [{"id": "1", "enabled": True, "type": "count", "schema": "metric", "params": {}}]
    return [
        {
            "id": str(number),
            "enabled": True,
            "type": "sum",
            "schema": "metric",
            "params": {"field": field, "customLabel": field.rsplit(".", 1)[-1]},
        }
        for number, field in enumerate(query.fields, start=1)
    ]


def _buckets(panel: Panel, query: EventQuery, first_id: int) -> list[dict[str, Any]]:
    buckets: list[dict[str, Any]] = []
    if query.over_time:
        buckets.append(
            {
                "id": str(first_id),
                "enabled": True,
                "type": "date_histogram",
                "schema": "segment",
                "params": {"field": "@timestamp", "interval": "auto", "min_doc_count": 1},
            }
        )
    field = split_field(query)
    if field is not None:
        schema = "group" if query.over_time else ("bucket" if panel.chart == "table" else "segment")
        buckets.append(
            {
                "id": str(first_id + len(buckets)),
                "enabled": True,
                "type": "terms",
                "schema": schema,
                "params": {"field": field, "size": query.top, "order": "desc", "orderBy": "1"},
            }
        )
    return buckets


def _visualization(panel: Panel, query: EventQuery) -> dict[str, Any]:
    metrics = _metrics(query)
    vis_type = VIS_TYPES[panel.chart]
    params: dict[str, Any] = {"type": vis_type, "addTooltip": True, "addLegend": True}
    if vis_type == "line":  # one line per metric; the type's defaults fill in the axes
        params["seriesParams"] = [
            {
                "show": True,
                "type": "line",
                "mode": "normal",
                "data": {"id": metric["id"], "label": metric["params"].get("customLabel", "Count")},
                "valueAxis": "ValueAxis-1",
                "drawLinesBetweenPoints": True,
                "showCircles": True,
            }
            for metric in metrics
        ]
    vis_state = {
        "title": panel.title,
        "type": vis_type,
        "params": params,
        "aggs": metrics + _buckets(panel, query, len(metrics) + 1),
    }
    view = ALERTS_VIEW if query.source == "alerts" else EVENTS_VIEW
    search = {
        "query": {"query": lucene_filter(query), "language": "lucene"},
        "filter": [],
        "indexRefName": INDEX_REF,
    }
    return {
        "type": "visualization",
        "id": f"llmsiem-{panel.name.replace('_', '-')}",
        "attributes": {
            "title": f"llmsiem: {panel.title}",
            "description": panel.question,
            "visState": json.dumps(vis_state),
            "uiStateJSON": "{}",
            "version": 1,
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(search)},
        },
        "references": [{"name": INDEX_REF, "type": "index-pattern", "id": view["id"]}],
    }


def _data_view(view: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "index-pattern",
        "id": view["id"],
        "attributes": {"title": view["title"], "name": view["name"], "timeFieldName": "@timestamp"},
        "references": [],
    }


def saved_objects(description: Dashboard) -> list[dict[str, Any]]:
    """Data views, then visualizations, then the dashboard (dependencies first)."""
    pairs = description.event_panels()
    panels = [panel for panel, _ in pairs]
    visualizations = [_visualization(panel, query) for panel, query in pairs]
    grid = []
    references = []
    for (panel, x, y), visualization in zip(
        layout(panels, PANEL_HEIGHT), visualizations, strict=True
    ):
        index = panel.name
        grid.append(
            {
                "type": "visualization",
                "panelIndex": index,
                "gridData": {
                    "x": x * GRID_SCALE,
                    "y": y,
                    "w": panel.width * GRID_SCALE,
                    "h": PANEL_HEIGHT,
                    "i": index,
                },
                "embeddableConfig": {},
                "panelRefName": f"panel_{index}",
            }
        )
        references.append(
            {"name": f"{index}:panel_{index}", "type": "visualization", "id": visualization["id"]}
        )
    dashboard = {
        "type": "dashboard",
        "id": description.uid,
        "attributes": {
            "title": f"llmsiem: {description.title}",
            "description": description.description,
            "panelsJSON": json.dumps(grid),
            "optionsJSON": json.dumps(
                {"useMargins": True, "syncColors": False, "hidePanelTitles": False}
            ),
            "timeRestore": True,
            "timeFrom": description.time_from,
            "timeTo": "now",
            "refreshInterval": {"pause": True, "value": 60000},
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": json.dumps(
                    {"query": {"query": "", "language": "lucene"}, "filter": []}
                )
            },
            "version": 1,
        },
        "references": references,
    }
    used = {ref["id"] for visualization in visualizations for ref in visualization["references"]}
    data_views = [_data_view(view) for view in (EVENTS_VIEW, ALERTS_VIEW) if view["id"] in used]
    return [*data_views, *visualizations, dashboard]


def to_ndjson(objects: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(obj, ensure_ascii=False) + "\n" for obj in objects)
