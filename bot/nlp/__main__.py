"""`python -m bot.nlp build`: build the spaCy pipeline that config.yml's SpacyNLP loads."""

import argparse
import sys

from bot.knowledge.loader import KnowledgeFileError, load
from bot.nlp.spacy_pipeline import PIPELINE_DIR, build, entity_patterns


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.nlp")
    parser.add_argument("command", choices=["build"])
    args = parser.parse_args()
    if args.command == "build":
        try:
            knowledge = load()
        except KnowledgeFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        out = build(knowledge, PIPELINE_DIR)
        print(f"spaCy pipeline with {len(entity_patterns(knowledge))} entity patterns: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
