"""Builds the blank English spaCy pipeline whose entity ruler knows the knowledge file's names.

Visitors name therapies and programs many ways ("EMDR", "intensive outpatient");
each synonym becomes a pattern whose id is the knowledge entry id, so the
extractor can return `therapy: trauma_therapy` without any trained NER.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, cast

import spacy
from spacy.pipeline import EntityRuler

from bot.domain.knowledge.loader import KnowledgeBase
from bot.settings import REPO_ROOT

PIPELINE_DIR = REPO_ROOT / "build" / "spacy_knowledge"
# Knowledge entry kinds that visitors name, and the entity each becomes.
ENTITY_FOR_KIND = {"therapy": "therapy", "program": "program"}


def entity_patterns(knowledge: KnowledgeBase) -> List[Dict[str, str]]:
    patterns = []
    for entry in knowledge.entries:
        label = ENTITY_FOR_KIND.get(entry.kind)
        if not label:
            continue
        for synonym in entry.synonyms:
            patterns.append({"label": label, "pattern": synonym.lower(), "id": entry.id})
    return patterns


def patterns_fingerprint(patterns: List[Dict[str, str]]) -> str:
    return hashlib.sha256(json.dumps(patterns, sort_keys=True).encode()).hexdigest()[:16]


def build(knowledge: KnowledgeBase, out_dir: Path = PIPELINE_DIR) -> Path:
    """Write the pipeline to `out_dir`; skip the write if the patterns have not changed."""
    patterns = entity_patterns(knowledge)
    fingerprint = patterns_fingerprint(patterns)
    stamp = out_dir / "patterns.fingerprint"
    if stamp.exists() and stamp.read_text() == fingerprint:
        return out_dir
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    nlp = spacy.blank("en")
    # add_pipe is typed as returning any Pipe; "entity_ruler" always builds an EntityRuler.
    ruler = cast(EntityRuler, nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"}))
    # spaCy types patterns as str-or-token-list values; ours are all phrase (str) patterns.
    ruler.add_patterns(cast(List[Dict[str, Any]], patterns))
    nlp.to_disk(out_dir)
    stamp.write_text(fingerprint)
    return out_dir
