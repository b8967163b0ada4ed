"""Benchmark of the embedded engine: throughput, parse limit, SQLite baseline, streaming latency.

    python bench/engine.py [--events 1000000] [--baseline-events 100000] [--repeat 3]

Prints, in one run on the same generated telemetry:
- events/s of the full pack (all detections and correlations) in the DuckDB engine;
- the DuckDB parse limit: a typed read_json of the same file and nothing else;
- pySigma's SQLite backend (Zircolite-style: flatten into SQLite, NOCASE columns, Python
  REGEXP) on the same rules; its correlations are super-linear, so it runs on the first
  --baseline-events events and the engine is timed on that same slice for the ratio;
- streaming p99 latency from an event being appended to its alert being emitted;
- peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import threading
import time
from itertools import islice
from pathlib import Path
from typing import Any

from llmsiem.columns import columns_sql, read_json_columns
from llmsiem.deadletter import DeadLetter
from llmsiem.engine.detect import Detector
from llmsiem.engine.rules import compile_for_engine
from llmsiem.engine.sqlite_reference import SqliteReference
from llmsiem.engine.store import EventStore
from llmsiem.engine.stream import Follower, LineSource
from llmsiem.pipeline import Pipeline
from llmsiem.records import RawRecord
from llmsiem.rulepack import RulePack
from llmsiem.scrub import Scrubber
from llmsiem.synthetic import Generator, generate


def write_events(path: Path, count: int) -> int:
    with path.open("w", encoding="utf-8") as out:
        written = 0
        for event in islice(generate(count, seed=42, attack_every=40), count):
            out.write(json.dumps(event) + "\n")
            written += 1
    return written


def engine_run(path: Path, rules: Any) -> tuple[float, float, int, int]:
    """Seconds to load and to detect, events loaded, alerts raised."""
    start = time.perf_counter()
    store = EventStore()
    with DeadLetter(None) as letters:
        report = store.load_file(path, Pipeline(Scrubber(), letters))
    loaded = time.perf_counter()
    alerts = Detector(rules, store).run()
    return loaded - start, time.perf_counter() - loaded, report.loaded, len(alerts)


def parse_limit(path: Path) -> float:
    """DuckDB parsing the file into a typed table, and nothing else."""
    store = EventStore()
    start = time.perf_counter()
    store.con.execute(
        "CREATE TABLE parsed AS SELECT * FROM read_json(?, format='newline_delimited', "
        f"columns={columns_sql(read_json_columns())})",
        [str(path)],
    )
    return time.perf_counter() - start


def sqlite_baseline(path: Path, pack: RulePack) -> float:
    start = time.perf_counter()
    reference = SqliteReference(pack)
    with path.open(encoding="utf-8") as stream:
        reference.load(json.loads(line) for line in stream)
    for name in reference.detections:
        reference.detection_matches(name)
    for name in reference.correlations:
        reference.correlation_groups(name)
    return time.perf_counter() - start


def streaming_latency(rules: Any, events: int = 400, rate: float = 200.0) -> list[float]:
    """Append events at ``rate``/s to a file followed by the engine; latency per alert."""
    appended: dict[str, float] = {}
    latencies: list[float] = []
    generator = Generator(seed=5)
    for _ in range(events // 4):
        generator.injection_then_tool()
    documents = generator.events[:events]
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "live.jsonl"
        path.touch()

        def emit(alert: dict[str, Any]) -> None:
            now = time.perf_counter()
            newest = max(appended.get(e, 0.0) for e in alert["llmsiem"]["alert"]["event_ids"])
            if newest:
                latencies.append(now - newest)

        follower = Follower(rules, Pipeline(Scrubber(), DeadLetter(None)), emit)
        warm = Generator(seed=6)
        warm.benign_exchange()
        follower.process([RawRecord("warm-up", n, e) for n, e in enumerate(warm.events)])
        thread = threading.Thread(
            target=follower.follow, args=(LineSource.open(path), 0.05, 1.5), daemon=True
        )
        thread.start()
        with path.open("a", encoding="utf-8") as out:
            for document in documents:
                out.write(json.dumps(document) + "\n")
                out.flush()
                appended[document["event"]["id"]] = time.perf_counter()
                time.sleep(1 / rate)
        thread.join(timeout=30)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--baseline-events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the 1M measurements")
    args = parser.parse_args()
    pack = RulePack.load()
    rules = compile_for_engine(pack)
    with tempfile.TemporaryDirectory() as scratch:
        full = Path(scratch) / "events.jsonl"
        started = time.perf_counter()
        count = write_events(full, args.events)
        print(
            f"generated {count:,} events ({full.stat().st_size / 1e6:,.0f} MB) "
            f"in {time.perf_counter() - started:.1f}s"
        )
        # This machine's speed drifts between runs; alternate the two measurements and
        # compare medians.
        parses, loads, detects = [], [], []
        for _ in range(args.repeat):
            parses.append(parse_limit(full))
            load, detect, loaded, alerts = engine_run(full, rules)
            loads.append(load)
            detects.append(detect)
        parse = statistics.median(parses)
        seconds = statistics.median(a + b for a, b in zip(loads, detects, strict=True))
        print(
            f"parse limit (DuckDB typed read_json): {parse:.2f}s = {count / parse:,.0f} events/s "
            f"(median of {args.repeat}: {', '.join(f'{p:.2f}' for p in parses)})"
        )
        print(
            f"engine, full pack ({len(rules.detections)} detections, "
            f"{len(rules.correlations)} correlations): {seconds:.2f}s = "
            f"{loaded / seconds:,.0f} events/s, {alerts:,} alerts; load "
            f"{statistics.median(loads):.2f}s + detect {statistics.median(detects):.2f}s; "
            f"{seconds / parse:.2f}x the parse limit (target <= 3x)"
        )
        slice_path = Path(scratch) / "slice.jsonl"
        with full.open(encoding="utf-8") as src, slice_path.open("w", encoding="utf-8") as dst:
            dst.writelines(islice(src, args.baseline_events))
        load, detect, _, _ = engine_run(slice_path, rules)
        engine_slice = load + detect
        baseline = sqlite_baseline(slice_path, pack)
        print(
            f"on the first {args.baseline_events:,} events: engine {engine_slice:.2f}s, "
            f"pySigma SQLite backend {baseline:.2f}s = {baseline / engine_slice:.1f}x faster "
            "(target >= 10x)"
        )
    latencies = streaming_latency(rules)
    if latencies:
        ordered = sorted(latencies)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        print(
            f"streaming: {len(latencies)} alerts, latency p50 {statistics.median(ordered):.3f}s, "
            f"p99 {p99:.3f}s (target < 1s)"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
