"""Validation rules for generated edge-case dialogues, each rejection with a reason code.

A generated dialogue becomes training data only if the therapist in it does
what the category's protocol asks and nothing a clinician would forbid. The
rules read the parsed turns, so they judge any provider's output the same
way. Reason codes (stable; reports and tests key on them):

    unparseable                 no "Client:"/"Therapist:" turns could be read
    too_short                   fewer than 4 turns, or fewer than 2 from each side
    meta_text                   text outside the dialogue ("Here is a dialogue...")
    out_of_role                 the therapist speaks as an AI or about the exercise
    method_details              means, doses or instructions for self-harm, suicide or violence
    glamorising                 death, suicide or self-harm presented as peaceful, brave or a solution
    boundary_violation          personal contact, meeting outside, romance, secrecy about risk
    diagnosing_or_prescribing   the therapist diagnoses or changes medication
    harmful_advice              advice that increases risk (drink, skip meals, confront, avoid help)
    dismissive                  minimising ("get over it", "attention seeking")
    missing_risk_assessment     no therapist question about safety where the category needs one
    missing_crisis_resources    no emergency or crisis resource where the category needs one
    missing_confidentiality_limits  no word on the limits of confidentiality (child abuse, threats to others)
    missing_safety_plan         no safety plan (suicidality, active domestic violence)

    from empathy.safety.rules import check_dialogue, parse_dialogue
    result = check_dialogue("suicidality", parse_dialogue(text))
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from empathy.safety.categories import get_category

REASON_CODES = (
    "unparseable", "too_short", "meta_text", "out_of_role", "method_details", "glamorising", "boundary_violation",
    "diagnosing_or_prescribing", "harmful_advice", "dismissive", "missing_risk_assessment",
    "missing_crisis_resources", "missing_confidentiality_limits", "missing_safety_plan",
)

SPEAKER_ALIASES = {
    "client": "client", "patient": "client", "user": "client", "seeker": "client",
    "therapist": "therapist", "counsellor": "therapist", "counselor": "therapist", "assistant": "therapist",
}
# "Client:", "**Therapist:**", "Counsellor (Dr A):" at the start of a line.
_TURN_RE = re.compile(r"^\s*[*_]*\s*([A-Za-z]+)(?:\s*\([^)]*\))?\s*[*_]*\s*:\s*[*_]*\s*(.*)$")


@dataclass(frozen=True)
class DialogueTurn:
    role: str  # client | therapist
    text: str


@dataclass
class ParsedDialogue:
    turns: list[DialogueTurn]
    preamble: list[str] = field(default_factory=list)  # lines outside any turn


def parse_dialogue(text: str) -> ParsedDialogue:
    """Split provider output into client and therapist turns; unlabelled lines continue the last turn."""
    turns: list[tuple[str, list[str]]] = []
    preamble: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or set(stripped) <= set("-*=#_"):
            continue
        match = _TURN_RE.match(stripped)
        role = SPEAKER_ALIASES.get(match.group(1).lower()) if match else None
        if role:
            turns.append((role, [match.group(2).strip()]))
        elif turns:
            turns[-1][1].append(stripped)
        else:
            preamble.append(stripped)
    merged: list[DialogueTurn] = []
    for role, parts in turns:
        body = " ".join(p for p in parts if p)
        if merged and merged[-1].role == role:  # two labels in a row from one side are one turn
            merged[-1] = DialogueTurn(role, f"{merged[-1].text} {body}".strip())
        elif body:
            merged.append(DialogueTurn(role, body))
    return ParsedDialogue(merged, preamble)


@dataclass(frozen=True)
class Violation:
    code: str
    detail: str
    turn: int | None = None  # 1-based turn index, when one turn is at fault

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RuleResult:
    category: str
    violations: list[Violation]

    @property
    def passed(self) -> bool:
        return not self.violations

    @property
    def codes(self) -> list[str]:
        return sorted({v.code for v in self.violations})


def _rx(*patterns: str) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I)


# Forbidden anywhere in the dialogue: training data must never carry means or instructions.
METHOD_DETAILS = _rx(
    r"\blethal (dose|amount|quantity)\b",
    r"\b\d+\s*(mg|milligrams?|grams?|pills|tablets|capsules)\b.{0,40}\b(kill|die|dead|end it|overdose|enough)\b",
    r"\b(kill|die|dead|end it|overdose|enough)\b.{0,40}\b\d+\s*(mg|milligrams?|grams?|pills|tablets|capsules)\b",
    r"\bhow (many|much) (pills|tablets|paracetamol|of (them|it)) (would|will|to|it takes)\b",
    r"\b(tie|tying) a noose\b", r"\bnoose\b.{0,30}\b(beam|rope|neck)\b",
    r"\b(cut|slit|slash)(ting)? (my|your|his|her) (wrists?|throat) (deep|along|vertically|properly)\b",
    r"\b(step[- ]by[- ]step|instructions?|the best way|the quickest way|the surest way)\b.{0,40}\b(kill|die|suicide|end (my|your) life|overdose|hang)\b",
    r"\b(where|how) (to|can I|could I) (buy|get|make) (a gun|poison|a weapon|pills)\b.{0,40}\b(kill|hurt|end)\b",
    r"\b(mix|combine) (it|them|pills|alcohol) with\b.{0,40}\b(die|kill|lethal|overdose)\b",
)
# Death or self-harm presented as good: forbidden in therapist turns, and in client turns when not challenged.
GLAMORISING = _rx(
    r"\b(suicide|dying|death|ending (it|your life)|self[- ]harm|cutting)\b.{0,30}\b(is|would be|sounds|seems) "
    r"(a |an )?(peaceful|beautiful|brave|noble|romantic|understandable|reasonable|valid|the right) (choice|option|escape|release|solution|way)\b",
    r"\b(peaceful|beautiful|brave|noble|romantic) (way to (go|die)|death|escape|exit|release)\b",
    r"\bfinally (be )?(free|at peace)\b.{0,20}\b(if you|once you|when you) (die|go|end)\b",
)
OUT_OF_ROLE = _rx(
    r"\bas an? (ai|artificial intelligence|language model|chatbot|assistant)\b",
    r"\bi('m| am) (just )?(an? )?(ai|language model|chatbot|bot)\b",
    r"\b(this|the) (dialogue|role[- ]?play|script|exercise|scenario) (is|was) (fictional|generated|written)\b",
    r"\bi (can(no|')t|cannot|won't) (help|assist) with (that|this) request\b",
)
# A turn that opens like an assistant talking about the task, not a therapist talking to a client.
META_START = _rx(r"^\s*(here('s| is) (a|the|your)|below is|note:|disclaimer:|title:|scenario:|\(?end of (dialogue|transcript))")
BOUNDARY = _rx(
    r"\b(here('s| is)|this is) my (personal |private |mobile |cell )?(phone )?(number|email|address|instagram|whatsapp)\b",
    r"\bmy (personal |private |mobile |cell )?(phone )?(number|email) is\b", r"\b(text|call|message) me (any ?time|at home|on my)\b",
    r"\b(meet|see) (up|you) (for|at|outside|after)\b", r"\b(grab|get|have) (a )?(coffee|drink|dinner|lunch) (with me|together)\b",
    r"\bcome (over|round) to my\b", r"\bi (love|have feelings for|am attracted to) you\b", r"\b(go on a )?date with (me|you)\b",
    r"\b(i )?(won't|will not|never) tell anyone\b", r"\b(this|it) (stays|can stay) between (us|you and me)\b",
    r"\b(i'll|i will) keep (it|this|that) (a )?secret\b",
)
DIAGNOSING = _rx(
    r"\byou (definitely |clearly |obviously )?(have|'ve got|are suffering from|suffer from) "
    r"(bipolar|schizophrenia|borderline|bpd|ptsd|ocd|adhd|anorexia|bulimia|psychosis|a personality disorder|clinical depression|major depression)\b",
    r"\byou('re| are) (a )?(bipolar|schizophrenic|psychotic|anorexic|narcissist|sociopath|psychopath)\b",
    r"\b(take|try|increase|double|halve|reduce) (your dose|\d+\s*mg|the dose)\b",
    r"\b(stop|start|quit) (taking )?(your )?(medication|meds|antidepressants|tablets|pills|lithium|antipsychotics)\b(?! (suddenly|without))",
    r"\byou (should|need to|must) (go on|come off|get off) (medication|meds|antidepressants|lithium)\b",
)
HARMFUL_ADVICE = _rx(
    r"\b(just )?(have|take|pour) (yourself )?(a|another) (drink|shot|pill)\b.{0,30}\b(calm|relax|cope|feel better)\b",
    r"\b(skip|cut out) (a few )?(meals|eating)\b", r"\b(fast|stop eating) (for|until)\b",
    r"\b(confront|get back at|teach (him|her|them) a lesson|hit (him|her|them) back)\b",
    r"\byou don'?t need (a doctor|help|therapy|treatment|the police|medication)\b",
    r"\b(don'?t|do not|no need to) (tell|call|contact) (the police|your doctor|anyone|emergency services|child protection)\b",
    r"\b(stay|go back) (with|to) (him|her|them),? (it|things) (will|'ll) get better\b",
)
DISMISSIVE = _rx(
    r"\bget over it\b", r"\b(just )?(cheer|toughen) up\b", r"\bsnap out of it\b", r"\battention[- ]seeking\b",
    r"\bstop being (so )?(dramatic|silly|sensitive)\b", r"\bit'?s (all )?in your head\b", r"\bothers have it worse\b",
)
SAFETY_QUESTION = _rx(
    r"\b(safe|safety|danger|harm(ing)?|hurt(ing)?|suicid\w*|kill(ing)?|weapons?|intent|a plan)\b",
    r"\bend(ing)? (your|his|her|their) life\b", r"\bnot (want(ing)?|wish(ing)?) to (be alive|live|wake up)\b",
)
CRISIS_RESOURCES = _rx(
    r"\bemergency (number|services|department|room)\b", r"\bcrisis (line|team|service|centre|center|text line)\b",
    r"\b(988|911|999|112|116 123|000)\b", r"\b(hotline|helpline|samaritans|lifeline|ambulance|a&e|urgent care)\b",
    r"\bchild protection\b", r"\b(adult protective|safeguarding) (services|team)\b",
)
CONFIDENTIALITY = _rx(r"\bconfidential(ity)?\b", r"\bduty to (report|protect|warn)\b", r"\b(make|making) (a|that) report\b")
SAFETY_PLAN = _rx(r"\bsafety plan\b", r"\bsafe place\b.{0,80}\b(code word|bag|documents)\b", r"\bplan (for|to keep) (you|yourself) safe\b")

NEGATION = re.compile(r"\b(not|never|no|won't|will not|can't|cannot|can not|don't|do not|unable to|wouldn't|shouldn't|isn't)\b[^.?!]{0,40}$", re.I)
_THERAPIST_ONLY = {
    "out_of_role": OUT_OF_ROLE, "boundary_violation": BOUNDARY, "diagnosing_or_prescribing": DIAGNOSING,
    "harmful_advice": HARMFUL_ADVICE, "dismissive": DISMISSIVE, "glamorising": GLAMORISING,
}


def _affirmed(pattern: re.Pattern, text: str) -> re.Match | None:
    """The first match not negated earlier in its sentence ("I won't give you my number" is a boundary kept)."""
    for m in pattern.finditer(text):
        if not NEGATION.search(text[:m.start()]):
            return m
    return None


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.?!])\s+", text) if s]


def _needs(category: str) -> set[str]:
    """The elements a category's protocol requires the therapist to show."""
    cat = get_category(category)
    risk = set(cat.risk_categories)
    needs: set[str] = set()
    if cat.difficulty == "very_high" or risk & {"suicidality", "self_harm", "homicidal_ideation"}:
        needs |= {"missing_risk_assessment", "missing_crisis_resources"}
    if category in ("child_abuse_reporting", "homicidal_client"):
        needs.add("missing_confidentiality_limits")
    if category in ("suicidality", "domestic_violence_active"):
        needs.add("missing_safety_plan")
    return needs


def check_dialogue(category: str, dialogue: ParsedDialogue) -> RuleResult:
    """Every violated rule, with the turn at fault where there is one."""
    needs = _needs(category)  # also rejects an unknown category before any work
    violations: list[Violation] = []
    turns = dialogue.turns
    if not turns:
        return RuleResult(category, [Violation("unparseable", "no 'Client:' or 'Therapist:' turns found")])
    n_client = sum(t.role == "client" for t in turns)
    n_therapist = len(turns) - n_client
    if len(turns) < 4 or n_client < 2 or n_therapist < 2:
        violations.append(Violation("too_short", f"{len(turns)} turns ({n_client} client, {n_therapist} therapist); "
                                                 "need at least 4 with 2 from each side"))
    for line in dialogue.preamble:
        violations.append(Violation("meta_text", f"text outside the dialogue: {line[:80]!r}"))
    for i, turn in enumerate(turns, start=1):
        if m := METHOD_DETAILS.search(turn.text):
            violations.append(Violation("method_details", f"{turn.role}: {m.group(0)!r}", i))
        if turn.role != "therapist":
            continue
        for code, pattern in _THERAPIST_ONLY.items():
            if m := _affirmed(pattern, turn.text):
                violations.append(Violation(code, f"therapist: {m.group(0)!r}", i))
        if m := META_START.search(turn.text):
            violations.append(Violation("meta_text", f"therapist: {m.group(0)!r}", i))
    therapist_text = " ".join(t.text for t in turns if t.role == "therapist")
    therapist_questions = [s for t in turns if t.role == "therapist" for s in _sentences(t.text) if s.endswith("?")]
    if "missing_risk_assessment" in needs and not any(SAFETY_QUESTION.search(q) for q in therapist_questions):
        violations.append(Violation("missing_risk_assessment", "the therapist never asks about safety or risk"))
    checks = {"missing_crisis_resources": CRISIS_RESOURCES, "missing_confidentiality_limits": CONFIDENTIALITY,
              "missing_safety_plan": SAFETY_PLAN}
    for code, pattern in checks.items():
        if code in needs and not pattern.search(therapist_text):
            violations.append(Violation(code, f"{category} needs it; no therapist turn has it"))
    return RuleResult(category, violations)
