"""sigma-cli finds llmsiem's pipelines and backends (pySigma plugin discovery) and converts
the pack's detection rules to the same queries as ``llmsiem compile``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sigma.plugins import InstalledSigmaPlugins

from llmsiem.compiler.compile import compile_pack
from llmsiem.rulepack import RulePack

SIGMA = Path(sys.executable).parent / "sigma"


def _sigma(*args: str) -> subprocess.CompletedProcess[str]:
    """sigma-cli's output, decoded without newline translation (queries hold raw \\r)."""
    done = subprocess.run([str(SIGMA), *args], capture_output=True, timeout=600, check=False)
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def test_autodiscover_finds_pipelines_and_backends() -> None:
    plugins = InstalledSigmaPlugins.autodiscover()
    names = {"llmsiem_elastic", "llmsiem_opensearch", "llmsiem_splunk", "llmsiem_loki"}
    assert names <= set(plugins.pipelines)
    backends = {"llmsiem_lucene", "llmsiem_esql", "llmsiem_eql", "llmsiem_splunk"}
    assert backends | {"llmsiem_opensearch", "llmsiem_loki"} <= set(plugins.backends)
    listed = _sigma("list", "pipelines")
    assert listed.returncode == 0, listed.stderr
    assert all(f"| {name}" in listed.stdout for name in names)


@pytest.mark.parametrize(
    ("backend", "pipeline", "target"),
    [
        ("llmsiem_lucene", "llmsiem_elastic", "elastic-lucene"),
        ("llmsiem_esql", "llmsiem_elastic", "elastic-esql"),
        ("llmsiem_eql", "llmsiem_elastic", "elastic-eql"),
        ("llmsiem_splunk", "llmsiem_splunk", "splunk-spl"),
        ("llmsiem_loki", "llmsiem_loki", "loki-logql"),
    ],
)
def test_sigma_convert_gives_the_queries_of_llmsiem_compile(
    backend: str, pipeline: str, target: str
) -> None:
    """Every detection rule llmsiem compiles standalone for the target, converted by
    sigma-cli in one run, in file order (correlations: see the README)."""
    pack = RulePack.load()
    compiled = [r for r in compile_pack(target).compiled if r.kind == "detection"]
    assert len(compiled) > 50
    files = [str(pack.root / r.path) for r in compiled]
    result = _sigma("convert", "-t", backend, "-p", pipeline, *files)
    assert result.returncode == 0, result.stderr + result.stdout
    expected = "\n\n".join(str(query) for r in compiled for query in r.queries)
    assert result.stdout.strip() == expected.strip()
