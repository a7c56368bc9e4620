"""Scrubbing personal details from visitor messages before they become NLU training data
(bot/domain/privacy/scrubbing.py).

The messages are written the way a visitor to a treatment clinic's chat types them: lower case,
typos, run-on sentences, several details at once. Each personal case states the whole scrubbed
text, so a placeholder in the wrong place fails as surely as a detail left in.
"""

from __future__ import annotations

import dataclasses
import re
import timeit
from typing import Tuple

import pytest
from hypothesis import given, settings, strategies as st

from bot.domain.privacy.scrubbing import (
    ADDRESS,
    DATE_OF_BIRTH,
    EMAIL,
    KINDS,
    NAME,
    PHONE,
    WITHHELD,
    Scrubbed,
    scrub,
)

# (message, scrubbed text, kinds replaced)
Case = Tuple[str, str, Tuple[str, ...]]

NAMES: Tuple[Case, ...] = (
    ("hi my name is Sarah Jones and i need help for my son", "hi my name is Alex and i need help for my son",
     ("name",)),
    ("hello my name is dana, is 30 days enough", "hello my name is Alex, is 30 days enough", ("name",)),
    ("My names Tom, looking for detox for my wife", "My names Alex, looking for detox for my wife", ("name",)),
    ("Hi, I'm Mike. do you take medicaid", "Hi, I'm Alex. do you take medicaid", ("name",)),
    ("hey its my first time here, I'm Marcus and i need help", "hey its my first time here, I'm Alex and i need help",
     ("name",)),
    ("I am Priya, do you take aetna", "I am Alex, do you take aetna", ("name",)),
    ("Hello this is Dana calling for my brother", "Hello this is Alex calling for my brother", ("name",)),
    ("hi this is dana calling about iop", "hi this is Alex calling about iop", ("name",)),
    ("you can call me Jo", "you can call me Alex", ("name",)),
    ("we go by Sam", "we go by Alex", ("name",)),
    ("is 30 days of detox enough?\n- Tom", "is 30 days of detox enough?\n- Alex", ("name",)),
    ("do you have openings this week. thanks so much, Sarah", "do you have openings this week. thanks so much, Alex",
     ("name",)),
    ("my son Kevin is 17 and using kratom every day", "my son Alex is 17 and using kratom every day", ("name",)),
    ("my wife, Maria, drinks every night", "my wife, Alex, drinks every night", ("name",)),
    ("my husband Tom, 42, drinks 10 beers a day", "my husband Alex, 42, drinks 10 beers a day", ("name",)),
    ("my 19 year old daughter Emma is on suboxone", "my 19 year old daughter Alex is on suboxone", ("name",)),
    ("my boyfriend Chris Miller needs detox asap", "my boyfriend Alex needs detox asap", ("name",)),
    ("my daughter Emma and my son Jack both use", "my daughter Alex and my son Alex both use", ("name",)),
    ("I'm calling for my dad, his name is Robert", "I'm calling for my dad, his name is Alex", ("name",)),
    ("I'm Sarah's mom", "I'm Alex's mom", ("name",)),
    ("My name is Will and my son Will is 16", "My name is Alex and my son Alex is 16", ("name",)),
    ("Sarah Jones here, need help for my husband", "Alex here, need help for my husband", ("name",)),
    ("hi, mike here. do u take cigna", "hi, Alex here. do u take cigna", ("name",)),
    ("its Sarah from yesterday, did anyone call back", "its Alex from yesterday, did anyone call back", ("name",)),
    ("Dr. Patel put me on suboxone last year", "Dr. Alex put me on suboxone last year", ("name",)),
    ("It's me, Karen, again", "It's me, Alex, again", ("name",)),
    ("can i still get in this week\nsigned, Tom", "can i still get in this week\nsigned, Alex", ("name",)),
)

PHONES: Tuple[Case, ...] = (
    ("please call me back at (314) 555-0142 ext 12", "please call me back at five five five", ("phone",)),
    ("my cell is +1 314.555.0142", "my cell is five five five", ("phone",)),
    ("can you text me at 3145550142", "can you text me at five five five", ("phone",)),
    ("my number is 1 (314) 555-0142, leave a voicemail", "my number is five five five, leave a voicemail",
     ("phone",)),
    ("call 314 555 0142 x204 after 5", "call five five five after 5", ("phone",)),
    ("work phone 636-555-0101 ext. 33 cell +13145550142", "work phone five five five cell five five five",
     ("phone",)),
    ("text me 314-555-0142 or my moms house 555-0177", "text me five five five or my moms house five five five",
     ("phone",)),
    ("1-800-555-0199 is my work line", "five five five is my work line", ("phone",)),
)

EMAILS: Tuple[Case, ...] = (
    ("reach me at sarah.jones88@gmail.com", "reach me at name at email dot com", ("email",)),
    ("my email is Sarah.Jones+rehab@outlook.com thanks", "my email is name at email dot com thanks", ("email",)),
    ("email is mike at gmail dot com", "email is name at email dot com", ("email",)),
    ("you can email me at dana dot smith at gmail dot com", "you can email me at name at email dot com", ("email",)),
    ("JLO_1988@YAHOO.COM", "name at email dot com", ("email",)),
)

ADDRESSES: Tuple[Case, ...] = (
    ("I live at 1234 S Grand Blvd apt 4B, St. Louis, MO 63110 is that close",
     "I live at Main Street is that close", ("address",)),
    ("im at 4521 Delmar Blvd Apt 3, St Louis MO 63108", "im at Main Street", ("address",)),
    ("my address is 88 N Kingshighway St., Saint Louis, Missouri 63110-1234", "my address is Main Street",
     ("address",)),
    ("i live on 1200 west main st in st louis", "i live on Main Street in st louis", ("address",)),
    ("we are at 12 Oak Ln", "we are at Main Street", ("address",)),
    ("my moms house is 707 Pine Ridge Ct", "my moms house is Main Street", ("address",)),
    ("mail the forms to P.O. Box 4521, Arnold MO 63010", "mail the forms to Main Street", ("address",)),
    ("PO Box 12", "Main Street", ("address",)),
    ("i'm in apt 12B", "i'm in Main Street", ("address",)),
    ("3300 Washington Ave suite 210", "Main Street", ("address",)),
)

DATES_OF_BIRTH: Tuple[Case, ...] = (
    ("DOB 3/14/1988", "DOB January first", ("date_of_birth",)),
    ("dob: 04/22/1990", "dob: January first", ("date_of_birth",)),
    ("d.o.b 4-22-90", "d.o.b January first", ("date_of_birth",)),
    ("i was born on March 14, 1988 so im 36", "i was born on January first so im 36", ("date_of_birth",)),
    ("I was born april 22nd 1990", "I was born January first", ("date_of_birth",)),
    ("my birthday is 03-14-88", "my birthday is January first", ("date_of_birth",)),
    ("date of birth is 22nd of April 1990", "date of birth is January first", ("date_of_birth",)),
    ("bday 1/1/2000 and im 24", "bday January first and im 24", ("date_of_birth",)),
    ("my dob is 031488", "my dob is January first", ("date_of_birth",)),
)

INSURANCE_IDS: Tuple[Case, ...] = (
    ("member id XJH123456789", "member id withheld", ("insurance_id",)),
    ("policy # 88812345 group 4455", "policy # withheld group withheld", ("insurance_id",)),
    ("ID: W123456789", "ID: withheld", ("insurance_id",)),
    ("my member id is XJH123456789 and group number is 12345",
     "my member id is withheld and group number is withheld", ("insurance_id",)),
    ("medicaid id: 10203040 do u take it", "medicaid id: withheld do u take it", ("insurance_id",)),
    ("insurance id W 123456789", "insurance id withheld", ("insurance_id",)),
    ("subscriber id is A1B2C3D4", "subscriber id is withheld", ("insurance_id",)),
    ("policy number: 123-456-789", "policy number: withheld", ("insurance_id",)),
)

SSNS: Tuple[Case, ...] = (
    ("my ssn is 123-45-6789", "my ssn is withheld", ("ssn",)),
    ("my social security number is 123 45 6789", "my social security number is withheld", ("ssn",)),
    ("ssn 123456789", "ssn withheld", ("ssn",)),
    ("SSN: 987-65-4321", "SSN: withheld", ("ssn",)),
    ("the last four of my ssn are 4321", "the last four of my ssn are withheld", ("ssn",)),
    ("last 4 of my social is 6789", "last 4 of my social is withheld", ("ssn",)),
    ("here is my info 123-45-6789", "here is my info withheld", ("ssn",)),
)

SEVERAL: Tuple[Case, ...] = (
    ("hi!! my name is sarah jones i live at 55 oak st and my number is 3145550142 can someone call",
     "hi!! my name is Alex i live at Main Street and my number is five five five can someone call",
     ("name", "phone", "address")),
    ("name: Jennifer Lopez\nphone: (636) 555-0199\nemail: jlo_1988@yahoo.com",
     "name: Alex\nphone: five five five\nemail: name at email dot com", ("name", "phone", "email")),
    ("please call my mom Linda at 314.555.0110 she is worried",
     "please call my mom Alex at five five five she is worried", ("name", "phone")),
    ("my dob is 031488 and member # is 123456, send it to dana_smith@hotmail.com",
     "my dob is January first and member # is withheld, send it to name at email dot com",
     ("email", "date_of_birth", "insurance_id")),
    ("Im Maria my husband is Jose Garcia DOB 7/4/79 member id MO1234567 we need help asap, 314 555 0100",
     "Im Alex my husband is Jose Garcia DOB January first member id withheld we need help asap, five five five",
     ("phone", "date_of_birth", "insurance_id", "name")),
)

PERSONAL = NAMES + PHONES + EMAILS + ADDRESSES + DATES_OF_BIRTH + INSURANCE_IDS + SSNS + SEVERAL

# Admissions questions: nothing in them is personal, and nothing may change.
BENIGN = (
    "is 30 days of detox enough",
    "I took 15 grams a day for 2 years",
    "my son is age 17, is that too young for IOP",
    "does it cost $500 without insurance",
    "group is 3 times a week?",
    "are you open 24/7",
    "I'm on Missouri Medicaid, do you prescribe Suboxone",
    "does IOP include CBT and DBT",
    "is Engage Wellness in St. Louis or St Charles",
    "can I come in Monday at 9",
    "i'm scared and i dont know what to do",
    "im 23 can i use my parents insurance",
    "my husband drinks every night and uses kratom",
    "this is my first time reaching out",
    "can you call me back tomorrow please",
    "I'm a nurse, will the board of nursing find out",
    "what's the address of the clinic",
    "do you need my member id or my dob",
    "can I give you my name and number",
    "how long is the wait, 2-3 weeks?",
    "I take 8mg suboxone twice a day",
    "we drive 45 minutes from Columbia",
    "take I-70 to exit 210 right?",
    "I quit on 1/2 and relapsed on 2/14",
    "thank you, that helps a lot",
    "thanks so much!",
    "I'm Catholic, is the program faith based",
    "what's your policy on visitors",
    "my birthday is next week, can I start after",
    "I was born and raised in Missouri",
    "I spent $1,200 on kratom last month",
    "I'm 5'10 and 180 lbs, is 20 grams a lot",
    "does Cigna cover 28 days of residential",
    "i drink like 2 shots of kratom extract, 3-4 times a day",
    "can i do 10am or 2:30pm",
    "this is Suboxone right?",
    "is your office in suite 200",
    "i live 20 min from the clinic on the west side",
    "is the 988 line free",
    "i go to group 2 times a week and my plan for 2025 is to stay sober",
    "how much is it per day, $300? - just wondering",
    "I'm Looking For Detox For My Son",
    "Worried mom here",
    "my dr said 30 days",
    "it's expensive right?",
    "i take 10-15g or 2000mg, is that a lot",
    "had covid19 in 2021, does that matter",
)

# (message, what still_personal must say)
STILL_PERSONAL = (
    ("im mike btw", "a name may follow a name cue"),
    ("my son kevin needs help", "a name may follow a name cue"),
    ("my name is will", "a word follows a name cue"),
    # Conservative on purpose: a name cue followed by anything is reported.
    ("My name is on the waiting list already", "a word follows a name cue"),
    ("call me at 314 555 01 42 9", "a long digit sequence remains"),
    ("the er gave me a case 20240312 whatever that is", "a long digit sequence remains"),
    ("it's sarah@", 'an "@" remains'),
    ("I'M MIKE", "a name may follow a name cue"),
    ("call me at three one four five five five one two one two", "a spelled-out number remains"),
    ("my insurance card says XJH12345", "an id-like code remains"),
    ("dob march fourteenth 88", 'a number follows "dob"'),
    ("born in 1988", 'a number follows "born"'),
    ("ssn is 12 34 56", 'a number follows "ssn"'),
    ("member id is XJH - 12", 'a number follows "member id"'),
    ("my policy number, its 12 34 i think", 'a number follows "policy"'),
)


@pytest.mark.parametrize("message, expected, kinds", PERSONAL, ids=[case[0][:40] for case in PERSONAL])
def test_personal_details_are_replaced(message: str, expected: str, kinds: Tuple[str, ...]) -> None:
    result = scrub(message)
    assert result.text == expected
    assert set(result.replaced) == set(kinds)
    assert result.still_personal is None


@pytest.mark.parametrize("message", BENIGN)
def test_admissions_questions_are_unchanged(message: str) -> None:
    assert scrub(message) == Scrubbed(message, (), None)


@pytest.mark.parametrize("message, reason", STILL_PERSONAL)
def test_what_may_still_be_personal_is_reported(message: str, reason: str) -> None:
    assert scrub(message).still_personal == reason


def test_replaced_kinds_come_in_a_fixed_order_once_each() -> None:
    result = scrub("email a@b.com or 314-555-0100, or b@c.org, I'm Tom")
    assert result.replaced == ("name", "phone", "email")
    assert result.replaced == tuple(kind for kind in KINDS if kind in result.replaced)


def test_the_result_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        scrub("hi").text = "changed"  # type: ignore[misc]


def test_placeholders_are_plain_words_that_scrub_leaves_alone() -> None:
    for placeholder in (NAME, PHONE, EMAIL, ADDRESS, DATE_OF_BIRTH, WITHHELD):
        assert re.fullmatch(r"[A-Za-z ]+", placeholder)
    already = "my name is Alex, call five five five or name at email dot com, DOB January first, member id withheld"
    assert scrub(already) == Scrubbed(already, (), None)


def test_hidden_digits_are_still_found() -> None:
    # Full-width digits and zero-width spaces are normalised away before the patterns run.
    assert scrub("call ３１４-５５５-０１４２").text == "call five five five"
    assert scrub("call 314\u200b555\u200b0142").text == "call five five five"


def test_a_house_number_left_before_the_placeholder_is_reported() -> None:
    assert scrub("12 Oak Main Street").still_personal == "a house number remains"


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

@settings(max_examples=300)
@given(st.text())
def test_scrub_is_idempotent_and_never_raises(text: str) -> None:
    once = scrub(text)
    assert scrub(once.text).text == once.text


_PIECES = st.sampled_from([
    "my name is ", "I'm ", "im ", "my son ", "call me ", "this is ", "- ", "\n", "thanks ", "Mike", "sarah",
    NAME, " ", ", ", "314", "555", "-", ".", "(", ")", "0142", "@", "gmail", " at ", " dot com", "member id ",
    "policy # ", "ID: ", "XJH", "ssn ", "123-45-6789", "DOB ", "born on ", "March 14", ", 1988", "3/14/88",
    ADDRESS, "Oak", " St", " apt 4B", "63110", "PO Box 12", PHONE, WITHHELD, DATE_OF_BIRTH, EMAIL, "\u0301",
    " is ", "12 ", "Blvd", "ext 12",
])


@settings(max_examples=300)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_scrub_is_idempotent_on_pieces_of_personal_details(text: str) -> None:
    once = scrub(text)
    assert scrub(once.text).text == once.text


_BENIGN_WORDS = st.lists(
    st.sampled_from(BENIGN) | st.sampled_from("detox kratom Medicaid IOP St. Louis Monday weeks 30 days $500 24/7 "
                                              "my son wife is the and".split()),
    max_size=4,
)
_DIGIT = st.integers(0, 9).map(str)


def _digits(count: int) -> st.SearchStrategy[str]:
    return st.lists(_DIGIT, min_size=count, max_size=count).map("".join)


_PHONES = st.tuples(
    st.integers(2, 9).map(str), _digits(2), st.integers(2, 9).map(str), _digits(2), _digits(4),
    st.sampled_from(["({a}) {e}-{l}", "{a}-{e}-{l}", "{a}.{e}.{l}", "{a} {e} {l}", "{a}{e}{l}", "+1 {a} {e} {l}",
                     "1-{a}-{e}-{l}", "+1{a}{e}{l}", "{a}-{e}-{l} ext 12", "{e}-{l}"]),
).map(lambda p: p[5].format(a=p[0] + p[1], e=p[2] + p[3], l=p[4]))
_EMAILS = st.tuples(
    st.from_regex(r"[a-z][a-z0-9._]{0,12}[a-z0-9]", fullmatch=True), st.from_regex(r"[a-z]{2,10}", fullmatch=True),
    st.sampled_from(["com", "net", "org"]),
).map(lambda e: f"{e[0]}@{e[1]}.{e[2]}")
_MEMBER_IDS = st.tuples(
    st.sampled_from(["member id", "member id:", "my member id is", "policy #", "policy number", "ID:",
                     "subscriber id", "group number", "medicaid id"]),
    st.from_regex(r"[A-Z]{0,3}[0-9]{6,11}", fullmatch=True),
)


@settings(max_examples=200)
@given(_BENIGN_WORDS, _BENIGN_WORDS, _PHONES | _EMAILS)
def test_a_phone_or_email_inside_benign_text_is_removed(before: list, after: list, detail: str) -> None:
    result = scrub(" ".join(before + [detail] + after))
    assert detail not in result.text
    assert "@" not in result.text
    assert {"phone", "email"} & set(result.replaced)


@settings(max_examples=200)
@given(_BENIGN_WORDS, _BENIGN_WORDS, _MEMBER_IDS)
def test_a_member_id_inside_benign_text_is_removed(before: list, after: list, member_id: Tuple[str, str]) -> None:
    label, value = member_id
    result = scrub(" ".join(before + [label, value] + after))
    assert value not in result.text
    assert f"{label} {WITHHELD}" in result.text
    assert "insurance_id" in result.replaced


def test_time_per_message_is_reported(capsys: pytest.CaptureFixture) -> None:
    messages = [case[0] for case in PERSONAL] + list(BENIGN) + [case[0] for case in STILL_PERSONAL]
    rounds = 20
    seconds = timeit.timeit(lambda: [scrub(message) for message in messages], number=rounds)
    with capsys.disabled():
        print(f"\nscrub: {seconds / rounds / len(messages) * 1e6:.0f} µs per message over {len(messages)} messages")
    assert all(isinstance(scrub(message), Scrubbed) for message in messages)
