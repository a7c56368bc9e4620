"""Removing a visitor's contact details from text that was kept (bot/store/contact_redaction.py
applies it to the tracker's events once the details are stored encrypted)."""

from __future__ import annotations

import re
from typing import Any, Iterable, Optional, Pattern

REDACTED = "[contact details removed]"


def values_pattern(values: Iterable[str]) -> Optional[Pattern[str]]:
    """One pattern for all the values, each matched as a whole word, case-insensitively."""
    words = sorted({value.strip() for value in values if value and value.strip()}, key=len, reverse=True)
    if not words:
        return None
    # Whole words only, so the name "Al" does not eat "also"; longest first, so a phone number
    # goes whole before any shorter value inside it.
    return re.compile("|".join(rf"(?<!\w){re.escape(word)}(?!\w)" for word in words), re.IGNORECASE)


def redact(value: Any, pattern: Pattern[str]) -> Any:
    """Every string in a JSON-like value with each match replaced by REDACTED."""
    if isinstance(value, str):
        return pattern.sub(REDACTED, value)
    if isinstance(value, list):
        return [redact(item, pattern) for item in value]
    if isinstance(value, dict):
        return {key: redact(item, pattern) for key, item in value.items()}
    return value
