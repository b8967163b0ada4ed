"""OpenLLMetry / Traceloop traces as OTLP JSON: the OTLP source, named.

Sniffed when an export holds a span with ``traceloop.*`` or ``llm.*`` attributes beside
``gen_ai.*``; every span is read by the OTLP source, which recognises the convention per
span (``conventions``).
"""

from __future__ import annotations

from llmsiem.pipeline.sources.conventions import OPENLLMETRY
from llmsiem.pipeline.sources.otlp import OtlpSource

SOURCE = OtlpSource(
    OPENLLMETRY,
    "OpenLLMetry/Traceloop OTLP JSON traces (gen_ai.* with llm.*, traceloop.*)",
    OPENLLMETRY,
)
