"""The 25 edge-case categories: exactly the names and levels the clinical team set, every
field filled, protocols that carry the level's safety steps, and the CLI listing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from empathy.errors import UserError
from empathy.safety.categories import (
    CATEGORIES, DIFFICULTIES, LEVEL_PROTOCOLS, by_difficulty, get_category, protocol_for,
)
from tests.conftest import REPO

EXPECTED = {
    "very_high": {"suicidality", "homicidal_client", "psychotic_episode", "child_abuse_reporting"},
    "high": {"substance_abuse_crisis", "severe_dissociation", "manic_episode", "trauma_flashback",
             "eating_disorder_medical", "borderline_crisis", "paranoid_accusations", "sexual_trauma_disclosure",
             "elder_abuse_concerns", "domestic_violence_active", "religious_delusions", "grief_complicated"},
    "moderate": {"stalking_harassment", "medication_refusal", "family_therapy_conflict", "adolescent_defiance",
                 "couple_therapy_betrayal", "cultural_conflicts", "therapist_boundaries", "therapy_resistance",
                 "chronic_pain_despair"},
}
RISK_CATEGORIES = {"suicidality", "self_harm", "homicidal_ideation", "child_abuse", "elder_abuse",
                   "domestic_violence", "psychosis", "substance_crisis", "eating_disorder_medical"}


def test_exactly_the_25_categories_at_their_levels():
    assert len(CATEGORIES) == 25
    for level, names in EXPECTED.items():
        assert {c.name for c in by_difficulty(level)} == names


@pytest.mark.parametrize("name", sorted(CATEGORIES))
def test_every_category_is_complete(name):
    c = CATEGORIES[name]
    assert c.difficulty in DIFFICULTIES
    assert len(c.description) > 40 and c.description.endswith(".")
    assert len(c.expected_challenges) >= 3 and all(x.strip() for x in c.expected_challenges)
    assert c.protocol_steps and all(step.endswith(".") for step in c.protocol_steps)
    assert set(c.risk_categories) <= RISK_CATEGORIES
    assert c.protocol()[: len(LEVEL_PROTOCOLS[c.difficulty])] == LEVEL_PROTOCOLS[c.difficulty]


def test_very_high_categories_need_review_and_crisis_steps():
    for c in by_difficulty("very_high"):
        assert c.requires_review and c.risk_categories
        text = " ".join(c.protocol()).lower()
        assert "crisis" in text and "emergency" in text and "never provide method" in text
    assert not any(c.requires_review for c in CATEGORIES.values() if c.difficulty != "very_high")


def test_unknown_category_is_a_user_error():
    with pytest.raises(UserError, match="unknown edge-case category 'suicide'"):
        get_category("suicide")
    assert protocol_for("suicidality")[0] == LEVEL_PROTOCOLS["very_high"][0]


def test_cli_lists_categories():
    run = lambda *a: subprocess.run([sys.executable, "-m", "empathy.cli", "safety", "categories", *a], cwd=REPO,
                                    capture_output=True, text=True, timeout=60)
    listed = json.loads(run("--difficulty", "very_high").stdout)
    assert {c["name"] for c in listed} == EXPECTED["very_high"] and all(c["requires_review"] for c in listed)
    bad = run("--name", "nope")
    assert bad.returncode == 2 and "unknown edge-case category 'nope'" in bad.stderr and "Traceback" not in bad.stderr
