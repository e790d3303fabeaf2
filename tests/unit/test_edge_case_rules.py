"""The category validation rules for generated dialogues, and the offline writer they must accept."""

from __future__ import annotations

import pytest

from empathy.config import ProviderConfig
from empathy.errors import UserError
from empathy.llm.offline import OfflineProvider
from empathy.llm.types import ChatRequest, ProviderError
from empathy.safety.categories import CATEGORIES
from empathy.safety.rules import REASON_CODES, check_dialogue, parse_dialogue

SAFE_SUICIDALITY = """Client: I keep thinking everyone would be better off without me.
Therapist: Thank you for telling me. Are you having thoughts of ending your life, and do you have a plan?
Client: Sometimes. I haven't done anything.
Therapist: Let's make a safety plan together now, and if you might act on it, call 988 or your local emergency number."""


def offline(name: str, index: int, seed: int = 13) -> str:
    provider = OfflineProvider(ProviderConfig(seed=seed))
    return provider.complete(ChatRequest(id=f"{name}-{index:03d}", messages=[{"role": "user", "content": "x"}],
                                         task="edge_case_dialogue", metadata={"category": name})).text


@pytest.mark.parametrize("name", sorted(CATEGORIES))
def test_offline_writer_passes_every_rule_in_every_category(name):
    for index in range(4):
        result = check_dialogue(name, parse_dialogue(offline(name, index)))
        assert result.passed, (name, index, [(v.code, v.detail) for v in result.violations])


def test_offline_writer_is_deterministic_and_varies_with_id_and_seed():
    assert offline("suicidality", 0) == offline("suicidality", 0)
    texts = {offline("suicidality", i) for i in range(6)} | {offline("suicidality", 0, seed=s) for s in range(6)}
    assert len(texts) > 1


def test_offline_provider_counts_tokens_and_refuses_unknown_tasks():
    provider = OfflineProvider(ProviderConfig())
    done = provider.complete(ChatRequest(id="grief_complicated-000", messages=[{"role": "user", "content": "a b c"}],
                                         task="edge_case_dialogue", metadata={"category": "grief_complicated"}))
    assert done.input_tokens == 3 and done.output_tokens > 50 and done.provider == "offline"
    with pytest.raises(ProviderError, match="no writer for task 'translate'") as err:
        provider.complete(ChatRequest(id="x", messages=[], task="translate"))
    assert not err.value.retryable
    with pytest.raises(ProviderError, match="unknown edge-case category"):
        provider.complete(ChatRequest(id="x", messages=[], task="edge_case_dialogue", metadata={"category": "nope"}))


def test_parse_dialogue_labels_continuations_and_preamble():
    text = ("Here is the dialogue you asked for:\n\n**Client:** I can't sleep.\nIt has been weeks.\n"
            "Counsellor (Dr Lee): That sounds exhausting.\nTherapist: What keeps you awake?\n---\nPatient: Worry.")
    parsed = parse_dialogue(text)
    assert [t.role for t in parsed.turns] == ["client", "therapist", "client"]
    assert parsed.turns[0].text == "I can't sleep. It has been weeks."
    assert parsed.turns[1].text == "That sounds exhausting. What keeps you awake?"
    assert parsed.preamble == ["Here is the dialogue you asked for:"]


def test_a_safe_dialogue_passes():
    assert check_dialogue("suicidality", parse_dialogue(SAFE_SUICIDALITY)).passed


BAD = {
    "unparseable": ("therapy_resistance", "I am not a dialogue at all."),
    "too_short": ("therapy_resistance", "Client: Nothing helps.\nTherapist: Tell me more?"),
    "meta_text": ("therapy_resistance", "Sure! Here is a dialogue:\nClient: a b\nTherapist: c d?\nClient: e\nTherapist: f"),
    "out_of_role": ("therapy_resistance", "Client: Hi.\nTherapist: As an AI language model I cannot feel.\n"
                                          "Client: Ok.\nTherapist: Fine."),
    "method_details": ("suicidality", SAFE_SUICIDALITY + "\nClient: How many pills would it take to end it?\n"
                                                         "Therapist: I won't answer that; let's call 988 now."),
    "glamorising": ("suicidality", SAFE_SUICIDALITY.replace("Let's make", "Suicide would be a peaceful escape for you. "
                                                                          "Let's make")),
    "boundary_violation": ("therapist_boundaries", "Client: Can I have your number?\nTherapist: Sure, here is my "
                                                   "personal number.\nClient: Great.\nTherapist: Text me any time."),
    "diagnosing_or_prescribing": ("medication_refusal", "Client: I stopped my pills.\nTherapist: You clearly have "
                                                        "bipolar disorder.\nClient: Oh.\nTherapist: Take 50 mg more."),
    "harmful_advice": ("substance_abuse_crisis", "Client: I shake when I stop drinking.\nTherapist: Just have a drink "
                                                 "to calm down. Are you safe? Call a crisis line if not.\nClient: Ok.\n"
                                                 "Therapist: You don't need a doctor."),
    "dismissive": ("family_therapy_conflict", "Client: They always blame me.\nTherapist: Get over it.\nClient: Wow.\n"
                                              "Therapist: Stop being so dramatic."),
    "missing_risk_assessment": ("suicidality", SAFE_SUICIDALITY.replace(
        "Are you having thoughts of ending your life, and do you have a plan?", "That sounds hard.")),
    "missing_crisis_resources": ("suicidality", SAFE_SUICIDALITY.replace(
        ", call 988 or your local emergency number", "")),
    "missing_confidentiality_limits": ("child_abuse_reporting",
                                       "Client: My brother's dad hits him.\nTherapist: Is he in danger tonight?\n"
                                       "Client: Maybe.\nTherapist: Please call child protection services."),
    "missing_safety_plan": ("suicidality", SAFE_SUICIDALITY.replace("Let's make a safety plan together now, and if",
                                                                    "If")),
}


def test_every_reason_code_has_a_failing_example():
    assert set(BAD) == set(REASON_CODES)


@pytest.mark.parametrize("code", sorted(BAD))
def test_each_rule_rejects_with_its_reason_code(code):
    category, text = BAD[code]
    result = check_dialogue(category, parse_dialogue(text))
    assert not result.passed and code in result.codes, [(v.code, v.detail) for v in result.violations]


def test_violations_name_the_turn_at_fault():
    category, text = BAD["method_details"]
    violation = next(v for v in check_dialogue(category, parse_dialogue(text)).violations if v.code == "method_details")
    assert violation.turn == 5 and "client" in violation.detail


@pytest.mark.parametrize("text", [
    "I won't be able to give you my personal number, and I can't meet you outside our sessions.",
    "I can't promise I won't tell anyone if your life is at risk.",
    "Stopping suddenly can cause problems, so talk to your prescriber before you change anything.",
    "You'd be better off talking to your doctor about that.",
])
def test_boundaries_kept_and_careful_advice_are_not_violations(text):
    dialogue = f"Client: Can we be friends?\nTherapist: {text}\nClient: Oh.\nTherapist: What would help between sessions?"
    assert check_dialogue("therapist_boundaries", parse_dialogue(dialogue)).passed


def test_unknown_category_is_a_user_error():
    with pytest.raises(UserError, match="unknown edge-case category 'nope'"):
        check_dialogue("nope", parse_dialogue(SAFE_SUICIDALITY))
