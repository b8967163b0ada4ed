"""Run files through the ingest pipeline: validated, flattened events and dead letters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from llmsiem.deadletter import DeadLetter
from llmsiem.event import LLMEvent, flatten
from llmsiem.pipeline import Pipeline
from llmsiem.pipeline.sources import AUTO
from llmsiem.scrub import Scrubber

PRODUCERS = Path(__file__).parent / "sources" / "producers"
# The producers' own usage pings stay off: the tests reach only 127.0.0.1.
NO_TELEMETRY = {
    "NEMO_GUARDRAILS_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    "DEEPEVAL_TELEMETRY_OPT_OUT": "YES",
}


def ingest(
    path: Path, dead: Path, source_format: str = AUTO
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Flattened events of ``path`` (each valid against LLMEvent) and its dead letters."""
    with DeadLetter(dead) as letters:
        pipeline = Pipeline(Scrubber(), letters, source_format)
        docs = [event.document for event in pipeline.file_events(path)]
    for doc in docs:
        LLMEvent.model_validate(doc)
    letters_written = (
        [json.loads(line) for line in dead.read_text().splitlines()] if dead.exists() else []
    )
    return [flatten(doc) for doc in docs], letters_written


def run_producer(script: str, *args: str | Path, python: str = sys.executable) -> None:
    """Run one producer script of tests/sources/producers; fail with its output."""
    result = subprocess.run(
        [python, str(PRODUCERS / script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **NO_TELEMETRY},
        check=False,
    )
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
