"""Cleaning stage: StripBoilerplate turns raw articles into clean ones (HTML extraction, named line rules,
page-dump layout, learned per-source templates), configured by CleanConfig."""
from transforms.clean.config import CleanConfig
from transforms.clean.transform import StripBoilerplate

__all__ = ["CleanConfig", "StripBoilerplate"]
