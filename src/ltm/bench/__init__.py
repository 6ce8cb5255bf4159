"""Benchmark runners behind `ltm bench`."""
