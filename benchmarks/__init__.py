"""Benchmarks: ``python -m benchmarks --preset quick|full``. See the README's performance section."""
