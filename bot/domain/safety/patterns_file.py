"""Loading and validating the crisis patterns file, data/safety/crisis_patterns.yml (its header says how to write it).

The YAML is read by a loader that refuses duplicate keys (PyYAML would silently keep the last,
dropping a whole category), the structure checked by the pydantic models below. A problem is
reported as `<file>: <where>: <what is wrong>`, <where> naming a pattern by its id (by its place
when the id is missing or bad). `parse` returns the regexes, macros expanded and phrase lists
turned into regexes; the detector checks the regexes themselves (pattern_syntax.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Set, Tuple

import yaml

# pydantic 1's API in either environment (see bot/settings.py).
if TYPE_CHECKING:
    from pydantic import BaseModel, StrictStr, ValidationError, root_validator, validator
else:
    try:
        from pydantic.v1 import BaseModel, StrictStr, ValidationError, root_validator, validator
    except ImportError:
        from pydantic import BaseModel, StrictStr, ValidationError, root_validator, validator

from bot.domain.safety.phrases import normalised_phrases, phrases_regex
from bot.settings import REPO_ROOT

CRISIS_SELF_HARM = "crisis_self_harm"
MEDICAL_EMERGENCY = "medical_emergency"
# Checked in this order: the first intent with a match wins.
INTENTS: Tuple[str, ...] = (CRISIS_SELF_HARM, MEDICAL_EMERGENCY)

DEFAULT_PATTERNS_PATH = REPO_ROOT / "data" / "safety" / "crisis_patterns.yml"

_ID = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_MACRO_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_MACRO_REF = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_MAX_MACRO_DEPTH = 8


class CrisisPatternError(ValueError):
    """The crisis patterns file is missing, is not YAML, or has a bad entry."""


class _Strict(BaseModel):
    class Config:
        extra = "forbid"


class Pattern(_Strict):
    """A pattern or an exclusion: an id, and a regex or a list of phrases matched literally."""

    id: str
    regex: Optional[StrictStr] = None
    phrases: Optional[List[str]] = None

    @validator("id", pre=True)
    def id_is_lower_case(cls, value: Any) -> Any:
        if not isinstance(value, str) or not _ID.match(value):
            raise ValueError(f"id {value!r} must be lower-case letters, digits and _")
        return value

    @validator("phrases", pre=True)
    def phrases_are_normalised(cls, value: Any) -> List[str]:
        return normalised_phrases(value, "phrases")

    @root_validator(skip_on_failure=True)
    def regex_or_phrases(cls, values: Dict) -> Dict:
        if (values["regex"] is None) == (values["phrases"] is None):
            raise ValueError("needs exactly one of 'regex' or 'phrases'")
        return values

    def expanded(self, macros: Mapping[str, str]) -> str:
        """The regex, with macros replaced (phrases become a regex)."""
        if self.regex is None:
            return phrases_regex(self.phrases or [])
        source = self.regex
        for _ in range(_MAX_MACRO_DEPTH):
            names = _MACRO_REF.findall(source)
            if not names:
                return source
            unknown = sorted(set(names) - set(macros))
            if unknown:
                raise ValueError(f"pattern {self.id!r}: unknown macro {{{unknown[0]}}}")
            source = _MACRO_REF.sub(lambda m: macros[m.group(1)], source)
        raise ValueError(f"pattern {self.id!r}: macros nest too deeply (does a macro use itself?)")


class Category(_Strict):
    intent: StrictStr
    patterns: List[Pattern]

    @validator("patterns", pre=True)
    def patterns_not_empty(cls, value: Any) -> Any:
        if not isinstance(value, list) or not value:
            raise ValueError("'patterns' must be a non-empty list")
        return value

    @root_validator(skip_on_failure=True)
    def intent_known(cls, values: Dict) -> Dict:
        if values["intent"] not in INTENTS:
            raise ValueError(
                f"unknown intent {values['intent']!r} (expected one of {', '.join(INTENTS)}); "
                f"affects patterns {', '.join(p.id for p in values['patterns'])}"
            )
        return values


class PatternsFile(_Strict):
    version: int = 1
    macros: Dict[str, str] = {}  # name -> regex (a list of words becomes one when read)
    categories: Dict[str, Category]
    exclusions: List[Pattern]

    @validator("version", pre=True)
    def version_one(cls, value: Any) -> Any:
        if value != 1:
            raise ValueError(f"unsupported version {value!r} (expected 1)")
        return value

    @validator("macros", pre=True)
    def macros_are_regexes(cls, value: Any) -> Dict[str, str]:
        if not isinstance(value, (dict, type(None))):
            raise ValueError("'macros' must be a mapping of name to regex or word list")
        macros = {}
        for name, macro in (value or {}).items():
            if not isinstance(name, str) or not _MACRO_NAME.match(name):
                raise ValueError(f"macro name {name!r} must be lower-case letters, digits and _")
            if isinstance(macro, list):
                macros[name] = phrases_regex(normalised_phrases(macro, f"macro {name!r}: word list"))
            elif isinstance(macro, str) and macro.strip():
                macros[name] = macro
            else:
                raise ValueError(f"macro {name!r} must be a regex string or a list of words")
        return macros

    @validator("categories", pre=True)
    def categories_not_empty(cls, value: Any) -> Any:
        if not isinstance(value, dict) or not value:
            raise ValueError("'categories' must be a non-empty mapping")
        return value

    @validator("exclusions", pre=True)
    def empty_exclusions(cls, value: Any) -> Any:
        return [] if value is None else value  # `exclusions:` with nothing under it

    @root_validator(skip_on_failure=True)
    def every_intent_has_a_category(cls, values: Dict) -> Dict:
        for intent in INTENTS:
            if not any(category.intent == intent for category in values["categories"].values()):
                raise ValueError(f"no category has intent {intent!r}")
        return values


def _pattern_place(entries: Any, index: int, numbered: str) -> str:
    """A pattern by its id when it has a usable one, otherwise by its place."""
    entry = entries[index] if isinstance(entries, list) and index < len(entries) else None
    pattern_id = entry.get("id") if isinstance(entry, dict) else None
    if isinstance(pattern_id, str) and _ID.match(pattern_id):
        return f"pattern {pattern_id!r}"
    return f"{numbered} #{index + 1}"


def _describe(error: Mapping[str, Any], raw: Mapping[str, Any]) -> str:
    """Turn a pydantic error into `<where>: <what is wrong>`."""
    loc = [part for part in error["loc"] if part != "__root__"]
    where, field = "", loc
    if len(loc) >= 2 and loc[0] == "categories":
        where, field = f"category {loc[1]!r}", loc[2:]
        if len(loc) >= 4 and loc[2] == "patterns" and isinstance(loc[3], int):
            category = raw["categories"].get(loc[1])
            entries = category.get("patterns") if isinstance(category, dict) else None
            where, field = _pattern_place(entries, loc[3], f"{where}, pattern"), loc[4:]
    elif len(loc) >= 2 and loc[0] == "exclusions" and isinstance(loc[1], int):
        where, field = _pattern_place(raw["exclusions"], loc[1], "exclusion"), loc[2:]
    scope = "" if where else "top-level "
    if error["type"] == "value_error.missing":
        what = f"missing {scope}key {field[-1]!r}"
    elif error["type"] == "value_error.extra":
        what = f"unknown {scope}key {field[-1]!r}"
    elif error["type"] == "value_error" or not field:
        what = error["msg"]  # the validators above say what they are about
    else:
        what = f"{'.'.join(map(str, field))}: {error['msg']}"
    return f"{where}: {what}" if where else what


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


def parse(text: str, origin: str = "<string>") -> Tuple[List[Tuple[str, str, str]], List[Tuple[str, str]]]:
    """Validate the text of a patterns file; return ([(intent, id, regex)], [(id, regex)]), macros expanded."""
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise CrisisPatternError(f"{origin}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise CrisisPatternError(f"{origin}: the top level must be a mapping with 'categories' and 'exclusions'")
    try:
        spec = PatternsFile.parse_obj(raw)
    except ValidationError as exc:
        raise CrisisPatternError("\n".join(f"{origin}: {_describe(e, raw)}" for e in exc.errors())) from None
    try:
        patterns = [(category.intent, pattern.id, pattern.expanded(spec.macros))
                    for category in spec.categories.values() for pattern in category.patterns]
        exclusions = [(pattern.id, pattern.expanded(spec.macros)) for pattern in spec.exclusions]
    except ValueError as exc:
        raise CrisisPatternError(f"{origin}: {exc}") from None
    return patterns, exclusions


def read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CrisisPatternError(f"{path}: cannot read the crisis patterns file: {exc}") from exc
