"""The registry of sinks: built-ins here, others through the ``llmsiem.sinks`` entry points.

Adding a sink is one module with a ``SinkType`` object and one line in ``BUILTIN_SINKS``.
"""

from __future__ import annotations

from llmsiem.connectors.sink import SinkType
from llmsiem.plugins import SINKS_GROUP, Registry

BUILTIN_SINKS = {
    "elasticsearch": "llmsiem.connectors.elastic:SINK",
    "splunk": "llmsiem.connectors.splunk_hec:SINK",
    "jsonl": "llmsiem.connectors.files:JSONL_SINK",
    "parquet": "llmsiem.connectors.files:PARQUET_SINK",
}
SINKS: Registry[SinkType] = Registry(SINKS_GROUP, SinkType, BUILTIN_SINKS)  # type: ignore[type-abstract]
