"""Rasa NLU training examples as plain data: reading the examples a data folder already has, and
writing the review queue's export (`data/nlu/reviewed.yml`) grouped by intent, without duplicates.

Read with PyYAML, not Rasa, so the gateway (which has no Rasa) can export. Entity annotations in
existing examples (`[St. Louis](city)`) are read as their plain words.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterable, List, Set, Tuple

import yaml

ANNOTATION = re.compile(r"\[([^\]]*)\]\((?:[^)]*)\)|\[([^\]]*)\]\{[^}]*\}")
SPACES = re.compile(r"\s+")
HEADER = """# Visitors' messages confirmed or relabelled in the console's review queue (docs/maintainer.md),
# personal details scrubbed. Written by the export; edit with care: the next export keeps what is here.
"""

Example = Tuple[str, str]  # (intent, text)


def normalise(text: str) -> str:
    """The form two examples are compared in: annotations dropped, case and spacing ignored."""
    plain = ANNOTATION.sub(lambda match: match.group(1) or match.group(2) or "", text)
    return SPACES.sub(" ", plain).strip().strip(".!?").strip().casefold()


def as_example(text: str) -> str:
    """A visitor's message as a training example: one line, and no brackets Rasa would read as entities."""
    return SPACES.sub(" ", text.replace("[", "(").replace("]", ")")).strip()


def read_examples(path: Path) -> List[Example]:
    """Every (intent, example) of one Rasa NLU YAML file; a file without `nlu:` has none."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found: List[Example] = []
    for block in data.get("nlu") or []:
        if not isinstance(block, dict) or "intent" not in block:
            continue
        for line in str(block.get("examples") or "").splitlines():
            line = line.strip()
            if line.startswith("- "):
                found.append((str(block["intent"]), line[2:].strip()))
    return found


def known_examples(folder: Path) -> Set[str]:
    """The normalised text of every example in a folder of NLU files."""
    return {normalise(text) for path in sorted(folder.glob("*.yml")) for _, text in read_examples(path)}


def catalogue_intents(domain_file: Path) -> Tuple[str, ...]:
    """The intents a message may be labelled with: the domain's, which include out_of_scope."""
    data = yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}
    return tuple(sorted(str(intent) for intent in data.get("intents") or []))


def render(examples: Iterable[Example]) -> str:
    """A Rasa NLU file of the examples, grouped by intent (sorted), each intent's examples in order."""
    by_intent: Dict[str, List[str]] = defaultdict(list)
    for intent, text in examples:
        by_intent[intent].append(text)
    blocks = [{"intent": intent, "examples": "".join(f"- {text}\n" for text in texts)}
              for intent, texts in sorted(by_intent.items())]
    body = yaml.dump({"version": "3.1", "nlu": blocks}, Dumper=_LiteralDumper, sort_keys=False, allow_unicode=True,
                     width=10_000)
    return HEADER + body


class _LiteralDumper(yaml.SafeDumper):
    """Writes multi-line strings as `|` blocks, as Rasa's own data files have them."""


def _literal(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _literal)
