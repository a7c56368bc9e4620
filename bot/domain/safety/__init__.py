"""The rule-based crisis detector and its patterns file (data/safety/crisis_patterns.yml)."""
