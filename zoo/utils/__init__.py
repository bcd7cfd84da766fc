"""Small helpers every package of the zoo shares: atomic file writes, the CLI report line, version records.

They live in `zoo/`, the lowest package, so `trainers/`, `export/` and `benchmarks/` use the same copy
without depending on each other.
"""
