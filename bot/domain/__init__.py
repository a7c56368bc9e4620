"""What the clinic's assistant knows and promises, independent of any process: the knowledge file,
the crisis rules, the handoff lifecycle and staff hours, the privacy rules. No Starlette, Rasa,
HTTP or database here (tests/unit/test_layers.py)."""
