"""No visitor text in any server log: the tests remember what they send, and the run fails if a
log it wrote quotes any of it (tests/conftest.py checks at the end of the session)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Set, Tuple

# Shorter texts ("hi", "what is iop") could match a log's own words by chance.
MIN_CHARS = 12

sent: Set[str] = set()


def remember(text: object) -> None:
    if isinstance(text, str) and len(text.strip()) >= MIN_CHARS:
        sent.add(text.strip())


def quoted_in_logs(texts: Iterable[str], folder: Path, since: float) -> List[Tuple[str, str]]:
    """(log file, text) for each text found in a *.log under `folder` written after `since`."""
    wanted = [text for text in texts if len(text) >= MIN_CHARS]
    found = []
    for log in sorted(folder.rglob("*.log")) if folder.exists() else ():
        if log.stat().st_mtime < since:
            continue
        content = log.read_text(encoding="utf-8", errors="replace")
        found += [(str(log), text) for text in wanted if text in content]
    return found
