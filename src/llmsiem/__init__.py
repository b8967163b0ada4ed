"""llmsiem: SIEM integration and detection content for LLM application security."""

from typing import Any


def __getattr__(name: str) -> Any:
    """``__version__`` on first use: importlib.metadata costs a fifth of the CLI start-up."""
    if name != "__version__":
        raise AttributeError(f"module 'llmsiem' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llmsiem")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0+source"
