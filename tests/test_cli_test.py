"""``llmsiem test``: per-case verdicts of the engine and of the target evaluators."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from llmsiem.cli.main import cli
from llmsiem.compiler.targets import TARGETS
from user_rule_helpers import USER_SAMPLES, write_user_folder

RULE = "agent_disables_audit_logging"


def _folder(tmp_path: Path, samples: str = USER_SAMPLES) -> Path:
    return write_user_folder(tmp_path, samples)


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["test", *args])


def test_labelled_cases_pass_on_engine_and_python_evaluators(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    result = _run(str(folder), "--targets", "splunk-spl,loki-logql", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    verdicts = [(c["case"], c["verdicts"]) for c in data["cases"]]
    assert verdicts == [
        (
            f"{RULE}:true_positives[0]",
            dict.fromkeys(["engine", "splunk-spl", "loki-logql"], "fires"),
        ),
        (
            f"{RULE}:true_negatives[0]",
            dict.fromkeys(["engine", "splunk-spl", "loki-logql"], "silent"),
        ),
    ]


def test_a_true_negative_that_fires_fails_with_exit_1_and_a_table(tmp_path: Path) -> None:
    folder = _folder(tmp_path, USER_SAMPLES.replace("auditctl -e 1", "AUDITCTL -E 0"))
    result = _run(str(folder))
    assert result.exit_code == 1
    assert "FAIL" in result.stdout and "TN 0" in result.stdout
    data = json.loads(_run(str(folder), "--format", "json").stdout)
    assert [c["passed"] for c in data["cases"]] == [True, False]
    assert data["cases"][1]["verdicts"] == {"engine": "fires"}


def test_partial_true_positive_is_reported(tmp_path: Path) -> None:
    two_events = USER_SAMPLES.replace(
        "true_negatives:",
        "  - - event.action: tool_call\n      gen_ai.tool.call.arguments: auditctl -e 0\n"
        "    - event.action: tool_call\n      gen_ai.tool.call.arguments: ls\ntrue_negatives:",
    )
    data = json.loads(_run(str(_folder(tmp_path, two_events)), "--format", "json").stdout)
    assert data["cases"][1]["verdicts"] == {"engine": "partial 1/2"}
    assert data["passed"] is False


def test_missing_evaluator_is_not_available_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = replace(TARGETS["loki-logql"], evaluator="llmsiem.conformance.no_such:verdicts")
    monkeypatch.setitem(TARGETS._loaded, "loki-logql", missing)
    result = _run(str(_folder(tmp_path)), "--targets", "loki-logql", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["not_available"]["loki-logql"].startswith("not available:")
    assert data["cases"][0]["verdicts"] == {"engine": "fires", "loki-logql": "n/a"}


def test_unknown_target_and_missing_samples_are_reported(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    assert _run(str(folder), "--targets", "nosuch").exit_code == 2
    (folder / f"{RULE}.samples.yml").unlink()
    result = _run(str(folder), "--format", "json")
    assert result.exit_code == 1
    assert "no samples file" in json.loads(result.stdout)["errors"][RULE]
