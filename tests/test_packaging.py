"""The wheel carries the content folders, and an installed wheel (a fresh venv with its
dependencies from the package index) finds them."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

# One worker builds the wheel and its fresh venv (session fixtures) for every test using them.
pytestmark = pytest.mark.xdist_group("wheel")


@pytest.mark.slow
def test_wheel_lists_rules_mappings_playbooks_schema(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for folder in ("rules", "mappings", "playbooks", "schema", "connectors"):
        assert any(n.startswith(f"llmsiem/_data/{folder}/") for n in names), folder
    assert "llmsiem/_data/schema/llm-event.schema.json" in names
    assert "llmsiem/_data/connectors/samples/demo_telemetry.jsonl" in names
    assert "llmsiem/dashboards/llmsiem-overview.yaml" in names  # the dashboards' description
    assert "llmsiem/scoring/injection_model.json.gz" in names  # the scorer needs no download
    stems = {n.removesuffix(".yml") for n in names if n.startswith("llmsiem/_data/rules/")}
    samples = {n.removesuffix(".samples") for n in stems if n.endswith(".samples")}
    rules = {n for n in stems if not n.endswith(".samples")}
    assert rules and samples == rules, "every bundled rule ships its samples beside it"
    top_level = {n.split("/")[0] for n in names if not n.startswith("llmsiem-")}
    assert top_level == {"llmsiem", "sigma"}, "no top-level connectors/playbooks/schema packages"
    plugin = {n for n in names if n.startswith("sigma/")}
    assert plugin == {"sigma/pipelines/llmsiem/__init__.py", "sigma/backends/llmsiem/__init__.py"}


@pytest.mark.slow
def test_installed_wheel_runs_demo_from_bundled_content(
    fresh_venv: Path, user_env: dict[str, str], tmp_path: Path
) -> None:
    """In a fresh venv, outside the checkout, the demo runs on the wheel's own content."""
    python = str(fresh_venv / "python")
    where = subprocess.run(
        [python, "-c", "from llmsiem.resources import content_root; print(content_root())"],
        check=True,
        capture_output=True,
        text=True,
        env=user_env,
        cwd=tmp_path,
    ).stdout.strip()
    assert Path(where).parts[-3:] == ("site-packages", "llmsiem", "_data")
    assert where.startswith(str(fresh_venv.parent))
    demo = subprocess.run(
        [str(fresh_venv / "llmsiem"), "demo", "--format", "json"],
        capture_output=True,
        text=True,
        env=user_env,
        cwd=tmp_path,
    )
    assert demo.returncode == 0, demo.stderr
    assert where in demo.stdout
