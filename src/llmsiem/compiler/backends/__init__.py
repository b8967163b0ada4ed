"""pySigma backend subclasses that fix output the stock backends get wrong, one module per
query language."""

from llmsiem.compiler.backends.eql import FixedEqlBackend
from llmsiem.compiler.backends.esql import UnanchoredESQLBackend
from llmsiem.compiler.backends.loki import JsonLogQLBackend
from llmsiem.compiler.backends.lucene import UnanchoredLuceneBackend, UnanchoredOpensearchBackend
from llmsiem.compiler.backends.splunk import (
    SavedSearchSplunkBackend,
    SigmaSplunkBackend,
    filter_macro_name,
)

__all__ = [
    "FixedEqlBackend",
    "JsonLogQLBackend",
    "SavedSearchSplunkBackend",
    "SigmaSplunkBackend",
    "UnanchoredESQLBackend",
    "UnanchoredLuceneBackend",
    "UnanchoredOpensearchBackend",
    "filter_macro_name",
]
