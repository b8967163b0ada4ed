"""OpenInference traces (Arize Phoenix, LlamaIndex ...) as OTLP JSON: the OTLP source, named.

Sniffed when an export holds a span with ``openinference.span.kind``; every span is read by
the OTLP source, which recognises the convention per span (``conventions``).
"""

from __future__ import annotations

from llmsiem.pipeline.sources.conventions import OPENINFERENCE
from llmsiem.pipeline.sources.otlp import OtlpSource

SOURCE = OtlpSource(
    OPENINFERENCE,
    "OpenInference OTLP JSON traces (llm.*, input.value, llm.token_count.*)",
    OPENINFERENCE,
)
