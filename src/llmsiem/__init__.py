"""llmsiem: SIEM integration and detection content for LLM application security."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("llmsiem")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+source"
