"""The demo a person reads: three example alerts with evidence, each planned action named
with its alert and planned once per principal, skipped targets name their variables, and
every line fits 100 columns."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def _demo(*args: str) -> str:
    env = {**os.environ, "COLUMNS": "100"}
    done = subprocess.run(
        [sys.executable, "-m", "llmsiem", "demo", *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=600,
    )
    return done.stdout


@pytest.fixture(scope="module")
def report() -> dict:  # type: ignore[type-arg]
    data: dict = json.loads(_demo("--format", "json"))  # type: ignore[type-arg]
    return data


def test_table_output_fits_100_columns_and_shows_examples() -> None:
    text = _demo()
    too_long = [line for line in text.splitlines() if len(line) > 100]
    assert too_long == []
    for number in (1, 2, 3):
        assert f"Example alert {number}" in text
    assert text.count("│ evidence │") >= 3
    assert "because of alert" in text


def test_examples_carry_evidence_and_a_response(report: dict) -> None:  # type: ignore[type-arg]
    examples = report["examples"]
    assert len(examples) == 3
    assert len({e["rule"]["name"] for e in examples}) == 3
    assert all(e["evidence"] for e in examples)
    labels = {item["alert"] for item in report["response_plan"]}
    assert any(e["rule"]["name"] in label for e in examples for label in labels)


def test_each_action_is_planned_once_per_principal(report: dict) -> None:  # type: ignore[type-arg]
    plan = report["response_plan"]
    keys = [(step["ref"], step["principal"]) for step in plan]
    assert plan and len(keys) == len(set(keys))
    assert all(step["alert"] for step in plan)


def test_skipped_targets_name_their_environment_variables(report: dict) -> None:  # type: ignore[type-arg]
    skipped = report["not_configured"]
    assert skipped
    assert all(item["configure"].startswith("set LLMSIEM_") for item in skipped)
