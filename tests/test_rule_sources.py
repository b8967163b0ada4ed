"""The pack plus your rules: several --rules, --with-pack, overrides, samples beside a rule;
ATT&CK ids outside the bundled data are warnings; ATLAS only for ML-attack categories."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sigma.data import mitre_attack

from llmsiem.cli.main import cli
from llmsiem.resources import content_dir
from llmsiem.rulepack import RulePack, RuleSources
from llmsiem.sigma_offline import use_bundled_mitre_data
from user_rule_helpers import USER_RULE, USER_SAMPLES, write_user_folder

PACK_RULE = "tool_destructive_sql"


def _pack_rule() -> Path:
    return next(content_dir("rules").rglob(f"{PACK_RULE}.yml"))


def test_with_pack_adds_user_rules_and_skips_samples_files(tmp_path: Path) -> None:
    folder = write_user_folder(tmp_path)
    bundled = RulePack.load()
    both = RulePack.load(RuleSources((folder,), with_pack=True))
    names = [f.path.name for f in both.files]
    assert len(both.files) == len(bundled.files) + 1
    assert "agent_disables_audit_logging.yml" in names
    assert not any(n.endswith(".samples.yml") for n in names)
    assert both.overrides == ()
    for file in both.files:  # every path is relative to the common root
        file.path.relative_to(both.root)


def test_same_id_overrides_the_pack_rule_and_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    text = _pack_rule().read_text(encoding="utf-8").replace("DROP", "TRUNCATE")
    (folder / f"{PACK_RULE}.yml").write_text(text, encoding="utf-8")
    pack = RulePack.load(RuleSources((folder,), with_pack=True))
    (override,) = pack.overrides
    assert override.key == "id"
    assert override.replaced == _pack_rule().resolve()
    assert override.by == (folder / f"{PACK_RULE}.yml").resolve()
    texts = [f.text for f in pack.files if f.path.stem == PACK_RULE]
    assert texts == [text]
    assert len(pack.files) == len(RulePack.load().files)


def test_same_name_with_new_id_also_overrides(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    text = _pack_rule().read_text(encoding="utf-8")
    old_id = next(line for line in text.splitlines() if line.startswith("id:"))
    new = text.replace(old_id, "id: 00000000-0000-4000-8000-000000000001")
    (folder / "renamed.yml").write_text(new, encoding="utf-8")
    (override,) = RulePack.load(RuleSources((folder,), with_pack=True)).overrides
    assert override.key == "name"


def test_without_with_pack_only_the_given_paths(tmp_path: Path) -> None:
    folder = write_user_folder(tmp_path)
    assert [f.path.name for f in RulePack.load(folder).files] == [
        "agent_disables_audit_logging.yml"
    ]


def test_cli_repeated_rules_and_override_in_json(tmp_path: Path) -> None:
    """Two --rules: the pack's rule and the user's folder; the second overrides by id."""
    first = tmp_path / "first"
    first.mkdir()
    (first / f"{PACK_RULE}.yml").write_text(_pack_rule().read_text(encoding="utf-8"))
    mine = write_user_folder(tmp_path)
    (mine / f"{PACK_RULE}.yml").write_text(
        _pack_rule().read_text(encoding="utf-8").replace("DROP", "TRUNCATE")
    )
    result = CliRunner().invoke(
        cli,
        [
            *("compile", "--target", "splunk-spl", "--rules", str(first), "--rules", str(mine)),
            *("--out", str(tmp_path / "out"), "--format", "json"),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    (override,) = data["overrides"]
    assert override["key"] == "id" and override["by"].endswith(f"my-rules/{PACK_RULE}.yml")
    assert data["targets"][0]["compiled"] == 2
    assert "override:" in result.stderr


def test_validate_runs_samples_beside_a_user_rule(tmp_path: Path) -> None:
    folder = write_user_folder(tmp_path)
    ok = CliRunner().invoke(cli, ["validate", "--rules", str(folder), "--format", "json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["findings"] == []
    samples = folder / "agent_disables_audit_logging.samples.yml"
    samples.write_text(USER_SAMPLES.replace("auditctl -e 1", "auditctl -e 0"))
    bad = CliRunner().invoke(cli, ["validate", "--rules", str(folder), "--format", "json"])
    assert bad.exit_code == 1
    (finding,) = json.loads(bad.stdout)["findings"]
    assert finding["check"] == "sample-verdict"
    assert finding["message"] == "true_negatives[0]: true negative fired"


def test_unknown_attack_technique_is_a_warning_and_attack_data_knows_it(tmp_path: Path) -> None:
    folder = write_user_folder(tmp_path)
    result = CliRunner().invoke(cli, ["validate", "--rules", str(folder), "--format", "json"])
    (warning,) = json.loads(result.stdout)["warnings"]
    assert warning["check"] == "attack-data"
    assert "attack.t1562.008 is well-formed but not in the ATT&CK data" in warning["message"]
    bundle = json.loads(
        (content_dir("mappings") / "taxonomy" / "attack-enterprise-subset.stix.json").read_text()
    )
    template = next(o for o in bundle["objects"] if o["type"] == "attack-pattern")
    extra = json.loads(json.dumps(template))
    extra["id"] = "attack-pattern--00000000-0000-4000-8000-000000000008"
    extra["name"] = "Disable or Modify Linux Audit System"
    extra["external_references"] = [{"source_name": "mitre-attack", "external_id": "T1562.008"}]
    bundle["objects"].append(extra)
    own = tmp_path / "enterprise-attack.json"
    own.write_text(json.dumps(bundle))
    try:
        result = CliRunner().invoke(
            cli,
            ["validate", "--rules", str(folder), "--attack-data", str(own), "--format", "json"],
        )
    finally:  # the ATT&CK source is process-wide: restore the bundled one
        mitre_attack.set_url(str(use_bundled_mitre_data()))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["warnings"] == []


def test_malformed_attack_tag_stays_an_error(tmp_path: Path) -> None:
    folder = write_user_folder(tmp_path)
    rule = folder / "agent_disables_audit_logging.yml"
    rule.write_text(USER_RULE.replace("attack.t1562.008", "attack.t15x"))
    result = CliRunner().invoke(cli, ["validate", "--rules", str(folder), "--format", "json"])
    assert result.exit_code == 1
    checks = [f["check"] for f in json.loads(result.stdout)["findings"]]
    assert checks == ["pysigma:InvalidATTACKTagIssue"]


def test_atlas_tag_required_only_for_ml_attack_categories(tmp_path: Path) -> None:
    folder = write_user_folder(tmp_path)
    rule = folder / "agent_disables_audit_logging.yml"
    rule.write_text(USER_RULE.replace("owasp.llm06", "owasp.llm01"))
    result = CliRunner().invoke(cli, ["validate", "--rules", str(folder), "--format", "json"])
    assert result.exit_code == 1
    (finding,) = json.loads(result.stdout)["findings"]
    assert finding["check"] == "metadata" and "needs a MITRE ATLAS tag" in finding["message"]
