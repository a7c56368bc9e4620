"""Rule-based crisis detector: runs on every message and overrides the ML intent.

The patterns live in data/safety/crisis_patterns.yml (its header explains how to write
them; patterns_file.py loads and validates it). This package needs only PyYAML, pydantic
and the standard library, so it can be used and tested without Rasa.

    detector = CrisisDetector.from_file()
    detector.detect("my friend overdosed")
    # CrisisMatch(intent='medical_emergency', pattern_id='med_overdose_report')

How a message is checked:

1. ``normalise`` it (normalise.py).
2. Cut every exclusion (figure of speech) out of it.
3. Try the self-harm patterns, then the medical ones, in file order; the first
   pattern that matches decides. Self-harm is first because its answer gives
   911 as well as 988.

Speed: every regex is written in a subset without nested or unbounded quantifiers
(pattern_syntax.py), so each search is linear in the message length
(benchmarks/crisis_prefilter.py measures it per message).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set, Tuple, Union

from bot.domain.safety import patterns_file
from bot.domain.safety.normalise import normalise
from bot.domain.safety.pattern_syntax import PatternSyntaxError, parse
from bot.domain.safety.patterns_file import (
    CRISIS_SELF_HARM,
    DEFAULT_PATTERNS_PATH,
    INTENTS,
    MEDICAL_EMERGENCY,
    CrisisPatternError,
)

__all__ = [
    "CRISIS_SELF_HARM",
    "MEDICAL_EMERGENCY",
    "INTENTS",
    "DEFAULT_PATTERNS_PATH",
    "CrisisDetector",
    "CrisisMatch",
    "CrisisPatternError",
    "default_detector",
]


@dataclass(frozen=True)
class CrisisMatch:
    """What the detector found: the intent to force and the id of the pattern that fired."""

    intent: str
    pattern_id: str


def _wrap(source: str) -> str:
    """Anchor a pattern to whole words: a space before it, no word character after."""
    return f" (?:{source})(?!\\w)"


@dataclass(frozen=True)
class _Pattern:
    id: str
    # One regex per top-level alternative: an exclusion's alternatives are cut out one after
    # another in the order written, which is how the patterns file has been tuned.
    regexes: Tuple["re.Pattern[str]", ...]

    def search(self, scan: str) -> bool:
        """Does the prepared text match?"""
        return any(regex.search(scan) is not None for regex in self.regexes)

    def remove_from(self, scan: str) -> Tuple[str, bool]:
        """Cut every match out of the prepared text (used for exclusions)."""
        changed = False
        for regex in self.regexes:
            scan, count = regex.subn(" ", scan)
            changed = changed or count > 0
        return scan, changed


def _compile_pattern(pattern_id: str, source: str) -> _Pattern:
    """Check and compile one pattern (PatternSyntaxError if it breaks the rules)."""
    return _Pattern(pattern_id, tuple(re.compile(_wrap(alternative)) for alternative in parse(source)))


class CrisisDetector:
    """Finds self-harm crises and medical emergencies in a visitor's message."""

    def __init__(
        self,
        patterns: Iterable[Tuple[str, str, str]],
        exclusions: Iterable[Tuple[str, str]] = (),
        origin: str = "<patterns>",
    ) -> None:
        """Build from expanded regexes: patterns as (intent, id, regex), exclusions as (id, regex).

        Every regex is validated; a problem raises CrisisPatternError naming
        the pattern id.
        """
        self._by_intent: Dict[str, List[_Pattern]] = {intent: [] for intent in INTENTS}
        self._exclusions: List[_Pattern] = []
        seen: Set[str] = set()

        def compiled(pattern_id: str, source: str) -> _Pattern:
            if pattern_id in seen:
                raise CrisisPatternError(f"{origin}: pattern {pattern_id!r}: duplicate id")
            seen.add(pattern_id)
            try:
                return _compile_pattern(pattern_id, source)
            except PatternSyntaxError as exc:
                raise CrisisPatternError(f"{origin}: pattern {pattern_id!r}: {exc}") from exc

        for intent, pattern_id, source in patterns:
            if intent not in self._by_intent:
                raise CrisisPatternError(f"{origin}: pattern {pattern_id!r}: unknown intent {intent!r}")
            self._by_intent[intent].append(compiled(pattern_id, source))
        for pattern_id, source in exclusions:
            self._exclusions.append(compiled(pattern_id, source))

    @classmethod
    def from_yaml(cls, text: str, origin: str = "<string>") -> "CrisisDetector":
        """Build from the text of a patterns file."""
        patterns, exclusions = patterns_file.parse(text, origin)
        return cls(patterns, exclusions, origin=origin)

    @classmethod
    def from_file(cls, path: Union[str, Path, None] = None) -> "CrisisDetector":
        """Load and validate a patterns file (default: data/safety/crisis_patterns.yml)."""
        file_path = Path(path) if path is not None else DEFAULT_PATTERNS_PATH
        return cls.from_yaml(patterns_file.read(file_path), origin=str(file_path))

    def pattern_ids(self, intent: Optional[str] = None) -> Tuple[str, ...]:
        """Ids of the detection patterns (not exclusions) in checking order, optionally for one intent."""
        return tuple(p.id for name in INTENTS if intent in (None, name) for p in self._by_intent[name])

    @property
    def exclusion_ids(self) -> Tuple[str, ...]:
        return tuple(p.id for p in self._exclusions)

    def detect(self, text: Optional[str]) -> Optional[CrisisMatch]:
        """Return the crisis found in a message, or None. Self-harm wins over medical."""
        if text is None:
            return None
        if not isinstance(text, str):
            raise TypeError(f"detect() needs a str, not {type(text).__name__}")
        scan = " " + normalise(text)
        if scan == " ":
            return None
        excluded = False
        for exclusion in self._exclusions:
            scan, changed = exclusion.remove_from(scan)
            excluded = excluded or changed
        if excluded:
            scan = " " + " ".join(scan.split())
        for intent in INTENTS:
            for pattern in self._by_intent[intent]:
                if pattern.search(scan):
                    return CrisisMatch(intent, pattern.id)
        return None


@lru_cache(maxsize=1)
def default_detector() -> CrisisDetector:
    """The detector for the default patterns file, loaded once per process."""
    return CrisisDetector.from_file()
