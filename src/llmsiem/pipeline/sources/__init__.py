"""Source formats: the ``Source`` interface and the registry of every known format.

A source turns one record of its format (a parsed JSON object) into normalized event
documents. Adding a format is one module here with a ``SOURCE`` object and one line in
``BUILTIN_SOURCES``; other packages register theirs under the ``llmsiem.sources`` entry-point
group instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from llmsiem.plugins import SOURCES_GROUP, Registry

NORMALIZED = "jsonl"
AUTO = "auto"


@runtime_checkable
class Source(Protocol):
    """One telemetry format."""

    name: str
    description: str

    def sniff(self, record: dict[str, Any]) -> bool:
        """True when ``record`` looks like this format."""
        ...

    def normalize(self, record: dict[str, Any]) -> Iterable[dict[str, Any] | Exception]:
        """Event documents of one record; an exception for each part that is not one."""
        ...


# Sniffing tries them in this order: a convention's OTLP source before the plain one, and the
# formats with specific keys before LiteLLM's and Langfuse's broader tests.
BUILTIN_SOURCES = {
    NORMALIZED: "llmsiem.pipeline.sources.jsonl:SOURCE",
    "openinference": "llmsiem.pipeline.sources.openinference:SOURCE",
    "openllmetry": "llmsiem.pipeline.sources.openllmetry:SOURCE",
    "otlp": "llmsiem.pipeline.sources.otlp:SOURCE",
    "nemo_guardrails": "llmsiem.pipeline.sources.nemo_guardrails:SOURCE",
    "lakera": "llmsiem.pipeline.sources.lakera:SOURCE",
    "helicone": "llmsiem.pipeline.sources.helicone:SOURCE",
    "deepeval": "llmsiem.pipeline.sources.deepeval:SOURCE",
    "litellm": "llmsiem.pipeline.sources.litellm:SOURCE",
    "langfuse": "llmsiem.pipeline.sources.langfuse:SOURCE",
}
SOURCES: Registry[Source] = Registry(SOURCES_GROUP, Source, BUILTIN_SOURCES)  # type: ignore[type-abstract]


def sniff(record: dict[str, Any]) -> Source:
    """The first registered source that accepts ``record``; normalized JSONL otherwise."""
    for name in SOURCES.names():
        if name != NORMALIZED and SOURCES.get(name).sniff(record):
            return SOURCES.get(name)
    return SOURCES.get(NORMALIZED)


def source_formats() -> list[str]:
    """The values ``--from`` accepts: ``auto`` and every registered source (no source module
    is imported to list them)."""
    return [AUTO, *SOURCES.names()]
