"""Generators of test and benchmark material: synthetic checkpoints and rounds, GGUF variants,
the lineage false-positive bank, and the built-in benchmark packs' source. None of it ships
in the package; tests import it as ``tests.generators.<module>`` and benchmarks put the
repository root on ``sys.path`` first."""
