"""Semantic validation: keep a Q/A pair only if its answer addresses its question.

Why it exists: a training pair whose answer belongs to another question teaches the chat model to answer past
the client. The cosine similarity of all-MiniLM-L6-v2 embeddings separates answers about another subject well,
but is weak within one domain: two therapy answers about anxiety look alike to it (../shared/ENVIRONMENT.md).
So several signals are combined, each cheap once the two embeddings exist:

- **format**: question and answer lengths in words, an answer that only repeats the question;
- **cosine** of the question and answer embeddings;
- **hubness** against a bank of 64 question and 64 answer centroids (k-means of counsel-chat's train split): how
  similar the answer is to questions in general, and how many question centroids it is closer to than to its own
  question (and the same from the question's side). An answer that sits close to every question ("therapy can
  help with anxiety") scores a high cosine with any of them; these features discount that;
- **word overlap**: shared content words of question and answer, as shares of each;
- **generic answers**: similarity to content-free prototype answers ("Thank you for sharing, I hope things get
  better"; written for this project, data/validate/generic_answers.jsonl, train part only) and the share of the
  answer's sentences that are stock phrases;
- lengths of question and answer (log words).

Two logistic regressions read these features: the pair head P(the answer addresses the question), trained on
counsel-chat's train split with shuffled negatives (an answer from another topic, one from the same topic to
another question, a generic answer), and the generic head P(content-free answer). Their thresholds were
calibrated on counsel-chat's val split (empathy.data.validate_eval, which also measures the test split).

A pair is rejected, with the first reason that applies: question_too_short, answer_too_short, answer_too_long,
answer_repeats_question (format); generic_answer (the generic head is sure); and when the pair score is below the
threshold: generic_answer (the generic head leans that way), off_topic (cosine below what 99% of true val pairs
have), else low_score. Every pair keeps its score (P from the pair head); a rejection's detail has every signal.

    from empathy.data.validate import SemanticValidator, validate_pairs
    result = validate_pairs(pairs, ValidateConfig())            # the pipeline stage
    SemanticValidator.load().judge(["How do I ...?"], ["Try ..."], ValidateConfig())

    empathy data validate-pairs pairs.jsonl [--out results.jsonl]   # {id, question, answer} lines in
    empathy data train-validator       # rewrites src/empathy/data/validate_model.json (deterministic)
    empathy data evaluate-validator    # runs/data/validator/report.json + report.html
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from empathy.config import ValidateConfig
from empathy.data.schema import QAPair, Rejection
from empathy.errors import UserError

STAGE = "validate"
FORMAT_VERSION = 1
MODEL_FILE = Path(__file__).resolve().with_name("validate_model.json")
BANK_FILE = MODEL_FILE.with_name("validate_bank.npz")
# The encoder reads at most 256 tokens; tokenising a whole 1 MB line first would stall a run for nothing.
# 10,000 characters hold far more than 256 tokens of any text, so the cut never changes an embedding in practice,
# and the word features read the same prefix.
MAX_TEXT_CHARS = 10_000
HUB_K = 3                     # nearest centroids averaged for the hubness features

PAIR_FEATURES = ("cosine", "answer_hub", "question_hub", "answer_rank", "question_rank", "overlap_question",
                 "overlap_answer", "generic_similarity", "answer_words_log", "question_words_log")
GENERIC_FEATURES = ("generic_similarity", "generic_similarity_top3", "generic_phrases", "overlap_question",
                    "overlap_answer", "answer_words_log", "cosine", "answer_hub")
REASONS = ("question_too_short", "answer_too_short", "answer_too_long", "answer_repeats_question", "generic_answer",
           "off_topic", "low_score")

STOPWORDS = frozenset("""
a about above after again against all also am an and any are aren't as at be because been before being below
between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each even
every few for from further get gets getting got had hadn't has hasn't have haven't having he he'd he'll he's her
here here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself
just know let's like lot lots make many may me might more most much must mustn't my myself no nor not now of off
often on once one only or other ought our ours ourselves out over own really same say says she she'd she'll
she's should shouldn't so some something sometimes still such than that that's the their theirs them themselves
then there there's these they they'd they'll they're they've thing things think this those through to too under
until up us very want was wasn't way we we'd we'll we're we've well were weren't what what's when when's where
where's which while who who's whom why why's will with won't would wouldn't yes yet you you'd you'll you're
you've your yours yourself yourselves
""".split())
_WORD = re.compile(r"[a-z][a-z']+")
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")
# Stock phrases of content-free answers; one match marks its sentence as generic. Real answers use them too (a
# referral at the end of a specific answer), which is why the feature is a share of sentences, not a veto.
GENERIC_PHRASES = re.compile("|".join((
    r"thank(?:s| you)(?: so much)? for (?:sharing|reaching out|writing|posting|your question|asking|trusting)",
    r"\b(?:i|we) (?:really |truly )?hope (?:things|everything|this|that you|you)",
    r"\b(?:wish(?:ing)? you|all the best|good luck|take care|sending you)",
    r"\byou(?:'re| are) not alone\b",
    r"\b(?:talk|speak|reach out|go) (?:to|with) (?:a |your )?(?:professional|therapist|counsel+or|doctor|someone)",
    r"\b(?:licensed|mental health|qualified) (?:professional|therapist|counsel+or)",
    r"\b(?:find|see|seek out|book|schedule|contact)(?: out)? (?:a |an |with a )?(?:therapist|counsel+or|professional|"
    r"session|appointment|me)\b",
    r"\bone (?:day|step) at a time\b",
    r"\b(?:this too shall pass|everything happens for a reason|stay (?:positive|strong|hopeful)|keep your (?:head|chin) up|"
    r"hang in there|you(?:'ve| have) got this)",
    r"\b(?:be (?:kind|gentle|patient) (?:to|with) yourself|go easy on yourself|give yourself)",
    r"\b(?:it|this) (?:really )?(?:depends|varies) (?:on|from)",
    r"\bthere (?:is|isn't|is no) (?:no )?(?:right or wrong|single|one|easy) answer",
    r"\b(?:your feelings are|what you(?:'re| are) feeling is) (?:completely )?(?:valid|understandable|normal)",
    r"\b(?:great|good|tough) question\b",
    r"\bthings (?:will|can|have a way of) (?:get|getting|improve|work)",
)), re.I)


def clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS]


def _stem(word: str) -> str:
    """A crude suffix strip, so that "worried", "worries" and "worrying" meet, and "sleeping" meets "sleep"."""
    for suffix in ("ings", "ing", "ied", "ies", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[:-len(suffix)]
            break
    return word[:-1] if word.endswith(("y", "i")) and len(word) > 4 else word


def content_words(text: str) -> set[str]:
    """Lower-cased, stemmed words of three letters or more that are not stop words."""
    return {_stem(w.strip("'")) for w in _WORD.findall(clip(text).lower().replace("\u2019", "'"))
            if w not in STOPWORDS and len(w.strip("'")) >= 3}


def sentences(text: str) -> list[str]:
    found = [s.strip() for s in _SENTENCE.findall(clip(text)) if s.strip()]
    return found or [text]


def generic_phrase_share(text: str) -> float:
    """The share of the answer's sentences that hold a stock phrase of content-free answers."""
    sents = sentences(text)
    return sum(1 for s in sents if GENERIC_PHRASES.search(s)) / len(sents)


def normalised(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def format_problem(question: str, answer: str, config: ValidateConfig) -> str | None:
    """The first format reason code that applies, or None."""
    q_words, a_words = len(question.split()), len(answer.split())
    if q_words < config.min_question_words:
        return "question_too_short"
    if a_words < config.min_answer_words:
        return "answer_too_short"
    if a_words > config.max_answer_words:
        return "answer_too_long"
    if normalised(answer) == normalised(question):
        return "answer_repeats_question"
    return None


# ---------------------------------------------------------------------------------------------------------------
# Features

@dataclass
class Bank:
    """Centroids of train questions and answers (unit vectors) and the generic prototype embeddings."""

    question_centroids: np.ndarray
    answer_centroids: np.ndarray
    generic: np.ndarray


def features(questions: list[str], answers: list[str], Q: np.ndarray, A: np.ndarray, bank: Bank,
             skip_self_generic: bool = False) -> dict[str, np.ndarray]:
    """Every feature of PAIR_FEATURES and GENERIC_FEATURES for each pair, from the texts and their (normalised) embeddings.

    skip_self_generic: leave a prototype out of its own generic similarity (training on the prototypes).
    """
    n = len(questions)
    cos = np.einsum("ij,ij->i", Q, A).astype(np.float64)
    SA = A @ bank.question_centroids.T
    SQ = Q @ bank.answer_centroids.T
    G = A @ bank.generic.T
    if skip_self_generic:
        G = np.where(G > 0.9999, -1.0, G)
    G_sorted = np.sort(G, axis=1)
    ov_q, ov_a = np.zeros(n), np.zeros(n)
    for i, (q, a) in enumerate(zip(questions, answers)):
        wq, wa = content_words(q), content_words(a)
        shared = len(wq & wa)
        ov_q[i] = shared / len(wq) if wq else 0.0
        ov_a[i] = shared / len(wa) if wa else 0.0
    return {
        "cosine": cos,
        "answer_hub": np.sort(SA, axis=1)[:, -HUB_K:].mean(axis=1),
        "question_hub": np.sort(SQ, axis=1)[:, -HUB_K:].mean(axis=1),
        "answer_rank": np.log1p((SA > cos[:, None]).sum(axis=1)),
        "question_rank": np.log1p((SQ > cos[:, None]).sum(axis=1)),
        "overlap_question": ov_q,
        "overlap_answer": ov_a,
        "generic_similarity": G_sorted[:, -1],
        "generic_similarity_top3": G_sorted[:, -3:].mean(axis=1),
        "generic_phrases": np.array([generic_phrase_share(a) for a in answers]),
        "answer_words_log": np.log1p([len(clip(a).split()) for a in answers]),
        "question_words_log": np.log1p([len(clip(q).split()) for q in questions]),
    }


def matrix(cols: dict[str, np.ndarray], names: tuple[str, ...] | list[str]) -> np.ndarray:
    return np.stack([cols[c] for c in names], axis=1) if cols["cosine"].size else np.zeros((0, len(names)))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


# ---------------------------------------------------------------------------------------------------------------
# The model

@dataclass
class Verdict:
    score: float
    cosine: float
    generic: float
    accepted: bool
    reason: str | None
    detail: str


class SemanticValidator:
    """The two heads, their thresholds and the bank, loaded from validate_model.json (+ validate_bank.npz)."""

    def __init__(self, model: dict[str, Any], path: str | Path | None = None):
        from empathy.embeddings import MODEL_NAME

        where = f"validator model {path or '(in memory)'}"
        if model.get("format_version") != FORMAT_VERSION:
            raise UserError(f"{where}: format_version {model.get('format_version')!r}, expected {FORMAT_VERSION}; "
                            "retrain with `empathy data train-validator`")
        if model.get("embedding_model") != MODEL_NAME:
            raise UserError(f"{where}: made for embeddings of {model.get('embedding_model')!r}, this build uses "
                            f"{MODEL_NAME!r}; retrain with `empathy data train-validator`")
        for head, names in (("pair", PAIR_FEATURES), ("generic", GENERIC_FEATURES)):
            got = (model.get("heads") or {}).get(head, {}).get("features")
            if got != list(names):
                raise UserError(f"{where}: the {head} head reads features {got}, this version computes "
                                f"{list(names)}; retrain with `empathy data train-validator`")
        self.model = model
        self.path = str(path) if path else None
        self.heads = {k: (np.asarray(v["mean"]), np.asarray(v["scale"]), np.asarray(v["coef"]), float(v["intercept"]))
                      for k, v in model["heads"].items()}
        self.thresholds: dict[str, float] = dict(model["thresholds"])
        bank_path = Path(path).with_name(model["bank"]["file"]) if path else BANK_FILE
        self._bank_arrays = _load_bank(bank_path, model["bank"]["sha256"])
        self._bank: Bank | None = None

    @classmethod
    def load(cls, path: str | Path | None = None) -> "SemanticValidator":
        p = Path(path) if path else MODEL_FILE
        if not p.is_file():
            raise UserError(f"validator model {p}: file not found (train it with `empathy data train-validator`)")
        try:
            model = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise UserError(f"validator model {p}, line {exc.lineno}: malformed JSON ({exc.msg})") from None
        if not isinstance(model, dict):
            raise UserError(f"validator model {p}: expected a JSON object")
        return cls(model, p)

    def bank(self, batch_size: int = 32) -> Bank:
        """The centroids, and the generic prototypes embedded by this build's encoder (70 short texts, once)."""
        if self._bank is None:
            from empathy.embeddings import encode

            qc, ac = self._bank_arrays
            self._bank = Bank(qc, ac, encode(self.model["generic_prototypes"], batch_size))
        return self._bank

    def head(self, name: str, cols: dict[str, np.ndarray]) -> np.ndarray:
        mean, scale, coef, intercept = self.heads[name]
        names = PAIR_FEATURES if name == "pair" else GENERIC_FEATURES
        return _sigmoid(((matrix(cols, names) - mean) / scale) @ coef + intercept)

    def signals(self, questions: list[str], answers: list[str], batch_size: int = 32, progress: bool = False
                ) -> dict[str, np.ndarray]:
        """Features plus the two head probabilities (`score`, `generic`) for each pair."""
        from empathy.embeddings import encode

        qs, ans = [clip(q) for q in questions], [clip(a) for a in answers]
        # one encoder call for both sides: a text that is both a question and an answer is encoded once
        vectors = encode(qs + ans, batch_size, progress)
        cols = features(qs, ans, vectors[:len(qs)], vectors[len(qs):], self.bank(batch_size))
        cols["score"] = self.head("pair", cols)
        cols["generic"] = self.head("generic", cols)
        return cols

    def judge(self, questions: list[str], answers: list[str], config: ValidateConfig, batch_size: int | None = None,
              progress: bool = False) -> list[Verdict]:
        """One verdict per pair: accepted or the first reason code that applies, with the score kept."""
        if len(questions) != len(answers):
            raise ValueError("judge needs as many answers as questions")
        if not questions:
            return []
        return self.decide(questions, answers, self.signals(questions, answers, batch_size or config.batch_size,
                                                            progress), config)

    def decide(self, questions: list[str], answers: list[str], cols: dict[str, np.ndarray], config: ValidateConfig
               ) -> list[Verdict]:
        """The verdicts from signals already computed (`signals`), under the config's format limits and threshold."""
        th = dict(self.thresholds)
        if config.threshold is not None:
            th["accept"] = config.threshold
        out = []
        for i, (q, a) in enumerate(zip(questions, answers)):
            s, c, g = float(cols["score"][i]), float(cols["cosine"][i]), float(cols["generic"][i])
            reason = format_problem(q, a, config)
            if reason is None and g >= th["generic_sure"]:
                reason = "generic_answer"
            if reason is None and s < th["accept"]:
                reason = ("generic_answer" if g >= th["generic_lean"] else
                          "off_topic" if c < th["off_topic_cosine"] else "low_score")
            detail = (f"score={s:.3f} threshold={th['accept']:.3f} cosine={c:.3f} generic={g:.3f} "
                      f"words={len(q.split())}/{len(a.split())}")
            out.append(Verdict(score=round(s, 4), cosine=round(c, 4), generic=round(g, 4), accepted=reason is None,
                               reason=reason, detail=detail))
        return out


def _load_bank(path: Path, sha256: str) -> tuple[np.ndarray, np.ndarray]:
    from empathy.io import sha256_file

    if not path.is_file():
        raise UserError(f"validator bank {path}: file not found (retrain with `empathy data train-validator`)")
    if sha256_file(path) != sha256:
        raise UserError(f"validator bank {path}: does not match its model file (retrain, or restore both files)")
    with np.load(path) as z:
        return z["question_centroids"].astype(np.float32), z["answer_centroids"].astype(np.float32)


def load_validator(config: ValidateConfig) -> SemanticValidator:
    return SemanticValidator.load(config.model)


# ---------------------------------------------------------------------------------------------------------------
# The pipeline stage

@dataclass
class ValidateResult:
    accepted: list[QAPair]
    rejected: list[Rejection]
    pairs_in: int

    @property
    def counts(self) -> dict[str, int]:
        return {"pairs_in": self.pairs_in, "accepted": len(self.accepted), "rejected": len(self.rejected)}


def validate_pairs(pairs: list[QAPair], config: ValidateConfig, progress: bool = False,
                   validator: SemanticValidator | None = None) -> ValidateResult:
    """Accepted pairs carry their score; every other pair becomes a Rejection with its reason code and signals."""
    verdicts = (validator or load_validator(config)).judge(
        [p.question for p in pairs], [p.answer for p in pairs], config, progress=progress) if pairs else []
    accepted: list[QAPair] = []
    rejected: list[Rejection] = []
    for pair, v in zip(pairs, verdicts):
        if v.accepted:
            accepted.append(pair.model_copy(update={"score": v.score}))
        else:
            rejected.append(Rejection(id=pair.id, stage=STAGE, reason=v.reason, detail=v.detail, source=pair.source))
    return ValidateResult(accepted=accepted, rejected=rejected, pairs_in=len(pairs))


# ---------------------------------------------------------------------------------------------------------------
# JSONL in, one verdict a line out (the CLI)

def validate_jsonl(path: str | Path, config: ValidateConfig, validator: SemanticValidator | None = None,
                   batch_size: int = 64) -> Iterator[dict[str, Any]]:
    """One output object per input line, in order: {id, score, accepted, reason}, or for a line that cannot be
    read {id, line, error, score: null, accepted: false, reason: "invalid_input"}. A pair without an id gets its
    `line`; a line that is not UTF-8 is decoded with replacement characters, judged, and carries a `warning`."""
    from empathy.io import answer_lines, require_file

    p = require_file(path, "input file")
    loaded = validator

    def judge(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal loaded
        loaded = loaded or load_validator(config)
        verdicts = loaded.judge([t["question"] for t in items], [t["answer"] for t in items], config, batch_size)
        return [{"score": v.score, "accepted": v.accepted, "reason": v.reason} for v in verdicts]

    yield from answer_lines(p, ("question", "answer"), judge, batch_size,
                            {"score": None, "accepted": False, "reason": "invalid_input"})


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    reasons: dict[str, int] = {}
    for r in results:
        if not r["accepted"]:
            reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    return {"lines": len(results), "errors": sum(1 for r in results if "error" in r),
            "accepted": sum(1 for r in results if r["accepted"]), "rejected": dict(sorted(reasons.items()))}

