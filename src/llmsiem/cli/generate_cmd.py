"""``llmsiem generate``: deterministic synthetic telemetry for demos, tests and benchmarks."""

from __future__ import annotations

import json
from pathlib import Path

import click

from llmsiem.synthetic import generate, generate_agent_sessions


@click.command("generate")
@click.option(
    "--count",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Number of events to write.",
)
@click.option("--seed", default=7, show_default=True, help="Random seed (same seed, same file).")
@click.option(
    "--attack-every",
    type=click.IntRange(min=1),
    default=40,
    show_default=True,
    help="One attack scenario per this many benign exchanges.",
)
@click.option(
    "--agent-sessions",
    type=click.IntRange(min=1),
    help="Write this many labelled agent/MCP sessions instead (llmsiem.label.* ground truth).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="JSONL file to write.",
)
def generate_cmd(
    count: int, seed: int, attack_every: int, agent_sessions: int | None, out: Path
) -> None:
    """Write synthetic normalized telemetry (benign traffic with attack scenarios) as JSONL."""
    events = (
        generate_agent_sessions(agent_sessions, seed=seed)
        if agent_sessions
        else generate(count, seed=seed, attack_every=attack_every)
    )
    with out.open("w", encoding="utf-8") as stream:
        for event in events:
            stream.write(json.dumps(event, ensure_ascii=False) + "\n")
