"""The wheel carries the content folders, and an installed wheel finds them."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = Path(__file__).resolve().parent.parent
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(repo)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("llmsiem-*.whl")
    return built


@pytest.mark.slow
def test_wheel_lists_rules_mappings_playbooks_schema(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for folder in ("rules", "mappings", "playbooks", "schema", "connectors"):
        assert any(n.startswith(f"llmsiem/_data/{folder}/") for n in names), folder
    assert "llmsiem/_data/schema/llm-event.schema.json" in names
    assert "llmsiem/_data/connectors/samples/demo_telemetry.jsonl" in names
    assert "llmsiem/dashboards/llmsiem-overview.yaml" in names  # the dashboards' description
    stems = {n.removesuffix(".yml") for n in names if n.startswith("llmsiem/_data/rules/")}
    samples = {n.removesuffix(".samples") for n in stems if n.endswith(".samples")}
    rules = {n for n in stems if not n.endswith(".samples")}
    assert rules and samples == rules, "every bundled rule ships its samples beside it"
    top_level = {n.split("/")[0] for n in names if not n.startswith("llmsiem-")}
    assert top_level == {"llmsiem", "sigma"}, "no top-level connectors/playbooks/schema packages"
    plugin = {n for n in names if n.startswith("sigma/")}
    assert plugin == {"sigma/pipelines/llmsiem/__init__.py", "sigma/backends/llmsiem/__init__.py"}


@pytest.mark.slow
def test_installed_wheel_runs_demo_from_bundled_content(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), wheel],
        check=True,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [sys.executable, "-c", "from llmsiem.resources import content_root; print(content_root())"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    ).stdout.strip()
    assert where == str(target / "llmsiem" / "_data")
    demo = subprocess.run(
        [sys.executable, "-m", "llmsiem", "demo", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert demo.returncode == 0, demo.stderr
    assert str(target) in demo.stdout
