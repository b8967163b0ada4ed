"""Benchmark of the scored enrichment (``llmsiem.prompt.injection_score``).

    python bench/scorer.py [--corpora ../shared/corpora/dev] [--events 100000] [--repeat 3]

Prints, measured in one run:
- per-event inference time of the shipped model on prompt texts (the dev corpora's check
  half, scrubbed, or generated prompts without the corpora), scored in one batch (the bulk
  load path) and one text at a time (the per-record pipeline), next to scikit-learn's
  ``decision_function`` on the same features (the training library, which also needs the
  features built) and the largest difference between the two scores; medians of 5 runs, wall
  and CPU time (the CPU time is less sensitive to a busy machine);
- (unless --events 0) ``llmsiem detect`` (no CLI) on a generated JSONL file of --events
  events with the enrichment and with it switched off, runs alternating, medians compared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from engine import engine_run  # bench/engine.py: `llmsiem detect` without the CLI, timed

import llmsiem.pipeline.bulk
import llmsiem.pipeline.events
from llmsiem.engine.rules import compile_for_engine
from llmsiem.rulepack import RulePack
from llmsiem.scoring.model import shipped_model
from llmsiem.synthetic import generate


def prompt_texts(corpora: Path) -> tuple[list[str], str]:
    if corpora.is_dir():
        from llmsiem.scoring.train import training_rows

        return [text for _, text, _ in training_rows(corpora, split="check")], "dev check half"
    texts = [
        e["llmsiem"]["prompt"]["text"]
        for e in islice(generate(5000, seed=7, attack_every=10), 5000)
        if e.get("llmsiem", {}).get("prompt", {}).get("text")
    ]
    return texts, "generated prompts"


REPEAT = 5


def _timed(run: Callable[[], list[Any]]) -> tuple[float, float, list[Any]]:
    """Wall and CPU seconds of ``run`` and what it returned."""
    start, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - start, time.process_time() - cpu, result


def inference(corpora: Path) -> None:
    texts, where = prompt_texts(corpora)
    model = shipped_model()
    chars = statistics.mean(len(t) for t in texts)
    print(f"inference on {len(texts):,} prompt texts ({where}, mean {chars:.0f} chars)")
    model.scores(texts[:50])  # warm up
    batch_runs = [_timed(lambda: model.scores(texts)) for _ in range(REPEAT)]
    single_runs = [_timed(lambda: [model.score(t) for t in texts]) for _ in range(REPEAT)]
    batch, single = batch_runs[0][2], single_runs[0][2]
    for name, runs in (("one batch", batch_runs), ("one text a time", single_runs)):
        wall = statistics.median(r[0] for r in runs) / len(texts) * 1e6
        cpu = statistics.median(r[1] for r in runs) / len(texts) * 1e6
        print(f"  shipped model, {name + ':':17} {wall:7.1f} µs/event wall, {cpu:6.1f} µs CPU")
    batch_us = statistics.median(r[0] for r in batch_runs) / len(texts) * 1e6
    assert max(abs(a - b) for a, b in zip(batch, single, strict=True)) <= 1e-4
    try:
        from sklearn.linear_model import LogisticRegression

        from llmsiem.scoring.train import feature_matrix
    except ImportError:
        print("  scikit-learn not installed: no comparison")
        return
    estimator = LogisticRegression()
    estimator.classes_ = np.array([False, True])
    estimator.coef_ = model.weights.astype(np.float64)[None, :]
    estimator.intercept_ = np.array([model.intercept])
    start = time.perf_counter()
    expected = estimator.decision_function(feature_matrix(texts, model.bits))
    sklearn_us = (time.perf_counter() - start) / len(texts) * 1e6
    reference = 1 / (1 + np.exp(-expected))
    difference = float(np.max(np.abs(np.array(batch) - reference)))
    print(f"  scikit-learn features + decision_function: {sklearn_us:8.1f} µs/event")
    print(
        f"  batch / scikit-learn time: {batch_us / sklearn_us:.2f}; largest score difference "
        f"{difference:.1e} (scores are rounded to 4 decimals)"
    )


@contextmanager
def enrichment(on: bool) -> Iterator[None]:
    """The pipeline's scoring hooks as shipped, or replaced by no-ops."""
    saved = llmsiem.pipeline.bulk.score_table, llmsiem.pipeline.events.enrich
    if not on:
        llmsiem.pipeline.bulk.score_table = lambda *_: None
        llmsiem.pipeline.events.enrich = lambda *_: None
    try:
        yield
    finally:
        llmsiem.pipeline.bulk.score_table, llmsiem.pipeline.events.enrich = saved


def throughput(events: int, repeat: int) -> None:
    rules = compile_for_engine(RulePack.load())
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "events.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for event in islice(generate(events, seed=42, attack_every=40), events):
                out.write(json.dumps(event) + "\n")
        times: dict[bool, list[float]] = {True: [], False: []}
        alerts: dict[bool, int] = {}
        for _ in range(repeat):
            for on in (False, True):
                with enrichment(on):
                    seconds, loaded, alerts[on] = engine_run(path, rules)
                assert loaded == events
                times[on].append(seconds)
    off, on = statistics.median(times[False]), statistics.median(times[True])
    print(f"llmsiem detect, {events:,} generated events, median of {repeat} alternating runs")
    print(f"  without scoring: {off:6.2f} s  {events / off:9,.0f} events/s  {alerts[False]} alerts")
    print(f"  with scoring:    {on:6.2f} s  {events / on:9,.0f} events/s  {alerts[True]} alerts")
    print(f"  with / without time: {on / off:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=Path("../shared/corpora/dev"))
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    inference(args.corpora)
    if args.events:
        throughput(args.events, args.repeat)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
