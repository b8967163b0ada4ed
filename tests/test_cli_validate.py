"""``llmsiem validate --rules X --samples Y`` runs each rule's samples through the engine."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from llmsiem.cli.main import cli
from llmsiem.resources import content_dir

RULE = "tool_destructive_sql"
POSITIVE = """\
  - - event.action: tool_call
      gen_ai.tool.name: run_sql
      gen_ai.tool.call.arguments: '{"query": "DROP TABLE customers;"}'
"""
NEGATIVE = """\
  - - event.action: tool_call
      gen_ai.tool.name: run_sql
      gen_ai.tool.call.arguments: '{"query": "DROP INDEX customers;"}'
"""


def _validate(tmp_path: Path, positives: str, negatives: str, *extra: str) -> Result:
    rules = tmp_path / "rules"
    rules.mkdir()
    source = next(content_dir("rules").rglob(f"{RULE}.yml"))
    (rules / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    samples = tmp_path / "samples" / RULE
    samples.mkdir(parents=True)
    (samples / "samples.yml").write_text(
        f"rule: {RULE}\ntrue_positives:\n{positives}true_negatives:\n{negatives}"
    )
    return CliRunner().invoke(
        cli, ["validate", "--rules", str(rules), "--samples", str(samples.parent), *extra]
    )


def test_labelled_samples_pass(tmp_path: Path) -> None:
    result = _validate(tmp_path, POSITIVE, NEGATIVE, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["findings"] == []


def test_true_negative_that_fires_fails_validation(tmp_path: Path) -> None:
    result = _validate(tmp_path, POSITIVE, NEGATIVE + POSITIVE, "--format", "json")
    assert result.exit_code == 1
    (finding,) = json.loads(result.stdout)["findings"]
    assert finding == {
        "path": f"{RULE}.yml",
        "rule": RULE,
        "check": "sample-verdict",
        "message": "true_negatives[1]: true negative fired",
    }


def test_true_positive_that_misses_fails_validation_with_a_readable_line(
    tmp_path: Path,
) -> None:
    result = _validate(tmp_path, NEGATIVE, NEGATIVE)
    assert result.exit_code == 1
    assert (
        f"{RULE}.yml: [sample-verdict] {RULE}: true_positives[0]: true positive did not fire"
        in result.stdout.replace("\n", " ").replace("  ", " ")
    )
    assert "true_negatives[0]" not in result.stdout
