"""Benchmark of the scrubber on the demo telemetry: cost per event and the pre-filter's skip rate.

    python bench/scrub.py [--rounds 15] [--baseline OLD_SCRUB_PY] [--corpora ../shared/corpora/dev]

Prints the median microseconds per event of ``Scrubber().scrub_document`` over the events
of ``connectors/samples/demo_telemetry.jsonl`` (each round scrubs fresh copies of every
event), the share of raw lines ``might_contain_sensitive`` lets the pipeline skip, and the
cost of that check. ``--baseline`` takes a scrubber module file (for example the single
``scrub.py`` before the package: ``git show 0102270:src/llmsiem/scrub.py > /tmp/old.py``)
and times its ``Scrubber`` in alternating rounds on the same events. ``--corpora`` adds two
quality figures from the development corpora: the share of ordinary texts (self-instruct
tasks, awesome-chatgpt prompts, BIPIA code questions) the scrubber alters, by type, and
the share of presidio-research's labelled PII values it removes, by type.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

from llmsiem.scrub import Scrubber, might_contain_sensitive

DEMO = Path(__file__).resolve().parents[1] / "connectors" / "samples" / "demo_telemetry.jsonl"


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("baseline_scrub", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


def _round_us(scrubber: Any, lines: list[str]) -> float:
    """Microseconds per event for one pass over fresh copies of every event."""
    documents = [json.loads(line) for line in lines]
    start = time.perf_counter()
    for document in documents:
        scrubber.scrub_document(document)
    return (time.perf_counter() - start) / len(documents) * 1e6


def _ordinary_texts(root: Path) -> list[str]:
    texts: list[str] = []
    for line in (root / "self_instruct" / "seed_tasks.jsonl").read_text().splitlines():
        task = json.loads(line)
        texts.append(task["instruction"])
        texts.extend(t for i in task["instances"] for t in (i["input"], i["output"]))
    with (root / "awesome_chatgpt_prompts" / "prompts.csv").open(encoding="utf-8") as stream:
        texts.extend(row["prompt"] for row in csv.DictReader(stream))
    for line in (root / "bipia" / "code_train.jsonl").read_text().splitlines():
        case = json.loads(line)
        texts.extend("\n".join(case[k]) for k in ("code", "error", "context"))
    return [t for t in texts if t.strip()]


PRESIDIO_TYPES = {"CREDIT_CARD", "US_SSN", "IBAN_CODE", "EMAIL_ADDRESS", "PHONE_NUMBER"}


def _quality(name: str, scrubber: Any, root: Path) -> None:
    texts = _ordinary_texts(root)
    altered: Counter[str] = Counter()
    for text in texts:
        altered.update(set(scrubber.scrub_text(text).types))
    changed = sum(bool(scrubber.scrub_text(t).types) for t in texts)
    print(f"  {name:9} ordinary texts altered: {changed}/{len(texts)} {dict(altered)}")
    rows = json.loads((root / "presidio_research" / "synth_dataset_v2_dev.json").read_text())
    total: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    for row in rows:
        scrubbed = scrubber.scrub_text(row["full_text"]).text
        for span in row["spans"]:
            if span["entity_type"] in PRESIDIO_TYPES:
                total[span["entity_type"]] += 1
                removed[span["entity_type"]] += span["entity_value"] not in scrubbed
    recall = ", ".join(f"{k} {removed[k]}/{total[k]}" for k in sorted(total))
    print(f"  {name:9} presidio-research PII removed: {recall}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--baseline", type=Path, help="an older scrubber module to compare")
    parser.add_argument("--corpora", type=Path, help="development corpora for quality figures")
    args = parser.parse_args()
    lines = [line for line in DEMO.read_text().splitlines() if line.strip()]
    contenders: dict[str, Any] = {"now": Scrubber()}
    if args.baseline:
        contenders["baseline"] = _load(args.baseline).Scrubber()
    for scrubber in contenders.values():  # warm up (presidio and caches load lazily)
        _round_us(scrubber, lines[:50])
    timings: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):  # alternate, so machine load hits both alike
        for name, scrubber in contenders.items():
            timings[name].append(_round_us(scrubber, lines))
    start = time.perf_counter()
    flagged = sum(might_contain_sensitive(line) for line in lines)
    check_us = (time.perf_counter() - start) / len(lines) * 1e6
    with_findings = 0
    for line in lines:
        document = json.loads(line)
        contenders["now"].scrub_document(document)
        with_findings += "redaction" in document.get("llmsiem", {})
    print(f"{len(lines)} demo events, {args.rounds} rounds, median us/event of scrub_document:")
    for name, values in timings.items():
        print(f"  {name:9} {statistics.median(values):8.1f} us/event")
    print(
        f"pre-filter: {len(lines) - flagged}/{len(lines)} raw lines skipped "
        f"({(len(lines) - flagged) / len(lines):.1%}), {check_us:.1f} us/line; "
        f"{with_findings} events have findings"
    )
    if args.corpora:
        print("quality on the development corpora:")
        for name, scrubber in contenders.items():
            _quality(name, scrubber, args.corpora)


if __name__ == "__main__":
    main()
