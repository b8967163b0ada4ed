"""llmsiem's processing pipelines as a pySigma plugin (``sigma list pipelines``).

Each pipeline is composed as ``llmsiem compile`` composes it: the tuning file first (the
allowlist placeholders), then the target's field mappings, all from the bundled
``mappings/`` folder. Use them with llmsiem's backends (``sigma.backends.llmsiem``). A
compile target of an installed ``llmsiem.targets`` plugin adds its pipelines as
``llmsiem_<target name>`` (``-`` written ``_``).
"""

from __future__ import annotations

from collections.abc import Callable as _Callable

from sigma.processing.pipeline import ProcessingPipeline as _Pipeline

from llmsiem.compiler.compile import load_pipeline as _load_pipeline
from llmsiem.compiler.targets import BUILTIN_TARGETS as _BUILTIN_TARGETS
from llmsiem.compiler.targets import TARGETS as _TARGETS

__all__ = ["pipelines"]  # pySigma's discovery reads the ``pipelines`` dict only

# Pipeline -> (the llmsiem compile target whose pipelines it composes, llmsiem backends).
_PIPELINE_TARGETS = {
    "llmsiem_elastic": ("elastic-lucene", {"llmsiem_lucene", "llmsiem_esql", "llmsiem_eql"}),
    "llmsiem_opensearch": ("opensearch-lucene", {"llmsiem_opensearch"}),
    "llmsiem_splunk": ("splunk-spl", {"llmsiem_splunk"}),
    "llmsiem_loki": ("loki-logql", {"llmsiem_loki"}),
}


def _pipeline(target: str, backends: set[str]) -> _Callable[[], _Pipeline]:
    def build() -> _Pipeline:
        pipeline = _load_pipeline(_TARGETS[target].pipelines)
        pipeline.name = f"llmsiem: tuning defaults + {_TARGETS[target].description}"
        pipeline.allowed_backends = frozenset(pipeline.allowed_backends | backends)
        return pipeline

    build.__doc__ = f"llmsiem pipeline of the {target} target"
    return build


pipelines: dict[str, _Callable[[], _Pipeline]] = {
    name: _pipeline(target, backends) for name, (target, backends) in _PIPELINE_TARGETS.items()
} | {
    "llmsiem_" + target.replace("-", "_"): _pipeline(target, set())
    for target in _TARGETS
    if target not in _BUILTIN_TARGETS
}
