"""The handoff lifecycle's states and errors, and staff hours; the queries are in bot/store/handoffs.py."""
