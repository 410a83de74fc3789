"""The benchmark harness and the scripts behind the measured figures (docs/results.md)."""
