"""Elastic Security rule documents: llmsiem metadata on top of pySigma's SIEM-rule output."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import yaml

from llmsiem.compiler.targets import ELASTIC_INDEX
from llmsiem.resources import content_dir

ALLOWLIST_EXCEPTION_LIST = {
    "id": "llmsiem-allowlist",
    "list_id": "llmsiem-allowlist",
    "type": "detection",
    "namespace_type": "single",
}
KIBANA_SEVERITY = {
    "informational": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "critical": "critical",
}
RISK_SCORE = {"informational": 1, "low": 21, "medium": 47, "high": 73, "critical": 99}


@cache
def atlas_catalogue() -> dict[str, Any]:
    """The bundled MITRE ATLAS technique catalogue (``mappings/taxonomy/atlas.yaml``)."""
    path = content_dir("mappings") / "taxonomy" / "atlas.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def atlas_threats(tags: list[str]) -> list[dict[str, Any]]:
    """Elastic ``threat`` entries (framework MITRE ATLAS) for ``atlas.aml.tNNNN`` tags."""
    catalogue = atlas_catalogue()
    threats: list[dict[str, Any]] = []
    for tag in tags:
        if not tag.startswith("atlas-"):
            continue
        technique_id = tag.removeprefix("atlas-").upper()
        technique = catalogue["techniques"][technique_id]
        tactic_id = technique["tactic"]
        threats.append(
            {
                "framework": "MITRE ATLAS",
                "tactic": {
                    "id": tactic_id,
                    "name": catalogue["tactics"][tactic_id],
                    "reference": f"https://atlas.mitre.org/tactics/{tactic_id}",
                },
                "technique": [
                    {
                        "id": technique_id,
                        "name": technique["name"],
                        "reference": f"https://atlas.mitre.org/techniques/{technique_id}",
                        "subtechnique": [],
                    }
                ],
            }
        )
    return threats


def kibana_rule(document: dict[str, Any], level: str) -> dict[str, Any]:
    """Finish a pySigma SIEM rule for ``_import``: llmsiem naming, index, tuning, ATLAS."""
    rule = dict(document)
    title = str(rule["name"]).removeprefix("SIGMA - ")
    rule.update(
        {
            "name": f"llmsiem: {title}",
            "author": ["llmsiem project"],
            "license": "Apache-2.0",
            "index": [ELASTIC_INDEX],
            "severity": KIBANA_SEVERITY[level],
            "risk_score": RISK_SCORE[level],
            "exceptions_list": [ALLOWLIST_EXCEPTION_LIST],
            "threat": [*rule.get("threat", []), *atlas_threats(rule.get("tags", []))],
            "tags": ["llmsiem", *rule.get("tags", [])],
            "enabled": level != "informational",
        }
    )
    return rule


def to_ndjson(rules: list[dict[str, Any]]) -> str:
    """One rule per line, stable key order, as the detection ``_import`` API reads it."""
    return "".join(json.dumps(rule, sort_keys=True, ensure_ascii=False) + "\n" for rule in rules)
