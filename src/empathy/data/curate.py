"""Curation of screened pairs: duplicates out, then a selection to the source mix and the extracted share.

1. **Dedup.** Exact duplicates (same question and answer after normalising case, spacing and punctuation),
   then near-duplicates: a pair whose MiniLM embedding of "question + answer" has cosine >= `near_duplicate`
   with an earlier pair. The first one seen is kept (pairs arrive in a stable order, best scores first within
   a record), and each dropped pair names the one it duplicates.
2. **Mix.** Pairs belong to source groups (standard therapy, edge cases, psychologist voice, knowledge base,
   dual persona). The plan is the largest export whose extracted/contextual split is `extracted_share`
   (within one point, enforced); each type is spread over the groups by the configured shares. A group that is
   short gives up its share to the others in proportion (water-filling), and the plan says so, with target and
   actual shares per group.
3. **Selection.** Within each (group, pair type) the plan's count is taken round-robin across records, so no
   single long transcript crowds out the rest, best semantic score first within a record. Everything not
   selected is rejected with reason `not_selected` and the detail says which quota was full.

    from empathy.data.curate import curate
    kept, rejected, report = curate(pairs, SplitConfig())
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from typing import Any

import numpy as np

from empathy.config import MixConfig, SplitConfig
from empathy.data.schema import QAPair, Rejection

STAGE = "curate"
GROUPS = tuple(MixConfig.model_fields)
VOICE_TYPES = {"interview", "podcast", "monologue", "speech"}
_NORMALISE = re.compile(r"[^a-z0-9]+")


def source_group(pair: QAPair) -> str:
    """The mix group a pair counts toward, from its source kind and content type."""
    kind = pair.source.kind
    if kind == "edge_cases":
        return "edge_cases"
    if kind == "knowledge_base":
        return "knowledge_base"
    if kind == "dual_persona":
        return "dual_persona"
    if pair.content_type in VOICE_TYPES:
        return "psychologist_voice"
    return "standard_therapy"


def _norm(text: str) -> str:
    return _NORMALISE.sub(" ", text.lower()).strip()


def dedup(pairs: list[QAPair], threshold: float, progress: bool = False) -> tuple[list[QAPair], list[Rejection]]:
    """Exact then near-duplicates out; the earlier pair is kept and named in the rejection."""
    from empathy.embeddings import encode

    kept: list[QAPair] = []
    rejected: list[Rejection] = []
    seen: dict[str, str] = {}
    for p in pairs:
        key = _norm(p.question) + "\x1f" + _norm(p.answer)
        if key in seen:
            rejected.append(Rejection(id=p.id, stage=STAGE, reason="exact_duplicate", detail=f"same as {seen[key]}",
                                      source=p.source))
        else:
            seen[key] = p.id
            kept.append(p)
    if len(kept) < 2 or threshold >= 1.0:     # 1.0: near-duplicate detection off (exact duplicates still go)
        return kept, rejected
    vectors = encode([f"{p.question}\n{p.answer}" for p in kept], progress=progress)
    duplicate_of = _near_duplicates(vectors, threshold)
    out = []
    for i, p in enumerate(kept):
        j = duplicate_of[i]
        if j < 0:
            out.append(p)
        else:
            rejected.append(Rejection(id=p.id, stage=STAGE, reason="near_duplicate",
                                      detail=f"cosine >= {threshold} with {kept[j].id}", source=p.source))
    return out, rejected


def _near_duplicates(vectors: np.ndarray, threshold: float, block: int = 1024) -> np.ndarray:
    """For each row, the first earlier row it is a near-duplicate of (itself not dropped), or -1.

    Blocked so memory stays at block x n; a row whose match was itself dropped is compared on: chains keep the
    first of each cluster only when they touch it, which is what a reader expects of "duplicate of an earlier one".
    """
    n = len(vectors)
    out = np.full(n, -1)
    for start in range(0, n, block):
        sims = vectors[start:start + block] @ vectors[: start + block].T
        for r in range(sims.shape[0]):
            i = start + r
            row = sims[r, :i]
            hits = np.flatnonzero(row >= threshold)
            hits = hits[out[hits] < 0] if len(hits) else hits
            if len(hits):
                out[i] = int(hits[0])
    return out


def _spread(shares: dict[str, float], available: dict[str, int], caps: dict[str, float], count: int
            ) -> dict[str, float] | None:
    """`count` pairs spread over the groups by their shares, water-filled: a group gets at most min(what it has,
    its cap), and what a capped group cannot take goes to the others in proportion. None when that cannot reach
    `count`."""
    quota = {g: 0.0 for g in shares}
    limit = {g: min(float(available.get(g, 0)), caps.get(g, 0.0)) for g in shares}
    open_groups = {g for g in shares if shares[g] > 0 and limit[g] > 1e-9}
    remaining = float(count)
    while open_groups and remaining > 1e-9:
        w = sum(shares[g] for g in open_groups)
        capped = {g for g in open_groups if quota[g] + remaining * shares[g] / w >= limit[g] - 1e-9}
        if not capped:
            for g in open_groups:
                quota[g] += remaining * shares[g] / w
            return quota
        for g in capped:
            remaining -= limit[g] - quota[g]
            quota[g] = limit[g]
        open_groups -= capped
    return quota if remaining <= 1e-6 else None


def plan_mix(available: dict[tuple[str, str], int], mix: MixConfig, extracted_share: float,
             max_factor: float = 2.0) -> tuple[dict[tuple[str, str], int], dict[str, Any]]:
    """Counts per (group, pair type) for the largest export that keeps the extracted share and the mix.

    The extracted share is enforced (within one point). Each type is spread over the groups by their shares;
    when a group is short, the others take its part, each group up to `max_factor` times its share among the
    groups present (counting both types). Past that the export stops growing: the balance holds rather than one
    source filling the set. The notes give target and actual shares side by side, and what shifted.
    """
    shares = mix.model_dump()

    group_avail = {g: available.get((g, "extracted"), 0) + available.get((g, "contextual"), 0) for g in GROUPS}
    present = {g for g in GROUPS if group_avail[g] and shares[g] > 0}
    weight = sum(shares[g] for g in present) or 1.0

    def counts_for(total: int, strict: bool) -> dict[tuple[str, str], int] | None:
        want = {"extracted": round(extracted_share * total)}
        want["contextual"] = total - want["extracted"]
        if strict and total and abs(want["extracted"] / total - extracted_share) > 0.01 + 1e-9:
            return None     # e.g. 2 of 3: no way to be within one point of a half
        cap = {g: max_factor * total * shares[g] / weight if g in present else 0.0 for g in GROUPS}
        # the scarcer type is spread first, so the other fills what room the groups have left
        order = sorted(want, key=lambda t: -want[t] / max(1, sum(available.get((g, t), 0) for g in GROUPS)))
        for first, second in (order, order[::-1]):
            plan: dict[tuple[str, str], int] = {}
            room = dict(cap)
            for pair_type in (first, second):
                avail = {g: available.get((g, pair_type), 0) for g in GROUPS}
                quota = _spread(shares, avail, room, want[pair_type])
                if quota is None:
                    break
                whole = _round_preserving(quota, want[pair_type])
                if any(whole[g] > avail[g] for g in GROUPS):
                    break
                plan.update({(g, pair_type): whole[g] for g in GROUPS})
                room = {g: room[g] - whole[g] for g in GROUPS}
            else:
                return plan
        return None

    lo, hi = 0, sum(available.values())
    while lo < hi:      # feasibility only shrinks as the total grows (every cap is fixed or proportional)
        mid = (lo + hi + 1) // 2
        if counts_for(mid, strict=False) is not None:
            lo = mid
        else:
            hi = mid - 1
    plan = None
    for total in range(lo, -1, -1):
        plan = counts_for(total, strict=True)
        if plan is not None:
            break
    plan = plan or {(g, t): 0 for g in GROUPS for t in ("extracted", "contextual")}
    total = sum(plan.values())
    want = sum(v for (_, t), v in plan.items() if t == "extracted")
    selected = {g: plan[(g, "extracted")] + plan[(g, "contextual")] for g in GROUPS}
    notes: dict[str, Any] = {
        "exported": total,
        "extracted_share": round(want / total, 4) if total else None,
        "max_factor": max_factor,
        "groups": {g: {"target_share": shares[g], "available": group_avail[g],
                       "target_among_present": round(shares[g] / weight, 4) if g in present else 0.0,
                       "selected": selected[g], "actual_share": round(selected[g] / total, 4) if total else None}
                   for g in GROUPS},
        "shifted": [f"{g}: no pairs, its {shares[g]:.0%} share went to the other groups" for g in GROUPS
                    if shares[g] > 0 and not group_avail[g]]
                   + [f"{g}: all {group_avail[g]} pairs taken, {selected[g] / total:.1%} against a target of "
                      f"{shares[g] / weight:.1%} among the groups present" for g in GROUPS
                      if shares[g] > 0 and group_avail[g] and selected[g] == group_avail[g]
                      and total and selected[g] / total < shares[g] / weight - 0.005],
    }
    if total == 0 and any(available.values()):
        kinds = sorted({t for (_, t), v in available.items() if v})
        notes["shifted"].append(f"nothing can be exported at an extracted share of {extracted_share:.0%}: only "
                                f"{', '.join(kinds)} pairs are available")
    return plan, notes


def _round_preserving(quota: dict[str, float], total: int) -> dict[str, int]:
    """Integer quotas that add up to total (largest remainders first)."""
    floors = {g: math.floor(q + 1e-9) for g, q in quota.items()}
    left = total - sum(floors.values())
    for g in sorted(quota, key=lambda g: -(quota[g] - floors[g]))[:max(0, left)]:
        floors[g] += 1
    return floors


def select(pairs: list[QAPair], plan: dict[tuple[str, str], int]) -> tuple[list[QAPair], list[Rejection]]:
    """Take each (group, type)'s count round-robin across records, best score first; reject the rest."""
    buckets: dict[tuple[str, str], list[QAPair]] = defaultdict(list)
    for p in pairs:
        buckets[(source_group(p), p.pair_type)].append(p)
    chosen: set[str] = set()
    for key, members in buckets.items():
        by_record: dict[str, list[QAPair]] = defaultdict(list)
        for p in members:
            by_record[p.record_id].append(p)
        queues = [sorted(v, key=lambda p: (-(p.score or 0.0), p.id)) for _, v in sorted(by_record.items())]
        order = [q[rank] for rank in range(max(map(len, queues), default=0)) for q in queues if rank < len(q)]
        chosen.update(p.id for p in order[:plan.get(key, 0)])
    kept = [p for p in pairs if p.id in chosen]
    rejected = [Rejection(id=p.id, stage=STAGE, reason="not_selected",
                          detail=f"the {source_group(p)} {p.pair_type} quota ({plan.get((source_group(p), p.pair_type), 0)}) "
                                 "was full: mix and extracted share", source=p.source)
                for p in pairs if p.id not in chosen]
    return kept, rejected


def curate(pairs: list[QAPair], config: SplitConfig, progress: bool = False
           ) -> tuple[list[QAPair], list[Rejection], dict[str, Any]]:
    """Dedup, then (when balance is on) select to the mix and the extracted share; see the module docstring."""
    kept, rejected = dedup(pairs, config.near_duplicate, progress)
    report: dict[str, Any] = {"pairs_in": len(pairs), "duplicates": dict(Counter(r.reason for r in rejected))}
    if not config.balance:
        report["mix"] = {"balanced": False}
        return kept, rejected, report
    available = Counter((source_group(p), p.pair_type) for p in kept)
    plan, notes = plan_mix(dict(available), config.mix, config.extracted_share, config.mix_max_factor)
    selected, left_out = select(kept, plan)
    by_id = {p.id: p for p in kept}
    report["mix"] = {"balanced": True, **notes,
                     "left_out": dict(sorted(Counter(f"{source_group(by_id[r.id])}:{by_id[r.id].pair_type}"
                                                     for r in left_out).items()))}
    return selected, rejected + left_out, report
