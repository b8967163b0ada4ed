"""Dashboards from one description: Grafana JSON, Kibana saved objects, Splunk Simple XML.

Checked by what they do where an engine is at hand: every Grafana PromQL query runs in
Prometheus's own engine (``promtool test rules``, Debian's ``prometheus`` package) on series
whose answers are worked out by hand; every Splunk panel's event search runs in the SPL
evaluator on the demo telemetry against the description's filter; Kibana objects follow the
saved-objects import rules (Kibana's dashboard attribute schema, references that resolve) and
aggregate only fields the shipped index template maps as aggregatable. The Grafana JSON is
rendered (a static preview of its grid, titles and queries) in headless Chromium.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import yaml

from llmsiem.conformance.spl import parse_search, splunk_event
from llmsiem.connectors.deploy import DeployPlan, KibanaDeployer
from llmsiem.connectors.elastic import index_template
from llmsiem.dashboards.description import DescriptionError, EventQuery, load_dashboard
from llmsiem.dashboards.grafana import DATASOURCE_VARIABLE, grafana_dashboard
from llmsiem.dashboards.kibana import (
    ALERT_FIELDS,
    lucene_filter,
    saved_objects,
    split_field,
    to_ndjson,
)
from llmsiem.dashboards.preview import preview_html
from llmsiem.dashboards.splunk import base_search, simple_xml, spl
from llmsiem.resources import demo_telemetry

CASSETTES = Path(__file__).parent / "cassettes"
KIBANA_URL = os.environ.get("LLMSIEM_TEST_KIBANA_URL", "http://kibana.test:5601")
DESCRIPTION = load_dashboard()
METRICS = {
    "llm_requests_total",
    "llm_tokens_total",
    "llm_request_duration_seconds_bucket",
    "llm_cost_usd_total",
    "llm_refusals_total",
    "llmsiem_alerts_total",
    "llmsiem_guardrail_blocks_total",
    "llmsiem_events_dead_lettered_total",
    "llmsiem_sink_retries_total",
}


# -- the description --------------------------------------------------------------------------


def test_a_broken_description_names_the_file_and_field(tmp_path: Path) -> None:
    text = (
        "title: t\nuid: test-dash\ndescription: d\ntime_from: now-1h\npanels:\n"
        "  - {name: p, title: P, question: Which one, chart: bar, width: 12,\n"
        "     events: {measure: sum, by: user.id, over_time: false}}\n"
    )
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(DescriptionError, match=r"broken\.yaml: panels\.0\.events: .*'sum' needs"):
        load_dashboard(path)
    with pytest.raises(DescriptionError, match=r"missing\.yaml"):
        load_dashboard(tmp_path / "missing.yaml")
    path.write_text(
        text.replace(
            "events: {measure: sum, by: user.id, over_time: false}",
            "prometheus: [{expr: up, legend: x}]",
        ).replace("chart: bar", "chart: table")
    )
    with pytest.raises(DescriptionError, match=r"panels\.0: .*not table"):
        load_dashboard(path)


def test_every_target_shows_the_described_panels_in_order() -> None:
    grafana = [p["title"] for p in grafana_dashboard(DESCRIPTION)["panels"]]
    assert grafana == [p.title for p in DESCRIPTION.panels if p.prometheus]
    assert "Refused responses" in grafana
    kibana = [o for o in saved_objects(DESCRIPTION) if o["type"] == "visualization"]
    assert [o["attributes"]["title"] for o in kibana] == [
        f"llmsiem: {p.title}" for p, _ in DESCRIPTION.event_panels()
    ]
    root = ET.fromstring(simple_xml(DESCRIPTION, "llmsiem"))
    assert [t.text for t in root.iter("title")] == [p.title for p, _ in DESCRIPTION.event_panels()]
    wanted = {"Alerts by rule", "Refused responses", "Top users", "Top API keys", "Token spend"}
    assert wanted | {"Guardrail blocks"} <= {p.title for p, _ in DESCRIPTION.event_panels()}


# -- Grafana ----------------------------------------------------------------------------------


def _box(grid: dict[str, int]) -> tuple[int, int, int, int]:
    return grid["x"], grid["y"], grid["w"], grid["h"]


def _overlaps(boxes: list[tuple[int, int, int, int]]) -> bool:
    cells = [(x + i, y + j) for x, y, w, h in boxes for i in range(w) for j in range(h)]
    return len(cells) != len(set(cells))


def test_grafana_dashboard_follows_the_json_model() -> None:
    """Grafana's dashboard JSON model: a 24-column grid, unique panel ids, each query's data
    source a variable the dashboard defines, only the metrics llmsiem exposes."""
    dashboard = grafana_dashboard(DESCRIPTION)
    assert dashboard["schemaVersion"] >= 36 and dashboard["uid"] == DESCRIPTION.uid
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables[DATASOURCE_VARIABLE]["type"] == "datasource"
    assert variables[DATASOURCE_VARIABLE]["query"] == "prometheus"
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    boxes = [_box(p["gridPos"]) for p in panels]
    assert all(x >= 0 and x + w <= 24 and w > 0 and h > 0 for x, _, w, h in boxes)
    assert not _overlaps(boxes)
    used: set[str] = set()
    for panel in panels:
        assert panel["type"] in {"timeseries", "bargauge", "stat"}
        for target in [panel, *panel["targets"]]:
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        for target in panel["targets"]:
            assert target["instant"] != target["range"]
            used |= set(re.findall(r"\b(llm(?:siem)?_[a-z_]+)\b", target["expr"]))
    assert used == METRICS


# Series (one sample a minute for 20 minutes) and, per panel and query, the answer at 10m
# worked out by hand with $__rate_interval = 2m and $__range = 10m.
SERIES = {
    'llm_requests_total{model="gpt-4o",provider="openai"}': "0+10x20",
    'llm_refusals_total{model="gpt-4o",provider="openai"}': "0+2x20",
    'llm_tokens_total{model="gpt-4o",provider="openai",direction="input"}': "0+600x20",
    'llm_tokens_total{model="gpt-4o",provider="openai",direction="output"}': "0+120x20",
    'llm_request_duration_seconds_bucket{model="gpt-4o",provider="openai",le="0.5"}': "0+5x20",
    'llm_request_duration_seconds_bucket{model="gpt-4o",provider="openai",le="1"}': "0+10x20",
    'llm_request_duration_seconds_bucket{model="gpt-4o",provider="openai",le="+Inf"}': "0+10x20",
    'llm_cost_usd_total{model="gpt-4o",provider="openai"}': "0+0.5x20",
    'llmsiem_alerts_total{rule="model_refusal",level="low"}': "0+1x20",
    "llmsiem_guardrail_blocks_total": "0+3x20",
    "llmsiem_events_dead_lettered_total": "0+0x20",
    "llmsiem_sink_retries_total": "0+4x20",
}
EXPECTED: dict[tuple[str, str], list[tuple[str, float]]] = {
    ("LLM requests", "A"): [('{model="gpt-4o",provider="openai"}', 10 / 60)],  # 10 a minute
    ("Refused responses", "A"): [('{model="gpt-4o",provider="openai"}', 4)],  # 2 a minute x 2m
    ("Refusal ratio", "A"): [("{}", 0.2)],  # 2 of 10
    # rank 0.95 x 10 = 9.5 lies in (0.5, 1] holding 5 of 10: 0.5 + 0.5 x (9.5 - 5) / 5
    ("Request latency (p95)", "A"): [('{model="gpt-4o"}', 0.95)],
    ("Spend (USD)", "A"): [('{model="gpt-4o"}', 5)],  # 0.5 a minute x 10m
    ("Token spend", "A"): [('{direction="input"}', 10), ('{direction="output"}', 2)],
    ("Guardrail blocks", "A"): [("{}", 6)],
    ("Alerts by rule", "A"): [('{level="low",rule="model_refusal"}', 10)],
    ("Dead letters and sink retries", "A"): [("{}", 0)],
    ("Dead letters and sink retries", "B"): [("{}", 8)],
}
GRAFANA_MACROS = {"$__rate_interval": "2m", "$__range": "10m"}


def test_every_promql_query_gives_the_worked_answer_in_prometheus(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: install Debian's prometheus package (make prometheus)"
    tests = []
    for panel in grafana_dashboard(DESCRIPTION)["panels"]:
        for target in panel["targets"]:
            key = (panel["title"], target["refId"])
            assert key in EXPECTED, f"no worked answer for {key}: add one to EXPECTED"
            expr = target["expr"]
            for macro, value in GRAFANA_MACROS.items():
                expr = expr.replace(macro, value)
            tests.append(
                {
                    "expr": expr,
                    "eval_time": "10m",
                    "exp_samples": [{"labels": lbl, "value": v} for lbl, v in EXPECTED[key]],
                }
            )
    assert len(tests) == len(EXPECTED)
    (tmp_path / "rules.yml").write_text("groups: []\n")
    spec = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": s, "values": v} for s, v in SERIES.items()],
                "promql_expr_test": tests,
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(spec, sort_keys=False))
    run = subprocess.run(
        [promtool, "test", "rules", "test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_grafana_preview_renders_in_headless_chromium(tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is missing: run `make chromium` (Debian package chromium)"
    dashboard = grafana_dashboard(DESCRIPTION)
    page = tmp_path / "preview.html"
    page.write_text(preview_html(dashboard), encoding="utf-8")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    for panel in dashboard["panels"]:
        assert f'data-id="{panel["id"]}"' in dom and f"<h2>{panel['title']}</h2>" in dom
    assert "llm_refusals_total" in dom
    shot = tmp_path / "grafana-preview.png"
    subprocess.run(
        [chromium, *flags, "--window-size=1260,1000", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


# -- Kibana -----------------------------------------------------------------------------------

# Attribute schemas Kibana validates on import, unknown keys forbidden: the dashboard type's
# (dashboard_saved_object/schema/v1) and the visualization type's (saved_objects/
# visualization.ts, '8.8.0'); index-pattern attributes as data views store them.
DASHBOARD_ATTRIBUTES: dict[str, type | tuple[type, ...]] = {
    "title": str, "description": str, "kibanaSavedObjectMeta": dict, "timeRestore": bool,
    "timeFrom": str, "timeTo": str, "refreshInterval": dict, "controlGroupInput": dict,
    "panelsJSON": str, "optionsJSON": str, "hits": int, "version": int,
}  # fmt: skip
VISUALIZATION_ATTRIBUTES: dict[str, type | tuple[type, ...]] = {
    "title": str, "description": str, "version": int, "kibanaSavedObjectMeta": dict,
    "uiStateJSON": str, "visState": str, "savedSearchRefName": str,
}  # fmt: skip
INDEX_PATTERN_ATTRIBUTES: dict[str, type | tuple[type, ...]] = {
    "title": str, "name": str, "timeFieldName": str, "fields": str, "fieldFormatMap": str,
}  # fmt: skip
AGGREGATABLE = {"keyword", "long", "double", "date", "boolean", "ip"}


def _mapped_types() -> dict[str, str]:
    types: dict[str, str] = {}

    def walk(properties: dict[str, Any], prefix: str) -> None:
        for name, mapping in properties.items():
            if "properties" in mapping:
                walk(mapping["properties"], f"{prefix}{name}.")
            else:
                types[f"{prefix}{name}"] = mapping["type"]

    walk(index_template()["template"]["mappings"]["properties"], "")
    return types


def test_kibana_objects_follow_the_saved_objects_import_rules() -> None:
    lines = to_ndjson(saved_objects(DESCRIPTION)).splitlines()
    objects = [json.loads(line) for line in lines]
    ids = {(o["type"], o["id"]) for o in objects}
    assert len(ids) == len(objects), "type/id pairs repeat"
    allowed = {
        "dashboard": DASHBOARD_ATTRIBUTES,
        "visualization": VISUALIZATION_ATTRIBUTES,
        "index-pattern": INDEX_PATTERN_ATTRIBUTES,
    }
    for obj in objects:
        assert set(obj) <= {"type", "id", "attributes", "references"}
        attributes = obj["attributes"]
        schema = allowed[obj["type"]]
        assert set(attributes) <= set(schema), obj["id"]
        for key, value in attributes.items():
            assert isinstance(value, schema[key]), (obj["id"], key)
        for key, value in attributes.get("kibanaSavedObjectMeta", {}).items():
            assert key == "searchSourceJSON" and isinstance(value, str)
        assert isinstance(attributes["title"], str) and attributes["title"]
        for ref in obj["references"]:  # Kibana's import refuses missing references
            assert (ref["type"], ref["id"]) in ids, (obj["id"], ref)
        names = {ref["name"] for ref in obj["references"]}
        meta = attributes.get("kibanaSavedObjectMeta", {})
        search = json.loads(meta.get("searchSourceJSON", "{}"))
        assert search.get("indexRefName", next(iter(names), None)) in names | {None}
        if obj["type"] == "visualization":
            state = json.loads(attributes["visState"])
            assert state["type"] in {"line", "horizontal_bar", "table", "metric"}
            assert [a["id"] for a in state["aggs"]] == [
                str(n) for n in range(1, len(state["aggs"]) + 1)
            ]
            metrics = [a["id"] for a in state["aggs"] if a["schema"] == "metric"]
            if state["type"] == "line":
                assert [s["data"]["id"] for s in state["params"]["seriesParams"]] == metrics
            json.loads(attributes["uiStateJSON"])
        if obj["type"] == "dashboard":
            panels = json.loads(attributes["panelsJSON"])
            json.loads(attributes["optionsJSON"])
            for panel in panels:
                assert f"{panel['panelIndex']}:{panel['panelRefName']}" in names
            boxes = [_box(p["gridData"]) for p in panels]
            assert all(x + w <= 48 for x, _, w, _ in boxes)
            assert not _overlaps(boxes)


def test_kibana_panels_aggregate_mapped_fields_of_the_index_template() -> None:
    types = _mapped_types()
    for panel, query in DESCRIPTION.event_panels():
        if query.source == "alerts":
            assert split_field(query) == ALERT_FIELDS["rule"] == "kibana.alert.rule.name"
            continue
        fields = [*query.fields, *query.filter, *([query.by] if query.by else [])]
        for field in fields:
            assert types.get(field) in AGGREGATABLE, (panel.name, field, types.get(field))
        for field in query.filter:
            assert field in lucene_filter(query)


def _records() -> list[dict[str, Any]]:
    return [json.loads(line) for line in demo_telemetry().read_text().splitlines()]


def _flat(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _holds(query: EventQuery, event: dict[str, Any]) -> bool:
    """The description's filter, read literally: every field equals (one of) its values."""
    for field, wanted in query.filter.items():
        value = event.get(field)
        if isinstance(wanted, tuple) and value not in wanted:
            return False
        if not isinstance(wanted, tuple) and value != wanted:
            return False
    return True


def test_kibana_panel_filters_select_the_described_events_in_real_lucene() -> None:
    """Each visualization's query (Lucene syntax, as its searchSourceJSON stores it), run by
    real Lucene 9.5.0 over the demo telemetry indexed as the shipped template maps it, selects
    exactly the events the description's filter names."""
    from llmsiem.compiler.lucene_jvm import start_jvm
    from llmsiem.conformance.lucene import LuceneIndex, template_fields

    start_jvm()
    records = _records()
    index = LuceneIndex(records, template_fields())
    every = {r["event"]["id"] for r in records}
    queries = {
        obj["attributes"]["title"]: json.loads(
            obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"]
        )["query"]
        for obj in saved_objects(DESCRIPTION)
        if obj["type"] == "visualization"
    }
    checked = 0
    for panel, query in DESCRIPTION.event_panels():
        stored = queries[f"llmsiem: {panel.title}"]
        assert stored["language"] == "lucene"
        if query.source == "alerts":
            continue
        found = index.search(stored["query"]) if stored["query"] else every
        wanted = {r["event"]["id"] for r in records if _holds(query, _flat(r))}
        assert found == wanted and found, panel.name
        checked += 1
    assert checked >= 5


# -- Splunk -----------------------------------------------------------------------------------


def test_splunk_panel_searches_select_the_described_events() -> None:
    """Each panel's event search, run by the SPL evaluator on the demo telemetry as HEC
    indexes it, selects exactly the events the description's filter names."""
    records = _records()
    events = [splunk_event(record) for record in records]
    checked = 0
    for panel, query in DESCRIPTION.event_panels():
        if query.source == "alerts":
            assert base_search(query, "llmsiem").startswith('index="_audit" action="alert_fired"')
            assert "by ss_name" in spl(query, "llmsiem")
            continue
        selected = parse_search(base_search(query, "llmsiem")).run(events)
        found = {e["event.id"][0] for e in selected}
        wanted = {r["event"]["id"] for r in records if _holds(query, _flat(r))}
        assert found == wanted, panel.name
        assert len(found) > 0, f"{panel.name}: the demo telemetry has no such events"
        checked += 1
    assert checked >= 5


def test_splunk_dashboard_is_simple_xml_in_the_app(tmp_path: Path) -> None:
    from llmsiem.compiler.compile import compile_pack
    from llmsiem.compiler.output import write_result

    write_result(compile_pack("splunk-savedsearches"), tmp_path)
    app = tmp_path / "splunk-savedsearches" / "llmsiem"
    view = ET.parse(app / "default" / "data" / "ui" / "views" / "llmsiem_overview.xml").getroot()
    assert view.tag == "dashboard" and view.get("version") == "1.1"
    for row in view.iter("row"):
        assert 1 <= len(row.findall("panel")) <= 3
    queries = [q.text or "" for q in view.iter("query")]
    assert len(queries) == len(DESCRIPTION.event_panels())
    nav = ET.parse(app / "default" / "data" / "ui" / "nav" / "default.xml").getroot()
    assert nav.find("view[@default='true']").get("name") == "llmsiem_overview"  # type: ignore[union-attr]
    assert "is_visible = 1" in (app / "default" / "app.conf").read_text()


# -- deploy elastic: the saved-objects import -------------------------------------------------


def _capturing(deployer: KibanaDeployer) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    post = deployer.session.post

    def spy(url: str, **kwargs: Any) -> Any:
        sent.append({"url": url, **kwargs})
        return post(url, **kwargs)

    deployer.session.post = spy  # type: ignore[method-assign,assignment]
    return sent


@pytest.mark.vcr(str(CASSETTES / "kibana_saved_objects_import.handwritten.yaml"))
def test_deploy_imports_the_dashboard_saved_objects() -> None:
    objects = saved_objects(DESCRIPTION)
    ndjson = to_ndjson(objects)
    deployer = KibanaDeployer(KIBANA_URL, os.environ.get("LLMSIEM_TEST_KIBANA_API_KEY", "unused"))
    sent = _capturing(deployer)
    plan = DeployPlan()
    deployer.import_saved_objects(ndjson, plan)
    assert plan.errors == []
    assert plan.saved_objects == [f"{o['type']}/{o['id']}" for o in objects]
    (request,) = sent
    assert request["url"].endswith("/api/saved_objects/_import")
    assert request["params"] == {"overwrite": "true"}
    name, body, _ = request["files"]["file"]
    assert name.endswith(".ndjson") and body.decode() == ndjson


@pytest.mark.vcr(str(CASSETTES / "kibana_saved_objects_missing_reference.handwritten.yaml"))
def test_deploy_reports_objects_kibana_refused() -> None:
    deployer = KibanaDeployer(KIBANA_URL, os.environ.get("LLMSIEM_TEST_KIBANA_API_KEY", "unused"))
    plan = DeployPlan()
    deployer.import_saved_objects(to_ndjson(saved_objects(DESCRIPTION)), plan)
    assert plan.errors == [
        "visualization/llmsiem-alerts-by-rule: missing_references "
        "(index-pattern/llmsiem-security-alerts)"
    ]
    assert "visualization/llmsiem-alerts-by-rule" not in plan.saved_objects


@pytest.mark.vcr(str(CASSETTES / "kibana_deploy_with_dashboard.handwritten.yaml"))
def test_deploy_elastic_imports_rules_then_the_dashboard(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from llmsiem.cli.main import cli

    monkeypatch.setenv("LLMSIEM_KIBANA_URL", KIBANA_URL)
    monkeypatch.setenv("LLMSIEM_KIBANA_API_KEY", os.environ.get("LLMSIEM_TEST_KIBANA_API_KEY", "x"))
    result = CliRunner().invoke(cli, ["deploy", "elastic", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["errors"] == [] and report["update"]
    assert report["saved_objects"][-1] == f"dashboard/{DESCRIPTION.uid}"
    assert len(report["saved_objects"]) == len(saved_objects(DESCRIPTION))


def test_the_committed_grafana_copy_is_current() -> None:
    """docs/dashboards holds what `llmsiem setup grafana --out docs/dashboards` writes."""
    docs = Path(__file__).resolve().parents[1] / "docs" / "dashboards"
    dashboard = grafana_dashboard(DESCRIPTION)
    committed = json.loads((docs / "llmsiem-overview.json").read_text(encoding="utf-8"))
    assert committed == dashboard, "regenerate: llmsiem setup grafana --out docs/dashboards"
    preview = (docs / "llmsiem-overview-preview.html").read_text(encoding="utf-8")
    assert preview == preview_html(dashboard)
