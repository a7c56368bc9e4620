"""`python -m bot ...`: training, checks, serving, retention purge and staff accounts."""
