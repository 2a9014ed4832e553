"""Atomic file writes for the CLI and reports (one implementation: :mod:`market._atomic`)."""

from market._atomic import atomic_write_bytes, atomic_write_text

__all__ = ["atomic_write_bytes", "atomic_write_text"]
