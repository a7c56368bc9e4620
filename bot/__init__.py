"""Engage Wellness admissions assistant: everything that is not Rasa data or actions."""
