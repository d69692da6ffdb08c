"""Benchmarks that print figures: ``python -m reidlib.bench eval``.

Each measurement runs in a fresh process so that its peak memory (the
process's maximum resident set size) is its own.
"""
