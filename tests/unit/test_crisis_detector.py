"""The rule-based crisis detector (bot/domain/safety/detector.py) and its patterns file.

A person in crisis must get 988 / 911 every time, so the phrasings below are
the contract: every positive must trigger with the right intent, every hard
negative must not.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Dict

import pytest
import yaml

from bot.domain.safety.detector import (
    CRISIS_SELF_HARM,
    DEFAULT_PATTERNS_PATH,
    MEDICAL_EMERGENCY,
    CrisisDetector,
    CrisisMatch,
    CrisisPatternError,
    default_detector,
)
from bot.domain.safety.normalise import normalise

SH = CRISIS_SELF_HARM
MED = MEDICAL_EMERGENCY


@pytest.fixture(scope="module")
def detector() -> CrisisDetector:
    return CrisisDetector.from_file()


# ---------------------------------------------------------------------------
# Phrasings that must trigger
# ---------------------------------------------------------------------------

EXPLICIT = [
    "I want to kill myself",
    "I want to KILL   myself!!!",
    "i'm going to kill myself tonight",
    "I've been thinking about suicide a lot",
    "honestly i feel suicidal",
    "I want to end my life",
    "I just want to die",
    "sometimes I want to die",
    "I want to hurt myself",
    "I've been cutting myself again",
    "I started self-harming again",
    "thinking about taking all my pills at once",
    "I'm going to overdose on purpose",
    "I'm going to take my own life",
    "I'm thinking about hanging myself",
    "I'd rather be dead",
    "when you want to kill yourself what do you even do",
]

CODED = [
    "kms",
    "ugh i'm going to kms fr",
    "i want to unalive myself",
    "thinking of unaliving tbh",
    "everyone would be better off without me",
    "my family would be happier if I was dead",
    "I don't want to be here anymore",
    "I just want to go to sleep and not wake up",
    "I hope I don't wake up tomorrow",
    "there's no reason to live",
    "I have nothing left to live for",
    "I want to end it all",
    "nobody would even notice if I was gone",
    "been thinking about sewerslide",
    "i want to self delete",
    "ready to check out permanently",
    "been googling ways to die",
    "how many pills would it take to never wake up",
    "sometimes I could just disappear forever",
    "I wish I was never born",
]

INDIRECT = [
    "is there a fatal amount of kratom for someone my size",
    "what parking garage downtown is high enough to jump",
    "if i swallow all my pills at once tonight",
    "would that be enough to die if i added xanax",
    "sitting here with a knife in my hand",
    "i attempted in 2015 and havent since, but i want to die tonight",
    "please help me before i do something to myself",
    "im scared ill do something stupid tonight",
    "dont plan on being around much longer anyway",
    "i wont be here by tomorrow",
    "im ending it tonight",
    "the car is running in the shut garage and im inside",
    "theres a rifle in my closet and i keep thinking about it",
    "i was suicidal in 2019 and im fine now but tonight i want to die",
    "I can't go on",
    "I can't go on like this anymore",
    "what's the point of living",
    "what's the point anymore",
    "I'm so tired of being alive",
    "life isn't worth living",
    "I don't want to live anymore",
    "I'm done with life",
    "this is goodbye",
    "I'm not safe with myself tonight",
    "I'm standing on a bridge right now",
    "i hate myself and i want it to be over",
    "i just want to not exist",
    "i think about dying all the time",
    "i'm done living",
    "dying sounds better than this",
    "i bought a rope",
    "i have a rope in my closet and i've been thinking about using it",
    # The fourth held-out round's misses, in other words (docs/nlu.md).
    "is there a payment plan, i dont think ill be around long enough to pay it off",
    "i won't live long enough to finish a 12 week program",
    "honestly not sure i even want to live anymore, do you take medicaid",
    "i dont know if i want to be alive next year",
    "parked on the overpass right now and thinking i might just jump",
    "im up on the roof of my building, i want to let go",
    # The fifth held-out round's misses, in other words (docs/nlu.md).
    "my pills are all laid out on the counter and im ready",
    "theres a loaded pistol right next to me on the bed",
    "not sure ill still be around by the weekend, can someone call",
    "idk if ill be alive next week honestly",
    "sometimes i want to crash my truck into a tree",
    "im going to drive into oncoming traffic on purpose",
    "i might put a bullet in my head tonight",
    "its too late for me anyway, bye everyone",
    "im at the top of the building and i want to jump",
    "standing on my balcony thinking about jumping",
]

THIRD_PERSON = [
    "he said he would blow his head off if she leaves",
    "mi hermano se quiere matar",
    "my brother says he wants to end it",
    "my friend is talking about killing herself",
    "my son cut himself",
    "my daughter texted me that she wants to die",
    "my mom keeps saying she doesn't want to live anymore",
    "my husband is threatening suicide",
    "my coworker told me he's going to kill himself this weekend",
    "my roommate has a gun and says he's going to use it on himself",
    "my sister has been cutting her arms again",
    "my husband said he'd rather be dead than go through withdrawal again",
]

TYPOS_AND_ODD_TEXT = [
    "i feel sucidal",
    "I've been suicidel for weeks",
    "thinking about suiside",
    "i want to kil myself",
    "i wanna kill my self",
    "killin myslef tonight",
    "killlll myselfff",
    "\uff49 \uff57\uff41\uff4e\uff54 \uff54\uff4f \uff44\uff49\uff45",  # full-width "i want to die"
    "I don\u2019t want to be here anymore",  # curly apostrophe
    "ki\u200bll myself",  # zero-width space inside the word
    "i want to die \U0001f62d\U0001f62d",
    "me quiero morir",
]

MEDICAL = [
    "my toddler got into my kratom powder and is really sleepy",
    "my kid swallowed my kratom capsules",
    "my friend is gasping for air",
    "my heart rate is over 180 and i feel like i'm dying",
    "she hit her head and is bleeding a lot",
    "i'm so dizzy i'm going to pass out right now",
    "emergency",
    "I think my friend overdosed",
    "my friend OD'd on kratom and something else",
    "HELP!!! my friend OD\u2019d",
    "i think im overdosing",
    "my brother is overdosing right now",
    "someone at my house overdosed what do i do",
    "my friend overdossed",
    "overdose",
    "he's not breathing",
    "she stopped breathing",
    "his breathing is really slow",
    "he took a bunch of kratom and now hes barely breathing",
    "my son is unresponsive",
    "my husband won't wake up",
    "I can't wake her up",
    "she passed out and I can't wake her",
    "my dad just collapsed",
    "she's having a seizure",
    "my friend is seizing",
    "I took too much kratom and my chest hurts",
    "I'm having chest pain",
    "my chest is tight and my left arm is numb",
    "his lips are turning blue",
    "he's turning blue",
    "I took way too many 7-oh tablets",
    "I think I took too much kratom",
    "I took double my usual kratom and feel awful",
    "do i need to call an ambulance",
    "he's nodding out and his pupils are tiny",
    "I think my friend is dying",
    "I gave him narcan but he's still out",
    "my throat feels like it's closing",
    "he's throwing up blood",
    "no respira",
    "i took like double my usual dose and im shaking",
    "my chest is really hurting and my arm is numb",
]

# Both kinds in one message: self-harm wins (its answer also gives 911).
BOTH = [
    "I took too much kratom on purpose because I want to die",
    "my friend overdosed and says she wants to die",
]

POSITIVES = (
    [(text, SH) for text in EXPLICIT + CODED + INDIRECT + THIRD_PERSON + TYPOS_AND_ODD_TEXT]
    + [(text, MED) for text in MEDICAL]
    + [(text, SH) for text in BOTH]
)


@pytest.mark.parametrize("text, intent", POSITIVES)
def test_crisis_phrasing_triggers_the_right_intent(detector, text, intent):
    match = detector.detect(text)
    assert match is not None, f"missed: {text!r}"
    assert match.intent == intent
    assert match.pattern_id in detector.pattern_ids(intent)


def test_there_are_enough_positive_phrasings():
    assert len(POSITIVES) >= 70


def test_every_pattern_is_exercised_by_a_positive_phrasing(detector):
    """No dead pattern: each id is what fires for at least one phrasing above."""
    fired = {detector.detect(text).pattern_id for text, _ in POSITIVES}
    assert set(detector.pattern_ids()) - fired == set()


@pytest.mark.parametrize(
    "text, pattern_id",
    [
        ("kms", "sh_kms"),
        ("thinking of unaliving tbh", "sh_unalive"),
        ("i feel sucidal", "sh_suicide"),
        ("i want to kil myself", "sh_kill_self"),
        ("my brother says he wants to end it", "sh_end_it"),
        ("my friend OD'd on kratom", "med_odd"),
        ("I think my friend overdosed", "med_overdose_report"),
        ("he's not breathing", "med_not_breathing"),
    ],
)
def test_the_pattern_that_fired_is_reported(detector, text, pattern_id):
    intent = SH if pattern_id.startswith("sh_") else MED
    assert detector.detect(text) == CrisisMatch(intent, pattern_id)


# ---------------------------------------------------------------------------
# Hard negatives: must NOT trigger
# ---------------------------------------------------------------------------

HARD_NEGATIVES = [
    "can i stop cold turkey or will that kill me",
    "not sure i want to live in st louis during treatment, is there housing",
    "im not sure i want to live with my parents while i do iop",
    "i live by the bridge, how far is your clinic",
    "i want to jump in and start treatment this week",
    "do you have a bridge program between detox and iop",
    "will it last long enough to cover detox, my insurance i mean",
    "my cousin attempted suicide years ago, stable for years now, can family join sessions",
    "we lost my uncle to suicide and my aunt is using kratom, how can we help",
    "i self harmed in college, havent in 6 years, does that change my treatment",
    "i was suicidal a few years back but im in a good place now, do you take aetna",
    "had self harm urges in college, fine now, is my history confidential",
    "i used to cut myself when i was younger but im doing well now, do you do dbt",
    "no plans to hurt myself, i just want to know about detox",
    "im ending it with my dealer tonight, i want to start treatment",
    "did something stupid at work today lol, anyway do you have evening groups",
    "i have a rope for climbing",
    "what counts as an emergency",
    "is there an emergency contact number",
    "i think about quitting all the time",
    "im done with kratom",
    # figures of speech
    "this withdrawal is killing me",
    "the cravings are killing me",
    "my restless legs are killing me at night",
    "I'd kill for a coffee right now",
    "I'm killing it at work",
    "I'm dying to know how long detox takes",
    "she's dying to meet you",
    "my phone died",
    "I'm dead tired",
    "that joke killed me",
    "overdid it at the gym yesterday",
    "how do I kill the process",
    "she's drop dead gorgeous",
    "I've been killing myself at work to pay for kratom",
    "I ran 10 kms today",
    # kratom withdrawal complaints
    "I feel like I'm dying from this withdrawal",
    "I'm scared I'm going to die in withdrawal",
    "I don't want to die, I want to get better",
    "my legs keep seizing up at night",
    "I can't breathe through my nose, withdrawal gives me a runny nose",
    "I've been cutting back on kratom",
    "I hate my life on kratom",
    # risk questions, not reports
    "is kratom an opioid",
    "can you overdose on kratom",
    "what happens if you take too much kratom",
    "how much kratom is too much",
    "has anyone ever overdosed on kratom",
    "what should I do if someone overdoses",
    "what are the signs of an overdose",
    "does narcan work on kratom",
    "can kratom cause seizures",
    "does kratom withdrawal cause chest pain",
    "is chest pain normal during withdrawal?",
    # recovery talk and everyday meanings
    "I want to take my life back from kratom",
    "I'm going to end my kratom use",
    "I want to end it with my dealer",
    "I can't go on vacation until I'm off kratom",
    "I can't go on methadone because of my job",
    "I go to sleep and I don't wake up until noon",
    "breathing exercises help my anxiety",
    "I took too much time off work",
    "I've taken too much kratom for years",
    "I passed out on the couch watching tv",
    "my hair is going grey from stress",
    "I'm feeling blue today",
    "do you take Blue Cross insurance",
    "my brother is acting odd lately",
    "that's odd",
    "he's not responding to my texts",
    "I cut myself shaving",
    "I accidentally hurt myself at the gym",
    # history told at intake, not happening now
    "I overdosed on heroin 5 years ago and now use kratom",
    "my friend died of an overdose last year",
    # judgement calls (see the patterns file): a clarification, and abuse aimed at the bot
    "I'm not suicidal, I just need help quitting",
    "kys",
    # words the fifth round's new patterns share (docs/nlu.md)
    "no suicidal thoughts, just want to quit kratom",
    "is it too late for me to sign up for the evening iop",
    "not sure ill be around on tuesday, can we do wednesday",
    "i drove into the city for my appointment last week",
    "i crashed my car into a pole last year, does insurance cover rehab",
    "my meds are ready for pickup at the pharmacy",
    "is there parking at the top of the garage or on the street",
    "my dad keeps his hunting rifle locked in the gun safe",
    "me quiero mudar a st louis, tienen programas en espanol",
]


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_hard_negative_does_not_trigger(detector, text):
    assert detector.detect(text) is None


def test_there_are_enough_hard_negatives():
    assert len(HARD_NEGATIVES) >= 25


# ---------------------------------------------------------------------------
# Exclusions
# ---------------------------------------------------------------------------

FIGURES_OF_SPEECH = [
    "this withdrawal is killing me",
    "I'd kill for a coffee",
    "I want to take my life back",
    "I can't go on vacation",
    "my phone died",
    "I'm dead tired",
    "I ran 10 kms",
]
REAL_CRISES = [("i want to die", SH), ("I want to kill myself", SH), ("my friend overdosed", MED)]


@pytest.mark.parametrize("figure", FIGURES_OF_SPEECH)
@pytest.mark.parametrize("crisis, intent", REAL_CRISES)
def test_an_exclusion_does_not_hide_a_crisis_in_the_same_message(detector, figure, crisis, intent):
    for text in (f"{figure} and {crisis}", f"{crisis}. {figure}"):
        match = detector.detect(text)
        assert match is not None and match.intent == intent, text


@pytest.mark.parametrize(
    "text",
    [
        "this withdrawal is killing me and i want to die",
        # A sentence break stops an exclusion from swallowing the crisis.
        "I want to take my life. Back then I was fine",
        "I can't go on. The cravings never stop",
        "I can't go on the trip and honestly I can't go on",
    ],
)
def test_crisis_survives_exclusion_tricks(detector, text):
    match = detector.detect(text)
    assert match is not None and match.intent == SH


def _real_spec() -> Dict[str, Any]:
    return yaml.safe_load(DEFAULT_PATTERNS_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def without_exclusions(tmp_path_factory) -> CrisisDetector:
    spec = _real_spec()
    spec["exclusions"] = []
    path = tmp_path_factory.mktemp("patterns") / "no_exclusions.yml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return CrisisDetector.from_file(path)


@pytest.mark.parametrize(
    "text",
    [
        "I want to take my life back from kratom",
        "I can't go on vacation until I'm off kratom",
        "I can't go on methadone because of my job",
        "I ran 10 kms today",
        "my legs keep seizing up at night",
        "she's dying to meet you",
        "I cut myself shaving",
        "I've been killing myself at work to pay for kratom",
        "she's drop dead gorgeous",
        "he's not responding to my texts",
        "I can't breathe through my nose",
        "my hair is going grey from stress",
        "I overdosed on heroin 5 years ago",
        "I've taken too much kratom for years",
    ],
)
def test_exclusions_are_what_keeps_these_quiet(detector, without_exclusions, text):
    assert without_exclusions.detect(text) is not None
    assert detector.detect(text) is None


# ---------------------------------------------------------------------------
# Normaliser
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("I want to KILL   myself!!!", "i want to kill myself"),
        ("I don\u2019t want to be here\u2026 anymore", "i dont want to be here . anymore"),
        ("\u201cHe OD\u2019d\u201d", "he odd"),
        ("\uff4b\uff49\uff4c\uff4c \uff4d\uff59\uff53\uff45\uff4c\uff46", "kill myself"),
        ("ki\u200bll", "kill"),
        ("self-harm / un_alive", "self harm un alive"),
        ("killlllll meeee", "kill mee"),
        ("Hello,\n\nworld?!", "hello . world"),
        ("...wait...", "wait"),
        ("  \t\n  ", ""),
        ("\U0001f62d\U0001f480\U0001f64f", ""),
        ("caf\u00e9 \u00dcBER", "caf\u00e9 \u00fcber"),
    ],
)
def test_normalise(raw, expected):
    assert normalise(raw) == expected


def test_normalise_rejects_non_text():
    with pytest.raises(TypeError):
        normalise(b"kill myself")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Edge inputs
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "   \n\t  ", "...", "!!!???", None])
def test_empty_or_blank_text_returns_none(detector, text):
    assert detector.detect(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "\U0001f62d", "\U0001f62d\U0001f62d\U0001f62d", "\U0001f480\U0001f480",
        "\U0001f52a\U0001fa78", "\u2764\ufe0f\U0001f64f",
    ],
)
def test_emoji_only_text_returns_none(detector, text):
    assert detector.detect(text) is None


def test_detect_rejects_non_text(detector):
    with pytest.raises(TypeError):
        detector.detect(b"i want to die")  # type: ignore[arg-type]


def test_crisis_match_is_a_small_frozen_dataclass(detector):
    match = detector.detect("i want to die")
    assert [f.name for f in dataclasses.fields(CrisisMatch)] == ["intent", "pattern_id"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        match.intent = MED  # type: ignore[misc]


def test_default_path_is_the_repo_patterns_file():
    assert DEFAULT_PATTERNS_PATH == Path(__file__).resolve().parents[2] / "data" / "safety" / "crisis_patterns.yml"
    assert DEFAULT_PATTERNS_PATH.is_file()
    assert default_detector().detect("kms") == CrisisMatch(SH, "sh_kms")


def test_pattern_ids_are_unique_and_named_by_category(detector):
    ids = detector.pattern_ids()
    assert len(ids) == len(set(ids))
    assert all(pid.startswith("sh_") for pid in detector.pattern_ids(SH))
    assert all(pid.startswith("med_") for pid in detector.pattern_ids(MED))
    assert all(pid.startswith("ex_") for pid in detector.exclusion_ids)


# ---------------------------------------------------------------------------
# Speed
# ---------------------------------------------------------------------------

STORY = (
    "Hi, I'm writing for my brother. He has been taking kratom for about three years, mostly the "
    "red vein powder, and lately he's been using 7-OH tablets from the gas station too. He wants to "
    "quit but every time he tries the withdrawal hits him hard: restless legs, sweats, chills, no "
    "sleep, and he gets really anxious. Our mom thinks he should just stop cold turkey but I read "
    "that isn't safe for everyone. What does your detox look like, do you take insurance, how long "
    "is the program, and can he keep working? He can't take much time off. Also, is kratom an "
    "opioid? Can you overdose on it? I'm worried about him, honestly. Thanks for any help! "
)
# The gateway reads up to 10,000 characters of a message for a crisis. Linear-time regexes take
# about 1 ms per 1,000 characters on a 2-core machine; catastrophic backtracking would take seconds.
LONG_MESSAGE_BUDGET_MS = 30


def _best_time_ms(function, runs: int = 7) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def test_a_10000_character_message_is_fast(detector):
    text = (STORY * 20)[:10_000]
    assert len(text) == 10_000
    assert detector.detect(text) is None
    assert _best_time_ms(lambda: detector.detect(text)) < LONG_MESSAGE_BUDGET_MS


def test_a_crisis_at_the_end_of_a_10000_character_message_is_found(detector):
    text = (STORY * 20)[:9_980] + " i want to kill myself"
    assert detector.detect(text) == CrisisMatch(SH, "sh_kill_self")
    assert _best_time_ms(lambda: detector.detect(text)) < LONG_MESSAGE_BUDGET_MS


@pytest.mark.parametrize(
    "chunk",
    [
        "my friend is not ", "i dont want to ", "took way too much ", "sleep hope wish i ",
        "passed out and ", "a", "! ", "\U0001f62d",
    ],
)
def test_near_miss_text_cannot_slow_the_detector_down(detector, chunk):
    text = (chunk * 10_000)[:10_000]
    detector.detect(text)
    assert _best_time_ms(lambda: detector.detect(text), runs=3) < LONG_MESSAGE_BUDGET_MS


# ---------------------------------------------------------------------------
# Loading and validating a patterns file
# ---------------------------------------------------------------------------


def _minimal_spec() -> Dict[str, Any]:
    return {
        "version": 1,
        "macros": {"person": ["he", "she", "my friend"]},
        "categories": {
            "self_harm": {
                "intent": SH,
                "patterns": [{"id": "sh_die", "regex": "wants?(?: to)? die"}],
            },
            "medical": {
                "intent": MED,
                "patterns": [
                    {"id": "med_od", "regex": "{person} overdosed"},
                    {"id": "med_words", "phrases": ["not breathing"]},
                ],
            },
        },
        "exclusions": [{"id": "ex_dying_to", "phrases": ["dying to know"]}],
    }


def _write(tmp_path: Path, spec: Any, name: str = "patterns.yml") -> Path:
    path = tmp_path / name
    path.write_text(spec if isinstance(spec, str) else yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def _load_error(tmp_path: Path, spec: Any) -> str:
    with pytest.raises(CrisisPatternError) as caught:
        CrisisDetector.from_file(_write(tmp_path, spec))
    return str(caught.value)


def test_a_minimal_patterns_file_loads_and_works(tmp_path):
    detector = CrisisDetector.from_file(_write(tmp_path, _minimal_spec()))
    assert detector.pattern_ids() == ("sh_die", "med_od", "med_words")
    assert detector.detect("i want to die") == CrisisMatch(SH, "sh_die")
    assert detector.detect("my friend overdosed") == CrisisMatch(MED, "med_od")
    assert detector.detect("he is not breathing") == CrisisMatch(MED, "med_words")
    assert detector.detect("she overdosed and wants to die") == CrisisMatch(SH, "sh_die")
    assert detector.detect("im dying to know") is None


def _set_pattern(spec: Dict[str, Any], **fields: Any) -> Dict[str, Any]:
    spec["categories"]["self_harm"]["patterns"][0] = fields
    return spec


@pytest.mark.parametrize(
    "fields, problem",
    [
        ({"id": "sh_bad", "regex": "kill (myself"}, "does not compile"),
        ({"id": "sh_bad", "regex": r"(?:\w{1,5} ){0,3}die"}, "nested quantifier"),
        ({"id": "sh_bad", "regex": r"(?:a{1,10}){1,10}b"}, "nested quantifier"),
        ({"id": "sh_bad", "regex": "kill.*myself"}, "unbounded quantifier"),
        ({"id": "sh_bad", "regex": "kill[a-z ]+myself"}, "unbounded quantifier"),
        ({"id": "sh_bad", "regex": "kill[a-z ]{0,500}myself"}, "above the limit"),
        ({"id": "sh_bad", "regex": "(?:die)?"}, "empty text"),
        ({"id": "sh_bad", "regex": "want to die|"}, "empty text"),
        ({"id": "sh_bad", "regex": "Kill myself"}, "can never match"),
        ({"id": "sh_bad", "regex": "don't want to live"}, "can never match"),
        ({"id": "sh_bad", "regex": "(?P<verb>kill) myself"}, "named groups"),
        ({"id": "sh_bad", "regex": r"(kill) \1"}, "back-references"),
        ({"id": "sh_bad", "regex": "(?i)kill myself"}, "outside the regex subset"),
        ({"id": "sh_bad", "regex": "kill[^.]{0,9}myself"}, "outside the regex subset"),
        ({"id": "sh_bad", "regex": r"kill\s{0,3}myself"}, "outside the regex subset"),
        ({"id": "sh_bad", "regex": "kill[ ]{0,3}?myself"}, "outside the regex subset"),
        ({"id": "sh_bad", "regex": "{nobody} died"}, "unknown macro"),
        ({"id": "sh_bad", "regex": "die", "phrases": ["die"]}, "exactly one of"),
        ({"id": "sh_bad"}, "exactly one of"),
        ({"id": "sh_bad", "regx": "die"}, "unknown key 'regx'"),
        ({"id": "sh_bad", "phrases": []}, "non-empty list"),
        ({"id": "sh_bad", "phrases": ["die", False]}, "not a string"),
        ({"id": "sh_bad", "phrases": ["!!!"]}, "empty once normalised"),
    ],
)
def test_a_bad_pattern_raises_an_error_naming_it(tmp_path, fields, problem):
    message = _load_error(tmp_path, _set_pattern(_minimal_spec(), **fields))
    assert "'sh_bad'" in message
    assert problem in message


def test_a_duplicate_pattern_id_is_named(tmp_path):
    spec = _minimal_spec()
    spec["exclusions"].append({"id": "med_od", "regex": "odd job"})
    message = _load_error(tmp_path, spec)
    assert "'med_od'" in message and "duplicate id" in message


def test_an_unknown_intent_names_the_category_and_its_patterns(tmp_path):
    spec = _minimal_spec()
    spec["categories"]["self_harm"]["intent"] = "crisis_selfharm"
    message = _load_error(tmp_path, spec)
    assert "unknown intent 'crisis_selfharm'" in message
    assert "'self_harm'" in message and "sh_die" in message


def test_a_pattern_without_an_id_is_located(tmp_path):
    spec = _minimal_spec()
    spec["categories"]["medical"]["patterns"].append({"regex": "not breathing"})
    message = _load_error(tmp_path, spec)
    assert "category 'medical', pattern #3" in message and "missing key 'id'" in message


def test_an_exclusion_is_validated_too(tmp_path):
    spec = _minimal_spec()
    spec["exclusions"][0] = {"id": "ex_greedy", "regex": "dying.*know"}
    message = _load_error(tmp_path, spec)
    assert "'ex_greedy'" in message and "unbounded" in message


@pytest.mark.parametrize("key", ["categories", "exclusions"])
def test_a_missing_top_level_key_raises(tmp_path, key):
    spec = _minimal_spec()
    del spec[key]
    assert f"missing top-level key '{key}'" in _load_error(tmp_path, spec)


@pytest.mark.parametrize("key", ["intent", "patterns"])
def test_a_missing_category_key_raises(tmp_path, key):
    spec = _minimal_spec()
    del spec["categories"]["medical"][key]
    assert f"category 'medical': missing key '{key}'" in _load_error(tmp_path, spec)


def test_a_missing_intent_category_raises(tmp_path):
    spec = _minimal_spec()
    del spec["categories"]["medical"]
    assert "no category has intent 'medical_emergency'" in _load_error(tmp_path, spec)


def test_bad_yaml_raises(tmp_path):
    assert "not valid YAML" in _load_error(tmp_path, "categories: [unclosed\n  exclusions: {")


def test_a_duplicate_yaml_key_raises_instead_of_silently_dropping_patterns(tmp_path):
    text = yaml.safe_dump(_minimal_spec(), sort_keys=False)
    text = text.replace("  medical:", "  self_harm:")
    message = _load_error(tmp_path, text)
    assert "duplicate key 'self_harm'" in message


@pytest.mark.parametrize("spec", ["just a string", "[]", ""])
def test_a_file_that_is_not_a_mapping_raises(tmp_path, spec):
    assert "top level must be a mapping" in _load_error(tmp_path, spec)


def test_a_missing_file_raises(tmp_path):
    with pytest.raises(CrisisPatternError, match="cannot read"):
        CrisisDetector.from_file(tmp_path / "nope.yml")


def test_a_self_referencing_macro_raises(tmp_path):
    spec = _minimal_spec()
    spec["macros"]["loop"] = "a{loop}"
    spec["categories"]["self_harm"]["patterns"][0]["regex"] = "{loop} die"
    message = _load_error(tmp_path, spec)
    assert "'sh_die'" in message and "nest too deeply" in message
