r"""The regex subset crisis patterns are written in, checked by a small parser of its own.

Every regex in data/safety/crisis_patterns.yml (macros expanded, phrase lists turned into
regexes) must use only this subset; anything else is refused when the file is loaded:

    a 5 é, space      a lower-case letter or digit, or a space: itself
    \.                the full stop of the " . " sentence boundary
    \<symbol>         that symbol (re.escape writes "\ " for a space)
    .  \w  \d         any character, a word character, a digit
    [...]             one of: letters, digits, space, ".", ranges inside a-z or 0-9, \w, \d
                      (not negated)
    (?:...)  (...)    a group (a capturing group is used as a plain one)
    (?=...)  (?!...)  (?<=...)  (?<!...)   lookahead and lookbehind
    \b  $             a word boundary, the end of the text
    A|B               either
    ?  {n}  {m,n}  {,n}                    greedy quantifiers, n at most MAX_QUANTIFIER

with rules that keep every search linear in the message length and every part able to match:

* no unbounded quantifier (*, +, {n,});
* only a single character (a letter, ., \w, a set) may repeat more than once: no nested
  quantifiers such as (?:\w{1,5} ){0,3}, which can backtrack catastrophically;
* no back-references, conditional groups or named groups;
* no literal that normalised text never holds (upper case, punctuation: see normalise.py);
* no top-level alternative that can match empty text.

`parse` checks a regex and returns its top-level alternatives.
"""

from __future__ import annotations

import re
import string
import warnings
from typing import List, NoReturn, Tuple

from bot.domain.safety.normalise import can_occur

# Largest upper bound a quantifier may have, as in {0,60}.
MAX_QUANTIFIER = 60

_DIGITS = string.digits
_LETTERS = string.ascii_lowercase
_BRACES = re.compile(r"\{(\d*)(,?)(\d*)\}")
_GROUP_KINDS = ("?:", "?=", "?!", "?<=", "?<!")
# What the parser learns of an atom: the fewest characters it matches, and whether it is a
# single character (the only thing allowed to repeat more than once).
_Atom = Tuple[int, bool]
_CHAR: _Atom = (1, True)
_ZERO_WIDTH: _Atom = (0, False)


class PatternSyntaxError(ValueError):
    """A regex outside the subset, or unsafe, or partly unable to match."""


def parse(source: str) -> Tuple[str, ...]:
    """Check a regex against the subset and its rules; return its top-level alternatives."""
    if not isinstance(source, str) or not source.strip():
        raise PatternSyntaxError("regex is empty")
    if source != source.strip():
        raise PatternSyntaxError("regex starts or ends with whitespace")
    try:
        with warnings.catch_warnings():
            # A warning (e.g. "possible nested set") marks a regex whose meaning will change.
            warnings.simplefilter("error")
            re.compile(source)
        # It compiles, so brackets balance and no quantifier stands alone: the parser needn't check.
        alternatives = _Parser(source).alternatives()
    except (re.error, Warning, RecursionError, OverflowError) as exc:
        raise PatternSyntaxError(f"regex does not compile: {exc}") from exc
    for begin, end, width in alternatives:
        if width == 0:
            raise PatternSyntaxError(f"regex can match empty text ({source[begin:end]!r})")
    return tuple(source[begin:end] for begin, end, _ in alternatives)


class _Parser:
    """Recursive descent over the subset; each method consumes what it describes."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0

    def peek(self, text: str) -> bool:
        return self.source.startswith(text, self.pos)

    def take(self) -> str:
        self.pos += 1
        return self.source[self.pos - 1]

    def outside(self, start: int, what: str) -> NoReturn:
        raise PatternSyntaxError(f"{what} {self.source[start:self.pos]!r} at position {start} is outside the "
                                 "regex subset patterns may use (see bot/domain/safety/pattern_syntax.py)")

    def alternatives(self) -> List[Tuple[int, int, int]]:
        """`A|B|...` up to a ")" or the end, as (start, end, fewest characters) for each alternative."""
        found = []
        while True:
            start = self.pos
            width = 0
            while self.pos < len(self.source) and not (self.peek("|") or self.peek(")")):
                width += self.quantified(self.atom())
            found.append((start, self.pos, width))
            if not self.peek("|"):
                return found
            self.pos += 1

    def atom(self) -> _Atom:
        start = self.pos
        char = self.take()
        if char == "(":
            return self.group(start)
        if char == "[":
            return self.char_set(start)
        if char == "$":
            return _ZERO_WIDTH
        if char == "^":
            self.outside(start, "anchor")
        if char == "\\":
            if self.peek("b"):
                self.pos += 1
                return _ZERO_WIDTH
            if self.source[self.pos] in "123456789":
                raise PatternSyntaxError("back-references and conditional groups are not allowed")
            self.escape(start)
        elif char != ".":
            self.literal(char)
        return _CHAR

    def group(self, start: int) -> _Atom:
        kind = ""
        if self.peek("?"):
            kind = next((k for k in _GROUP_KINDS if self.peek(k)), "")
            if not kind:
                if self.peek("?P<"):
                    raise PatternSyntaxError("named groups are not allowed, use (?:...)")
                if self.peek("?P=") or self.peek("?("):
                    raise PatternSyntaxError("back-references and conditional groups are not allowed")
                self.pos += 2
                self.outside(start, "group")
            self.pos += len(kind)
        width = min(width for _, _, width in self.alternatives())
        self.pos += 1  # the ")"
        return (width, False) if kind in ("", "?:") else _ZERO_WIDTH

    def escape(self, start: int) -> None:
        """What follows a backslash: \\w, \\d or an escaped symbol."""
        char = self.take()
        if char in "wd":
            return
        if char.isascii() and char.isalnum():
            self.outside(start, "escape")
        self.literal(char)

    def literal(self, char: str) -> None:
        if not can_occur(char):
            raise PatternSyntaxError(f"literal {char!r} can never match: text is lower-cased and keeps only "
                                     "letters, digits, spaces and the ' . ' sentence boundary")

    def char_set(self, start: int) -> _Atom:
        if self.peek("^"):
            self.pos += 1
            self.outside(start, "negated set")
        first = True  # a "]" straight after "[" is a member, as in Python
        while first or not self.peek("]"):
            first = False
            member_start = self.pos
            char = self.take()
            if char == "\\":
                self.escape(member_start)
            elif self.peek("-") and not self.peek("-]"):
                self.pos += 1
                high = self.take()
                if not any(char in family and high in family for family in (_LETTERS, _DIGITS)):
                    self.outside(member_start, "range")
            else:
                self.literal(char)
        self.pos += 1  # the "]"
        return _CHAR

    def quantified(self, atom: _Atom) -> int:
        """The fewest characters `atom` matches with the quantifier that follows it, if any."""
        start = self.pos
        braces = _BRACES.match(self.source, self.pos)
        if self.peek("?"):
            self.pos += 1
            low, high = 0, 1
        elif self.peek("*") or self.peek("+") or (braces and braces.group(2) and not braces.group(3)):
            raise PatternSyntaxError("unbounded quantifier (*, + or {n,}); give an upper bound such as {0,30}")
        elif braces and braces.group() != "{}":  # "{}" is two literal braces, as in Python
            self.pos = braces.end()
            low = int(braces.group(1) or 0)
            high = int(braces.group(3)) if braces.group(2) else low
        else:
            return atom[0]
        if high > MAX_QUANTIFIER:
            raise PatternSyntaxError(f"quantifier upper bound {high} is above the limit of {MAX_QUANTIFIER}")
        if self.peek("?") or self.peek("+"):
            self.pos += 1
            self.outside(start, "lazy or possessive quantifier")
        if high > 1 and not atom[1]:
            raise PatternSyntaxError("nested quantifier: only a single character or character class may repeat "
                                     "more than once (risk of catastrophic backtracking)")
        return atom[0] * low
