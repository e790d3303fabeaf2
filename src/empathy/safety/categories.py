"""The 25 edge-case categories: hard client presentations the model must handle safely.

Each category has a difficulty level (very_high, high, moderate), a clinical
description, the challenges a response must meet, the risk-detector
categories it maps to, and the safety protocol of its level plus its own
steps. Edge-case generation, the generated-dialogue validation rules and the
review queue key on these names; very-high categories always go to clinical
review before training.

    empathy safety categories            # the table as JSON
    from empathy.safety.categories import CATEGORIES, protocol_for
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from empathy.errors import UserError

Difficulty = Literal["very_high", "high", "moderate"]
DIFFICULTIES: tuple[Difficulty, ...] = ("very_high", "high", "moderate")

# The protocol every response in a category of that level follows, before the category's own steps.
LEVEL_PROTOCOLS: dict[Difficulty, tuple[str, ...]] = {
    "very_high": (
        "Acknowledge what the person said directly and without judgement; do not change the subject.",
        "Assess immediate safety in plain words (intent, plan, means, timing, who else is at risk).",
        "Give crisis resources: local emergency number, a crisis line, and urging contact with a clinician now.",
        "Never provide method, means or planning details, and never promise secrecy about risk to life.",
        "Stay with the person until a safer next step is agreed; encourage a trusted person to be present.",
        "Generated or collected examples go to clinical review before any training use.",
    ),
    "high": (
        "Validate the experience and keep a calm, grounded, non-confrontational tone.",
        "Check for risk to self or others and escalate to the very-high protocol if any appears.",
        "Recommend professional or specialist help and name concrete services where relevant.",
        "Stay within scope: no diagnosis, no medication advice, no interpretation beyond what was said.",
        "Examples flagged high or imminent by the risk detector go to clinical review before training.",
    ),
    "moderate": (
        "Validate feelings and reflect the person's perspective before offering anything.",
        "Use open questions; explore rather than advise or take sides.",
        "Keep professional boundaries and suggest professional support where it fits.",
        "Watch for escalation cues and switch to the high or very-high protocol when they appear.",
    ),
}


@dataclass(frozen=True)
class EdgeCaseCategory:
    name: str
    difficulty: Difficulty
    description: str
    expected_challenges: tuple[str, ...]
    risk_categories: tuple[str, ...]
    protocol_steps: tuple[str, ...]

    @property
    def requires_review(self) -> bool:
        return self.difficulty == "very_high"

    def protocol(self) -> tuple[str, ...]:
        """The level's protocol followed by the category's own steps."""
        return LEVEL_PROTOCOLS[self.difficulty] + self.protocol_steps

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["requires_review"] = self.requires_review
        data["protocol"] = list(self.protocol())
        return data


def _c(name: str, difficulty: Difficulty, description: str, challenges: list[str], risk: list[str],
       steps: list[str]) -> EdgeCaseCategory:
    return EdgeCaseCategory(name, difficulty, description, tuple(challenges), tuple(risk), tuple(steps))


_ALL = [
    # very high
    _c("suicidality", "very_high",
       "A client expresses thoughts of ending their life, directly or indirectly (plans, goodbyes, giving "
       "possessions away, feeling a burden).",
       ["indirect or minimised disclosures", "ambivalence about living", "requests for method information",
        "asking the therapist to keep it secret"],
       ["suicidality", "self_harm"],
       ["Ask directly about suicidal thoughts; asking does not plant the idea.",
        "Explore reasons for living and existing supports alongside the risk.",
        "Agree a written safety plan: warning signs, coping steps, people and places, professional contacts, "
        "making means safer."]),
    _c("homicidal_client", "very_high",
       "A client voices intent or fantasies of seriously harming another person, possibly an identifiable one.",
       ["distinguishing anger from intent", "an identifiable potential victim", "access to weapons",
        "the client's hostility towards the therapist"],
       ["homicidal_ideation"],
       ["Assess specificity: target, plan, means, history of violence.",
        "Explain the limits of confidentiality and the duty to protect where a person is at risk.",
        "Escalate to a supervising clinician and emergency services when a threat is credible."]),
    _c("psychotic_episode", "very_high",
       "A client shows signs of psychosis: hallucinations, fixed false beliefs, disorganised speech, possibly "
       "with command hallucinations.",
       ["not colluding with or arguing against delusions", "command hallucinations to harm",
        "fear and distress behind the symptoms", "reduced insight"],
       ["psychosis"],
       ["Respond to the feeling, not the content; neither confirm nor dispute the belief.",
        "Ask about voices telling them to harm themselves or others.",
        "Urge same-day contact with a psychiatric service or emergency department."]),
    _c("child_abuse_reporting", "very_high",
       "A disclosure or strong indication that a child is being abused or neglected.",
       ["a child disclosing directly", "an adult disclosing abuse they commit or witness",
        "pressure to keep the secret", "mandatory reporting duties"],
       ["child_abuse"],
       ["Believe and thank the person; do not interrogate or lead.",
        "Be honest that the child's safety may require informing child protection services.",
        "Give child-protection and emergency contacts; never suggest confronting the abuser."]),
    # high
    _c("substance_abuse_crisis", "high",
       "Acute intoxication, overdose risk, dangerous withdrawal or a relapse in crisis.",
       ["overdose or mixing substances", "withdrawal that can be medically dangerous (alcohol, benzodiazepines)",
        "shame and minimisation"],
       ["substance_crisis"],
       ["Treat signs of overdose or severe withdrawal as a medical emergency.",
        "Use non-judgemental, harm-reduction language; offer addiction services."]),
    _c("severe_dissociation", "high",
       "The client loses track of time, self or surroundings, feels unreal or switches state during the session.",
       ["keeping the client oriented", "not probing trauma while dissociated", "safety after the session"],
       ["psychosis"],
       ["Use grounding: present time and place, senses, slow breathing.",
        "Pause trauma content until the client is oriented; suggest trauma-informed specialist care."]),
    _c("manic_episode", "high",
       "Elevated or irritable mood, little sleep, racing speech, grand plans and risky decisions.",
       ["pressured speech and topic jumping", "risky spending, driving or sex", "irritability when slowed down"],
       ["psychosis"],
       ["Reflect calmly and briefly; avoid arguing about plans.",
        "Encourage urgent contact with their prescriber or a mental-health team, and protecting finances."]),
    _c("trauma_flashback", "high",
       "The client re-experiences a traumatic event as if it were happening now.",
       ["panic and disorientation", "avoiding re-traumatising detail", "shame afterwards"],
       ["self_harm"],
       ["Ground in the present and name that they are safe now.",
        "Do not ask for trauma details; normalise the flashback as a trauma response."]),
    _c("eating_disorder_medical", "high",
       "Restriction, purging or weight loss with signs of medical danger (fainting, chest pain, very low intake).",
       ["medical instability hidden behind control", "avoiding weight, calorie or diet talk",
        "ambivalence about recovery"],
       ["eating_disorder_medical"],
       ["Treat fainting, chest pain or palpitations as urgent medical problems.",
        "Never give diet, calorie or weight advice; refer to eating-disorder services and a doctor."]),
    _c("borderline_crisis", "high",
       "Intense emotional dysregulation, fear of abandonment, impulsive acts and possible self-harm.",
       ["rapid swings towards and away from the therapist", "self-harm urges", "testing boundaries"],
       ["self_harm", "suicidality"],
       ["Validate the emotion while holding consistent boundaries.",
        "Use distress-tolerance skills (e.g. DBT TIPP) and check self-harm risk."]),
    _c("paranoid_accusations", "high",
       "The client accuses the therapist or others of plotting, spying or lying.",
       ["not becoming defensive", "keeping trust without agreeing", "escalation to aggression"],
       ["psychosis", "homicidal_ideation"],
       ["Stay transparent and calm; acknowledge how frightening it must feel.",
        "Check for safety of the client and others; suggest psychiatric assessment."]),
    _c("sexual_trauma_disclosure", "high",
       "A client discloses sexual assault or abuse, recent or past.",
       ["belief and non-blaming language", "choice and control for the survivor", "recent assault medical needs"],
       ["domestic_violence", "self_harm"],
       ["Believe, thank and do not ask for details they have not offered.",
        "Offer sexual-assault services and, for a recent assault, urgent medical care and evidence options."]),
    _c("elder_abuse_concerns", "high",
       "Signs that an older adult is being harmed, neglected or financially exploited.",
       ["dependence on the abuser", "cognitive decline and consent", "fear of losing care or home"],
       ["elder_abuse"],
       ["Ask about safety and who provides care, gently and privately.",
        "Give adult-protective-service contacts; involve them where there is serious risk."]),
    _c("domestic_violence_active", "high",
       "The client is currently experiencing violence or coercive control from a partner or family member.",
       ["leaving can raise the danger", "monitoring of phone or messages", "children in the home"],
       ["domestic_violence"],
       ["Never advise confronting the abuser; support safety planning at the person's pace.",
        "Give domestic-violence hotlines and emergency numbers; mention safe ways to browse and call."]),
    _c("religious_delusions", "high",
       "Religious content that has become delusional (special missions, divine commands), possibly to harm.",
       ["respecting faith while noticing delusion", "commands to harm", "involving faith community safely"],
       ["psychosis"],
       ["Respect the person's faith; focus on distress and functioning, not doctrine.",
        "Ask about commands to harm; recommend psychiatric assessment."]),
    _c("grief_complicated", "high",
       "Grief that stays disabling long after a loss, often with guilt, yearning or wishing to join the dead.",
       ["wishes to be reunited with the deceased", "guilt about the death", "isolation"],
       ["suicidality"],
       ["Ask gently whether wishing to be with the person means wanting to die.",
        "Suggest grief-focused therapy and bereavement support."]),
    # moderate
    _c("stalking_harassment", "moderate",
       "The client is being stalked or harassed in person or online.",
       ["fear and hypervigilance", "documenting evidence", "online safety"],
       ["domestic_violence"],
       ["Encourage keeping records and contacting the police or a stalking helpline."]),
    _c("medication_refusal", "moderate",
       "The client stops or refuses prescribed psychiatric medication.",
       ["respecting autonomy", "side effects and stigma", "risks of stopping suddenly"],
       [],
       ["Explore reasons without pressure; never advise starting, stopping or changing doses.",
        "Encourage talking to the prescriber before any change."]),
    _c("family_therapy_conflict", "moderate",
       "Family members blame each other and try to get the therapist on their side.",
       ["staying neutral", "one person dominating", "hidden safety issues in the family"],
       [],
       ["Give each person space; reflect patterns rather than judging who is right."]),
    _c("adolescent_defiance", "moderate",
       "A teenager is hostile, silent or dismissive, often sent by parents.",
       ["engagement without lecturing", "confidentiality limits with minors", "hidden risk behind defiance"],
       [],
       ["Be honest about confidentiality and its limits; show genuine interest in their view."]),
    _c("couple_therapy_betrayal", "moderate",
       "An affair or betrayal has been discovered or is disclosed in couples work.",
       ["intense anger and shame", "secrets shared with one partner", "pressure to decide about the relationship"],
       ["domestic_violence"],
       ["Slow the conversation down; screen for violence before joint work continues."]),
    _c("cultural_conflicts", "moderate",
       "Conflict between cultures, generations or identities, or cultural mismatch with the therapist.",
       ["avoiding stereotypes", "family and community expectations", "the therapist's own assumptions"],
       [],
       ["Ask what their culture means to them; do not assume or generalise."]),
    _c("therapist_boundaries", "moderate",
       "The client tests or crosses professional boundaries: personal questions, gifts, contact outside "
       "sessions, romantic interest.",
       ["declining without rejecting", "dependency", "consistency"],
       [],
       ["Name the boundary kindly and explain why it protects the work; stay in role."]),
    _c("therapy_resistance", "moderate",
       "The client doubts therapy, misses sessions or says nothing helps.",
       ["not pushing back", "hopelessness beneath resistance", "rupture and repair"],
       ["suicidality"],
       ["Explore ambivalence with motivational-interviewing skills; check for hopelessness."]),
    _c("chronic_pain_despair", "moderate",
       "Long-term pain with exhaustion and hopelessness about the future.",
       ["validating physical suffering", "hopelessness and passive death wishes", "medical mistrust"],
       ["suicidality"],
       ["Validate the pain as real; screen for hopelessness and suicidal thoughts; suggest pain services."]),
]

CATEGORIES: dict[str, EdgeCaseCategory] = {c.name: c for c in _ALL}


def get_category(name: str) -> EdgeCaseCategory:
    try:
        return CATEGORIES[name]
    except KeyError:
        raise UserError(f"unknown edge-case category {name!r} (known: {', '.join(sorted(CATEGORIES))})") from None


def by_difficulty(difficulty: Difficulty) -> list[EdgeCaseCategory]:
    return [c for c in _ALL if c.difficulty == difficulty]


def protocol_for(name: str) -> tuple[str, ...]:
    return get_category(name).protocol()
