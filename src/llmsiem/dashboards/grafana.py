"""The Grafana dashboard (JSON model, schemaVersion 39) over llmsiem's Prometheus metrics.

Import it through Grafana's *Dashboards > New > Import* or provision it from a file: the
Prometheus data source is a dashboard variable (``datasource``), so neither needs editing.
Time series panels run range queries; bar and stat panels run one instant query over the
dashboard's range (``$__range``).
"""

from __future__ import annotations

from typing import Any

from llmsiem.dashboards.description import Dashboard, Panel, layout

SCHEMA_VERSION = 39  # Grafana 10.4 / 11.0 JSON model
PANEL_HEIGHT = 8
DATASOURCE_VARIABLE = "datasource"
DATASOURCE = {"type": "prometheus", "uid": f"${{{DATASOURCE_VARIABLE}}}"}
PANEL_TYPES = {"timeseries": "timeseries", "bar": "bargauge", "stat": "stat"}


def _options(panel: Panel) -> dict[str, Any]:
    """The panel plugin's options, every one its schema requires (Grafana's defaults where
    llmsiem has no preference)."""
    legend = {"calcs": [], "displayMode": "list", "placement": "bottom", "showLegend": True}
    if panel.chart == "timeseries":
        return {"legend": legend, "tooltip": {"mode": "multi", "sort": "desc"}}
    reduce = {"calcs": ["lastNotNull"], "fields": "", "values": False}
    if panel.chart == "bar":
        return {
            "orientation": "horizontal",
            "displayMode": "basic",
            "valueMode": "color",
            "namePlacement": "auto",
            "showUnfilled": True,
            "sizing": "auto",
            "minVizWidth": 8,
            "minVizHeight": 16,
            "maxVizHeight": 300,
            "legend": {**legend, "showLegend": False},
            "reduceOptions": reduce,
        }
    return {
        "orientation": "auto",
        "colorMode": "value",
        "graphMode": "none",
        "justifyMode": "auto",
        "textMode": "auto",
        "wideLayout": True,
        "showPercentChange": False,
        "percentChangeColorMode": "standard",
        "reduceOptions": reduce,
    }


def _panel(panel: Panel, number: int, x: int, y: int) -> dict[str, Any]:
    instant = panel.chart != "timeseries"
    return {
        "id": number,
        "type": PANEL_TYPES[panel.chart],
        "title": panel.title,
        "description": panel.question,
        "gridPos": {"h": PANEL_HEIGHT, "w": panel.width, "x": x, "y": y},
        "datasource": DATASOURCE,
        "targets": [
            {
                "refId": chr(ord("A") + index),
                "datasource": DATASOURCE,
                "expr": query.expr,
                "legendFormat": query.legend,
                "instant": instant,
                "range": not instant,
            }
            for index, query in enumerate(panel.prometheus)
        ],
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": _options(panel),
    }


def grafana_dashboard(description: Dashboard) -> dict[str, Any]:
    """The dashboard JSON: one panel per described panel that has Prometheus queries."""
    placed = layout(description.grafana_panels(), PANEL_HEIGHT)
    return {
        "uid": description.uid,
        "title": description.title,
        "description": description.description,
        "tags": ["llmsiem", "llm", "security"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": description.time_from, "to": "now"},
        "refresh": "1m",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "links": [],
        "annotations": {"list": []},
        "templating": {
            "list": [
                {
                    "name": DATASOURCE_VARIABLE,
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "hide": 0,
                    "refresh": 1,
                    "regex": "",
                    "skipUrlSync": False,
                    "options": [],
                }
            ]
        },
        "panels": [
            _panel(panel, number, x, y) for number, (panel, x, y) in enumerate(placed, start=1)
        ],
    }
