"""Throughput and size benchmarks (not run by the test suite)."""
