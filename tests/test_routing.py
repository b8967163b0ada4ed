"""Routing: ``ship --routes`` sends every event to cold storage and only flagged events to
the SIEM sink. Checked on data against an independent oracle: the flags computed in plain
Python from the events and from the alerts of a separate ``llmsiem detect`` run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from llmsiem.cli.main import cli
from llmsiem.connectors.registry import SINKS
from llmsiem.pipeline.routing import RoutesError, load_routes
from llmsiem.resources import content_dir, demo_telemetry
from llmsiem.rule_samples import build_event

ROUTES = """
sinks:
  cold: {type: jsonl, dest: cold.jsonl}
  siem: {type: jsonl, dest: siem.jsonl}
routes:
  - {name: everything, to: cold}
  - name: flagged
    to: siem
    when:
      any:
        - alerted: true
        - {field: event.action, in: [tool_call, refusal]}
        - {field: llmsiem.guardrail.action, in: [block, redact, flag]}
  - name: tool calls again       # a second route to the same sink: still one copy
    to: [siem]
    when: {field: event.action, equals: tool_call}
"""
FLAGGED_ACTIONS = {"tool_call", "refusal"}
GUARDRAIL_HITS = {"block", "redact", "flag"}


@pytest.fixture(autouse=True)
def _away_from_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ship's default spool and dead letter land in the working directory: not the checkout."""
    monkeypatch.chdir(tmp_path)


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["event"]["id"] for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo telemetry shipped through the routes, and a separate detect run's alerts."""
    root = tmp_path_factory.mktemp("routing")
    (root / "routes.yml").write_text(ROUTES.replace("dest: ", f"dest: {root}/"))
    runner = CliRunner()
    source = str(demo_telemetry())
    dry = runner.invoke(
        cli, ["ship", source, "--routes", str(root / "routes.yml"), "--dry-run", "--format", "json"]
    )
    shipped = runner.invoke(
        cli,
        [
            "ship",
            source,
            "--routes",
            str(root / "routes.yml"),
            "--spool",
            str(root / "spool"),
            "--format",
            "json",
        ],
    )
    detected = runner.invoke(cli, ["detect", source, "--alerts", str(root / "alerts.jsonl")])
    assert detected.exit_code == 1, detected.output  # the demo has alerts
    return {"root": root, "dry": dry, "ship": shipped}


def test_every_event_to_cold_and_exactly_the_flagged_ones_to_the_siem(
    shipped: dict[str, Any],
) -> None:
    root = shipped["root"]
    assert shipped["ship"].exit_code == 0, shipped["ship"].output
    events = [json.loads(line) for line in demo_telemetry().read_text().splitlines()]
    alerts = [json.loads(line) for line in (root / "alerts.jsonl").read_text().splitlines()]
    cited = {i for a in alerts for i in a["llmsiem"]["alert"]["event_ids"]}

    def flagged(event: dict[str, Any]) -> bool:
        guardrail = (event.get("llmsiem") or {}).get("guardrail") or {}
        return (
            event["event"]["id"] in cited
            or event["event"]["action"] in FLAGGED_ACTIONS
            or guardrail.get("action") in GUARDRAIL_HITS
        )

    assert _ids(root / "cold.jsonl") == [e["event"]["id"] for e in events]
    expected = [e["event"]["id"] for e in events if flagged(e)]
    assert _ids(root / "siem.jsonl") == expected
    # each kind of flag contributes, and some events are flagged only by an alert
    only_alerted = [e for e in events if flagged(e) and e["event"]["action"] == "prompt"]
    assert only_alerted and len(expected) < len(events)
    report = json.loads(shipped["ship"].output)
    assert report["sinks"]["siem"]["delivered"] == len(expected)
    assert report["sinks"]["cold"]["delivered"] == len(events)


def test_dry_run_counts_what_ship_delivers_and_sends_nothing(shipped: dict[str, Any]) -> None:
    assert shipped["dry"].exit_code == 0, shipped["dry"].output
    dry = json.loads(shipped["dry"].output)
    root = shipped["root"]
    for name in ("cold", "siem"):
        lines = (root / f"{name}.jsonl").read_text().splitlines()
        assert dry["sinks"][name]["events"] == len(lines)
        assert dry["sinks"][name]["bytes"] == sum(len(line.encode()) for line in lines)
    assert dry["sinks"]["cold"]["bytes_pct"] == 100.0


def _router(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "routes.yml"
    path.write_text(text)
    return load_routes(path, SINKS.names())


def test_conditions_on_fields_lists_and_negation(tmp_path: Path) -> None:
    router = _router(
        tmp_path,
        """
sinks: {a: {type: jsonl, dest: a}, b: {type: jsonl, dest: b}, c: {type: jsonl, dest: c}}
routes:
  - name: secrets found
    to: a
    when: {field: llmsiem.redaction.types, in: [AWS_KEY]}
  - name: production prompts without a user
    to: b
    when:
      all:
        - {field: service.environment, equals: production}
        - {not: {field: user.id, exists: true}}
  - name: not alerted
    to: c
    when: {alerted: false}
""",
    )
    secret = build_event({"llmsiem.redaction.types": ["EMAIL", "AWS_KEY"]}, 1, "r")
    plain = build_event({"llmsiem.redaction.types": ["EMAIL"]}, 2, "r")
    anonymous = build_event({"service.environment": "production"}, 3, "r")
    anonymous.pop("user", None)
    assert router.destinations(secret) == ["a", "c"]  # AWS_KEY is one of the list's values
    assert router.destinations(secret, alerted=True) == ["a"]
    assert router.destinations(plain) == ["c"]
    assert router.destinations(plain, alerted=True) == []
    assert router.destinations(anonymous) == ["b", "c"]
    assert router.uses_alerts


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sinks: {a: {type: kafka}}\nroutes: [{name: x, to: a}]", "sinks.a.type: 'kafka'"),
        ("sinks: {a: {type: jsonl}}\nroutes: [{name: x, to: b}]", "routes.0.to: sink 'b'"),
        (
            "sinks: {a: {type: jsonl}}\nroutes: [{name: x, to: a, when: {field: usr.id, in: [1]}}]",
            "routes.0.when.field: Value error, 'usr.id' is not a field",
        ),
        (
            "sinks: {a: {type: jsonl}}\n"
            "routes: [{name: x, to: a, when: {all: [{field: user.id}]}}]",
            "routes.0.when.all.0: Value error, give exactly one of",
        ),
        ("sinks: {a: {type: jsonl}}\nroutes: [{name: x, to: a, when: {if: 1}}]", "routes.0.when:"),
        ("sinks: {a: {type: jsonl, path: x}}\nroutes: [{name: x, to: a}]", "sinks.a.path: Extra"),
        ("sinks: [", "not valid YAML"),
    ],
)
def test_bad_routes_files_name_the_file_and_the_field(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(RoutesError) as raised:
        _router(tmp_path, text)
    assert str(raised.value).startswith(f"{tmp_path / 'routes.yml'}: ")
    assert message in str(raised.value)
    (tmp_path / "in.jsonl").write_text(demo_telemetry().read_text().splitlines()[0] + "\n")
    result = CliRunner().invoke(
        cli, ["ship", str(tmp_path / "in.jsonl"), "--routes", str(tmp_path / "routes.yml")]
    )
    assert result.exit_code == 2 and message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_to_and_routes_exclude_each_other(tmp_path: Path) -> None:
    example = content_dir("connectors") / "routes.example.yml"
    both = ["ship", "--to", "jsonl", "--dest", "x", "--routes", str(example)]
    result = CliRunner().invoke(cli, both)
    assert result.exit_code == 2 and "either --to SINK or --routes FILE" in result.output
    result = CliRunner().invoke(cli, ["ship", "--to", "jsonl", "--dest", "x", "--dry-run"])
    assert result.exit_code == 2 and "--dry-run needs --routes" in result.output


def test_the_example_routes_file_is_valid() -> None:
    router = load_routes(content_dir("connectors") / "routes.example.yml", SINKS.names())
    assert [s.type for s in router.sinks.values()] == ["parquet", "elasticsearch"]
    assert router.uses_alerts


def test_collect_routes_alerted_events_when_the_alert_fires(tmp_path: Path) -> None:
    """The collector's own path: batches to the routed sinks, then the streaming engine;
    every event cited by an alert reaches the SIEM sink, exactly once, and nothing else does
    beyond the field-flagged events."""
    from llmsiem.collect.routed import RoutedFanout
    from llmsiem.collect.worker import Collector, Submission, TallyingDeadLetter
    from llmsiem.connectors.files import JsonlSink
    from llmsiem.engine.rules import compile_for_engine
    from llmsiem.engine.stream import Follower
    from llmsiem.metrics import Metrics
    from llmsiem.pipeline import Pipeline
    from llmsiem.pipeline.sources import NORMALIZED
    from llmsiem.rulepack import RulePack
    from llmsiem.scrub import Scrubber

    (tmp_path / "routes.yml").write_text(ROUTES.replace("dest: ", f"dest: {tmp_path}/"))
    router = load_routes(tmp_path / "routes.yml", SINKS.names())
    sinks = {name: JsonlSink(tmp_path / f"{name}.jsonl") for name in router.sinks}
    routed = RoutedFanout(dict(sinks), router)
    metrics = Metrics()
    letters = TallyingDeadLetter(None, metrics)
    pipeline = Pipeline(Scrubber("redact"), letters, NORMALIZED)
    alerts: list[dict[str, Any]] = []
    collector = Collector(pipeline, letters, metrics, fanout=routed)
    collector.attach_engine(
        Follower(compile_for_engine(RulePack.load(None)), pipeline, collector.emit)
    )
    collector.alert_handlers += [alerts.append, routed.on_alert]
    records = [json.loads(line) for line in demo_telemetry().read_text().splitlines()]
    for start in range(0, len(records), 100):
        collector.process(
            [Submission(f"t#{start}", NORMALIZED, records[start : start + 100], False)]
        )

    cited = {i for a in alerts for i in a["llmsiem"]["alert"]["event_ids"]}
    assert cited
    field_flagged = {
        r["event"]["id"]
        for r in records
        if r["event"]["action"] in FLAGGED_ACTIONS
        or ((r.get("llmsiem") or {}).get("guardrail") or {}).get("action") in GUARDRAIL_HITS
    }
    siem = _ids(tmp_path / "siem.jsonl")
    assert len(siem) == len(set(siem))  # once each, though flagged twice
    assert set(siem) == field_flagged | cited
    assert cited - field_flagged  # some reached the SIEM only through their alert
    assert _ids(tmp_path / "cold.jsonl") == [r["event"]["id"] for r in records]


def test_a_sink_that_is_down_keeps_its_share_and_the_others_are_delivered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMSIEM_RETRY_DEADLINE", "0.5")
    routes = tmp_path / "routes.yml"
    text = f"""
sinks:
  cold: {{type: jsonl, dest: {tmp_path}/cold.jsonl}}
  siem: {{type: elasticsearch, dest: "http://127.0.0.1:9"}}
routes:
  - {{name: all, to: cold}}
  - {{name: tools, to: siem, when: {{field: event.action, equals: tool_call}}}}
"""
    routes.write_text(text)
    source = str(demo_telemetry())
    spool = ["--spool", str(tmp_path / "spool")]
    down = CliRunner().invoke(cli, ["ship", source, "--routes", str(routes), *spool])
    assert down.exit_code == 2 and "siem: " in down.output and "stay in" in down.output
    records = [json.loads(line) for line in demo_telemetry().read_text().splitlines()]
    assert _ids(tmp_path / "cold.jsonl") == [r["event"]["id"] for r in records]
    routes.write_text(
        text.replace(
            '{type: elasticsearch, dest: "http://127.0.0.1:9"}',
            f"{{type: jsonl, dest: {tmp_path}/siem.jsonl}}",
        )
    )
    up = CliRunner().invoke(cli, ["ship", "--routes", str(routes), *spool, "--format", "json"])
    assert up.exit_code == 0, up.output
    tools = [r["event"]["id"] for r in records if r["event"]["action"] == "tool_call"]
    assert _ids(tmp_path / "siem.jsonl") == tools  # the waiting share, once, in order
    assert json.loads(up.output)["sinks"]["cold"]["delivered"] == 0
