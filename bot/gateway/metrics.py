"""Counters of the visitor path, served at `/metrics` (Prometheus text format).

Most are failures the visitor was still answered through (a rising count is worth an alert); the
model-switch ones count messages a deploy held or sent again (docs/deploying.md).
"""

from __future__ import annotations

from collections import Counter
from typing import Dict

PREFIX = "engage_gateway_"
COUNTERS: Dict[str, str] = {
    "visitor_message_failures": "Visitor messages whose handling raised an unexpected error",
    "rasa_unavailable": "Visitor messages Rasa could not answer (down or timed out)",
    "gateway_crisis_answers": "Crisis or emergency answers the gateway sent itself (paused, down, slow)",
    "stale_pauses_resumed": "Conversations paused in Rasa with no open handoff, switched back on",
    "unretrieved_task_errors": "Errors in background tasks that nothing else handled",
    "housekeeping_failures": "Failed rounds of a housekeeping job (expiry, redaction, retention)",
    "messages_held_for_model_switch": "Visitor messages held while a new model loaded (answered after it)",
    "messages_resent_after_model_switch": "Visitor messages sent to Rasa again after a model switch refused them",
}


class Metrics:
    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def count(self, name: str) -> None:
        if name not in COUNTERS:
            raise KeyError(f"unknown counter {name!r}; add it to COUNTERS in {__name__}")
        self._counts[name] += 1

    def value(self, name: str) -> int:
        return self._counts[name]

    def render(self) -> str:
        lines = []
        for name, help_text in COUNTERS.items():
            metric = f"{PREFIX}{name}_total"
            lines += [f"# HELP {metric} {help_text}.", f"# TYPE {metric} counter", f"{metric} {self._counts[name]}"]
        return "\n".join(lines) + "\n"
