"""Replacing a visitor's personal details in a message before it becomes NLU training data.

`scrub(text)` returns the text with each detail below replaced by a placeholder, the kinds it
replaced, and `still_personal`: why the result may still hold a detail (such a message is left out
of the export). Placeholders are plain words that fit where the detail stood, so the sentence
still reads naturally and Rasa trains on ordinary words ("call me at five five five", "my address
is Main Street", "DOB January first", "member id withheld"):

| kind            | found                                                          | becomes                 |
|-----------------|----------------------------------------------------------------|-------------------------|
| `name`          | after a cue phrase (below), or as a signature                  | `Alex`                  |
| `phone`         | 10 US digits, with or without +1 / 1, in any mix of dots,      | `five five five`        |
|                 | dashes, spaces and parentheses, and an "ext"/"x" extension;    |                         |
|                 | 7-digit local numbers written 555-1234 or 555.1234             |                         |
| `email`         | any word with an "@" inside; "mike at gmail dot com"           | `name at email dot com` |
| `address`       | a house number, one to four street words and a suffix (St,     | `Main Street`           |
|                 | Ave, Rd, Blvd, Dr, Ln, Ct, Way, Pkwy, Pl, Ter, Cir, Hwy, ...), |                         |
|                 | with an apartment, suite or unit after it, and the city, state |                         |
|                 | and ZIP when a ZIP follows; "apt 4B" alone; "PO Box 12"        |                         |
| `date_of_birth` | a date after "DOB", "date of birth", "birthday", "bday", "born"| `January first`         |
| `insurance_id`  | a value with a digit after "member / policy / group /          | `withheld` (the label   |
|                 | subscriber / medicaid / medicare / insurance / plan / card"    | stays)                  |
|                 | (+ "id" / "#" / "number") or after "ID:"                       |                         |
| `ssn`           | 123-45-6789 anywhere; 9 digits or the last four after "ssn",   | `withheld`              |
|                 | "social (security number)", "last 4 of my social"              |                         |

Names are found only after cues, never by capital letters alone, so "Missouri", "Medicaid",
"Suboxone", "St. Louis" or "Monday" survive:

- strong cues, where a name is expected: "my (full / first / last) name is", "my name's",
  "my names", "name is", "name:", "named". The next one to three words that are not common
  words are the name, in any case ("my name is sarah jones and ...").
- weak cues, where a name is one possibility among others: "I'm" / "im" / "I am", "it's me",
  "this is", "call me", "go(es) by", "my name", and relations ("my son Kevin", "my wife,
  Maria,"). A capitalised word after them that is not a common word, nor a known place,
  insurer, drug, therapy, day or month, is a name. A lower-case unknown word is a name before "calling" /
  "here" / "writing" ("this is dana calling"); otherwise the message is flagged `still_personal`.
- capital-only cues: "it's" and the titles Mr, Mrs, Ms, Miss, Dr: a capitalised name only.
- signatures: name-like words ending the message after a dash or a new line ("- Tom"), or
  after "thanks" / "regards" / "sincerely" / "signed" ("thanks so much, Sarah"), and "Sarah
  here" opening it.

`still_personal` is set when the scrubbed text still has a run of 7 or more digits (single
separators allowed) or of 7 or more digit words ("three one four ..."), an "@", a word mixing
letters and 4 or more digits ("XJH12345"), a label
("ssn", "social", "dob", "born", "birthday", "member id", "policy", "ID:", ...) with a number,
a number word or a month among the next two words, a name cue whose name could not be
replaced, or a house number before the address placeholder. Ordinary numbers ("30 days",
"15 grams", "$500", "24/7", "age 17", "2000mg") are left alone.

The text is first NFKC-normalised with invisible format characters removed, so full-width or
zero-width-split digits are seen as digits. Scrubbing is idempotent: scrubbing the result again
changes nothing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Callable, FrozenSet, List, Match, Optional, Tuple

NAME = "Alex"
PHONE = "five five five"
EMAIL = "name at email dot com"
ADDRESS = "Main Street"
DATE_OF_BIRTH = "January first"
WITHHELD = "withheld"

KINDS = ("name", "phone", "email", "address", "date_of_birth", "insurance_id", "ssn")


@dataclass(frozen=True)
class Scrubbed:
    text: str
    replaced: Tuple[str, ...]
    still_personal: Optional[str]


def _words(text: str) -> FrozenSet[str]:
    return frozenset(text.split())


# Words that never start a name: function words and what commonly follows "I'm", "my son" or
# "call me" in this clinic's messages. Lower case; compared with the word lower-cased.
_FUNCTION = _words("""
    a an the and or but nor so yet if then than that this these those there here where when what
    which who whom whose why how i me my mine myself you your yours yourself we us our ours they them
    their he him his she her hers it its itself is am are was were be been being do does did doing
    done have has had having will would shall should can could may might must not no yes yeah yep
    ya yea nope ok okay just also only even still very really too quite pretty kinda sorta like
    about above after again against all any at before below between both by down during each few
    for from further in into more most of off on once other out over own same some such to under
    until up while with without within through via per as because since though although unless
    whether either neither every everyone anyone someone nobody everything anything something
    nothing please thanks thank thx ty hi hello hey dear sir maam ma'am guys guy folks y'all yall
    u ur im i'm ive i've id i'd ill i'll dont don't cant can't wont won't isnt isn't wasnt wasn't
    didnt didn't doesnt doesn't aint ain't its it's thats that's whats what's theres there's lets
    let's gonna wanna gotta tryna lol idk tbh btw omg pls plz asap etc
""")
_COMMON = _FUNCTION | _words("""
    wondering looking trying calling asking writing reaching hoping thinking going getting having
    needing wanting struggling using taking sorry scared afraid worried nervous anxious concerned
    curious interested new ready tired sick sober clean addicted dependent hooked desperate confused
    lost broke homeless pregnant single married divorced separated widowed young old older younger
    alone fine good great well better worse bad sad depressed suicidal happy glad grateful thankful
    unsure sure certain home back free able unable allowed eligible covered insured uninsured stuck
    finished currently already almost literally basically actually honestly seriously definitely
    probably maybe hopefully ever never always sometimes usually often recently finally totally
    completely super extremely kind sort one two three four five six seven eight nine ten eleven
    twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty
    hundred first second third last next another mom mother mum dad father parent parents son
    daughter wife husband hubby boyfriend girlfriend partner spouse friend friends family brother
    sister bro sis kid kids child children teen teenager adult man woman girl boy lady veteran vet
    student nurse doctor dr mr mrs ms miss patient client addict alcoholic user member person people
    mommy daddy baby babies boss coworker roommate ex cousin aunt uncle nephew niece grandson
    granddaughter grandma grandpa grandmother grandfather fiance fiancee stepson stepdaughter
    stepdad stepmom teenage toddler infant
    kratom alcohol opioids opiates opioid opiate heroin fentanyl meth methadone pills pill weed
    marijuana cocaine coke crack xanax benzos benzo adderall drugs drug drinking drink drinks
    booze beer wine vodka liquor gabapentin tramadol oxy oxycodone percocet vicodin norco dope
    help treatment rehab detox therapy counseling program programs appointment insurance money
    work job school class classes time day days week weeks month months year years today tonight
    tomorrow yesterday morning afternoon evening night now later soon anytime asap whenever
    is was has had does did needs need wants want uses use used takes take took drinks smokes
    smoke started start stopped stop quit relapsed relapse keeps keep gets get got goes go went
    came come comes said says told tells tell thinks think feels feel looks look seems seem lives
    live lived works worked refuses refused won't wont cannot knows know knew found find lost
    left leave leaves moved moving lives passed overdosed od'd od died dies stole steals lies lied
    hides hid snorts injects shoots buys bought sells sold makes made gave gives let lets wouldn't
    won't couldn't shouldn't hasn't haven't hadn't aren't weren't doesn't didn't isn't wasn't can't
    asked asks said wanted needed tried tries called calls texted texts say ask want try call text
    reach email mail phone number cell landline back at after before between around right
    straight directly instead either crazy hard tough rough scary overwhelming ridiculous awful
    terrible horrible serious urgent important private confidential embarrassed ashamed afraid
    hopeless helpless worn exhausted done desperate upset angry mad frustrated stressed overwhelmed
    lonely sleepy hungry thirsty withdrawing dying shaking sweating throwing freaking panicking
    crying clean sober straight high drunk wasted messed dopesick sick ill injured hurt okay alright
    cool nice sweet awesome perfect interesting weird strange normal real true false wrong right
    late early busy available open closed near far close nearby local around outside inside
    male female trans nonbinary gay straight bi lesbian queer disabled deaf blind
    doc nurse therapist counselor worker staff someone somebody anybody anyone everyone
    lot alot bunch little bit much many lots plenty enough
    bye goodbye goodnight cheers best regards sincerely love blessings
    yes no maybe sure nah nope yup definitely absolutely
    not also again though tho too either anyway anyways already
    info information question questions answer answers details detail
    address number email ssn dob id birthday name names
    because cuz cause bc since
    hoping trying looking wondering reaching calling texting messaging writing
    kindly mate dude buddy pal man bud hun honey babe sweetie fam tons ton bunch
    dead alive safe unsafe stable unstable dizzy bipolar schizophrenic adhd autistic mostly gone
    mainly partly barely hardly nearly suicidel boutta bouta finna swears swore posted sent send
    sends drank drunk ate eats eat put puts pick picks picked joke tax navy army military marines
    marine air force guard retired disabled unemployed employed pregnant nursing breastfeeding
    ran runs run fell falls fall hit hits beat beats broke breaks break threw throws ate ate saw
    sees see heard hears hear met meets meet paid pays pay spent spends spend owes owed owe
    brought brings bring caught catches catch drove drives drive rode rides ride slept sleeps
    sleep woke wakes wake began begins begin became becomes become kept lost loses lose won wins
    win wrote writes write read reads spoke speaks speak understood understands understand sat
    sits sit stood stands stand grew grows grow held holds hold taught teaches teach bought
    overdosd overdoses overdose ods swallowed swallows swallow snorted snorts injected vapes
    vaped vape smoked snorting mixed mixes mix combined combines abuses abused abuse misuses
    admits admitted admit denies denied deny hides hiding lies lying steals stealing cries
    cried cry screams screamed yells yelled fights fought fight argues argued argue threatens
    threatened threaten hurts hurting cuts cutting burns burned burn tried
    really truly genuinely simply clearly obviously apparently supposedly literally
    struggles struggle suffers suffered suffer deals dealt deal battles battled battle fights
    relapses relapsing recovers recovered recover recovering heals healed heal
    loves loved love hates hated hate likes liked misses missed miss worries worried worry
    trusts trusted trust believes believed believe hopes hoped expects expected expect
    doesnt didnt wont cant shouldnt wouldnt couldnt hasnt havent isnt arent wasnt werent
    visiting visited visit stays stayed stay moved moves move returns returned return
    texted messaged emailed phoned rang
    currently presently formerly previously originally initially eventually
    sure unsure certain uncertain positive negative
    years yrs yr months mos weeks wks days hrs hours minutes mins
    old aged age
    from out of
    who which whom
    show shows showed shown picture pictures photo photos video videos phone phones
""")
# Proper nouns a visitor of this clinic writes that are not names (lower case).
_KNOWN = _words("""
    missouri illinois kansas arkansas iowa kentucky tennessee oklahoma nebraska indiana ohio
    texas florida california michigan wisconsin minnesota mississippi alabama georgia louisiana
    colorado arizona nevada oregon washington york jersey carolina virginia dakota
    st saint mt fort louis city county springfield columbia chesterfield florissant
    belleville clayton kirkwood webster ballwin ofallon o'fallon wentzville arnold festus
    jefferson joplin branson rolla independence lees summit blue springs midwest metro east
    engage wellness medicaid medicare medicaide tricare cigna aetna humana anthem bcbs cross shield
    united unitedhealthcare uhc optum centene ambetter molina healthnet homestate marketplace cobra
    suboxone sublocade subutex zubsolv vivitrol naltrexone buprenorphine narcan naloxone lucemyra
    kratom mitragynine 7oh fentanyl xanax adderall percocet vicodin norco klonopin
    valium ativan gabapentin tramadol oxycontin ambien seroquel lexapro zoloft prozac wellbutrin
    iop php op cbt dbt emdr mat moud aa na smart recovery alanon nar-anon
    monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri
    sat sun january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    christian catholic muslim jewish baptist mormon methodist lutheran american mexican hispanic
    latino latina black white asian native english spanish god lord jesus christ bible church
    covid zoom google facebook reddit iphone android samsung usa us u.s america
""")
# Words above that, capitalised after a cue, are more likely a name ("my son Will").
_NAMEY = _words("""
    will may june april august grace hope faith joy bill mark rob pat sue frank jack rose dawn
    amber summer autumn sunny rich chase drew gene art ray dean penny ruby holly ivy iris lily
    violet daisy skip jesus christian angel ali max sky star glory harmony destiny trinity
    jordan austin dallas houston paris chris
""")
# Names the "-ed" and "-ing" rules would take for verbs.
_SUFFIX_EXCEPTIONS = _words("ahmed mohammed muhammed mohamed khaled jared ted fred ed ned jed reed irving sterling")
# After a lower-case unknown word, these make it a name ("this is dana calling").
_INTRODUCING = _words("calling here writing texting messaging reaching speaking")

_LETTERS = r"[^\W\d_]"
_WORD = re.compile(rf"{_LETTERS}+(?:['’\-]{_LETTERS}+)*")
_GAP = re.compile(r"[ \t]+")
_SEP = re.compile(r"[ \t]*,?[ \t]*")
_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)

_INVISIBLE = re.compile(r"[\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufe00-\ufe0f\ufeff]")


def _tidy(text: str) -> str:
    return unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))


# ---------------------------------------------------------------------------
# Emails, phone numbers, SSNs, insurance ids, dates of birth, addresses
# ---------------------------------------------------------------------------

_EMAIL = re.compile(
    r"[\w.+'\-]*@[\w.+'\-@]*\w"
    r"|(?!email\b)\w[\w.+\-]*(?:[ \t]+dot[ \t]+\w[\w+\-]*)*[ \t]*(?:\(at\)|\[at\]|[ \t]at[ \t])[ \t]*"
    r"(?:gmail|yahoo|hotmail|outlook|aol|icloud|live|msn|comcast|att|sbcglobal|charter|proton(?:mail)?)"
    r"[ \t]*(?:\.|\(dot\)|\[dot\]|[ \t]dot[ \t])[ \t]*(?:com|net|org)\b",
    re.IGNORECASE,
)

_PHONE_SEP = r"[ \t]*[.\-]?[ \t]*"
_PHONE = re.compile(
    rf"(?<![\w@+])(?:\+?1{_PHONE_SEP})?(?:\([ \t]*[0-9]{{3}}[ \t]*\)|[0-9]{{3}})"
    rf"{_PHONE_SEP}[0-9]{{3}}{_PHONE_SEP}[0-9]{{4}}"
    r"(?:[ \t]*,?[ \t]*(?:ext\.?|extension|x)[ \t]*[0-9]{1,6})?(?![\w\-])"
    r"|(?<![\w@.\-/$])[0-9]{3}[.\-][0-9]{4}(?![\w\-]|[.\-/][0-9])",
    re.IGNORECASE,
)

_SSN_BARE = re.compile(r"(?<![\w\-])[0-9]{3}-[0-9]{2}-[0-9]{4}(?![\w\-])")
_SSN_CUED = re.compile(
    r"\b(?P<cue>ssn|ss\#|ss[ \t]*no\b\.?|soc(?:ial)?(?:[ \t]+sec(?:urity)?)?(?:[ \t]*(?:\#|number|num|no\b\.?))?"
    r"|last[ \t]+(?:4|four)(?:[ \t]+digits)?(?:[ \t]+of[ \t]+(?:my|his|her|the)?[ \t]*"
    r"(?:ssn|social(?:[ \t]+security)?(?:[ \t]+number)?))?)"
    r"(?P<conn>(?:[ \t]*(?:is|was|are|:|\#|=|-))*[ \t]*)"
    r"(?P<value>[0-9]{3}[ \t.\-]?[0-9]{2}[ \t.\-]?[0-9]{4}|[0-9]{4})(?![\w\-])",
    re.IGNORECASE,
)

_ID = re.compile(
    r"\b(?P<cue>(?:member|policy|group|grp|subscriber|insurance|medicaid|medicare|mo[ \t]*healthnet|plan|account"
    r"|acct|card|patient|contract|rx[ \t]*(?:bin|pcn|grp|group))"
    r"(?:[ \t]*(?P<label>id\b|identification\b|\#|number\b|num\b|no\b\.?|nbr\b))?"
    r"|(?P<id>id\b|identification[ \t]+number\b))"
    r"(?P<conn>(?:[ \t]*(?:is|was|:|\#|=|-)(?![^\W\d_]))*[ \t]*)"
    r"(?P<value>(?=[A-Za-z\-]*[0-9]|[A-Za-z]{1,4}[ \t]+[0-9])[A-Za-z0-9][A-Za-z0-9\-]*(?:[ \t]+[0-9]{2,}(?![A-Za-z]))*)"
    r"(?![\w\-])",
    re.IGNORECASE,
)

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_ORDINAL = r"(?:st|nd|rd|th)?"
_DATE = (
    r"(?:[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"|[0-9]{1,2}[/\-.][0-9]{1,2}[/\-.](?:[0-9]{4}|[0-9]{2})|[0-9]{1,2}/[0-9]{1,2}"
    rf"|{_MONTH}[ \t]+[0-9]{{1,2}}{_ORDINAL}(?:[ \t]*,?[ \t]*(?:[0-9]{{4}}|['’]?[0-9]{{2}}))?"
    rf"|[0-9]{{1,2}}{_ORDINAL}[ \t]+(?:of[ \t]+)?{_MONTH}(?:[ \t]*,?[ \t]*[0-9]{{4}})?"
    r"|[0-9]{8}|[0-9]{6})(?![\w\-/])"
)
_DATE_OF_BIRTH = re.compile(
    r"\b(?P<cue>dob|d\.o\.b\.?|date[ \t]+of[ \t]+birth|birth[ \t]*date|birthday|bday|b-day|born)"
    r"(?P<conn>(?:[ \t]*(?:is|was|on|:|-|=)(?![^\W\d_]))*[ \t]*)"
    rf"(?P<date>{_DATE})",
    re.IGNORECASE,
)

_STREET_SUFFIX = (r"(?:st|street|ave|av|avenue|rd|road|blvd|boulevard|dr|drive|ln|lane|ct|court|way|pkwy|parkway"
                  r"|pl|place|ter|terrace|cir|circle|hwy|highway|trl|trail|plz|plaza|pike|cv|cove)")
_UNIT = (r"(?:apt|apartment|unit|suite|ste|rm|room|lot|bldg|fl|floor|\#)\.?[ \t]*\#?[ \t]*"
         r"(?=[A-Za-z]?[0-9]|[A-Za-z]\b)[A-Za-z0-9\-]{1,6}\b")
_TAIL = rf"(?P<tail>[ \t]*,?[ \t]*(?:{_LETTERS}[\w.'’\-]*[ \t]*,?[ \t]*){{0,4}}?[0-9]{{5}}(?:-[0-9]{{4}})?(?![\w\-]))?"
_STREET = re.compile(
    rf"(?<![\w$.,/:\-])[0-9]{{1,6}}[A-Za-z]?(?:-[0-9]+)?[ \t]+"
    rf"(?P<body>(?:(?:{_LETTERS}[\w'’.\-]*|[0-9]+(?:st|nd|rd|th))[ \t]+){{1,4}}?)"
    rf"(?P<suffix>{_STREET_SUFFIX})\b\.?(?P<unit>[ \t]*,?[ \t]*{_UNIT})?{_TAIL}",
    re.IGNORECASE,
)
_UNIT_OR_BOX = re.compile(
    rf"\b(?:(?:apt|apartment)\.?[ \t]*\#?[ \t]*(?=[A-Za-z]?[0-9])[A-Za-z0-9\-]{{1,6}}\b"
    rf"|(?:p\.?[ \t]*o\.?[ \t]*box|post[ \t]+office[ \t]+box)[ \t]*\#?[ \t]*[0-9]+\b){_TAIL}",
    re.IGNORECASE,
)
_DIRECTIONS = _words("n s e w ne nw se sw n. s. e. w. north south east west old new")


def _tail_ok(tail: Optional[str]) -> bool:
    return not tail or not any(word.lower() in _COMMON for word in _WORD.findall(tail))


def _street_words_ok(match: Match[str]) -> bool:
    return not any(word.lower() in _COMMON and word.lower() not in _DIRECTIONS for word in match.group("body").split())


def _ends_in_placeholder(match: Match[str]) -> bool:
    return match.string[match.start():match.end("suffix")].endswith(ADDRESS)


def _street(match: Match[str]) -> Optional[str]:
    """The replacement for a street address; None if a street word is a common word, or if the
    street is the placeholder after a number (which _still_personal reports)."""
    if not _street_words_ok(match) or _ends_in_placeholder(match):
        return None
    if _tail_ok(match.group("tail")):
        return ADDRESS
    return ADDRESS + match.group("tail")


def _unit_or_box(match: Match[str]) -> Optional[str]:
    return ADDRESS if _tail_ok(match.group("tail")) else ADDRESS + match.group("tail")


def _replace_each(pattern: "re.Pattern[str]", text: str, replace: Callable[[Match[str]], Optional[str]]) -> str:
    """Each match replaced by replace(match); where that is None the search goes on one character
    further, so a rejected match cannot hide a real one inside it."""
    parts: List[str] = []
    position = done = 0
    while True:
        match = pattern.search(text, position)
        if match is None:
            break
        replacement = replace(match)
        if replacement is None:
            position = match.start() + 1
            continue
        parts.append(text[done:match.start()])
        parts.append(replacement)
        position = done = max(match.end(), match.start() + 1)
    parts.append(text[done:])
    return "".join(parts)


_YEAR = re.compile(r"(?:19|20)[0-9]{2}")


def _labelled_id(match: Match[str]) -> Optional[str]:
    first = match.group("value").split()[0]
    if first.isalpha() and first.lower() in _COMMON:
        return None
    value = re.sub(r"[^A-Za-z0-9]", "", match.group("value"))
    if len(value) < 4:
        return None
    # Without "id", "#" or "number" the value must not look like a year or a phone number, so
    # "my plan for 2025" stays and "insurance 314-555-0142" is a phone number.
    if not (match.group("label") or match.group("id")) and (
            _YEAR.fullmatch(value) or _PHONE.fullmatch(match.group("value"))):
        return None
    return match.group("cue") + match.group("conn") + WITHHELD


def _keep_cue(placeholder: str) -> Callable[[Match[str]], Optional[str]]:
    return lambda match: match.group("cue") + match.group("conn") + placeholder


def _constant(placeholder: str) -> Callable[[Match[str]], Optional[str]]:
    return lambda match: placeholder


# In this order: an email's digits are not a phone number, a labelled id or SSN is not a phone number.
_STEPS: Tuple[Tuple[str, "re.Pattern[str]", Callable[[Match[str]], Optional[str]]], ...] = (
    ("email", _EMAIL, _constant(EMAIL)),
    ("ssn", _SSN_CUED, _keep_cue(WITHHELD)),
    ("ssn", _SSN_BARE, _constant(WITHHELD)),
    ("insurance_id", _ID, _labelled_id),
    ("date_of_birth", _DATE_OF_BIRTH, _keep_cue(DATE_OF_BIRTH)),
    ("phone", _PHONE, _constant(PHONE)),
    ("address", _STREET, _street),
    ("address", _UNIT_OR_BOX, _unit_or_box),
)


# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------

_RELATIONS = (r"son|daughter|wife|husband|hubby|boyfriend|bf|girlfriend|gf|fiance|fiancé|fiancee|partner|spouse"
              r"|mom|mother|mum|dad|father|stepson|stepdaughter|stepmom|stepdad|brother|sister|cousin|aunt|uncle"
              r"|nephew|niece|grandson|granddaughter|grandma|grandpa|grandmother|grandfather|friend|roommate"
              r"|coworker|boss|kid|child|baby|ex|teen|teenager")
_NAME_CUE = re.compile(
    r"(?P<strong>\bmy[ \t]+(?:(?:full|first|last|real|legal|given)[ \t]+)?name(?:s\b|[ \t]*(?:is\b|=|:|-)|['’]s\b)"
    r"|\b(?:(?:full|first|last|legal|given|sur)[ \t]*)?name[ \t]*(?:is\b|[:=])"
    r"|\bnamed\b)"
    r"|(?P<weak>\bit['’]?s[ \t]+me\b|\bi[ \t]*['’]?[ \t]*m\b|\bi[ \t]+am\b|\bthis[ \t]+is\b|\bcall[ \t]+me\b"
    r"|\b(?:i|we)[ \t]+go[ \t]+by\b|\bgoes[ \t]+by\b|\bmy[ \t]+name\b"
    rf"|\b(?:{_RELATIONS})\b)"
    r"|(?P<capital>\bit['’]?s\b|\b(?:mr|mrs|ms|miss|dr)\b\.?)",
    re.IGNORECASE,
)
# "Sarah Jones here, ..." at the start of a message.
_HERE = re.compile(
    rf"\A[ \t]*(?:(?:hi|hey|hello)[ \t]*[,!.]*[ \t]*)?(?P<words>{_WORD.pattern}(?:[ \t]+{_WORD.pattern})?)"
    r"[ \t]*[,!.\-]*[ \t]*here\b",
    re.IGNORECASE,
)
_FINAL_WORDS = rf"(?P<words>{_WORD.pattern}(?:[ \t]+{_WORD.pattern}){{0,2}})[ \t]*[.!]*\s*\Z"
# "... - Tom", "...\nTom Jones": the name-like words at the end are the name.
_SIGNED_LINE = re.compile(rf"(?:(?:^|(?<=\s))[-–—~]+|\n)[ \t]*{_FINAL_WORDS}")
# "thanks so much, Sarah": every word after the thanks must be name-like, so "thanks a ton" stays.
_SIGNED_THANKS = re.compile(
    r"\b(?:thanks|thank[ \t]+(?:you|u)|thx|thanx|ty|regards|sincerely|cheers|blessings|signed)\b"
    r"(?:[ \t]+(?:so|very|much|again|all|you|u))*[ \t]*[,!.\-~]*[ \t]*" + _FINAL_WORDS,
    re.IGNORECASE,
)


def _classify(word: str) -> str:
    """"placeholder", "name" (a capitalised possible name), "maybe" (lower-case or capitals, not a
    common word) or "no"."""
    base = _POSSESSIVE.sub("", word)
    lowered = base.lower()
    if base == NAME:
        return "placeholder"
    if len(base) < 2:
        return "no"
    titled = base[0].isupper() and not base.isupper()
    if lowered in _KNOWN and not (titled and lowered in _NAMEY):
        return "no"
    if titled and lowered in _NAMEY:
        return "name"
    verb_like = len(lowered) >= 5 and lowered.endswith(("ing", "ed")) and lowered not in _SUFFIX_EXCEPTIONS
    if lowered in _COMMON or verb_like:
        return "no"
    return "name" if titled else "maybe"


def _words_at(text: str, position: int, limit: int) -> List[Match[str]]:
    """Up to `limit` words from `position`, after an optional comma, one space or tab apart."""
    found: List[Match[str]] = []
    gap = _SEP.match(text, position)
    position = gap.end() if gap else position
    while len(found) < limit:
        word = _WORD.match(text, position)
        if word is None:
            break
        found.append(word)
        gap = _GAP.match(text, word.end())
        if gap is None:
            break
        position = gap.end()
    return found


def _name_run(words: List[Match[str]], strength: str) -> Tuple[int, Optional[str]]:
    """How many of the words make the name (0 if none), and the reason to flag the message.
    strength is "strong", "weak" or "capital" (a capitalised name only, nothing flagged)."""
    if not words:
        return 0, None
    first = _classify(words[0].group())
    if first == "placeholder":
        return 0, None
    if first == "no":
        return 0, ("a word follows a name cue" if strength == "strong" else None)
    if first == "maybe" and strength != "strong":
        after = words[1].group().lower() if len(words) > 1 else ""
        if after not in _INTRODUCING:
            return 0, ("a name may follow a name cue" if strength == "weak" else None)
    taken = 1
    for word in words[1:]:
        kind = _classify(word.group())
        if kind == "name" or (kind == "maybe" and first == "maybe"):
            taken += 1
        else:
            break
    return taken, None


def _replace_names(text: str) -> Tuple[str, Optional[str]]:
    """The text with the names after cues and in signatures replaced, and the reason to flag it."""
    reason: Optional[str] = None
    spans: List[Tuple[int, int, str]] = []
    for cue in _NAME_CUE.finditer(text):
        words = _words_at(text, cue.end(), 3)
        # A cue may overlap the name before it ("Mike-my name is ..."); its own words may not.
        if spans and words and words[0].start() < spans[-1][1]:
            continue
        taken, why = _name_run(words, str(cue.lastgroup))
        reason = reason or why
        if taken:
            last = words[taken - 1]
            possessive = _POSSESSIVE.search(last.group())
            spans.append((words[0].start(), last.end(), NAME + (possessive.group() if possessive else "")))
    parts: List[str] = []
    done = 0
    for start, end, replacement in spans:
        parts.append(text[done:start])
        parts.append(replacement)
        done = end
    parts.append(text[done:])
    return _replace_signature("".join(parts)), reason


def _replace_signature(text: str) -> str:
    """The name in "Sarah here, ...", "... - Tom" and "... thanks so much, Sarah"."""
    for pattern, whole in ((_HERE, True), (_SIGNED_LINE, False), (_SIGNED_THANKS, True)):
        signature = pattern.search(text)
        if signature is None:
            continue
        words = list(_WORD.finditer(signature.group("words")))
        names = 0
        for word in reversed(words):
            if _classify(word.group()) not in ("name", "maybe"):
                break
            names += 1
        if names and (names == len(words) or not whole):
            offset = signature.start("words")
            start, end = offset + words[-names].start(), offset + words[-1].end()
            possessive = _POSSESSIVE.search(words[-1].group())
            text = text[:start] + NAME + (possessive.group() if possessive else "") + text[end:]
    return text


# ---------------------------------------------------------------------------
# What is left
# ---------------------------------------------------------------------------

_LONG_DIGITS = re.compile(r"\d(?:[ \t.\-/()]?\d){6,}")
# At least four digits in one word that starts with a letter or has one between digits, as member
# ids do ("XJH12345", "1EG4TE5MK73"); "8mg" or "2000mg" does not.
_CODE = re.compile(
    r"(?<![\w\-])(?=[A-Za-z]|[0-9]+[A-Za-z]+[0-9])(?=(?:[A-Za-z]*[0-9]){4})[A-Za-z0-9]{5,}(?![\w\-])")
_SPELLED_DIGITS = re.compile(r"\b(?:(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)\W+){6}"
                             r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)\b", re.IGNORECASE)
_LABEL = re.compile(
    r"\b(?:ssn|ss\#|social|dob|d\.o\.b|date[ \t]+of[ \t]+birth|birth[ \t]*date|birthday|bday|b-day|born|policy"
    r"|(?:member|group|grp|subscriber|insurance|medicaid|medicare|plan|account|acct|card|patient|contract)"
    r"[ \t]*(?:id|identification|\#|number|num|no\b|nbr)|subscriber|id[ \t]*[:\#]|id[ \t]+(?:number|num|no\b|is\b)"
    r"|last[ \t]+(?:4|four))",
    re.IGNORECASE,
)
_NUMBER_WORDS = _words("""
    zero oh one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred
""")

# Between a label and its value: "dob is: 3/14", "born on the 14th", "policy number 888".
_CONNECTORS = _words("is was are on in of the my his her a : # - = no number num id")
_MONTHS = _words("""
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
""")


def _labelled_number(text: str) -> Optional[str]:
    for label in _LABEL.finditer(text):
        following = text[label.end():label.end() + 80]
        for placeholder in (DATE_OF_BIRTH, WITHHELD, PHONE):
            following = following.replace(placeholder, " ")
        tokens = [token.lower().strip(".,;!?") for token in following.split()]
        values = [token for token in tokens if token not in _CONNECTORS][:2]
        if any(any(ch.isdigit() for ch in token) or token in _NUMBER_WORDS or token in _MONTHS for token in values):
            return f'a number follows "{label.group().lower()}"'
    return None


def _still_personal(text: str, name_reason: Optional[str]) -> Optional[str]:
    if _LONG_DIGITS.search(text):
        return "a long digit sequence remains"
    if "@" in text:
        return 'an "@" remains'
    if _CODE.search(text):
        return "an id-like code remains"
    if _SPELLED_DIGITS.search(text):
        return "a spelled-out number remains"
    if ADDRESS in text and any(_street_words_ok(m) and _ends_in_placeholder(m) for m in _STREET.finditer(text)):
        return "a house number remains"
    return _labelled_number(text) or name_reason


def scrub(text: str) -> Scrubbed:
    """The message with its personal details replaced (see the module's docstring)."""
    text = _tidy(text)
    replaced = set()
    for kind, pattern, replace in _STEPS:
        changed = _replace_each(pattern, text, replace)
        if changed != text:
            replaced.add(kind)
            text = changed
    changed, name_reason = _replace_names(text)
    if changed != text:
        replaced.add("name")
        text = changed
    # Replacing text can leave a combining mark after a placeholder; compose it now, not on the next scrub.
    text = unicodedata.normalize("NFKC", text)
    return Scrubbed(text, tuple(kind for kind in KINDS if kind in replaced), _still_personal(text, name_reason))
