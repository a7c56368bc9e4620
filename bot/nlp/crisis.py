"""Rule-based crisis detector: runs on every message and overrides the ML intent.

The patterns live in data/safety/crisis_patterns.yml (see its header for how to
write them). This module only depends on PyYAML and the standard library, so it
can be used and tested without Rasa.

    detector = CrisisDetector.from_file()
    match = detector.detect("my friend overdosed")
    # CrisisMatch(intent='medical_emergency', pattern_id='med_overdose_report')

How a message is checked:

1. ``normalise`` the text (NFKC, lower case, apostrophes deleted, sentence
   punctuation turned into a `` . `` boundary, other symbols into spaces,
   whitespace collapsed).
2. Cut every exclusion (figure of speech) out of it.
3. Search the self-harm patterns, then the medical ones. Self-harm wins when
   both match: its answer gives 911 as well as 988.

Each category is searched with one combined regex anchored on a literal space,
so the engine only tries positions at word starts; the single pattern that
matched is identified afterwards, at the match position only. Load-time checks
keep every regex free of nested or unbounded quantifiers, so matching stays
linear in the length of the message.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import yaml

try:  # Python 3.11+
    import re._parser as _sre_parse  # type: ignore[import-not-found]
except ImportError:  # Python 3.10
    import sre_parse as _sre_parse  # type: ignore[no-redef]

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

DEFAULT_PATTERNS_PATH = Path(__file__).resolve().parents[2] / "data" / "safety" / "crisis_patterns.yml"

# Largest upper bound a quantifier may have ({0,60}).
MAX_QUANTIFIER = 60

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_MACRO_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
_MACRO_REF_RE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_MAX_MACRO_DEPTH = 8


class CrisisPatternError(ValueError):
    """The crisis patterns file is missing, is not YAML, or has a bad entry."""


@dataclass(frozen=True)
class CrisisMatch:
    """What the detector found: the intent to force and the pattern that fired."""

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
# Soft hyphen, zero-width spaces/joiners, bidi marks, word joiner, BOM,
# variation selectors: invisible, and used to split words ("ki\u200bll").
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufe00-\ufe0f\ufeff]")
_BOUNDARY = re.compile(r"[.!?;:,\u3002\uff61\n\r\u2028\u2029]+")
_OTHER_PUNCT = re.compile(r"[^\w\s.]|_")
_LONG_RUN = re.compile(r"([^\W\d_])\1{2,}")
_SPACES = re.compile(r"\s+")
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
    text = text.translate(_QUOTES)
    text = unicodedata.normalize("NFKC", text).lower()
    text = _INVISIBLE.sub("", text)
    text = text.replace("'", "")
    text = _BOUNDARY.sub(" . ", text)
    text = _OTHER_PUNCT.sub(" ", text)
    text = _LONG_RUN.sub(r"\1\1", text)
    text = _SPACES.sub(" ", text)
    text = _REPEATED_BOUNDARY.sub(".", text)
    return text.strip(" .")


# ---------------------------------------------------------------------------
# Regex safety checks
# ---------------------------------------------------------------------------

_REPEAT_OPS = {_sre_parse.MAX_REPEAT, _sre_parse.MIN_REPEAT}
if hasattr(_sre_parse, "POSSESSIVE_REPEAT"):
    _REPEAT_OPS.add(_sre_parse.POSSESSIVE_REPEAT)
_SINGLE_CHAR_OPS = {_sre_parse.LITERAL, _sre_parse.NOT_LITERAL, _sre_parse.IN, _sre_parse.ANY}
_GROUPREF_OPS = {_sre_parse.GROUPREF, _sre_parse.GROUPREF_EXISTS}
_ATOMIC_GROUP = getattr(_sre_parse, "ATOMIC_GROUP", None)


def _literal_can_occur(char: str) -> bool:
    """Can this character appear in normalised text?"""
    return char in " ." or (char.isalnum() and char == char.lower())


def _regex_problem(parsed: Any) -> Optional[str]:
    """Return why a parsed regex is unsafe or can never match, or None if it is fine."""
    for op, av in parsed:
        if op in _REPEAT_OPS:
            low, high, body = av
            if high == _sre_parse.MAXREPEAT:
                return "unbounded quantifier (*, + or {n,}); give an upper bound such as {0,30}"
            if high > MAX_QUANTIFIER:
                return f"quantifier upper bound {high} is above the limit of {MAX_QUANTIFIER}"
            if high > 1:
                items = list(body)
                if len(items) != 1 or items[0][0] not in _SINGLE_CHAR_OPS:
                    return (
                        "nested quantifier: only a single character or character class "
                        "may repeat more than once (risk of catastrophic backtracking)"
                    )
            problem = _regex_problem(body)
        elif op is _sre_parse.SUBPATTERN:
            problem = _regex_problem(av[-1])
        elif op is _sre_parse.BRANCH:
            problem = next((p for p in map(_regex_problem, av[1]) if p), None)
        elif op in (_sre_parse.ASSERT, _sre_parse.ASSERT_NOT):
            problem = _regex_problem(av[1])
        elif _ATOMIC_GROUP is not None and op is _ATOMIC_GROUP:
            problem = _regex_problem(av)
        elif op in _GROUPREF_OPS:
            problem = "back-references and conditional groups are not allowed"
        elif op is _sre_parse.LITERAL and not _literal_can_occur(chr(av)):
            problem = (
                f"literal {chr(av)!r} can never match: text is lower-cased and keeps only "
                "letters, digits, spaces and the ' . ' sentence boundary"
            )
        else:
            problem = None
        if problem:
            return problem
    return None


def _wrap(source: str) -> str:
    """Anchor a pattern to whole words: a space before it, no word character after."""
    return f" (?:{source})(?!\\w)"


def _compile_checked(pattern_id: str, source: str) -> "re.Pattern[str]":
    """Compile one pattern, raising CrisisPatternError if it is invalid or unsafe."""
    if not isinstance(source, str) or not source.strip():
        raise CrisisPatternError(f"pattern {pattern_id!r}: regex is empty")
    if source != source.strip():
        raise CrisisPatternError(f"pattern {pattern_id!r}: regex starts or ends with whitespace")
    try:
        with warnings.catch_warnings():
            # e.g. "global flags not at the start" would break the combined regex.
            warnings.simplefilter("error")
            compiled = re.compile(_wrap(source))
            parsed = _sre_parse.parse(source)
    except (re.error, Warning, RecursionError) as exc:
        raise CrisisPatternError(f"pattern {pattern_id!r}: regex does not compile: {exc}") from exc
    if compiled.groupindex:
        raise CrisisPatternError(f"pattern {pattern_id!r}: named groups are not allowed, use (?:...)")
    problem = _regex_problem(parsed)
    if problem:
        raise CrisisPatternError(f"pattern {pattern_id!r}: {problem}")
    if parsed.getwidth()[0] == 0:
        raise CrisisPatternError(f"pattern {pattern_id!r}: regex can match empty text")
    return compiled


@dataclass(frozen=True)
class _Pattern:
    id: str
    intent: Optional[str]  # None for exclusions
    source: str
    regex: "re.Pattern[str]"


def _combine(patterns: Sequence[_Pattern]) -> "re.Pattern[str]":
    return re.compile(_wrap("|".join(f"(?:{p.source})" for p in patterns)))


# ---------------------------------------------------------------------------
# Patterns file
# ---------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of keeping the last."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Dict:
    seen = set()
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


def _expand_macros(pattern_id: str, source: str, macros: Mapping[str, str]) -> str:
    for _ in range(_MAX_MACRO_DEPTH):
        names = _MACRO_REF_RE.findall(source)
        if not names:
            return source
        unknown = sorted(set(names) - set(macros))
        if unknown:
            raise CrisisPatternError(f"pattern {pattern_id!r}: unknown macro {{{unknown[0]}}}")
        source = _MACRO_REF_RE.sub(lambda m: macros[m.group(1)], source)
    raise CrisisPatternError(f"pattern {pattern_id!r}: macros nest too deeply (a macro refers to itself?)")


def _phrases_to_regex(pattern_id: str, phrases: Any) -> str:
    if not isinstance(phrases, list) or not phrases:
        raise CrisisPatternError(f"pattern {pattern_id!r}: 'phrases' must be a non-empty list of strings")
    parts: List[str] = []
    for phrase in phrases:
        if not isinstance(phrase, str):
            raise CrisisPatternError(f"pattern {pattern_id!r}: phrase {phrase!r} is not a string")
        norm = normalise(phrase)
        if not norm:
            raise CrisisPatternError(f"pattern {pattern_id!r}: phrase {phrase!r} is empty once normalised")
        parts.append(re.escape(norm))
    return "(?:" + "|".join(parts) + ")"


def _pattern_source(entry: Any, where: str, macros: Mapping[str, str]) -> Tuple[str, str]:
    """Validate one pattern entry; return (id, regex source with macros expanded)."""
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
    has_regex, has_phrases = "regex" in entry, "phrases" in entry
    if has_regex == has_phrases:
        raise CrisisPatternError(f"pattern {pattern_id!r}: needs exactly one of 'regex' or 'phrases'")
    if has_phrases:
        return pattern_id, _phrases_to_regex(pattern_id, entry["phrases"])
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
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise CrisisPatternError(f"{origin}: unknown top-level key {unknown[0]!r}")
    if raw.get("version", 1) != 1:
        raise CrisisPatternError(f"{origin}: unsupported version {raw['version']!r} (expected 1)")

    macros = raw.get("macros") or {}
    if not isinstance(macros, dict):
        raise CrisisPatternError(f"{origin}: 'macros' must be a mapping of name to regex")
    for name, value in macros.items():
        if not isinstance(name, str) or not _MACRO_NAME_RE.match(name) or not isinstance(value, str):
            raise CrisisPatternError(f"{origin}: macro {name!r} must be a lower-case name mapped to a regex string")

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
        sources = [_pattern_source(e, f"{origin}: category {name!r}, pattern #{i + 1}", macros) for i, e in enumerate(entries)]
        intent = category["intent"]
        if intent not in INTENTS:
            ids = ", ".join(pid for pid, _ in sources)
            raise CrisisPatternError(
                f"{origin}: category {name!r}: unknown intent {intent!r} (expected one of "
                f"{', '.join(INTENTS)}); affects patterns {ids}"
            )
        patterns.extend((intent, pid, src) for pid, src in sources)
    missing = [intent for intent in INTENTS if intent not in {p[0] for p in patterns}]
    if missing:
        raise CrisisPatternError(f"{origin}: no category for intent {missing[0]!r}")

    exclusion_entries = raw["exclusions"]
    if exclusion_entries is None:
        exclusion_entries = []
    if not isinstance(exclusion_entries, list):
        raise CrisisPatternError(f"{origin}: 'exclusions' must be a list")
    exclusions = [
        _pattern_source(e, f"{origin}: exclusion #{i + 1}", macros) for i, e in enumerate(exclusion_entries)
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
    ) -> None:
        """Build from already-expanded regexes: patterns as (intent, id, regex), exclusions as (id, regex).

        Every regex is validated; problems raise CrisisPatternError naming the id.
        """
        seen: Dict[str, str] = {}
        by_intent: Dict[str, List[_Pattern]] = {intent: [] for intent in INTENTS}

        def check_id(pattern_id: str) -> None:
            if pattern_id in seen:
                raise CrisisPatternError(f"{origin}: pattern {pattern_id!r}: duplicate id")
            seen[pattern_id] = pattern_id

        for intent, pattern_id, source in patterns:
            check_id(pattern_id)
            if intent not in by_intent:
                raise CrisisPatternError(f"{origin}: pattern {pattern_id!r}: unknown intent {intent!r}")
            by_intent[intent].append(_Pattern(pattern_id, intent, source, self._compile(origin, pattern_id, source)))
        self._exclusions: List[_Pattern] = []
        for pattern_id, source in exclusions:
            check_id(pattern_id)
            self._exclusions.append(_Pattern(pattern_id, None, source, self._compile(origin, pattern_id, source)))

        self._categories: List[Tuple[str, "re.Pattern[str]", List[_Pattern]]] = [
            (intent, _combine(by_intent[intent]), by_intent[intent]) for intent in INTENTS if by_intent[intent]
        ]
        self._exclusion_regex = _combine(self._exclusions) if self._exclusions else None

    @staticmethod
    def _compile(origin: str, pattern_id: str, source: str) -> "re.Pattern[str]":
        try:
            return _compile_checked(pattern_id, source)
        except CrisisPatternError as exc:
            raise CrisisPatternError(f"{origin}: {exc}") from exc.__cause__

    @classmethod
    def from_yaml(cls, text: str, origin: str = "<string>") -> "CrisisDetector":
        """Build from the text of a patterns file."""
        try:
            raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise CrisisPatternError(f"{origin}: not valid YAML: {exc}") from exc
        patterns, exclusions = _parse_spec(raw, origin)
        return cls(patterns, exclusions, origin=origin)

    @classmethod
    def from_file(cls, path: Union[str, Path, None] = None) -> "CrisisDetector":
        """Load and validate a patterns file (default: data/safety/crisis_patterns.yml)."""
        file_path = Path(path) if path is not None else DEFAULT_PATTERNS_PATH
        try:
            text = file_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CrisisPatternError(f"{file_path}: cannot read the crisis patterns file: {exc}") from exc
        return cls.from_yaml(text, origin=str(file_path))

    def pattern_ids(self, intent: Optional[str] = None) -> Tuple[str, ...]:
        """Ids of the detection patterns (not exclusions), optionally for one intent."""
        return tuple(p.id for name, _, pats in self._categories if intent in (None, name) for p in pats)

    @property
    def exclusion_ids(self) -> Tuple[str, ...]:
        return tuple(p.id for p in self._exclusions)

    def _prepare(self, text: str) -> str:
        """Normalised text with a leading space (the word anchor) and exclusions cut out."""
        scan = " " + normalise(text)
        if self._exclusion_regex is not None:
            scan = self._exclusion_regex.sub(" ", scan)
            scan = _SPACES.sub(" ", scan)
        return scan

    def detect(self, text: Optional[str]) -> Optional[CrisisMatch]:
        """Return the crisis found in a message, or None. Self-harm wins over medical."""
        if text is None:
            return None
        if not isinstance(text, str):
            raise TypeError(f"detect() needs a str, not {type(text).__name__}")
        scan = self._prepare(text)
        if len(scan) <= 1:
            return None
        for intent, combined, patterns in self._categories:
            found = combined.search(scan)
            if found is None:
                continue
            start = found.start()
            for pattern in patterns:
                if pattern.regex.match(scan, start):
                    return CrisisMatch(intent, pattern.id)
            # Not reachable: the combined regex is the alternation of these. Never drop a crisis, though.
            for pattern in patterns:  # pragma: no cover
                if pattern.regex.search(scan):
                    return CrisisMatch(intent, pattern.id)
            return CrisisMatch(intent, patterns[0].id)  # pragma: no cover
        return None


@lru_cache(maxsize=1)
def default_detector() -> CrisisDetector:
    """The detector for the default patterns file, loaded once."""
    return CrisisDetector.from_file()
