"""Content-type detection: is a record a dialogue, an interview, a podcast, a monologue, a speech or a Q&A?

Why it exists: the pipeline treats the six types differently (question/answer pairs come from the asker's
turns of dialogues, interviews and podcasts; monologues and speeches get contextual questions; a Q&A record
is one pair already), and until now a record's type came only from the corpus manifest. Data that arrives
without one (a folder of subtitle files, a JSONL export, an edge-case file assembled by hand) needs the type
found from the text itself.

    from empathy.data.content_type import detect_content_type
    d = detect_content_type(record_or_text)     # a Record, a {"turns"| "text"} dict, a list of turns, or text
    d.content_type, d.confidence, d.evidence     # 'podcast', 0.94, ['3 speakers (Host, CoHost, Guest) ...', ...]

    empathy data detect-type episode.vtt         # also .srt, .txt transcripts and JSONL records
    empathy data train-content-type              # refit src/empathy/data/content_type_model.json
    empathy data evaluate-content-type           # report.json + report.html on the labelled test split

How a text is read:

1. Parsing. Text that is an .srt or .vtt file goes through empathy.data.subtitles. Other text is split into
   turns when most of its paragraphs (or lines) start with a speaker label ("Host:", "Q:", "Dr Okafor:",
   optionally after a "[00:12:03]" timestamp) and the labels repeat; otherwise it is running text. A
   record's turns are taken as they are.
2. Signals, all computed from the text (the record's own content_type is never read): the number of
   speakers and what their labels say (host, guest, interviewer, participant, therapist-like, client-like,
   Q/A, generic, personal names); turn count and lengths; question density per speaker, who asks and who
   answers at what length; the Q&A shape (one question, one long answer); cue phrases of a show ("episode",
   "listeners", "subscribe"), of an interview ("our readers", "your book"), of a speech (audience address,
   "ladies and gentlemen", "thank you all for coming", "I urge"), of a first-person narrative or a reflective
   talk, of a therapy conversation (reflections, feelings) and of a help-seeking question and its answer;
   pronoun rates, feelings words, disfluencies, sound descriptions ([laughs], [applause]) and punctuation
   density (speech-to-text output often has none).
3. A multinomial logistic regression on those features (standardised), fitted by
   empathy.data.content_type_eval on the labelled set data/content_type/labelled.jsonl; its regularisation
   was chosen on the validation split. The model is a small JSON file (content_type_model.json) packaged with
   the code: detection is deterministic and needs no network, no embeddings and no GPU.

`confidence` is the classifier's probability for the chosen type. `evidence` lists what the text looks like
(speakers, turns, subtitle cues) and then the signals that pushed the decision most towards the chosen type.
Subtitle timing is read (cue count, duration) and reported in the evidence but is not a feature: in the
labelled set, subtitles occur for every type and their timing says nothing about which.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from empathy.data.schema import Record
from empathy.errors import UserError

CONTENT_TYPES = ("dialogue", "interview", "podcast", "monologue", "speech", "qa")
MODEL_FILE = Path(__file__).resolve().with_name("content_type_model.json")

# ---------------------------------------------------------------------------------------------------------------
# Parsing

# Up to four words, the first capitalised, later ones capitalised or numbers ("Host 2", "Dr Okafor", "HOST A"),
# so that a sentence with a colon ("And one more thing: ...") is not a label.
TEXT_LABEL_RE = re.compile(r"^([A-Z][A-Za-z0-9.'_-]*(?: (?:[A-Z][A-Za-z0-9.'_-]*|\d+)){0,3}):\s+(.*)$", re.S)
TIMESTAMP_RE = re.compile(r"^\s*[\[(]?(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?[\])]?\s+")
MAX_DISTINCT_LABELS = 8     # more distinct "labels" than this are headings or list items, not speakers


@dataclass
class DocTurn:
    speaker: str
    text: str


@dataclass
class Doc:
    """What the detector reads: turns (one for running text) and how the text arrived."""
    turns: list[DocTurn]
    has_turns: bool             # speaker turns were found (labels, voice tags, dashes), not running text
    named: bool                 # speakers have names or roles (a dash only marks a change of speaker)
    form: str                   # record turns, text, transcript (labelled text), srt or vtt
    paragraphs: list[str] = field(default_factory=list)
    cues: int = 0
    duration_s: float | None = None

    @property
    def text(self) -> str:
        return "\n\n".join(t.text for t in self.turns)


def _units(text: str) -> list[str]:
    """Paragraphs if the text has blank lines, else lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if re.search(r"\n\s*\n", text):
        return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
    return [" ".join(line.split()) for line in text.split("\n") if line.strip()]


def _labelled_turns(text: str) -> list[DocTurn] | None:
    """Turns of a labelled transcript, or None when the text is running text.

    Labels are looked for at the start of every line, so both layouts work: one turn a paragraph (the demo
    corpus) and one turn a line with blank lines between exchanges. Whether the text is a transcript at all
    is judged on paragraphs where it has them (a turn hard-wrapped over several lines is one paragraph).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    lines: list[tuple[bool, str | None, str]] = []         # (starts a paragraph, label, text)
    for para in paragraphs:
        for k, raw in enumerate(ln for ln in para.split("\n") if ln.strip()):
            body = TIMESTAMP_RE.sub("", " ".join(raw.split()))
            m = TEXT_LABEL_RE.match(body)
            lines.append((k == 0, m.group(1), m.group(2).strip()) if m else (k == 0, None, body))
    labels = [lab for _, lab, _ in lines if lab]
    distinct = set(labels)
    units = [lab for first, lab, _ in lines if first] if len(paragraphs) > 1 else [lab for _, lab, _ in lines]
    # labels must start most units, repeat (or be one exchange) and be few: a monologue with a "Note:" line or a
    # list of "Step 1: ..." items stays running text
    if (len(labels) < 2 or sum(u is not None for u in units) < 0.5 * len(units) or len(distinct) > MAX_DISTINCT_LABELS
            or (len(distinct) == len(labels) and len(labels) > 2)):
        return None
    turns: list[DocTurn] = []
    for _, lab, body in lines:
        if lab is None and turns:
            turns[-1].text += " " + body            # a line without a label continues the turn
        elif lab is None:
            turns.append(DocTurn("?", body))
        elif turns and turns[-1].speaker == lab:
            turns[-1].text += " " + body
        else:
            turns.append(DocTurn(lab, body))
    return turns


def _from_subtitles(text: str, name: str) -> Doc:
    from empathy.data.subtitles import parse_subtitles

    subs = parse_subtitles(text, name)
    sturns = subs.turns()
    if len(sturns) >= 2:
        turns: list[DocTurn] = []
        for k, t in enumerate(sturns):
            if t.speaker:
                speaker = t.speaker
            elif not subs.labelled:
                speaker = f"?{k % 2 + 1}"       # dash-marked turns with no names: two speakers taking turns
            else:                               # an unnamed change in a named file: back to the one before
                speaker = turns[-2].speaker if len(turns) >= 2 else "?"
            turns.append(DocTurn(speaker, t.text))
        return Doc(_merge(turns), True, subs.labelled, subs.format, cues=len(subs.cues),
                   duration_s=round(subs.duration, 1))
    body = " ".join(t.text for t in sturns)
    return Doc([DocTurn("narrator", body)], False, False, subs.format, paragraphs=[body], cues=len(subs.cues),
               duration_s=round(subs.duration, 1))


def _merge(turns: list[DocTurn]) -> list[DocTurn]:
    out: list[DocTurn] = []
    for t in turns:
        if out and out[-1].speaker == t.speaker:
            out[-1].text += " " + t.text
        else:
            out.append(DocTurn(t.speaker, t.text))
    return out


def parse_text(text: str, name: str = "<text>") -> Doc:
    """A Doc from raw text: subtitles, a labelled transcript or running text."""
    from empathy.data.subtitles import detect_format

    if not text or not text.strip():
        raise UserError(f"{name}: no text to detect a content type from")
    if detect_format(text, name if name.endswith((".srt", ".vtt")) else ""):
        return _from_subtitles(text, name)
    turns = _labelled_turns(text)
    if turns is not None and len(turns) >= 2:
        return Doc(turns, True, True, "transcript")
    paragraphs = [TIMESTAMP_RE.sub("", p) for p in _units(text)]
    return Doc([DocTurn("narrator", "\n\n".join(paragraphs))], False, False, "text", paragraphs=paragraphs)


def to_doc(obj: Any, name: str = "<input>") -> Doc:
    """A Doc from a Record, a dict with turns or text, a list of turns, or a string."""
    if isinstance(obj, Doc):
        return obj
    if isinstance(obj, str):
        return parse_text(obj, name)
    if isinstance(obj, Record):
        obj = obj.model_dump()
    if isinstance(obj, list):
        obj = {"turns": obj}
    if not isinstance(obj, dict):
        raise UserError(f"{name}: expected a record, a dict with 'turns' or 'text', a list of turns or text; "
                        f"got {type(obj).__name__}")
    turns = obj.get("turns") or []
    if turns:
        out = []
        for n, t in enumerate(turns, start=1):
            speaker, text = (t.get("speaker"), t.get("text")) if isinstance(t, dict) else (
                getattr(t, "speaker", None), getattr(t, "text", None))
            if not isinstance(text, str):
                raise UserError(f"{name}: turn {n} has no text")
            out.append(DocTurn(str(speaker).strip() if speaker else "?", " ".join(text.split())))
        out = [t for t in out if t.text]
        if not out:
            raise UserError(f"{name}: every turn is empty")
        speakers = {t.speaker for t in out}
        if len(out) == 1:       # one turn is running text with a name on it
            return Doc(out, False, False, "record", paragraphs=[out[0].text])
        return Doc(_merge(out), True, speakers != {"?"}, "record")
    text = obj.get("text")
    if isinstance(text, str) and text.strip():
        return parse_text(text, name)
    raise UserError(f"{name}: neither 'turns' nor 'text' has content")


# ---------------------------------------------------------------------------------------------------------------
# Signals

def _rx(patterns: Iterable[str]) -> list[re.Pattern]:
    return [re.compile(p, re.I) for p in patterns]


SHOW_CUES = _rx([
    r"\bpodcasts?\b", r"\bepisodes?\b", r"\blisteners?\b", r"\blistening to\b", r"\bsubscrib\w*",
    r"\bshow ?notes\b", r"\b(?:on|to|of|the) show\b", r"\bco-?hosts?\b", r"\b(?:after|before) the break\b",
    r"\bshort break\b", r"\bright back\b", r"\bsponsors?\b", r"\bad-free\b", r"\ba review\b|\brate and review\b",
    r"\binbox\b|\bmailbag\b|\bvoice notes?\b", r"\bback catalogue\b",
    r"\b(?:my|our|today'?s|this week'?s) guests?\b", r"\bwe(?:'re| are) (?:recording|back)\b", r"\bwelcome back\b",
    r"\bsee you next\b", r"\bchannel\b", r"\bcomments\b", r"\bthis week'?s (?:topic|theme|episode|challenge)\b",
    r"\byou(?:'re| are) listening\b|\b(?:people|anyone|everyone|someone) listening\b",
    r"\bwrite in\b|\bwrote in\b|\bmessaged\b", r"\bmembership\b",
    r"\blistener question\b|\bfrom a listener\b",
])
INTERVIEW_CUES = _rx([
    r"\bthank(?:s| you) for (?:joining|talking to|speaking (?:to|with)) (?:us|me)\b",
    r"\b(?:our|the|many|some|a lot of) (?:readers|viewers)\b",
    r"\byour (?:book|memoir|novel|album|research|study|survey|paper|clinic|charity|organisation|firm|company|"
    r"groups?|campaign|career|new place|work with)\b",
    r"\byou(?:'ve| have)? (?:written|wrote|said|mentioned|found|founded|started|run|led|studied)\b",
    r"\bfor (?:the|this) (?:study|record|research|project|interview|newsletter|article|magazine)\b",
    r"\binterview\w*\b", r"\b(?:next|last|final) question\b|\bset of questions\b",
    r"\bcan you (?:tell|describe|explain|unpack|talk)\b", r"\bwhat (?:led|made|prompted|inspired) you\b",
    r"\bcritics\b|\bsome (?:people|readers|parents) (?:say|worry|argue)\b", r"\bwhy did you\b",
    r"\bwhat (?:would|do) you (?:tell|say to|advise)\b", r"\bin your (?:experience|view|opinion|field)\b",
    r"\bhow did (?:that|it) (?:start|begin|come about)\b", r"\bwhat was (?:the moment|it like)\b",
])
THERAPY_CUES = _rx([
    r"\bit sounds (?:like|as if|as though)\b|\bsounds like you\b",
    r"\b(?:that|it) sounds (?:really |very |so |quite )?(?:hard|difficult|painful|exhausting|frightening|scary|"
    r"stressful|heavy|uncomfortable|tough|overwhelming|lonely|like a)\b",
    r"\bthat must (?:be|have been|feel)\b",
    r"\bhow (?:do|did|does|are|have|would) you (?:feel|feeling|been feeling|coping|cope)\b",
    r"\bhow (?:does|did) (?:that|it) (?:feel|make you feel)\b", r"\bhow (?:are|have) (?:you|things) been\b",
    r"\bwhat do you make of\b", r"\bi(?:'m| am) curious\b", r"\btell me (?:more|about)\b|\bsay more\b",
    r"\b(?:this|last|next|our|first) session\b|\bsessions\b", r"\bhomework\b", r"\bout of ten\b|\bon a scale\b",
    r"\bthank(?:s| you) for (?:telling me|sharing|reaching out|coming (?:in|back)|calling)\b",
    r"\bwhere would you like to start\b|\bwhat brings you\b|\bwhat would you like to talk about\b",
    r"\bi hear (?:you|that)\b|\bwhat i(?:'m| am) hearing\b|\bso you(?:'re| are) saying\b|\bmakes sense\b",
    r"\byou (?:feel|felt|seem|sound)\b|\byou(?:'re| are) feeling\b", r"\bwhat happened\b|\bwhat went through\b",
    r"\bhow (?:has|was) (?:the|your) week\b|\bsince (?:we|our) last\b",
])
SPEECH_CUES = _rx([
    r"\bladies and gentlemen\b",
    r"\bthank you(?: all| everyone| everybody| so much| very much)? for (?:coming|being here|joining us|having me|"
    r"the (?:honou?r|invitation|warm welcome)|letting us)\b",
    r"\bgood (?:morning|afternoon|evening),? (?:everyone|everybody|all|friends|colleagues|school)\b",
    r"\b(?:graduates|delegates|colleagues|councillors|runners|honou?red guests|distinguished guests|"
    r"sisters and brothers|members of)\b",
    r"\b(?:in|around|across) this (?:room|hall|crowd|theatre|chamber|house|building|atrium|canteen)\b",
    r"\b(?:here|with us) (?:today|tonight|this (?:morning|afternoon|evening))\b",
    r"\b(?:all|each|every one) of you\b", r"\bi (?:urge|ask|invite|call on|commend|rise)\b|\bwe call on\b",
    r"\blet us\b", r"\btogether\b",
    r"\b(?:this|the) (?:conference|ceremony|event|motion|house|council|launch|gala|vigil|rally|assembly|hall)\b",
    r"\b(?:an? )?(?:honou?r|privilege|pleasure) (?:to|of)\b",
    r"\braise your (?:glasses|hands?)\b|\bbig cheer\b|\bapplause\b|\bwarm welcome\b",
    r"\btonight\b", r"\bcongratulations\b", r"\bthank you(?: all)?[.!]?\s*$",
])
NARRATIVE_CUES = _rx([
    r"\bi remember\b", r"\bwhen i was\b", r"\b(?:years|months|weeks) (?:later|ago)\b", r"\bthe first time\b",
    r"\bthat (?:was|is) when\b", r"\bi (?:used to|had|was|felt|thought|realised|realized|decided|started|"
    r"stopped|noticed|knew|told|said)\b",
    r"\bmy (?:mother|mum|mom|dad|father|son|daughter|wife|husband|sister|brother|partner|friend|therapist|boss|"
    r"manager|grandfather|grandmother|nan|kids)\b",
    r"\b(?:one|that) (?:morning|night|day|evening)\b", r"\bnow i\b",
])
REFLECTIVE_CUES = _rx([
    r"\bin my (?:work|practice|experience|job)\b", r"\b(?:people|clients|those|the people) i (?:see|meet|work with)\b",
    r"\bi (?:often|usually|sometimes) (?:suggest|ask|tell|hear|see|notice|say)\b", r"\bmany (?:of us|people)\b",
    r"\bwe (?:often|tend|all)\b", r"\bmost of us\b",
])
DIARY_CUES = _rx([
    r"\bnote to self\b", r"\bdear diary\b", r"\b(?:i'?m|i am) recording\b|\brecording this\b",
    r"\b(?:day|week) (?:\d+|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:-\w+)?|one|two|three|four|"
    r"five|six|seven|eight|nine|ten|eleven|twelve)\b", r"\btalking to (?:my phone|the camera|myself)\b",
])
QA_QUESTION_CUES = _rx([
    r"\bis (?:it|this|that) (?:normal|okay|ok|possible|true|too late)\b", r"\bwhat (?:should|can|do) i do\b",
    r"\bhow (?:can|do|should) i\b", r"\bany (?:advice|tips|ideas|suggestions)\b", r"\bam i\b", r"\bshould i\b",
    r"^\s*dear\b", r"\bthanks in advance\b|\bplease help\b",
    r"\bmy question\b|\b(?:today|this week)'?s question\b|\bquestion comes from\b",
    r"\ba (?:viewer|reader) (?:writes|asks)\b",
])
QA_ANSWER_CUES = _rx([
    r"\b(?:very|completely|really|perfectly|extremely|quite) (?:common|normal|understandable)\b",
    r"\bit(?:'s| is) (?:common|normal|understandable)\b",
    r"\b(?:speak|talk) (?:to|with) (?:your|a) (?:gp|doctor|therapist|counsell?or)\b|\byour (?:gp|doctor)\b",
    r"\ba (?:counsell?or|therapist|psychologist|professional|specialist) can\b",
    r"\bconsider\b|\bit (?:may|might|can) help\b|\byou (?:might|may|could) (?:find|try|want)\b",
    r"\bif (?:this|the|it|you)\b[^.]{0,40}\b(?:persists|continues|goes on|affecting|stopping)\b",
    r"\bthank(?:s| you) for (?:your question|writing|asking)\b", r"\bfirst step\b",
])
SOUND_RE = re.compile(r"[\[(](?:laugh\w*|applause|music|cheer\w*|crosstalk|inaudible|sighs?)[\])]", re.I)
DISFLUENCY_RE = re.compile(r"\b(?:um+|uh+|erm|mm-?hmm|uh-?huh|you know|i mean|kind of|sort of)\b", re.I)
FEELINGS_RE = re.compile(
    r"\b(?:anxious|anxiety|sad|sadness|angry|anger|overwhelmed|worried|worry|scared|afraid|frightened|lonely|"
    r"hopeless|guilty|guilt|ashamed|shame|stressed|exhausted|upset|hurt|frustrated|numb|depressed|panic\w*|"
    r"nervous|embarrass\w*|humiliated|terrified|tired|flat|awful|useless|trapped)\b", re.I)
WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
PAST_RE = re.compile(r"\b(?:was|were|had|did|said|told|went|felt|thought|got|came|took|made|knew|saw|left|"
                     r"[a-z]{3,}ed)\b")

# Label families: a label is lower-cased, stripped of digits and of a trailing single letter ("Host A")
LABEL_FAMILIES: dict[str, tuple[str, ...]] = {
    "host": ("host", "co-host", "cohost", "presenter", "anchor", "dj", "mc"),
    "guest": ("guest", "guest speaker"),
    "interviewer": ("interviewer", "int", "journalist", "reporter"),
    "participant": ("participant", "respondent", "interviewee"),
    "helper": ("therapist", "counsellor", "counselor", "psychologist", "psychotherapist", "clinician", "supporter",
               "helper", "volunteer", "listener", "health visitor", "nurse", "doctor", "dr", "gp", "coach", "mentor"),
    "client": ("client", "patient", "seeker", "caller", "member", "student", "mum", "user"),
    "qa": ("q", "a", "question", "answer", "asker", "responder", "reader", "columnist", "expert"),
    "generic": ("speaker", "person", "p", "s", "spk", "unknown", "?", "narrator", "b"),
}


def label_family(label: str) -> str:
    """The family of a speaker label ("Host 2" -> host, "Dr Okafor" -> helper, "Maya" -> name)."""
    norm = re.sub(r"[^a-z? -]", "", label.lower()).strip()
    norm = re.sub(r"\s+[a-z]$", "", norm).strip() or norm       # "host a" -> "host"
    if norm.startswith("?"):
        return "generic"
    for family, names in LABEL_FAMILIES.items():
        if norm in names:
            return family
    first = norm.split(" ")[0]
    if first in ("dr", "doctor"):
        return "helper"
    if first in ("asked", "answered"):      # "Asked by a reader", "Answered by a therapist"
        return "qa"
    return "name"


def _count(patterns: list[re.Pattern], text: str) -> tuple[int, list[str]]:
    hits: list[str] = []
    n = 0
    for p in patterns:
        found = p.findall(text)
        if found:
            n += len(found)
            m = p.search(text)
            hits.append(m.group(0).strip().lower())
    return n, hits


def _rate(n: int, words: int) -> float:
    return 100.0 * n / max(words, 1)


@dataclass
class Signals:
    """Everything the features are made of, with the matched phrases kept for the evidence."""
    values: dict[str, float]
    speakers: list[str]
    families: dict[str, str]
    asker: str | None
    q_by_speaker: dict[str, tuple[int, int]]
    hits: dict[str, list[str]]
    doc: Doc


def signals(doc: Doc) -> Signals:
    turns = doc.turns
    text = doc.text
    low = text.lower()
    words = WORD_RE.findall(low)
    nw = max(len(words), 1)
    speakers: list[str] = []
    for t in turns:
        if t.speaker not in speakers:
            speakers.append(t.speaker)
    families = {s: label_family(s) for s in speakers} if doc.has_turns else {}
    per: dict[str, dict[str, float]] = {}
    for s in speakers:
        st = [t for t in turns if t.speaker == s]
        per[s] = {"turns": len(st), "q": sum("?" in t.text for t in st),
                  "words": sum(len(WORD_RE.findall(t.text.lower())) for t in st)}
    # the asker: the speaker whose turns are most often questions (ties: more questions)
    asker = max(speakers, key=lambda s: (per[s]["q"] / per[s]["turns"], per[s]["q"])) if doc.has_turns else None
    others = [s for s in speakers if s != asker]
    asker_words = per[asker]["words"] if asker else 0
    asker_turns = per[asker]["turns"] if asker else 0
    other_turns = sum(per[s]["turns"] for s in others)
    other_words = sum(per[s]["words"] for s in others)
    units = [t.text for t in turns] if doc.has_turns else (doc.paragraphs or [text])
    first = units[0]
    rest_words = nw - len(WORD_RE.findall(first.lower()))
    first_words = len(WORD_RE.findall(first.lower()))
    head = " ".join(words[:40])
    tail = text[-60:]

    hits: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    for name, pats, where in (("show", SHOW_CUES, text), ("interview", INTERVIEW_CUES, text),
                              ("therapy", THERAPY_CUES, text), ("speech", SPEECH_CUES, text),
                              ("narrative", NARRATIVE_CUES, text), ("reflective", REFLECTIVE_CUES, text),
                              ("diary", DIARY_CUES, text), ("qa_question", QA_QUESTION_CUES, first),
                              ("qa_answer", QA_ANSWER_CUES, " ".join(units[1:]) if len(units) > 1 else ""),
                              ("show_opening", SHOW_CUES, head), ("speech_opening", SPEECH_CUES, head)):
        counts[name], hits[name] = _count(pats, where)
    if SPEECH_CUES[-1].search(tail):
        hits.setdefault("speech_close", []).append("ends with thank you")
    sounds = SOUND_RE.findall(text)
    hits["sound"] = sorted({s.lower() for s in sounds})
    fam = set(families.values())
    pron_i = sum(w in ("i", "me", "my", "myself", "i'm", "i've", "i'd", "i'll") for w in words)
    pron_we = sum(w in ("we", "us", "our", "ours", "we're", "we've", "let's") for w in words)
    pron_you = sum(w in ("you", "your", "yours", "yourself", "you're", "you've", "you'll") for w in words)
    asker_text = " ".join(t.text for t in turns if t.speaker == asker).lower() if asker else ""
    other_text = " ".join(t.text for t in turns if t.speaker != asker).lower() if asker else ""
    aw = WORD_RE.findall(asker_text)
    ow = WORD_RE.findall(other_text)
    v: dict[str, float] = {
        "turns": float(doc.has_turns),
        "named": float(doc.named),
        "n_speakers": float(min(len(speakers), 5)) if doc.has_turns else 1.0,
        "three_plus": float(doc.has_turns and len(speakers) >= 3),
        "log_turns": math.log1p(len(turns)) if doc.has_turns else 0.0,
        "log_words": math.log1p(nw),
        "log_unit_words": math.log1p(nw / max(len(units), 1)),
        "two_turns": float(doc.has_turns and len(turns) == 2),
        "top_share": max(per[s]["words"] for s in speakers) / nw if doc.has_turns else 1.0,
        "asker_share": asker_words / nw if asker else 0.0,
        "answer_ratio": math.log((other_words / max(other_turns, 1) + 1) / (asker_words / max(asker_turns, 1) + 1))
        if asker and others else 0.0,
        "q_turns": sum("?" in u for u in units) / max(len(units), 1),
        "q_asker": per[asker]["q"] / per[asker]["turns"] if asker else 0.0,
        "q_other": sum(per[s]["q"] for s in others) / max(other_turns, 1) if others else 0.0,
        "q_per_100w": _rate(text.count("?"), nw),
        "first_q": float("?" in first),
        # one question, then an answer longer than it: in turns exactly two, in running text any number of
        # answer paragraphs (written answers often have several)
        "qa_shape": float("?" in first and rest_words > 1.5 * first_words and first_words <= 150
                          and (len(units) == 2 if doc.has_turns else len(units) >= 2)),
        "lab_host": float("host" in fam),
        "lab_guest": float("guest" in fam),
        "lab_interviewer": float("interviewer" in fam),
        "lab_participant": float("participant" in fam),
        "lab_helper": float("helper" in fam),
        "lab_client": float("client" in fam),
        "lab_helper_no_interviewer": float("helper" in fam and "interviewer" not in fam and "host" not in fam),
        "lab_qa": float("qa" in fam),
        "lab_generic": float("generic" in fam),
        "lab_name": float("name" in fam),
        "cue_show": math.log1p(counts["show"]),
        "cue_show_opening": math.log1p(counts["show_opening"]),
        "cue_interview": math.log1p(counts["interview"]),
        "cue_therapy": math.log1p(counts["therapy"]),
        "cue_therapy_asker": math.log1p(_count(THERAPY_CUES, asker_text)[0]) if asker else 0.0,
        "cue_speech": math.log1p(counts["speech"]),
        "cue_speech_opening": math.log1p(counts["speech_opening"]),
        "cue_speech_close": float("speech_close" in hits),
        "cue_narrative": math.log1p(counts["narrative"]),
        "cue_reflective": math.log1p(counts["reflective"]),
        "cue_diary": math.log1p(counts["diary"]),
        "cue_qa_question": math.log1p(counts["qa_question"]),
        "cue_qa_answer": math.log1p(counts["qa_answer"]),
        "sound": math.log1p(len(sounds)),
        "applause": float(any("applause" in s.lower() or "cheer" in s.lower() for s in sounds)),
        "disfluency": _rate(len(DISFLUENCY_RE.findall(text)), nw),
        "p_i": _rate(pron_i, nw),
        "p_we": _rate(pron_we, nw),
        "p_you": _rate(pron_you, nw),
        "p_you_asker": _rate(sum(w in ("you", "your", "you're", "yourself") for w in aw), len(aw)) if aw else 0.0,
        "p_i_other": _rate(sum(w in ("i", "me", "my", "myself", "i'm") for w in ow), len(ow)) if ow else 0.0,
        "past": _rate(len(PAST_RE.findall(low)), nw),
        "feelings": _rate(len(FEELINGS_RE.findall(text)), nw),
        "feelings_other": _rate(len(FEELINGS_RE.findall(other_text)), len(ow)) if ow else 0.0,
        "punct": min(_rate(len(re.findall(r"[.!?]", text)), nw), 20.0),
        "no_punct": float(_rate(len(re.findall(r"[.!?]", text)), nw) < 2.0),
        "lower_i": float(bool(re.search(r"(?:^|\s)i(?:\s|'m|'ve|$)", text))),
    }
    return Signals(values=v, speakers=speakers, families=families, asker=asker,
                   q_by_speaker={s: (int(per[s]["q"]), int(per[s]["turns"])) for s in speakers},
                   hits={k: h for k, h in hits.items() if h}, doc=doc)


FEATURES: tuple[str, ...] = (
    "turns", "named", "n_speakers", "three_plus", "log_turns", "log_words", "log_unit_words", "two_turns",
    "top_share", "asker_share", "answer_ratio", "q_turns", "q_asker", "q_other", "q_per_100w", "first_q", "qa_shape",
    "lab_host", "lab_guest", "lab_interviewer", "lab_participant", "lab_helper", "lab_client",
    "lab_helper_no_interviewer", "lab_qa", "lab_generic", "lab_name",
    "cue_show", "cue_show_opening", "cue_interview", "cue_therapy", "cue_therapy_asker", "cue_speech",
    "cue_speech_opening", "cue_speech_close", "cue_narrative", "cue_reflective", "cue_diary", "cue_qa_question",
    "cue_qa_answer", "sound", "applause", "disfluency", "p_i", "p_we", "p_you", "p_you_asker", "p_i_other", "past",
    "feelings", "feelings_other", "punct", "no_punct", "lower_i",
)


def feature_vector(sig: Signals) -> np.ndarray:
    return np.array([sig.values[f] for f in FEATURES], dtype=np.float64)


# ---------------------------------------------------------------------------------------------------------------
# Evidence: what each feature means, in words, for the signals of one text

def _quote(hits: list[str], n: int = 4) -> str:
    return ", ".join(f"'{h}'" for h in hits[:n])


def _describe(name: str, s: Signals) -> str | None:
    v, h = s.values, s.hits
    fam = {f: [sp for sp, ff in s.families.items() if ff == f] for f in set(s.families.values())}
    if name.startswith("lab_") and name != "lab_helper_no_interviewer":
        f = name[4:]
        return f"speaker label{'s' if len(fam.get(f, [])) > 1 else ''} {', '.join(fam.get(f, []))} ({f})" \
            if fam.get(f) else f"no {f} label"
    if name == "lab_helper_no_interviewer":
        return (f"a helper label ({', '.join(fam.get('helper', []))}) with no interviewer or host"
                if v[name] else "no helper label without an interviewer or host")
    if name in ("q_asker", "q_other", "q_turns", "answer_ratio", "asker_share") and s.asker:
        q, n = s.q_by_speaker[s.asker]
        rest = [f"{sp} {s.q_by_speaker[sp][0]}/{s.q_by_speaker[sp][1]}" for sp in s.speakers if sp != s.asker][:3]
        shown = s.asker if not s.asker.startswith("?") else "one speaker"
        ratio = math.exp(v["answer_ratio"])
        return f"questions per turn: {shown} {q}/{n}" + (f", {', '.join(rest)}" if rest else "") + \
            (f"; the others' turns are {ratio:.1f}x as long" if _others_speak(s) else "")
    if name in ("qa_shape", "first_q", "two_turns"):
        return ("one question followed by a longer answer" if v["qa_shape"] else
                f"{'opens with a question' if v['first_q'] else 'does not open with a question'}, "
                f"{len(s.doc.turns) if s.doc.has_turns else len(s.doc.paragraphs)} "
                f"{'turns' if s.doc.has_turns else 'paragraphs'}")
    cue_names = {"cue_show": ("show", "show cues"), "cue_show_opening": ("show_opening", "opens like a show"),
                 "cue_interview": ("interview", "interview cues"), "cue_therapy": ("therapy", "therapy-talk cues"),
                 "cue_speech": ("speech", "audience address"),
                 "cue_speech_opening": ("speech_opening", "opens by addressing an audience"),
                 "cue_speech_close": ("speech_close", "closes"),
                 "cue_narrative": ("narrative", "first-person narrative"),
                 "cue_reflective": ("reflective", "reflective talk"), "cue_diary": ("diary", "diary cues"),
                 "cue_qa_question": ("qa_question", "help-seeking question"),
                 "cue_qa_answer": ("qa_answer", "advice-style answer")}
    if name == "cue_therapy_asker":
        return f"{s.asker} reflects and asks about feelings" if v[name] else None
    if name in cue_names:
        key, label = cue_names[name]
        if name in ("cue_show_opening", "cue_speech_opening") and h.get(key) == h.get(key.split("_")[0]):
            return None     # the same phrases as the whole text's: one line says it
        return f"{label}: {_quote(h[key])}" if h.get(key) else f"no {label}"
    if name in ("sound", "applause"):
        return f"sound descriptions: {_quote(h['sound'])}" if h.get("sound") else None
    if name in ("p_i", "p_i_other"):
        return f"first person singular: {v['p_i']:.1f} per 100 words"
    if name == "p_we":
        return f"first person plural (we, us, our): {v['p_we']:.1f} per 100 words"
    if name in ("p_you", "p_you_asker"):
        return f"second person (you, your): {v['p_you']:.1f} per 100 words"
    if name == "past":
        return f"past tense: {v['past']:.1f} verbs per 100 words"
    if name in ("feelings", "feelings_other"):
        return f"feelings words: {v['feelings']:.1f} per 100 words"
    if name in ("punct", "no_punct", "lower_i"):
        return f"punctuation: {v['punct']:.1f} sentence ends per 100 words" + (
            " (none: speech-to-text output?)" if v["no_punct"] else "")
    if name == "disfluency":
        return f"fillers (um, you know): {v['disfluency']:.1f} per 100 words"
    # structure (speakers, turns, length) is in the summary line; question density per 100 words needs no line
    return None


def _others_speak(s: Signals) -> bool:
    return s.asker is not None and len(s.speakers) > 1


def _summary(s: Signals) -> str:
    d = s.doc
    words = len(WORD_RE.findall(d.text.lower()))
    fmt = {"srt": "subtitles (SRT)", "vtt": "subtitles (WebVTT)", "transcript": "labelled transcript",
           "record": "record turns", "text": "running text"}[d.form]
    extra = f", {d.cues} cues over {d.duration_s:.0f} s" if d.cues else ""
    if d.has_turns:
        names = ", ".join(sp if not sp.startswith("?") else "unnamed" for sp in s.speakers[:5])
        return f"{fmt}{extra}: {len(s.speakers)} speakers ({names}), {len(d.turns)} turns, {words} words"
    return f"{fmt}{extra}: no speaker turns, {max(len(d.paragraphs), 1)} paragraph(s), {words} words"


# ---------------------------------------------------------------------------------------------------------------
# The model

@dataclass
class Detection:
    content_type: str
    confidence: float
    evidence: list[str]
    probabilities: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"content_type": self.content_type, "confidence": self.confidence, "evidence": self.evidence,
                "probabilities": self.probabilities}


class ContentTypeModel:
    """The fitted classifier: standardisation, coefficients and the type names, read from its JSON file."""

    def __init__(self, model: dict[str, Any], path: str | None = None):
        if tuple(model.get("features", ())) != FEATURES:
            raise UserError(f"content-type model {path}: its features differ from this code's; retrain it with "
                            "`empathy data train-content-type`")
        self.model = model
        self.path = path
        self.classes = list(model["classes"])
        self.mean = np.array(model["mean"])
        self.scale = np.array(model["scale"])
        self.coef = np.array(model["coef"])
        self.intercept = np.array(model["intercept"])

    @classmethod
    def load(cls, path: str | Path | None = None) -> ContentTypeModel:
        p = Path(path) if path else MODEL_FILE
        if not p.is_file():
            raise UserError(f"content-type model {p}: not found (train it with `empathy data train-content-type`)")
        try:
            return cls(json.loads(p.read_text(encoding="utf-8")), str(p))
        except (ValueError, KeyError) as exc:
            raise UserError(f"content-type model {p}: unreadable ({exc})") from None

    def probabilities(self, X: np.ndarray) -> np.ndarray:
        z = ((X - self.mean) / self.scale) @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def detect(self, obj: Any, name: str = "<input>", evidence: int = 4) -> Detection:
        doc = to_doc(obj, name)
        sig = signals(doc)
        x = feature_vector(sig)[None, :]
        p = self.probabilities(x)[0]
        k = int(np.argmax(p))
        z = (x[0] - self.mean) / self.scale
        # contribution of each feature to the chosen type against the average type
        contrib = z * (self.coef[k] - self.coef.mean(axis=0))
        reasons: list[str] = [_summary(sig)]
        for j in np.argsort(-contrib):
            if contrib[j] <= 0.05 or len(reasons) > evidence:
                break
            text = _describe(FEATURES[j], sig)
            if text and text not in reasons:
                reasons.append(text)
        return Detection(content_type=self.classes[k], confidence=round(float(p[k]), 3), evidence=reasons,
                         probabilities={c: round(float(q), 3) for c, q in zip(self.classes, p)})


@lru_cache(maxsize=4)
def _cached_model(path: str | None) -> ContentTypeModel:
    return ContentTypeModel.load(path)


def detect_content_type(record_or_text: Any, model: ContentTypeModel | str | Path | None = None,
                        name: str = "<input>") -> Detection:
    """The content type of a Record, a dict with turns or text, a list of turns, or a text (incl. .srt/.vtt)."""
    m = model if isinstance(model, ContentTypeModel) else _cached_model(str(model) if model else None)
    return m.detect(record_or_text, name)


def detect_file(path: str | Path, model: ContentTypeModel | str | Path | None = None) -> list[dict[str, Any]] | dict:
    """Detections for a transcript (.txt, .srt, .vtt: one) or a JSONL of records or {id, turns|text} (one a line)."""
    from empathy.io import iter_jsonl_numbered, require_file

    p = require_file(path, "input file")
    m = model if isinstance(model, ContentTypeModel) else _cached_model(str(model) if model else None)
    if p.suffix.lower() != ".jsonl":
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise UserError(f"{p}: not UTF-8 text (byte {exc.start})") from None
        return {"file": str(p), **m.detect(text, str(p)).to_dict()}
    out: list[dict[str, Any]] = []
    for lineno, obj in iter_jsonl_numbered(p, "input file"):
        item_id = obj.get("id", f"line{lineno}")
        out.append({"id": item_id, **m.detect(obj, f"{p}, line {lineno}").to_dict()})
    if not out:
        raise UserError(f"{p}: no records")
    return out
