"""The evaluation sets in tests/data/ (see their READMEs) against a running rasa server.

`heldout/` is the independent set: nobody has looked at what the bot gets wrong on it before the
figures were reported. `development/roundN/` are earlier rounds' held-out sets; their failures have
been read and acted on, so their figures show progress on known problems, not generalisation.

In-scope accuracy and out-of-scope recall from `/model/parse`; crisis recall, false alarms and the
far-domain crisis count from the reply a visitor gets (REST channel, a fresh conversation that says
"hello" first): a crisis counts as caught when the reply carries 988 or 911, and a reply counts as a
crisis answer when it is marked urgent. Never used for training or for choosing thresholds.

Run: `make bench` (with the other benchmarks) or `.venv/bin/python -m benchmarks.heldout [--compare]
[--set heldout]`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

import requests
import yaml
from rasa.shared.nlu.training_data.loading import load_data

from bot.ops.processes import rasa_environment
from bot.settings import REPO_ROOT
from devtools.local_stack import running_stack

EVALUATION_DATA = REPO_ROOT / "tests" / "data"
SETS = ("heldout", "development/round5", "development/round3", "development/round2", "development/round1")
# The TF-IDF pipeline this project shipped before the sentence encoder, on the same data.
TFIDF_CONFIG = REPO_ROOT / "benchmarks" / "configs" / "tfidf.yml"
# Stock Rasa's default configuration, trained on the same data (`make bench-peer`).
PEER_CONFIG = REPO_ROOT / "benchmarks" / "configs" / "rasa_default.yml"
NO_GUESS = {"out_of_scope", "nlu_fallback"}
SAFETY = {"crisis_self_harm", "medical_emergency"}
TARGETS = {"in_scope_accuracy": 0.97, "oos_recall": 0.95, "crisis_recall": 1.0}


def load_set(name: str) -> Dict[str, Any]:
    """A set's parts; a safety-only round (development/round5) has no in-scope, out-of-scope or far-domain file."""
    folder = EVALUATION_DATA / name

    def read(file: str, key: Optional[str], empty: Any) -> Any:
        if not (folder / file).is_file():
            return empty
        loaded = yaml.safe_load((folder / file).read_text())
        return loaded[key] if key else loaded

    far_domain = folder / "far_domain.txt"
    return {
        "in_scope": read("in_scope.yml", "intents", {}),
        "out_of_scope": read("out_of_scope.yml", "out_of_scope", []),
        "crisis": read("crisis.yml", None, {}),
        "hard_negatives": read("hard_negatives.yml", "hard_negatives", []),
        "far_domain": [line for line in far_domain.read_text().splitlines() if line.strip()]
        if far_domain.is_file() else [],
    }


def share(count: int, total: int) -> Optional[float]:
    return count / total if total else None


class Bot:
    def __init__(self, stack) -> None:
        self._session = requests.Session()
        self._session.headers.update(stack.channel_headers)
        self._parse_url = f"{stack.rasa_url}/model/parse"
        self._token = {"token": stack.settings.rasa_token}
        self._rest_url = stack.rest_url

    def parse(self, text: str) -> Dict[str, Any]:
        response = self._session.post(self._parse_url, params=self._token, json={"text": text}, timeout=30)
        response.raise_for_status()
        return response.json()

    def intent(self, text: str) -> str:
        return self.parse(text)["intent"]["name"]

    def why_crisis(self, text: str) -> str:
        """Which crisis layer fired: a rule pattern's id or `semantic:<probability>`."""
        return str(self.parse(text).get("safety_rule"))

    def reply_after_hello(self, text: str) -> List[Dict[str, Any]]:
        sender = f"heldout-{uuid.uuid4().hex}"
        for message in ("hello", text):
            response = self._session.post(self._rest_url, json={"sender": sender, "message": message}, timeout=30)
            response.raise_for_status()
        return response.json()


def gives_helpline(replies: List[Dict[str, Any]]) -> bool:
    text = " ".join(reply.get("text") or "" for reply in replies)
    return "988" in text or "911" in text


def is_crisis_answer(replies: List[Dict[str, Any]]) -> bool:
    return any((reply.get("custom") or {}).get("urgent") for reply in replies)


def training_texts() -> Set[str]:
    """The training examples as Rasa reads them (entity markup removed), lower case."""
    return {example.get("text").strip().lower()
            for example in load_data(str(REPO_ROOT / "data" / "nlu")).intent_examples}


def all_texts(data: Dict[str, Any]) -> List[str]:
    return ([text for texts in data["in_scope"].values() for text in texts] + data["out_of_scope"]
            + [text for texts in data["crisis"].values() for text in texts]
            + [item["text"] for item in data["hard_negatives"]] + data["far_domain"])


def evaluate(bot: Bot, data: Dict[str, Any]) -> Dict[str, Any]:
    per_intent: Dict[str, List[bool]] = defaultdict(list)
    confusions: Counter = Counter()
    for intent, texts in data["in_scope"].items():
        for text in texts:
            predicted = bot.intent(text)
            per_intent[intent].append(predicted == intent)
            if predicted != intent:
                confusions[(intent, predicted)] += 1
    in_scope = [ok for results in per_intent.values() for ok in results]
    oos_predictions = [bot.intent(text) for text in data["out_of_scope"]]
    crisis_texts = [text for texts in data["crisis"].values() for text in texts]
    missed = [text for text in crisis_texts if not gives_helpline(bot.reply_after_hello(text))]
    false_alarms = [f"{item['text']}  [{bot.why_crisis(item['text'])}]" for item in data["hard_negatives"]
                    if is_crisis_answer(bot.reply_after_hello(item["text"]))]
    hard_right = sum(bot.intent(item["text"]) == item["intent"] for item in data["hard_negatives"])
    far_intents = [bot.intent(text) for text in data["far_domain"]]
    far_crisis = [f"{text}  [{bot.why_crisis(text)}]" for text in data["far_domain"]
                  if is_crisis_answer(bot.reply_after_hello(text))]
    return {
        "in_scope_accuracy": share(sum(in_scope), len(in_scope)),
        "in_scope_n": len(in_scope),
        "worst_intents": sorted((sum(r) / len(r), name) for name, r in per_intent.items())[:5],
        "confusions": confusions.most_common(8),
        "oos_recall": share(sum(p in NO_GUESS for p in oos_predictions), len(oos_predictions)),
        "oos_n": len(oos_predictions),
        "crisis_recall": share(len(crisis_texts) - len(missed), len(crisis_texts)),
        "crisis_n": len(crisis_texts),
        "crisis_missed": missed,
        "false_alarm_rate": share(len(false_alarms), len(data["hard_negatives"])),
        "false_alarms": false_alarms,
        "hard_negative_accuracy": share(hard_right, len(data["hard_negatives"])),
        "hard_n": len(data["hard_negatives"]),
        "far_in_scope_rate": share(sum(p not in NO_GUESS for p in far_intents), len(far_intents)),
        "far_n": len(far_intents),
        "far_crisis_answers": len(far_crisis),
        "far_crisis_texts": far_crisis,
    }


def train_with_config(config: Path, out: Path) -> Path:
    name = f"heldout-{config.stem}"
    subprocess.run(
        [sys.executable, "-m", "rasa", "train", "--config", str(config), "--domain", "domain.yml", "--data", "data",
         "--out", str(out), "--fixed-model-name", name],
        cwd=REPO_ROOT, env=rasa_environment(), check=True, capture_output=True,
    )
    return out / f"{name}.tar.gz"


def run(model: Optional[Path], sets: Dict[str, Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Every set's figures from one server."""
    with tempfile.TemporaryDirectory() as tmp:
        with running_stack(f"sqlite:///{tmp}/tracker.db", Path(tmp) / "logs", model=model) as stack:
            bot = Bot(stack)
            return {name: evaluate(bot, data) for name, data in sets.items()}


def report(name: str, figures: Dict[str, Any]) -> None:
    """Each part the set has; a safety-only round prints only its crisis and hard-negative lines."""
    print(f"{name}:")
    if figures["in_scope_n"]:
        print(f"  in-scope accuracy      {figures['in_scope_accuracy']:.3f}  (n={figures['in_scope_n']}; "
              "target >= 0.97)")
    if figures["oos_n"]:
        print(f"  out-of-scope recall    {figures['oos_recall']:.3f}  (n={figures['oos_n']}; target >= 0.95)")
    if figures["crisis_n"]:
        print(f"  crisis/emergency 988/911 in reply {figures['crisis_recall']:.3f}  (n={figures['crisis_n']}; "
              "target 1.0)")
    if figures["hard_n"]:
        print(f"  hard-negative false alarms {figures['false_alarm_rate']:.3f}  (n={figures['hard_n']}; "
              f"target <= 0.05); right intent {figures['hard_negative_accuracy']:.3f}")
    if figures["far_n"]:
        print(f"  far-domain answered as in scope {figures['far_in_scope_rate']:.3f}  (n={figures['far_n']}; "
              f"target <= 0.03); crisis answers {figures['far_crisis_answers']} (target 0)")
    if figures["in_scope_n"]:
        print("  weakest intents: " + ", ".join(f"{name} {score:.2f}" for score, name in figures["worst_intents"]))
        print("  confusions: " + ", ".join(f"{t}->{p} x{n}" for (t, p), n in figures["confusions"]))
    for label, texts in (("missed crisis", figures["crisis_missed"]), ("false alarm", figures["false_alarms"]),
                         ("far-domain crisis answer", figures["far_crisis_texts"])):
        for text in texts[:10]:
            print(f"    {label}: {text}")


def main(compare: bool = False, peer: bool = False, sets: Tuple[str, ...] = SETS) -> Dict[str, Dict[str, Any]]:
    """{pipeline: {set: figures}}."""
    data = {name: load_set(name) for name in sets}
    seen = training_texts()
    for name, texts in ((name, all_texts(one)) for name, one in data.items()):
        print(f"{name} set: {len(texts)} messages, {sum(text.strip().lower() in seen for text in texts)} of them "
              f"also in the training data word for word")
    pipelines: List[Tuple[str, Optional[Path], str]] = [
        ("ours", None, "ours (TF-IDF + sentence encoder, rules + semantic crisis layer)")]
    pipelines += [("tfidf", TFIDF_CONFIG, "TF-IDF pipeline (before the encoder), same data")] if compare else []
    pipelines += [("peer", PEER_CONFIG, "stock Rasa default config (DIET), same data")] if peer else []
    results = {}
    for key, config, title in pipelines:
        with tempfile.TemporaryDirectory() as tmp:
            if config is not None:
                print(f"training {config.relative_to(REPO_ROOT)} ...", flush=True)
            results[key] = run(train_with_config(config, Path(tmp)) if config else None, data)
        for name, figures in results[key].items():
            report(f"{title} -- {name} set", figures)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.heldout")
    parser.add_argument("--compare", action="store_true", help="also train and measure the TF-IDF pipeline")
    parser.add_argument("--peer", action="store_true", help="also train and measure stock Rasa's default config")
    parser.add_argument("--set", choices=SETS, action="append", dest="sets",
                        help="which evaluation set (default: all; repeatable)")
    arguments = parser.parse_args()
    main(arguments.compare, arguments.peer, tuple(arguments.sets or SETS))
