"""Baselines the benchmark measures simlib against (not part of the installed package)."""
