"""DeepEval: a real ``deepeval test run`` (model-free metrics) and its results ingested.

DeepEval pins click<8.4, so it runs from .venv-deepeval (``make deepeval-venv``) on a copy
of tests/sources/producers/deepeval_cases.py in a temporary folder (away from this suite's
conftest); its test-run file is ingested here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from llmsiem.cli.main import cli
from source_helpers import NO_TELEMETRY, PRODUCERS, ingest

ROOT = Path(__file__).resolve().parent.parent
DEEPEVAL = Path(os.environ.get("LLMSIEM_DEEPEVAL", ROOT / ".venv-deepeval" / "bin" / "deepeval"))


@pytest.fixture(scope="module")
def run_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not DEEPEVAL.exists():
        pytest.fail(f"DeepEval not found at {DEEPEVAL}: run `make deepeval-venv`")
    work = tmp_path_factory.mktemp("deepeval")
    shutil.copy(PRODUCERS / "deepeval_cases.py", work)
    env = {**os.environ, **NO_TELEMETRY, "DEEPEVAL_RESULTS_FOLDER": str(work / "results")}
    result = subprocess.run(
        [str(DEEPEVAL), "test", "run", "deepeval_cases.py"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    runs = sorted((work / "results").glob("test_run_*.json"))
    # one case fails its metric on purpose, so the run exits 1; the file must exist
    assert len(runs) == 1, f"no test-run file:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return runs[0]


def _by(events: list[dict[str, Any]], case: str, metric: str) -> dict[str, Any]:
    (event,) = [
        e
        for e in events
        if e["llmsiem.evaluation.test_case"] == case and e["llmsiem.evaluation.metric"] == metric
    ]
    return event


def test_test_run_becomes_evaluation_events(run_file: Path, tmp_path: Path) -> None:
    events, letters = ingest(run_file, tmp_path / "dead.jsonl")
    assert letters == []
    assert len(events) == 5  # 3 metrics on the grounded case, 2 on the production one
    assert {e["event.action"] for e in events} == {"evaluation"}
    assert {e["event.module"] for e in events} == {"deepeval"}
    assert {e["llmsiem.evaluation.provider"] for e in events} == {"deepeval"}
    grounded = _by(events, "test_grounded_answer", "Hallucination")
    assert grounded["llmsiem.evaluation.success"] is True
    assert grounded["llmsiem.evaluation.score"] == 0.0
    assert grounded["llmsiem.evaluation.threshold"] == 0.5
    assert grounded["event.outcome"] == "success"
    assert grounded["llmsiem.prompt.text"] == "Who founded Acme?"
    assert grounded["llmsiem.response.text"] == "Acme was founded by Alice Smith."
    assert grounded["llmsiem.context.text"] == "Acme was founded by Alice Smith in 1999."
    pattern = _by(events, "test_grounded_answer", "Pattern Match")  # DeepEval's own metric
    assert pattern["llmsiem.evaluation.success"] is True
    assert pattern["llmsiem.evaluation.score"] == 1.0
    failed = _by(events, "test_production_hallucination", "Hallucination")
    assert failed["llmsiem.evaluation.success"] is False
    assert failed["event.outcome"] == "failure"
    assert failed["llmsiem.evaluation.score"] == 0.75  # Bob, Marley, Kingston of 4 names
    assert "Marley" in failed["llmsiem.evaluation.reason"]
    assert failed["@timestamp"] == "2026-12-01T09:30:00Z"
    assert failed["user.id"] == "u-1042"
    assert failed["trace.id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert failed["service.environment"] == "production"
    assert failed["service.name"] == "support-bot"
    assert _by(events, "test_production_hallucination", "Toxicity")["llmsiem.evaluation.success"]


def test_pack_rule_fires_on_the_real_hallucination_failure(run_file: Path, tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.jsonl"
    rules = ROOT / "rules" / "evaluation"
    dead = tmp_path / "dead.jsonl"
    args = ["detect", str(run_file), "--rules", str(rules), "--alerts", str(alerts)]
    result = CliRunner().invoke(cli, [*args, "--dead-letter", str(dead), "--format", "json"])
    assert result.exit_code == 1, result.output  # alerts raised
    fired = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert [a["rule"]["name"] for a in fired] == ["evaluation_hallucination_failure"]
    assert fired[0]["user"]["id"] == "u-1042"  # the production case only, not the test case
