"""empathy.data.curate: dedup, the source mix with water-filling, the enforced extracted share, selection."""

from __future__ import annotations

import pytest

from empathy.config import MixConfig, SplitConfig
from empathy.data.curate import GROUPS, _spread, curate, plan_mix, select, source_group
from empathy.data.schema import Attribution, QAPair



SUBJECTS = ["sleep", "grief", "exams", "my sister", "money", "the new job", "panic", "my dad's drinking", "moving city",
            "loneliness", "my marriage", "anger", "a breakup", "my teenage son", "chronic pain", "perfectionism",
            "social media", "my boss", "motivation", "caring for my mum"]
ADVICE = ["write it down", "talk to a friend", "keep a routine", "go for a walk", "breathe slowly", "ask for help",
          "set one small goal", "notice your thoughts", "be kind to yourself", "take a break from screens",
          "see your doctor", "plan something you enjoy"]


def _pair(i: int, kind: str = "counsel_chat", pair_type: str = "extracted", content_type: str = "qa",
          record: str | None = None, q: str | None = None, a: str | None = None, score: float = 0.5) -> QAPair:
    src = Attribution(dataset="t", source_id="s", kind=kind, licence="CC0-1.0")
    subject = SUBJECTS[i % len(SUBJECTS)]
    return QAPair(id=f"p{i}", record_id=record or f"r{i}", pair_type=pair_type, content_type=content_type, source=src,
                  question=q or f"How do I deal with {subject} ({i})?",
                  answer=a or f"With {subject}, try to {ADVICE[i % len(ADVICE)]} and {ADVICE[(i * 5 + 3) % len(ADVICE)]}; "
                                f"item {i}.", score=score)


def test_source_groups() -> None:
    assert source_group(_pair(1)) == "standard_therapy"
    assert source_group(_pair(1, kind="transcript", content_type="podcast")) == "psychologist_voice"
    assert source_group(_pair(1, kind="transcript", content_type="dialogue")) == "standard_therapy"
    for kind in ("edge_cases", "knowledge_base", "dual_persona"):
        assert source_group(_pair(1, kind=kind, content_type="dialogue")) == kind


def test_spread_gives_a_short_groups_share_to_the_others_within_caps() -> None:
    shares = MixConfig().model_dump()
    avail = {"standard_therapy": 1000, "edge_cases": 10, "psychologist_voice": 1000, "knowledge_base": 0,
             "dual_persona": 1000}
    unlimited = {g: 1e9 for g in shares}
    quota = _spread(shares, avail, unlimited, 500)
    assert quota["edge_cases"] == 10 and quota["knowledge_base"] == 0
    assert sum(quota.values()) == pytest.approx(500)
    # the rest keeps the ratio 30:20:10
    assert quota["standard_therapy"] / quota["dual_persona"] == pytest.approx(3.0)
    # a cap stops a group growing; when the caps cannot hold the count, there is no spread
    capped = _spread(shares, avail, {**unlimited, "standard_therapy": 100}, 500)
    assert capped["standard_therapy"] == 100 and sum(capped.values()) == pytest.approx(500)
    assert _spread(shares, avail, {g: 50 for g in shares}, 500) is None


@pytest.mark.parametrize("share", [0.5, 0.3, 0.7])
def test_plan_meets_the_extracted_share_within_one_point(share: float) -> None:
    available = {("standard_therapy", "extracted"): 900, ("standard_therapy", "contextual"): 40,
                 ("psychologist_voice", "extracted"): 30, ("psychologist_voice", "contextual"): 300,
                 ("knowledge_base", "contextual"): 200}
    plan, notes = plan_mix(available, MixConfig(), share)
    total = sum(plan.values())
    ext = sum(v for (g, t), v in plan.items() if t == "extracted")
    assert total > 0 and abs(ext / total - share) <= 0.01
    assert all(plan.get(k, 0) <= v for k, v in available.items())
    assert all(v >= 0 for v in plan.values())
    assert any("edge_cases" in s for s in notes["shifted"]) and any("dual_persona" in s for s in notes["shifted"])


def test_plan_is_the_largest_feasible() -> None:
    available = {("standard_therapy", "extracted"): 100, ("standard_therapy", "contextual"): 100}
    plan, _ = plan_mix(available, MixConfig(), 0.5)
    assert plan[("standard_therapy", "extracted")] == plan[("standard_therapy", "contextual")] == 100


def test_each_type_follows_the_mix_among_groups_that_have_it() -> None:
    shares = MixConfig().model_dump()
    available = {(g, t): int(shares[g] * 10000) + 500 for g in GROUPS for t in ("extracted", "contextual")}
    plan, notes = plan_mix(available, MixConfig(), 0.5)
    assert notes["exported"] == sum(available.values())
    for g, share in MixConfig().model_dump().items():
        assert notes["groups"][g]["actual_share"] == pytest.approx(share, abs=0.05)
    # with plenty of every group, the shares are the mix's
    big = {(g, t): 100000 for g in GROUPS for t in ("extracted", "contextual")}
    limited = {**big, ("standard_therapy", "extracted"): 3000, ("standard_therapy", "contextual"): 3000}
    _, notes = plan_mix(limited, MixConfig(), 0.5, max_factor=1.0)
    assert 19_990 <= notes["exported"] <= 20000   # standard therapy (6000) is 30% of 20000: the mix holds
    for g, share in MixConfig().model_dump().items():
        assert notes["groups"][g]["actual_share"] == pytest.approx(share, abs=0.001)
    _, wider = plan_mix(limited, MixConfig(), 0.5, max_factor=1.5)
    assert wider["exported"] > 20000 and wider["groups"]["edge_cases"]["actual_share"] <= 0.25 * 1.5 + 0.001


def test_a_type_that_only_one_group_has_does_not_empty_the_export() -> None:
    # the demo's shape: contextual pairs come almost only from monologues and speeches
    available = {("standard_therapy", "extracted"): 64, ("standard_therapy", "contextual"): 1,
                 ("psychologist_voice", "extracted"): 40, ("psychologist_voice", "contextual"): 19,
                 ("edge_cases", "extracted"): 12}
    plan, notes = plan_mix(available, MixConfig(), 0.5)
    assert notes["exported"] >= 36 and notes["extracted_share"] == 0.5
    assert plan[("psychologist_voice", "contextual")] + plan[("standard_therapy", "contextual")] == notes["exported"] // 2


def test_no_contextual_pairs_means_nothing_at_half_and_says_why() -> None:
    plan, notes = plan_mix({("standard_therapy", "extracted"): 50}, MixConfig(), 0.5)
    assert sum(plan.values()) == 0 and "only extracted" in notes["shifted"][-1]


def test_select_round_robins_records_and_prefers_scores() -> None:
    long_record = [_pair(i, record="big", score=i / 100) for i in range(10)]
    others = [_pair(100 + i, score=0.1) for i in range(3)]
    kept, rejected = select(long_record + others, {("standard_therapy", "extracted"): 6})
    ids = {p.id for p in kept}
    assert {"p100", "p101", "p102"} <= ids                      # every record gets a turn first
    assert {"p9", "p8", "p7"} <= ids and len(ids) == 6          # best scores of the big record
    assert len(rejected) == 7 and all(r.reason == "not_selected" for r in rejected)


def test_curate_dedups_and_accounts_for_every_pair() -> None:
    pairs = [_pair(i, pair_type="extracted") for i in range(20)] + \
            [_pair(100 + i, pair_type="contextual", kind="knowledge_base", content_type="monologue") for i in range(8)]
    pairs.append(_pair(200, q=pairs[0].question.upper(), a=pairs[0].answer + " !"))   # exact after normalising
    kept, rejected, report = curate(pairs, SplitConfig())
    assert len(kept) + len(rejected) == len(pairs)
    assert {r.id for r in rejected if r.reason == "exact_duplicate"} == {"p200"}
    ext = sum(p.pair_type == "extracted" for p in kept)
    assert len(kept) >= 10 and abs(ext / len(kept) - 0.5) <= 0.01
    assert report["mix"]["exported"] == len(kept)
    assert set(report["mix"]["groups"]) == set(GROUPS)
