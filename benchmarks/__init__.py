"""Benchmarks run by `make bench`: accuracy, latency, growth with conversation length, training, memory."""
