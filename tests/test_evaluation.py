"""``llmsiem eval``: Wilson intervals, and the efficacy targets on the dev corpora."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from conftest import shared_path
from llmsiem.cli.main import cli
from llmsiem.evaluation import TARGETS, wilson


def test_wilson_interval_known_values() -> None:
    low, high = wilson(8, 10)
    assert math.isclose(low, 0.4902, abs_tol=1e-4)
    assert math.isclose(high, 0.9433, abs_tol=1e-4)
    assert wilson(0, 0) == (0.0, 0.0)
    low, high = wilson(0, 50)
    assert low == 0.0 and 0.06 < high < 0.08


@pytest.mark.slow
def test_eval_on_dev_corpora_meets_every_target() -> None:
    corpora = shared_path("corpora", "dev")
    result = CliRunner().invoke(cli, ["eval", "--corpora", str(corpora), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    targets = report["targets"]
    assert set(targets) == {t.name for t in TARGETS}
    assert all(t["met"] for t in targets.values()), targets
    families = {f["name"]: f for f in report["attack_families"]}
    assert len(families) >= 10
    for family in families.values():
        low, high = family["ci95"]
        assert low <= family["recall"] <= high
    assert report["precision"] > 0.99
    for case in report["false_positive_cases"]:
        assert isinstance(case, str)
