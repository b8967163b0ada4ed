"""llmsiem's pySigma backend subclasses as a plugin (``sigma list targets``).

The stock Elasticsearch/OpenSearch and Splunk backends do not apply Sigma's matching rules
on those SIEMs (plain values match case-sensitively there, regexes keep the SIEM's dialect),
so llmsiem's subclasses are exposed under their own identifiers (``llmsiem_*``). pySigma
discovers backends as the classes at module level, each by its ``identifier``; the Elastic
ones write queries for llmsiem's index pattern (``logs-llm*``) unless ``-O index_names=``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import llmsiem.compiler.backends as _llmsiem
from llmsiem.compiler.targets import ELASTIC_INDEX as _ELASTIC_INDEX

__all__ = [
    "LlmsiemEqlBackend",
    "LlmsiemEsqlBackend",
    "LlmsiemLokiBackend",
    "LlmsiemLuceneBackend",
    "LlmsiemOpensearchBackend",
    "LlmsiemSplunkBackend",
]


class _LlmsiemIndex:
    """Defaults ``index_names`` to llmsiem's index pattern, as ``llmsiem compile`` does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("index_names", [_ELASTIC_INDEX])
        super().__init__(*args, **kwargs)


class LlmsiemLuceneBackend(_LlmsiemIndex, _llmsiem.UnanchoredLuceneBackend):
    """Elasticsearch Lucene with Sigma's case and regex semantics (llmsiem)."""

    identifier: ClassVar[str] = "llmsiem_lucene"


class LlmsiemOpensearchBackend(_LlmsiemIndex, _llmsiem.UnanchoredOpensearchBackend):
    """OpenSearch Lucene with Sigma's case and regex semantics (llmsiem)."""

    identifier: ClassVar[str] = "llmsiem_opensearch"


class LlmsiemEsqlBackend(_LlmsiemIndex, _llmsiem.UnanchoredESQLBackend):
    """Elasticsearch ES|QL with Sigma's case and regex semantics (llmsiem)."""

    identifier: ClassVar[str] = "llmsiem_esql"


class LlmsiemEqlBackend(_LlmsiemIndex, _llmsiem.FixedEqlBackend):
    """Elasticsearch EQL with Sigma's case and regex semantics (llmsiem)."""

    identifier: ClassVar[str] = "llmsiem_eql"


class LlmsiemSplunkBackend(_llmsiem.SigmaSplunkBackend):
    """Splunk SPL with Sigma's regex semantics and sliding-window correlations (llmsiem)."""

    identifier: ClassVar[str] = "llmsiem_splunk"


class LlmsiemLokiBackend(_llmsiem.JsonLogQLBackend):
    """Grafana Loki LogQL over JSON log lines (llmsiem)."""

    identifier: ClassVar[str] = "llmsiem_loki"
