"""Cleaning stage: StripBoilerplate turns raw articles into clean ones (HTML extraction, named line rules,
page-dump layout, learned per-source templates), configured by CleanConfig."""
from transforms.clean.config import CleanConfig

__all__ = ["CleanConfig", "StripBoilerplate"]


def __getattr__(name: str):
    # The composite (and with it Apache Beam) is imported on first use, so that the cleaning child process
    # (timeout.py), which imports this package, starts without Beam: 0.5 s and some 80 MB less per child.
    if name == "StripBoilerplate":
        from transforms.clean.transform import StripBoilerplate

        return StripBoilerplate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
