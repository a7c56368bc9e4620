"""Custom actions run by `rasa run actions`: knowledge answers, fallback, handoff, session start."""
