"""Development tools, not shipped: the local stack the tests and benchmarks start."""
