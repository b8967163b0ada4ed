"""The shipped ATLAS catalogue is the published ATLAS data, trimmed by the project's script."""

from __future__ import annotations

from pathlib import Path

import yaml

from conftest import REPO, shared_path
from llmsiem.atlas_data import main, render, trim


def test_shipped_atlas_catalogue_is_generated_from_published_data() -> None:
    source = shared_path("mitre", "ATLAS.yaml")
    published = yaml.safe_load(source.read_text(encoding="utf-8"))
    shipped = (REPO / "mappings" / "taxonomy" / "atlas.yaml").read_text(encoding="utf-8")
    assert shipped == render(trim(published)), "run `make taxonomy` to regenerate it"
    catalogue = yaml.safe_load(shipped)
    matrix = published["matrices"][0]
    assert len(catalogue["techniques"]) == len(matrix["techniques"])
    assert set(catalogue["tactics"]) == {t["id"] for t in matrix["tactics"]}


def test_sub_techniques_take_their_parent_tactics() -> None:
    atlas = {
        "version": "9.9",
        "matrices": [
            {
                "tactics": [{"id": "AML.TA0005", "name": "Execution"}],
                "techniques": [
                    {"id": "AML.T0051", "name": "LLM Prompt Injection", "tactics": ["AML.TA0005"]},
                    {"id": "AML.T0051.000", "name": "Direct", "subtechnique-of": "AML.T0051"},
                ],
            }
        ],
    }
    entry = trim(atlas)["techniques"]["AML.T0051.000"]
    assert entry == {
        "name": "Direct",
        "tactic": "AML.TA0005",
        "tactics": ["AML.TA0005"],
        "parent": "AML.T0051",
    }


def test_unusable_source_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "ATLAS.yaml"
    bad.write_text("version: 1\n", encoding="utf-8")
    assert main([str(bad), str(tmp_path / "out.yaml")]) == 2
    assert not (tmp_path / "out.yaml").exists()
