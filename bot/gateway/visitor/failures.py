"""A visitor message whose handling failed unexpectedly: one log line and a count on /metrics."""

from __future__ import annotations

import logging
import traceback
from typing import Optional

from bot.gateway.metrics import Metrics

logger = logging.getLogger(__name__)


def report_failure(metrics: Metrics, conversation_id: Optional[str], exc: BaseException) -> None:
    """Counted as `visitor_message_failures`; the line names the conversation, the error and where it was raised."""
    metrics.count("visitor_message_failures")
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" at {where.filename}:{where.lineno}" if where else ""
    logger.error("visitor message failed: conversation=%s %s: %s%s", conversation_id, type(exc).__name__, exc, at)
