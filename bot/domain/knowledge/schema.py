"""The knowledge file's schema: what every answer and message must carry to be shown to a visitor."""

from __future__ import annotations

import datetime
import re
import string
from typing import TYPE_CHECKING, Dict, Iterable, List, Literal, Optional

# pydantic 1's API in either environment (see bot/settings.py).
if TYPE_CHECKING:
    from pydantic import BaseModel, Field, HttpUrl, root_validator, validator
else:
    try:
        from pydantic.v1 import BaseModel, Field, HttpUrl, root_validator, validator
    except ImportError:
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
# Helpline numbers: written once, in the file's `helplines`, and quoted everywhere else as
# {placeholders}, which the loader fills in (domain.yml's crisis answers excepted: docs/chat-protocol.md).
HELPLINES = ("crisis_line", "emergency_number", "poison_help", "samhsa_helpline", "veterans_crisis_text")
# Values the code supplies when it sends a message; only `messages` may quote them.
RUNTIME_VALUES = (
    "max_message_chars",  # settings.max_message_chars, the longest visitor message the gateway takes
    "message_type",  # the `type` of a frame the gateway does not know, as the visitor sent it
)
HELPLINE_NUMBER = r"^[0-9]+(-[0-9]+)*$"

ENTRY_ID = r"^[a-z][a-z0-9_]*$"
# A sentence ends at . ! or ? followed by a space or the end of the text,
# except after abbreviations an answer may use ("St. Louis", "Dr. Smith").
SENTENCE_END = re.compile(r"(?<!\bSt)(?<!\bDr)(?<!\bMr)(?<!\bMs)(?<!\bMrs)(?<!\bvs)[.!?](?=\s|$)")


def placeholders(text: str) -> List[str]:
    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


def check_placeholders(field: str, text: Optional[str], declared: Iterable[str], runtime: bool = False) -> None:
    """Clinic details must be declared in `requires`; helplines may always be quoted; runtime values
    only where the code supplies them."""
    allowed_elsewhere = set(HELPLINES) | (set(RUNTIME_VALUES) if runtime else set())
    for name in placeholders(text or ""):
        if name in CLINIC_FIELDS:
            if name not in declared:
                raise ValueError(f"{field}: uses {{{name}}} but `requires` does not list it")
        elif name not in allowed_elsewhere:
            raise ValueError(f"{field}: unknown placeholder {{{name}}}")


def check_unknown(values: Dict) -> None:
    """`unknown` (what is said when a required clinic detail is unset) may quote no other clinic detail."""
    if values["requires"] and not values.get("unknown"):
        raise ValueError("`unknown` is required when `requires` lists clinic details")
    unknown = values.get("unknown") or ""
    if set(placeholders(unknown)) & (set(CLINIC_FIELDS) - set(ALWAYS_SET_FIELDS)):
        raise ValueError("unknown: may only use {clinic_name}, the one detail always set")


# What a source is. Only a statute, a regulation, a Federal Register notice or an agency's page, on a
# .gov host, counts as official (bot/domain/knowledge/freshness.py); a law entry needs one.
SOURCE_KINDS = (
    "statute",  # a law's own text: the US Code, Missouri's Revised Statutes, a county ordinance
    "regulation",  # a rule's own text, for example 42 CFR Part 2 on ecfr.gov
    "federal_register",  # a notice or rule in the Federal Register
    "agency",  # a government agency's page (FDA, DEA, HHS, SAMHSA, NIDA)
    "research",  # a study, journal or research report
    "clinical",  # clinical guidance
    "helpline",  # a helpline's own site
    "clinic",  # the clinic's own page
    "vendor",  # a seller's page
    "advocacy",  # an advocacy or trade group
    "news",  # a news story
)
# "Last reviewed in November 2026" in an answer must name the month and year of its `reviewed` date.
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
REVIEWED_IN_TEXT = re.compile(r"last reviewed in (" + "|".join(MONTHS) + r") (\d{4})", re.IGNORECASE)


def check_reviewed_in_text(values: Dict) -> None:
    """An answer that tells visitors when it was last reviewed must agree with its `reviewed` date."""
    reviewed: datetime.date = values["reviewed"]
    for field in ("short", "long"):
        for month, year in REVIEWED_IN_TEXT.findall(values.get(field) or ""):
            if (MONTHS.index(month.capitalize()) + 1, int(year)) != (reviewed.month, reviewed.year):
                raise ValueError(f"{field}: says last reviewed in {month} {year}, but `reviewed` is {reviewed}")


class Source(BaseModel):
    title: str = Field(..., min_length=3)
    url: HttpUrl
    # Optional, so a file written before kinds existed still loads; an untyped source is never official.
    kind: Optional[Literal[SOURCE_KINDS]] = None  # type: ignore[valid-type]

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
    # The answer says what a law or regulation says: reviewed every knowledge_law_review_days (not
    # knowledge_review_days), and it needs an official source (freshness.py).
    law: bool = False

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
            check_placeholders(field, values.get(field), declared)
        check_unknown(values)
        check_placeholders("unknown", values.get("unknown"), ALWAYS_SET_FIELDS)
        if values["kind"] != "conversation" and not values["sources"]:
            raise ValueError("sources: at least one source is required")
        check_reviewed_in_text(values)
        return values


class Helplines(BaseModel):
    """The numbers a visitor in danger or in need of other help is given, each written only here."""

    crisis_line: str = Field(..., regex=HELPLINE_NUMBER)  # the Suicide & Crisis Lifeline
    emergency_number: str = Field(..., regex=HELPLINE_NUMBER)  # emergency services
    poison_help: str = Field(..., regex=HELPLINE_NUMBER)  # Poison Help
    samhsa_helpline: str = Field(..., regex=HELPLINE_NUMBER)  # SAMHSA National Helpline
    veterans_crisis_text: str = Field(..., regex=HELPLINE_NUMBER)  # Veterans Crisis Line, by text

    class Config:
        extra = "forbid"

    def numbers(self) -> Dict[str, str]:
        """Placeholder name → number."""
        return {name: getattr(self, name) for name in HELPLINES}


class Message(BaseModel):
    """Words the code sends itself: the gateway's notices, the widget's labels, buttons and prompts.

    Not held to an answer's 2 to 4 sentences: many are a word or a line. In the file a message is
    a plain string, or a mapping with `text` and, when it quotes clinic details, `requires` and
    `unknown` (as for entries).
    """

    text: str
    requires: List[Literal[CLINIC_FIELDS]] = []  # type: ignore[valid-type]
    unknown: Optional[str] = None

    class Config:
        extra = "forbid"

    @validator("text", "unknown")
    def not_blank(cls, text: Optional[str]) -> Optional[str]:
        if text is not None and not text.strip():
            raise ValueError("must not be blank")
        return text.strip() if text else text

    @root_validator(skip_on_failure=True)
    def placeholders_known(cls, values: Dict) -> Dict:
        check_placeholders("text", values.get("text"), set(values["requires"]) | set(ALWAYS_SET_FIELDS),
                           runtime=True)
        check_unknown(values)
        check_placeholders("unknown", values.get("unknown"), ALWAYS_SET_FIELDS, runtime=True)
        return values


def _standalone(number: str) -> "re.Pattern[str]":
    return re.compile(r"(?<![\w-])" + re.escape(number) + r"(?![\w-])")


class KnowledgeFile(BaseModel):
    version: Literal[1]
    helplines: Helplines
    entries: List[Entry]
    messages: Dict[str, Message] = {}

    class Config:
        extra = "forbid"

    @validator("messages", pre=True)
    def plain_string_is_a_text(cls, messages: object) -> object:
        if not isinstance(messages, dict):
            return messages
        return {key: {"text": value} if isinstance(value, str) else value for key, value in messages.items()}

    @validator("messages")
    def message_ids(cls, messages: Dict[str, Message]) -> Dict[str, Message]:
        for key in messages:
            if not re.match(ENTRY_ID, key):
                raise ValueError(f"message id {key!r} must be lower_case_with_underscores")
        return messages

    @root_validator(skip_on_failure=True)
    def helplines_written_once(cls, values: Dict) -> Dict:
        """A helpline number typed into a text would be a second copy: quote its {placeholder}."""
        texts = [(f"entry {entry.id}, field {field}", getattr(entry, field))
                 for entry in values["entries"] for field in ("short", "long", "unknown")]
        texts += [(f"message {key}, field {field}", getattr(message, field))
                  for key, message in values["messages"].items() for field in ("text", "unknown")]
        for name, number in values["helplines"].numbers().items():
            pattern = _standalone(number)
            for where, text in texts:
                if text and pattern.search(text):
                    raise ValueError(f"{where}: write {{{name}}} instead of {number}")
        return values

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
