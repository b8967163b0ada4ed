"""``llmsiem coverage``: the ATLAS Navigator layer validates, the HTML renders in Chromium."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from llmsiem.cli.main import cli
from llmsiem.coverage import (
    RuleCoverage,
    collect,
    efficacy,
    layer_errors,
    load_catalogue,
    navigator_layer,
)
from llmsiem.rulepack import RulePack


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("coverage")
    result = CliRunner().invoke(cli, ["coverage", "--out-dir", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_layer_validates_and_names_real_atlas_techniques(written: Path) -> None:
    layer = json.loads((written / "llmsiem-atlas-layer.json").read_text())
    assert layer_errors(layer) == []
    catalogue = load_catalogue()
    ids = [t["techniqueID"] for t in layer["techniques"]]
    assert ids and set(ids) <= set(catalogue.atlas)
    rules = collect(RulePack.load())
    for technique in layer["techniques"]:
        covering = [r for r in rules if technique["techniqueID"] in r.atlas]
        assert technique["score"] == len(covering)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("name",), None),
        (("domain",), "atlas"),
        (("versions", "layer"), "4.4"),
        (("techniques", 0, "techniqueID"), "AML-T0051"),
        (("gradient", "colors"), ["#ffffff"]),
        (("legendItems", 0, "color"), "blue"),
        (("techniques", 0, "metadata", 0), {"name": "x"}),
    ],
)
def test_schema_rejects_broken_layers(written: Path, path: tuple[Any, ...], value: Any) -> None:
    layer = json.loads((written / "llmsiem-atlas-layer.json").read_text())
    broken = copy.deepcopy(layer)
    node: Any = broken
    for part in path[:-1]:
        node = node[part]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    assert layer_errors(broken)


def test_every_owasp_category_has_two_rules() -> None:
    rules = collect(RulePack.load())
    counts = {key: sum(key in r.owasp for r in rules) for key in load_catalogue().owasp}
    assert all(count >= 2 for count in counts.values()), counts


def test_efficacy_from_eval_and_agent_eval_reports() -> None:
    eval_report = {
        "attack_families": [{"total": 8}],
        "benign_sets": [{"total": 100}],
        "rule_table": [{"rule": "a", "tp": 6, "fp": 1}],
    }
    agent_report = {
        "sessions": {
            "attack_sessions": {"total": 2},
            "benign_sessions": {"total": 50, "rules": {"b": 1}},
            "scenarios": [{"rules": {"a": 2}}],
        }
    }
    table = efficacy([eval_report, agent_report], ("a", "quiet"))
    assert (table["quiet"].caught, table["quiet"].attacks, table["quiet"].recall()) == (0, 10, 0)
    assert efficacy([], ("quiet",)) == {}
    assert (table["a"].caught, table["a"].attacks) == (8, 10)
    assert (table["a"].flagged, table["a"].benign) == (1, 150)
    assert table["b"].fpr() == pytest.approx(1 / 50)
    with pytest.raises(ValueError):
        efficacy([{"something": 1}])
    rule = RuleCoverage("a", "A Rule", "high", "tool", ("AML.T0051",), ("LLM01",))
    layer = navigator_layer([rule], load_catalogue(), table)
    assert "recall 80.0%" in layer["techniques"][0]["metadata"][0]["value"]


def test_html_renders_in_headless_chromium(written: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is missing: run `make chromium` (Debian package chromium)"
    page = (written / "llmsiem-coverage.html").resolve()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "<h1>llmsiem detection coverage</h1>" in dom
    rules = collect(RulePack.load())
    assert dom.count("<h3>LLM") == 10
    assert all(f"<td>{r.name}</td>" in dom for r in rules)
    shot = tmp_path / "coverage.png"
    subprocess.run(
        [chromium, *flags, "--window-size=1280,2000", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000
