"""The knowledge file loads, and every kind of mistake in it is reported with entry, field and reason."""

from __future__ import annotations

import copy
import datetime

import pytest
import yaml

from bot.domain.knowledge.loader import KnowledgeBase, KnowledgeFileError, default, load, parse, render

GOOD_ENTRY = {
    "id": "what_is_kratom",
    "kind": "topic",
    "intent": "ask_what_is_kratom",
    "title": "What is kratom",
    "short": "Kratom comes from a tree. It grows in Southeast Asia.",
    "long": "More detail here.",
    "follow_ups": ["contact"],
    "sources": [{"title": "NIDA Kratom", "url": "https://nida.nih.gov/research-topics/kratom"}],
    "reviewed": "2026-11-01",
}
CONTACT_ENTRY = {
    "id": "contact",
    "kind": "topic",
    "intent": "ask_contact",
    "title": "Contact",
    "short": "Call {phone}. We are open {hours}.",
    "requires": ["phone", "hours"],
    "unknown": "Admissions at {clinic_name} can tell you. Ask to talk with a person.",
    "sources": [{"title": "Clinic page", "url": "https://example.org/clinic"}],
    "reviewed": "2026-11-01",
}


HELPLINES = {"crisis_line": "988", "emergency_number": "911", "poison_help": "1-800-222-1222",
             "samhsa_helpline": "1-800-662-4357", "veterans_crisis_text": "838255"}


def knowledge_text(*changes, messages=None) -> str:
    """A valid two-entry file with `changes` applied to the first entry (field -> value, None deletes)."""
    entry = copy.deepcopy(GOOD_ENTRY)
    for field, value in changes:
        if value is None:
            entry.pop(field, None)
        else:
            entry[field] = value
    data = {"version": 1, "helplines": HELPLINES, "entries": [entry, copy.deepcopy(CONTACT_ENTRY)]}
    if messages is not None:
        data["messages"] = messages
    return yaml.safe_dump(data, allow_unicode=True)


def test_the_real_knowledge_file_loads():
    knowledge = load()
    assert len(knowledge.entries) >= 30
    assert knowledge.get("cbt").kind == "therapy"


def test_a_good_file_parses():
    data = parse(knowledge_text())
    assert [entry.id for entry in data.entries] == ["what_is_kratom", "contact"]


@pytest.mark.parametrize(
    "change, expected",
    [
        (("short", "Only one sentence here."), "entry what_is_kratom, field short: must be 2 to 4 sentences, found 1"),
        (("short", "One. Two. Three. Four. Five."), "field short: must be 2 to 4 sentences, found 5"),
        (("sources", None), "entry what_is_kratom: sources: at least one source is required"),
        (("sources", [{"title": "NIDA", "url": "not a url"}]), "entry what_is_kratom, field sources.0.url"),
        (("reviewed", None), "entry what_is_kratom, field reviewed: field required"),
        (("reviewed", "yesterday-ish"), "entry what_is_kratom, field reviewed: invalid date format"),
        (("kind", "recipe"), "entry what_is_kratom, field kind: unexpected value"),
        (("id", "What Is"), "field id: string does not match regex"),
        (("colour", "blue"), "entry what_is_kratom, field colour: extra fields not permitted"),
        (("follow_ups", ["nowhere"]), "entry what_is_kratom: follow_ups names unknown entry 'nowhere'"),
        (("short", "Call us at {phone}. We can help."), "uses {phone} but `requires` does not list it"),
        (("short", "Ask {pets}. We can help."), "short: unknown placeholder {pets}"),
        (("requires", ["phone"]), "`unknown` is required when `requires` lists clinic details"),
        (("intent", "ask_contact"), "entry contact: intent ask_contact already has an entry"),
        (("id", "contact"), "entry contact: id is used twice"),
        (("long", "   "), "entry what_is_kratom, field long: must not be blank"),
        (("short", "We are in St. Louis. Come and see us."), None),
        (("short", "Call or text {crisis_line}. Help is there 24/7."), None),
        (("short", "Call or text 988. Help is there 24/7."),
         "entry what_is_kratom, field short: write {crisis_line} instead of 988"),
        (("long", "Call Poison Help at 1-800-222-1222 any time."),
         "entry what_is_kratom, field long: write {poison_help} instead of 1-800-222-1222"),
        (("short", "It is 1988 now. Call 9110 for 988lifeline news."), None),  # not the numbers themselves
        (("short", "The limit is {max_message_chars}. Answers only."),
         "short: unknown placeholder {max_message_chars}"),  # a runtime value: messages only
    ],
)
def test_each_mistake_names_entry_field_and_reason(change, expected):
    if expected is None:  # a near miss that must stay valid
        parse(knowledge_text(change))
        return
    with pytest.raises(KnowledgeFileError) as error:
        parse(knowledge_text(change), "knowledge.yml")
    assert expected in str(error.value)
    assert str(error.value).startswith("knowledge.yml")


@pytest.mark.parametrize(
    "messages, expected",
    [
        ({"send": "Send"}, None),
        ({"unavailable": {"text": "Call {phone} or {samhsa_helpline}.", "requires": ["phone"],
                          "unknown": "Call {samhsa_helpline}. In a crisis, {crisis_line}."}}, None),
        ({"too_long": "Keep it under {max_message_chars} characters."}, None),
        ({"call": "Call {phone}."}, "message call: text: uses {phone} but `requires` does not list it"),
        ({"call": {"text": "Call {phone}.", "requires": ["phone"]}}, "message call: `unknown` is required"),
        ({"odd": "Ask {pets}."}, "message odd: text: unknown placeholder {pets}"),
        ({"crisis": "Call or text 988."}, "message crisis, field text: write {crisis_line} instead of 988"),
        ({"blank": "  "}, "message blank, field text: must not be blank"),
        ({"Bad Id": "Send"}, "message id 'Bad Id' must be lower_case_with_underscores"),
        ({"send": {"text": "Send", "colour": "blue"}}, "message send, field colour: extra fields not permitted"),
    ],
)
def test_messages_are_checked_like_answers(messages, expected):
    if expected is None:
        parse(knowledge_text(messages=messages))
        return
    with pytest.raises(KnowledgeFileError) as error:
        parse(knowledge_text(messages=messages), "knowledge.yml")
    assert expected in str(error.value)


def test_a_file_without_helplines_is_refused():
    data = yaml.safe_load(knowledge_text())
    del data["helplines"]
    with pytest.raises(KnowledgeFileError, match="field helplines: field required"):
        parse(yaml.safe_dump(data))
    data["helplines"] = {**HELPLINES, "crisis_line": "nine-eight-eight"}
    with pytest.raises(KnowledgeFileError, match="helplines.crisis_line: string does not match regex"):
        parse(yaml.safe_dump(data))


def test_loading_fills_in_the_helplines_and_leaves_clinic_details_for_render():
    messages = {"unavailable": {"text": "Call {phone}. In a crisis, {crisis_line}.", "requires": ["phone"],
                                "unknown": "Call {samhsa_helpline}. In a crisis, {crisis_line}."}}
    knowledge = KnowledgeBase(parse(knowledge_text(("short", "Text {crisis_line}. Or call {emergency_number}."),
                                                   messages=messages)))
    assert knowledge.get("what_is_kratom").short == "Text 988. Or call 911."
    assert knowledge.messages["unavailable"].text == "Call {phone}. In a crisis, 988."
    clinic = {"clinic_name": "Engage Wellness", "phone": "(314) 555-0100"}
    assert knowledge.message("unavailable", clinic) == "Call (314) 555-0100. In a crisis, 988."
    assert knowledge.message("unavailable", {**clinic, "phone": None}) == "Call 1-800-662-4357. In a crisis, 988."
    assert knowledge.fill_helplines("p { color: red } {crisis_line} {other}") == "p { color: red } 988 {other}"


def test_a_runtime_value_a_message_quotes_must_be_supplied():
    knowledge = KnowledgeBase(parse(knowledge_text(messages={"too_long": "Under {max_message_chars}."})))
    assert knowledge.message("too_long", {"max_message_chars": 2000}) == "Under 2000."
    with pytest.raises(KeyError):
        knowledge.message("too_long", {"clinic_name": "Engage Wellness"})
    with pytest.raises(KeyError, match="no message 'absent'"):
        knowledge.message("absent", {})


def test_a_future_review_date_is_refused():
    tomorrow = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
    with pytest.raises(KnowledgeFileError, match="field reviewed: .* is in the future"):
        parse(knowledge_text(("reviewed", tomorrow)))


def test_not_yaml_is_reported_with_the_file_name():
    with pytest.raises(KnowledgeFileError, match="broken.yml: not valid YAML"):
        parse("entries: [unclosed", "broken.yml")


def test_a_list_instead_of_a_mapping_is_reported():
    with pytest.raises(KnowledgeFileError, match="expected a mapping"):
        parse("- just\n- a list\n")


def test_a_missing_file_is_reported(tmp_path):
    with pytest.raises(KnowledgeFileError, match="cannot read knowledge file"):
        load(tmp_path / "absent.yml")


def test_clinic_details_fill_in_when_set_and_fall_back_when_unset():
    contact = parse(knowledge_text()).entries[1]
    clinic = {"clinic_name": "Engage Wellness", "phone": "(314) 555-0100", "hours": "9 to 5"}
    rendered = render(contact.short, contact.requires, clinic, contact.unknown)
    assert rendered == "Call (314) 555-0100. We are open 9 to 5."
    clinic["hours"] = None
    text = render(contact.short, contact.requires, clinic, contact.unknown)
    assert text == "Admissions at Engage Wellness can tell you. Ask to talk with a person."


def test_every_real_entry_has_sources_or_is_conversational():
    for entry in default().entries:
        assert entry.sources or entry.kind == "conversation", entry.id
