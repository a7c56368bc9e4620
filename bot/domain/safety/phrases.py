"""Phrase lists in the crisis patterns file: normalised like messages, matched literally."""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Optional

from bot.domain.safety.normalise import normalise


def normalised_phrases(words: Any, what: str) -> List[str]:
    """Check a list of phrases (`what` says whose, for errors) and normalise each like a message."""
    if not isinstance(words, list) or not words:
        raise ValueError(f"{what} must be a non-empty list of strings")
    result = []
    for word in words:
        if not isinstance(word, str):
            raise ValueError(f"{what} entry {word!r} is not a string")
        norm = normalise(word)
        if not norm:
            raise ValueError(f"{what} entry {word!r} is empty once normalised")
        result.append(norm)
    return result


def phrases_regex(words: Iterable[str]) -> str:
    """One regex for a list of normalised phrases, factored as a trie.

    A trie makes every alternative start with a distinct literal, which the
    regex engine can reject in one comparison.
    """
    trie: Dict[Optional[str], Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[None] = {}

    def emit(node: Dict[Optional[str], Any]) -> str:
        branches = [re.escape(char) + emit(child) for char, child in sorted((k, v) for k, v in node.items() if k)]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if None in node else body

    return "(?:" + emit(trie) + ")"
