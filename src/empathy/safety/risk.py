"""The clinical risk detector: a risk level and risk categories for a piece of text.

    from empathy.safety.risk import RiskDetector
    det = RiskDetector.load()                    # the packaged model, offline
    det.assess("everyone would be better off without me").risk_level   # 'high'

    empathy safety classify inputs.jsonl --out flags.jsonl
    empathy safety train-detector            # refit src/empathy/safety/risk_model.json
    empathy safety evaluate-detector         # report.json + report.html in runs/safety/detector

Levels: none < low < moderate < high < imminent. `requires_review` is true for
high and imminent, which is what the clinical review queue keys on.

How a text is scored, in five layers:

1. Rules. Per-category regular expressions find direct statements ("kill
   myself"), indirect signs (a plan, a means, a date, goodbyes, giving
   possessions away, "better off without me", being a burden, letters to the
   family) and co-occurrences (a child or an older person with a harm verb, a
   substance with an overdose sign, restriction with a medical sign). Context
   modifiers then discount a match: idioms are masked out before matching
   ("this commute is killing me"), and negation, recovered past history,
   professional or educational framing, fiction and hypotheticals mark the
   matches they cover as discounted. Discounted and undiscounted strengths are
   separate features.
2. The embedding. Each window of the text is embedded with the project's
   all-MiniLM-L6-v2 encoder (`empathy.embeddings.encode`); its cosine
   similarity to hand-written prototypes of each category and of each kind of
   hard negative adds 14 features to the 384 dimensions.
3. Neighbours and n-grams. The similarity of each window to its nearest labelled crisis and benign windows
   (risk_memory.npz), and TF-IDF word 1-2 grams and character 2-5 grams of the window (risk_text.npz): the
   phrasing that mean-pooled embeddings blur ("is killing me" against "want to kill me", "lol" against
   "tonight").
4. A classifier. Logistic regressions on all features: four cumulative heads P(level >= low/moderate/high/
   imminent) and one head per category, fitted on the train and val splits of data/safety/risk_labelled.jsonl,
   counsel-chat's train questions at their annotated level, and AnnoMI/ESConv client turns as weak negatives.
   Each labelled row is also added once with its rule features zeroed ("rule dropout"), so the embedding
   carries weight of its own where the rules miss. Thresholds come from 5-fold out-of-fold predictions. A long
   labelled message is labelled as a whole, but only one of its windows usually carries the risk: of a
   moderate-or-worse message's windows, training keeps the riskiest (rated by a model fitted without them). The
   test split is never read by training. risk_model.json holds the dense coefficients, scaler, thresholds, the
   sha256 of the training data, of counsel-chat and its annotations and of the two .npz files beside it, and the
   embedding model's name. Retraining is deterministic.
5. The message. Whether a message is high is decided for the message as a whole, not for its riskiest window
   alone: a small logistic regression (message_head) on the logits of its three riskiest windows' P(high), the
   log of its window count (capped at MESSAGE_MAX_WINDOWS) and whether any rule matched, fitted on out-of-fold
   window probabilities. A long post has more windows that can look like a crisis by chance; this weighs that.
   Its thresholds, with and without rule evidence, are the pair that keeps out-of-fold recall of the labelled
   high/imminent rows at RECALL_TARGET in short and in long messages with the fewest false alarms.

An undiscounted rule match of strength "imminent" (a plan with means and time, an act in progress) is never
rated below high, whatever the classifier says.

Long texts are cut into windows of a few sentences. Rules scan the whole text;
up to MAX_EMBED_WINDOWS windows are embedded (every window with a rule hit
first, riskiest first, then the first and last windows and an even sample of
the rest), so a crisis sentence at the end of a long message is never
truncated away.
"""

from __future__ import annotations

import bisect
import json
import math
import os
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from empathy.errors import UserError

RISK_LEVELS = ("none", "low", "moderate", "high", "imminent")
RISK_CATEGORIES = ("suicidality", "self_harm", "homicidal_ideation", "child_abuse", "elder_abuse",
                   "domestic_violence", "psychosis", "substance_crisis", "eating_disorder_medical")
LEVEL_INDEX = {name: i for i, name in enumerate(RISK_LEVELS)}
REVIEW_LEVELS = ("high", "imminent")
MODEL_FILE = Path(__file__).resolve().with_name("risk_model.json")
DEFAULT_DATA = Path("data/safety/risk_labelled.jsonl")
# train and val develop the detector; test is the current test split (round 9); test_r3 is the round-3 test split,
# retired after two evaluations: reported (clearly labelled as seen before), never trained on
SPLITS = ("train", "val", "test", "test_r3")
RETIRED_TEST_SPLITS = ("test_r3",)
FORMAT_VERSION = 5            # 2: a second high threshold without rule evidence; 3: neighbour features; 4: n-grams;
                              # 5: the high decision made for the whole message (message_head)

MAX_WINDOW_SENTENCES = 3
MAX_WINDOW_WORDS = 60
MAX_EMBED_WINDOWS = 64
RECALL_TARGET = 0.96          # out-of-fold recall of high/imminent (train+val) the high threshold must keep
OPERATING_POINTS = (0.90, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98)   # recall targets whose cost the model lists
HARD_NEGATIVE_KINDS = ("idiom", "accident", "past_history", "professional", "fiction", "third_party", "everyday",
                       "benign_counselling", "negated", "grief", "distress")
# counsel-chat topics whose questions are ordinary counselling text (weak label: benign)
COUNSEL_CHAT_RISK_TOPICS = frozenset({"depression", "self-harm", "trauma", "substance-abuse", "addiction",
                                      "domestic-violence", "eating-disorders", "grief-and-loss", "anger-management",
                                      "behavioral-change"})


# ---------------------------------------------------------------------------------------------------------------
# The result
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RiskAssessment:
    risk_level: str
    categories: list[str]
    requires_review: bool
    score: float
    evidence: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _assessment(level: str, categories: Iterable[str], score: float, evidence: list[str]) -> RiskAssessment:
    cats = sorted(set(categories), key=RISK_CATEGORIES.index)
    return RiskAssessment(level, cats, level in REVIEW_LEVELS, round(float(score), 4), evidence)


# ---------------------------------------------------------------------------------------------------------------
# Text: normalisation (offset-preserving), sentences and windows
# ---------------------------------------------------------------------------------------------------------------

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " "})


def normalise(text: str) -> str:
    """Lower case with straight quotes; same length as `text`, so offsets carry over."""
    out = text.translate(_QUOTES)
    low = out.lower()
    if len(low) == len(out):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in out)


_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|\n|$)|[.!?\n]+")


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of sentences; a very long sentence is cut every MAX_WINDOW_WORDS words."""
    spans: list[tuple[int, int]] = []
    for m in _SENTENCE.finditer(text):
        s, e = m.span()
        chunk = text[s:e]
        if not chunk.strip():
            continue
        words = list(re.finditer(r"\S+", chunk))
        if len(words) <= MAX_WINDOW_WORDS and e - s <= 2000:
            spans.append((s, e))
            continue
        # a run-on (or binary-looking) sentence: cut by words, and by characters for giant tokens
        for i in range(0, len(words), MAX_WINDOW_WORDS):
            group = words[i:i + MAX_WINDOW_WORDS]
            gs, ge = s + group[0].start(), s + group[-1].end()
            for cs in range(gs, ge, 2000):
                spans.append((cs, min(ge, cs + 2000)))
    return spans


def windows(sents: list[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    """Windows of up to 3 sentences / 60 words, each overlapping the previous by one sentence."""
    if not sents:
        return []
    wc = [len(text[s:e].split()) for s, e in sents]
    if sum(wc) <= MAX_WINDOW_WORDS and len(sents) <= MAX_WINDOW_SENTENCES + 1:
        return [(sents[0][0], sents[-1][1])]
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(sents):
        j, words = i, 0
        while j < len(sents) and j - i < MAX_WINDOW_SENTENCES and (j == i or words + wc[j] <= MAX_WINDOW_WORDS):
            words += wc[j]
            j += 1
        out.append((sents[i][0], sents[j - 1][1]))
        if j >= len(sents):
            break
        i = max(i + 1, j - 1)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Layer 1: rules
# ---------------------------------------------------------------------------------------------------------------

def _rx(pattern: str) -> re.Pattern:
    return re.compile(pattern)


# Idioms and hyperbole: masked out (replaced by spaces) before any risk pattern runs.
IDIOMS = [_rx(p) for p in (
    r"\b(?:this|that|the|these|those|it|work|traffic|commute|suspense|heat|wait|waiting|wifi|job|exam|week|"
    r"deadline|cold|noise|[a-z]+ing|my (?!husband|wife|partner|boyfriend|girlfriend|dad|father|mum|mom|mother|brother|"
    r"sister|son|daughter|uncle|ex\b|stepdad|stepfather|family|carer))(?: [a-z']+){0,2} (?:is|are|was|were|'s|'re|be|keeps?) (?:literally |slowly |"
    r"absolutely |actually |honestly )?kill(?:ing|s)? (?:me|us|him|her)\b",
    r"\b(?:feet|back|legs|knees|head|eyes|shoes|boots|hands) (?:are|is) killing me\b",
    r"\byou'?re killing me\b",
    r"\bkill(?:ed|ing|s)? it\b", r"\bkill(?:ing)? (?:some |the )?time\b", r"\bkill(?:ed)? two birds\b",
    r"\b(?:i'?d|i would|i could|could) (?:kill|murder) (?:for )?(?:a|an|some|for)\b(?: [a-z]+){0,3}",
    # "mum will kill me when she sees the bill": only with a trivial trigger, never "he'll kill me if I leave"
    r"\b(?:mum|mom|mother|dad|father|boss|teacher|coach|wife|husband|sister|brother|gran|nan|he|she|they|parents|"
    r"manager)(?:'s| is| are| will|'ll)?(?: going to| gonna)? (?:literally |actually |absolutely )?(?:kill|murder) me "
    r"(?:when (?:she|he|they) (?:sees?|finds? out|hears?|gets? the)|for \w+ing|if i (?:forget|miss|'?m late|am late|"
    r"break|lose|don'?t do))\b",
    r"\bdying (?:to|for) (?:see|try|know|meet|go|get|hear|read|watch|tell|find|visit|eat|have|a|an|the|some)\b",
    r"\bdying (?:of|from) (?:laughter|embarrassment|boredom|curiosity|the heat|heat|thirst|hunger)\b",
    r"\b(?:bored|scared|frightened|worried|sick|tickled|loved|done) to death\b", r"\bto die for\b(?=\s*(?:[.!,;)]|$|and\b|but\b|lol|haha))",
    r"\b(?:nearly|almost|literally) died (?:laughing|of)\b", r"\bdied laughing\b", r"\bdie of embarrassment\b",
    r"\bi'?m (?:literally |so )?dead\b(?!ly| inside)", r"\bdead (?:tired|on my feet)\b", r"\b(?:legs|arms) (?:are|feel) dead\b",
    r"\b(?:battery|phone|laptop|car|plants?|printer|charger)(?: [a-z]+){0,2} (?:is |are |keeps? )?(?:dying|died|dead)\b",
    r"\b(?:i'?d|i would|i'?ll) rather die than\b", r"\bdie happy\b",
    r"\bso (?:hungover|bored|embarrassed|full|tired)(?: that)? i (?:want to|wanna|could|will) (?:die|burst)\b",
    r"\b(?:would|will|'d|'ll) be (?:the )?(?:death|end) of me\b", r"\bgoing to be the end of me\b",
    r"\b(?:career|social|political|commercial|financial) suicide\b", r"\bwould be suicide\b",
    r"\b(?:kill|shoot) me now\b", r"\bshoot myself in the foot\b",
    r"\b(?:my )?heart (?:stopped|skipped a beat) when\b", r"\b(?:almost|nearly) had a heart attack\b",
    r"\b(?:a )?killer (?:workout|view|song|app|deal|idea)\b", r"\bthat joke killed\b",
    r"\b(?:murdered|slaughtered|killed|destroyed|annihilated) (?:that|the|this|it|us|me)(?: [a-z]+)? "
    r"(?:solo|song|set|exam|quiz|match|game|test|level|round)\b",
    r"\b(?:got|get) (?:absolutely )?(?:murdered|slaughtered|destroyed|killed) (?:in|at)\b",
    r"\b(?:exam|test|quiz|interview|workout|session|leg day|gym)(?: [a-z]+){0,2} (?:absolutely )?(?:slaughtered|"
    r"murdered|destroyed|killed) me\b",
    r"\b(?:traffic|queue|commute)(?: [a-z]+){0,5} was murder\b",
    r"\boverdos\w* on (?:christmas|chocolate|coffee|caffeine|sugar|netflix|films|movies|tv|sun|carbs|cake)\b",
    r"\b(?:addicted|hooked) to (?:this|that|the|my) (?:show|series|game|song|book|podcast|app)\b",
    r"\bi'?m (?:literally |so |absolutely )?starving\b(?! myself)",
    r"\bhear(?:ing|d)? voices (?:from|through|next door|upstairs|downstairs|in the (?:next|other) room|outside)\b",
    r"\bcould (?:cheerfully )?strangle\b",
    r"\bcould kill (?:someone|somebody)\b",
    r"\b(?:going to|gonna|will|'ll) (?:kill|murder|strangle) (?:my \w+|him|her|them)[,.;:]? (?:\w+ ){0,2}(?:she|he|they)"
    r"(?: \w+)? (?:ate|eaten|drank|borrowed|spoiled|spoilt|finished|forgot|used up|nicked|pinched)\b", r"\bstarv\w* (?:myself|me) of (?:sleep|sunlight|fun|company)\b",
    # "I'll shoot myself if I hear that song one more time": hyperbole tied to a trivial repeat
    r"\b(?:i'?m going to|i'?ll|i will|gonna) (?:shoot|kill|hang|throw) myself(?: out (?:of )?the window)? if "
    r"[\w' ]{1,50} one more time\b",
    r"\bif [\w' ]{1,50} one more time,? i'?m (?:throwing|going to throw|shooting|going to shoot|killing|going to kill) "
    r"myself(?: out (?:of )?the window)?", r"\bthe (?:final )?boss keeps killing me\b",
    r"\bi'?ve died (?:about |like )?\w+ times\b", r"\bgoing to lose my mind\b", r"\bwanted the ground to swallow me\b",
    r"\b(?:cut|cutting) (?:back|down) on\b",
    r"\bcut (?:my|his|her|their|your)(?: own)? (?:hair|losses|fringe|bangs|nails|toenails|beard)\b",
    r"\bbloodbath\b", r"\bhave my head\b", r"\bcouldn'?t breathe all night\b",
)]

_NEG_CUE = _rx(r"\b(?:not|never|no longer|n't|nor|without|no)\b|n't\b")
_NEG_EXCEPT = _rx(r"(?:can'?t|cannot|couldn'?t|don'?t|didn'?t) (?:stop|help|know|care|see why|tell|remember)|"
                  r"not sure|no idea|no one|nobody|never (?:been|felt) (?:so|this)|not anymore|"
                  r"n't (?:have|need|want) (?:anyone|help|to talk)")
_PRESENT = _rx(r"\b(?:right now|just now|lately|recently|these days|again|tonight|this (?:morning|evening|week|"
               r"weekend|month)|currently|at the moment|every (?:day|night|morning)|still|keep|anymore|relaps\w*|"
               r"just (?:taken|took|swallowed|used|done|cut|burned|had|injected))\b")
_CLAUSE_BREAK = _rx(r"[,;:]| but | and then | although | though ")

def _gap(n: int) -> str:
    """Up to n words between two parts of a pattern, across punctuation but not across a line break."""
    return rf"(?:[^\w\n]+[\w']+){{0,{n}}}?[^\w\n]+"


_MEDS = (r"(?:pills|tablets|meds|medication|medicine cabinet|antidepressants|painkillers|paracetamol|"
         r"sleeping (?:pills|tablets)|packet|bottle|box|them)")
ACT_PATTERNS = (
    rf"\b(?:took|taken|swallowed|downed) (?:a|one|two|half a) (?:bottle|packet|box|strip|tub) of\b",
    rf"\b(?:took|taken|swallowed|downed) (?:the |a |my )?(?:whole|entire) (?:packet|bottle|box|strip|lot|blister)",
    rf"\b(?:took|taken|swallowed|downed) (?:all|everything|the rest) (?:of )?(?:my |the |his |her |in the )?{_MEDS}",
    r"\b(?:took|taken|swallowed|downed) (?:\d{2,}|ten|twelve|fifteen|twenty|thirty|forty|fifty|a handful)\b",
    r"\btook them all\b", r"\b(?:took|taken|had|used) (?:way )?too (?:many|much)\b", r"\ba huge dose\b",
)


MODIFIERS: dict[str, list[re.Pattern]] = {
    # the same sentence: an educational / clinical framing
    "professional": [_rx(p) for p in (
        r"\b(?:warning|risk) (?:signs?|factors?)\b", r"\bsigns? (?:of|that)\b", r"\brisk assessments?\b",
        r"\bhow (?:do|should|can|would|could|are|is|does) (?:i|we|you|one|a|an|the|clinicians?|nurses?|teachers?|"
        r"staff|therapists?|officers?|paramedics?|doctors?|journalists?|parents?|emergency departments?)\b(?: \w+){0,3} "
        r"(?:assess|screen|respond|ask|support|talk|document|report|manage|treat|help|tell|handle|intervene|"
        r"investigate|de-escalate|taught|recogni[sz]e|spot|approach|introduce|write|escalate|cover)",
        r"\bwhat (?:is|are|does|do|should) (?:the )?(?:difference|evidence|stat(?:istic)?s|rates?|prevalence|guidance|"
        r"signs?|stages?|risks?|symptoms?|complications?|duty|duties|protocol|refeeding|postpartum|mean|nurses?|"
        r"a safety plan|my safeguarding|\w+ (?:psychosis|syndrome|ideation))\b",
        r"\b(?:statistics|prevalence|epidemiology|guideline|guidance|protocol|screening|questionnaires?|"
        r"safeguarding|mandatory reporting|duty to (?:warn|protect)|safety planning|means restriction|"
        r"evidence for|how common|rating scale|copycat)\b",
        r"\b(?:my|a|our|the|with) (?:patients?|clients?|service users?|residents? (?:in|at) (?:the|our)|trainees?)\b",
        r"\b(?:for|in) (?:my|a|our|the) (?:psychology |health |nursing )?(?:class|course|essay|assignment|"
        r"dissertation|thesis|exam|module|lecture|placement|training|workshop|presentation|research|unit)\b",
        r"\b(?:training|workshop|seminar|curriculum)\b",
        r"\bif (?:i|you|we) suspect\b", r"\bsupport (?:families|employees|survivors|clients|students)\b",
        r"\basking (?:someone|people|somebody) (?:about|if|whether)\b", r"\bis it true that\b",
    )],
    "identity": [_rx(p) for p in (
        r"\b(?:i'?m|i am|as) (?:a|an) (?:\w+ ){0,2}(?:nurse|nursing student|doctor|gp|therapist|counsell?or|"
        r"psychologist|psychiatrist|social worker|student|teacher|paramedic|pharmacist|researcher|chaplain|"
        r"volunteer|trainee|resident|support worker|police|officer|journalist|lecturer)\b",
    )],
    # within the window: creative work, media
    "fiction": [_rx(p) for p in (
        r"\b(?:my|the|a|this|our|his|her) (?:\w+ )?(?:novel|novella|short story|story|book|screenplay|script|play|"
        r"poem|song|lyrics|film|movie|show|series|episode|game|video game|comic|fanfic|fan fiction|character|"
        r"protagonist|villain|narrator|plot|chapter|scene|podcast|campaign|thriller|memoir draft|drama|radio play|sitcom|"
        r"soap|musical|documentary|opera|fantasy novel|crime novel|horror game)\b",
        r"\bd&d\b", r"\bdungeons and dragons\b", r"\bcreative writing\b", r"\bfiction(?:al)?\b",
        r"\b(?:writing|write|wrote|drafting|draft) (?:a|my|the) (?:\w+ )?(?:story|scene|novel|poem|play|script|"
        r"screenplay|letter for a character)\b", r"\bepisode \w+\b",
        r"\b(?:lady macbeth|juliet|hamlet|ophelia|of mice and men|macbeth)\b", r"\bin (?:the|our) (?:school )?play\b",
    )],
    # the same sentence: a past episode
    "past": [_rx(p) for p in (
        r"\b(?:\d+|a|[a-z]+(?:-[a-z]+)?) (?:years?|months?|decades?) ago\b", r"\b(?:a long time|long) ago\b",
        r"\bwhen i was (?:younger|a (?:kid|child|teen(?:ager)?|student)|little|small|\d+|in|at|very|eleven|twelve|"
        r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|young)\b",
        r"\bas a (?:kid|child|teen(?:ager)?|young \w+)\b", r"\bused to\b", r"\bin the past\b",
        r"\bback (?:in|then|when)\b", r"\bin (?:high school|college|university|uni|my (?:teens|twenties|thirties|youth))\b",
        r"\bat (?:university|uni|college|nineteen|seventeen|sixteen|\d\d)\b", r"\bin (?:19|20)\d\d\b",
        r"\bgrowing up\b", r"\bchildhood\b", r"\bwhen (?:i|we) were (?:kids|children|young)\b",
        r"\bafter my (?:attempt|overdose|episode)\b", r"\byears? (?:back|earlier)\b", r"\b(?:old|faded|healed) "
        r"(?:self[- ]harm )?scars\b", r"\bscars (?:from|of)\b",
    )],
    # anywhere in the window: recovery
    "recovery": [_rx(p) for p in (
        r"\b(?:doing|feel|feeling|i'?m|am) (?:really |much |so much |a lot )?(?:well|better|good|fine|okay|happy|"
        r"stable|healthy|physically healthy) (?:now|these days|today)\b",
        r"\b(?:in|into) recovery\b", r"\b(?:today|now|these days) i (?:run|work|help|volunteer|teach|train|coach|"
        r"sponsor|support)\b", r"\btoday i'?m (?:a |an )?(?:happy|healthy|proud|well|doing well|married|mum|dad|"
        r"grand\w+|nurse|teacher|\w+ and happy)\b", r"\brecovering (?:alcoholic|addict)\b", r"\b(?:been )?(?:clean|sober|stable|well) "
        r"(?:for|since|ever since)\b", r"\b(?:years?|months?) (?:sober|clean|free)\b",
        r"\bhaven'?t (?:\w+ ){0,4}(?:since (?:then|i was|\d{4}|my|graduation|school|college|uni)|in (?:over )?(?:a|\d+|two|"
        r"three|four|five|six|seven|eight|nine|ten|many) (?:years?|decades?)|in (?:over )?(?:\d+|six|nine|eighteen) months|"
        r"for (?:years|a decade|\d+ years))\b", r"\bnever felt that way since\b", r"\bsince (?:then|my recovery)\b",
        r"\bi'?m (?:\d+|[a-z]+-[a-z]+|twenty|thirty|forty|fifty|sixty|seventy) now\b", r"\blife is (?:so much |much )?better\b",
        r"\b(?:that|this|it) was (?:over |more than |about |nearly )?(?:\w+ )?(?:years|decades|a long time) ago\b",
        r"\b(?:rebuilt|turned around) my life\b", r"\bin a good place\b", r"\bsafe now\b",
        r"\b(?:went|go) away with treatment\b", r"\bchanged everything\b", r"\bi sponsor\b",
        r"\b(?:share|sharing) my story\b", r"\bdon'?t (?:get|have) (?:urges|thoughts) anymore\b", r"\bcelebrate\b",
    )],
    # the same sentence: what if someone...
    "hypothetical": [_rx(p) for p in (
        r"\bhypothetical(?:ly)?\b", r"\bwhat if (?:someone|somebody|a (?:person|friend|client|patient|student))\b",
        r"\bif (?:someone|somebody|a (?:person|friend|client|patient|student|child|colleague))\b",
        r"\bimagine (?:someone|a person)\b", r"\b(?:do|does|can|should|why do|how do|for|if|when|what if|help|"
        r"support|with) (?:people|someone|somebody) who\b", r"\bin general\b",
    )],
    "jokey": [_rx(p) for p in (r"\b(?:lol|lmao|haha+|jk|kidding|joking)\b(?<!not joking)", r"[\U0001F602\U0001F923]",
                               r"\bone more time\b", r"\bagain lol\b")],
    "accident": [_rx(p) for p in (r"\b(?:shaving|chopping|cooking|gardening|on the (?:oven|stove|tray|grater)|"
                                  r"by accident|fell off)\b",)],
    "not_accident": [_rx(p) for p in (r"\b(?:not|isn'?t|wasn'?t|no longer) (?:an |really an )?accident\b",
                                      r"'accidentally'", r"\"accidentally\"")],
    "real": [_rx(p) for p in (r"\b(?:not|isn'?t|this is not) (?:a |just a )?(?:story|fiction|joke|hypothetical)\b",
                              r"\bnot joking\b", r"\bi mean it\b", r"\bfor real\b", r"\bin real life\b")],
    # a mundane reason next to an indirect cue ("a rope for the climbing trip", "won't be around, we're moving")
    "benign_reason": [_rx(r"\b(?:for (?:the|my|our|a) (?:\w+ )?(?:climbing|camping|sailing|fishing|hiking|boat|trip|holiday|"
                            r"garden|tent|trailer|move|wedding|party|birthday|class|course|charity)|now that (?:the|my|our|she|he|"
                            r"we|i)|because (?:we'?re|i'?m|i am|we are|i'?ve|we'?ve) (?:moving|visiting|going|travelling|"
                            r"traveling|off|leaving|starting)|to tie|taking photos|fixing the|wish me luck|before (?:we|i) "
                            r"(?:move|moved|leave|left)|at the airport|last (?:day|shift|week|exam) (?:at|of|before)|"
                            r"moving (?:abroad|house|to|out)|"
                            r"(?:just |has |have |'s |'ve )?started (?:lessons|learning|playing|school|uni|college)|"
                            r"on holiday|graduat\w*|retir\w*|new job|can'?t wait|so excited|"
                            r"after the (?:wedding|party|funeral)|to charity|my (?:old|spare) (?:bike|laptop|car|clothes|toys|phone|books|"
                            r"furniture|sofa)|the (?:vet|dog|cat)|goodbye to (?:this|the|my old) (?:flat|house|job|office|city|"
                            r"team|colleagues|class)|leaving my job|my last (?:day|shift) at|to (?:the )?(?:charity|shelter|food bank|charity shop|"
                            r"church|jumble sale|hospice|refugees|homeless))\b")],
    # a suicide in the family or among friends, talked about as a loss
    "bereavement": [_rx(r"\b(?:lost (?:\w+ ){1,3}to suicide|died by suicide|took (?:his|her|their) (?:own )?li(?:fe|ves)|"
                        r"(?:his|her|their|\w+'s) suicide|committed suicide|after (?:his|her|their|my \w+'s) suicide|"
                        r"(?:killed|hanged|shot) (?:himself|herself|themselves))\b")],
    # signals, not discounts
    "minor": [_rx(r"\bi'?m (?:[5-9]|1[0-7]|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen)\b"
                  r"(?! (?:years|months|weeks|days|minutes|hours) (?:ago|sober|clean))|\bin year [5-9]\b|"
                  r"\bin (?:grade|year) \d+\b")],
    "third_party": [_rx(r"\b(?:my|our|a|her|his) (?:friend|best friend|brother|sister|son|daughter|mum|mom|dad|"
                        r"father|mother|colleague|coworker|roommate|flatmate|partner|boyfriend|girlfriend|husband|wife|"
                        r"neighbou?r|cousin|niece|nephew|teenager|student|uncle|aunt|grandma|grandad|grandfather|"
                        r"grandmother)\b(?: \w+){0,2} (?:is|has|seems|keeps|said|says|told|was|won'?t|just|took)\b")],
    "first_person": [_rx(r"\b(?:i|i'?m|i'?ve|i'?ll|i'?d|me|my|myself|mine)\b")],
    "time": [_rx(r"\b(?:tonight|right now|tomorrow(?: morning| night)?|this (?:weekend|evening|afternoon|morning)|"
                 r"in (?:an|one|a few|\d+) (?:hours?|minutes?)|after (?:this|my shift|everyone goes to bed)|"
                 r"(?:on |this |next )?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|next week|"
                 r"when (?:everyone|the house|my \w+)(?:'s| is| are|'re)? (?:asleep|empty|away|gone|leave|out)|"
                 r"by the time (?:anyone|you|they) (?:reads?|sees?|finds?)|tonight'?s the night|"
                 r"(?:going|heading|doing it|starting|leaving|coming) now|at midnight|at \d{1,2} ?(?:am|pm|o'?clock)|"
                 r"this time next week|(?:by|to|before) the end of (?:the|this) (?:week|month|year))\b")],
    "means": [_rx(r"\b(?:pills|tablets|meds|paracetamol|overdose|rope|noose|gun|shotgun|rifle|ammunition|ammo|knife|"
                  r"razor|blades?|bridge|roof|ledge|cliffs?|train|tracks|motorway|engine running|medicine cabinet|"
                  r"antidepressants|sleeping pills|bath is running|lighter|bleach)\b")],
    "plan": [_rx(r"\b(?:(?:have|got|made|worked out) (?:a|the|my) plan|worked out how|it all worked out|"
                 r"everything(?:'s| is) (?:ready|set|in place|arranged|sorted)|(?:chosen|picked|set|choose) the "
                 r"(?:day|date|spot|place|time)|going through with it|heading there now|on my way|i'?m going in|"
                 r"tied the rope|made up my mind|decided|counted out|ready\b)")],
    "act": [_rx(p) for p in (
        r"\b(?:won'?t|will not|doesn'?t) stop bleeding\b", r"\b(?:so much|a lot of) blood\b",
        r"\bneeds? stitches\b", r"\bcut too deep\b", r"\bwent (?:further|deeper) than i meant\b",
        r"\bi'?m (?:on|standing on|at|sitting on) (?:the|a|top of the) (?:bridge|roof|ledge|edge|cliff|station|tracks)\b",
        r"\b(?:isn'?t|not|stopped) breathing\b", r"\bwon'?t wake up\b", r"\blips (?:are )?(?:going |turning )?blue\b",
        r"\bengine running\b", r"\bbarely conscious\b", r"\b(?:is )?having a seizure\b",
    ) + ACT_PATTERNS],
}

# (category, strength 1-4, person, pattern). person: "self" (the writer), "other" (someone else), "any".
_S, _SH, _HI, _CA, _EA, _DV, _PS, _SU, _ED = RISK_CATEGORIES
_CHILD = (r"(?:son|daughter|kids?|children|child|baby|toddler|niece|nephew|little (?:boy|girl|brother|sister)|"
          r"(?:step)?(?:son|daughter)|boy|girl|students?|pupil|\d+ ?(?:year|yr)[- ]old)")


_ELDER = (r"(?:gran|granny|grandma|grandmother|grandad|granddad|grandpa|grandfather|nana|nan|elderly|pensioner|wheelchair|"
          r"(?:night |care )?staff|father-in-law|mother-in-law|"
          r"residents?|care home|nursing home|carer|caregiver|dementia|(?:[6-9]\d|1[01]\d)[- ]year[- ]old|"
          r"i'?m (?:[6-9]\d|1[01]\d)\b|in (?:her|his|their) (?:seventies|eighties|nineties)|pension)")
_PARTNER = (r"(?:husband|wife|partner|boyfriend|girlfriend|bf|gf|ex|ex-(?:wife|husband|partner|boyfriend|girlfriend)|"
            r"fianc[eé]e?|spouse)")
_SUBSTANCE = (r"(?:heroin|fentanyl|oxy\w*|opioids?|opiates?|meth|crack|coke|cocaine|xanax|benzos?|valium|diazepam|pill|"
              r"lines|inject\w*|ghb|"
              r"methadone|ketamine|ghb|mdma|pills|vodka|whisky|whiskey|alcohol|booze|drinking|drink|drunk|wine|"
              r"painkillers|sleeping (?:pills|tablets)|bender|using|shooting up|high)")
_ED_BEHAVIOUR = (r"(?:haven'?t (?:eaten|had anything to eat)|not eating|stopped (?:eating|drinking water)|starv\w*|"
                 r"restrict\w*|purg\w*|throw(?:ing)? up after|make myself (?:throw up|sick|vomit)|making myself sick|"
                 r"laxatives?|\d+ calories|calories a day|bmi (?:is |of )?\d+|only drink water|black coffee|"
                 r"binge and purge|anorexi\w*|bulimi\w*|lost \d+ (?:kilos|kg|pounds|lbs|stone)|weighs \d+ (?:kilos|kg)|"
                 r"eating feels impossible|won'?t eat|diuretics|energy drinks|chewing gum|only having|purge|"
                 r"\d+ calories and)")
_ED_MEDICAL = (r"(?:faint\w*|pass(?:ed|ing)? out|black(?:ed|ing)? out|collaps\w*|dizzy|dizziness|heart (?:rate|racing|"
               r"keeps racing|skipping|is beating|beating)|palpitations|chest (?:pain|hurts)|blood in it|throat bleeds|"
               r"potassium|period stopped|hair (?:is )?falling out|cold all the time|can'?t stand|vision went dark|"
               r"woke up on the (?:\w+ )?floor|confused|heart rate (?:was|is) \d+|legs? cramp\w*|teeth are eroding|"
               r"barely conscious|flutters?|fluttering|numb|twitch\w*|chest pains?|stopped drinking water)")

RULES: list[tuple[str, int, str, re.Pattern]] = [(c, s, p, _rx(r)) for c, s, p, r in (
    # suicidality: direct
    (_S, 3, "self", r"\bkill(?:ing|ed)? my ?self\b"),
    (_S, 3, "self", r"\b(?:end|ends|ended|ending|take|takes|taking|took|taken) (?:my|my own) life\b"),
    (_S, 3, "self", r"\bend(?:s|ed|ing)? it all\b"),
    (_S, 2, "self", r"\bend(?:ing)? (?:it|things)\b(?! (?:with|between|off))"),
    (_S, 3, "any", r"\bsuicid(?:e|al)\b"),
    (_S, 3, "other", r"\b(?:kill|killing|hang|hanging|shoot|drown) (?:himself|herself|themselves|themself)\b|"
                     r"\b(?:he|she|they) (?:wants?|is going|are going|keeps? saying (?:he|she|they) wants?) to (?:die|end "
                     r"(?:his|her|their|it all))\b"),
    (_S, 3, "other", r"\bfound (?:him|her|them|my \w+|our \w+|his \w+|her \w+) hanging\b|"
                     r"\bcut (?:him|her|them) down\b"),
    (_S, 2, "self", r"\b(?:taking|take|swallow\w*) (?:all of )?(?:them|the lot|it all)\b|\b(?:pills|tablets|meds) "
                    r"(?:counted|lined|laid|set) (?:out|up)\b"),
    (_S, 3, "self", r"\b(?:want|wants|wanted|wanting|wish|wished|wishing|going|ready|need|needing|deserve|have|longing|"
                    r"long|plan|planning|decided) to die\b|\b(?:wanna|gonna) die\b"),
    (_S, 3, "self", r"\bwanna die\b"),
    (_S, 3, "self", r"\bwish(?:ed|ing)? i (?:was|were) dead\b"),
    (_S, 3, "self", r"\b(?:don'?t|do not|no longer) want to (?:be alive|live|be here|exist|go on)\b"),
    (_S, 3, "self", r"\bwant to (?:stop existing|disappear forever|not exist|stop living|stop being alive)\b"),
    (_S, 3, "self", r"\b(?:no|not any|any) (?:reason|point) (?:to|in|of) (?:live|living|going on|being alive|carrying on)\b"),
    (_S, 3, "self", r"\b(?:don'?t|can'?t) see (?:the|any) point (?:in|of) (?:going on|living|anything|life)\b"),
    (_S, 3, "self", r"\bresearching ways to die\b|\bways to (?:die|kill myself|end it)\b"),
    (_S, 3, "self", r"\bhow many (?:of my |of these |of the )?(?:tablets|pills|meds)\b(?: \w+){0,2} (?:it )?would take\b"),
    (_S, 3, "self", r"\b(?:taking|take|swallow(?:ing)?) all (?:of )?my (?:meds|pills|tablets|medication)\b"),
    # suicidality: indirect
    (_S, 3, "self", r"\bbetter off (?:dead|without me)\b"),
    (_S, 3, "self", r"\bbetter (?:place|off) without me\b"),
    (_S, 3, "self", r"\bif i (?:wasn'?t|weren'?t|was not|were not|was no longer) (?:here|around|alive|in the picture)\b"),
    (_S, 3, "self", r"\b(?:a|such a|just a|the|a huge|a massive) (?:burden|weight|drain)(?: to| on| for)? "
                    r"(?:everyone|everybody|my \w+|them|people|others|you|you all|the family)\b"),
    (_S, 3, "self", r"\bi'?m (?:just |only |nothing but )?a burden\b"),
    (_S, 3, "self", r"\b(?:stop being|not (?:going to|gonna) be|won'?t be) (?:a |everyone'?s |anyone'?s )?(?:problem|burden)"
                    r"(?: for (?:anyone|everyone))?(?: soon| much longer)?\b"),
    (_S, 3, "self", r"\b(?:i|i'?m|i am|i'?ll)\b(?: \w+){0,2} (?:won'?t|will not|not going to|wont|not) be (?:around|here|alive)"
                    r"(?: for)? (?:much longer|for (?:much|very) long|long|anymore|soon|by)\b"),
    (_S, 2, "self", r"\b(?:i|i'?m|i am|i'?ll)\b(?: \w+){0,2} (?:won'?t|will not|wont) be (?:around|here)\b"),
    (_S, 3, "self", r"\b(?:when|after|once) i'?m (?:gone|dead|not here|not around|out of the picture)\b"
                    r"(?! (?:on|for) (?:holiday|vacation|a trip|the weekend|business|tour|work|a week|a few))"),
    (_S, 2, "self", r"\bwithout me\b"),
    (_S, 3, "self", r"\bsay(?:ing)? my goodbyes\b|\bsaid my goodbyes\b|\bsaid goodbye to (?:the people|everyone who)\b"),
    (_S, 3, "self", r"\bthis is (?:my )?goodbye\b|\bthanks? (?:you )?for everything,? (?:and )?goodbye\b"),
    (_S, 3, "self", r"\blast (?:message|time|thing) (?:you'?ll|anyone will|you will|you) (?:get|hear|ever hear)\b"),
    (_S, 2, "self", r"\bgoodbye\b"),
    (_S, 3, "any", r"\b(?:suicide|goodbye|farewell) (?:notes?|letters?)\b"),
    (_S, 2, "self", r"\b(?:wr(?:ite|iting|ote|itten)|left|leave|leaving) (?:a |my |the |some )?(?:notes?|letters?)\b"),
    (_S, 3, "self", r"\bletters? (?:to|for) (?:my \w+|each of|everyone)\b(?:(?: \w+){0,4}) (?:understand|afterwards)"),
    (_S, 2, "self", r"\b(?:a )?letters? for each\b"),
    (_S, 3, "self", r"\bso (?:they|he|she|everyone)(?:'ll| will) understand\b"),
    (_S, 2, "self", r"\bafterwards\b"),
    (_S, 3, "self", r"\b(?:giv(?:e|ing|en)|gave) (?:away )?(?:all )?(?:of )?my (?:\w+ ){0,2}?(?:things|stuff|belongings|"
                    r"possessions)(?: away)?\b"),
    (_S, 2, "self", r"\b(?:giv(?:e|ing|en)|gave) (?:away )?my [\w ]{1,40}? (?:away|to my)\b"),
    (_S, 3, "self", r"\bwon'?t (?:be needing|need) (?:them|it|these|those|anything|my \w+)(?: anymore)?\b"),
    (_S, 2, "self", r"\bwho gets (?:what|my \w+)\b"),
    (_S, 2, "self", r"\bsort(?:ed|ing)? (?:out )?(?:my )?(?:will|affairs|passwords)\b"),
    (_S, 2, "self", r"\bnobody has to deal with\b|\bleave things tidy\b"),
    (_S, 2, "any", r"\b(?:happens|happen) to (?:your|my) (?:bank account|money|stuff|things) (?:after|when) (?:you|i) die\b"),
    (_S, 3, "self", r"\blife insurance (?:pays? out|covers? suicide)\b|\binsurance pays out\b(?: \w+){0,4} no matter what"),
    (_S, 2, "self", r"\bmy (?:own )?funeral\b"),
    (_S, 2, "self", r"\bit won'?t be long\b"),
    (_S, 3, "self", r"\bthis (?:will be|is) my last\b(?! (?:week|day|shift|exam|year|term|class|lesson|semester|match|game|"
                    r"chance|cigarette|drink|coffee|night out|day at|shift at))|\bmy last (?:birthday|christmas)\b"),
    (_S, 3, "self", r"\b(?:disappear(?:ed)?|let go|go away|rest|sleep) (?:for good|forever|permanently)\b"),
    (_S, 3, "self", r"\b(?:end|stop|over),? (?:permanently|for good|forever)\b"),
    (_S, 2, "self", r"\b(?:go to sleep|sleep|close my eyes) and (?:never|not) wake up\b|\bnot wake up\b"),
    (_S, 3, "self", r"\bhopes? (?:one day )?i (?:won'?t|don'?t|never) wake up\b"),
    (_S, 2, "self", r"\bwish i (?:had never been|was never|wasn'?t|were never|had not been) born\b|\bnever been born\b"),
    (_S, 2, "self", r"\bwouldn'?t mind if (?:a|the) (?:bus|car|truck|lorry|train) hit me\b"),
    (_S, 2, "self", r"\bwouldn'?t (?:be so bad|be the worst thing|mind) if i (?:crashed|died|didn'?t wake up)\b"),
    (_S, 2, "self", r"\b(?:be with|join) (?:him|her|them) (?:wherever|again|on the other side)\b"),
    (_S, 2, "self", r"\b(?:would|will) (?:anyone|anybody) (?:even )?miss me\b|\banyone would (?:even )?miss me\b"),
    (_S, 2, "self", r"\bnobody would (?:even )?(?:notice|miss me|care)\b"),
    (_S, 3, "self", r"\bonly way out\b|\bno way out (?:of this )?except\b"),
    (_S, 2, "self", r"\bno way out\b|\ba way out\b"),
    (_S, 2, "self", r"\bsince i decided\b|\bat peace (?:now|since)\b"),
    (_S, 2, "self", r"\b(?:chosen|picked|set|choose|pick) the (?:day|date|spot|place|time)\b"),
    (_S, 2, "self", r"\b(?:can'?t|cannot) (?:go on|do this anymore|take (?:it|this) any ?more|keep going)\b"),
    (_S, 3, "self", r"\bthen i can (?:stop|go|rest|finally rest|finally stop)\b"),
    (_S, 3, "self", r"\b(?:won'?t|will not|wouldn'?t) have to (?:deal|put up) with me\b|\bnone of (?:this|it) will matter\b"),
    (_S, 3, "self", r"\bsoon (?:it|none of (?:this|it)|nothing)(?: [\w']+){0,3} (?:matter|my problem)\b|\bnone of you "
                    r"(?:will|'ll) (?:have to|need to) (?:deal|put up) with me\b"),
    (_S, 2, "self", r"\b(?:write|writing|wrote) to each of (?:them|you)\b|\bwho matter\b|\bfeel calm now\b"),
    (_S, 2, "self", r"\b(?:it'?ll|it will|this will|everything will) (?:all )?be over (?:soon|tonight|tomorrow)\b|\b(?:such a|a) "
                    r"(?:pain|nuisance|bother|problem|disappointment) (?:to|for) (?:everyone|everybody|you all|my family)\b"),
    (_S, 3, "self", r"\bwhy i had to (?:go|do it|leave|end it)\b|\bnot (?:going to|gonna) be alive\b"),
    (_S, 3, "self", r"\bend(?:ing)? everything\b|\b(?:want|going|ready|planning|need) to end it\b(?! with)"),
    (_S, 3, "self", r"\bways (?:i could|to) do it\b|\b(?:courage|nerve) to (?:end|do) (?:it|things)\b|\bwhoever finds me\b"),
    (_S, 3, "self", r"\b(?:doing|do) it (?:tonight|tomorrow|today|this weekend|at midnight|after)\b|\bgoing through with it\b"),
    (_S, 3, "self", r"\b(?:pills|tablets) are (?:on|in|next to)\b|\b(?:have |got )?(?:more than )?enough (?:tablets|pills|meds)\b"),
    (_S, 3, "self", r"\b(?:gun|it)(?:'s| is) loaded\b|\b(?:hosepipe|hose|pipe) in the car\b|\bi'?m going to jump\b"),
    (_S, 3, "self", r"\btell (?:my|\w+) (?:\w+ )?(?:i'?m sorry|i love)\b|\bwhen i go\b|\bthe drop\b"),
    (_S, 2, "self", r"\b(?:one|for the) last time\b|\bremember me\b|\bsorry for everything\b|\b(?:wasn'?t|isn'?t|was not) "
                    r"(?:your|her|his|their) fault\b|\bmake (?:the|this) pain stop\b|"
                    r"\bpromise (?:me )?(?:you'?ll|to|that you'?ll) look after my \w+\b"),
    (_S, 3, "self", r"\bhow (?:much|many)(?: [\w']+){0,3} (?:would|will|it would) (?:be enough|take|do it|kill)\b|"
                    r"\benough to (?:die|kill me|not wake up|end it|do it)\b"),
    (_S, 2, "self", r"\b(?:stash|stockpile|hoard) of\b|\b(?:lined|laid) up\b|\bloose ends\b|\bdead weight\b|"
                    r"\bwhen i'?m not (?:here|around)\b|\bbetter this way\b"),
    (_S, 2, "self", r"\b(?:going to|gonna) do it\b|\b(?:taking|take|swallow) (?:the|my|all the) (?:pills|tablets)\b|"
                    r"\b(?:razor|rope|pills|gun|knife) (?:is |are )?ready\b|\bleft the door unlocked\b"),
    (_S, 2, "self", r"\b(?:left|leaving|took off) my (?:wedding ring|ring|watch|wallet|phone|keys)\b|\b(?:won'?t|don'?t think "
                    r"i'?ll|not going to|never) make it (?:to|through|past)\b"),
    (_S, 2, "self", r"\b(?:deleted|closed) (?:all )?my (?:accounts|social media|profiles)\b|\blife insurance\b|"
                    r"\b(?:out on|standing on|on) the (?:roof|ledge|edge)\b|\bwill (?:get over it|be relieved)\b|"
                    r"\bthey'?ll be relieved\b|\bi'?m done\b"),
    (_S, 2, "self", r"\bout of the picture\b|\bno future\b|\bdon'?t have a future\b"),
    (_S, 3, "self", r"\b(?:saving|saved|stockpil\w*|hoard\w*|collect\w*) (?:up )?(?:my |them |all my )?(?:sleeping )?"
                    r"(?:pills|tablets|meds|medication|antidepressants)(?: up)?\b|\bsaving them up\b"),
    (_S, 2, "self", r"\bbought (?:a |the |some )?(?:new )?(?:rope|gun|noose)\b"),
    (_S, 3, "self", r"\b(?:hang(?:s|ing|ed)?|hung|shoot(?:s|ing)?|shot|drown(?:s|ing|ed)?|gas(?:sing|sed)?|poison(?:s|ing|ed)?|"
                    r"overdos(?:e|ing|ed)|starv(?:e|ing|ed)|suffocat(?:e|ing|ed)|electrocut(?:e|ing|ed)) myself\b|\bthrow(?:ing)? myself (?:off|out|under|in front)\b|\b(?:the )?rope (?:is )?(?:tied|ready)\b|\btied the rope\b|\bnoose\b"),
    (_S, 3, "self", r"\bjump(?:ing)? (?:off|from|in front of)\b|\bstep in front of\b|\bwalk into the sea\b"),
    (_S, 2, "self", r"\bto the (?:bridge|cliffs|cliff edge)\b|\bon the (?:motorway )?bridge\b|\blooking down\b"),
    (_S, 3, "self", ACT_PATTERNS[0]), (_S, 3, "self", ACT_PATTERNS[1]), (_S, 3, "self", ACT_PATTERNS[2]),
    (_S, 3, "self", ACT_PATTERNS[4]),
    (_S, 3, "self", rf"\b(?:took|taken|swallowed|downed) (?:\d{{2,}}|ten|twelve|fifteen|twenty|thirty|forty|fifty|a handful)"
                    rf"{_gap(4)}{_MEDS}"),
    (_S, 3, "self", r"\bengine running\b"),
    (_SU, 3, "any", ACT_PATTERNS[5] + "|" + ACT_PATTERNS[6]),
    # self-harm
    (_SH, 3, "self", r"\b(?:cut|cutting|cuts|burn(?:ed|t|ing)?|hurt(?:ing|s)?|harm(?:ed|ing)?|hit(?:ting)?|punish(?:ed|ing)?|"
                     r"scratch(?:ed|ing)?|bit(?:e|ing)?|starv(?:e|ed|ing)) my ?self\b"),
    (_SH, 3, "any", r"\bself[- ]?harm(?:ing|ed)?\b|\bself[- ]?injur\w*\b"),
    (_SH, 3, "self", rf"\b(?:cut\w*|burn\w*|scratch\w*|dig\w*|bit(?:e|ing)|carv\w*|pour\w*|slash\w*|scrap\w*)\b{_gap(4)}"
                     rf"(?:my|the) (?:arms?|wrists?|legs?|thighs?|skin|hips|stomach)\b"),
    (_SH, 2, "self", r"\b(?:keep|carry|have) a (?:lighter|blade|razor)\b|\b(?:so much|a lot of|loads of) blood\b"),
    (_SH, 3, "self", r"\b(?:cut|cutting) (?:again|deeper|my (?:arms?|wrists?|legs?|thighs?|skin|stomach))\b"),
    (_SH, 3, "self", r"\bneed to cut\b"),
    (_SH, 2, "self", r"\b(?:urges?|itch|want) to (?:cut|burn|hurt)\b"),
    (_SH, 2, "self", r"\b(?:i|i'?ve|i have been|i'?m) (?:cut|cutting)\b(?! (?:my hair|back|down|out|off|the|a |it|some|"
                     r"him|her|them|ties|corners|class|school|onions|in))"),
    (_SH, 2, "any", r"\b(?:blades?|razors?)\b"),
    (_SH, 3, "self", r"\bcarv(?:e|ed|ing) (?:\w+ ){0,2}(?:into|in) my\b"),
    (_SH, 2, "any", r"\b(?:until|till|til) (?:it|they|my \w+) bleeds?\b"),
    (_SH, 2, "self", r"\b(?:punch|hit|bang|banging|punching|hitting) (?:my head|walls?|the wall)\b"),
    (_SH, 2, "self", r"\bseeing the blood\b|\bthe marks were from\b|\blong sleeves\b|\bdeserve (?:the )?pain\b"),
    (_SH, 2, "self", r"\bhid(?:e|ing) (?:the |my )?(?:cuts|scars|marks|arms)\b|\bplaces on my body\b"),
    (_SH, 2, "self", r"\bsomething sharp\b|\bcoping kit\b|\bon purpose\b"),
    (_SH, 4, "self", r"\b(?:won'?t|will not|doesn'?t) stop bleeding\b|\bcut too deep\b|\bneeds? stitches\b|"
                     r"\bwent (?:further|deeper) than i meant\b|\bblade right now\b"),
    (_SH, 2, "self", r"\bpick(?:ing)? at my skin\b|\bpull(?:ing)? my hair out\b|\brubber band\b"),
    # homicidal ideation
    (_HI, 3, "other", r"\b(?:kill(?:ing|ed)?|murder(?:ing|ed)?|stab(?:bing|bed)?|shoot(?:ing)?|strangl(?:e|ing|ed)|"
                      r"poison(?:ing|ed)?|hurt(?:ing)?) (?:him|her|them)\b(?!\w*'s| feelings)"),
    (_HI, 3, "other", r"\b(?:run|running|ran|drive|driving|drove) (?:[\w'-]+ ){1,5}off the road\b|\bsharpen\w* (?:a|my|the) "
                      r"(?:knife|blade|axe|machete)\b(?:[\w' ,]{0,60})(?:think|thinking|about|for) (?:about )?(?:my|him|her|them)\b"),
    (_HI, 2, "other", r"\bsharpen\w* (?:a|my|the) (?:knife|blade|axe|machete)\b"),
    (_HI, 3, "other", r"\b(?:kill(?:ing|ed)?|murder(?:ing|ed)?|stab(?:bing|bed)?|shoot(?:ing)?|strangl(?:e|ing|ed)|"
                      r"poison(?:ing|ed)?|hurt(?:ing)?|beat(?:ing)?|attack(?:ing)?|get(?:ting)? rid of|run(?:ning)? over) "
                      r"(?:my (?:\w+ ){0,2}?(?:boss|dad|father|stepfather|stepdad|mum|mom|mother|stepmother|"
                      r"brother|sister|wife|husband|ex|ex-wife|ex-husband|neighbou?r|roommate|flatmate|manager|supervisor|"
                      r"teacher|partner|boyfriend|girlfriend|son|daughter|baby|kids|children|uncle|coworker|colleague)|"
                      r"(?:some|every|any)(?:one|body)|people|the (?:\w+ )?(?:kids|people|class|school|office))\b"),
    (_HI, 2, "other", r"\b(?:kill|murder|stab|shoot|poison) (?:the|my|that|this) \w+\b(?<!time)(?<!spider)(?<!bugs)"),
    (_HI, 2, "other", r"\bmake (?:\w+ ){0,6}?pay\b"),
    (_HI, 3, "other", r"\bpay with (?:his|her|their) li(?:fe|ves)\b|\bdeserves? to die\b"),
    (_HI, 3, "other", r"\bshoot(?:ing)? up (?:my |the |a )?(?:old )?(?:school|office|church|mall|place|class)\b"),
    (_HI, 3, "other", r"\bfantasi[sz]\w* about (?:killing|stabbing|hurting|shooting|strangling|beating|poisoning)\b"),
    (_HI, 3, "other", r"\b(?:picture|picturing|imagine|imagining|thinking about|think about|thoughts? (?:of|about)|dream about)"
                      r" (?:\w+ ){0,2}(?:killing|stabbing|hurting|shooting|strangling|beating|poisoning|running \w+ "
                      r"(?:\w+ )?off the road)\b"),
    (_HI, 3, "other", r"\b(?:poison|hurt|kill) (?:someone|somebody)\b|\bputting something in (?:his|her|their) (?:food|drink)\b"),
    (_HI, 3, "other", r"\bwon'?t see me coming\b"),
    (_HI, 3, "other", r"\b(?:see|make|watch|want) (?:him|her|them|my \w+)(?: to)? suffer\b|\bit'?s over for (?:him|her|them)\b"),
    (_HI, 3, "other", r"\bget rid of (?:him|her|them) (?:for good|permanently)\b|\bsomething in (?:my|his|her) \w+(?:'s)? "
                      r"(?:food|drink|tea|coffee)\b"),
    (_HI, 3, "other", r"\b(?:take|taking|bring|bringing) (?:a|the|my (?:dad'?s |mum'?s )?)(?:gun|knife|rifle|weapon|machete) to "
                      r"(?:school|work|the office|class|college)\b|\b(?:i'?m going to|i'?ll) make (?:him|her|them) pay\b"),
    (_HI, 2, "other", r"\b(?:crowbar|baseball bat|machete|hammer)\b|\bwent missing\b|\bneed to deal with (?:him|her|them)\b|"
                      r"\bwhere (?:he|she) (?:parks|lives|works)\b"),
    (_HI, 2, "other", r"\b(?:regret|sorry for) (?:laughing|messing|crossing)\b|\blist of (?:the )?people who\b"),
    (_HI, 2, "other", r"\bsee how long (?:he|she|they) lasts?\b|\bpush me too far\b|\bhad it coming\b"),
    (_HI, 2, "any", r"\bcarrying a (?:knife|gun|blade)\b|\b(?:shotgun|rifle|ammunition|ammo)\b"),
    (_HI, 2, "other", r"\b(?:outside|at) (?:his|her|their) (?:house|work|door|flat|office)\b|\bi'?m going in\b"),
    (_HI, 2, "other", r"\bpushing (?:people|someone) (?:onto|off|in front)\b|\bwant to hurt people\b"),
    # child abuse
    (_CA, 3, "other", rf"\b(?:hits?|hitting|beats?|beating|beat|punch(?:es|ed)?|kick(?:s|ed)?|slaps?|slapped|burns?|burned|"
                      rf"shakes?|shook|shake|whips?|molest\w*|abus\w*|starv\w*|neglect\w*) (?:\w+ ){{0,2}}"
                      rf"{_CHILD}\b"),
    (_CA, 2, "other", rf"\b{_CHILD}\b{_gap(8)}(?:bruises?|burns|marks?|flinch\w*|terrified|screaming|left alone|"
                      rf"hiding food|no food|without food|dirty nappy|locked in|is being abused)\b"),
    (_CA, 3, "other", r"\b(?:touch(?:es|ed|ing)?|watches) me\b|\bour (?:little )?secret\b|\bdoes things to (?:me|her|him)\b|"
                      r"\bhurts? her \"?down there|\bcomes into my room at night\b|\bsend (?:him|her) (?:photos|pictures)\b|"
                      r"\bsend pictures\b|\bkeep (?:their|our|the) chats? secret\b"),
    (_CA, 3, "other", rf"\bi'?m (?:[5-9]|1[0-7]|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen)\b{_gap(20)}"
                      rf"(?:punch\w*|hit\w*|beat\w*|touch\w*|kick\w*|slap\w*|hurt\w*) me\b|"
                      rf"\b(?:punch\w*|hits|hit|beat\w*|touch\w*|kick\w*|slap\w*|hurts) me\b{_gap(20)}i'?m (?:[5-9]|1[0-7]|ten|"
                      rf"eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen)\b"),
    (_CA, 3, "other", rf"\b{_CHILD}\b{_gap(12)}(?:hits?|beats?|burns?|kicks?|slaps?|shakes?|touch(?:es)?) (?:him|her|them)\b"),
    (_CA, 2, "other", r"\b(?:split lip|black eye|broken arm|cigarettes|strapped in|for hours|keep (?:it|their|our|the) \w* ?secret|"
                      r"if i tell (?:anyone|someone)|what happens at night|don'?t want to go home|(?:older|grown|adult) (?:man|men|guy)|"
                      r"coming into the bathroom|says (?:she|he) fell|(?:he|she)'?s only (?:about |around )?(?:[1-9]|one|two|"
                      r"three|four|five|six|seven|eight|nine|ten)|(?:sitting|left|locked|standing|shut) outside(?: \w+){0,4} "
                      r"(?:cold|rain|dark|late|night))\b"),
    (_CA, 3, "other", r"\b(?:get|got|gets) the belt\b|\bwith (?:his|her|a|the) belt\b|\bhit me with\b|\blocks me in\b|\bsleep in the garage\b|\bwith a cable\b"),
    (_CA, 2, "other", r"\b(?:yell|shout|scream)(?:ed|ing)? at (?:my|the) kids\b|\bspank\w*\b"),
    (_CA, 3, "other", r"\b(?:left|leaves?) (?:me|us|\w+) (?:and (?:my|his|her) \w+ )?alone (?:for )?(?:\w+ )?days\b|"
                      r"\bforgets? to feed\b"),
    # elder abuse
    (_EA, 3, "other", rf"\b{_ELDER}\b{_gap(14)}(?:hit|hits|hitting|slap\w*|shove\w*|push\w*|bruises?|shouts?|pins?|sedated|"
                      rf"wet sheets|laugh at|won'?t give|unless (?:he|she) signs?|extra sleeping pills|isn'?t being fed|"
                      rf"asked me not to tell|lost (?:so much|loads of|a lot of) weight|bank card|no money (?:left )?for food|"
                      rf"sold (?:his|her|their) (?:house|home|car|flat)|without telling (?:him|her|them|anyone)|"
                      rf"locks?|locked|tied|sedated|bedsores?|soiled|alone for days|without (?:food|heating)|not (?:being )?fed|"
                      rf"(?:(?:taken?|took|takes|taking)(?! care\b)|spending|stealing|steals?|stole|drained|withdraw\w*)|sign (?:over )?"
                      rf"(?:papers|money|the house)|signs? over|won'?t let (?:me|anyone) in|threatens? to put|"
                      rf"(?:too )?(?:scared|frightened) to (?:say|tell)|neglect\w*|exploit\w*|savings are gone)\b"),
    (_EA, 3, "other", rf"\b(?:hit|hits|hitting|slap\w*|shove\w*|push\w*|shouts? at|locks?|tied|neglect\w*|exploit\w*|"
                      rf"(?:takes?|took)(?! care\b)|steals?|stole|withdraw\w*|taken over|sold) {_gap(6)}{_ELDER}\b"),
    (_EA, 2, "other", r"\b(?:power of attorney|bank account|savings|pension|statements)\b"),
    # domestic violence
    (_DV, 3, "other", rf"\b(?:my |her |his )?{_PARTNER}\b{_gap(10)}(?:hit|hits|hitting|beat|beats|beating|punch\w*|"
                      rf"kick\w*|slap\w*|chok\w*|strangl\w*|push(?:ed|es)? me|shov\w* me|threw me|throws me|forces? "
                      rf"(?:himself|herself)|rap\w*|holds? a knife|threaten\w*|kill me|controls?|reads? my|won'?t let|"
                      rf"tracker|tracks? my|checks? (?:every|my)|locked me|smash\w*|marks on|twist\w*|pinned|punish\w*|"
                      rf"kicked|takes my|took my)\b"),
    (_DV, 3, "other", r"\b(?:he|she)(?: [\w']+){0,3} (?:hit|hits|beat|beats|punch(?:ed|es)|kick(?:ed|s)|slapp?(?:ed|s)|"
                      r"chok(?:ed|es)|strangl(?:ed|es)|pushed|shoved|threw|smashed|strangled|pinned|punish(?:es|ed)|"
                      r"locked) me\b|\b(?:he|she) (?:takes|took|hides|hid|smashed|broke) my (?:car )?(?:keys|phone|money|"
                      r"passport|bank card)\b|\btwisted my arm\b|\bsay i fell\b|\btracker on my\b"),
    (_DV, 3, "other", r"\b(?:he|she)(?:'d| would| will|'ll|'s going to|is going to| said (?:he|she)(?:'d| would))"
                      r" (?:kill|hurt|shoot|stab) me\b|\b(?:he|she) (?:has|had) a (?:gun|knife)\b"),
    (_DV, 3, "other", r"\bwalked into a door\b"),
    (_DV, 2, "other", r"\bwalk on eggshells\b|\bnobody asks questions\b|\bget out fast\b|\bchecks where i'?ve been\b|\bask permission\b|\bchecks every receipt\b|"
                      r"\bnobody would believe me\b|\bpacked a bag\b|\bwear sunglasses\b|\bscared to go home\b"),
    (_DV, 2, "other", r"\b(?:controlling|jealous|checks my phone|decides who)\b"),
    (_DV, 4, "other", r"\b(?:banging on the door|broken the door|on his way over with|coming (?:for me|back) with)\b"),
    # psychosis
    (_PS, 3, "self", r"\bvoices? (?:in my head )?(?:tell|tells|telling|told|said|say|says|saying|command\w*|whisper\w*|"
                     r"scream\w*|are screaming|have been telling|won'?t stop)\b"),
    (_PS, 2, "self", r"\bhear(?:ing)? (?:voices|a (?:man'?s |woman'?s )?voice|my name called)\b"),
    (_PS, 3, "self", r"\b(?:micro)?(?:chip|implant|tracker|device|camera)s? (?:in|inside) (?:my|the) (?:head|brain|teeth|tooth|"
                     r"walls?|body)\b|\blistening device\b|\bput(?:ting)? thoughts (?:into|in) my head\b"),
    (_PS, 3, "self", r"\b(?:tv|television|radio|newsreader|presenter|people on (?:tv|the radio|the news))\b(?: \w+){0,3} "
                     r"(?:knows?|told|tells|talks?|is talking|are talking|sending|laughing at me)\b|\bhear my dead \w+\b"),
    (_PS, 3, "self", r"\b(?:sending|send|beaming|beam|pumping) (?:radio |micro)?(?:waves|signals|rays|messages|frequencies|"
                     r"radiation) (?:through|into|at|to) (?:me|my|the wall)\b|\b(?:scramble|control|read) my (?:brain|mind|"
                     r"thoughts)\b"),
    (_PS, 2, "self", r"\bin on it\b|\bhaven'?t slept (?:in|for) (?:\w+|\d+) days\b|\bdon'?t need (?:to )?sleep\b|"
                     r"\bsave (?:humanity|the world)\b|\bordering me\b|\bi can fly\b"),
    (_PS, 3, "self", r"\breading my (?:thoughts|mind)\b|\bthoughts are (?:being )?(?:broadcast|controlled|inserted|stolen)\b"),
    (_PS, 3, "self", r"\b(?:they|government|neighbou?rs|people|the tv|the radio|(?:radio )?presenter|cia|fbi|mi5|the "
                     r"police)(?: \w+){0,2} (?:are |is |keep |keeps )?(?:watching|following|spying on|controlling|poisoning|"
                     r"talking (?:directly )?to me|sending me (?:messages|signals)|pumping)\b"),
    (_PS, 3, "self", r"\b(?:food is (?:being )?poisoned|poisoning my food)\b|\breplaced by an? (?:impostor|imposter|double|robot)\b"),
    (_PS, 3, "self", r"\b(?:god|the devil|satan|angels?|demons?) (?:has |have )?(?:told|tells|chosen|chose|wants|commanded|"
                     r"is telling|are telling|whisper) me\b|\bchosen me\b"),
    (_PS, 2, "self", r"\b(?:chosen one|messiah|the messenger|prophet)\b|\bdemons? (?:in|inside)\b|\bdevil is inside\b"),
    (_PS, 3, "self", r"\b(?:instructions|messages|signals) (?:meant )?(?:only )?for me\b|\bwalls are breathing\b|"
                     r"\bhow they control me\b|\bcontrolling me\b|\bhiding in my (?:loft|attic|walls)\b"),
    (_PS, 2, "self", r"\bwhat'?s real\b|\bcovered (?:all )?the mirrors\b|\bwatch(?:ing)? me\b|\bfollow(?:ing)? me\b|"
                     r"\bshadows\b|\btalking about me\b|\bfeel unreal\b"),
    # substance crisis
    (_SU, 3, "any", r"\boverdos(?:e|ed|ing|es)\b"),
    (_SU, 3, "any", rf"\b{_SUBSTANCE}\b{_gap(10)}(?:can'?t keep my eyes open|won'?t wake up|not breathing|isn'?t "
                    rf"breathing|breathing (?:sounds wrong|feels slow|is slow)|lips (?:are )?(?:going |turning )?blue|"
                    rf"seizures?|shak(?:e|ing)|sweating|confused|black(?:ed)? out|blackouts?|pass(?:ed|ing)? out|vision "
                    rf"(?:is )?going|chest (?:is )?(?:really )?(?:tight|pain|hurts)|heart is (?:doing weird|racing|pounding)|"
                    rf"see(?:ing)? things|hearing things|withdrawal|can'?t stop vomiting|falling over|burning up|can'?t calm "
                    rf"down|going crazy|unconscious|not responding|talking to people who aren'?t there|seeing bugs|shakes|"
                    rf"sweats|blood on my clothes|not remembering|collapsed|fitting|turned blue)\b"),
    (_SU, 3, "any", r"\b(?:he|she|they|and) (?:won'?t|will not|doesn'?t|isn'?t|is not) (?:wake up|waking up|breathing|"
                    r"responding)\b|\b(?:he'?s|she'?s|they'?re|they are) not (?:waking up|breathing|responding)\b|"
                    r"\bunconscious\b|\bnot responding\b|\blips (?:are )?(?:going |turning )?blue\b"),
    (_SU, 2, "any", r"\btook something\b|\bnobody (?:would find me|checks on me)\b|\b(?:drink|drinking|use|using) again "
                    r"tonight\b|\binject\w*\b|\bdoing lines\b"),
    (_SU, 3, "any", rf"\b(?:can'?t keep my eyes open|won'?t wake up|not breathing|isn'?t breathing|seizures?|withdrawal|"
                    rf"cold turkey|black out every)\b{_gap(10)}{_SUBSTANCE}\b"),
    (_SU, 2, "any", r"\brelaps\w* on\b|\busing alone\b|\bdouble my (?:\w+ )?dose\b|\bdon'?t (?:bother )?test(?:ing)? it\b|"
                    r"\bdrunk driv\w*|\bcrashed my car drunk\b|\bwithout a drink\b|\bbender\b|\bblack out\b"),
    (_SU, 3, "any", r"\b(?:mix|mixed|mixing|with) (?:xanax|benzos|pills|valium|sleeping tablets|ghb|ketamine|opioids|"
                    r"painkillers|methadone|oxy\w*)\b(?: \w+){0,3} "
                    r"(?:wine|alcohol|vodka|drink|whisky)\b|\b(?:a|one|two) (?:litre|liter|bottle)s? of (?:vodka|whisky|gin|rum) a day\b"),
    (_SU, 2, "any", r"\b(?:heroin|fentanyl|meth|crack|methadone)\b"),
    (_SU, 1, "any", r"\b(?:drinking|drunk|drink|weed|painkillers|sober|relapsed)\b"),
    # eating disorder, medical
    (_ED, 3, "any", rf"\b{_ED_BEHAVIOUR}\b{_gap(14)}{_ED_MEDICAL}\b"),
    (_ED, 3, "any", rf"\b{_ED_MEDICAL}\b{_gap(14)}{_ED_BEHAVIOUR}\b"),
    (_ED, 2, "any", rf"\b{_ED_BEHAVIOUR}\b"),
    (_ED, 2, "any", r"\bcounting (?:every )?calorie\w*\b|\bskipping meals\b|\bmake myself exercise\b|"
                    r"\b(?:make|made|force|forced) me (?:to )?eat\b|\brefus\w* to eat\b|\bpotassium\b|"
                    r"\b(?:wants?|want) me admitted\b"),
    (_ED, 3, "any", r"\bheart rate (?:is|was|of|at|down to) (?:[1-4]\d)\b|\bpotassium (?:was|is) (?:really |very |dangerously )?low\b"),
)]

_NEGATIVE_SOURCE = re.compile(r"n'\?t|n't|\bnot\b|never|\bno\b|nobody|without")
_INNER_NEG = re.compile(r"\b(?:not|never|no longer)\b|n't\b")


@dataclass
class Match:
    category: str
    strength: int
    person: str
    start: int
    end: int
    text: str
    discounts: tuple[str, ...] = ()


@dataclass
class RuleScan:
    """Rule matches and modifier cues of one text, with sentence spans; offsets index the text."""
    text: str
    sents: list[tuple[int, int]]
    matches: list[Match]
    cues: dict[str, list[tuple[int, int, str]]]
    idioms: list[tuple[int, int, str]]
    index: dict[str, "_Spans"] = field(default_factory=dict)
    match_starts: list[int] = field(default_factory=list)


def _mask(norm: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return norm
    chars = list(norm)
    for s, e in spans:
        chars[s:e] = " " * (e - s)
    return "".join(chars)


class _Spans:
    """Sorted (start, end) spans answering "does any span overlap [lo, hi)?" in O(log n)."""

    def __init__(self, spans: list[tuple[int, int, str]]):
        spans = sorted(spans)
        self.starts = [sp[0] for sp in spans]
        self.maxend: list[int] = []
        top = -1
        for sp in spans:
            top = max(top, sp[1])
            self.maxend.append(top)

    def any(self, lo: int, hi: int) -> bool:
        k = bisect.bisect_left(self.starts, hi)
        return k > 0 and self.maxend[k - 1] > lo


def _alternation(patterns: Iterable[str]) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


IDIOM_RX = _alternation(rx.pattern for rx in IDIOMS)
MODIFIER_RX = {name: _alternation(rx.pattern for rx in rxs) for name, rxs in MODIFIERS.items()}
ANY_RULE_RX = _alternation(rx.pattern for _, _, _, rx in RULES)
PREFILTER_MIN_CHARS = 20_000   # longer texts: find candidate regions with one combined pattern first
PREFILTER_MARGIN = 800         # longer than any single rule match


def _candidate_regions(masked: str, sents: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merged spans of whole sentences around every place where some rule could match.

    Any match of any rule overlaps a match of the combined pattern, so running the rules on these regions
    finds exactly the matches a full scan finds (test_fast_scan_equals_full_scan checks it)."""
    starts = [sp[0] for sp in sents]
    ends = [sp[1] for sp in sents]
    regions: list[tuple[int, int]] = []
    for m in ANY_RULE_RX.finditer(masked):
        lo, hi = max(0, m.start() - PREFILTER_MARGIN), min(len(masked), m.end() + PREFILTER_MARGIN)
        i = max(0, bisect.bisect_right(starts, lo) - 1)
        j = bisect.bisect_left(ends, hi)
        lo = min(lo, starts[i]) if sents else lo
        hi = max(hi, ends[min(j, len(ends) - 1)]) if sents else hi
        if regions and lo <= regions[-1][1]:
            regions[-1] = (regions[-1][0], max(regions[-1][1], hi))
        else:
            regions.append((lo, hi))
    return regions


def scan_rules(text: str, full: bool = False) -> RuleScan:
    """Run the idiom, modifier and risk patterns over the whole text (rules only around candidate regions of
    long texts unless `full`)."""
    norm = normalise(text)
    sents = sentences(text)
    idioms = [(m.start(), m.end(), m.group(0)) for m in IDIOM_RX.finditer(norm)]
    masked = _mask(norm, [(s, e) for s, e, _ in idioms])
    cues = {name: [(m.start(), m.end(), m.group(0)) for m in rx.finditer(masked)] for name, rx in MODIFIER_RX.items()}
    index = {name: _Spans(spans) for name, spans in cues.items()}
    index["idiom"] = _Spans(idioms)
    regions = [(0, len(masked))] if full or len(masked) < PREFILTER_MIN_CHARS else _candidate_regions(masked, sents)
    matches = []
    seen: set[tuple[int, int, int]] = set()
    for r, (cat, strength, person, rx) in enumerate(RULES):
        inner_ok = not _NEGATIVE_SOURCE.search(rx.pattern)
        for lo, hi in regions:
            for m in rx.finditer(masked, lo, hi):
                if (r, m.start(), m.end()) in seen:
                    continue
                seen.add((r, m.start(), m.end()))
                mt = Match(cat, strength, person, m.start(), m.end(), m.group(0))
                # a negation inside a gapped pattern ("he has never hit me") negates it
                mt.discounts = ("negated",) if inner_ok and _INNER_NEG.search(m.group(0)) else ()
                matches.append(mt)
    matches.sort(key=lambda m: (m.start, m.end))
    starts = [s for s, _ in sents]

    def sentence_of(pos: int) -> tuple[int, int]:
        i = bisect.bisect_right(starts, pos) - 1
        return sents[i] if i >= 0 else (0, len(text))

    def cue_in(name: str, lo: int, hi: int) -> bool:
        return index[name].any(lo, hi)

    for m in matches:
        ss, se = sentence_of(m.start)
        disc: list[str] = list(m.discounts)
        # negation: a cue in the few words before the match, inside the same clause
        before = masked[ss:m.start]
        clause = _CLAUSE_BREAK.split(before)[-1]
        tail = " ".join(clause.split()[-4:])
        if "negated" not in disc and _NEG_CUE.search(tail) and not _NEG_EXCEPT.search(clause[-40:] + masked[m.start:m.end]):
            disc.append("negated")
        real = cue_in("real", ss - 200, se + 200)
        if cue_in("professional", ss, se) and m.person != "self" or \
                cue_in("professional", ss, se) and cue_in("identity", ss - 200, se):
            disc.append("professional")
        if cue_in("fiction", m.start - 300, m.end + 300) and not real:
            disc.append("fiction")
        if cue_in("hypothetical", ss, se):
            disc.append("hypothetical")
        # "these days" in "these days I run marathons" is the recovery, not a present-tense crisis
        present = any(not cue_in("recovery", ss + p.start(), ss + p.end()) for p in _PRESENT.finditer(masked[ss:se]))
        if (cue_in("past", ss, se) or cue_in("recovery", ss - 400, se + 400)) and not present:
            disc.append("past")
        if m.category in (_SH, _S) and cue_in("accident", ss, se) and not cue_in("not_accident", ss - 100, se + 100):
            disc.append("accident")
        if m.category in (_HI, _DV, _CA) and cue_in("jokey", ss, se + 40):
            disc.append("jokey")
        if m.category == _S and m.person != "self" and cue_in("bereavement", ss, se):
            disc.append("bereavement")
        if m.category == _S and m.strength <= 2 and cue_in("benign_reason", ss, se):
            disc.append("benign_reason")
        m.discounts = tuple(disc)
    return RuleScan(text, sents, matches, cues, idioms, index, [m.start for m in matches])


CUE_FEATURES = ("professional", "identity", "fiction", "past", "recovery", "hypothetical", "jokey", "accident", "benign_reason",
                "bereavement", "minor",
                "third_party", "first_person", "time", "means", "plan", "act")
RULE_FEATURES = ([f"rule_{c}" for c in RISK_CATEGORIES] + [f"disc_{c}" for c in RISK_CATEGORIES]
                 + ["rule_level", "disc_level", "n_matches", "n_discounted", "negated", "idiom"]
                 + [f"cue_{c}" for c in CUE_FEATURES] + ["question", "rule_imminent"])


def _rule_strengths(matches: list[Match], cues: dict[str, bool]) -> dict[str, int]:
    """Undiscounted strength per category. Two separate weak (2) cues of a category, or one with a time, means or plan
    cue, make it 3; a strong (3) match with an act in progress, or a plan or time together with a means, makes it 4."""
    base = {c: 0 for c in RISK_CATEGORIES}
    weak: dict[str, list[tuple[int, int]]] = {c: [] for c in RISK_CATEGORIES}
    for m in matches:
        if m.discounts:
            continue
        base[m.category] = max(base[m.category], m.strength)
        if m.strength == 2 and not any(s < m.end and m.start < e for s, e in weak[m.category]):
            weak[m.category].append((m.start, m.end))
    out = dict(base)
    context = cues["time"] or cues["means"] or cues["plan"] or cues["act"]
    for c in RISK_CATEGORIES:
        if base[c] == 2 and (len(weak[c]) >= 2 or context):
            out[c] = 3
    escalate = cues["act"] or (cues["plan"] and (cues["time"] or cues["means"])) or (cues["time"] and cues["means"])
    if escalate:
        for c in RISK_CATEGORIES:
            if base[c] >= 3:
                out[c] = 4
    return out


def window_rules(scan: RuleScan, start: int, end: int) -> tuple[np.ndarray, int, list[Match]]:
    """Rule features of one window, its rule level (0-4) and its matches."""
    ms = scan.matches[bisect.bisect_left(scan.match_starts, start):bisect.bisect_left(scan.match_starts, end)]
    cues = {name: scan.index[name].any(start, end) for name in CUE_FEATURES}
    strengths = _rule_strengths(ms, cues)
    disc = {c: 0 for c in RISK_CATEGORIES}
    for m in ms:
        if m.discounts:
            disc[m.category] = max(disc[m.category], m.strength)
    rule_level = max(strengths.values())
    idioms = scan.index["idiom"].any(start, end)
    text = scan.text[start:end]
    vals = ([strengths[c] / 4 for c in RISK_CATEGORIES] + [disc[c] / 4 for c in RISK_CATEGORIES]
            + [rule_level / 4, max(disc.values()) / 4, math.log1p(sum(1 for m in ms if not m.discounts)),
               math.log1p(sum(1 for m in ms if m.discounts)), float(any("negated" in m.discounts for m in ms)),
               float(idioms > 0)]
            + [float(cues[c]) for c in CUE_FEATURES]
            + [float("?" in text), float(rule_level == 4)])
    return np.asarray(vals, dtype=np.float32), rule_level, ms


def rule_assess(text: str) -> RiskAssessment:
    """The rule layer alone (a baseline for the report and a fallback description)."""
    scan = scan_rules(text)
    level, cats, ev = 0, set(), []
    for s, e in windows(scan.sents, text) or [(0, len(text))]:
        feats, lv, ms = window_rules(scan, s, e)
        level = max(level, lv)
        cats |= _rule_categories(feats)
    ev = _evidence(scan, [m for m in scan.matches])
    return _assessment(RISK_LEVELS[level], cats if level >= 2 else [], level / 4, ev)


def _rule_categories(feats: np.ndarray, at_least: int = 3) -> set[str]:
    """Categories whose (combined) undiscounted rule strength in a window reaches `at_least`."""
    return {c for c, v in zip(RISK_CATEGORIES, feats[:len(RISK_CATEGORIES)]) if round(float(v) * 4) >= at_least}


def _evidence(scan: RuleScan, ms: list[Match], limit: int = 6) -> list[str]:
    out: list[str] = []
    for m in sorted(ms, key=lambda m: (bool(m.discounts), -m.strength, m.start)):
        quote = scan.text[m.start:m.end].strip()
        note = f" (discounted: {', '.join(m.discounts)})" if m.discounts else ""
        item = f"{m.category}: \"{quote[:80]}\"{note}"
        if item not in out:
            out.append(item)
        if len(out) >= limit:
            break
    for s, e, t in scan.idioms[:2]:
        out.append(f"idiom masked: \"{scan.text[s:e].strip()[:60]}\"")
    return out


KEYWORDS = ("suicide", "suicidal", "kill myself", "want to die", "self harm", "self-harm", "cut myself", "overdose",
            "kill", "murder", "abuse", "hit me", "voices", "starving", "die")


def keyword_assess(text: str) -> str:
    """A crisis keyword list, the baseline named in ENVIRONMENT.md: 'high' on any keyword."""
    low = text.lower()
    return "high" if any(k in low for k in KEYWORDS) else "none"


# ---------------------------------------------------------------------------------------------------------------
# Layer 2: embedding prototypes
# ---------------------------------------------------------------------------------------------------------------

PROTOTYPES: dict[str, list[str]] = {
    _S: ["I want to end my life.", "Everyone would be better off if I was dead.",
         "I have pills saved and I plan to take them all tonight.", "I've written goodbye letters to my family.",
         "I feel like a burden and I won't be around much longer.", "I'm giving away my things because I won't need them."],
    _SH: ["I cut my arms to cope with the pain.", "I keep hurting myself on purpose.",
          "I burn my skin when I feel overwhelmed.", "I hide the scars from cutting under my sleeves."],
    _HI: ["I want to kill the man who hurt me.", "I have thoughts of hurting other people and I might act on them.",
          "I am going to make them pay, I have a weapon.", "I fantasise about murdering my boss."],
    _CA: ["My father beats me and I am a child.", "An adult touches me sexually and tells me to keep it secret.",
          "The neighbour's children are hurt and neglected.", "I hit my baby and I'm scared I'll hurt them."],
    _EA: ["My elderly mother is being hit by her carer.", "Someone is stealing my grandfather's pension and savings.",
          "The care home neglects my grandmother and she has bedsores.", "My son hits me and takes my money, I'm 80."],
    _DV: ["My husband beats me and I'm scared for my life.", "My partner controls my money and watches my phone.",
          "My boyfriend choked me and threatened to kill me.", "I'm afraid to go home because of my partner's violence."],
    _PS: ["The voices command me to hurt people.", "The government is watching me through cameras in my walls.",
          "I am receiving secret messages from the television.", "I am God's chosen messenger and must act."],
    _SU: ["I took too many drugs and I can't breathe properly.", "He overdosed and won't wake up.",
          "I'm in dangerous alcohol withdrawal and shaking.", "I mixed pills with alcohol and feel like I'm dying."],
    _ED: ["I haven't eaten for days and I keep fainting.", "I purge every meal and now I'm vomiting blood.",
          "My heart is racing because I've been starving myself.", "I'm dangerously underweight and dizzy all the time."],
    "neg_idiom": ["This traffic is killing me.", "I'm dying to see that movie.", "My boss will kill me if I'm late.",
                  "I could murder a pizza right now."],
    "neg_professional": ["What are the warning signs of suicide for a nursing exam?",
                         "As a therapist, how should I assess risk in my clients?",
                         "What does research say about prevention of abuse?"],
    "neg_fiction": ["In my novel, the character dies at the end.", "The villain in the film kills his rival.",
                    "I'm writing a story about a troubled teenager."],
    "neg_past": ["Years ago I struggled, but I've recovered and I'm doing well now.",
                 "I used to have a problem but I've been fine for a long time."],
    "neg_benign": ["How can I communicate better with my partner?", "I get nervous before presentations at work.",
                   "What's a good way to plan a birthday party?", "How do I set boundaries with my family?"],
}
PROTO_FEATURES = [f"proto_{k}" for k in PROTOTYPES]


# ---------------------------------------------------------------------------------------------------------------
# Embeddings, with a small per-process cache
# ---------------------------------------------------------------------------------------------------------------

_CACHE: dict[str, np.ndarray] = {}
_CACHE_MAX = 50_000


def embed(texts: list[str], batch_size: int = 64) -> np.ndarray:
    """MiniLM embeddings through empathy.embeddings.encode (which batches texts of similar length), cached per process."""
    from empathy.embeddings import encode

    todo = sorted({t for t in texts if t not in _CACHE}, key=len)
    if todo and not _CACHE:
        # the encoder's "Loading weights" bar would land on the CLI's stderr, which carries the summary
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    if todo:
        vecs = encode(todo, batch_size=batch_size)
        if len(_CACHE) + len(todo) > _CACHE_MAX:
            _CACHE.clear()
        for t, v in zip(todo, vecs):
            _CACHE[t] = v
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return np.stack([_CACHE[t] for t in texts])


# ---------------------------------------------------------------------------------------------------------------
# Layer 3: the classifier
# ---------------------------------------------------------------------------------------------------------------

HEADS = ("ge_low", "ge_moderate", "ge_high", "imminent")


@dataclass
class _Window:
    doc: int
    start: int
    end: int
    rule_feats: np.ndarray
    rule_level: int
    matches: list[Match]
    text: str = ""          # the window as the encoder and the n-gram features see it (idioms cut out)


def _doc_windows(doc: int, text: str, scan: RuleScan) -> list[_Window]:
    spans = windows(scan.sents, text) or [(0, len(text))]
    out = []
    for s, e in spans:
        feats, lv, ms = window_rules(scan, s, e)
        out.append(_Window(doc, s, e, feats, lv, ms))
    if len(out) > MAX_EMBED_WINDOWS:
        out = _select_windows(out)
    return out


def _select_windows(ws: list[_Window]) -> list[_Window]:
    """Keep MAX_EMBED_WINDOWS windows: rule hits first (riskiest first), then first, last and an even sample."""
    def risk(w: _Window) -> float:
        return float(w.rule_feats[:len(RISK_CATEGORIES)].max() * 4 + 0.25 * w.rule_feats[len(RISK_CATEGORIES):2 * len(RISK_CATEGORIES)].max())

    hit = sorted((i for i, w in enumerate(ws) if w.matches), key=lambda i: (-risk(ws[i]), i))
    keep: list[int] = hit[:MAX_EMBED_WINDOWS - 2]
    for i in (0, len(ws) - 1):
        if i not in keep:
            keep.append(i)
    room = MAX_EMBED_WINDOWS - len(keep)
    if room > 0:
        step = len(ws) / (room + 1)
        for k in range(1, room + 1):
            i = int(k * step)
            if i not in keep:
                keep.append(i)
    return [ws[i] for i in sorted(set(keep))]


def _verified(path: Path, sha256: str, what: str) -> Path:
    """A file beside risk_model.json, present and with the sha256 the model recorded for it."""
    from empathy.io import sha256_file

    if not path.is_file():
        raise UserError(f"risk model {what} {path}: file not found (retrain with `empathy safety train-detector`)")
    if sha256_file(path) != sha256:
        raise UserError(f"risk model {what} {path}: does not match its model file (retrain, or restore both files)")
    return path


def _load_memory(path: Path, sha256: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The labelled windows' embeddings (float16) and which are crisis and benign, checked against the model."""
    with np.load(_verified(path, sha256, "memory")) as z:
        return z["embeddings"].astype(np.float32), z["risky"].astype(bool), z["benign"].astype(bool)


# word 1-2 grams and character 2-5 grams (within words) of each window, TF-IDF weighted. Mean-pooled MiniLM
# vectors blur phrasing: "is killing me" and "want to kill me", "lol" and "tonight", sit close together. The
# n-grams keep it. TEXT_WEIGHT scales them against the standardised dense features, which under one L2 penalty
# is a weaker penalty on them (chosen out-of-fold on train + val: 30 gave the fewest false alarms at the recall
# target among 10-120).
TEXT_WORD_FEATURES = 5000
TEXT_CHAR_FEATURES = 20000
TEXT_WEIGHT = 30.0
TEXT_FILE = MODEL_FILE.with_name("risk_text.npz")


class TextFeatures:
    """TF-IDF n-grams of window texts, fitted on the training windows and stored as vocabularies + idf."""

    KINDS = {"word": {"analyzer": "word", "ngram_range": (1, 2), "max_features": TEXT_WORD_FEATURES},
             "char": {"analyzer": "char_wb", "ngram_range": (2, 5), "max_features": TEXT_CHAR_FEATURES}}

    def __init__(self, vectorizers: dict[str, Any], weight: float = TEXT_WEIGHT):
        self.vectorizers = vectorizers
        self.weight = weight

    @classmethod
    def fit(cls, texts: list[str]) -> "TextFeatures":
        from sklearn.feature_extraction.text import TfidfVectorizer

        return cls({k: TfidfVectorizer(min_df=2, sublinear_tf=True, dtype=np.float32, **kw).fit(texts)
                    for k, kw in cls.KINDS.items()})

    @property
    def size(self) -> int:
        return sum(len(v.vocabulary_) for v in self.vectorizers.values())

    def transform(self, texts: list[str]):
        import scipy.sparse as sp

        return sp.hstack([v.transform(texts) for v in self.vectorizers.values()]).tocsr() * self.weight

    def arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for k, v in self.vectorizers.items():
            out[f"{k}_vocabulary"] = np.array(sorted(v.vocabulary_, key=v.vocabulary_.get))
            out[f"{k}_idf"] = v.idf_.astype(np.float32)
        return out

    @classmethod
    def from_arrays(cls, z: Any, weight: float) -> "TextFeatures":
        from sklearn.feature_extraction.text import TfidfVectorizer

        vecs = {}
        for k, kw in cls.KINDS.items():
            kw = {key: val for key, val in kw.items() if key != "max_features"}
            vocab = [str(t) for t in z[f"{k}_vocabulary"]]
            v = TfidfVectorizer(sublinear_tf=True, dtype=np.float32, vocabulary={t: i for i, t in enumerate(vocab)},
                                **kw)
            v.idf_ = z[f"{k}_idf"].astype(np.float64)
            vecs[k] = v
        return cls(vecs, weight)


def _load_text_model(path: Path, sha256: str, weight: float, heads: Iterable[str]
                     ) -> tuple[TextFeatures, dict[str, np.ndarray]]:
    """The n-gram vocabularies and each head's n-gram coefficients, checked against the model file."""
    with np.load(_verified(path, sha256, "n-grams")) as z:
        missing = [h for h in heads if h not in z.files]
        if missing:
            raise UserError(f"risk model n-grams {path}: no coefficients for {', '.join(missing)}; retrain it")
        return TextFeatures.from_arrays(z, weight), {h: z[h].astype(np.float64) for h in heads}


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


class RiskDetector:
    """Rules + MiniLM + logistic regression heads, loaded from risk_model.json."""

    def __init__(self, model: dict[str, Any], path: str | Path | None = None):
        if model.get("format_version") != FORMAT_VERSION:
            raise UserError(f"risk model {path}: format_version {model.get('format_version')!r}, expected {FORMAT_VERSION}")
        from empathy.embeddings import MODEL_NAME

        if model.get("embedding_model") != MODEL_NAME:
            raise UserError(f"risk model {path}: trained on embeddings of {model.get('embedding_model')!r}, "
                            f"this build uses {MODEL_NAME!r}; retrain with `empathy safety train-detector`")
        if model.get("feature_names") != feature_names():
            raise UserError(f"risk model {path}: its features differ from this version of the detector; retrain it")
        self.model = model
        self.path = str(path) if path else None
        self.mean = np.asarray(model["scaler"]["mean"], dtype=np.float64)
        self.scale = np.asarray(model["scaler"]["scale"], dtype=np.float64)
        self.heads = {k: (np.asarray(v["coef"], dtype=np.float64), float(v["intercept"])) for k, v in model["heads"].items()}
        self.cats = {k: (np.asarray(v["coef"], dtype=np.float64), float(v["intercept"]))
                     for k, v in model["categories"].items()}
        self.thresholds = model["thresholds"]
        self.cat_thresholds = model["category_thresholds"]
        mh = model["message_head"]
        if mh.get("features") != MESSAGE_FEATURES or mh.get("max_windows") != MESSAGE_MAX_WINDOWS:
            raise UserError(f"risk model {path}: its message features differ from this version of the detector; "
                            "retrain it")
        self.message_head = (np.asarray(mh["coef"], dtype=np.float64), float(mh["intercept"]))
        self._protos: dict[str, np.ndarray] | None = None
        self.memory = _load_memory(Path(path).with_name(model["memory"]["file"]) if path else MEMORY_FILE,
                                   model["memory"]["sha256"])
        tf = model["text_features"]
        self.text, self.text_coef = _load_text_model(
            Path(path).with_name(tf["file"]) if path else TEXT_FILE, tf["sha256"], float(tf["weight"]),
            [f"head_{k}" for k in self.heads] + [f"cat_{k}" for k in self.cats])

    @classmethod
    def load(cls, path: str | Path | None = None) -> "RiskDetector":
        p = Path(path) if path else MODEL_FILE
        if not p.is_file():
            raise UserError(f"risk model {p}: file not found (train it with `empathy safety train-detector`)")
        try:
            model = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise UserError(f"risk model {p}, line {exc.lineno}: malformed JSON ({exc.msg})") from None
        return cls(model, p)

    # -- features ---------------------------------------------------------------------------------------------
    def _prototypes(self) -> dict[str, np.ndarray]:
        if self._protos is None:
            self._protos = _prototype_vectors()
        return self._protos

    def _windows(self, texts: list[str], batch_size: int) -> tuple[list[RuleScan], list[_Window], np.ndarray]:
        scans, wins, X = _featurise(texts, batch_size, self._prototypes())
        if len(X):
            bank, risky, benign = self.memory
            X[:, -len(KNN_FEATURES):] = knn_features(X[:, :384], bank, risky, benign)
        return scans, wins, X

    def _probs(self, X: np.ndarray, wins: list[_Window]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        Z = (X - self.mean) / self.scale
        T = self.text.transform([w.text for w in wins])
        heads = {k: _sigmoid(Z @ w + T @ self.text_coef[f"head_{k}"] + b) for k, (w, b) in self.heads.items()}
        cats = {k: _sigmoid(Z @ w + T @ self.text_coef[f"cat_{k}"] + b) for k, (w, b) in self.cats.items()}
        return heads, cats

    # -- scoring ----------------------------------------------------------------------------------------------
    def assess(self, text: str) -> RiskAssessment:
        return self.assess_many([text])[0]

    def assess_many(self, texts: list[str], batch_size: int = 64) -> list[RiskAssessment]:
        if not texts:
            return []
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"assess_many: item {i} is {type(t).__name__}, expected str")
        scans, wins, X = self._windows(texts, batch_size)
        heads, cats = self._probs(X, wins) if len(X) else ({}, {})
        by_doc: dict[int, list[int]] = {}
        for i, w in enumerate(wins):
            by_doc.setdefault(w.doc, []).append(i)
        if wins:
            below = _levels_below_high(heads, self.thresholds)
            doc = np.array([w.doc for w in wins])
            window_evidence = np.array([bool(w.matches) for w in wins])
            evidence = np.zeros(len(texts), dtype=bool)
            np.logical_or.at(evidence, doc, window_evidence)
            coef, intercept = self.message_head

            def message_high(docs: np.ndarray, n_docs: int, ev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                score = _sigmoid(message_features(heads["ge_high"], docs, n_docs, ev) @ coef + intercept)
                return score, _message_high(score, ev, self.thresholds)

            message, high = message_high(doc, len(texts), evidence)
            # each window scored as a message of its own: the windows behind a high decision
            _, alone = message_high(np.arange(len(wins)), len(wins), window_evidence)
        out = []
        for d, text in enumerate(texts):
            idx = by_doc.get(d, [])
            if not idx or not text.strip():
                out.append(_assessment("none", [], 0.0, ["empty text"] if not text.strip() else []))
                continue
            riskiest = max(idx, key=lambda i: heads["ge_high"][i])
            floor = any(wins[i].rule_level == 4 for i in idx)   # an undiscounted act in progress: never below high
            if high[d] or floor:
                level = 4 if high[d] and max(heads["imminent"][i] for i in idx) >= self.thresholds["imminent"] else 3
                top = [i for i in idx if i == riskiest or alone[i] or wins[i].rule_level == 4]
            else:
                level = int(max(below[i] for i in idx))
                top = [i for i in idx if below[i] == level]
            chosen: set[str] = set()
            if level >= 1:
                for i in top:
                    chosen |= {c for c in RISK_CATEGORIES if cats[c][i] >= self.cat_thresholds[c]}
                    if level >= 3:
                        chosen |= _rule_categories(wins[i].rule_feats)
                if level >= 3 and not chosen:
                    chosen.add(max(RISK_CATEGORIES, key=lambda c: max(cats[c][i] for i in top)))
            score = float(message[d])
            ms = [m for i in idx for m in wins[i].matches]
            ev = [f"classifier: P(high or imminent) = {score:.2f} for the message"]
            if len(idx) > 1:
                ev.append(f"riskiest window: characters {wins[riskiest].start}-{wins[riskiest].end} of {len(text)} "
                          f"(P = {heads['ge_high'][riskiest]:.2f}; {len(idx)} windows scored)")
            ev += _evidence(scans[d], ms)
            out.append(_assessment(RISK_LEVELS[level], chosen, score, ev))
        return out


KNN_K = 3
KNN_FEATURES = ["knn_risk_mean", "knn_risk_max", "knn_benign_mean", "knn_benign_max", "knn_margin_mean",
                "knn_margin_max"]
MEMORY_FILE = MODEL_FILE.with_name("risk_memory.npz")


def feature_names() -> list[str]:
    return [f"emb_{i}" for i in range(384)] + PROTO_FEATURES + RULE_FEATURES + KNN_FEATURES


def _rule_slice() -> slice:
    start = 384 + len(PROTO_FEATURES)
    return slice(start, start + len(RULE_FEATURES))


def knn_features(E: np.ndarray, bank: np.ndarray, risky: np.ndarray, benign: np.ndarray,
                 exclude: np.ndarray | None = None) -> np.ndarray:
    """Similarity of each window to its KNN_K nearest labelled crisis windows and benign windows.

    The labelled set's own look-alikes ("I gave my guitar to my nephew, he's started lessons") say more about
    a new sentence than a linear boundary through the embedding space does: a window close to known benign
    look-alikes and far from known crises is probably one of them. `exclude` (windows x bank) hides a training
    window's own sentence from it.
    """
    out = np.zeros((len(E), len(KNN_FEATURES)), dtype=np.float32)
    for start in range(0, len(E), 2048):
        S = E[start:start + 2048].astype(np.float32) @ bank.T.astype(np.float32)
        if exclude is not None:
            S[exclude[start:start + 2048]] = -1.0
        cols = []
        for mask in (risky, benign):
            top = np.sort(np.where(mask[None, :], S, -1.0), axis=1)[:, -KNN_K:]
            cols += [top.mean(axis=1), top[:, -1]]
        cols += [cols[0] - cols[2], cols[1] - cols[3]]
        out[start:start + 2048] = np.stack(cols, axis=1)
    return out


def _prototype_vectors() -> dict[str, np.ndarray]:
    return {k: embed(v) for k, v in PROTOTYPES.items()}


def _featurise(texts: list[str], batch_size: int, protos: dict[str, np.ndarray], keep=None
               ) -> tuple[list[RuleScan], list[_Window], np.ndarray]:
    scans = [scan_rules(t) for t in texts]
    wins = [w for d, (t, sc) in enumerate(zip(texts, scans)) if t.strip()
            for i, w in enumerate(_doc_windows(d, t, sc)) if keep is None or keep(d, i)]
    if not wins:
        return scans, wins, np.zeros((0, len(feature_names())), dtype=np.float32)
    for w in wins:
        w.text = _embed_text(scans[w.doc], w.start, w.end)
    E = embed([w.text for w in wins], batch_size)
    P = np.stack([(E @ protos[k].T).max(axis=1) for k in PROTOTYPES], axis=1)
    R = np.stack([w.rule_feats for w in wins])
    K = np.zeros((len(wins), len(KNN_FEATURES)), dtype=np.float32)   # filled against a memory by the caller
    return scans, wins, np.hstack([E, P, R, K]).astype(np.float32)


def _embed_text(scan: RuleScan, start: int, end: int) -> str:
    """The window as the encoder sees it: idioms cut out, so "this commute is killing me" reads as a commute."""
    cuts = sorted((max(s, start), min(e, end)) for s, e, _ in scan.idioms if s < end and e > start)
    if not cuts:
        return scan.text[start:end]
    parts, pos = [], start
    for s, e in cuts:
        if s > pos:
            parts.append(scan.text[pos:s])
        pos = max(pos, e)
    parts.append(scan.text[pos:end])
    return " ".join(" ".join(parts).split())


def _levels_below_high(heads: dict[str, np.ndarray], th: dict[str, float]) -> np.ndarray:
    """Each window's level from the low and moderate heads (0-2); high is decided for the whole message."""
    return np.where(heads["ge_moderate"] >= th["ge_moderate"], 2, np.where(heads["ge_low"] >= th["ge_low"], 1, 0))


MESSAGE_FEATURES = ["top1_logit", "top2_logit", "top3_logit", "log_windows", "rule_evidence"]
# the longest labelled crisis message has 6 windows: the message head has not seen longer ones, so a longer text
# counts as 6 (a crisis sentence at the end of 1 MB is not discounted beyond what was measured)
MESSAGE_MAX_WINDOWS = 6
MESSAGE_C = 1.0


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def message_features(p_high: np.ndarray, doc: np.ndarray, n_docs: int, evidence: np.ndarray) -> np.ndarray:
    """Per message (doc index): the logits of its three riskiest windows' P(high) (the last one repeated when it
    has fewer), log of its window count capped at MESSAGE_MAX_WINDOWS, and whether a rule matched in it."""
    z = _logit(np.asarray(p_high, dtype=np.float64))
    order = np.lexsort((-z, doc))
    d_sorted = doc[order]
    rank = np.arange(len(order)) - np.searchsorted(d_sorted, d_sorted)
    top = np.full((n_docs, 3), np.nan)
    keep = rank < 3
    top[d_sorted[keep], rank[keep]] = z[order][keep]
    top[:, 0] = np.where(np.isnan(top[:, 0]), _logit(np.zeros(1))[0], top[:, 0])
    for j in (1, 2):
        top[:, j] = np.where(np.isnan(top[:, j]), top[:, j - 1], top[:, j])
    n_windows = np.bincount(doc, minlength=n_docs)
    log_windows = np.log(np.clip(n_windows, 1, MESSAGE_MAX_WINDOWS))
    return np.column_stack([top, log_windows, np.asarray(evidence, dtype=np.float64)])


def _message_high(score: np.ndarray, evidence: np.ndarray, th: dict[str, float]) -> np.ndarray:
    """A message is high when its message score passes the threshold for its rule evidence: a message in which no
    rule matched at all (not even a discounted match) needs the higher "ge_high_no_rule" threshold, since short
    conversational turns ("ok thanks for your advice") otherwise land near crisis text in the embedding space."""
    return np.where(evidence, score >= th["ge_high"], score >= th["ge_high_no_rule"])


# ---------------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------------

def read_labelled(path: str | Path) -> list[dict[str, Any]]:
    """The labelled set, checked: id, text, risk_level, categories, split on every row."""
    from empathy.io import read_jsonl

    rows = read_jsonl(path, "labelled risk set")
    for i, r in enumerate(rows, start=1):
        for key in ("id", "text", "risk_level", "categories", "split"):
            if key not in r:
                raise UserError(f"labelled risk set {path}, record {i}: missing {key!r}")
        if r["risk_level"] not in RISK_LEVELS:
            raise UserError(f"labelled risk set {path}, record {i}: unknown risk_level {r['risk_level']!r}")
        bad = [c for c in r["categories"] if c not in RISK_CATEGORIES]
        if bad:
            raise UserError(f"labelled risk set {path}, record {i}: unknown categories {bad}")
        if r["split"] not in SPLITS:
            raise UserError(f"labelled risk set {path}, record {i}: split must be one of {', '.join(SPLITS)}")
    return rows


def find_counsel_chat(explicit: str | Path | None = None) -> Path | None:
    from empathy.data.shared_sets import COUNSEL_CHAT, find_shared_file

    return find_shared_file(COUNSEL_CHAT, explicit)


def counsel_chat_questions(path: str | Path) -> list[dict[str, Any]]:
    """One row per counsel-chat question: id, text, topic, split, benign (an ordinary topic: a weak label)."""
    from empathy.data.shared_sets import counsel_chat_questions as read

    return read(path, COUNSEL_CHAT_RISK_TOPICS)


ANNOTATIONS_NAME = "counsel_chat_annotations.jsonl"


def annotations_file(labelled_path: str | Path) -> Path:
    """The counsel-chat annotations sit beside the labelled set, so training finds them from any working directory."""
    return Path(labelled_path).with_name(ANNOTATIONS_NAME)


def read_counsel_chat_annotations(path: str | Path) -> dict[str, dict[str, Any]]:
    """Risk levels of counsel-chat questions by id, from blind annotators ({} when the file is absent).

    The file holds ids and labels only, never the text, which stays in ../shared/data. Annotations replace the
    topic's weak label in training (train split) and add an annotated measure beside it in evaluation.
    """
    from empathy.io import iter_jsonl_numbered

    p = Path(path)
    if not p.is_file():
        return {}
    out: dict[str, dict[str, Any]] = {}
    for lineno, r in iter_jsonl_numbered(p, "counsel-chat annotations"):
        cats = r.get("categories")
        if (not isinstance(r.get("id"), str) or r.get("risk_level") not in LEVEL_INDEX or not isinstance(cats, list)
                or any(c not in RISK_CATEGORIES for c in cats) or (LEVEL_INDEX[r["risk_level"]] < 2) != (not cats)):
            raise UserError(f"counsel-chat annotations {p}, line {lineno}: needs id, a risk_level of {RISK_LEVELS} "
                            f"and categories from {RISK_CATEGORIES} (empty exactly for none/low): {r}")
        if r["id"] in out:
            raise UserError(f"counsel-chat annotations {p}, line {lineno}: duplicate id {r['id']}")
        out[r["id"]] = r
    return out


def _turn_files() -> dict[str, Path]:
    from empathy.data.shared_sets import ANNOMI, ESCONV, find_shared_file

    return {name: path for name in (ANNOMI, ESCONV) if (path := find_shared_file(name))}


def benign_turns(split: str) -> list[dict[str, Any]]:
    """Real client turns (AnnoMI, ESConv) of one conversation split that the rules alone do not rate high.

    Weak label "benign": these are motivational-interviewing and emotional-support sessions, not crisis lines.
    A turn in which the rules see an undiscounted high or imminent sign is left out rather than assumed benign,
    so a real disclosure in these sessions is never taught as a negative.
    """
    from empathy.data.shared_sets import conversational_turns

    return [t for t in conversational_turns() if t["split"] == split and not _is_high(rule_assess(t["text"]).risk_level)]


# ---------------------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------------------

def _fit_lr(X: np.ndarray, y: np.ndarray, C: float, weights: np.ndarray | None = None):
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=5000, solver="lbfgs")
    clf.fit(X, y, sample_weight=weights)
    return clf


def _high_threshold(p: np.ndarray, positive: np.ndarray, target: float) -> float:
    """The largest threshold whose recall on `positive` is at least `target` (never above 0.5)."""
    ps = np.sort(p[positive])[::-1]
    if not len(ps):
        return 0.5
    k = max(1, math.ceil(target * len(ps)))
    return float(min(0.5, ps[k - 1] - 1e-6))


def _high_thresholds(p: np.ndarray, positives: list[np.ndarray], negatives: list[np.ndarray], evidence: np.ndarray,
                     target: float) -> tuple[float, float]:
    """The high thresholds with and without rule evidence that keep recall at `target` in every group of `positives`.

    Among the pairs (t_rule <= t_no_rule) that keep the recall in each group (short and long messages: a buried
    disclosure in a long post must be caught as often as a sentence), the one with the fewest false alarms: the sum
    over `negatives` (groups whose false-alarm rates are targets of their own: labelled benign rows, real client
    turns, counsel-chat questions) of the share of the group flagged, all out-of-fold.
    """
    pos_groups = [g for g in positives if g.any()]
    neg_groups = [g for g in negatives if g.any()]
    if not pos_groups:
        return 0.5, 0.5
    need = [max(1, math.ceil(target * int(g.sum()))) for g in pos_groups]
    pe = [np.sort(p[g & evidence])[::-1] for g in pos_groups]
    pn = [np.sort(p[g & ~evidence])[::-1] for g in pos_groups]
    best: tuple[float, float, float] | None = None
    for t1 in np.unique(np.round(p[np.logical_or.reduce(pos_groups)], 6)):
        t1 = float(min(0.5, t1 - 1e-6))
        t2 = 0.99
        for k, e, n in zip(need, pe, pn):
            missing = k - int((e >= t1).sum())
            if missing > len(n):
                t2 = -1.0
                break
            if missing > 0:
                t2 = min(t2, float(n[missing - 1] - 1e-6))
        if t2 < t1:     # text without rule evidence never needs less confidence than text with it
            continue
        flagged = np.where(evidence, p >= t1, p >= t2)
        cost = sum(float(flagged[g].mean()) for g in neg_groups)
        if best is None or cost < best[0] - 1e-12:
            best = (cost, t1, t2)
    if best is None:
        t = _high_threshold(p, np.logical_or.reduce(pos_groups), target)
        return t, t
    return best[1], best[2]


def _best_f1_threshold(p: np.ndarray, y: np.ndarray, default: float = 0.5) -> float:
    if y.sum() == 0:
        return default
    best, best_t = -1.0, default
    for t in np.unique(np.round(p, 4)):
        pred = p >= t
        tp = float((pred & y).sum())
        f1 = 2 * tp / (pred.sum() + y.sum()) if tp else 0.0
        if f1 > best + 1e-9:
            best, best_t = f1, float(t)
    return best_t


TRAIN_C = 0.003
COUNSEL_CHAT_WEIGHT = 0.5
TURN_WEIGHT = 1.0             # real client turns of AnnoMI and ESConv (train conversations), weak negatives
CV_FOLDS = 5
RULE_DROPOUT_WEIGHT = 1.0     # weight of the copies of labelled rows with every rule feature zeroed


def _with_rule_dropout(X: np.ndarray, level: np.ndarray, cats: list[set[str]], w: np.ndarray, labelled: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, list[set[str]], np.ndarray]:
    """Append a copy of every labelled row with its rule features zeroed.

    The rules were written while looking at the training data, so on it they look nearly perfect and a classifier
    would learn to trust them alone. The copies say "no rule fired, and this is still a crisis (or still benign)",
    which makes the embedding carry weight of its own for text the rules miss.
    """
    idx = np.where(labelled)[0]
    Xa = X[idx].copy()
    Xa[:, _rule_slice()] = 0.0
    return (np.vstack([X, Xa]), np.concatenate([level, level[idx]]), cats + [cats[i] for i in idx],
            np.concatenate([w, np.full(len(idx), RULE_DROPOUT_WEIGHT)]))


def _design(Z: np.ndarray, T: Any) -> Any:
    """Dense standardised features beside the sparse n-grams: one design matrix for every head."""
    import scipy.sparse as sp

    return sp.hstack([sp.csr_matrix(Z), T]).tocsr()


def _fit_heads(Z: Any, level: np.ndarray, cats: list[set[str]] | None, w: np.ndarray) -> tuple[dict, dict]:
    targets = {"ge_low": level >= 1, "ge_moderate": level >= 2, "ge_high": level >= 3, "imminent": level >= 4}
    heads = {k: _fit_lr(Z, y.astype(int), TRAIN_C, w) for k, y in targets.items()}
    cat_models = ({c: _fit_lr(Z, np.array([c in cs for cs in cats], dtype=int), TRAIN_C, w) for c in RISK_CATEGORIES}
                  if cats is not None else {})
    return heads, cat_models


def _scaler(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    return mean, np.where(scale > 1e-8, scale, 1.0)


def train_detector(labelled_path: str | Path = DEFAULT_DATA, out_path: str | Path = MODEL_FILE,
                   counsel_chat: str | Path | None = None, use_counsel_chat: bool = True,
                   recall_target: float = RECALL_TARGET) -> dict[str, Any]:
    """Fit the detector on the train and val splits and write the model file; returns a summary.

    Thresholds come from 5-fold out-of-fold predictions over train + val (the test split is never read). The
    message head is fitted on the out-of-fold window probabilities (its own scores out-of-fold again, over the
    messages), and the high thresholds on its scores are the pair that keeps out-of-fold recall of high/imminent
    at `recall_target` with the fewest false alarms (the model also lists the pair, and its out-of-fold rates,
    for OPERATING_POINTS, so a clinical team can see what another operating point costs before retraining with
    it); the others maximise F1. The final heads are then refit on all of train + val. Counsel-chat questions of
    its *train* split are added (weight 0.5) when the file is found: at their level in data/safety/counsel_chat_annotations.jsonl,
    or, without an annotation, the ordinary topics as weak negatives; the model records whether it was used, and
    the sha256 of the file and of the annotations. Deterministic: fixed folds, lbfgs, no sampling.
    """
    from sklearn.model_selection import StratifiedKFold

    from empathy.embeddings import MODEL_NAME
    from empathy.io import sha256_file, write_json

    if not 0.5 <= recall_target < 1.0:
        raise UserError(f"recall target {recall_target}: must be at least 0.5 and below 1")
    t0 = time.time()
    # a text embedded earlier in this process, in another batch, differs in the last float bits, and the threshold
    # search can turn that into a different threshold pair: start from nothing, so that the result does not depend
    # on what the process did before (the on-disk EmbeddingCache, when turned on, has the same effect)
    _CACHE.clear()
    rows = read_labelled(labelled_path)
    dev = [r for r in rows if r["split"] in ("train", "val")]
    if not any(r["split"] == "train" for r in dev) or not any(_is_high(r["risk_level"]) for r in dev):
        raise UserError(f"labelled risk set {labelled_path}: needs train rows with high/imminent examples")
    cc_path = find_counsel_chat(counsel_chat) if use_counsel_chat else None
    notes_path = annotations_file(labelled_path)
    notes = read_counsel_chat_annotations(notes_path) if cc_path else {}
    # counsel-chat train questions: annotated ones at their annotated level, the rest of the ordinary topics as
    # weak negatives
    questions = [q for q in counsel_chat_questions(cc_path) if q["split"] == "train" and (q["id"] in notes or q["benign"])
                 ] if cc_path else []
    q_levels = [notes[q["id"]]["risk_level"] if q["id"] in notes else "none" for q in questions]
    q_cats = [set(notes[q["id"]]["categories"]) if q["id"] in notes else set() for q in questions]
    turns = benign_turns("train") if use_counsel_chat else []
    protos = _prototype_vectors()

    texts = [r["text"] for r in dev] + [q["text"] for q in questions] + [t["text"] for t in turns]
    n_dev, n_q = len(dev), len(questions)
    _, wins, X = _featurise(texts, 64, protos)
    doc = np.array([w.doc for w in wins])
    doc_level = np.array([LEVEL_INDEX[r["risk_level"]] for r in dev] + [LEVEL_INDEX[lv] for lv in q_levels]
                         + [0] * len(turns))
    doc_cats = [set(r["categories"]) for r in dev] + q_cats + [set()] * len(turns)
    level = doc_level[doc]
    cats = [doc_cats[d] for d in doc]
    w = np.where(doc < n_dev, 1.0, np.where(doc < n_dev + n_q, COUNSEL_CHAT_WEIGHT, TURN_WEIGHT))
    # windows from outside the project's labelled set (counsel-chat questions, client turns): kept out of the
    # rule-dropout copies
    weak_rows = doc >= n_dev
    turn_rows = doc >= n_dev + n_q
    # the memory of labelled windows behind the neighbour features: stored as float16, so train on what is stored
    E16 = X[:, :384].astype(np.float16).astype(np.float32)
    # counsel-chat questions annotated none or low join the benign memory: real posts as neighbours of real posts
    # (an annotated crisis is labelled as a whole message, so its windows cannot be crisis neighbours)
    risky_w, benign_w = ~weak_rows & (level >= 3), ~turn_rows & (level <= 1)

    wtext = [wn.text for wn in wins]

    def ngrams(fit_rows: np.ndarray) -> tuple[TextFeatures, Any]:
        """n-grams fitted on fit_rows, and fit_rows' n-grams with the rule-dropout copies appended."""
        import scipy.sparse as sp

        tf = TextFeatures.fit([wtext[i] for i in np.where(fit_rows)[0]])
        Tfit = tf.transform([wtext[i] for i in np.where(fit_rows)[0]])
        copies = np.where(~weak_rows[fit_rows])[0]      # the order _with_rule_dropout appends its copies in
        return tf, sp.vstack([Tfit, Tfit[copies]]).tocsr()

    def with_knn(rows: np.ndarray, bank_rows: np.ndarray) -> np.ndarray:
        """X[rows] with its neighbour features against the labelled windows in bank_rows (own sentence hidden)."""
        Xr = X[rows].copy()
        bank_idx = np.where(bank_rows & (risky_w | benign_w))[0]
        exclude = doc[rows][:, None] == doc[bank_idx][None, :]
        Xr[:, -len(KNN_FEATURES):] = knn_features(E16[rows], E16[bank_idx], risky_w[bank_idx], benign_w[bank_idx],
                                                  exclude)
        return Xr

    # every document is scored out-of-fold: the labelled rows, and the counsel-chat questions and real client turns
    # too, so that the thresholds can count false alarms on real counselling posts and real conversation
    n_oof = len(texts)
    evidence = np.zeros(n_oof, dtype=bool)
    np.logical_or.at(evidence, doc, np.array([bool(wn.matches) for wn in wins]))
    n_windows = np.bincount(doc, minlength=n_oof)

    # a long labelled message is labelled as a whole, but usually only one of its windows carries the risk: the
    # windows of a moderate-or-worse message with several windows are "instances", and training keeps only the
    # riskiest of them (as rated by a model fitted without any of them), so that the ordinary sentences around a
    # buried disclosure are not taught as crises
    instance = ~turn_rows & (level >= 2) & (n_windows[doc] > 1)

    def fit_on(rows: np.ndarray, with_categories: bool = False):
        """Heads fitted on the windows in `rows`: (heads, category heads, scaler, n-gram features, bank rows)."""
        Xr = with_knn(rows, rows)
        mean, scale = _scaler(Xr)
        Xf, lf, cf, wf = _with_rule_dropout(Xr, level[rows], [cats[i] for i in np.where(rows)[0]], w[rows],
                                            ~weak_rows[rows])
        tf, Tf = ngrams(rows)
        heads, cat_models = _fit_heads(_design((Xf - mean) / scale, Tf), lf, cf if with_categories else None, wf)
        return heads, cat_models, (mean, scale), tf, rows

    def predict(state, rows: np.ndarray) -> dict[str, np.ndarray]:
        heads, _, (mean, scale), tf, bank = state
        Z = _design((with_knn(rows, bank) - mean) / scale, tf.transform([wtext[i] for i in np.where(rows)[0]]))
        return {k: m.predict_proba(Z)[:, 1] for k, m in heads.items()}

    def riskiest_instances(rows: np.ndarray) -> np.ndarray:
        """`rows` less the instance windows that are not the riskiest window of their message."""
        todo = rows & instance
        if not todo.any():
            return rows
        p = predict(fit_on(rows & ~instance), todo)
        score = np.where(level[todo] >= 3, p["ge_high"], p["ge_moderate"])
        best: dict[int, tuple[float, int]] = {}
        for i, sc in zip(np.where(todo)[0], score):
            if doc[i] not in best or sc > best[doc[i]][0]:
                best[doc[i]] = (float(sc), int(i))
        keep = rows & ~instance
        keep[[i for _, i in best.values()]] = True
        return keep

    # out-of-fold probabilities for the thresholds: per message for the low, moderate and imminent heads, per
    # window for the high head (the message head's input)
    oof = {k: np.zeros(n_oof) for k in HEADS if k != "ge_high"}
    strata = [min(LEVEL_INDEX[r["risk_level"]], 3) for r in dev] + [4 + min(LEVEL_INDEX[lv], 3) for lv in q_levels] \
        + [9] * len(turns)
    folds = StratifiedKFold(CV_FOLDS, shuffle=True, random_state=0).split(np.zeros(n_oof), strata)
    oof_high_windows = np.zeros(len(X))
    for tr_docs, te_docs in folds:
        tr, te = np.isin(doc, tr_docs), np.isin(doc, te_docs)
        p = predict(fit_on(riskiest_instances(tr)), te)
        for k in oof:
            np.maximum.at(oof[k], doc[te], p[k])
        oof_high_windows[te] = p["ge_high"]
    lv = doc_level.copy()
    lv[n_dev + n_q:] = -1
    labelled, turn = lv >= 0, lv < 0
    hand, question = np.arange(n_oof) < n_dev, (np.arange(n_oof) >= n_dev) & labelled
    kinds = [r["kind"] for r in dev] + ["counsel_chat"] * n_q + ["client_turn"] * len(turns)
    thresholds = {
        "ge_low": _best_f1_threshold(oof["ge_low"][labelled], lv[labelled] >= 1),
        "ge_moderate": _best_f1_threshold(oof["ge_moderate"][labelled], lv[labelled] >= 2),
    }
    pos, ben = hand & (lv >= 3), hand & (lv <= 1)
    q_pos, q_ben = question & (lv >= 3), question & (lv <= 1)
    several = n_windows > 1
    # the recall target is held on the project's own labelled rows (the annotated counsel-chat questions are silver
    # labels: their recall is reported, not constrained), on short and long messages separately
    positives, negatives = [pos & ~several, pos & several], [ben, turn, q_ben]

    # the high pair for the chosen target and for each operating point the model lists
    # the message head, on the out-of-fold window probabilities, and its own out-of-fold scores (folds over the
    # messages) for the high thresholds
    M = message_features(oof_high_windows, doc, n_oof, evidence)
    crisis = (lv >= 3).astype(int)
    message = np.zeros(n_oof)
    for tr_docs, te_docs in StratifiedKFold(CV_FOLDS, shuffle=True, random_state=1).split(M, strata):
        message[te_docs] = _fit_lr(M[tr_docs], crisis[tr_docs], MESSAGE_C).predict_proba(M[te_docs])[:, 1]
    message_head = _fit_lr(M, crisis, MESSAGE_C)
    high_pairs = {t: _high_thresholds(message, positives, negatives, evidence, t)
                  for t in sorted(set(OPERATING_POINTS) | {recall_target})}
    thresholds["ge_high"], thresholds["ge_high_no_rule"] = high_pairs[recall_target]
    thresholds["imminent"] = _best_f1_threshold(oof["imminent"][lv >= 3], lv[lv >= 3] >= 4)
    cat_thresholds = {c: 0.5 for c in RISK_CATEGORIES}

    # the final fit on everything
    fit_rows = riskiest_instances(np.ones(len(X), dtype=bool))
    heads, cat_models, (mean, scale), text, _ = fit_on(fit_rows, with_categories=True)
    memory = np.where(fit_rows & (risky_w | benign_w))[0]
    memory_path = Path(out_path).with_name(MEMORY_FILE.name)
    # a fixed zip timestamp would be better still; np.savez_compressed writes none that change between runs
    np.savez_compressed(memory_path, embeddings=E16[memory].astype(np.float16), risky=risky_w[memory],
                        benign=benign_w[memory])
    n_dense = X.shape[1]
    text_path = Path(out_path).with_name(TEXT_FILE.name)
    np.savez_compressed(text_path, **text.arrays(),
                        **{f"head_{k}": m.coef_[0][n_dense:].astype(np.float32) for k, m in heads.items()},
                        **{f"cat_{k}": m.coef_[0][n_dense:].astype(np.float32) for k, m in cat_models.items()})

    def pack(m) -> dict[str, Any]:
        return {"coef": [round(float(x), 7) for x in m.coef_[0][:n_dense]], "intercept": round(float(m.intercept_[0]), 7)}

    model = {
        "format_version": FORMAT_VERSION,
        "kind": "empathy clinical risk detector",
        "embedding_model": MODEL_NAME,
        "training_data": {"path": str(labelled_path), "sha256": sha256_file(labelled_path), "rows": len(rows),
                          "used_splits": ["train", "val"], "used_rows": n_dev},
        "counsel_chat": ({"source": "counsel_chat.csv, train split: annotated questions at their annotated level, "
                                     "the other questions of ordinary topics as weak negatives",
                          "sha256": sha256_file(cc_path), "annotations": str(notes_path),
                          "annotations_sha256": sha256_file(notes_path) if notes else None,
                          "questions": n_q, "annotated": sum(q["id"] in notes for q in questions),
                          "levels": dict(sorted(Counter(q_levels).items())), "weight": COUNSEL_CHAT_WEIGHT,
                          "risk_topics": sorted(COUNSEL_CHAT_RISK_TOPICS)}
                         if cc_path else {"source": None, "note": "counsel_chat.csv not found or not used"}),
        "weak_negative_turns": ({"source": "client turns of AnnoMI and ESConv, train conversations, >= 4 words, "
                                           "turns the rules alone rate high left out",
                                 "turns": len(turns), "weight": TURN_WEIGHT,
                                 "sha256": {name: sha256_file(path) for name, path in _turn_files().items()}}
                                if turns else {"source": None, "note": "annomi/esconv not found or not used"}),
        "fit": {"estimator": "sklearn LogisticRegression(lbfgs, class_weight=balanced) per head, on the dense "
                               "features and the TF-IDF n-grams", "C": TRAIN_C,
                "threshold_selection": f"{CV_FOLDS}-fold out-of-fold predictions on train+val and the real turns; "
                                       "high: on the message head's out-of-fold scores, the pair (with, without "
                                       "rule evidence) that keeps recall at the target in short and in long "
                                       "messages with the fewest false alarms",
                "rule_dropout_weight": RULE_DROPOUT_WEIGHT,
                "recall_target": recall_target},
        "feature_names": feature_names(),
        "text_features": {"file": text_path.name, "sha256": sha256_file(text_path), "weight": TEXT_WEIGHT,
                          "word_ngrams": len(text.vectorizers["word"].vocabulary_),
                          "char_ngrams": len(text.vectorizers["char"].vocabulary_)},
        "memory": {"file": memory_path.name, "sha256": sha256_file(memory_path), "windows": int(len(memory)),
                   "crisis_windows": int(risky_w[memory].sum()), "benign_windows": int(benign_w[memory].sum()),
                   "k": KNN_K},
        "scaler": {"mean": [round(float(x), 7) for x in mean], "scale": [round(float(x), 7) for x in scale]},
        "heads": {k: pack(m) for k, m in heads.items()},
        "message_head": {"features": MESSAGE_FEATURES, "max_windows": MESSAGE_MAX_WINDOWS, "C": MESSAGE_C,
                         **pack(message_head)},
        "categories": {c: pack(m) for c, m in cat_models.items()},
        "thresholds": {k: round(v, 6) for k, v in thresholds.items()},
        "category_thresholds": {k: round(v, 6) for k, v in cat_thresholds.items()},
    }
    # the decision rule on out-of-fold probabilities (what to expect on unseen text)
    def flag(t_rule: float, t_no_rule: float) -> np.ndarray:
        return _message_high(message, evidence, {"ge_high": t_rule, "ge_high_no_rule": t_no_rule})

    points = []
    for target in OPERATING_POINTS:
        t_rule, t_no_rule = high_pairs[target]
        f = flag(t_rule, t_no_rule)
        points.append({"recall_target": target, "ge_high": round(t_rule, 6), "ge_high_no_rule": round(t_no_rule, 6),
                       "high_imminent_recall": round(float(f[pos].mean()), 4),
                       "benign_high_rate": round(float(f[ben].mean()), 4),
                       "real_turn_high_rate": _ratio(f[turn].tolist()),
                       "counsel_chat_benign_high_rate": _ratio(f[q_ben].tolist())})
    model["operating_points"] = points
    flagged = flag(thresholds["ge_high"], thresholds["ge_high_no_rule"])
    model["cross_validation"] = {
        "high_imminent_recall": round(float(flagged[pos].mean()), 4),
        "high_imminent_recall_several_windows": _ratio(flagged[pos & several].tolist()),
        "counsel_chat_high_imminent_recall": _ratio(flagged[q_pos].tolist()),
        "benign_high_rate": round(float(flagged[ben].mean()), 4),
        "benign_high_rate_several_windows": _ratio(flagged[ben & several].tolist()),
        "real_turn_high_rate": _ratio(flagged[turn].tolist()),
        "counsel_chat_benign_high_rate": _ratio(flagged[q_ben].tolist()),
        "high_imminent_n": int(pos.sum()), "benign_n": int(ben.sum()), "real_turns_n": int(turn.sum()),
        "counsel_chat_n": {"benign": int(q_ben.sum()), "high_imminent": int(q_pos.sum())},
        "several_windows_n": {"high_imminent": int((pos & several).sum()), "benign": int((ben & several).sum())},
        "benign_flagged_by_kind": dict(sorted(Counter(kinds[i] for i in np.where(ben & flagged)[0]).items())),
        "missed_by_kind": dict(sorted(Counter(kinds[i] for i in np.where((pos | q_pos) & ~flagged)[0]).items())),
    }
    write_json(out_path, model)
    return {"out": str(out_path), "rows": n_dev, "counsel_chat_questions": n_q, "weak_turns": len(turns),
            "windows": len(wins),
            "thresholds": model["thresholds"], "category_thresholds": model["category_thresholds"],
            "cross_validation": model["cross_validation"], "seconds": round(time.time() - t0, 1)}


# ---------------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------------

def _is_high(level: str) -> bool:
    return level in REVIEW_LEVELS


def _level_metrics(rows: list[dict[str, Any]], preds: list[RiskAssessment]) -> dict[str, Any]:
    pos = [p for r, p in zip(rows, preds) if _is_high(r["risk_level"])]
    neg = [(r, p) for r, p in zip(rows, preds) if r["risk_level"] in ("none", "low")]
    flagged = [p for p in preds if _is_high(p.risk_level)]
    tp = sum(1 for r, p in zip(rows, preds) if _is_high(r["risk_level"]) and _is_high(p.risk_level))
    return {
        "n": len(rows),
        "high_imminent_n": len(pos),
        "high_imminent_recall": round(tp / len(pos), 4) if pos else None,
        "high_imminent_precision": round(tp / len(flagged), 4) if flagged else None,
        "benign_n": len(neg),
        "benign_high_rate": round(sum(1 for _, p in neg if _is_high(p.risk_level)) / len(neg), 4) if neg else None,
        "exact_level_accuracy": round(sum(1 for r, p in zip(rows, preds) if r["risk_level"] == p.risk_level)
                                      / len(rows), 4) if rows else None,
        "imminent_recall": _ratio([p.risk_level == "imminent" for r, p in zip(rows, preds)
                                   if r["risk_level"] == "imminent"]),
    }


def _ratio(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def evaluate_detector(labelled_path: str | Path = DEFAULT_DATA, out_dir: str | Path = "runs/safety/detector",
                      detector: RiskDetector | None = None, counsel_chat: str | Path | None = None) -> dict[str, Any]:
    """Score the test split (and counsel-chat test questions when found); write report.json and report.html."""
    from empathy.io import sha256_file, write_json

    t0 = time.time()
    det = detector or RiskDetector.load()
    rows = [r for r in read_labelled(labelled_path) if r["split"] == "test"]
    if not rows:
        raise UserError(f"labelled risk set {labelled_path}: no test rows")
    det.assess("warm up")   # load the encoder before timing
    t1 = time.time()
    preds = det.assess_many([r["text"] for r in rows])
    seconds = time.time() - t1
    report: dict[str, Any] = {
        "data": {"path": str(labelled_path), "sha256": sha256_file(labelled_path), "split": "test", "rows": len(rows)},
        "model": {"path": det.path, "training_sha256": det.model["training_data"]["sha256"],
                  "thresholds": det.thresholds, "counsel_chat": det.model.get("counsel_chat", {}).get("source"),
                  "weak_negative_turns": det.model.get("weak_negative_turns", {}).get("source")},
        "test": _level_metrics(rows, preds),
        "texts_per_second": round(len(rows) / max(seconds, 1e-9), 1),
    }
    report["test"]["hard_negative_high_rate"] = _ratio(
        [_is_high(p.risk_level) for r, p in zip(rows, preds) if r["kind"] in HARD_NEGATIVE_KINDS])
    # per category, high/imminent items
    cats = {}
    for c in RISK_CATEGORIES:
        truth = [_is_high(r["risk_level"]) and c in r["categories"] for r in rows]
        pred = [_is_high(p.risk_level) and c in p.categories for p in preds]
        tp = sum(1 for a, b in zip(truth, pred) if a and b)
        caught = sum(1 for r, p, a in zip(rows, preds, truth) if a and _is_high(p.risk_level))
        cats[c] = {"n": sum(truth), "flagged_high": caught, "level_recall": _ratio([_is_high(p.risk_level)
                   for p, a in zip(preds, truth) if a]),
                   "category_precision": round(tp / sum(pred), 4) if sum(pred) else None,
                   "category_recall": round(tp / sum(truth), 4) if sum(truth) else None}
    report["per_category"] = cats
    kinds: dict[str, Any] = {}
    for k in sorted({r["kind"] for r in rows}):
        sub = [(r, p) for r, p in zip(rows, preds) if r["kind"] == k]
        kinds[k] = {"n": len(sub), "labels": dict(Counter(r["risk_level"] for r, _ in sub)),
                    "rated_high_or_imminent": sum(1 for _, p in sub if _is_high(p.risk_level)),
                    "high_rate": _ratio([_is_high(p.risk_level) for _, p in sub])}
    report["per_kind"] = kinds
    conf = [[0] * 5 for _ in RISK_LEVELS]
    for r, p in zip(rows, preds):
        conf[LEVEL_INDEX[r["risk_level"]]][LEVEL_INDEX[p.risk_level]] += 1
    report["confusion"] = {"labels": list(RISK_LEVELS), "rows_true_cols_pred": conf}
    # baselines on the same rows
    kw = [keyword_assess(r["text"]) for r in rows]
    rl = [rule_assess(r["text"]) for r in rows]
    report["baselines"] = {
        "keyword_list": _baseline(rows, kw),
        "rules_only": _baseline(rows, [a.risk_level for a in rl]),
    }
    report["errors"] = [{"id": r["id"], "kind": r["kind"], "label": r["risk_level"], "predicted": p.risk_level,
                         "text": r["text"]} for r, p in zip(rows, preds)
                        if _is_high(r["risk_level"]) != _is_high(p.risk_level)]
    # retired test splits: evaluated before (numbers seen while developing), reported for comparison only
    report["retired_test"] = {}
    for split in RETIRED_TEST_SPLITS:
        old = [r for r in read_labelled(labelled_path) if r["split"] == split]
        if old:
            op = det.assess_many([r["text"] for r in old])
            m = _level_metrics(old, op)
            m["note"] = "retired test split, evaluated before: not an unbiased estimate"
            m["per_kind_high"] = {k: [sum(1 for r, p in zip(old, op) if r["kind"] == k and _is_high(p.risk_level)),
                                      sum(1 for r in old if r["kind"] == k)] for k in sorted({r["kind"] for r in old})}
            report["retired_test"][split] = m
    report["counsel_chat"] = _counsel_chat_eval(det, counsel_chat, annotations_file(labelled_path))
    report["real_conversation"] = _conversation_eval(det)
    report["seconds"] = round(time.time() - t0, 1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "report.json", report)
    (out / "report.html").write_text(_html(report), encoding="utf-8")
    report["paths"] = {"json": str(out / "report.json"), "html": str(out / "report.html")}
    return report


def _baseline(rows: list[dict[str, Any]], levels: list[str]) -> dict[str, Any]:
    return {"high_imminent_recall": _ratio([_is_high(lv) for r, lv in zip(rows, levels) if _is_high(r["risk_level"])]),
            "benign_high_rate": _ratio([_is_high(lv) for r, lv in zip(rows, levels)
                                        if r["risk_level"] in ("none", "low")]),
            "indirect_recall": _ratio([_is_high(lv) for r, lv in zip(rows, levels)
                                       if _is_high(r["risk_level"]) and r["kind"] == "indirect"]),
            "idiom_high_rate": _ratio([_is_high(lv) for r, lv in zip(rows, levels) if r["kind"] == "idiom"])}


def _counsel_chat_eval(det: RiskDetector, explicit: str | Path | None, notes_path: Path) -> dict[str, Any]:
    path = find_counsel_chat(explicit)
    if path is None:
        return {"skipped": "counsel_chat.csv not found (looked in $EMPATHY_SHARED_DATA and ../shared/data); "
                           "the benign-rate check on real counselling questions was not run"}
    qs = counsel_chat_questions(path)
    notes = read_counsel_chat_annotations(notes_path)
    trained_on = det.model.get("counsel_chat", {}).get("source") is not None
    out: dict[str, Any] = {"path": str(path), "benign_rule": "topic not in " + ", ".join(sorted(COUNSEL_CHAT_RISK_TOPICS)),
                           "note": "the model was trained on train-split questions (annotated, or ordinary topics as "
                                   "weak negatives); val and test were not used" if trained_on
                           else "not used in training"}
    for split in ("test", "val"):
        sub = [q for q in qs if q["split"] == split]
        preds = det.assess_many([q["text"] for q in sub])
        ben = [(q, p) for q, p in zip(sub, preds) if q["benign"]]
        risk = [(q, p) for q, p in zip(sub, preds) if not q["benign"]]
        out[split] = {
            "benign_questions": len(ben),
            "benign_high_rate": _ratio([_is_high(p.risk_level) for _, p in ben]),
            "benign_flagged": [{"id": q["id"], "topic": q["topic"], "level": p.risk_level,
                                "annotated": notes[q["id"]]["risk_level"] if q["id"] in notes else None,
                                "text": q["text"][:300]} for q, p in ben if _is_high(p.risk_level)],
            "risk_topic_questions": len(risk),
            "risk_topic_levels": dict(Counter(p.risk_level for _, p in risk)),
        }
        # the same questions by their annotation instead of their topic (every topic)
        noted = [(q["id"], notes[q["id"]]["risk_level"], p) for q, p in zip(sub, preds) if q["id"] in notes]
        if noted:
            benign = [_is_high(p.risk_level) for _, lv, p in noted if LEVEL_INDEX[lv] <= 1]
            crisis = [(i, lv, p) for i, lv, p in noted if _is_high(lv)]
            out[split]["annotated"] = {
                "questions": len(noted), "benign_n": len(benign), "benign_high_rate": _ratio(benign),
                "high_imminent_n": len(crisis),
                "high_imminent_recall": _ratio([_is_high(p.risk_level) for _, _, p in crisis]),
                "missed": [{"id": i, "annotated": lv, "level": p.risk_level} for i, lv, p in crisis
                           if not _is_high(p.risk_level)],
            }
    return out


def _conversation_eval(det: RiskDetector) -> dict[str, Any]:
    """Client turns of real sessions (AnnoMI, ESConv; test conversations only) rated high or imminent.

    A weak label: these are motivational-interviewing and emotional-support sessions, so nearly every turn is
    benign, but not all. Every flagged turn is listed so a reader can judge it.
    """
    from empathy.data.shared_sets import conversational_turns

    turns = [t for t in conversational_turns() if t["split"] == "test"]
    if not turns:
        return {"skipped": "annomi_full.csv and esconv_sample.json not found (looked in $EMPATHY_SHARED_DATA and "
                           "../shared/data); the benign-rate check on real client turns was not run"}
    preds = det.assess_many([t["text"] for t in turns])
    out: dict[str, Any] = {"split": "test (by conversation)", "min_words": 4,
                           "note": "weak label: turns of ordinary sessions; the train conversations were weak "
                                   "negatives in training" if det.model.get("weak_negative_turns", {}).get("turns")
                           else "weak label: turns of ordinary sessions; not used in training"}
    for source in sorted({t["source"] for t in turns}):
        sub = [(t, p) for t, p in zip(turns, preds) if t["source"] == source]
        out[source] = {"turns": len(sub), "conversations": len({t["conversation"] for t, _ in sub}),
                       "high_rate": _ratio([_is_high(p.risk_level) for _, p in sub]),
                       "levels": dict(Counter(p.risk_level for _, p in sub)),
                       "flagged": [{"id": t["id"], "topic": t["topic"], "level": p.risk_level,
                                    "categories": p.categories, "text": t["text"][:300]}
                                   for t, p in sub if _is_high(p.risk_level)]}
    out["high_rate"] = _ratio([_is_high(p.risk_level) for p in preds])
    out["turns"] = len(turns)
    return out


def _html(report: dict[str, Any]) -> str:
    import html as h

    from empathy.plots import plt, png_base64

    conf = np.array(report["confusion"]["rows_true_cols_pred"])
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    ax = axes[0]
    ax.imshow(conf, cmap="Blues")
    ax.set_xticks(range(5), RISK_LEVELS, rotation=30)
    ax.set_yticks(range(5), RISK_LEVELS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("label")
    ax.set_title("risk level, test split")
    for i in range(5):
        for j in range(5):
            ax.text(j, i, str(conf[i, j]), ha="center", va="center", color="black" if conf[i, j] < conf.max() / 2 else "white")
    ax = axes[1]
    cats = report["per_category"]
    names = list(cats)
    y = np.arange(len(names))
    ax.barh(y - 0.2, [cats[c]["level_recall"] or 0 for c in names], 0.4, label="flagged high/imminent")
    ax.barh(y + 0.2, [cats[c]["category_recall"] or 0 for c in names], 0.4, label="category recall")
    ax.set_yticks(y, names)
    ax.set_xlim(0, 1.05)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("high/imminent items by category")
    ax = axes[2]
    kinds = report["per_kind"]
    ks = [k for k in kinds if k in HARD_NEGATIVE_KINDS]
    ax.barh(range(len(ks)), [kinds[k]["high_rate"] or 0 for k in ks], color="#c0504d")
    ax.set_yticks(range(len(ks)), [f"{k} (n={kinds[k]['n']})" for k in ks])
    ax.axvline(0.05, ls="--", color="grey")
    ax.set_xlim(0, max(0.2, max([kinds[k]["high_rate"] or 0 for k in ks] + [0])))
    ax.set_title("hard negatives rated high/imminent")
    img = png_base64(fig)
    t = report["test"]
    cc = report["counsel_chat"]
    cc_line = (h.escape(cc["skipped"]) if "skipped" in cc else
               f"test split: {cc['test']['benign_high_rate']} of {cc['test']['benign_questions']} ordinary-topic "
               f"questions rated high/imminent; val split: {cc['val']['benign_high_rate']} of "
               f"{cc['val']['benign_questions']}")
    rc = report.get("real_conversation", {})
    rc_line = (h.escape(rc["skipped"]) if "skipped" in rc else "; ".join(
        f"{src}: {rc[src]['high_rate']} of {rc[src]['turns']} client turns ({rc[src]['conversations']} conversations)"
        for src in ("annomi", "esconv") if src in rc))
    rc_rows = "".join(f"<tr><td>{src}</td><td>{h.escape(f['topic'])}</td><td>{f['level']}</td>"
                      f"<td>{', '.join(f['categories'])}</td><td>{h.escape(f['text'])}</td></tr>"
                      for src in ("annomi", "esconv") if src in rc for f in rc[src]["flagged"])
    rows = "".join(f"<tr><td>{c}</td><td>{v['n']}</td><td>{v['level_recall']}</td><td>{v['category_precision']}</td>"
                   f"<td>{v['category_recall']}</td></tr>" for c, v in report["per_category"].items())
    krows = "".join(f"<tr><td>{k}</td><td>{v['n']}</td><td>{v['rated_high_or_imminent']}</td><td>{v['high_rate']}</td></tr>"
                    for k, v in report["per_kind"].items())
    base = "".join(f"<tr><td>{k}</td>" + "".join(f"<td>{v[m]}</td>" for m in ("high_imminent_recall", "benign_high_rate",
                   "indirect_recall", "idiom_high_rate")) + "</tr>" for k, v in report["baselines"].items())
    errs = "".join(f"<tr><td>{h.escape(e['kind'])}</td><td>{e['label']}</td><td>{e['predicted']}</td>"
                   f"<td>{h.escape(e['text'])}</td></tr>" for e in report["errors"])
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Risk detector report</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}</style></head><body>
<h1>Clinical risk detector: test split</h1>
<p>Data {h.escape(report['data']['path'])} (sha256 {report['data']['sha256'][:12]}), {report['data']['rows']} test rows.</p>
<ul><li>recall of high/imminent: <b>{t['high_imminent_recall']}</b> ({t['high_imminent_n']} items); precision {t['high_imminent_precision']}</li>
<li>benign (none/low) rated high/imminent: <b>{t['benign_high_rate']}</b> ({t['benign_n']} items); hard negatives: {t['hard_negative_high_rate']}</li>
<li>imminent recall (exact): {t['imminent_recall']}; exact level accuracy {t['exact_level_accuracy']}</li>
<li>counsel-chat ordinary topics: {cc_line}</li>
<li>real client turns rated high/imminent (weak label, test conversations): {rc_line}</li></ul>
<img src="data:image/png;base64,{img}" style="max-width:100%">
<h2>Per category (high/imminent items)</h2><table><tr><th>category</th><th>n</th><th>flagged high</th><th>category precision</th><th>category recall</th></tr>{rows}</table>
<h2>Per kind</h2><table><tr><th>kind</th><th>n</th><th>rated high/imminent</th><th>rate</th></tr>{krows}</table>
<h2>Baselines on the same rows</h2><table><tr><th></th><th>recall high</th><th>benign high rate</th><th>indirect recall</th><th>idiom high rate</th></tr>{base}
<tr><td>this detector</td><td>{t['high_imminent_recall']}</td><td>{t['benign_high_rate']}</td><td>{report['per_kind'].get('indirect', {}).get('high_rate')}</td><td>{report['per_kind'].get('idiom', {}).get('high_rate')}</td></tr></table>
<h2>Errors (high vs not-high)</h2><table><tr><th>kind</th><th>label</th><th>predicted</th><th>text</th></tr>{errs}</table>
<h2>Real client turns rated high/imminent</h2><p>Judge each: some may be real disclosures.</p>
<table><tr><th>source</th><th>topic</th><th>level</th><th>categories</th><th>text</th></tr>{rc_rows}</table>
</body></html>"""


# ---------------------------------------------------------------------------------------------------------------
# JSONL classification (the CLI)
# ---------------------------------------------------------------------------------------------------------------

def classify_jsonl(path: str | Path, detector: RiskDetector | None = None, batch_size: int = 64) -> Iterator[dict]:
    """One output dict per input line, in order: {id, risk_level, categories, requires_review} or
    {id, line, error}. A record without an id is classified and gets its `line` number; a line that is not
    UTF-8 is decoded with replacement characters, classified, and carries a `warning`."""
    from empathy.io import answer_lines

    p = Path(path)
    if not p.is_file():
        raise UserError(f"input file {p}: file not found")
    det = detector

    def judge(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal det
        if det is None:
            det = RiskDetector.load()
        return [{"risk_level": a.risk_level, "categories": a.categories, "requires_review": a.requires_review}
                for a in det.assess_many([it["text"] for it in items], batch_size=batch_size)]

    yield from answer_lines(p, ("text",), judge, batch_size)


def summarise(results: Iterable[dict]) -> dict[str, Any]:
    counts = Counter()
    n = errors = 0
    for r in results:
        n += 1
        if "error" in r:
            errors += 1
        else:
            counts[r["risk_level"]] += 1
    return {"lines": n, "errors": errors, "levels": {lv: counts.get(lv, 0) for lv in RISK_LEVELS}}
