"""Knowledge that stays true: which entries are due for review, and which law entries lack an official source.

Every entry carries the date it was last `reviewed`. An entry stays fresh for `days` days after it
(settings.knowledge_review_days), a law entry (`law: true`) for `law_days`
(settings.knowledge_law_review_days), since laws change faster than facts about a plant. A law entry
must also cite at least one official source: a statute, a regulation, a Federal Register notice or an
agency's page, on a .gov host. The kind alone is not enough (anyone can type `kind: agency` beside a
vendor's address) and the host alone is not enough (a study on nih.gov is research, not the law); a
vendor's or an advocacy group's page never counts, whatever it says about the law.

Pure functions of the knowledge and a given `today`: the tests pass a fixed date, `make test` and the
console pass today's.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import List, Protocol, Sequence

from bot.domain.knowledge.schema import Entry, Source

OFFICIAL_KINDS = frozenset({"statute", "regulation", "federal_register", "agency"})
# Only the US government can register a .gov name (federalregister.gov, ecfr.gov, congress.gov,
# revisor.mo.gov, fda.gov, dea.gov, samhsa.gov, cdc.gov, nih.gov and every state's own), so the suffix is
# the allow-list; a county or city on another suffix is cited through its state's or its own .gov page.
OFFICIAL_SUFFIX = ".gov"


class HasEntries(Protocol):
    """A KnowledgeBase or a parsed KnowledgeFile."""

    @property
    def entries(self) -> Sequence[Entry]: ...


@dataclass(frozen=True)
class Review:
    """When one entry must be reviewed again."""

    entry: Entry
    limit: int  # days an entry stays fresh after `reviewed`
    due: datetime.date  # the last day it is fresh: reviewed + limit
    days_left: int  # from today to `due`; negative when overdue by that many days

    @property
    def entry_id(self) -> str:
        return self.entry.id

    @property
    def reviewed(self) -> datetime.date:
        return self.entry.reviewed

    @property
    def overdue(self) -> bool:
        return self.days_left < 0


def is_official(source: Source) -> bool:
    host = (source.url.host or "").lower().rstrip(".")
    return source.kind in OFFICIAL_KINDS and host.endswith(OFFICIAL_SUFFIX)


def review_limit(entry: Entry, days: int, law_days: int) -> int:
    return law_days if entry.law else days


def review(entry: Entry, today: datetime.date, days: int, law_days: int) -> Review:
    limit = review_limit(entry, days, law_days)
    due = entry.reviewed + datetime.timedelta(days=limit)
    return Review(entry=entry, limit=limit, due=due, days_left=(due - today).days)


def due_for_review(knowledge: HasEntries, today: datetime.date, days: int, law_days: int,
                   within: int = 0) -> List[Review]:
    """Entries overdue or due within `within` days of `today` (0: overdue or due today), soonest first."""
    reviews = [review(entry, today, days, law_days) for entry in knowledge.entries]
    return sorted((item for item in reviews if item.days_left <= within), key=lambda item: (item.due, item.entry_id))


def law_entries_without_official_source(knowledge: HasEntries) -> List[Entry]:
    return [entry for entry in knowledge.entries
            if entry.law and not any(is_official(source) for source in entry.sources)]


def problems(knowledge: HasEntries, today: datetime.date, days: int, law_days: int) -> List[str]:
    """One line per overdue entry and per law entry without an official source; none when all is well."""
    lines = [f"entry {item.entry_id}: reviewed {item.reviewed}, limit {item.limit} days, "
             f"overdue by {_days(-item.days_left)}" for item in due_for_review(knowledge, today, days, law_days)
             if item.overdue]
    lines += [f"entry {entry.id}: a law entry with no official source (a statute, regulation, Federal Register "
              f"notice or agency page on a {OFFICIAL_SUFFIX} host)"
              for entry in law_entries_without_official_source(knowledge)]
    return lines


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"
