"""Elastic Security rule documents: llmsiem metadata on top of pySigma's SIEM-rule output.

The NDJSON file is what ``POST /api/detection_engine/rules/_import`` reads: rule lines plus
exception list lines. Its first line is the container of the shared exception list
``llmsiem-allowlist`` that every rule references, so the list exists after an import into a
clean Kibana; without it Kibana removes the reference ("references a non existent exception
list ... Reference has been removed"). The file carries no exception items: the SOC's items
live only in Kibana, and importing with ``overwrite_exceptions=false`` (the documented
default) keeps an existing list and its items; Kibana answers 409 "already exists ... skipped"
for the container. ``overwrite_exceptions=true`` would delete the list's items.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import yaml

from llmsiem.compiler.compile import CompiledRule
from llmsiem.compiler.targets import ELASTIC_INDEX
from llmsiem.levels import KIBANA_SEVERITY, RISK_SCORE
from llmsiem.resources import content_dir
from llmsiem.sigma_offline import use_bundled_mitre_data

ALLOWLIST_ID = "llmsiem-allowlist"
ALLOWLIST_EXCEPTION_LIST = {
    "id": ALLOWLIST_ID,
    "list_id": ALLOWLIST_ID,
    "type": "detection",
    "namespace_type": "single",
}
ALLOWLIST_CONTAINER = {
    "list_id": ALLOWLIST_ID,
    "name": "llmsiem allowlist",
    "description": (
        "Exceptions shared by every llmsiem rule (approved users, keys, templates). "
        "Add items here; re-importing the llmsiem rules keeps them."
    ),
    "type": "detection",
    "namespace_type": "single",
    "os_types": [],
    "tags": ["llmsiem"],
}

# Detection rules: every 5 minutes over the last 6, so an event indexed up to a minute late
# is still seen (Kibana suppresses duplicate alerts for the same source event).
DETECTION_INTERVAL_SECONDS = 300
DETECTION_LOOKBACK_SECONDS = 60
ATTACK_TECHNIQUE = re.compile(r"t\d{4}(\.\d{3})?")


@cache
def atlas_catalogue() -> dict[str, Any]:
    """The bundled MITRE ATLAS technique catalogue (``mappings/taxonomy/atlas.yaml``)."""
    path = content_dir("mappings") / "taxonomy" / "atlas.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def _duration(seconds: int) -> str:
    """A Kibana date-math duration: whole minutes as ``Nm``, otherwise ``Ns``."""
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


def schedule(window_seconds: int | None) -> dict[str, Any]:
    """``interval``, ``from`` and ``meta.from`` (Kibana's additional look-back) of a rule.

    A correlation fires on events spread over one window of ``W`` seconds. Each run searches
    ``[now - (W + I), now]`` with an interval ``I <= W``: any window that ends after the
    previous run (at most ``I`` ago) starts at most ``W + I`` ago, so some run sees every
    window whole. Runs overlap by ``W``; Kibana deduplicates alerts of EQL sequences by their
    source events, and ES|QL aggregations over overlapping runs can repeat an alert once.
    """
    if window_seconds is None:
        interval, lookback = DETECTION_INTERVAL_SECONDS, DETECTION_LOOKBACK_SECONDS
    else:
        interval, lookback = min(DETECTION_INTERVAL_SECONDS, window_seconds), window_seconds
    return {
        "interval": _duration(interval),
        "from": f"now-{_duration(interval + lookback)}",
        "to": "now",
        "meta": {"from": _duration(lookback)},
    }


ML_SCHEDULE = {"interval": "15m", "from": "now-45m", "to": "now"}
"""A machine_learning rule's schedule, as Elastic's prebuilt ML rules run: anomaly records
appear after their bucket closes and the datafeed's query delay, so each run looks back
three intervals."""

Technique = tuple[str, str, str]  # id, name, reference


def _add_technique(threat: dict[str, Any], parent: Technique, sub: Technique | None) -> None:
    """Add a technique, or a sub-technique under its parent, to one tactic's entry."""
    techniques: list[dict[str, Any]] = threat["technique"]
    entry = next((t for t in techniques if t["id"] == parent[0]), None)
    if entry is None:
        entry = {"id": parent[0], "name": parent[1], "reference": parent[2], "subtechnique": []}
        techniques.append(entry)
    if sub is not None and all(s["id"] != sub[0] for s in entry["subtechnique"]):
        entry["subtechnique"].append({"id": sub[0], "name": sub[1], "reference": sub[2]})


def attack_threats(tags: list[str]) -> list[dict[str, Any]]:
    """Elastic ``threat`` entries (framework MITRE ATT&CK) for a rule's ``attack-*`` tags.

    Tactic tags (``attack-initial-access``) give one entry each; every technique tag
    (``attack-t1552.005``) goes under the rule's tactics it belongs to in the bundled ATT&CK
    data, or under its first ATT&CK tactic when the rule names none of them. A technique
    missing from the bundled data keeps its id as its name.
    """
    use_bundled_mitre_data()
    from sigma.data import mitre_attack

    tactic_ids = {name: tactic_id for tactic_id, name in mitre_attack.mitre_attack_tactics.items()}
    techniques: dict[str, str] = mitre_attack.mitre_attack_techniques
    tactics_of: dict[str, list[str]] = mitre_attack.mitre_attack_techniques_tactics_mapping
    names = [t.removeprefix("attack-").lower() for t in tags if t.startswith("attack-")]
    threats: dict[str, dict[str, Any]] = {}

    def entry(tactic: str) -> dict[str, Any]:
        if tactic not in threats:
            tactic_id = tactic_ids[tactic]
            threats[tactic] = {
                "framework": "MITRE ATT&CK",
                "tactic": {
                    "id": tactic_id,
                    "name": tactic.replace("-", " ").title().replace(" And ", " and "),
                    "reference": f"https://attack.mitre.org/tactics/{tactic_id}",
                },
                "technique": [],
            }
        return threats[tactic]

    rule_tactics = [name for name in names if name in tactic_ids]
    for tactic in rule_tactics:
        entry(tactic)
    for name in names:
        if not ATTACK_TECHNIQUE.fullmatch(name):
            continue
        technique_id = name.upper()
        parent_id = technique_id.split(".")[0]
        known = tactics_of.get(technique_id) or tactics_of.get(parent_id) or []
        targets = [t for t in rule_tactics if t in known] or known[:1] or rule_tactics[:1]
        parent = (
            parent_id,
            techniques.get(parent_id, parent_id),
            f"https://attack.mitre.org/techniques/{parent_id}",
        )
        sub = (
            technique_id,
            techniques.get(technique_id, technique_id),
            f"https://attack.mitre.org/techniques/{technique_id.replace('.', '/')}",
        )
        for tactic in targets:
            _add_technique(entry(tactic), parent, sub if technique_id != parent_id else None)
    return list(threats.values())


def atlas_threats(tags: list[str]) -> list[dict[str, Any]]:
    """Elastic ``threat`` entries (framework MITRE ATLAS) for ``atlas-aml.tNNNN`` tags."""
    catalogue = atlas_catalogue()
    threats: dict[str, dict[str, Any]] = {}
    for tag in tags:
        if not tag.startswith("atlas-"):
            continue
        technique_id = tag.removeprefix("atlas-").upper()
        parent_id = ".".join(technique_id.split(".")[:2])
        technique = catalogue["techniques"].get(technique_id) or catalogue["techniques"][parent_id]
        tactic_id = technique["tactic"]
        if tactic_id not in threats:
            threats[tactic_id] = {
                "framework": "MITRE ATLAS",
                "tactic": {
                    "id": tactic_id,
                    "name": catalogue["tactics"][tactic_id],
                    "reference": f"https://atlas.mitre.org/tactics/{tactic_id}",
                },
                "technique": [],
            }
        parent = catalogue["techniques"].get(parent_id, technique)
        _add_technique(
            threats[tactic_id],
            (parent_id, parent["name"], f"https://atlas.mitre.org/techniques/{parent_id}"),
            (technique_id, technique["name"], f"https://atlas.mitre.org/techniques/{technique_id}")
            if technique_id != parent_id
            else None,
        )
    return list(threats.values())


def rule_authors(authors: list[str]) -> list[str]:
    """The Sigma ``author`` (one string, comma-separated names) as Kibana's author list."""
    return [name.strip() for author in authors for name in author.split(",") if name.strip()]


def kibana_rule(document: dict[str, Any], compiled: CompiledRule) -> dict[str, Any]:
    """Finish a pySigma SIEM rule for ``_import``: naming, index, schedule, tuning, threat.

    Tags and threat come from the Sigma rule itself: pySigma's EQL output drops ``attack``
    tags from the rule it converts, and pairs tactics with techniques by position.
    """
    rule = dict(document)
    title = str(rule["name"]).removeprefix("SIGMA - ")
    tags = [tag.replace(".", "-", 1) for tag in compiled.tags]
    machine_learning = rule.get("type") == "machine_learning"
    rule.update(
        {
            "name": f"llmsiem: {title}",
            "author": rule_authors(rule.get("author", [])),
            "license": "Apache-2.0",
            "severity": KIBANA_SEVERITY[compiled.level],
            "risk_score": RISK_SCORE[compiled.level],
            "exceptions_list": [ALLOWLIST_EXCEPTION_LIST],
            "threat": [*attack_threats(tags), *atlas_threats(tags)],
            "tags": ["llmsiem", *tags],
            "enabled": compiled.level != "informational",
            **(ML_SCHEDULE if machine_learning else schedule(compiled.window_seconds)),
        }
    )
    if not machine_learning:  # an ML rule reads its job's results, not an index
        rule["index"] = [ELASTIC_INDEX]
    return rule


def to_ndjson(rules: list[dict[str, Any]]) -> str:
    """The allowlist container, then one rule per line, stable key order (``_import``)."""
    lines = [ALLOWLIST_CONTAINER, *rules]
    return "".join(json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n" for line in lines)


def is_rule_line(document: dict[str, Any]) -> bool:
    """A rule line of the NDJSON (exception list lines carry ``list_id``, no ``rule_id``)."""
    return "rule_id" in document
