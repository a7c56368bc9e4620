"""Loads and validates data/knowledge.yml, and renders its words for visitors: `render` below.

Every word a visitor reads lives in one of two places. The knowledge file (data/knowledge.yml)
holds the facts (its `entries`, which the actions answer with) and everything that code outside
Rasa's own turns sends: its `messages` are the gateway's notices and error texts, the widget's
labels and fallbacks, the privacy page, and the buttons and prompts the actions add; its
`helplines` hold 988, 911, Poison Help, SAMHSA and the Veterans Crisis Line's text number, each
written once and quoted elsewhere as a {placeholder}, which loading fills in. domain.yml's
`responses` hold the conversation turns Rasa utters itself by rule, story or form (the crisis and
emergency answers among them, which must not depend on the action server). Whoever sends a text
from the knowledge file, the action server or the gateway, renders it with `render`, so both fill
clinic details the same way (docs/chat-protocol.md, "Where the words live").
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence

import yaml

# pydantic 1's API in either environment (see bot/settings.py).
if TYPE_CHECKING:
    from pydantic import ValidationError
else:
    try:
        from pydantic.v1 import ValidationError
    except ImportError:
        from pydantic import ValidationError

from bot.domain.knowledge.schema import Entry, KnowledgeFile, Message, placeholders

PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


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
    elif len(loc) >= 2 and loc[0] == "messages":
        where = f"message {loc[1]}"
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
        # The helpline numbers are filled in here, once; clinic details wait for `render`.
        self.helplines: Dict[str, str] = data.helplines.numbers()
        self.entries: List[Entry] = [self._with_helplines(entry, ("short", "long", "unknown"))
                                     for entry in data.entries]
        self.messages: Dict[str, Message] = {key: self._with_helplines(message, ("text", "unknown"))
                                             for key, message in data.messages.items()}
        self._by_id: Dict[str, Entry] = {entry.id: entry for entry in self.entries}
        self._by_intent: Dict[str, Entry] = {e.intent: e for e in self.entries if e.intent}

    def _with_helplines(self, item: Any, fields: Sequence[str]) -> Any:
        return item.copy(update={field: fill_helplines(getattr(item, field), self.helplines)
                                 for field in fields if getattr(item, field) is not None})

    def fill_helplines(self, text: str) -> str:
        """`text` with the helpline placeholders filled in (e.g. for a page that is not a message)."""
        return fill_helplines(text, self.helplines)

    def require_message(self, name: str) -> Message:
        """A message the code sends; a knowledge file without it is a deployment error."""
        message = self.messages.get(name)
        if message is None:
            raise KeyError(f"knowledge file has no message {name!r}")
        return message

    def message(self, name: str, details: Mapping[str, Any]) -> str:
        """The message `name`, rendered with `details` (clinic details and the runtime values it quotes)."""
        message = self.require_message(name)
        return render(message.text, message.requires, details, message.unknown)

    def get(self, entry_id: str) -> Optional[Entry]:
        return self._by_id.get(entry_id)

    def named(self, name: Any) -> Optional[Entry]:
        """The entry a visitor may ask for by name (an entity, a typed payload): a topic, program or
        therapy. Conversation entries (greetings, the handoff and callback notices) are given only by
        their intent or by the code, in their state; anything not a string names nothing."""
        entry = self._by_id.get(name) if isinstance(name, str) else None
        return entry if entry is not None and entry.kind != "conversation" else None

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


def fill_helplines(text: str, helplines: Mapping[str, str]) -> str:
    """Fill in the helpline placeholders and leave every other {placeholder} (and brace) as it is."""
    return PLACEHOLDER.sub(lambda match: helplines.get(match[1], match[0]), text)


def render(text: str, requires: Sequence[str], details: Mapping[str, Any], unknown: Optional[str]) -> str:
    """Fill clinic details (and any runtime value a message quotes) into an answer or a message;
    use the `unknown` text instead if a required clinic detail is unset.

    `details` is `Settings.clinic_details()`, plus e.g. `max_message_chars` for a message that
    quotes it; a placeholder with no value there is a programming error (KeyError).
    """
    if any(not details.get(name) for name in requires):
        text = unknown or ""
    return text.format(**{name: details[name] for name in placeholders(text)})
