"""The catalogue, the domain, the training data and the knowledge file agree with each other."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import yaml

from bot.domain.knowledge.loader import default as knowledge
from bot.rasa_plugins.spacy_pipeline import entity_patterns
from bot.settings import REPO_ROOT

CATALOGUE = REPO_ROOT / "docs" / "intents.md"
# Intents answered by a domain response or a dedicated action rather than a knowledge entry.
ANSWERED_WITHOUT_KNOWLEDGE = {
    "crisis_self_harm": "utter_crisis",
    "medical_emergency": "utter_medical_emergency",
    "ask_dosage": "utter_decline_dosage",
    "ask_where_to_buy": "utter_decline_where_to_buy",
    "affirm": "action_answer_yes",
    "deny": "utter_no_problem",
}
# Entries reached by id from an action rather than by intent or entity.
REACHED_BY_ID = {"disclosure", "handoff_waiting", "handoff_expired", "handoff_resolved", "callback_saved",
                 "callback_declined"}
MIN_EXAMPLES = 25
# The catalogue's 39 intent names: a contract with the console's analytics and the evaluation.
CATALOGUE_INTENTS = {
    "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "ask_capabilities", "out_of_scope",
    "request_human", "request_callback", "crisis_self_harm", "medical_emergency", "ask_dosage",
    "ask_where_to_buy", "ask_what_is_kratom", "ask_kratom_effects", "ask_kratom_legal", "ask_kratom_risks",
    "ask_kratom_addiction", "ask_kratom_withdrawal", "ask_quit_kratom", "ask_programs", "ask_detox", "ask_iop",
    "ask_outpatient", "ask_therapy", "ask_veterans_program", "ask_medication", "ask_co_occurring",
    "ask_other_substances", "ask_insurance", "ask_cost", "ask_location", "ask_contact", "ask_admission_process",
    "ask_program_length", "ask_work_schedule", "ask_confidentiality", "ask_family",
}


def load_yaml(path: Path):
    return yaml.safe_load(path.read_text())


def domain():
    return load_yaml(REPO_ROOT / "domain.yml")


def test_the_contract_matches_the_catalogue():
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", CATALOGUE.read_text(), flags=re.MULTILINE))
    assert documented == CATALOGUE_INTENTS


def nlu_examples() -> Counter:
    counts: Counter = Counter()
    for path in sorted((REPO_ROOT / "data" / "nlu").glob("*.yml")):
        for block in load_yaml(path).get("nlu", []):
            if "intent" in block:
                counts[block["intent"]] += len([line for line in block["examples"].splitlines() if line.strip()])
    return counts


def rule_and_story_steps() -> list:
    steps = []
    for folder in ("rules", "stories"):
        for path in (REPO_ROOT / "data" / folder).glob("*.yml"):
            data = load_yaml(path)
            for item in data.get("rules", []) + data.get("stories", []):
                steps.append(item["steps"])
    return steps


def intent_followed_by(action_steps: list) -> dict:
    """intent -> the set of actions directly following it in any rule or story."""
    result: dict = {}
    for steps in action_steps:
        for step, following in zip(steps, steps[1:], strict=False):
            intents = [step["intent"]] if "intent" in step else [o["intent"] for o in step.get("or", [])]
            nxt = following.get("action")
            for intent in intents:
                if nxt:
                    result.setdefault(intent, set()).add(nxt)
    return result


def test_the_domain_has_all_39_catalogue_intents():
    assert len(CATALOGUE_INTENTS) == 39
    assert CATALOGUE_INTENTS <= set(domain()["intents"])


def test_every_intent_has_enough_training_examples():
    counts = nlu_examples()
    short = {intent: counts[intent] for intent in domain()["intents"] if counts[intent] < MIN_EXAMPLES}
    assert short == {}


def test_every_intent_has_a_knowledge_entry_or_a_response():
    followed_by = intent_followed_by(rule_and_story_steps())
    for intent in domain()["intents"]:
        if intent in ANSWERED_WITHOUT_KNOWLEDGE:
            assert ANSWERED_WITHOUT_KNOWLEDGE[intent] in followed_by[intent], intent
        elif intent in ("request_human", "request_callback"):
            assert knowledge().for_intent(intent) is not None, intent
        elif intent == "tell_me_more":  # expands whichever entry was discussed
            assert "action_answer_knowledge" in followed_by[intent]
        else:
            assert knowledge().for_intent(intent) is not None, f"{intent} has no knowledge entry"
            assert "action_answer_knowledge" in followed_by[intent], f"no rule answers {intent}"


def test_every_knowledge_entry_is_reachable():
    intents = set(domain()["intents"])
    by_entity = {pattern["id"] for pattern in entity_patterns(knowledge())}
    for entry in knowledge().entries:
        reachable = (entry.intent in intents) or (entry.id in by_entity) or (entry.id in REACHED_BY_ID)
        assert reachable, f"entry {entry.id} cannot be reached"


def test_every_therapy_and_program_has_synonyms_and_none_is_shared():
    seen = {}
    for pattern in entity_patterns(knowledge()):
        assert seen.setdefault(pattern["pattern"], pattern["id"]) == pattern["id"], pattern
    for entry in knowledge().entries:
        if entry.kind in ("therapy", "program"):
            assert entry.synonyms, entry.id


def test_all_catalogue_therapies_exist():
    therapies = {"family_therapy", "group_therapy", "twelve_step", "cbt", "dbt", "motivational_interviewing",
                 "trauma_therapy", "relapse_prevention", "holistic_therapy", "veterans_program"}
    assert {entry.id for entry in knowledge().of_kind("therapy")} == therapies


def test_domain_responses_used_by_actions_exist():
    responses = set(domain()["responses"])
    for name in ("utter_ask_rephrase", "utter_offer_person", "utter_empty_message", "utter_no_words",
                 "utter_english_only", "utter_message_too_long"):
        assert name in responses


def test_crisis_answers_give_the_numbers_a_person_in_danger_needs():
    responses = domain()["responses"]
    crisis = responses["utter_crisis"][0]["text"]
    emergency = responses["utter_medical_emergency"][0]["text"]
    for number in ("988", "911", "veterans press 1"):
        assert number in crisis
    for number in ("911", "1-800-222-1222"):
        assert number in emergency
    assert responses["utter_crisis"][0]["buttons"][0]["payload"] == "/request_human"
