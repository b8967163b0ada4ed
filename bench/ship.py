"""The shipping path next to plain bulk clients, on the same batches, against loopback endpoints.

    python bench/ship.py [--events 20000] [--runs 3]

Two inputs of ``--events`` events each: OTLP spans (one export request per line, as an
OpenTelemetry collector writes them) and normalized JSONL (``llmsiem generate`` events, as
``llmsiem ingest`` writes them; about 2.5% hold a secret or an e-mail address).

For each input and each destination, side by side in alternating runs (medians of ``--runs``):

- **ship path**: read, normalize, scrub, validate (``Pipeline``), then the sink's ``send`` per
  batch of 500 (what ``llmsiem ship --batch-size 500`` hands a sink), serialize and HTTP;
- **plain client**: the documents the ship path produced, pre-built, in the same batches of
  500: ``elasticsearch.helpers.streaming_bulk`` (``create`` with the same ``_id``) for
  Elasticsearch, its client configured as the sink's (orjson for bodies and answers, as
  ``llmsiem ship`` builds it, so that only llmsiem's own work differs); for Splunk HEC,
  pre-built envelopes posted with ``requests`` (``json.dumps`` per envelope), the plain way
  to feed HEC.

It prints each figure as the ship path's throughput in percent of the plain client's, and,
for the normalized input, the same path through the disk spool (append with fsync per 500
events while a drain thread sends each batch written: the whole of ``llmsiem ship``) and
without scrubbing. Both endpoints run in a separate process (as a real SIEM does) and
answer every event as accepted.

The plain clients' pre-built documents and envelopes (millions of objects) are moved out of
the garbage collector's reach (``gc.freeze``) once built: a ship process holds no such heap,
and with it every collection the ship path triggers walked it (the pipeline alone took
30-40% more CPU with that heap held, in alternating runs). Every path runs with the
collector set as ``llmsiem ship`` sets it (``streaming_collections``).

``--baseline-src DIR`` also times the Elasticsearch ship path of another llmsiem source tree
(``git archive c76e544 src | tar -x -C /tmp/before`` gives ``/tmp/before/src``) against this
one, each in its own process, in the same alternating runs: before and after a change.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import requests
from elasticsearch import Elasticsearch, helpers

from llmsiem.cli.common import streaming_collections
from llmsiem.connectors.elastic import DEFAULT_DATA_STREAM, SINK, document_id
from llmsiem.connectors.sink import Sink
from llmsiem.connectors.splunk_hec import SplunkHecSink, envelope
from llmsiem.connectors.spool import Spool
from llmsiem.deadletter import DeadLetter
from llmsiem.pipeline import Pipeline
from llmsiem.scrub import Scrubber
from llmsiem.synthetic import generate

BATCH = 500
HEC_TOKEN = "bench-token"
THIS_SOURCE = Path(__file__).resolve().parents[1] / "src"
# The Elasticsearch ship path of the source tree in argv[1], timed in a fresh process.
SHIP_IN_TREE = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import llmsiem
assert llmsiem.__file__.startswith(sys.argv[1]), llmsiem.__file__
from llmsiem.connectors.elastic import SINK
from llmsiem.deadletter import DeadLetter
from llmsiem.pipeline import Pipeline
from llmsiem.scrub import Scrubber
try:
    from llmsiem.cli.common import streaming_collections
except ImportError:  # a tree from before it: the collector as that tree's ship left it
    from contextlib import nullcontext as streaming_collections
url, form, path = sys.argv[2:5]
sink = SINK.create(url, DeadLetter(None))  # as that tree's ship builds it
Scrubber().scrub_text("warm up the recognizers: bob@example.com")
start, cpu, sent, batch = time.perf_counter(), time.process_time(), 0, []
with streaming_collections():
    for event in Pipeline(Scrubber(), DeadLetter(None), form).file_events(Path(path)):
        batch.append(event.document)
        if len(batch) == 500:
            sent, batch = sent + sink.send(batch).sent, []
    sent += sink.send(batch).sent if batch else 0
print(time.perf_counter() - start, time.process_time() - cpu, sent)
"""


class Endpoint(BaseHTTPRequestHandler):
    """``_bulk`` answered with 201 per action, as Elasticsearch does; HEC with code 0."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path.startswith("/services/collector"):
            answer: dict[str, Any] = {"text": "Success", "code": 0}
        else:
            items = [
                {"create": {"_id": orjson.loads(line)["create"].get("_id"), "status": 201}}
                for line in body.splitlines()[0::2]
            ]
            answer = {"took": 1, "errors": False, "items": items}
        payload = orjson.dumps(answer)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_PUT = do_POST  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass


def serve() -> None:
    """The endpoint process: prints its port, serves until stdin closes."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_port, flush=True)
    sys.stdin.read()


def otlp_file(path: Path, count: int) -> None:
    """Synthetic events re-expressed as OTLP spans (one export request per line)."""
    with path.open("w", encoding="utf-8") as out:
        for event in generate(count, seed=9):
            text = event["llmsiem"].get("prompt", {}).get("text", "hello")
            messages = [{"role": "user", "parts": [{"type": "text", "content": text}]}]
            attributes = [
                {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
                {"key": "user.id", "value": {"stringValue": event["user"]["id"]}},
                {
                    "key": "gen_ai.input.messages",
                    "value": {"stringValue": json.dumps(messages)},
                },
            ]
            span = {
                "traceId": event["trace"]["id"],
                "spanId": event["span"]["id"],
                "name": "chat",
                "startTimeUnixNano": "1795168800000000000",
                "endTimeUnixNano": "1795168801000000000",
                "attributes": attributes,
            }
            out.write(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}) + "\n")


def normalized_file(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for event in generate(count, seed=9):
            out.write(json.dumps(event) + "\n")


class _NoScrub(Scrubber):
    """Passes documents through untouched, to show what scrubbing costs."""

    def scrub_document(self, document: dict[str, Any]) -> dict[str, Any]:
        return document


def _batches(path: Path, form: str, scrubber: Scrubber) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for event in Pipeline(scrubber, DeadLetter(None), form).file_events(path):
        batch.append(event.document)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def ship_path(path: Path, form: str, sink: Sink, scrubber: Scrubber | None = None) -> int:
    """Pipeline then ``sink.send`` per batch; the events delivered."""
    delivered = 0
    for batch in _batches(path, form, scrubber or Scrubber()):
        report = sink.send(batch)
        assert report.complete, report
        delivered += report.delivered
    return delivered


def spooled_path(path: Path, form: str, sink: Sink) -> int:
    """``llmsiem ship``: the pipeline into a fresh disk spool while it drains to the sink."""
    with tempfile.TemporaryDirectory() as scratch:
        events = Pipeline(Scrubber(), DeadLetter(None), form).file_events(path)
        _, drained = Spool(Path(scratch)).deliver((e.document for e in events), sink, BATCH)
    assert drained.stopped is None, drained.stopped
    return drained.total.delivered


def plain_bulk(client: Elasticsearch, documents: list[dict[str, Any]]) -> int:
    actions = (
        {"_op_type": "create", "_index": DEFAULT_DATA_STREAM, "_id": key, "_source": document}
        for key, document in ((document_id(d), d) for d in documents)
    )
    return sum(ok for ok, _ in helpers.streaming_bulk(client, actions, chunk_size=BATCH))


def plain_hec(url: str, envelopes: list[dict[str, Any]]) -> int:
    delivered = 0
    with requests.Session() as session:
        for start in range(0, len(envelopes), BATCH):
            batch = envelopes[start : start + BATCH]
            body = "\n".join(json.dumps(e, ensure_ascii=False) for e in batch).encode()
            response = session.post(
                f"{url}/services/collector/event",
                data=body,
                headers={"Authorization": f"Splunk {HEC_TOKEN}"},
                timeout=30,
            )
            assert response.json()["code"] == 0
            delivered += len(batch)
    return delivered


def ship_in_tree(source: Path, url: str, form: str, path: Path) -> tuple[float, float]:
    """Wall and CPU seconds of the Elasticsearch ship path of another source tree."""
    out = subprocess.run(
        [sys.executable, "-c", SHIP_IN_TREE, str(source), url, form, str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert int(out[2]) > 0
    return float(out[0]), float(out[1])


def timed(work: Callable[[], int]) -> tuple[float, float]:
    """Wall seconds and this process's CPU seconds of one run."""
    start, cpu = time.perf_counter(), time.process_time()
    count = work()
    elapsed, used = time.perf_counter() - start, time.process_time() - cpu
    assert count > 0
    return elapsed, used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline-src", type=Path, help="another llmsiem src/ to compare")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    endpoint = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert endpoint.stdout is not None
    url = f"http://127.0.0.1:{int(endpoint.stdout.readline())}"
    letters = DeadLetter(None)
    es = SINK.create(url, letters)
    client = es.client  # the plain client is the sink's own, configured as ship configures it
    hec = SplunkHecSink(url, HEC_TOKEN, DeadLetter(None))
    Scrubber().scrub_text("warm up the recognizers: bob@example.com")
    with tempfile.TemporaryDirectory() as scratch:
        inputs = {"otlp": Path(scratch) / "otlp.jsonl", "jsonl": Path(scratch) / "events.jsonl"}
        otlp_file(inputs["otlp"], args.events)
        normalized_file(inputs["jsonl"], args.events)
        built = {
            form: [d for b in _batches(p, form, Scrubber()) for d in b]
            for form, p in inputs.items()
        }
        wrapped = {
            form: [envelope(d, "llm", "llmsiem") for d in docs] for form, docs in built.items()
        }
        gc.freeze()  # the plain clients' inputs: a heap no ship process holds (see above)
        work: dict[str, Callable[[], tuple[float, float]]] = {}
        for form, path in inputs.items():
            work[f"es ship {form}"] = lambda p=path, f=form: timed(lambda: ship_path(p, f, es))
            work[f"es plain {form}"] = lambda f=form: timed(lambda: plain_bulk(client, built[f]))
            work[f"hec ship {form}"] = lambda p=path, f=form: timed(lambda: ship_path(p, f, hec))
            work[f"hec plain {form}"] = lambda f=form: timed(lambda: plain_hec(url, wrapped[f]))
            for tree, source in (("this", THIS_SOURCE), ("baseline", args.baseline_src)):
                if args.baseline_src is not None:
                    work[f"{tree} tree {form}"] = lambda s=source, p=path, f=form: ship_in_tree(
                        s, url, f, p
                    )
        jsonl = inputs["jsonl"]
        work["es spool jsonl"] = lambda: timed(  # the sink is closed at the end, as by ship
            lambda: spooled_path(jsonl, "jsonl", SINK.create(url, letters))
        )
        work["es noscrub jsonl"] = lambda: timed(lambda: ship_path(jsonl, "jsonl", es, _NoScrub()))
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in work}
        names = list(work)
        with streaming_collections():  # as ``llmsiem ship`` runs, for every path alike
            for run in range(args.runs):
                order = names if run % 2 == 0 else names[::-1]
                for name in order:
                    times[name].append(work[name]())
    endpoint.stdin.close()  # type: ignore[union-attr]
    endpoint.wait()
    median = {name: statistics.median(wall for wall, _ in runs) for name, runs in times.items()}
    cpu = {name: statistics.median(used for _, used in runs) for name, runs in times.items()}
    rate = {name: args.events / seconds for name, seconds in median.items()}

    def share(ship: str, plain: str) -> str:
        us = {name: cpu[name] / args.events * 1e6 for name in (ship, plain)}
        return (
            f"{median[plain] / median[ship]:.0%} of plain"
            f" ({rate[ship]:,.0f} vs {rate[plain]:,.0f} events/s;"
            f" client CPU {us[ship]:,.0f} vs {us[plain]:,.0f} us/event)"
        )

    print(f"{args.events:,} events, medians of {args.runs} alternating runs, batches of {BATCH};")
    print("each figure: ship path throughput in percent of the plain client's, same documents")
    for form, label in (("otlp", "OTLP spans"), ("jsonl", "normalized JSONL")):
        es_figure = share(f"es ship {form}", f"es plain {form}")
        hec_figure = share(f"hec ship {form}", f"hec plain {form}")
        print(f"{label} input:")
        print(f"  Elasticsearch ship path vs plain streaming_bulk: {es_figure}")
        print(f"  Splunk HEC ship path vs plain requests posts:    {hec_figure}")
    print("normalized JSONL input, Elasticsearch, other paths vs plain streaming_bulk:")
    spooled = share("es spool jsonl", "es plain jsonl")
    unscrubbed = share("es noscrub jsonl", "es plain jsonl")
    print(f"  with the disk spool (all of llmsiem ship): {spooled}")
    print(f"  ship path without scrubbing:               {unscrubbed}")
    if args.baseline_src is not None:
        print(
            f"Elasticsearch ship path, this tree vs {args.baseline_src} (each in its own process):"
        )
        for form in inputs:
            this, before = f"this tree {form}", f"baseline tree {form}"
            print(
                f"  {form}: {median[this] / median[before]:.0%} of the baseline's time"
                f" ({median[this]:.2f} vs {median[before]:.2f} s); client CPU"
                f" {cpu[this] / args.events * 1e6:,.0f} vs {cpu[before] / args.events * 1e6:,.0f}"
                " us/event"
            )


if __name__ == "__main__":
    main()
