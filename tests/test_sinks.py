"""Sinks and deployers against recorded HTTP (vcrpy via pytest-recording), local sinks,
and the spool's at-least-once delivery across a killed shipper."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import pytest
import requests
import yaml
from click.testing import CliRunner
from elasticsearch import Elasticsearch

from llmsiem.cli.main import cli
from llmsiem.compiler.compile import compile_pack
from llmsiem.compiler.output import write_kibana
from llmsiem.connectors.deploy import KibanaDeployer
from llmsiem.connectors.elastic import (
    ElasticsearchSink,
    document_id,
    index_template,
    install_template,
)
from llmsiem.connectors.files import JsonlSink, ParquetSink
from llmsiem.connectors.sink import Delivery, RetryPolicy
from llmsiem.connectors.splunk_hec import SplunkHecSink, envelope
from llmsiem.connectors.spool import Spool
from llmsiem.deadletter import DeadLetter
from llmsiem.rule_samples import build_event
from sink_helpers import ListSink

CASSETTES = Path(__file__).parent / "cassettes"
ES_URL = os.environ.get("LLMSIEM_TEST_ES_URL", "http://es.test:9200")
KIBANA_URL = os.environ.get("LLMSIEM_TEST_KIBANA_URL", "http://kibana.test:5601")
HEC_URL = os.environ.get("LLMSIEM_TEST_SPLUNK_URL", "http://splunk.test:8088")


def _events(count: int) -> list[dict[str, Any]]:
    return [
        build_event({"event.id": f"evt-{n}", "llmsiem.prompt.text": f"hello {n}"}, n, "sink")
        for n in range(1, count + 1)
    ]


@pytest.mark.vcr(str(CASSETTES / "es_bulk.handwritten.yaml"))
def test_elasticsearch_bulk_accounts_for_every_item(tmp_path: Path) -> None:
    client = Elasticsearch(ES_URL, api_key=os.environ.get("LLMSIEM_TEST_ES_API_KEY", "unused"))
    dead = tmp_path / "dead.jsonl"
    with DeadLetter(dead) as letters:
        sink = ElasticsearchSink(client, letters, retry=RetryPolicy(initial=0.01))
        report = sink.send(_events(4))
    assert (report.sent, report.duplicate, report.dead_lettered) == (2, 1, 1)
    assert report.complete
    letters_written = [json.loads(line) for line in dead.read_text().splitlines()]
    assert "document_parsing_exception" in letters_written[0]["reason"]
    assert json.loads(letters_written[0]["raw"])["event"]["id"] == "evt-2"


def test_bulk_request_body_is_documented_ndjson() -> None:
    """Action line then source line, op_type create into the data stream, stable _id."""
    sent: list[bytes] = []

    class Capture(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            sent.append(self.rfile.read(int(self.headers["Content-Length"])))
            items = [
                {"create": {"_index": "logs-llm-default", "_id": document_id(e), "status": 201}}
                for e in _events(2)
            ]
            body = json.dumps({"took": 1, "errors": False, "items": items}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_PUT = do_POST  # noqa: N815 - elasticsearch-py sends _bulk as PUT

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = Elasticsearch(f"http://127.0.0.1:{server.server_port}")
        report = ElasticsearchSink(client, DeadLetter(None)).send(_events(2))
    finally:
        server.shutdown()
    assert report.sent == 2
    lines = [json.loads(line) for line in sent[0].decode().strip().split("\n")]
    assert len(lines) == 4
    action, source = lines[0], lines[1]
    assert action == {"create": {"_index": "logs-llm-default", "_id": document_id(source)}}
    assert source["event"]["id"] == "evt-1" and "@timestamp" in source


@pytest.mark.vcr(str(CASSETTES / "es_index_template.handwritten.yaml"))
def test_index_template_install_and_shape() -> None:
    template = index_template()
    assert template["index_patterns"] == ["logs-llm-*"] and template["data_stream"] == {}
    props = template["template"]["mappings"]["properties"]
    assert props["@timestamp"] == {"type": "date"}
    assert props["source"]["properties"]["ip"] == {"type": "ip"}
    assert props["gen_ai"]["properties"]["usage"]["properties"]["input_tokens"] == {"type": "long"}
    assert props["llmsiem"]["properties"]["prompt"]["properties"]["text"] == {"type": "wildcard"}
    client = Elasticsearch(ES_URL, api_key=os.environ.get("LLMSIEM_TEST_ES_API_KEY", "unused"))
    assert install_template(client) == {"acknowledged": True}


def test_hec_envelope_shape() -> None:
    (event,) = _events(1)
    wrapped = envelope(event, "llm", "host-1")
    assert wrapped["sourcetype"] == "llmsiem:telemetry" and wrapped["index"] == "llm"
    assert wrapped["event"] == event
    assert wrapped["time"] == pytest.approx(1795176010.0, abs=1)
    assert wrapped["fields"]["event.action"] == "prompt"
    assert set(wrapped) == {"time", "host", "source", "sourcetype", "index", "event", "fields"}


@pytest.mark.vcr(str(CASSETTES / "hec_busy_then_ok.handwritten.yaml"))
def test_hec_retries_when_busy() -> None:
    sink = SplunkHecSink(
        HEC_URL,
        os.environ.get("LLMSIEM_TEST_SPLUNK_HEC_TOKEN", "unused"),
        DeadLetter(None),
        retry=RetryPolicy(initial=0.01),
    )
    report = sink.send(_events(3))
    assert report.sent == 3 and report.retries == 1


@pytest.mark.vcr(str(CASSETTES / "hec_invalid_token.handwritten.yaml"))
def test_hec_invalid_token_is_fatal() -> None:
    sink = SplunkHecSink(HEC_URL, "wrong-token", DeadLetter(None), retry=RetryPolicy(initial=0.01))
    report = sink.send(_events(1))
    assert report.fatal is not None and "code 4" in report.fatal
    assert report.sent == 0 and not report.complete


@pytest.mark.vcr(str(CASSETTES / "hec_invalid_data.handwritten.yaml"))
def test_hec_bad_data_goes_to_dead_letter(tmp_path: Path) -> None:
    dead = tmp_path / "dead.jsonl"
    with DeadLetter(dead) as letters:
        report = SplunkHecSink(HEC_URL, "t", letters).send(_events(2))
    assert report.dead_lettered == 2 and report.complete
    assert len(dead.read_text().splitlines()) == 2


@pytest.mark.vcr(str(CASSETTES / "kibana_rules.handwritten.yaml"))
def test_kibana_dry_run_diff_and_import_errors(tmp_path: Path) -> None:
    recorded = yaml.safe_load((CASSETTES / "kibana_rules.handwritten.yaml").read_text())
    found = json.loads(recorded["interactions"][0]["response"]["body"]["string"])["data"]
    unchanged, changed = found[0]["rule_id"], found[1]["rule_id"]
    (path,) = write_kibana(compile_pack("kibana-ndjson"), tmp_path)
    ndjson = path.read_text()
    rules = [json.loads(line) for line in ndjson.splitlines()][1:]  # line 1: exception list
    deployer = KibanaDeployer(KIBANA_URL, os.environ.get("LLMSIEM_TEST_KIBANA_API_KEY", "unused"))
    plan = deployer.plan(rules)
    assert plan.unchanged == [unchanged] and plan.update == [changed]
    assert len(plan.create) == len(rules) - 2
    result = deployer.deploy(ndjson)
    assert len(result.errors) == 1 and "400" in result.errors[0]
    assert len(result.update) == len(rules) - 1


def test_local_jsonl_and_parquet_sinks(tmp_path: Path) -> None:
    events = _events(5)
    assert JsonlSink(tmp_path / "out.jsonl").send(events) == Delivery(sent=5)
    assert [
        json.loads(x)["event"]["id"] for x in (tmp_path / "out.jsonl").read_text().splitlines()
    ] == [e["event"]["id"] for e in events]
    assert ParquetSink(tmp_path / "parquet").send(events) == Delivery(sent=5)
    (part,) = list((tmp_path / "parquet").glob("part-*.parquet"))
    rows = (
        duckdb.connect()
        .execute(f'SELECT "event"."id", "llmsiem"."prompt"."text" FROM \'{part}\' ORDER BY 1')
        .fetchall()
    )
    assert rows[0] == ("evt-1", "hello 1") and len(rows) == 5


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[str]] = []
    requests_seen: ClassVar[int] = 0
    stall_on: ClassVar[int] = 2

    def do_POST(self) -> None:
        type(self).requests_seen += 1
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        if type(self).requests_seen == type(self).stall_on:
            time.sleep(30)  # the shipper is killed while waiting here
        for line in body.strip().split("\n"):
            type(self).received.append(json.loads(line)["event"]["event"]["id"])
        payload = json.dumps({"text": "Success", "code": 0}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.slow
def test_killed_shipper_loses_nothing_and_duplicates_at_most_one_batch(tmp_path: Path) -> None:
    events = _events(50)
    source = tmp_path / "events.jsonl"
    source.write_text("".join(json.dumps(e) + "\n" for e in events))
    _Collector.received, _Collector.requests_seen = [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    spool = tmp_path / "spool"
    env = {**os.environ, "LLMSIEM_SPLUNK_HEC_TOKEN": "test-token"}
    command = [
        sys.executable,
        "-m",
        "llmsiem",
        "ship",
        "--to",
        "splunk",
        "--dest",
        f"http://127.0.0.1:{server.server_port}",
        "--spool",
        str(spool),
        "--batch-size",
        "10",
        "--dead-letter",
        str(tmp_path / "dead.jsonl"),
    ]
    first = subprocess.Popen(
        [*command, str(source)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.time() + 60
    while _Collector.requests_seen < 2 and time.time() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert len(_Collector.received) == 10, "first batch delivered, second in flight when killed"
    _Collector.stall_on = -1
    second = subprocess.run(command, env=env, capture_output=True, timeout=120)
    server.shutdown()
    assert second.returncode == 0, second.stderr.decode()
    received = _Collector.received
    assert set(received) == {e["event"]["id"] for e in events}
    assert len(received) - len(set(received)) <= 10
    assert Spool(spool).read_batch(Spool(spool).cursor(), 1)[0] == []


def test_spool_resumes_from_committed_cursor(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(_events(25))
    crashing = ListSink(requests.ConnectionError("sink down"), after=10)
    stopped = spool.drain(crashing, batch_size=10)  # an OSError stops it, uncommitted
    assert stopped.stopped == "sink down" and stopped.total.sent == 10
    assert len(crashing.ids) == 10
    rest = ListSink()
    drained = spool.drain(rest, batch_size=10)
    assert crashing.ids + rest.ids == [f"evt-{n}" for n in range(1, 26)]
    assert drained.total.sent == 15 and drained.stopped is None


@pytest.mark.parametrize(
    "outage",
    [Delivery(retryable=10, retry_reason="busy"), Delivery(fatal="token refused")],
)
def test_spool_keeps_batches_a_delivery_does_not_complete(tmp_path: Path, outage: Delivery) -> None:
    spool = Spool(tmp_path)
    spool.append(_events(25))
    failing = ListSink(outage, after=10)
    drained = spool.drain(failing, batch_size=10)
    assert drained.stopped in ("busy", "token refused")
    assert drained.total.sent == 10
    rest = ListSink()
    spool.drain(rest, batch_size=10)
    assert failing.ids + rest.ids == [f"evt-{n}" for n in range(1, 26)]


@pytest.mark.vcr(str(CASSETTES / "splunk_deploy.handwritten.yaml"))
def test_splunk_deploy_updates_searches_and_keeps_existing_macros() -> None:
    import splunklib.client as splunk_client

    from llmsiem.connectors.deploy import SplunkDeployer

    service = splunk_client.connect(
        scheme="http",
        host="splunk.test",
        port=8089,
        app="llmsiem",
        owner="nobody",
        splunkToken=os.environ.get("LLMSIEM_TEST_SPLUNK_TOKEN", "unused"),
        autologin=True,
    )
    searches = {
        "Rule A": {"search": "index=llm a", "cron_schedule": "*/5 * * * *"},
        "Rule B": {"search": "index=llm b", "cron_schedule": "*/5 * * * *"},
    }
    macros = {"llmsiem_filter_rule_a": "search *", "llmsiem_filter_rule_b": "search *"}
    plan = SplunkDeployer(service).deploy(searches, macros)
    assert plan.create == ["Rule B"] and plan.update == ["Rule A"]
    assert plan.macros_created == ["llmsiem_filter_rule_b"]
    assert plan.macros_kept == ["llmsiem_filter_rule_a"]  # the SOC's tuning is untouched


def test_saved_search_stanzas_parse_back_to_settings() -> None:
    from llmsiem.connectors.deploy import saved_searches

    searches = saved_searches(compile_pack("splunk-savedsearches"))
    burst = searches["Refusal Burst Per User"]
    assert burst["cron_schedule"] == "*/5 * * * *"
    assert burst["search"].startswith('index="llm" sourcetype="llmsiem:telemetry"')
    assert burst["search"].rstrip().endswith("`llmsiem_filter_correlation_refusal_burst`")
    assert "\\" not in burst["search"]


def test_ship_runs_with_a_deep_young_generation_and_restores_the_collector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ship`` sends every batch with the collector's young generation 10,000 allocations
    deep (batches of events outlive the default 700 and get walked in full collections), and
    leaves the thresholds as it found them, also when the command fails."""
    seen: list[int] = []
    send = JsonlSink.send

    def recording(self: JsonlSink, documents: list[dict[str, Any]]) -> Delivery:
        seen.append(gc.get_threshold()[0])
        return send(self, documents)

    monkeypatch.setattr(JsonlSink, "send", recording)
    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(json.dumps(build_event({"event.id": f"e{n}"}, n, "gc")) + "\n" for n in range(30))
    )
    before = gc.get_threshold()
    shipped = CliRunner().invoke(
        cli,
        ["ship", str(source), "--to", "jsonl", "--dest", str(tmp_path / "out.jsonl"),
         "--spool", str(tmp_path / "spool"), "--batch-size", "10"],
    )  # fmt: skip
    assert shipped.exit_code == 0, shipped.output
    assert seen == [10_000, 10_000, 10_000] and gc.get_threshold() == before
    refused = CliRunner().invoke(cli, ["ship", str(source), "--to", "jsonl"])  # no --dest
    assert refused.exit_code == 2 and gc.get_threshold() == before
