"""Cost of scrubbing in the load: DuckDB's typed load alone vs the pipeline's bulk load.

    python bench/pipeline_load.py [--events 200000] [--repeat 3]

The first is what ``detect`` did with normalized JSONL before it scrubbed its input; the
second is what it does now (typed load, then every distinct value scanned once and the
rows with findings rewritten). Runs alternate; medians are compared.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from itertools import islice
from pathlib import Path

from llmsiem.deadletter import DeadLetter
from llmsiem.engine.store import EventStore
from llmsiem.pipeline import Pipeline
from llmsiem.scrub import Scrubber
from llmsiem.synthetic import generate


def typed_load(path: Path) -> float:
    store = EventStore()
    start = time.perf_counter()
    store.con.execute("BEGIN TRANSACTION")
    store._insert_from_json(path, str(path))
    store.con.execute("COMMIT")
    return time.perf_counter() - start


def pipeline_load(path: Path) -> tuple[float, int]:
    store = EventStore()
    start = time.perf_counter()
    report = store.load_file(path, Pipeline(Scrubber(), DeadLetter(None)))
    return time.perf_counter() - start, report.loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "events.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for event in islice(generate(args.events, seed=42, attack_every=40), args.events):
                out.write(json.dumps(event) + "\n")
        typed, piped = [], []
        for _ in range(args.repeat):
            typed.append(typed_load(path))
            seconds, loaded = pipeline_load(path)
            piped.append(seconds)
    a, b = statistics.median(typed), statistics.median(piped)
    print(
        f"{loaded:,} events: typed load {a:.2f}s, pipeline bulk load (load + scrub) {b:.2f}s "
        f"= {b / a:.2f}x (medians of {args.repeat} alternating runs)"
    )


if __name__ == "__main__":
    main()
