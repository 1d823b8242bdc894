"""Settings, policy files and reference data (the lowest layer)."""

from hazardloop.config.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
