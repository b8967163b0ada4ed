"""Benchmark of the embedded engine against the parse limit and stock pySigma backends.

    python bench/engine.py [--events 1000000] [--baseline-events 100000] [--repeat 3]
                           [--rss-events 1000000 5000000] [--baseline-src DIR [--only-trees]]

Prints, in one run on the same generated telemetry (each comparison measured side by
side: runs alternate, medians are compared, as this machine's speed drifts):
- events/s of ``llmsiem detect`` (pipeline, scrub, all detections and correlations, alerts
  built; streamed in chunks) and its ratio to the DuckDB parse limit, a typed read_json of
  the same file into a table and nothing else;
- the stock pySigma DuckDB backend (pysigma-backend-duckdb) on the same detections: the
  file read into a flat table of dotted columns, then each rule's query; against the
  engine with correlations left out, end to end (the engine's time includes the bounds
  scan, the key survey, validation, scrubbing and alert documents; the stock time only a
  typed read and the queries), and rule evaluation alone over tables already loaded;
- pySigma's SQLite backend (Zircolite-style) on the first --baseline-events events,
  detections only and with correlations, against the engine on the same slice;
- the same file with 10 malformed lines (torn, as a live writer leaves them) next to the
  clean one, and the same events as Parquet next to JSONL;
- peak resident memory of ``llmsiem detect`` (a child process) at each --rss-events size;
- with ``--baseline-src DIR`` (the ``src/`` of another llmsiem checkout, its content beside
  it), ``llmsiem detect`` of that tree and of this one on the same file, each a fresh
  process, alternating: time and peak memory (``--only-trees`` runs only this);
- streaming p99 latency from an event being appended to its alert being emitted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any

import duckdb
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule
from sigma_backend_duckdb.backend import DuckDBBackend

from llmsiem.columns import (
    column_ref,
    columns_sql,
    field_types,
    read_json_columns,
    table_columns,
)
from llmsiem.compiler.compile import load_pipeline
from llmsiem.deadletter import DeadLetter
from llmsiem.engine.batch import detect_files
from llmsiem.engine.detect import Detector
from llmsiem.engine.rules import ENGINE_PIPELINES, EngineRules, compile_for_engine
from llmsiem.engine.sqlite_reference import SqliteReference
from llmsiem.engine.store import EventStore
from llmsiem.engine.stream import Follower, LineSource
from llmsiem.pipeline import Pipeline
from llmsiem.records import RawRecord
from llmsiem.rulepack import RulePack
from llmsiem.scrub import Scrubber
from llmsiem.synthetic import Generator, generate

BAD_LINES = 10


def write_events(path: Path, count: int) -> int:
    with path.open("w", encoding="utf-8") as out:
        for event in islice(generate(count, seed=42, attack_every=40), count):
            out.write(json.dumps(event) + "\n")
    return count


def repeat_events(base: Path, target: Path, count: int) -> None:
    """``count`` events from copies of ``base`` (generating 10M events takes too long here):
    copy k has its timestamps 2k years later, so time keeps increasing and the pack sees the
    same traffic again, and its event ids carry k, so they stay unique."""
    years = sorted(
        {m for line in base.open("rb") for m in [line[16:20]] if line.startswith(b'{"@timestamp')}
    )
    span = int(years[-1]) - int(years[0]) + 1
    written = 0
    with target.open("wb") as out:
        for copy in range(count):
            with base.open("rb") as src:
                for line in src:
                    if written == count:
                        return
                    for year in years:
                        later = str(int(year) + copy * span).encode()
                        line = line.replace(b'"@timestamp": "' + year, b'"@timestamp": "' + later)
                    out.write(line.replace(b'"evt-', f'"evt{copy}-'.encode()))
                    written += 1


def with_bad_lines(source: Path, target: Path, count: int, bad: int = BAD_LINES) -> None:
    """A copy of ``source`` with ``bad`` lines spread evenly and cut in half (torn)."""
    every = count // bad
    with source.open("rb") as src, target.open("wb") as dst:
        for number, line in enumerate(src):
            dst.write(line[: len(line) // 2] + b"\n" if number % every == every // 2 else line)


def as_parquet(source: Path, target: Path) -> None:
    duckdb.connect().execute(
        f"""COPY (SELECT * FROM read_json(?, format='newline_delimited',
                  columns={columns_sql(read_json_columns())}))
            TO '{target}' (FORMAT parquet)""",
        [str(source)],
    )


def engine_run(path: Path, rules: EngineRules) -> tuple[float, int, int]:
    """``llmsiem detect`` without the CLI: seconds, events loaded, alerts."""
    alerts = 0

    def count(_: dict[str, Any]) -> None:
        nonlocal alerts
        alerts += 1

    start = time.perf_counter()
    with DeadLetter(None) as letters:
        run = detect_files([path], rules, Pipeline(Scrubber(), letters), emit=count)
    return time.perf_counter() - start, run.loaded, alerts


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


def stock_duckdb_queries(pack: RulePack) -> list[str]:
    """Each detection as pysigma-backend-duckdb converts it (through the engine's field
    pipeline), selecting only the event id; rules it cannot convert are left out."""
    queries = []
    for _, rule in pack.parse_all():
        if not isinstance(rule, SigmaRule):
            continue
        backend = DuckDBBackend(load_pipeline(ENGINE_PIPELINES))
        try:
            (query,) = backend.convert_rule(rule.__class__.from_dict(rule.to_dict()))
        except (SigmaError, NotImplementedError, ValueError):
            continue
        queries.append(str(query).replace("SELECT *", 'SELECT "event.id"', 1))
    return queries


def stock_table(path: Path) -> duckdb.DuckDBPyConnection:
    """The file as the stock backend's flat ``logs`` table of dotted columns (typed read)."""
    con = duckdb.connect()
    flat = ", ".join(f'{column_ref(f)} AS "{f}"' for f in field_types())
    con.execute(
        f"CREATE TABLE logs AS SELECT {flat} FROM read_json(?, format='newline_delimited', "
        f"columns={columns_sql(table_columns())})",
        [str(path)],
    )
    return con


def stock_queries(con: duckdb.DuckDBPyConnection, queries: list[str]) -> int:
    """Every stock query over the ``logs`` table, results fetched; how many ran."""
    ran = 0
    for query in queries:
        try:
            con.execute(query).fetchall()
            ran += 1
        except duckdb.Error:
            continue
    return ran


def stock_duckdb(path: Path, queries: list[str]) -> tuple[float, float, int]:
    """The file loaded as a flat table, then every query: seconds in all, seconds of the
    load, queries run."""
    start = time.perf_counter()
    con = stock_table(path)
    loaded = time.perf_counter() - start
    ran = stock_queries(con, queries)
    return time.perf_counter() - start, loaded, ran


def rules_only(path: Path, rules: EngineRules, queries: list[str], repeat: int) -> None:
    """Rule evaluation alone, tables already loaded: the engine's detections in its one
    statement over its event table against the stock queries over their flat table."""
    store = EventStore()
    with DeadLetter(None) as letters:
        store.load_file(path, Pipeline(Scrubber(), letters))
    stock = stock_table(path)
    detector = Detector(EngineRules(detections=rules.detections), store)

    def engine() -> float:
        store.con.execute("DELETE FROM hits")
        detector.evaluated_through = 0
        start = time.perf_counter()
        detector.record_hits()
        return time.perf_counter() - start

    ran = 0

    def stock_only() -> float:
        nonlocal ran
        start = time.perf_counter()
        ran = stock_queries(stock, queries)
        return time.perf_counter() - start

    times = side_by_side(repeat, engine=engine, stock=stock_only)
    m = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"rule evaluation only, tables loaded: engine {len(rules.detections)} detections "
        f"in one statement {median(times['engine'])} vs stock {ran} queries "
        f"{median(times['stock'])} = engine {m['stock'] / m['engine']:.2f}x faster",
        flush=True,
    )


def sqlite_baseline(path: Path, pack: RulePack) -> tuple[float, float]:
    """Seconds for load + detections, and for load + detections + correlations."""
    start = time.perf_counter()
    reference = SqliteReference(pack)
    with path.open(encoding="utf-8") as stream:
        reference.load(json.loads(line) for line in stream)
    for name in reference.detections:
        reference.detection_matches(name)
    detections = time.perf_counter() - start
    for name in reference.correlations:
        reference.correlation_groups(name)
    return detections, time.perf_counter() - start


HIGH_WATER = (
    "import atexit, sys\n"
    "def report():\n"
    "    with open('/proc/self/status') as status:\n"
    "        sys.stderr.write(next(r for r in status if r.startswith('VmHWM')))\n"
    "atexit.register(report)\n"
    "from llmsiem.cli.main import cli\n"
    "cli()\n"
)
"""The child reports its own peak: VmHWM belongs to the process image after exec, while the
``ru_maxrss`` a parent gets from ``wait4`` also counts the pages the child shared with this
benchmark (gigabytes of tables by then) between fork and exec."""


THIS_SOURCE = Path(__file__).resolve().parent.parent / "src"


def peak_rss_mb(path: Path, source: Path = THIS_SOURCE) -> tuple[float, float]:
    """Seconds and peak resident memory (MB) of ``llmsiem detect`` in a child process,
    importing llmsiem from ``source``."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(source), os.environ.get("PYTHONPATH")])),
    }
    with tempfile.TemporaryDirectory() as scratch:
        command = [
            sys.executable,
            "-c",
            HIGH_WATER,
            "detect",
            str(path),
            "--alerts",
            os.devnull,
            "--dead-letter",
            str(Path(scratch) / "dead.jsonl"),
            "--format",
            "json",
        ]
        start = time.perf_counter()
        done = subprocess.run(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
        )
        seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"llmsiem detect ({source}) failed on {path}: {done.stderr[-500:]}")
    (line,) = [row for row in done.stderr.splitlines() if row.startswith("VmHWM")]
    return seconds, int(line.split()[1]) / 1024


def tree_comparison(path: Path, count: int, baseline: Path, repeat: int) -> None:
    """Print ``llmsiem detect`` of this tree against another tree's on ``path``: fresh
    processes, alternating, medians of time and of peak memory."""
    runs: dict[str, list[tuple[float, float]]] = {"this": [], "baseline": []}
    for _ in range(repeat):
        runs["baseline"].append(peak_rss_mb(path, baseline))
        runs["this"].append(peak_rss_mb(path, THIS_SOURCE))
    seconds = {tree: statistics.median(t for t, _ in values) for tree, values in runs.items()}
    peaks = {tree: statistics.median(m for _, m in values) for tree, values in runs.items()}
    print(
        f"llmsiem detect on {count:,} events, this tree vs {baseline} (each its own pack; "
        f"fresh processes, alternating, median of {repeat}): this "
        f"{seconds['this']:.1f}s = {count / seconds['this']:,.0f} events/s, peak "
        f"{peaks['this']:,.0f} MB; baseline {seconds['baseline']:.1f}s = "
        f"{count / seconds['baseline']:,.0f} events/s, peak {peaks['baseline']:,.0f} MB; "
        f"time ratio {seconds['this'] / seconds['baseline']:.2f}x, memory ratio "
        f"{peaks['this'] / peaks['baseline']:.2f}x",
        flush=True,
    )


def rss(path: Path, size: int, base: Path | None = None) -> None:
    """Print the time and peak memory of ``llmsiem detect`` on ``size`` events at ``path``
    (generated there, or repeated from ``base``, unless it exists)."""
    if not path.exists():
        if base is None:
            write_events(path, size)
        else:
            repeat_events(base, path, size)
    seconds, peak = peak_rss_mb(path)
    print(
        f"llmsiem detect on {size:,} events ({path.stat().st_size / 1e9:.1f} GB): "
        f"{seconds:.1f}s = {size / seconds:,.0f} events/s, peak resident memory {peak:,.0f} MB",
        flush=True,
    )


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


def side_by_side(repeat: int, **runs: Callable[[], float]) -> dict[str, list[float]]:
    """Seconds of each run, alternating them ``repeat`` times."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_number in range(1, repeat + 1):
        for name, run in runs.items():
            times[name].append(run())
        done = ", ".join(f"{name} {values[-1]:.1f}s" for name, values in times.items())
        print(f"  round {round_number}: {done}", flush=True)
    return times


def median(times: list[float]) -> str:
    return f"{statistics.median(times):.2f}s (runs {', '.join(f'{t:.1f}' for t in times)})"


def sqlite_comparison(
    pack: RulePack, rules: EngineRules, full: Path, scratch: Path, events: int
) -> None:
    """pySigma's SQLite backend on the first ``events`` events: its correlations are
    super-linear, so the engine is timed on the same slice for the ratios."""
    head = scratch / "slice.jsonl"
    with full.open(encoding="utf-8") as src, head.open("w", encoding="utf-8") as dst:
        dst.writelines(islice(src, events))
    engine_detections, _, _ = engine_run(head, EngineRules(detections=rules.detections))
    engine_all, _, _ = engine_run(head, rules)
    only, everything = sqlite_baseline(head, pack)
    print(
        f"first {events:,} events, pySigma SQLite backend: detections {only:.1f}s vs engine "
        f"{engine_detections:.2f}s = {only / engine_detections:.1f}x; with correlations "
        f"{everything:.1f}s vs engine {engine_all:.2f}s = {everything / engine_all:.1f}x",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--baseline-events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs per comparison")
    parser.add_argument("--rss-events", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--only-rss", action="store_true", help="measure peak memory only")
    parser.add_argument(
        "--sqlite", action=argparse.BooleanOptionalAction, default=True, help="SQLite baseline"
    )
    parser.add_argument(
        "--base", type=Path, help="repeat this JSONL file (shifted in time) instead of generating"
    )
    parser.add_argument(
        "--baseline-src", type=Path, help="another llmsiem src/ whose detect runs side by side"
    )
    parser.add_argument(
        "--only-trees", action="store_true", help="only the --baseline-src comparison"
    )
    args = parser.parse_args()
    if args.only_trees and args.baseline_src is None:
        parser.error("--only-trees needs --baseline-src")
    if args.only_rss:
        with tempfile.TemporaryDirectory() as scratch_dir:
            for size in args.rss_events:
                rss(Path(scratch_dir) / f"rss-{size}.jsonl", size, args.base)
        return
    pack = RulePack.load()
    rules = compile_for_engine(pack)
    detections_only = EngineRules(detections=rules.detections)
    stock_queries = stock_duckdb_queries(pack)
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        full = scratch / "events.jsonl"
        started = time.perf_counter()
        if args.base is None:
            count = write_events(full, args.events)
        else:
            repeat_events(args.base, full, args.events)
            count = args.events
        print(
            f"generated {count:,} events ({full.stat().st_size / 1e6:,.0f} MB) "
            f"in {time.perf_counter() - started:.1f}s; pack: {len(rules.detections)} "
            f"detections, {len(rules.correlations)} correlations"
        )
        if args.baseline_src is not None:
            tree_comparison(full, count, args.baseline_src, args.repeat)
            if args.only_trees:
                return
        torn = scratch / "torn.jsonl"
        with_bad_lines(full, torn, count)
        parquet = scratch / "events.parquet"
        as_parquet(full, parquet)
        facts: dict[str, Any] = {}

        def engine(path: Path, which: EngineRules = rules, key: str = "") -> Callable[[], float]:
            def run() -> float:
                seconds, loaded, alerts = engine_run(path, which)
                facts[key] = (loaded, alerts)
                return seconds

            return run

        def stock() -> float:
            seconds, load, facts["stock_ran"] = stock_duckdb(full, stock_queries)
            facts.setdefault("stock_load", []).append(load)
            return seconds

        times = side_by_side(
            args.repeat,
            parse=lambda: parse_limit(full),
            engine=engine(full, key="full"),
            detections=engine(full, detections_only, "detections"),
            stock=stock,
            torn=engine(torn, key="torn"),
            parquet=engine(parquet, key="parquet"),
        )
        m = {name: statistics.median(values) for name, values in times.items()}
        loaded, alerts = facts["full"]
        print(f"DuckDB parse limit (typed read_json into a table): {median(times['parse'])}")
        print(
            f"engine, full pack (llmsiem detect, streamed in chunks): {median(times['engine'])}"
            f" = {loaded / m['engine']:,.0f} events/s, {alerts:,} alerts"
        )
        print(f"  ratio to the parse limit: {m['engine'] / m['parse']:.2f}x (target <= 2x)")
        load = statistics.median(facts["stock_load"])
        print(
            f"stock pySigma DuckDB backend end to end (typed read into a flat table, then "
            f"{facts['stock_ran']} of {len(stock_queries)} detection queries): "
            f"{median(times['stock'])}, of which the load {load:.2f}s"
        )
        print(
            f"engine, {len(rules.detections)} detections only, end to end (bounds scan, "
            f"survey, typed read, validation, scrub, rules, alerts with evidence): "
            f"{median(times['detections'])}"
        )
        print(
            f"  engine vs stock pySigma DuckDB, detections only, end to end: "
            f"{m['stock'] / m['detections']:.2f}x faster (target >= 3x)"
        )
        torn_loaded, _ = facts["torn"]
        print(
            f"same file with {BAD_LINES} torn lines: {median(times['torn'])} = "
            f"{torn_loaded / m['torn']:,.0f} events/s, {m['torn'] / m['engine']:.2f}x the "
            "clean file's time (target <= 1.2x)"
        )
        parquet_loaded, parquet_alerts = facts["parquet"]
        print(
            f"same events as Parquet ({parquet.stat().st_size / 1e6:,.0f} MB): "
            f"{median(times['parquet'])} = {parquet_loaded / m['parquet']:,.0f} events/s vs "
            f"JSONL {loaded / m['engine']:,.0f} events/s; {parquet_alerts:,} alerts"
        )
        rules_only(full, rules, stock_queries, args.repeat)
        if args.sqlite:
            sqlite_comparison(pack, rules, full, scratch, args.baseline_events)
        for size in args.rss_events:
            rss(full if size == count else scratch / f"rss-{size}.jsonl", size, full)
    latencies = streaming_latency(rules)
    if latencies:
        ordered = sorted(latencies)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        print(
            f"streaming: {len(latencies)} alerts, latency p50 {statistics.median(ordered):.3f}s, "
            f"p99 {p99:.3f}s (target < 1s)"
        )


if __name__ == "__main__":
    main()
