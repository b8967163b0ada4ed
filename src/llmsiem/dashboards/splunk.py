"""The Splunk dashboard: Simple XML (``version="1.1"``) in the generated app's views.

Telemetry panels search ``index="llm" sourcetype="llmsiem:telemetry"``, where the HEC sink
and the compiled saved searches put and read events. The alerts panel counts the app's
triggered alerts in ``_audit`` (``action="alert_fired"``, ``ss_app``, ``ss_name``): the
saved searches set ``alert.track = 1``.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from llmsiem.dashboards.description import Dashboard, EventQuery, Panel, layout, quoted

VIEW_NAME = "llmsiem_overview"
TELEMETRY_SEARCH = 'index="llm" sourcetype="llmsiem:telemetry"'
ALERT_FIELDS = {"rule": "ss_name"}
CHART_TYPES = {"timeseries": "line", "bar": "bar", "stat": "singlevalue"}


def _term(field: str, value: str | bool | tuple[str, ...]) -> str:
    if isinstance(value, bool):
        return f"{field}={str(value).lower()}"
    if isinstance(value, tuple):
        return f"{field} IN ({', '.join(map(quoted, value))})"
    return f"{field}={quoted(value)}"


def base_search(query: EventQuery, app: str) -> str:
    """The search before the first pipe: which events the panel reads."""
    if query.source == "alerts":
        return f'index="_audit" action="alert_fired" ss_app="{app}"'
    terms = [_term(field, value) for field, value in query.filter.items()]
    return " ".join([TELEMETRY_SEARCH, *terms])


def spl(query: EventQuery, app: str) -> str:
    """The panel's whole search."""
    by = ALERT_FIELDS[query.by] if query.source == "alerts" and query.by else query.by
    if query.measure == "count":
        measures = ["count"]
        names = ["count"]
    else:
        names = [field.rsplit(".", 1)[-1] for field in query.fields]
        measures = [
            f"sum({field}) as {name}" for field, name in zip(query.fields, names, strict=True)
        ]
    if query.over_time:
        limit, split = (f"limit={query.top} ", f" by {by}") if by else ("", "")
        command = f"timechart {limit}{' '.join(measures)}{split}"
        return f"{base_search(query, app)} | {command}"
    rename = f' | rename {by} as "{query.by}"' if by != query.by else ""
    return (
        f"{base_search(query, app)} | stats {' '.join(measures)} by {by}"
        f" | sort - {names[0]} | head {query.top}{rename}"
    )


def _element(panel: Panel, query: EventQuery, app: str, earliest: str) -> ET.Element:
    kind = "table" if panel.chart == "table" else "chart"
    element = ET.Element(kind)
    ET.SubElement(element, "description").text = panel.question
    search = ET.SubElement(element, "search")
    ET.SubElement(search, "query").text = spl(query, app)
    ET.SubElement(search, "earliest").text = earliest
    ET.SubElement(search, "latest").text = "now"
    if kind == "chart":
        option = ET.SubElement(element, "option", name="charting.chart")
        option.text = CHART_TYPES[panel.chart]
    else:
        ET.SubElement(element, "option", name="count").text = str(query.top)
    return element


def simple_xml(description: Dashboard, app: str) -> str:
    """The dashboard's Simple XML: one row per row of the description's 24-column layout."""
    root = ET.Element("dashboard", version="1.1", theme="dark")
    ET.SubElement(root, "label").text = f"llmsiem: {description.title}"
    ET.SubElement(root, "description").text = description.description
    earliest = "-" + description.time_from.removeprefix("now-")
    pairs = description.event_panels()
    placed = layout([panel for panel, _ in pairs], height=1)
    rows: dict[int, ET.Element] = {}
    for (panel, query), (_, _, y) in zip(pairs, placed, strict=True):
        row = rows.get(y)
        if row is None:
            row = rows[y] = ET.SubElement(root, "row")
        node = ET.SubElement(row, "panel")
        ET.SubElement(node, "title").text = panel.title
        node.append(_element(panel, query, app, earliest))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def navigation(default_view: str = VIEW_NAME) -> str:
    """``default/data/ui/nav/default.xml``: the dashboard first, then Search."""
    root = ET.Element("nav", search_view="search")
    ET.SubElement(root, "view", name=default_view, default="true")
    ET.SubElement(root, "view", name="search")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"
