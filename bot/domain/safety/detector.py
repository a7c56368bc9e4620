"""Rule-based crisis detector: runs on every message and overrides the ML intent.

The patterns live in data/safety/crisis_patterns.yml (its header explains how
to write them). This module needs only PyYAML and the standard library, so it
can be used and tested without Rasa.

    detector = CrisisDetector.from_file()
    detector.detect("my friend overdosed")
    # CrisisMatch(intent='medical_emergency', pattern_id='med_overdose_report')

How a message is checked:

1. ``normalise`` it: NFKC, lower case, apostrophes deleted, sentence
   punctuation turned into a `` . `` boundary token, other symbols into
   spaces, whitespace collapsed.
2. Cut every exclusion (figure of speech) out of it.
3. Try the self-harm patterns, then the medical ones, in file order; the first
   pattern that matches decides. Self-harm is first because its answer gives
   911 as well as 988.

Speed: every regex is checked at load time for nested or unbounded
quantifiers, so each search is linear in the message length. On top of that,
each top-level alternative of a pattern is compiled on its own with a
*prefilter* derived from its parse tree: for every word a match must contain,
the set of its possible beginnings (first four characters). The regex only
runs when the message has a word from each set, so a long ordinary message
costs a few set look-ups per pattern. The prefilter is conservative: when it
cannot prove a requirement it drops it, and with none the regex always runs.
A test checks that it never changes a result.
"""

from __future__ import annotations

import re
import sys
import unicodedata
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import AbstractSet, Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

import yaml

from bot.settings import REPO_ROOT

# A version check rather than try/except, so mypy checks the branch for the configured Python.
if sys.version_info >= (3, 11):
    import re._parser as _sre
else:
    import sre_parse as _sre

__all__ = [
    "CRISIS_SELF_HARM",
    "MEDICAL_EMERGENCY",
    "INTENTS",
    "DEFAULT_PATTERNS_PATH",
    "CrisisDetector",
    "CrisisMatch",
    "CrisisPatternError",
    "default_detector",
    "normalise",
]

CRISIS_SELF_HARM = "crisis_self_harm"
MEDICAL_EMERGENCY = "medical_emergency"
# Checked in this order: the first intent with a match wins.
INTENTS: Tuple[str, ...] = (CRISIS_SELF_HARM, MEDICAL_EMERGENCY)

DEFAULT_PATTERNS_PATH = REPO_ROOT / "data" / "safety" / "crisis_patterns.yml"

# Largest upper bound a quantifier may have, as in {0,60}.
MAX_QUANTIFIER = 60

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_MACRO_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
_MACRO_REF_RE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_MAX_MACRO_DEPTH = 8


class CrisisPatternError(ValueError):
    """The crisis patterns file is missing, is not YAML, or has a bad entry."""


@dataclass(frozen=True)
class CrisisMatch:
    """What the detector found: the intent to force and the id of the pattern that fired."""

    intent: str
    pattern_id: str


# ---------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------

_QUOTES = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u02bc": "'", "\uff07": "'", "`": "'", "\u00b4": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
        "\u00ab": '"', "\u00bb": '"',
    }
)
# Soft hyphen, zero-width spaces and joiners, bidi marks, word joiner, BOM,
# variation selectors: invisible, and able to split a word ("ki\u200bll").
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufe00-\ufe0f\ufeff]")
_BOUNDARY = re.compile(r"[.!?;:,\u3002\n\r\u2028\u2029]+")
_OTHER_PUNCT = re.compile(r"[^\w\s.]+")
# Letters typed three or more times in a row ("killlll", "pleeease").
_LONG_RUN = re.compile(r"([a-z])\1\1+")
_REPEATED_BOUNDARY = re.compile(r"\.(?: \.)+")


def normalise(text: str) -> str:
    """Reduce a message to the form the patterns are written for.

    >>> normalise("I want to KILL   myself!!!")
    'i want to kill myself'
    >>> normalise("I don’t want to be here... anymore")
    'i dont want to be here . anymore'
    """
    if not isinstance(text, str):
        raise TypeError(f"normalise() needs a str, not {type(text).__name__}")
    text = unicodedata.normalize("NFKC", text.translate(_QUOTES)).lower()
    text = _INVISIBLE.sub("", text).replace("'", "")
    text = _BOUNDARY.sub(" . ", text)
    text = _OTHER_PUNCT.sub(" ", text).replace("_", " ")
    text = _LONG_RUN.sub(r"\1\1", text)
    text = " ".join(text.split())
    text = _REPEATED_BOUNDARY.sub(".", text)
    return text.strip(" .")


# ---------------------------------------------------------------------------
# Regex safety checks
# ---------------------------------------------------------------------------

_REPEAT_OPS = {_sre.MAX_REPEAT, _sre.MIN_REPEAT}
if hasattr(_sre, "POSSESSIVE_REPEAT"):
    _REPEAT_OPS.add(_sre.POSSESSIVE_REPEAT)
_SINGLE_CHAR_OPS = {_sre.LITERAL, _sre.NOT_LITERAL, _sre.IN, _sre.ANY}
_ZERO_WIDTH_OPS = {_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT}
_ATOMIC_GROUP = getattr(_sre, "ATOMIC_GROUP", None)
_SPACE = ord(" ")


def _literal_can_occur(char: str) -> bool:
    """Can this character appear in normalised text?"""
    return char in " ." or (char.isalnum() and char == char.lower())


def _regex_problem(parsed: Any) -> Optional[str]:
    """Why a parsed regex is unsafe or partly unmatchable, or None if it is fine."""
    for op, av in parsed:
        problem: Optional[str] = None
        if op in _REPEAT_OPS:
            _low, high, body = av
            if high == _sre.MAXREPEAT:
                return "unbounded quantifier (*, + or {n,}); give an upper bound such as {0,30}"
            if high > MAX_QUANTIFIER:
                return f"quantifier upper bound {high} is above the limit of {MAX_QUANTIFIER}"
            items = list(body)
            if high > 1 and (len(items) != 1 or items[0][0] not in _SINGLE_CHAR_OPS):
                return (
                    "nested quantifier: only a single character or character class may repeat "
                    "more than once (risk of catastrophic backtracking)"
                )
            problem = _regex_problem(body)
        elif op is _sre.SUBPATTERN:
            problem = _regex_problem(av[-1])
        elif op is _sre.BRANCH:
            problem = next((p for p in map(_regex_problem, av[1]) if p), None)
        elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
            problem = _regex_problem(av[1])
        elif _ATOMIC_GROUP is not None and op is _ATOMIC_GROUP:
            problem = _regex_problem(av)
        elif op in (_sre.GROUPREF, _sre.GROUPREF_EXISTS):
            problem = "back-references and conditional groups are not allowed"
        elif op is _sre.LITERAL and not _literal_can_occur(chr(av)):
            problem = (
                f"literal {chr(av)!r} can never match: text is lower-cased and keeps only "
                "letters, digits, spaces and the ' . ' sentence boundary"
            )
        if problem:
            return problem
    return None


# ---------------------------------------------------------------------------
# Prefilter: word beginnings a match must contain
# ---------------------------------------------------------------------------

# Words are compared on their first PREFIX_LEN characters.
PREFIX_LEN = 4
_PREFIX_CAP = 4000
# Word beginnings found in most long messages: a prefilter made of them would
# let its regex run almost every time, so another requirement is preferred.
_COMMON_WORDS = frozenset(
    word[:PREFIX_LEN]
    for word in (
        "a about after all also am an and any are as at be because been but by can cant could did "
        "do does dont for from get go going got had has have he her him his how i if im in is it "
        "its just know like me more my need no not now of on one or out really she so some take "
        "than that the their them then there they think this time to up want was we what when "
        "who will with would you your"
    ).split()
)


class _TooBroad(Exception):
    """The set of possible word beginnings is unknown or too large to be useful."""


def _class_chars(op: Any, av: Any) -> List[str]:
    """The characters one single-character item can match, or _TooBroad."""
    if op is _sre.LITERAL:
        return [chr(av)]
    if op is not _sre.IN:
        raise _TooBroad  # ., [^x]
    chars: Set[str] = set()
    for item_op, item_av in av:
        if item_op is _sre.LITERAL:
            chars.add(chr(item_av))
        elif item_op is _sre.RANGE and item_av[1] - item_av[0] <= 40:
            chars.update(chr(c) for c in range(item_av[0], item_av[1] + 1))
        elif item_op is _sre.CATEGORY and item_av is _sre.CATEGORY_DIGIT:
            chars.update("0123456789")
        elif item_op is _sre.CATEGORY and item_av is _sre.CATEGORY_SPACE:
            chars.add(" ")
        else:
            raise _TooBroad  # \w, negated classes, wide ranges
    return sorted(chars)


def _word_starts(items: Sequence[Tuple[Any, Any]], open_: Set[str], done: Set[str]) -> Set[str]:
    """Extend partial word beginnings through `items`.

    `open_` holds beginnings still growing; finished ones (PREFIX_LEN long, or
    ended by a space) go to `done`. Returns the beginnings still open after
    the items. Zero-width items are skipped, which only widens the result.
    """
    for op, av in items:
        if not open_:
            break
        if op in (_sre.LITERAL, _sre.IN, _sre.ANY, _sre.NOT_LITERAL):
            grown: Set[str] = set()
            for char in _class_chars(op, av):
                for start in open_:
                    if char == " ":
                        if start:
                            done.add(start)
                    elif len(start) + 1 >= PREFIX_LEN:
                        done.add(start + char)
                    else:
                        grown.add(start + char)
            open_ = grown
        elif op is _sre.SUBPATTERN:
            open_ = _word_starts(list(av[-1]), open_, done)
        elif op is _sre.BRANCH:
            open_ = set().union(*(_word_starts(list(alt), set(open_), done) for alt in av[1]))
        elif op in _REPEAT_OPS:
            low, high, body = av
            body_items = list(body)
            result: Set[str] = set()
            current = open_
            for count in range(high + 1):
                if count >= low:
                    result |= current
                if count == high or not current:
                    break
                current = _word_starts(body_items, set(current), done)
            open_ = result
        elif op in _ZERO_WIDTH_OPS:
            continue
        else:
            raise _TooBroad
        if len(open_) + len(done) > _PREFIX_CAP:
            raise _TooBroad
    return open_


def _beginnings_from(items: Sequence[Tuple[Any, Any]]) -> Optional[FrozenSet[str]]:
    """Possible beginnings of the word that starts where `items` start, or None."""
    done: Set[str] = set()
    try:
        done |= _word_starts(items, {""}, done)
    except _TooBroad:
        return None
    if not done or "" in done:
        return None
    return frozenset(done)


def _score(candidate: FrozenSet[str]) -> Tuple[bool, int, int]:
    """Higher is more selective: no very common word, longer beginnings, fewer of them."""
    return (not (candidate & _COMMON_WORDS), min(map(len, candidate)), -len(candidate))


def _requirements(
    items: Sequence[Tuple[Any, Any]], after: Sequence[Tuple[Any, Any]], at_word_start: bool
) -> List[FrozenSet[str]]:
    """Sets of word beginnings such that any match of `items` (followed by `after`) has one from EACH set.

    One set per word the match must start: the word at the start (if `items`
    starts a word) and the word after every space all matches pass through.
    Mandatory groups are searched recursively; a branch contributes the union
    of its alternatives' most selective sets.
    """
    found: List[FrozenSet[str]] = []
    word_start = at_word_start
    for index, (op, av) in enumerate(items):
        rest = list(items[index + 1 :]) + list(after)
        if word_start and op not in _ZERO_WIDTH_OPS:
            beginnings = _beginnings_from(list(items[index:]) + list(after))
            if beginnings:
                found.append(beginnings)
        if op is _sre.SUBPATTERN:
            found.extend(_requirements(list(av[-1]), rest, word_start))
        elif op is _sre.BRANCH:
            per_branch = [_requirements(list(alt), rest, word_start) for alt in av[1]]
            if all(per_branch):
                found.append(frozenset().union(*(max(sets, key=_score) for sets in per_branch)))
        elif op in _REPEAT_OPS and av[0] >= 1:
            # The first repetition may be followed by more before `rest`.
            low, high, body = av
            more = [(op, (max(low - 1, 0), high - 1, body))] if high > 1 else []
            found.extend(_requirements(list(body), more + rest, word_start))
        if op is _sre.LITERAL:
            word_start = av == _SPACE
        elif op not in _ZERO_WIDTH_OPS:
            word_start = False
    return list(dict.fromkeys(found))


def _split_alternatives(source: str) -> List[str]:
    """Split a regex at its top-level "|" (not inside groups or character classes)."""
    parts: List[str] = []
    depth = 0
    in_class = False
    start = index = class_start = 0
    while index < len(source):
        char = source[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            # A "]" right after "[" or "[^" is a literal, not the end of the class.
            if char == "]" and index >= class_start:
                in_class = False
        elif char == "[":
            in_class = True
            class_start = index + 1
            if source[class_start : class_start + 1] == "^":
                class_start += 1
            class_start += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(source[start:index])
            start = index + 1
        index += 1
    parts.append(source[start:])
    return parts


def _word_index(scan: str) -> Set[str]:
    """The beginnings of every word in prepared text, to test prefilters against."""
    return {word[:PREFIX_LEN] for word in scan.split()}


# ---------------------------------------------------------------------------
# Compiled patterns
# ---------------------------------------------------------------------------


def _wrap(source: str) -> str:
    """Anchor a pattern to whole words: a space before it, no word character after."""
    return f" (?:{source})(?!\\w)"


@dataclass(frozen=True)
class _Alternative:
    """One top-level alternative of a pattern, compiled on its own."""

    regex: "re.Pattern[str]"
    # For each set, the message needs a word beginning from it; None: always run.
    needs: Optional[Tuple[FrozenSet[str], ...]]

    def may_match(self, words: AbstractSet[str]) -> bool:
        return self.needs is None or all(not required.isdisjoint(words) for required in self.needs)


@dataclass(frozen=True)
class _Pattern:
    id: str
    source: str
    alternatives: Tuple[_Alternative, ...]

    def search(self, scan: str, words: Optional[AbstractSet[str]]) -> bool:
        """Does the prepared text match? `words` (the word index) enables the prefilter."""
        return any(
            (words is None or alt.may_match(words)) and alt.regex.search(scan) is not None
            for alt in self.alternatives
        )

    def remove_from(self, scan: str, words: Optional[AbstractSet[str]]) -> Tuple[str, bool]:
        """Cut every match out of the prepared text (used for exclusions)."""
        changed = False
        for alt in self.alternatives:
            if words is None or alt.may_match(words):
                scan, count = alt.regex.subn(" ", scan)
                changed = changed or count > 0
        return scan, changed


def _compile_alternative(pattern_id: str, source: str) -> _Alternative:
    try:
        with warnings.catch_warnings():
            # e.g. inline flags in the middle of a pattern: an error in newer Pythons.
            warnings.simplefilter("error")
            regex = re.compile(_wrap(source))
            parsed = _sre.parse(source)
    except (re.error, Warning, RecursionError, OverflowError) as exc:
        raise CrisisPatternError(f"pattern {pattern_id!r}: regex does not compile: {exc}") from exc
    if regex.groupindex:
        raise CrisisPatternError(f"pattern {pattern_id!r}: named groups are not allowed, use (?:...)")
    problem = _regex_problem(parsed)
    if problem:
        raise CrisisPatternError(f"pattern {pattern_id!r}: {problem}")
    if parsed.getwidth()[0] == 0:
        raise CrisisPatternError(f"pattern {pattern_id!r}: regex can match empty text ({source!r})")
    needs = _requirements(list(parsed.data), [], True)
    return _Alternative(regex, tuple(sorted(needs, key=_score, reverse=True)) if needs else None)


def _compile_pattern(pattern_id: str, source: str) -> _Pattern:
    """Compile and check one pattern; raise CrisisPatternError naming it if anything is wrong."""
    if not isinstance(source, str) or not source.strip():
        raise CrisisPatternError(f"pattern {pattern_id!r}: regex is empty")
    if source != source.strip():
        raise CrisisPatternError(f"pattern {pattern_id!r}: regex starts or ends with whitespace")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            re.compile(source)
    except (re.error, Warning, RecursionError, OverflowError) as exc:
        raise CrisisPatternError(f"pattern {pattern_id!r}: regex does not compile: {exc}") from exc
    alternatives = tuple(_compile_alternative(pattern_id, alt) for alt in _split_alternatives(source))
    return _Pattern(pattern_id, source, alternatives)


# ---------------------------------------------------------------------------
# Patterns file
# ---------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of keeping the last one."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Dict:
    seen: Set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:
            continue  # unhashable key: construct_mapping reports it
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)

_TOP_KEYS = {"version", "macros", "categories", "exclusions"}
_REQUIRED_TOP_KEYS = ("categories", "exclusions")
_CATEGORY_KEYS = {"intent", "patterns"}
_PATTERN_KEYS = {"id", "regex", "phrases"}


def _trie_regex(words: Iterable[str]) -> str:
    """One regex for a list of literal words/phrases, factored as a trie.

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


def _normalised_words(owner: str, words: Any, what: str) -> List[str]:
    if not isinstance(words, list) or not words:
        raise CrisisPatternError(f"{owner}: {what} must be a non-empty list of strings")
    result = []
    for word in words:
        if not isinstance(word, str):
            raise CrisisPatternError(f"{owner}: {what} entry {word!r} is not a string")
        norm = normalise(word)
        if not norm:
            raise CrisisPatternError(f"{owner}: {what} entry {word!r} is empty once normalised")
        result.append(norm)
    return result


def _expand_macros(pattern_id: str, source: str, macros: Mapping[str, str]) -> str:
    for _ in range(_MAX_MACRO_DEPTH):
        names = _MACRO_REF_RE.findall(source)
        if not names:
            return source
        unknown = sorted(set(names) - set(macros))
        if unknown:
            raise CrisisPatternError(f"pattern {pattern_id!r}: unknown macro {{{unknown[0]}}}")
        source = _MACRO_REF_RE.sub(lambda m: macros[m.group(1)], source)
    raise CrisisPatternError(f"pattern {pattern_id!r}: macros nest too deeply (does a macro use itself?)")


def _pattern_source(entry: Any, where: str, macros: Mapping[str, str]) -> Tuple[str, str]:
    """Validate one pattern entry; return (id, regex with macros expanded)."""
    if not isinstance(entry, dict):
        raise CrisisPatternError(f"{where}: must be a mapping with 'id' and 'regex' or 'phrases'")
    pattern_id = entry.get("id")
    if pattern_id is None:
        raise CrisisPatternError(f"{where}: missing key 'id'")
    if not isinstance(pattern_id, str) or not _ID_RE.match(pattern_id):
        raise CrisisPatternError(f"{where}: id {pattern_id!r} must be lower-case letters, digits and _")
    unknown = sorted(set(entry) - _PATTERN_KEYS)
    if unknown:
        raise CrisisPatternError(f"pattern {pattern_id!r}: unknown key {unknown[0]!r}")
    if ("regex" in entry) == ("phrases" in entry):
        raise CrisisPatternError(f"pattern {pattern_id!r}: needs exactly one of 'regex' or 'phrases'")
    if "phrases" in entry:
        return pattern_id, _trie_regex(_normalised_words(f"pattern {pattern_id!r}", entry["phrases"], "phrases"))
    regex = entry["regex"]
    if not isinstance(regex, str):
        raise CrisisPatternError(f"pattern {pattern_id!r}: regex must be a string")
    return pattern_id, _expand_macros(pattern_id, regex, macros)


def _parse_spec(raw: Any, origin: str) -> Tuple[List[Tuple[str, str, str]], List[Tuple[str, str]]]:
    """Check the file's structure; return ([(intent, id, regex)], [(id, regex)])."""
    if not isinstance(raw, dict):
        raise CrisisPatternError(f"{origin}: the top level must be a mapping with 'categories' and 'exclusions'")
    for key in _REQUIRED_TOP_KEYS:
        if key not in raw:
            raise CrisisPatternError(f"{origin}: missing top-level key {key!r}")
    unknown = sorted(map(str, set(raw) - _TOP_KEYS))
    if unknown:
        raise CrisisPatternError(f"{origin}: unknown top-level key {unknown[0]!r}")
    if raw.get("version", 1) != 1:
        raise CrisisPatternError(f"{origin}: unsupported version {raw['version']!r} (expected 1)")

    raw_macros = raw.get("macros") or {}
    if not isinstance(raw_macros, dict):
        raise CrisisPatternError(f"{origin}: 'macros' must be a mapping of name to regex or word list")
    macros: Dict[str, str] = {}
    for name, value in raw_macros.items():
        if not isinstance(name, str) or not _MACRO_NAME_RE.match(name):
            raise CrisisPatternError(f"{origin}: macro name {name!r} must be lower-case letters, digits and _")
        if isinstance(value, list):
            macros[name] = _trie_regex(_normalised_words(f"{origin}: macro {name!r}", value, "word list"))
        elif isinstance(value, str) and value.strip():
            macros[name] = value
        else:
            raise CrisisPatternError(f"{origin}: macro {name!r} must be a regex string or a list of words")

    categories = raw["categories"]
    if not isinstance(categories, dict) or not categories:
        raise CrisisPatternError(f"{origin}: 'categories' must be a non-empty mapping")
    patterns: List[Tuple[str, str, str]] = []
    for name, category in categories.items():
        if not isinstance(category, dict):
            raise CrisisPatternError(f"{origin}: category {name!r} must be a mapping with 'intent' and 'patterns'")
        for key in ("intent", "patterns"):
            if key not in category:
                raise CrisisPatternError(f"{origin}: category {name!r}: missing key {key!r}")
        extra = sorted(set(category) - _CATEGORY_KEYS)
        if extra:
            raise CrisisPatternError(f"{origin}: category {name!r}: unknown key {extra[0]!r}")
        entries = category["patterns"]
        if not isinstance(entries, list) or not entries:
            raise CrisisPatternError(f"{origin}: category {name!r}: 'patterns' must be a non-empty list")
        sources = [
            _pattern_source(entry, f"{origin}: category {name!r}, pattern #{number}", macros)
            for number, entry in enumerate(entries, start=1)
        ]
        intent = category["intent"]
        if intent not in INTENTS:
            raise CrisisPatternError(
                f"{origin}: category {name!r}: unknown intent {intent!r} (expected one of "
                f"{', '.join(INTENTS)}); affects patterns {', '.join(pid for pid, _ in sources)}"
            )
        patterns.extend((intent, pid, src) for pid, src in sources)
    for intent in INTENTS:
        if not any(p[0] == intent for p in patterns):
            raise CrisisPatternError(f"{origin}: no category has intent {intent!r}")

    exclusion_entries = raw["exclusions"] if raw["exclusions"] is not None else []
    if not isinstance(exclusion_entries, list):
        raise CrisisPatternError(f"{origin}: 'exclusions' must be a list")
    exclusions = [
        _pattern_source(entry, f"{origin}: exclusion #{number}", macros)
        for number, entry in enumerate(exclusion_entries, start=1)
    ]
    return patterns, exclusions


# ---------------------------------------------------------------------------
# Detector
# ---------------------------------------------------------------------------


class CrisisDetector:
    """Finds self-harm crises and medical emergencies in a visitor's message."""

    def __init__(
        self,
        patterns: Iterable[Tuple[str, str, str]],
        exclusions: Iterable[Tuple[str, str]] = (),
        origin: str = "<patterns>",
        prefilter: bool = True,
    ) -> None:
        """Build from expanded regexes: patterns as (intent, id, regex), exclusions as (id, regex).

        Every regex is validated; a problem raises CrisisPatternError naming
        the pattern id. `prefilter=False` runs every regex on every message
        (same results, slower; used to test the prefilter).
        """
        self._prefilter = prefilter
        self._by_intent: Dict[str, List[_Pattern]] = {intent: [] for intent in INTENTS}
        self._exclusions: List[_Pattern] = []
        seen: Set[str] = set()

        def compiled(pattern_id: str, source: str) -> _Pattern:
            if pattern_id in seen:
                raise CrisisPatternError(f"{origin}: pattern {pattern_id!r}: duplicate id")
            seen.add(pattern_id)
            try:
                return _compile_pattern(pattern_id, source)
            except CrisisPatternError as exc:
                raise CrisisPatternError(f"{origin}: {exc}") from exc.__cause__

        for intent, pattern_id, source in patterns:
            if intent not in self._by_intent:
                raise CrisisPatternError(f"{origin}: pattern {pattern_id!r}: unknown intent {intent!r}")
            self._by_intent[intent].append(compiled(pattern_id, source))
        for pattern_id, source in exclusions:
            self._exclusions.append(compiled(pattern_id, source))

    @classmethod
    def from_yaml(cls, text: str, origin: str = "<string>", prefilter: bool = True) -> "CrisisDetector":
        """Build from the text of a patterns file."""
        try:
            raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise CrisisPatternError(f"{origin}: not valid YAML: {exc}") from exc
        patterns, exclusions = _parse_spec(raw, origin)
        return cls(patterns, exclusions, origin=origin, prefilter=prefilter)

    @classmethod
    def from_file(cls, path: Union[str, Path, None] = None, prefilter: bool = True) -> "CrisisDetector":
        """Load and validate a patterns file (default: data/safety/crisis_patterns.yml)."""
        file_path = Path(path) if path is not None else DEFAULT_PATTERNS_PATH
        try:
            text = file_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CrisisPatternError(f"{file_path}: cannot read the crisis patterns file: {exc}") from exc
        return cls.from_yaml(text, origin=str(file_path), prefilter=prefilter)

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
        words = _word_index(scan) if self._prefilter else None
        excluded = False
        for exclusion in self._exclusions:
            scan, changed = exclusion.remove_from(scan, words)
            excluded = excluded or changed
        if excluded:
            scan = " " + " ".join(scan.split())
            words = _word_index(scan) if self._prefilter else None
        for intent in INTENTS:
            for pattern in self._by_intent[intent]:
                if pattern.search(scan, words):
                    return CrisisMatch(intent, pattern.id)
        return None


@lru_cache(maxsize=1)
def default_detector() -> CrisisDetector:
    """The detector for the default patterns file, loaded once per process."""
    return CrisisDetector.from_file()
