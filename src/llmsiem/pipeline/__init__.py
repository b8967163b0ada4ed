"""The one way in: records are read, recognised, normalized, scrubbed and validated.

``Pipeline`` turns files or streams of records into ``Event`` objects (valid, scrubbed
``LLMEvent`` documents with their file and line) and writes everything it cannot take to
the dead letter with file, line and reason. ``ingest``, ``ship``, ``detect`` (batch and
follow) and ``eval`` all read their input through it.
"""

from llmsiem.pipeline.events import Event, Pipeline

__all__ = ["Event", "Pipeline"]
