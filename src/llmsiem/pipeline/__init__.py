"""The one way in: records are read, recognised, normalized, scrubbed and validated.

``Pipeline`` turns files or streams of records into ``Event`` objects (valid, scrubbed
``LLMEvent`` documents with their file and line) and writes everything it cannot take to
the dead letter with file, line and reason. ``ingest``, ``ship``, ``detect`` (batch and
follow) and ``eval`` all read their input through it.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmsiem.pipeline.events import Event, Pipeline

__all__ = ["Event", "Pipeline"]


def __getattr__(name: str) -> Any:
    """``Event`` and ``Pipeline`` on first use, so that listing the registered sources (the CLI's
    ``--from`` choices) does not import the pipeline itself."""
    if name in __all__:
        from llmsiem.pipeline import events

        return getattr(events, name)
    raise AttributeError(name)
