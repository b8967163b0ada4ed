"""``llmsiem generate``: deterministic synthetic telemetry for demos, tests and benchmarks."""

from __future__ import annotations

import json
from pathlib import Path

import click

from llmsiem.synthetic import generate


@click.command("generate")
@click.option("--count", default=1000, show_default=True, help="Number of events to write.")
@click.option("--seed", default=7, show_default=True, help="Random seed (same seed, same file).")
@click.option(
    "--attack-every",
    default=40,
    show_default=True,
    help="One attack scenario per this many benign exchanges.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="JSONL file to write.",
)
def generate_cmd(count: int, seed: int, attack_every: int, out: Path) -> None:
    """Write synthetic normalized telemetry (benign traffic with attack scenarios) as JSONL."""
    with out.open("w", encoding="utf-8") as stream:
        for event in generate(count, seed=seed, attack_every=attack_every):
            stream.write(json.dumps(event, ensure_ascii=False) + "\n")
