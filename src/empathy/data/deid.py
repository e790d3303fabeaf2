"""De-identification of training text: the Safe Harbor identifiers that appear in free text, replaced by typed placeholders.

Counselling text that leaves the project as training data must not carry the identifiers that HIPAA's Safe
Harbor method (45 CFR 164.514(b)(2)) lists: names, places smaller than a state, every element of a date but
the year, phone and fax numbers, e-mail addresses, URLs, IP addresses, and the numbers that identify a person
or their records, accounts, licences, vehicles or devices; ages over 89 are folded into one category. This
module finds them with documented rules and word lists and replaces each with a placeholder:

    from empathy.data.deid import deidentify, deidentify_many
    r = deidentify("Hi, I'm Sarah. Call me on (555) 123-4567.")
    r.text     # "Hi, I'm [NAME]. Call me on [PHONE]."
    r.counts   # {"NAME": 1, "PHONE": 1}
    r.spans    # (DeidSpan(start=8, end=13, type="NAME", rule="cue_im"), ...)  offsets into the input

    empathy data deidentify FILE.jsonl --out OUT.jsonl      # {"id", "text"} lines -> {"id", "text", "counts"}
    empathy data evaluate-deid                              # precision/recall on data/deid/labelled.jsonl

Why rules and not a library: Presidio and scrubadub install from PyPI, but their name, place and date
detection needs a spaCy model or NLTK/TextBlob corpora that are downloaded from GitHub or NLTK's servers at run
time, which this project cannot do (docs/data-deid.md has the trial). What they do offline (e-mail, URL,
phone patterns) is what the regular expressions below do, at a fraction of the speed.

How: regular expressions for the structured identifiers (bounded repetitions only, so any input is scanned in
linear time), then one pass over the capitalised words for names and places, using context cues ("my name is",
"Dr.", "my husband", "Hi X,", "moved to") and the word lists in deid_lexicon/ (US Census first names and
surnames, GeoNames cities, an English word list to tell "Grace" the word from "Grace" the wife). Overlapping
findings are resolved by a fixed priority, so the output is deterministic. What the rules miss is measured and
listed in docs/data-deid.md; the main gap is a name that is neither in the first-name list nor next to a cue.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Iterator

TYPES = ("NAME", "LOCATION", "DATE", "AGE", "PHONE", "EMAIL", "URL", "IP_ADDRESS", "ID_NUMBER", "USERNAME")
# ages over 89 become one category (Safe Harbor); the placeholder says which, so the sentence still reads
PLACEHOLDERS = {t: f"[{t}]" for t in TYPES} | {"AGE": "[AGE_90_OR_OLDER]"}


@dataclass(frozen=True)
class DeidSpan:
    """One replaced identifier: character offsets into the input text, its type and the rule that found it.

    The identifier's text is deliberately not kept, so that spans can be logged without leaking it."""

    start: int
    end: int
    type: str
    rule: str


@dataclass(frozen=True)
class DeidResult:
    text: str
    counts: dict[str, int]
    spans: tuple[DeidSpan, ...]


# ---------------------------------------------------------------------------------------------------------------
# Word lists (src/empathy/data/deid_lexicon, rebuilt by scripts/build_deid_lexicons.py)


@lru_cache(maxsize=None)
def _lexicon(name: str) -> frozenset[str]:
    text = resources.files("empathy.data").joinpath("deid_lexicon", name).read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _first_names() -> frozenset[str]:
    return _lexicon("first_names.txt")


def _surnames() -> frozenset[str]:
    return _lexicon("surnames.txt")


def _places() -> frozenset[str]:
    return _lexicon("places.txt")


def _states_countries() -> frozenset[str]:
    return _lexicon("states_countries.txt")


def _english() -> frozenset[str]:
    return _lexicon("english_words.txt")


@lru_cache(maxsize=None)
def _place_heads() -> frozenset[str]:
    """First words of the listed places, states and countries ("San" of "San Antonio", "Puerto" of "Puerto Rico")."""
    return frozenset(p.split()[0] for p in _places() | _states_countries())


_WEEKDAYS = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
_MONTH_NAMES = {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                "November", "December"}
# capitalised words that are never a person's name here, cue or not: days, faiths, nationalities, holidays,
# and names of God (removing "Jesus" from a client's prayer would change its meaning, not protect anyone)
_NEVER_NAME = _WEEKDAYS | {
    "God", "Jesus", "Christ", "Lord", "Allah", "Buddha", "Bible", "Christian", "Christians", "Catholic", "Muslim",
    "Jewish", "Hindu", "Buddhist", "Mormon", "Christmas", "Easter", "Thanksgiving", "Ramadan", "Hanukkah",
    "American", "British", "English", "Irish", "Scottish", "Welsh", "Canadian", "Australian", "Mexican", "African",
    "Asian", "European", "Latino", "Latina", "Hispanic", "Black", "White", "Indian", "Chinese", "Japanese", "Korean",
    "Spanish", "French", "German", "Italian", "Russian", "Filipino", "Vietnamese", "Arab", "Arabic", "Native",
    "Dr", "Mr", "Mrs", "Ms", "Mx", "Miss", "Prof", "Rev", "I", "OK", "Okay", "Sorry", "Everyone", "Everybody", "All",
    "There", "Guys", "Folks", "Team", "Friend", "Friends", "Doc", "Doctor", "Again", "Sir", "Madam", "Mom", "Mum",
    "Dad", "Mother", "Father", "Internet", "Google",
    "Facebook", "Instagram", "Twitter", "Reddit", "TikTok", "Zoom", "Therapist", "Counselor", "Counsellor",
    # in the census first-name list, but in this text a continent, Santa Claus, tai chi or a chat greeting
    "America", "Americas", "Europe", "Africa", "Antarctica", "Santa", "Tai", "Ok", "Hai", "Hii", "Yes", "No",
    "He", "She", "They", "We", "You", "It", "His", "Her", "Their", "Our", "Your", "My", "The", "This", "That",
    # kinship words written as names ("Grandad said", "Stepdad Ray")
    "Grandad", "Granddad", "Grandma", "Grandpa", "Granny", "Gran", "Nanna", "Stepdad", "Stepmom", "Stepmum", "Hubby",
    "Mommy", "Daddy", "Mama", "Papa",
    # interjections of transcribed speech ("Yeah and I kind of go...")
    "Yeah", "Yep", "Yup", "Nope", "Nah", "Uh", "Um", "Umm", "Uh-huh", "Mm", "Mhm", "Mm-hmm", "Hmm", "Huh", "Oh", "Ah",
    "Aw", "Ooh", "Wow", "Haha", "Lol", "Omg",
}
# in the census first-name list but, without a cue, far more often a word: function words (in English and in the
# Spanish of some counsel-chat answers) and the words of book titles ("Wired for Love", "Buddha's Brain")
_WORD_NOT_NAME = {"In", "Un", "Una", "Le", "La", "El", "Mi", "An", "So", "See", "Many", "Man", "Brain", "Love", "Winter",
                  "Summer", "Major", "Merry", "Hang", "Will", "Nada", "Margarita", "Nan"}
# first names that are also English words, but whose capitalised form at the start of a sentence is almost always
# the name (SCOWL lists "john", "terry", "bobby"...)
_NAME_DESPITE_WORD = {"Maria", "Carol", "Colleen", "John", "Peter", "Terry", "Harry", "Billy", "Bobby", "Victor",
                      "Martin", "Jimmy", "Tony", "Mike", "Derrick", "Hector", "Rick", "Sally", "Sherry", "Roger"}
# therapy schools named after people: "the Gottman method" is content, not an identifier of a client
_PUBLIC_FIGURES = {"Gottman", "Freud", "Jung", "Rogers", "Beck", "Ellis", "Linehan", "Maslow", "Bowlby", "Yalom",
                   "Erikson", "Piaget", "Skinner", "Pavlov", "Adler", "Frankl", "Brene", "Brené", "Shapiro", "Kubler",
                   "Kübler", "Seligman", "Satir", "Minuchin", "Perls", "Winnicott", "Kabat", "Zinn", "Hayes", "Burns"}

# ---------------------------------------------------------------------------------------------------------------
# Structured identifiers. Every repetition is bounded ({m,n}) and no repeated group can match the same text
# in two ways, so no pattern backtracks catastrophically: time grows with the length of the text, a few
# CPU-seconds for 1 MB however it is built.

_I = re.IGNORECASE
_MONTH_CI = (r"(?:(?i:january|february|march|april|june|july|august|september|october|november|december)"
             r"|May|(?i:jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\b\.?)")
_MONTH_CAP = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])"
_ORD = r"(?:st|nd|rd|th)"
_YEAR = r"(?:1[89]\d\d|20\d\d)"
_DATE_CUE = r"(?i:on|since|until|till|by|before|after|from|dated|due|DOB:?)"
# a weekday before a numeric day/month ("Weds 12/6", "Tue. 3/4") dates it as a cue word does
_WEEKDAY_CUE = (r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|Mon|Tues?|Weds?|Thu|Thurs?|Fri|Sat|"
                r"Sun)\.?,?")
# ordinal days written out, the eleventh to the thirty-first: "the first", "the second" ... "the tenth" are ordinary
# English far more often than dates, so they are left out
_ORD_WORD = (r"(?i:eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|"
             r"twentieth|twenty[- ]?(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)|thirtieth|"
             r"thirty[- ]?first)")
_ORD_DAY = r"(?:" + _DAY + _ORD + "|" + _ORD_WORD + ")"
# nouns an ordinal counts rather than dates: "on the 3rd floor", "the twenty-first century"
_ORDINAL_NOUN = (r"floor|time|grade|step|day|week|month|year|place|row|percent|century|birthday|anniversary|session|"
                 r"attempt|hour|round|chapter|page|level|person|one|amendment|street|avenue|try|tries|draft|edition")
# holidays: a day of the year, so a date once a year is attached or a date cue ties an event to them
_HOLIDAY = (r"(?:Christmas(?:\s(?:Eve|Day))?|New\sYear(?:['’]s)?(?:\s(?:Eve|Day))?|Valentine['’]?s(?:\sDay)?|"
            r"Halloween|Thanksgiving(?:\sDay)?|Easter(?:\s(?:Sunday|Monday|Day))?|Good\sFriday|Mother['’]s\sDay|"
            r"Father['’]s\sDay|Memorial\sDay|Labou?r\sDay|Veterans['’]?\sDay|Independence\sDay|Fourth\sof\sJuly|"
            r"4th\sof\sJuly|St\.?\sPatrick['’]s\sDay|Boxing\sDay|Bonfire\sNight|Guy\sFawkes\sNight|Hanukkah|"
            r"Diwali|Passover|Rosh\sHashanah|Yom\sKippur|Eid(?:\sal-(?:Fitr|Adha))?|(?:Lunar|Chinese)\sNew\sYear)")
_DIGIT_WORD = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
# a phone number said aloud, UK style: "oh seven seven hundred, nine double oh, four five six"
_SPOKEN_DIGIT = r"(?:(?:double|triple)\s{1,2})?" + _DIGIT_WORD + r"(?:\s{1,2}(?:hundred|thousand))?"
_UNIT_WORD = r"(?:one|two|three|four|five|six|seven|eight|nine)"
_TEEN_WORD = r"(?:ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)"
# ages over 89 written out: "ninety", "ninety-three", "a hundred", "one hundred and two"
_AGE_WORDS = (r"(?i:ninety(?:[- ]" + _UNIT_WORD + r")?|(?:a|one)\s{1,2}hundred(?:\s{1,2}(?:and\s{1,2})?(?:"
              + _TEEN_WORD + "|" + _UNIT_WORD + r"))?)\b")
# what follows a number that is not an age: "be 95 percent sure", "was ninety minutes late"
_NOT_AGE_AFTER = (r"(?!\s{0,2}(?:%|percent|per\s{1,2}cent|pounds|lbs?|kg|kilos?|minutes|mins|miles|km|dollars|"
                  r"bucks|quid|euros|pence|grand|times|days|weeks|months|mg|points|degrees|cents|people|calories|"
                  r"steps|pages|seconds|secs|hours|hrs|beats|bpm|feet|ft|inches|metres|meters|x)\b|\.\d|%)")

# a relative's "is" written as 's: "Mum's ninety-one", "Grandad's 94"
_KIN_IS = (r"(?i:mum|mom|mother|dad|father|gran|granny|grandma|grandmother|grandpa|grandfather|grandad|granddad|nan|"
           r"nana|nanna|aunt|auntie|uncle|husband|wife)['’]s")

_US_STATE_ABBR = ("AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|"
                  "NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY")
# with the South Asian address words ("22B Nehru Nagar", "14 MG Marg")
_STREET_SUFFIX = (r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Way|Terrace|"
                  r"Close|Crescent|Parkway|Pkwy|Highway|Hwy|Circle|Cir|Square|Sq|Trail|Row|Mews|Grove|Gardens|Walk|"
                  r"Nagar|Marg|Colony|Enclave|Vihar|Chowk)")
_ORD_STREET = r"\d{1,3}(?:st|nd|rd|th)\b"
_DETERMINER = r"(?!(?:The|A|An|My|Our|Your|His|Her|Their|This|That|Every|Any|No|In|At|On|To|From)\b)"
_CAPWORD = r"[A-Z][a-z'’]{1,20}\.?"

_NUMBER_WORD = (r"(?:\s{1,3}(?:number|no\.?|num|#|id|ref(?:erence)?\b\.?|"
                r"card(?:\s{1,3}(?:number|no\.?|num|#))?))")
_ID_CUE = (
    r"(?:MRN|medical\s{1,3}record" + _NUMBER_WORD + r"?|(?:record|chart|case|claim|reference|ref|certificate|crime|"
    r"health|prescription|rx|routing|card|group|policy|patient|member|subscriber|insurance|employee|student|device|"
    r"NHS|NI|identification|id)" + _NUMBER_WORD + r"|account" + _NUMBER_WORD + r"?|acct\.?" + _NUMBER_WORD + r"?|"
    r"health\s{1,3}plan" + _NUMBER_WORD + r"?|medicaid" + _NUMBER_WORD + r"?|medicare" + _NUMBER_WORD + r"?|"
    r"licen[cs]e(?:\s{1,3}plate)?" + _NUMBER_WORD + r"?|(?:number\s{1,3})?plate" + _NUMBER_WORD + r"?|"
    r"registration" + _NUMBER_WORD + r"?|passport" + _NUMBER_WORD + r"?|VIN|serial" + _NUMBER_WORD + r"?|IMEI|"
    r"badge" + _NUMBER_WORD + r"?|card\s{1,3}ending(?:\s{1,3}in)?|sort\s{1,3}code|IBAN|"
    r"national\s{1,3}insurance" + _NUMBER_WORD + r"?|SSN|(?-i:SIN)|aadhaa?r" + _NUMBER_WORD + r"?|"
    r"social\s{1,3}security" + _NUMBER_WORD + r"?|social\s{1,3}insurance" + _NUMBER_WORD + r"?|"
    r"tax\s{1,3}file" + _NUMBER_WORD + r"?|tax" + _NUMBER_WORD + r"|"
    # national and tax numbers by their acronym, in capitals only ("pan", "tin" are words): Australian TFN and
    # Centrelink CRN, Irish PPS, Singapore NRIC/FIN, Nigerian NIN, Indian PAN, New Zealand NHI, US TIN/EIN/ITIN,
    # UK UTR, Dutch BSN, Brazilian CPF, Spanish NIF/NIE
    r"(?-i:TFN|CRN|PPSN?|NRIC|FIN|NIN|PAN|NHI|TIN|EIN|ITIN|UTR|BSN|CPF|NIF|NIE))"
)
# the value must have a digit in its first token; digit groups separated by single spaces continue it, and a short
# capital-letter prefix before them belongs to it ("LX 4471 9920 03"); hyphens and slashes join its parts
_ID_VALUE = (r"((?:(?-i:[A-Z]{1,4})\s(?=\d))?(?=[A-Za-z/-]{0,29}\d)[A-Za-z0-9](?:[A-Za-z0-9]|[-/](?=[A-Za-z0-9])){2,29}"
             r"(?:\s\d{1,6}[A-Z]?(?![A-Za-z\d])){0,5})")

_SPELLED_DOT = r"(?:\[dot\]|\(dot\)|\sdot\s)"
# a web address said aloud: "example dot org", then "slash grief-circle"
_SPOKEN_DOMAIN = (r"[A-Za-z0-9-]{1,63}(?:\s{1,2}dot\s{1,2}[A-Za-z0-9-]{1,63}){0,3}\s{1,2}dot\s{1,2}"
                  r"(?:com|org|net|edu|gov|io|co|uk|us|ca|au|nz|ie|info)\b")
_SPOKEN_PATH = r"(?:\s{1,2}(?:forward\s{1,2})?slash\s{1,2}[\w-]{1,64})"
# a phone extension belongs to the number: "(212) 555-0119 ext. 204", "555-0119 x12"
_EXTENSION = r"(?:\s{0,2},?\s{0,2}(?i:ext\.?|extension|x)\s{0,2}\d{1,5})?"

# (type, rule, priority, pattern, group): the group is the identifier, the rest of the match is context
_PATTERNS: list[tuple[str, str, int, re.Pattern[str], int]] = [
    ("EMAIL", "email", 100, re.compile(
        r"(?<![\w.+-])[A-Za-z0-9][\w.+-]{0,63}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}\b"), 0),
    ("EMAIL", "email_spelled", 100, re.compile(
        r"(?<![\w.+-])[\w.+-]{1,64}(?:\s{0,2}" + _SPELLED_DOT + r"\s{0,2}[\w+-]{1,64}){0,3}\s{0,2}"
        r"(?:\[at\]|\(at\)|\sat\s)\s{0,2}[\w-]{1,63}(?:\s{0,2}" + _SPELLED_DOT + r"\s{0,2}[\w-]{1,63}){0,3}\s{0,2}"
        + _SPELLED_DOT + r"\s{0,2}(?:com|org|net|edu|gov|co\.uk|co|uk|io)\b", _I), 0),
    # "www." starts a URL even when glued to the word before it, as scraped signatures are ("Lewiswww.site.com")
    ("URL", "url", 95, re.compile(r"(?:\b(?:https?|ftp)://|www\.)[^\s<>\"'`]{1,2048}", _I), 0),
    # said aloud: "www dot example dot org slash grief-circle"; without "www" only with a path, so that "the dot com
    # bubble" stays
    ("URL", "url_spelled", 94, re.compile(
        r"\b(?:www\s{1,2}dot\s{1,2}" + _SPOKEN_DOMAIN + _SPOKEN_PATH + "{0,5}|"
        + _SPOKEN_DOMAIN + _SPOKEN_PATH + "{1,5})", _I), 0),
    ("URL", "domain", 94, re.compile(
        r"(?<![\w@.-])(?:[A-Za-z0-9][A-Za-z0-9-]{0,62}\.){1,5}(?:com|org|net|edu|gov|mil|io|co|us|uk|ca|au|nz|ie|info|"
        r"biz|me|ly|app|health|care|blog|online|site|tv)\b(?:/[^\s<>\"'`]{0,2048})?"), 0),
    # dots inside a handle are part of it ("@healing.with.jo"); one that ends in a domain ("@example.com") is not a
    # handle (see _valid)
    ("USERNAME", "handle", 93, re.compile(r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_]|\.(?=[A-Za-z0-9_])){1,29}\b"), 0),
    # a username without "@": after "username"/"screen name"/"gamertag" or a platform's "name"/"handle"
    ("USERNAME", "username_cue", 92, re.compile(
        r"\b(?i:user\s?name|screen\s?name|gamer\s?tag|(?:my|his|her|their|your)\s{1,3}handle|handle\s{0,2}(?=is|:)|"
        r"(?:discord|snapchat|snap|insta|instagram|tiktok|twitter|reddit|telegram|kik|xbox|psn|steam|twitch)"
        r"\s{1,3}(?:name|handle|username|id|tag))(?:\s{1,3}(?i:on|for)\s{1,3}(?:the\s{1,3})?[A-Za-z]{2,20})?"
        r"\s{0,3}(?i:is|was|[:=-])?\s{0,3}(?i:is\s{1,3})?"
        r"(@?[A-Za-z0-9_](?:[A-Za-z0-9_]|\.(?=[A-Za-z0-9_])){2,29})\b"), 1),
    # a Discord tag ("moonbeam#4821") and a Reddit user ("u/throwaway_4417"; "r/offmychest" is a forum, kept)
    ("USERNAME", "discord_tag", 93, re.compile(r"(?<![\w#@/.])[A-Za-z0-9_.]{2,32}#\d{4}(?![\w#])"), 0),
    ("USERNAME", "reddit_user", 93, re.compile(r"(?<![\w/])u/[A-Za-z0-9_-]{3,20}\b"), 0),
    # words joined by underscores ("ptsd_warrior", "quietstorm_1987") are handles in this text, not words
    ("USERNAME", "username_underscore", 91, re.compile(
        r"(?<![\w@#/.:=&?-])[A-Za-z0-9]{1,30}(?:_[A-Za-z0-9]{1,30}){1,4}(?![\w@]|[.:/=-]\w)"), 0),
    ("IP_ADDRESS", "ipv4", 90, re.compile(
        r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?!\w|\.\d)"), 0),
    ("IP_ADDRESS", "ipv6", 90, re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"), 0),
    ("ID_NUMBER", "id_cue", 86, re.compile(
        r"\b" + _ID_CUE + r"(?:\s{1,3}(?:is|was|of|as|listed\s{1,3}as))?(?:\s{1,3}is)?\s{0,3}[:#,]?\s{0,3}" + _ID_VALUE,
        _I), 1),
    # a booking, ticket or invoice code right after its noun ("Booking reference BK7Q2X", "reference REF-8812"):
    # letters and digits, or four digits or more, and not a year (see _valid)
    ("ID_NUMBER", "id_reference", 85, re.compile(
        r"\b(?:reference|ref|booking|confirmation|ticket|order|invoice|tracking)\.?\s{1,3}(?:(?:code|no\.?|#)\s{0,3})?"
        r"[:#]?\s{0,2}((?=[A-Za-z/-]{0,29}\d)[A-Za-z0-9](?:[A-Za-z0-9]|[-/](?=[A-Za-z0-9])){2,29})\b", _I), 1),
    ("ID_NUMBER", "ssn", 85, re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\w-])"),
     0),
    ("ID_NUMBER", "ni_number", 85, re.compile(r"\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b"), 0),
    ("ID_NUMBER", "card", 85, re.compile(r"(?<![\w-])(?:\d{4}(?:[\s-]\d{4}){3}|\d{4}[\s-]\d{6}[\s-]\d{5})(?![\w-])"),
     0),
    # above id_cue, which would stop at the letters of "IBAN IE29 AIBK 9311..."
    ("ID_NUMBER", "iban", 87, re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){3,7}(?:\s?[A-Z0-9]{1,3})?\b"), 0),
    ("PHONE", "phone_nanp", 80, re.compile(
        r"(?<![\w+])(?:\+?1[\s.-]{0,2})?(?:\(\d{3}\)|\d{3})[\s.-]{0,2}\d{3}[\s.-]?\d{4}" + _EXTENSION + r"(?!\w)"), 0),
    ("PHONE", "phone_intl", 80, re.compile(
        r"(?<![\w+])\+\d{1,3}(?:(?:[\s.-]{1,2}\(?|\(|(?<=\)))\d{1,6}\)?){1,6}" + _EXTENSION + r"(?!\w)|"
        r"(?<![\w+])\+\d{8,15}" + _EXTENSION + r"(?!\w)"), 0),
    # national numbers with a trunk 0: UK and Irish ("0161 496 0732"), Australian ("(02) 5550 1234", "02 5550 1234")
    ("PHONE", "phone_uk", 80, re.compile(
        r"(?<![\w+])(?:0\d{2,4}|\(0\d{1,4}\)|0\d(?=[\s-]\d{4}[\s-]\d{4}))[\s-]?\d{3,4}[\s-]?\d{3,4}" + _EXTENSION +
        r"(?!\w)"), 0),
    # letters for the last four digits: "(617) 555-CALM" (toll-free vanity numbers are helplines, kept in _valid)
    ("PHONE", "phone_vanity", 80, re.compile(
        r"(?<![\w+])(?:\+?1[\s.-]{0,2})?(?:\(\d{3}\)|\d{3})[\s.-]{0,2}\d{3}[\s.-]?[A-Z]{4}(?![\w-])"), 0),
    ("PHONE", "phone_cue", 79, re.compile(
        r"\b(?:call|phone|ph|cell|mobile|text|tel|fax|number|ext|voicemail|landline|line|ring|reach|reachable|"
        r"whatsapp|local|direct|dial|contact)\b\.?[^\n\d]{0,24}?(?<![\d-])(\d{3}[\s.-]\d{4})(?![\d-])", _I), 1),
    # a number said digit by digit: "call me on five five five, oh one nine two"
    ("PHONE", "phone_spelled", 79, re.compile(
        r"\b(?:call|phone|cell|mobile|text|number|reach|ring|whatsapp)\b[^\n\d]{0,20}?\b(" + _SPOKEN_DIGIT +
        r"(?:[\s,.-]{1,3}" + _SPOKEN_DIGIT + r"){6,14})\b", _I), 1),
    ("DATE", "date_numeric", 70, re.compile(r"\b(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})\b"), 0),
    ("DATE", "date_iso", 70, re.compile(
        r"\b" + _YEAR + r"([-/.])(?:0?[1-9]|1[0-2])\1(?:0?[1-9]|[12]\d|3[01])\b"), 0),
    ("DATE", "date_month_year_numeric", 69, re.compile(r"(?<![\d/])(?:0?[1-9]|1[0-2])/" + _YEAR + r"\b"), 0),
    # a range of days is one date: "June 3–7", "3-5 March"; a two-digit year only where the clause ends ("17 Mar 24.")
    ("DATE", "date_month_day", 70, re.compile(
        r"\b" + _MONTH_CI + r"\s{0,3}" + _DAY + _ORD + r"?\b(?:\s{0,2}[-–—]\s{0,2}" + _DAY + _ORD + r"?\b)?"
        r"(?:,?\s{1,3}" + _YEAR + r"\b)?"), 0),
    ("DATE", "date_day_month", 70, re.compile(
        r"\b" + _DAY + _ORD + r"?(?:\s{0,2}[-–—]\s{0,2}" + _DAY + _ORD + r"?)?\s{1,3}(?:of\s{1,3})?" + _MONTH_CI +
        r"(?:\b|(?<=\.))(?:,?\s{1,3}" + _YEAR + r"\b|\s{1,3}['’]?\d\d(?=\s{0,3}(?:[.,;:!?)]|$)))?"), 0),
    ("DATE", "date_ordinal_word_month", 70, re.compile(
        r"\b" + _ORD_WORD + r"\s{1,3}of\s{1,3}" + _MONTH_CI + r"(?:\b|(?<=\.))(?:,?\s{1,3}" + _YEAR + r"\b)?"), 0),
    # the month as a word between separators: "06-Jun-2024", "6/June/24", "Jun-06-2024"
    ("DATE", "date_month_separated", 70, re.compile(
        r"\b(?:" + _DAY + r"([-/.])" + _MONTH_CI + r"\1|" + _MONTH_CI + r"([-/.])" + _DAY + r"\2)(?:" + _YEAR +
        r"|\d\d)\b"), 0),
    # the year may be cut to two digits after an apostrophe: "Sept '22"
    ("DATE", "date_month_year", 69, re.compile(
        r"\b" + _MONTH_CI + r"\s{1,3}(?:of\s{1,3})?(?:" + _YEAR + r"|['’]\d\d)\b"), 0),
    ("DATE", "date_cue_day_month", 68, re.compile(
        r"\b(?:" + _DATE_CUE + "|" + _WEEKDAY_CUE + r")\s{1,3}(\d{1,2}/\d{1,2})(?![/\d])"), 1),
    ("DATE", "date_cue_ordinal", 68, re.compile(
        r"\b(?:on|since|until|till|by|before|after|from)\s{1,3}the\s{1,3}(" + _ORD_DAY + r")\b"
        r"(?!\s{0,3}(?:" + _ORDINAL_NOUN + r")s?\b)", _I), 1),
    ("DATE", "date_weekday_ordinal", 68, re.compile(
        r"\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday),?\s{1,3}the\s{1,3}" + _ORD_DAY + r"\b"), 0),
    # a day being arranged: "can we do the twenty-first instead?", "the 14th clashes with his surgery"
    ("DATE", "date_ordinal_plan", 67, re.compile(
        r"\bthe\s{1,3}(" + _ORD_DAY + r")\b(?=\s{0,3}(?:\?|instead\b|(?:works|suits|clashes|would\s{1,3}(?:work|suit)|"
        r"(?:won['’]t|doesn['’]t|does\s{1,3}not|will\s{1,3}not)\s{1,3}work|is\s{1,3}(?:fine|better|free|booked|"
        r"no\s{1,3}good))\b))", _I), 1),
    # a month that is the subject of a sentence ("June is always hard"), where it cannot be the verb "may"
    ("DATE", "date_month_subject", 65, re.compile(
        r"\b(" + _MONTH_CAP + r")(?=\s{1,3}(?:is|was|has\s+been|will\s+be|always|never|used\s+to)\b)"), 1),
    # "her birthday is the 19th": after "is"/"was" only where the sentence or clause ends there
    ("DATE", "date_is_ordinal", 67, re.compile(
        r"(?:\b(?:is|was|be)|['’]s)\s{1,3}the\s{1,3}(" + _ORD_DAY + r")\b"
        r"(?=\s{0,3}(?:[.,;:!?)]|$|and\b|but\b|so\b|of\b))", _I), 1),
    # holidays with a year are a full date ("Christmas 2019", "Easter Sunday 2022")
    ("DATE", "date_holiday_year", 69, re.compile(r"\b" + _HOLIDAY + r"(?:,?\s{1,3}of)?,?\s{1,3}" + _YEAR + r"\b"), 0),
    # without a year, a holiday is the date of an event only after a date cue ("relapsed on New Year's Eve", "the week
    # after Thanksgiving"); "every Christmas", "Christmas is hard" and "for Christmas" are kept
    ("DATE", "date_holiday_cue", 66, re.compile(
        r"\b(?i:on|since|until|till|by|before|after|from|around)\s{1,3}(?:the\s{1,3})?(" + _HOLIDAY + r")\b"
        r"(?!\s{0,3}(?:tree|dinner|party|parties|present|presents|gift|gifts|card|cards|break|holidays?|songs?|movies?|"
        r"music|lights|decorations|shopping|season|weekend)\b)"), 1),
    # "mid-May": the prefix is part of the word, so of the span
    ("DATE", "date_mid_month", 66, re.compile(r"\b(?i:mid|early|late)-" + _MONTH_CAP + r"\b(?!\s{0,2}\d)"), 0),
    ("DATE", "date_cue_month", 66, re.compile(
        r"\b(?i:in|since|until|till|by|during|before|after|last|next|this|early|late|mid-?|of|through|from|around|"
        r"every)\s{1,3}(" + _MONTH_CAP + r")\b(?!\s{0,2}\d)"), 1),
    # a capitalised month mid-sentence, after a lower-case word: "everything changed in March" is cued, "March was
    # awful" at the start of a sentence is not replaced (it may be the verb); May, April, June and August are
    # names or words too often to be replaced without a cue
    ("DATE", "date_month_mid", 65, re.compile(
        r"(?<=[a-z,;] )(January|February|March|July|September|October|November|December)\b(?!\s{0,2}\d)"), 1),
    ("AGE", "age_years", 55, re.compile(
        r"\b(9\d|1[01]\d)(?=\s{0,2}-?\s{0,2}(?:years?|yrs?|y\.?o\b|year-old|years-old)\b)", _I), 1),
    ("AGE", "age_cue", 55, re.compile(
        r"\b(?:aged?|turned|turns|turning|I'm|I’m|I\s{1,2}am|is|was|be|he's|she's|who's|" + _KIN_IS + r")\s{1,3}"
        r"(9\d|1[01]\d)\b"
        + _NOT_AGE_AFTER, _I), 1),
    # written out: "he was ninety when he died", "turned ninety-three", "one hundred and two years old"
    ("AGE", "age_words_cue", 55, re.compile(
        r"\b(?:aged?|turned|turns|turning|I'm|I’m|I\s{1,2}am|is|was|be|he's|she's|who's|" + _KIN_IS + r")\s{1,3}"
        r"(" + _AGE_WORDS + r")"
        + _NOT_AGE_AFTER, _I), 1),
    ("AGE", "age_words_years", 55, re.compile(
        r"\b(" + _AGE_WORDS + r")(?=\s{0,2}-?\s{0,2}(?:years?|yrs?|year-old|years-old)\b)", _I), 1),
    ("AGE", "age_apposition", 55, re.compile(
        r"\b(?i:mother|father|mom|mum|dad|grandmother|grandfather|grandma|grandpa|gran|nan|nana|aunt|uncle|husband|"
        r"wife|partner|neighbou?r|patient|client|friend|sister|brother),\s{1,2}(9\d|1[01]\d)(?=\s{0,2},)"), 1),
    ("ID_NUMBER", "id_hyphenated", 60, re.compile(r"(?<![\w-])[A-Z0-9]{1,12}(?:-[A-Z0-9]{1,12}){1,5}(?![\w-])"), 0),
    ("ID_NUMBER", "id_alnum", 60, re.compile(r"\b(?=[A-Za-z]{0,10}\d)[A-Za-z0-9]{6,30}\b"), 0),
    # codes with slashes: "CR/2024/118842", "4410093/24" (dates, scores and fractions are excluded in _valid)
    ("ID_NUMBER", "id_slash", 60, re.compile(r"(?<![\w/.-])[A-Z0-9]{1,12}(?:/[A-Z0-9]{1,12}){1,4}(?![\w-]|/\w)"), 0),
    # ten or more digits in groups of three to five ("2345 6789 0123"): phone formats rank above it
    ("ID_NUMBER", "id_digit_groups", 59, re.compile(r"(?<![\w$£€.,+-])\d{3,5}(?: \d{3,5}){2,3}(?![\w,-]|\.\d)"), 0),
    ("ID_NUMBER", "id_digits", 58, re.compile(r"(?<![\w$£€.,])\d{7,30}(?![\w,]|\.\d)"), 0),
    # above id_cue, which would stop at the space of "AB12 CDE"
    ("ID_NUMBER", "uk_plate", 87, re.compile(r"\b[A-Z]{2}\d{2}\s?[A-Z]{3}\b"), 0),
    ("LOCATION", "street_address", 52, re.compile(
        r"\b(?:(?:Flat|Apt|Apartment|Unit|Suite)\s{1,3}[A-Za-z0-9]{1,6}(?:,?\s{1,3}|/(?=\d))|(?:Blk|Block)\.?\s{1,3})?"
        r"\d{1,6}[A-Za-z]?(?:/\d{1,5}[A-Za-z]?)?\s{1,3}(?:[NSEW]\.?\s{1,3}|(?:North|South|East|West)\s{1,3})?"
        r"(?:(?:\d{1,3}(?:st|nd|rd|th)|" + _CAPWORD + r")\s{1,3}){1,4}" + _STREET_SUFFIX + r"\b\.?"
        # a numbered street ("Ang Mo Kio Ave 3"), then a flat or unit ("#05-67", "Apt 2B")
        r"(?:\s\d{1,3}(?=\s{0,2}(?:[,;#]|$)))?"
        r"(?:,?\s{1,3}(?:Apt|Apartment|Unit|Suite|Ste|Flat|#)\.?\s{0,3}#?\s{0,2}[A-Za-z0-9-]{1,8})?"), 0),
    # a flat in a named building: "Flat 12B, Sai Residency"; without the flat, a word of the name must be in no
    # dictionary ("the Twin Towers" stays, see _valid)
    ("LOCATION", "building", 52, re.compile(
        r"\b(?:(?:Flat|Apt|Apartment|Unit|Suite)\s{1,3}[A-Za-z0-9]{1,6},?\s{1,3})?" + _DETERMINER +
        r"(?:[A-Z][a-z]{1,20}\s{1,3}){1,3}(?:Residency|Residences|Apartments|Towers|Heights|Mansions|Enclave|"
        r"Complex)\b"), 0),
    ("LOCATION", "street_name", 50, re.compile(
        r"\b" + _DETERMINER + r"(?:(?:[A-Z][a-z]{1,20}|\d{1,3}(?:st|nd|rd|th))\s{1,3}){1,3}(?:Street|Avenue|Road|"
        r"Boulevard|Lane|Drive|Terrace|Close|Crescent|Parkway)\b"), 0),
    ("LOCATION", "street_abbr_cue", 50, re.compile(
        r"\b(?i:on|off|along|at)\s{1,3}((?:(?:[A-Z][a-z]{1,20}|\d{1,3}(?:st|nd|rd|th))\s{1,3}){1,3}"
        r"(?:St|Rd|Ave|Blvd|Ln)\b\.?)"), 1),
    ("LOCATION", "facility", 51, re.compile(
        r"\b" + _DETERMINER + r"(?:(?:St\.?|Saint)\s{1,3})?(?:[A-Z][a-z'’]{1,20}[ \t]{1,3}){1,4}(?:Hospital|Medical\s"
        r"Cent(?:er|re)|Health\s(?:Cent(?:er|re)|Clinic)|Clinic|Infirmary|Hospice|Rehab|Treatment\sCent(?:er|re)|"
        r"High\sSchool|Middle\sSchool|Elementary(?:\sSchool)?|Primary\sSchool|Academy|University|College|Church|"
        r"Cathedral|Temple|Mosque|Synagogue|Community\sCent(?:er|re)|Recovery\sCent(?:er|re)|Behavioral\sHealth|"
        r"Behavioural\sHealth)\b"), 0),
    # Catholic parishes, schools and hospitals: "Our Lady of Mercy", "Our Lady of the Lake"
    ("LOCATION", "our_lady_of", 51, re.compile(
        r"\bOur\sLady\sof\s(?:the\s)?[A-Z][a-z]{1,20}(?:\s[A-Z][a-z]{1,20}){0,2}\b"), 0),
    # a street corner: "on 5th and Pine", "at Main & 3rd" (one side a numbered street), "the corner of Oak and Elm"
    ("LOCATION", "street_corner", 50, re.compile(
        r"\b(?i:on|at|near|off)\s{1,3}((?:" + _ORD_STREET + r"\s{1,3}(?:and|&)\s{1,3}[A-Z][a-z]{2,20}|"
        r"[A-Z][a-z]{2,20}\s{1,3}(?:and|&)\s{1,3}" + _ORD_STREET + r")(?:\s{1,3}" + _STREET_SUFFIX + r"\b\.?)?)"), 1),
    # both streets named, where a place stands on the corner: "the coffee shop on King and Bay"
    ("LOCATION", "street_corner_place", 50, re.compile(
        r"\b(?i:shop|store|caf[eé]|bar|pub|restaurant|diner|office|station|stop|clinic|building|lights|apartment|"
        r"flat|house|place|motel|hotel|gym)\s{1,3}(?i:on|at)\s{1,3}([A-Z][a-z]{2,20}\s{1,3}(?:and|&)\s{1,3}"
        r"[A-Z][a-z]{2,20}(?:\s{1,3}" + _STREET_SUFFIX + r"\b\.?)?)"), 1),
    ("LOCATION", "street_corner_of", 50, re.compile(
        r"\b(?i:corner)\s{1,3}of\s{1,3}((?:" + _ORD_STREET + r"|[A-Z][a-z]{2,20})\s{1,3}(?:and|&)\s{1,3}(?:"
        + _ORD_STREET + r"|[A-Z][a-z]{2,20})(?:\s{1,3}" + _STREET_SUFFIX + r"\b\.?)?)"), 1),
    ("LOCATION", "university_of", 51, re.compile(r"\bUniversity\sof\s(?:[A-Z][a-z]{1,20}\s?){1,3}\b"), 0),
    ("LOCATION", "county", 50, re.compile(
        r"\b" + _DETERMINER + r"(?:[A-Z][a-z]{1,20}\s{1,3}){1,3}(?:County|Parish|Borough|Township)\b"), 0),
    ("LOCATION", "zip_cue", 50, re.compile(
        r"\b(?:zip|zip\s?code|postcode|post\s?code|postal\s{1,3}code)\b[^\w\n]{0,3}(?:is\s{1,3})?"
        r"(\d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2})", _I), 1),
    ("LOCATION", "zip_after_state", 50, re.compile(r"\b(?:" + _US_STATE_ABBR + r")\.?\s{1,2}(\d{5}(?:-\d{4})?)\b"), 1),
    # Irish Eircode: routing key and four characters from its alphabet, letters and digits mixed ("D08 XY12"), or
    # any after "Eircode" (see _valid)
    ("LOCATION", "eircode", 50, re.compile(r"\b(?:[ACDEFHKNPRTVWXY]\d{2}|D6W)\s?[0-9ACDEFHKNPRTVWXY]{4}\b"), 0),
    # Australian postcode after the suburb and state ("Marrickville NSW 2204"); the suburb must read as a place
    ("LOCATION", "postcode_after_au_state", 50, re.compile(
        r"\b([A-Z][a-z]{2,20}),?\s{1,2}(?:NSW|VIC|Vic|QLD|Qld|SA|WA|TAS|Tas|ACT|NT)\.?\s{1,2}(\d{4})\b(?![.:/-]?\d)"),
     2),
    # a six-digit PIN or postcode after a listed city or country at the end of an address (", Pune 411001",
    # ", Singapore 560123")
    ("LOCATION", "pin_after_place", 50, re.compile(
        r",\s{1,2}([A-Z][a-z]{2,20}(?:\s[A-Z][a-z]{2,20})?)\s{1,2}(?:[-–]\s{1,2})?(\d{6})\b"
        r"(?=\s{0,2}(?:[,.;:)\n]|$|(?:is|was|and)\b|[A-Z]))"), 2),
    ("LOCATION", "uk_postcode", 50, re.compile(r"\b(?:[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}|[A-Z]\d[A-Z]\s\d[A-Z]\d)\b"), 0),
    ("LOCATION", "city_state", 48, re.compile(
        r"\b((?:[A-Z][a-z]{2,20}\s){0,2}[A-Z][a-z]{2,20}),\s{1,2}(?:" + _US_STATE_ABBR + r")\b(?!')"), 1),
]
# patterns that cannot match text without a digit; skipped for such text (most conversational turns)
_NEEDS_DIGIT = {"ipv4", "ipv6", "id_cue", "ssn", "ni_number", "card", "iban", "phone_nanp", "phone_intl", "phone_uk",
                "phone_cue", "date_numeric", "date_iso", "date_month_year_numeric", "date_month_day", "date_day_month",
                "date_month_separated", "date_month_year", "date_cue_day_month", "phone_vanity", "id_reference",
                "discord_tag", "date_holiday_year", "age_years",
                "age_cue", "age_apposition", "id_hyphenated", "id_alnum", "id_slash", "id_digit_groups", "id_digits",
                "uk_plate", "street_address", "street_corner", "zip_cue", "zip_after_state", "uk_postcode", "eircode",
                "postcode_after_au_state", "pin_after_place"}

# cheap searches that must succeed before the costlier patterns that need them run: in ordinary text they succeed
# at once, and in text without them (1 MB of "1 1 1 ...") one scan replaces several
_GATES = {
    "month": re.compile(r"(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"),
    "id_cue": re.compile(r"\b(?i:mrn|medic|record|chart|case|claim|ref|certificate|prescription|rx|routing|card|group|"
                         r"policy|patient|member|subscriber|insurance|employee|student|device|nhs|ni|identification|id|"
                         r"account|acct|health|licen|plate|registration|passport|vin|serial|imei|badge|sort|iban|"
                         r"national|ssn|social|sin|aadhaa?r|crime|tax|tfn|crn|pps|nric|fin|nin|pan|nhi|tin|ein|itin|utr|"
                         r"bsn|cpf|nif|nie)"),
    "age": re.compile(r"\b(?:9\d|1[01]\d)\b"),
    "age_words": re.compile(r"(?i:ninety|hundred)"),
    # an ordinal day in figures or words ("the 14th", "the twenty-first")
    "ordinal": re.compile(r"\d(?:st|nd|rd|th)|(?i:eleventh|twelfth|teenth|twentieth|twenty|thirtieth|thirty)"),
    "holiday": re.compile(r"Christmas|Year|Valentine|Halloween|Thanksgiving|Easter|Good\sFriday|Day\b|Night\b|July|"
                          r"Hanukkah|Diwali|Passover|Rosh|Yom|Eid\b"),
    "underscore": re.compile(r"[A-Za-z0-9]_[A-Za-z0-9]"),
    "spelled_domain": re.compile(r"(?i:\bdot\s{1,2}(?:com|org|net|edu|gov|io|co|uk|us|ca|au|nz|ie|info)\b)"),
    "cap_and_cap": re.compile(r"[A-Z][a-z]{2,20}\s{1,3}(?:and|&)\s{1,3}[A-Z]"),
}
_GATED = {"date_month_day": "month", "date_day_month": "month", "date_month_year": "month", "date_cue_month": "month",
          "date_month_mid": "month", "date_month_subject": "month", "date_mid_month": "month",
          "date_month_separated": "month", "date_cue_ordinal": "ordinal", "date_weekday_ordinal": "ordinal",
          "date_is_ordinal": "ordinal", "date_ordinal_plan": "ordinal", "date_ordinal_word_month": "ordinal",
          "date_holiday_cue": "holiday", "id_cue": "id_cue", "age_years": "age", "age_cue": "age",
          "age_apposition": "age", "age_words_cue": "age_words", "age_words_years": "age_words",
          "username_underscore": "underscore", "url_spelled": "spelled_domain", "street_corner_place": "cap_and_cap"}

_DIGIT = re.compile(r"\d")

# North American toll-free numbers (800, 888, 877, 866, 855, 844, 833) belong to services, not to people: in this
# text they are the hotlines counsellors give (suicide prevention, domestic violence, Childhelp, Trans Lifeline),
# kept so that a model learns to give them. 988 and 911 are too short to match at all.
_TOLL_FREE = re.compile(r"8(?:00|88|77|66|55|44|33)\d{7}")
_TOLL_FREE_VANITY = re.compile(r"(?:1[\s.-]?)?8(?:00|88|77|66|55|44|33)[\s.-]")   # "1-800-4-A-CHILD"
_MEASURE_BEFORE = re.compile(r"(?i:rate|score|pressure|level|temperature|temp|weight|sugar|count|percent|bpm|oxygen|"
                             r"\biq|speed|mph|grade|mark|result|reading|saturation|glucose)\W{0,3}\w{0,5}\W{0,3}$")
_FIGURATIVE_BEFORE = re.compile(r"(?i:\b(?:feel|feels|feeling|felt|look|looks|looking|looked|like|act|acts|acting|"
                                r"acted)\s{1,3}(?:like\s{1,3})?(?:about\s{1,3}|almost\s{1,3}|nearly\s{1,3})?)$")
_UNITS = re.compile(r"(?i)\d(?:mg|mcg|ml|kg|lbs?|km|mi|hrs?|mins?|k|s|th|st|nd|rd|am|pm|x|gb|mb|px|p)$")
_WEEKDAY_START = re.compile(_WEEKDAY_CUE)
_EXTENSION_SPLIT = re.compile(r"\s{0,2},?\s{0,2}(?i:ext\.?|extension|x)\s{0,2}\d{1,5}$")
_DOMAIN_END = re.compile(r"\.(?:com|org|net|edu|gov|io|co|uk|us|ca|au|info|me)$", re.IGNORECASE)
_NOT_EMAIL_LOCAL = {"is", "are", "was", "me", "us", "it", "them", "him", "her", "you", "be", "am", "group", "site"}
_MONTH_ABBR = {"Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec"}


def _valid(rule: str, m: re.Match[str], value: str) -> bool:
    """The checks a regular expression cannot make cheaply."""
    if rule.startswith(("phone", "id_")):
        # the number without its extension: "1-800-273-8255 ext. 2" is still a helpline
        digits = re.sub(r"\D", "", _EXTENSION_SPLIT.sub("", value) if rule.startswith("phone") else value)
        if digits.startswith("1") and len(digits) == 11:
            digits = digits[1:]
        if _TOLL_FREE.fullmatch(digits) or _TOLL_FREE_VANITY.match(value):
            return False
    if rule.startswith("phone"):
        if rule == "phone_spelled":
            return True
        if rule == "phone_intl":
            return 8 <= len(digits) <= 15
        if rule == "phone_uk":
            # a one-digit area code in brackets takes a seven-digit number: "(09) 555 0172", "(01) 555 0142"
            return 10 <= len(digits) <= 11 or (len(digits) == 9 and value.startswith("(0"))
        return True
    if rule == "date_numeric":
        a, b = int(m.group(1)), int(m.group(3))
        return 1 <= a <= 31 and 1 <= b <= 31 and (a <= 12 or b <= 12)
    if rule == "date_cue_day_month":
        a, b = (int(x) for x in value.split("/"))
        if b == 10 and a <= 10 and _WEEKDAY_START.match(m.group(0)):
            return False   # "Monday 7/10, Tuesday 3/10": a mood diary's scores out of ten
        return value != "24/7" and 1 <= a <= 31 and 1 <= b <= 31 and (a <= 12 or b <= 12)
    if rule == "ipv6":
        if value.count(":") < 7 and "::" not in value or sum(c.isalnum() for c in value) < 3:
            return False
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            return False
        return True
    if rule in ("age_cue", "age_words_cue"):
        # "my resting heart rate is 95", "her score was 98": a measurement, not an age
        return not _MEASURE_BEFORE.search(m.string, max(0, m.start() - 30), m.start() + 1)
    if rule == "age_words_years":
        # "today I feel a hundred years old" is a figure of speech
        return not _FIGURATIVE_BEFORE.search(m.string, max(0, m.start() - 30), m.start())
    if rule == "id_cue":
        # after a comma ("my NIN, 12345678901") only a long number: "on my account, 2019 was hard" is no account number
        if "," in m.string[m.start():m.start(1)]:
            return sum(c.isdigit() for c in value) >= 5 and not re.fullmatch(_YEAR, value)
        return sum(c.isdigit() for c in value) >= 2
    if rule == "id_reference":
        digits = sum(c.isdigit() for c in value)
        # "BK7Q2X", "REF-8812"; not "the 2019 booking", "order 2x", "ticket 10am"
        return ((digits >= 4 or (digits >= 1 and any(c.isalpha() for c in value))) and not re.fullmatch(_YEAR, value)
                and not (re.fullmatch(r"\d{1,30}[A-Za-z]{1,30}", value) and _UNITS.search(value)))
    if rule == "id_hyphenated":
        digits = sum(c.isdigit() for c in value)
        return digits >= 5 and (any(c.isalpha() for c in value) or value.count("-") >= 2)
    if rule == "id_alnum":
        digits = sum(c.isdigit() for c in value)
        letters = sum(c.isalpha() for c in value)
        # "2000million", "1000mg", "1990s" are amounts and decades, not codes
        return (digits >= 4 and letters >= 1 and not _UNITS.search(value)
                and not re.fullmatch(r"\d{1,30}[a-z]{1,30}", value))
    if rule == "id_slash":
        groups = value.split("/")
        n_digits = sum(c.isdigit() for c in value)
        # "CR/2024/118842", "4410093/24"; not "12/06/2024", "3/10", "2019/2020"
        return n_digits >= 5 and (any(c.isalpha() for c in value) or any(len(g) >= 5 and g.isdigit() for g in groups))
    if rule == "id_digit_groups":
        return sum(c.isdigit() for c in value) >= 10
    if rule == "email_spelled":
        # "the group is at www dot example dot org" is a web address, not an e-mail to "is"
        local, _, domain = re.split(r"\s{0,2}(\[at\]|\(at\)|\sat\s)\s{0,2}", value, maxsplit=1, flags=re.I)
        return not domain.lower().startswith("www") and local.lower() not in _NOT_EMAIL_LOCAL
    if rule == "handle":
        return not _DOMAIN_END.search(value)
    if rule == "username_cue":
        v = value.lstrip("@")
        # "my username is private" is no username; "nightowl92", "quiet.storm", "quietstorm" are
        return not v.isdigit() and (any(c.isdigit() or c in "_." for c in v) or v.lower() not in _english())
    if rule == "username_underscore":
        return any(c.isalpha() for c in value) and len(value) >= 5
    if rule == "building":
        words = re.findall(r"[A-Z][a-z]+", value)[:-1]
        return bool(re.match(r"(?:Flat|Apt|Apartment|Unit|Suite)\b", value)) or any(
            w.lower() not in _english() and w not in _NEVER_NAME for w in words if w not in ("Flat", "Apt", "Unit"))
    if rule == "eircode":
        unique = value[-4:]
        return (any(c.isalpha() for c in unique) and any(c.isdigit() for c in unique)) or re.search(
            r"(?i:eircode)\W{0,3}(?:is\s{1,3})?$", m.string[max(0, m.start() - 16):m.start()]) is not None
    if rule == "postcode_after_au_state":
        w = m.group(1)
        return w in _places() or (w.lower() not in _english() and w not in _NEVER_NAME and w not in _MONTH_NAMES)
    if rule == "pin_after_place":
        name = m.group(1)
        return name in _places() or name in _states_countries() or name.split()[-1] in _places()
    if rule == "street_corner_place":
        # streets are named by words, names and places ("King and Bay", "Oak and Elm"); "on Etsy and Depop" is no corner
        words = re.findall(r"[A-Z][a-z]+", value)
        if not all(w.lower() in _english() or w in _first_names() or w in _surnames() or w in _places() for w in words):
            return False
    if rule in ("street_corner", "street_corner_of", "street_corner_place"):
        words = re.findall(r"[A-Z][a-z]+", value)
        return not any(w in _NEVER_NAME or w in _MONTH_NAMES or w in _MONTH_ABBR for w in words)
    if rule == "city_state":
        words = value.split()
        return not any(w in _NEVER_NAME or w in _WEEKDAYS for w in words)
    return True


# ---------------------------------------------------------------------------------------------------------------
# Names and places: one pass over the capitalised words

# a capitalised word, not the first half of a contraction ("Don't") nor part of an address, handle or path
# (a lower-case part after a hyphen too: "Min-jun", "Self-care")
# Letters with diacritics count ("Siobhán Ní Bhriain", "Zoë"); the word lists are ASCII, so such a word is found by
# its cue or its neighbours, not by a list.
_UP = "A-ZÀ-ÖØ-Þ\u0100-\u017f"   # Latin Extended-A mixes cases: tokens whose first letter is lower case are dropped
_LO = "a-zß-öø-ÿ\u0100-\u017f"
_CAP_TOKEN = re.compile(r"(?<![\w@#/.’'-])(?:Mc|Mac|O['’]|D['’])?[" + _UP + "][" + _LO + "]{1,24}"
                        r"(?:-[" + _UP + "][" + _LO + "]{1,24}|-[a-z]{2,24})?(?![\w@])"
                        r"(?!['’](?:t|ll|re|ve|d|m)\b|\.[A-Za-z]{2})")
_BEFORE = 48   # characters of left context a cue is looked for in

_TITLE_WORDS = ("Doctor Professor Nurse Pastor Rabbi Coach Aunt Auntie Uncle Grandma Grandpa Grandad Granddad Granny "
                "Gran Nana Nanna Cousin Stepdad Stepmom Stepmum Stepfather Stepmother Officer Judge Detective Captain "
                "Sister Brother Father").split()
_TITLE_BEFORE = re.compile(r"(?:\b(?:Dr|Mr|Mrs|Ms|Mx|Miss|Prof|Rev|Fr)\.?|\b(?:" + "|".join(_TITLE_WORDS) + ")) $")
# "named" and "called" precede medicines and things as often as people: after them only a listed first name counts
_WEAK_NAME_CUE_BEFORE = re.compile(r"(?i:\b(?:named|called))\s{1,3}$")
_NAME_CUE_BEFORE = re.compile(
    r"(?i:\b(?:my\s+name\s+is|my\s+name's|name\s+is|name's|call\s+me|i'm\s+called|i\s+am\s+called|"
    r"signed|sincerely,?|regards,?|best\s+wishes,?|warm\s+regards,?|warmly,?|take\s+care,?|cheers,?|love,?|"
    r"attention:?|attn:?|c/o))\s{1,3}$")
_GREETING_BEFORE = re.compile(r"(?i:\b(?:hi|hello|hey|dear|thanks|thank\s+you|bye|goodbye|morning|welcome)),?\s{1,3}$")
_IM_BEFORE = re.compile(r"\b(?:I['’]m|I\s+am|Im|this\s+is|This\s+is|it's|It's)\s$")
_RELATION = (r"(?:husband|wife|spouse|son|daughter|kid|child|baby|mom|mum|mother|dad|father|stepfather|stepmother|"
             r"stepdad|stepmom|stepmum|stepson|stepdaughter|brother|sister|brother-in-law|sister-in-law|mother-in-law|"
             r"father-in-law|twin|friend|boyfriend|girlfriend|partner|fiance|fiancé|fiancee|fiancée|ex|ex-husband|"
             r"ex-wife|ex-boyfriend|ex-girlfriend|therapist|counselor|counsellor|psychiatrist|psychologist|doctor|"
             r"GP|nurse|social\s+worker|boss|manager|supervisor|coworker|co-worker|colleague|teacher|coach|pastor|"
             r"aunt|uncle|cousin|nephew|niece|grandma|grandmother|grandpa|grandfather|grandad|granddad|granny|gran|"
             r"nan|nana|nanna|granddaughter|grandson|"
             r"grandchild|roommate|flatmate|neighbou?r|abuser|client|patient|landlord|lawyer|caseworker|"
             r"mate|pal|buddy|bestie|bff|bf|gf|classmate|housemate|teammate|sponsor|mentor|carer|caregiver|sibling|"
             r"stepbrother|stepsister|half-brother|half-sister|godmother|godfather)")
# "my", "our" ..., or a possessive ("the client's partner", "Sarah's boyfriend")
_RELATION_CUE = (r"(?i:\b(?:my|our|his|her|their|your|[a-z]{1,20}['’]s)\s+(?:(?:late|ex-?|older|younger|little|big|"
                 r"eldest|oldest|youngest|elder|best|new|old|former|current|step-?|birth|biological|adoptive|foster|"
                 r"estranged|\d{1,2}-year-old)\s+){0,2}" + _RELATION +
                 r"(?:'s\s+(?:friend|name\s+is)|\s+(?:is|was|named|called))?)(?:,?\s{1,3}|\s{0,2}\(\s{0,2})")
# a relation or role with the name in brackets, possessive or not: "lives with son (Arjun)", "manager (Greg Whitfield)"
_RELATION_BEFORE = re.compile(_RELATION_CUE + "$")
_RELATION_PAREN_BEFORE = re.compile(r"(?i:\b" + _RELATION + r")\s{0,2}\(\s{0,2}$")


def _relation_before(before: str) -> bool:
    """Whether `before` ends with a relation cue; the bracket form is searched only where a bracket ends it."""
    return _RELATION_BEFORE.search(before) is not None or (
        before.rstrip(" ").endswith("(") and _RELATION_PAREN_BEFORE.search(before) is not None)
_PLACE_CUE = (r"(?i:\b(?:in|from|near|around|outside|nearby|visiting|visit|to\s+visit|live\s+in|lives\s+in|lived\s+in|"
              r"born\s+in|grew\s+up\s+in|moved\s+(?:back\s+)?to|move\s+to|moving\s+to|relocated\s+to|back\s+to|"
              r"went\s+to|go\s+to|going\s+to|drive\s+to|drove\s+to|flew\s+to|fly\s+to|trip\s+to|commute\s+to|"
              r"commutes\s+to|based\s+in|north\s+of|south\s+of|east\s+of|west\s+of|downtown))\s{1,3}")
_PLACE_CUE_BEFORE = re.compile(_PLACE_CUE + "$")
# where someone lives, comes from or moved to: after these, a capitalised word in no list or dictionary is a place
_HOME_CUE_BEFORE = re.compile(
    r"(?i:\b(?:live[sd]?|living|grew\s+up|born|raised|based|settled|place|house|flat|home|apartment|village|town|"
    r"suburb|moved|move|moving|relocated|relocating|originally|comes|came)\s+(?:in|to|from)|\bmoved\s+back\s+to)"
    r"\s{1,3}$")
# chat text is often all lower case ("my sister kayleigh", "i live in fresno"); a lower-case word is a name or a
# place only right after a cue and only if it is in the lists and not an English word (without a cue, the lower-case
# words in the lists are mostly Spanish and chat: "tu", "una", "ok")
_LOWER_WORD = re.compile(r"(?<![\w@#/.’'-])[a-z]{2,24}(?![\w@'’-])")
_LOWER_NAME_CUE_BEFORE = re.compile(r"(?:(?i:\b(?:my\s+name\s+is|my\s+name's|i'm|i\s+am|call\s+me|named|called|hi|"
                                    r"hello|hey|dear|ran\s+into|run\s+into|running\s+into|bumped\s+into|"
                                    r"met\s+up\s+with|hang(?:ing)?\s+out\s+with|hung\s+out\s+with|texted|dating))|"
                                    r"\b(?:me|you|him|her|us|them)\s+and)\s{1,3}$")
# a name's initial after it: "jake m", "Jake M."
_LOWER_INITIAL_AFTER = re.compile(r" [b-hj-np-tv-wz](?=[ ,;:!?]|$)")
_INITIAL_AFTER = re.compile(r" (?![AI]\b)[A-Z](?:\.(?= \w))?(?=[ ,;:!?.]|$)")
# the last word of every cue above: a capitalised word after any other word skips the cue expressions, which keeps
# text with many capitalised words (titles, 1 MB of "Aa Aa Aa") linear and fast
_CUE_LAST_WORDS = frozenset(
    "dr mr mrs ms mx miss prof rev fr doctor professor nurse pastor rabbi coach aunt auntie uncle grandma grandpa nana "
    "officer judge detective captain sister brother father is name's me named called signed sincerely regards wishes "
    "warmly care cheers love attention attn c/o hi hello hey dear thanks you bye goodbye morning welcome i'm i’m am im "
    "it's in from near around outside nearby visiting visit to of downtown and".split()
    + re.findall(r"[a-z][a-z-]*", _RELATION.replace("(?:", " ").replace("|", " ")))
# lower-case particles inside a name: "Pieter van der Merwe", "Maria Luisa dela Cruz", "Omar bin Said"
_PARTICLE_GAP = re.compile(r" (?:(?:van|von|der|den|de|del|della|dela|da|das|dos|du|di|la|le|bin|binti|ibn|bint|al|el|"
                           r"ter|ten) ){1,2}")
_AFTER_LOWER_WORD = re.compile(r"\b[a-z]{1,20} $")
_NEXT_CAP = re.compile(r" ([A-Z][a-z]{1,24})\b")
_SPEECH_AFTER = re.compile(r"\s(?:said|says|told|tells|asked|asks|texted|yelled|screamed|replied|wrote)\b")
_CREDENTIAL = re.compile(
    r"\b((?:[A-Z][a-z'-]{1,20}[ \xa0]{1,2}|[A-Z]\.[ \xa0]{1,2}){0,3}[A-Z][a-z'-]{1,20}),?\s"
    r"(?:LMFT|LCSW|LPC|LPCC|LMHC|LCPC|LICSW|LMSW|LPC-S|MFT|MSW|PhD|Ph\.D\.|PsyD|Psy\.D\.|MD|M\.D\.|MA|MS|M\.A\.|M\.S\.|MEd|EdD|DBH|NCC|RN|LCADC|CADC|ATR|BCBA|LADC|LISW|LCMHC|"
    r"LSW|LAC|CSW|LMHCA|LPCA|LPC-MHSP|CCTP|CSAT|CEDS)(?![\w-])")
# the last word of an employer's, shop's or landmark's name; the first word of a lake's or mountain's
_ORG_SUFFIX = frozenset({
    "Insurance", "Electronics", "Freight", "Logistics", "Motors", "Industries", "Technologies", "Systems", "Solutions",
    "Consulting", "Manufacturing", "Construction", "Foods", "Pharmaceuticals", "Bank", "Bakery", "Pharmacy",
    "Supermarket", "Restaurant", "Hotel", "Mall", "Plaza", "Beach", "Pier", "Zoo", "Stadium", "Arena", "Park",
    "Lake", "Airport", "Library", "Museum", "Bridge", "Tower", "Station", "Market", "Cemetery", "Castle", "Quay",
    "Wharf", "Inc", "Ltd", "LLC", "Corp", "Corporation", "Associates", "Partners"})
_PERSON_SUFFIX = frozenset({"Park", "Lake", "Beach", "Bank"})   # surnames too: "Sarah Park" is a person
_PLACE_PREFIX = frozenset({"Lake", "Mount", "Mt"})
# words that start no such name: function words, days, months, faiths, and words of title-case headlines
_ORG_STOP = _NEVER_NAME | _MONTH_NAMES | {
    "A", "An", "At", "In", "On", "To", "From", "Of", "For", "And", "Or", "But", "Is", "Was", "Go", "Went", "Get", "Got",
    "New", "Old", "Big", "Local", "National", "State", "Federal", "Public", "Private", "Health", "Life", "Car", "Home"}
_GENERAL_BEFORE = re.compile(r"(?i:\b(?:from|to|at|in|into)) $")
_NOT_HOSPITAL_GENERAL = {"Attorney", "Surgeon", "Secretary", "Major", "Brigadier", "Lieutenant", "Inspector",
                         "Solicitor", "Postmaster", "Governor", "Consul", "Adjutant", "Accountant", "Auditor"}
_SPANISH_FUNCTION_WORDS = frozenset("el los las que con para por una es soy y en del muy más su sus mi tu pero como "
                                    "este esta está son".split())
# words shaped like derived common words, English or Spanish ("Interpersonal Neurobiology", "Terapia Narrativa"),
# which a capitalised pair of unlisted words must not hold
_DERIVED_WORD = re.compile(r"(?i:.{2,}(?:ción|sión|dad|ismo|mente|ología|ional|ual|ivo|iva|ados|idos|encia|ancia|"
                           r"ogy|ness|ity|ism|ment|tion|sion|ence|ance|ship|ical|ous|able|ible|ive))$")
_SEGMENT = re.compile(r"[^.!?\n]{1,100000}")
_INITIAL_CHARS = set('.!?:;"“”(\n-–—*•>[')


class _Names:
    """Name and place findings of one text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.first, self.surnames, self.places = _first_names(), _surnames(), _places()
        self.geo, self.english = _states_countries(), _english()
        self._segments: list[tuple[int, int, bool, bool]] | None = None
        self._spanish_text: bool | None = None

    def _title_case(self, pos: int) -> bool:
        """Whether the sentence around pos Has Most Words Capitalised, as counsel-chat question titles do: there a
        capital says nothing about a name."""
        return self._segment_flags(pos)[0]

    def _spanish(self, pos: int) -> bool:
        """Whether the sentence around pos, or the whole text, is Spanish (two of its function words, or ¿ ¡ ñ), as
        some counsel-chat answers are: there capitalised words in no English dictionary say nothing about a name."""
        if self._spanish_text is None:
            words = self.text.split()
            n = sum(w.lower().strip(".,;:!?¿¡()") in _SPANISH_FUNCTION_WORDS for w in words)
            self._spanish_text = (n >= 2 and n >= 0.02 * len(words)) or any(c in self.text for c in "¿¡ñÑ")
        return self._spanish_text or self._segment_flags(pos)[1]

    def _segment_flags(self, pos: int) -> tuple[bool, bool]:
        if self._segments is None:
            self._segments = []
            for m in _SEGMENT.finditer(self.text):
                all_words = m.group().split()
                words = [w for w in all_words if len(w) > 3 and w[0].isalpha()]
                caps = sum(w[0].isupper() for w in words)
                spanish = sum(w.lower() in _SPANISH_FUNCTION_WORDS for w in all_words) >= 2
                self._segments.append((m.start(), m.end(), len(words) >= 3 and caps / len(words) >= 0.6, spanish))
        i = bisect.bisect_right(self._segments, (pos, float("inf"), True, True)) - 1
        if i >= 0 and self._segments[i][0] <= pos < self._segments[i][1]:
            return self._segments[i][2], self._segments[i][3]
        return False, False

    def _initial(self, start: int) -> bool:
        j = start - 1
        while j >= 0 and self.text[j].isspace() and self.text[j] != "\n":
            j -= 1
        return j < 0 or self.text[j] in _INITIAL_CHARS

    def _is_word(self, w: str) -> bool:
        lw = w.lower()
        # the word list has no hyphenated words: "Self-care" and "Follow-up" are words, "Min-jun" is not
        return lw in self.english or ("-" in lw and all(p in self.english for p in lw.split("-")))

    def find(self) -> list[tuple[int, int, str, str, int]]:
        text = self.text
        tokens = [(m.start(), m.end(), m.group()) for m in _CAP_TOKEN.finditer(text) if m.group()[0].isupper()]
        out: list[tuple[int, int, str, str, int]] = []
        i = 0
        while i < len(tokens):
            s, e, w = tokens[i]
            before = text[max(0, s - _BEFORE):s]
            # a place of several words ("San Antonio", "Salt Lake City") is a place wherever it stands
            place_len, is_geo = self._place_run(tokens, i) if w in _place_heads() else (1, False)
            if place_len > 1:
                # a state or country of several words ("Puerto Rico", "New York") is allowed and skipped whole
                if not is_geo:
                    out.append((s, tokens[i + place_len - 1][1], "LOCATION", "gazetteer_place", 40))
                i += place_len
                continue
            found = self._classify(tokens, i, w, before)
            if found is None:
                i += 1
                continue
            kind, rule, prio = found
            end_i = i
            end = e
            if kind == "NAME":
                end_i = self._extend_name(tokens, i, strong=rule != "gazetteer_name")
                end = tokens[end_i][1]
                # an initial after the name ("Jake M. said", "Jake M. Smith"); before another capitalised word only
                # when that word reads as a surname
                initial = _INITIAL_AFTER.match(text, end)
                if initial:
                    nxt = _NEXT_CAP.match(text, initial.end())
                    if nxt is None:
                        end = initial.end()
                    elif ((nxt.group(1) in self.surnames or not self._is_word(nxt.group(1)))
                          and nxt.group(1) not in _NEVER_NAME and nxt.group(1) not in _MONTH_NAMES):
                        end = nxt.end(1)
                    else:
                        end = initial.start() + 2   # "I told Jessica B. The next day": the letter, not the full stop
            out.append((s, end, kind, rule, prio))
            i = end_i + 1
        out.extend(self._lower_case())
        out.extend(self._organisations(tokens))
        for m in _CREDENTIAL.finditer(text):
            start, words = m.start(1), m.group(1).split()
            # "Best wishes Laura Cassity, LMFT": leading plain words are the closing, not the name
            while len(words) > 1 and self._is_plain_word(words[0], allow_names=True):
                start = text.index(words[1], start + len(words[0]))
                words = words[1:]
            if (not any(w in _NEVER_NAME for w in words) and not self._is_plain_word(words[0], allow_names=True)
                    and " ".join(words) not in self.places):
                # above "City, ST", which would read "Christiane Northrup, MD" as a place in Maryland
                out.append((start, m.end(1), "NAME", "credential", 49))
        return out

    def _organisations(self, tokens: list[tuple[int, int, str]]) -> list[tuple[int, int, str, str, int]]:
        """Employers, shops and landmarks named by their last word ("Northgate Insurance", "Phoenix Mall", "Bondi
        Beach") or first ("Lake Merritt", "Mount Sinai"), and hospitals by "General" after a place word ("from Mercy
        General"). The other words must read as a name: not all plain English ("Life Insurance", "Central Park")."""
        found = []
        text = self.text
        for i, (s, e, w) in enumerate(tokens):
            if w in _ORG_SUFFIX or w == "General":
                j = i
                while j > 0 and i - j < 3 and tokens[j - 1][1] + 1 == tokens[j][0] and text[tokens[j - 1][1]] == " " \
                        and tokens[j - 1][2] not in _ORG_STOP:
                    j -= 1
                if j < i and self._organisation_words(w, [t[2] for t in tokens[j:i]], tokens[j][0], s):
                    found.append((tokens[j][0], e, "LOCATION", "organisation", 43))
            if w in _PLACE_PREFIX and i + 1 < len(tokens) and tokens[i + 1][0] == e + 1 and text[e] == " ":
                nxt = tokens[i + 1][2]
                if nxt not in _ORG_STOP and (not self._is_word(nxt) or (
                        (nxt in self.surnames or nxt in self.places) and not self._title_case(s))):
                    found.append((s, tokens[i + 1][1], "LOCATION", "organisation", 43))
        return found

    def _organisation_words(self, last: str, words: list[str], start: int, pos: int) -> bool:
        """Whether `words` before `last` ("Northgate" of "Northgate Insurance") make the name of a place."""
        if last == "General":
            return (_GENERAL_BEFORE.search(self.text, max(0, start - 8), start) is not None
                    and words[-1] not in _NOT_HOSPITAL_GENERAL)
        if last in _PERSON_SUFFIX and len(words) == 1 and words[0] in self.first and words[0] not in self.places:
            return False   # "Sarah Park", "Tom Lake": a person
        # a word in no dictionary is evidence enough; a listed name or place that is also a word ("Mercy", "Phoenix")
        # is not, in a title-case line
        return any(not self._is_word(x) for x in words) or (
            any(x in self.surnames or x in self.first or x in self.places for x in words) and not self._title_case(pos))

    def _lower_case(self) -> list[tuple[int, int, str, str, int]]:
        found = []
        text = self.text
        place_heads = _place_heads()
        for m in _LOWER_WORD.finditer(text):
            w, s = m.group(), m.start()
            cap = w.capitalize()
            is_name = cap in self.first and w not in self.english and cap not in _NEVER_NAME and cap not in self.geo
            if not is_name and cap not in place_heads:
                continue
            before = text[max(0, s - _BEFORE):s]
            if is_name and (_relation_before(before) or _LOWER_NAME_CUE_BEFORE.search(before)):
                initial = _LOWER_INITIAL_AFTER.match(text, m.end())
                found.append((s, initial.end() if initial else m.end(), "NAME", "cue_lower_case", 44))
            elif cap in place_heads and _PLACE_CUE_BEFORE.search(before):
                # the longest run of words that is a listed place: "san antonio", then "san"
                words = text[s:s + 80].split()[:3]
                for n in range(len(words), 0, -1):
                    run = [x.strip(".,;:!?") for x in words[:n]]
                    name = " ".join(x.capitalize() for x in run)
                    if (all(x.isalpha() and x.islower() for x in run) and name in self.places and name not in self.geo
                            and (n > 1 or w not in self.english)):
                        found.append((s, s + len(" ".join(words[:n - 1] + [run[-1]])), "LOCATION", "cue_lower_case", 41))
                        break
        return found

    def _place_run(self, tokens: list[tuple[int, int, str]], i: int) -> tuple[int, bool]:
        """(number of words, whether a state or country) of the longest place name starting at token i."""
        for n in (4, 3, 2):
            if i + n <= len(tokens) and all(tokens[k + 1][0] - tokens[k][1] == 1 and self.text[tokens[k][1]] == " "
                                            for k in range(i, i + n - 1)):
                name = " ".join(t[2] for t in tokens[i:i + n])
                if name in self.geo:
                    return n, True
                if name in self.places:
                    return n, False
        return 1, False

    def _classify(self, tokens, i, w, before) -> tuple[str, str, int] | None:
        """(type, rule, priority) of capitalised word i, or None: cues first, then the word lists."""
        s, e, _ = tokens[i]
        if w in _NEVER_NAME or w in _PUBLIC_FIGURES:
            return None
        if w in _TITLE_WORDS and _NEXT_CAP.match(self.text, e):
            return None   # "Nana Dot": the kinship word is the title of the name after it
        is_month = w in _MONTH_NAMES
        if is_month and re.match(r"\s{0,2}\d", self.text[e:e + 3]):
            return None
        words_before = before.rstrip(" \t,:(").rsplit(None, 1)
        prev = words_before[-1].rstrip(".").lower() if words_before else ""
        found = self._cued(w, s, e, before, is_month) if prev in _CUE_LAST_WORDS else None
        if found is not None:
            return found
        if is_month or w in self.geo:
            return None
        word = self._is_word(w)
        if w in self.first and w not in _WORD_NOT_NAME:
            if not word or w in _NAME_DESPITE_WORD:
                return "NAME", "gazetteer_name", 35
            # "Grace", "Will", "Hope": a name only mid-sentence after a lower-case word ("I told Grace"), not after
            # "the", and not as the first word of a capitalised phrase ("Love Languages")
            nxt = _NEXT_CAP.match(self.text, e)
            if (_AFTER_LOWER_WORD.search(before) and not before.endswith(("the ", "a ", "an ")) and not self._title_case(s)
                    and (nxt is None or nxt.group(1) in self.surnames)):
                return "NAME", "gazetteer_name", 35
            return None
        if w in self.places and not word:
            return "LOCATION", "gazetteer_place", 38
        if not word and not self._title_case(s) and _SPEECH_AFTER.match(self.text, e) and (
                not self._initial(s) or (w not in _WORD_NOT_NAME and w not in self.geo and w not in self.places)):
            # "Rahul said he'd meet me": at the start of a sentence too, where a listed place or word is not a name
            return "NAME", "cue_speech", 34
        if (not word and w not in _WORD_NOT_NAME and w not in _TITLE_WORDS and w not in self.places
                and w not in self.geo and not self._title_case(s) and not self._spanish(s)
                and self._unlisted_pair(tokens, i)):
            # two or three capitalised words in no list or dictionary ("Sione Taufa", "Pieter van der Merwe", "Siobhán
            # Ní Bhriain"), at the start of a sentence too; one such word alone is as often a brand or a medicine
            return "NAME", "unlisted_name", 33
        return None

    def _unlisted_pair(self, tokens, i: int) -> bool:
        """Whether the capitalised word after token i, one space or a particle ("van der") away, is in no dictionary
        and no list of places: with token i (itself no word), the two read as a person's names."""
        if i + 1 >= len(tokens) or tokens[i][2] in _ORG_STOP:
            return False
        s_next, _, w_next = tokens[i + 1]
        gap = self.text[tokens[i][1]:s_next]
        if any(x not in self.first and x not in self.surnames and _DERIVED_WORD.match(x)
               for x in (tokens[i][2], w_next)):
            return False
        return ((gap == " " or _PARTICLE_GAP.fullmatch(gap) is not None) and not self._is_word(w_next)
                and w_next not in self.places and w_next not in self.geo and w_next not in _ORG_STOP
                and w_next not in _ORG_SUFFIX and w_next not in _PUBLIC_FIGURES)

    def _cued(self, w: str, s: int, e: int, before: str, is_month: bool) -> tuple[str, str, int] | None:
        """A name or place told by the words before it ("Dr.", "my husband", "Hi ...,", "moved to")."""
        if _TITLE_BEFORE.search(before):
            return "NAME", "cue_title", 47
        if _NAME_CUE_BEFORE.search(before) and not self._is_plain_word(w):
            return "NAME", "cue_name", 46
        if _WEAK_NAME_CUE_BEFORE.search(before) and w in self.first and not self._is_plain_word(w):
            return "NAME", "cue_name", 46
        if _GREETING_BEFORE.search(before) and re.match(r"(?:\s[A-Z][a-z]{1,24})?\s{0,2}(?:[,!.:;?]|$)",
                                                        self.text[e:e + 30]):
            # counsel-chat answers greet the asker by where they wrote from: "Hi Houston," is a place
            if w in self.geo:
                return None
            if w in self.places and w not in self.first:
                return "LOCATION", "cue_greeting_place", 46
            if not self._is_plain_word(w):
                return "NAME", "cue_greeting", 46
        if _relation_before(before) and not self._is_plain_word(w, allow_names=True):
            return "NAME", "cue_relation", 46
        if _IM_BEFORE.search(before) and not is_month and (w not in self.geo or w in self.first):
            followed = re.match(r"\s{0,2}(?:[,.!?]|and\b|from\b|$)", self.text[e:e + 8])
            if (w in self.first and (not self._is_word(w) or followed)) or (not self._is_word(w) and followed):
                return "NAME", "cue_im", 45
        if _PLACE_CUE_BEFORE.search(before) and w in self.places and w not in self.geo:
            return "LOCATION", "cue_place", 42
        if (_HOME_CUE_BEFORE.search(before) and not self._is_word(w) and w not in self.first and w not in self.places
                and w not in self.geo and w not in _PUBLIC_FIGURES
                and not re.match(r"['’]s\b|[ -][A-Z]", self.text[e:e + 3])):
            # "my cousin's place in Ikeja", "since I moved to Stellenbosch": a town too small for the list
            return "LOCATION", "cue_home_place", 42
        return None

    def _is_plain_word(self, w: str, allow_names: bool = False) -> bool:
        """An English word that is not also a first name ("There", "Everyone"); with allow_names, "Will" and
        "Grace" count as names, as they do after "my husband"."""
        if w in _NEVER_NAME:
            return True
        if w in self.first and (allow_names or not self._is_word(w)):
            return False
        return self._is_word(w) and w not in self.surnames

    def _extend_name(self, tokens, i: int, strong: bool) -> int:
        """Join up to two following capitalised words that read as the rest of the name ("Sarah Johnson")."""
        j = i
        while j + 1 < len(tokens) and j - i < 2:
            s_next, _, w_next = tokens[j + 1]
            gap = self.text[tokens[j][1]:s_next]
            if w_next in _NEVER_NAME or w_next in _MONTH_NAMES or w_next in self.geo:
                break
            if gap != " " and not (_PARTICLE_GAP.fullmatch(gap)
                                   and (w_next in self.surnames or not self._is_word(w_next))):
                break
            if w_next in self.surnames or (w_next in self.first and not self._is_word(w_next)) or (
                    strong and not self._is_word(w_next) and w_next not in self.places):
                j += 1
            else:
                break
        return j


# ---------------------------------------------------------------------------------------------------------------
# The API


def _candidates(text: str) -> list[tuple[int, int, str, str, int]]:
    has_digit = _DIGIT.search(text) is not None
    gates: dict[str, bool] = {}
    found: list[tuple[int, int, str, str, int]] = []
    for kind, rule, prio, pattern, group in _PATTERNS:
        if rule in _NEEDS_DIGIT and not has_digit:
            continue
        gate = _GATED.get(rule)
        if gate is not None:
            if gate not in gates:
                gates[gate] = _GATES[gate].search(text) is not None
            if not gates[gate]:
                continue
        for m in pattern.finditer(text):
            s, e = m.span(group)
            value = text[s:e]
            if kind == "URL":
                # trailing punctuation belongs to the sentence, and a closing bracket to the text around the URL
                stripped = value.rstrip(".,;:!?'\"")
                if stripped.endswith(")") and stripped.count("(") < stripped.count(")"):
                    stripped = stripped[:-1]
                e = s + len(stripped)
                value = stripped
            if e > s and _valid(rule, m, value):
                found.append((s, e, kind, rule, prio))
    found.extend(_address_localities(text, found))
    found.extend(_Names(text).find())
    return found


# the neighbourhood and town of an address, written after it between commas: "27 Elmwood Road, Headingley, Leeds LS6"
_LOCALITY_AFTER = re.compile(r",[ \t]{1,2}((?:[A-Z][a-z'’]{1,20}[ -]){0,2}[A-Z][a-z'’]{1,20})"
                             r"(?=[ \t]{0,2}(?:[,;.\n]|$)|[ \t]{1,2}(?:[A-Z]{2,3}\b|[A-Z]{1,2}\d|\d{4,6}\b))")


def _address_localities(text: str, found: list[tuple[int, int, str, str, int]]) -> list[tuple[int, int, str, str, int]]:
    """Up to three comma-separated place names right after a street address or building; a state, country, month or
    word that is never a name ends the run."""
    out = []
    for _, end, _, rule, _ in found:
        if rule not in ("street_address", "building"):
            continue
        pos = end
        for _ in range(3):
            m = _LOCALITY_AFTER.match(text, pos)
            if m is None:
                break
            words = m.group(1).replace("-", " ").split()
            if (m.group(1) in _states_countries() or any(w in _NEVER_NAME or w in _MONTH_NAMES for w in words)
                    or all(w.lower() in _english() and w not in _places() for w in words)):
                break
            out.append((m.start(1), m.end(1), "LOCATION", "address_locality", 47))
            pos = m.end(1)
    return out


def _resolve(found: list[tuple[int, int, str, str, int]]) -> list[DeidSpan]:
    """Highest priority first, then the longest, then the leftmost; a span that overlaps one already taken is
    dropped. The order is total, so the same text always gives the same spans."""
    starts: list[int] = []
    ends: list[int] = []
    taken: list[DeidSpan] = []
    for s, e, kind, rule, _ in sorted(found, key=lambda f: (-f[4], -(f[1] - f[0]), f[0], f[2], f[3])):
        k = bisect.bisect_left(starts, s)
        if (k > 0 and ends[k - 1] > s) or (k < len(starts) and starts[k] < e):
            continue
        starts.insert(k, s)
        ends.insert(k, e)
        taken.append(DeidSpan(s, e, kind, rule))
    return sorted(taken, key=lambda sp: sp.start)


def deidentify(text: str) -> DeidResult:
    """Replace every identifier found in `text` with its typed placeholder; counts per type and spans in the input."""
    if not text:
        return DeidResult(text="" if text is None else text, counts={}, spans=())
    spans = _resolve(_candidates(text))
    parts: list[str] = []
    last = 0
    for sp in spans:
        parts.append(text[last:sp.start])
        parts.append(PLACEHOLDERS[sp.type])
        last = sp.end
    parts.append(text[last:])
    counts = Counter(sp.type for sp in spans)
    return DeidResult(text="".join(parts), counts={t: counts[t] for t in TYPES if counts[t]}, spans=tuple(spans))


def deidentify_many(texts: Iterable[str], progress: bool = False) -> list[DeidResult]:
    """deidentify() over many texts, in order; `progress` shows a tqdm bar on stderr."""
    items = texts
    if progress:
        from tqdm import tqdm

        items = tqdm(texts, desc="de-identify", unit="text")
    return [deidentify(t) for t in items]


def total_counts(results: Iterable[DeidResult]) -> dict[str, int]:
    c: Counter[str] = Counter()
    for r in results:
        c.update(r.counts)
    return {t: c[t] for t in TYPES if c[t]}


# ---------------------------------------------------------------------------------------------------------------
# JSONL files (the CLI)


def deidentify_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """One output object per input line, in order: {id, text, counts} (plus `warning` for a line that was not
    UTF-8) or {id, line, error}. The caller checks that the file exists."""
    from empathy.io import parse_text_line

    with Path(path).open("rb") as fh:   # bytes, so that each line is decoded (and can fail) on its own
        for lineno, raw in enumerate(fh, start=1):
            item, err = parse_text_line(raw.rstrip(b"\r\n"), lineno, allow_empty_text=True)
            if err is not None:
                yield err
                continue
            r = deidentify(item["text"])
            out: dict[str, Any] = {"id": item["id"], "text": r.text, "counts": r.counts}
            if item["warning"]:
                out["warning"] = item["warning"]
            yield out
