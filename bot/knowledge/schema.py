"""The knowledge file's schema: what every answer must carry to be shown to a visitor."""

from __future__ import annotations

import datetime
import re
import string
from typing import Dict, List, Literal, Optional

from pydantic import BaseModel, Field, HttpUrl, root_validator, validator

# Clinic details an answer may quote as {placeholder}; they come from settings,
# never from the knowledge file, so an unset one is never invented.
CLINIC_FIELDS = (
    "clinic_name",
    "phone",
    "address",
    "hours",
    "insurance",
    "prices",
    "program_length",
    "telehealth",
)
ALWAYS_SET_FIELDS = ("clinic_name",)

ENTRY_ID = r"^[a-z][a-z0-9_]*$"
# A sentence ends at . ! or ? followed by a space or the end of the text,
# except after abbreviations an answer may use ("St. Louis", "Dr. Smith").
SENTENCE_END = re.compile(r"(?<!\bSt)(?<!\bDr)(?<!\bMr)(?<!\bMs)(?<!\bMrs)(?<!\bvs)[.!?](?=\s|$)")


def placeholders(text: str) -> List[str]:
    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


class Source(BaseModel):
    title: str = Field(..., min_length=3)
    url: HttpUrl

    class Config:
        extra = "forbid"


class Entry(BaseModel):
    """One answerable topic: a kratom fact, a program, a therapy or a conversational answer."""

    id: str = Field(..., regex=ENTRY_ID)
    kind: Literal["topic", "program", "therapy", "conversation"]
    # The intent this entry answers; therapies reached only by entity have none.
    intent: Optional[str] = Field(None, regex=ENTRY_ID)
    title: str = Field(..., min_length=2, max_length=40)
    short: str
    long: Optional[str] = None
    follow_ups: List[str] = []
    synonyms: List[str] = []
    requires: List[Literal[CLINIC_FIELDS]] = []  # type: ignore[valid-type]
    unknown: Optional[str] = None
    sources: List[Source] = []
    reviewed: datetime.date

    class Config:
        extra = "forbid"

    @validator("short")
    def short_is_two_to_four_sentences(cls, text: str) -> str:
        count = len(SENTENCE_END.findall(text.strip()))
        if not 2 <= count <= 4:
            raise ValueError(f"must be 2 to 4 sentences, found {count}")
        return text.strip()

    @validator("long", "unknown")
    def not_blank(cls, text: Optional[str]) -> Optional[str]:
        if text is not None and not text.strip():
            raise ValueError("must not be blank (leave the field out instead)")
        return text.strip() if text else text

    @validator("synonyms", each_item=True)
    def synonym_is_plain(cls, synonym: str) -> str:
        if not synonym.strip():
            raise ValueError("synonyms must not be blank")
        return synonym.strip()

    @validator("reviewed")
    def reviewed_not_in_future(cls, reviewed: datetime.date) -> datetime.date:
        if reviewed > datetime.date.today():
            raise ValueError(f"{reviewed} is in the future")
        return reviewed

    @root_validator(skip_on_failure=True)
    def clinic_details_declared(cls, values: Dict) -> Dict:
        declared = set(values["requires"]) | set(ALWAYS_SET_FIELDS)
        for field in ("short", "long"):
            text = values.get(field) or ""
            for name in placeholders(text):
                if name not in CLINIC_FIELDS:
                    raise ValueError(f"{field}: unknown placeholder {{{name}}}")
                if name not in declared:
                    raise ValueError(f"{field}: uses {{{name}}} but `requires` does not list it")
        if values["requires"] and not values.get("unknown"):
            raise ValueError("`unknown` is required when `requires` lists clinic details")
        if values.get("unknown") and set(placeholders(values["unknown"])) - set(ALWAYS_SET_FIELDS):
            raise ValueError("unknown: may only use {clinic_name}, the one detail always set")
        if values["kind"] != "conversation" and not values["sources"]:
            raise ValueError("sources: at least one source is required")
        return values


class KnowledgeFile(BaseModel):
    version: Literal[1]
    entries: List[Entry]

    class Config:
        extra = "forbid"

    @root_validator(skip_on_failure=True)
    def references_resolve(cls, values: Dict) -> Dict:
        ids = set()
        intents = set()
        for entry in values["entries"]:
            if entry.id in ids:
                raise ValueError(f"entry {entry.id}: id is used twice")
            ids.add(entry.id)
            if entry.intent:
                if entry.intent in intents:
                    raise ValueError(f"entry {entry.id}: intent {entry.intent} already has an entry")
                intents.add(entry.intent)
        for entry in values["entries"]:
            for target in entry.follow_ups:
                if target not in ids:
                    raise ValueError(f"entry {entry.id}: follow_ups names unknown entry {target!r}")
        return values
