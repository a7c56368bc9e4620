"""Loads and validates data/knowledge.yml, and fills in clinic details from settings."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Mapping, Optional

import yaml
from pydantic import ValidationError

from bot.knowledge.schema import Entry, KnowledgeFile, placeholders


class KnowledgeFileError(ValueError):
    """The knowledge file is missing, is not YAML, or breaks the schema."""


def _describe(error: Mapping, raw: Mapping) -> str:
    """Turn a pydantic error location into `entry <id>, field <name>: <what is wrong>`."""
    loc = list(error["loc"])
    where = "file"
    if len(loc) >= 2 and loc[0] == "entries" and isinstance(loc[1], int):
        entries = raw.get("entries") or []
        index = loc[1]
        entry_id = entries[index].get("id") if isinstance(entries[index], dict) else None
        where = f"entry {entry_id or f'#{index + 1}'}"
        loc = loc[2:]
    field = ".".join(str(part) for part in loc if part != "__root__")
    if where == "file" and not field:
        return error["msg"]
    return f"{where}{', field ' + field if field else ''}: {error['msg']}"


def parse(text: str, origin: str = "<text>") -> KnowledgeFile:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KnowledgeFileError(f"{origin}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise KnowledgeFileError(f"{origin}: expected a mapping with `version` and `entries`")
    try:
        return KnowledgeFile.parse_obj(raw)
    except ValidationError as exc:
        problems = "\n  ".join(_describe(error, raw) for error in exc.errors())
        raise KnowledgeFileError(f"{origin} is invalid:\n  {problems}") from None


def load(path: Optional[Path] = None) -> "KnowledgeBase":
    """Load and validate a knowledge file; by default the one named by settings."""
    if path is None:
        from bot.settings import get_settings

        path = get_settings().knowledge_file
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise KnowledgeFileError(f"cannot read knowledge file {path}: {exc.strerror}") from exc
    return KnowledgeBase(parse(text, str(path)))


@lru_cache(maxsize=1)
def default() -> "KnowledgeBase":
    """The knowledge file named by settings, loaded once per process."""
    return load()


class KnowledgeBase:
    """Lookups over the validated entries."""

    def __init__(self, data: KnowledgeFile) -> None:
        self.entries: List[Entry] = data.entries
        self._by_id: Dict[str, Entry] = {entry.id: entry for entry in data.entries}
        self._by_intent: Dict[str, Entry] = {e.intent: e for e in data.entries if e.intent}

    def get(self, entry_id: str) -> Optional[Entry]:
        return self._by_id.get(entry_id)

    def require(self, entry_id: str) -> Entry:
        """The entry the code relies on by id; a knowledge file without it is a deployment error."""
        entry = self._by_id.get(entry_id)
        if entry is None:
            raise KeyError(f"knowledge file has no entry with id {entry_id!r}")
        return entry

    def for_intent(self, intent: str) -> Optional[Entry]:
        return self._by_intent.get(intent)

    def require_for_intent(self, intent: str) -> Entry:
        """The entry the code relies on for an intent; see `require`."""
        entry = self._by_intent.get(intent)
        if entry is None:
            raise KeyError(f"knowledge file has no entry for intent {intent!r}")
        return entry

    def of_kind(self, kind: str) -> List[Entry]:
        return [entry for entry in self.entries if entry.kind == kind]

    @property
    def intents(self) -> List[str]:
        return list(self._by_intent)


def render(text: str, requires: List[str], clinic: Mapping[str, Optional[str]], unknown: Optional[str]) -> str:
    """Fill clinic details into an answer; use the `unknown` answer if any detail is unset."""
    if any(not clinic.get(name) for name in requires):
        return (unknown or "").format(clinic_name=clinic["clinic_name"])
    values = {name: clinic.get(name) for name in placeholders(text)}
    return text.format(**values)
