"""Benchmarks run by ``kstock bench ...``; each prints its figures."""
