"""``llmsiem compile`` output: totals that add up to the pack, skips on stderr, coverage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from llmsiem.cli.main import cli
from llmsiem.compiler.targets import TARGETS
from llmsiem.rulepack import RulePack

PACK_SIZE = len(RulePack.load().files)


def _compile(tmp_path: Path, *extra: str) -> Result:
    return CliRunner().invoke(
        cli, ["compile", "--target", "all", "--out", str(tmp_path / "build"), *extra]
    )


@pytest.fixture(scope="module")
def json_result(tmp_path_factory: pytest.TempPathFactory) -> Result:
    return _compile(tmp_path_factory.mktemp("c"), "--format", "json")


def test_every_target_accounts_for_every_rule(json_result: Result) -> None:
    assert json_result.exit_code == 0, json_result.stderr
    targets = json.loads(json_result.stdout)["targets"]
    assert [t["target"] for t in targets] == list(TARGETS)
    for target in targets:
        counts = target["counts"]
        parts = ("compiled", "in correlation", "skipped", "failed")
        assert sum(counts[p] for p in parts) == counts["total"] == PACK_SIZE, target["target"]
        assert counts["skipped"] == len(target["skipped"])
        assert counts["failed"] == len(target["failed"])
        in_correlation = {i["rule_id"] for i in target["in_correlation"]}
        assert len(in_correlation) == counts["in correlation"]


def test_skip_messages_go_to_stderr_only_when_verbose(tmp_path: Path) -> None:
    quiet = _compile(tmp_path)
    assert quiet.exit_code == 0
    assert "skipped for" not in quiet.stdout and "skipped for" not in quiet.stderr
    assert "--verbose lists them" in quiet.stderr
    loud = _compile(tmp_path, "--verbose")
    assert "skipped for" not in loud.stdout
    skipped = [line for line in loud.stderr.splitlines() if " skipped for " in line]
    assert skipped and all("[backend " in line for line in skipped)


def test_coverage_table_has_one_cell_per_rule_and_target(tmp_path: Path) -> None:
    result = _compile(tmp_path, "--coverage")
    assert result.exit_code == 0
    rows = [line for line in result.stdout.splitlines() if line.startswith("| `")]
    assert len(rows) == PACK_SIZE
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        assert len(cells) == len(TARGETS)
        assert all(c[0] in "✓∘⊘✗" for c in cells), row
    total = next(line for line in result.stdout.splitlines() if line.startswith("| **total**"))
    assert total.count(str(PACK_SIZE)) == len(TARGETS)
    for note in {
        c.split("[")[1].strip().rstrip("]") for r in rows for c in r.split("|") if "[" in c
    }:
        assert f"\n[{note}] " in result.stdout
