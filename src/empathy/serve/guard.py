"""The safety guard every serving route goes through, framework-neutral.

Why: a therapeutic chat model must never see smuggled chat-template tokens, must never free-generate an answer to
someone disclosing a crisis, and must never send a reply that gives method details, prescribes, leaks a contact,
or stereotypes a group. The KServe predictor and the OpenAI-compatible routes call `Guard.respond` and return its
`safety` object with every chat completion; nothing here knows about HTTP except the status on `GuardError`.

    guard = Guard()                                   # detectors load lazily, once, on first use
    out = guard.respond(messages, generate=lambda msgs: gen.reply(msgs)["content"])
    out.text, out.safety                              # {"risk_level": "none", "action": "none"}
    # bad input raises GuardError(status, code, message), e.g. 422 invalid_messages "messages[2].content: ..."

Order of checks (`respond`):

1. `check_input` -- schema (a non-empty list of {"role": system|user|assistant, "content": str}, last one from the
   user; keys other than role/content/name are ignored and dropped so OpenAI clients' extras do no harm), encoding
   (bytes must be UTF-8: 415; lone surrogates: 400), Unicode NFC, control and invisible format characters removed
   (\\n and \\t kept), size limits (413), then prompt-injection markers: chat-template tokens (<|im_start|> ...) and
   role tags at a line start ("### system:", "assistant:") are neutralised in every turn, so they never reach the
   tokenizer as structure; instruction-override phrases ("ignore previous instructions", "you are now DAN") in user
   turns are recorded (injection_action="flag", the default: the text stays, it is only words inside a user turn
   once the tokens are gone) or refused with 400 prompt_injection (injection_action="reject").
2. Crisis detection: one RiskDetector.assess_many call over the latest user turn and the recent user turns joined
   (RECENT_USER_TURNS), so "I have pills saved for tonight" followed by "ok" still counts. A level in
   `crisis_levels` (default high and imminent, the risk module's REVIEW_LEVELS: moderate covers distress and
   passive ideation that a careful reply handles) means a crisis.
3. Crisis: `crisis_reply` (output_filter.CRISIS_REPLY plus emergency numbers and resources for the detected
   categories) is returned and `generate` is never called. Otherwise `generate(sanitised messages)`.
4. `check_output`: output_filter rules and the detector on the reply (one detector call), then the bias analyzer
   (one batch call); a blocked or biased reply is replaced.

Actions in the safety object:

    none              the model's reply was sent unchanged
    crisis_response   the input was a crisis: the fixed crisis response was sent and the model was not called
    filtered          the model's reply was unsafe or biased and a safe replacement was sent (with crisis resources
                      when the user's input carried moderate or higher risk)

Logs carry only content hashes, levels, actions and reason codes, never the text.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable

from empathy.safety import output_filter
from empathy.safety.risk import LEVEL_INDEX, REVIEW_LEVELS, RISK_LEVELS

log = logging.getLogger(__name__)

ROLES = ("system", "user", "assistant")
ALLOWED_KEYS = ("role", "content", "name")
ACTIONS = ("none", "crisis_response", "filtered")
# How many user turns, counted back from the latest, are joined for the conversation-level risk check: enough that
# a disclosure followed by "ok" or "I don't know" still counts, few enough that an old, resolved topic fades.
RECENT_USER_TURNS = 3


@dataclass
class GuardConfig:
    max_messages: int = 50
    max_message_chars: int = 8000
    max_total_chars: int = 32000
    crisis_levels: tuple[str, ...] = REVIEW_LEVELS
    bias_check: bool = True
    bias_threshold: float = 0.5
    bias_service_url: str | None = None
    injection_action: str = "flag"  # "flag" | "reject"

    def __post_init__(self) -> None:
        bad = [lv for lv in self.crisis_levels if lv not in RISK_LEVELS]
        if bad or not self.crisis_levels:
            raise ValueError(f"crisis_levels: {bad or '(empty)'} not among {RISK_LEVELS}")
        if self.injection_action not in ("flag", "reject"):
            raise ValueError(f"injection_action: {self.injection_action!r}, expected 'flag' or 'reject'")
        if not 0.0 < self.bias_threshold <= 1.0:
            raise ValueError(f"bias_threshold: {self.bias_threshold}, expected in (0, 1]")


class GuardError(Exception):
    """Bad input, with the HTTP status and a stable code the routes answer with."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}


@dataclass
class InputDecision:
    messages: list[dict[str, str]]
    risk_level: str
    categories: list[str]
    crisis: bool
    injection: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class OutputDecision:
    text: str
    action: str  # none | filtered
    reasons: list[str] = field(default_factory=list)
    bias: dict[str, Any] | None = None


@dataclass
class GuardedReply:
    text: str
    safety: dict[str, Any]
    input: InputDecision
    output: OutputDecision | None  # None for a crisis response: nothing was generated

    def audit_record(self) -> dict[str, Any]:
        """What the audit log and plain logs may keep: hashes, levels, codes; never the text."""
        return {
            "input_sha256": _hash(self.input.messages[-1]["content"]),
            "reply_sha256": _hash(self.text),
            "risk_level": self.input.risk_level,
            "categories": list(self.input.categories),
            "action": self.safety["action"],
            "flagged": self.safety["action"] != "none" or bool(self.input.injection),
            "injection": [i.rsplit(": ", 1)[1] for i in self.input.injection],
            "reasons": [r.split(":", 1)[0] for r in (self.output.reasons if self.output else [])],
        }


# -- sanitising -------------------------------------------------------------------------------------------------

# Cc (controls) and Cf (invisible format characters: zero-width spaces, bidi overrides, BOM) can hide markers
# ("ig\u200bnore") or confuse the tokenizer; \n and \t carry meaning, and the zero-width joiner builds emoji.
_KEEP = {"\n", "\t", "\u200d"}


def _strip_controls(text: str) -> tuple[str, int]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = [c for c in text if c in _KEEP or unicodedata.category(c) not in ("Cc", "Cf")]
    return "".join(kept), len(text) - len(kept)


# Special tokens of the ChatML template (empathy.train.tokenizer) and of other common templates: any "<|...|>"
# and Llama-style [INST] / <<SYS>> / <s> markers.
TEMPLATE_TOKEN = re.compile(r"<\|[^|<>\n]{0,40}\|>|\[/?INST\]|<</?SYS>>|</?s>", re.I)
# A role tag opening a line: "### system:", "assistant:", "[system]", "<system>" -- a fake turn inside one turn.
ROLE_TAG = re.compile(r"^[ \t>#*_-]*(?:\[\s*(?:system|assistant|user|developer)\s*\]|"
                              r"<\s*(?:system|assistant|user|developer)\s*>|"
                              r"(?:#+[ \t]*)?(?:system|assistant|user|developer)[ \t]*:)", re.I | re.M)
OVERRIDE_PHRASES = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,20}\b(?:previous|prior|above|earlier|all|your|the)\b.{0,20}"
    r"\b(?:instructions?|rules|prompts?|guidelines|directions)\b"
    r"|\byou are now (?:dan|in developer mode|jailbroken|unfiltered|an? unrestricted)\b"
    r"|\b(?:do anything now|developer mode (?:enabled|on)|jailbreak mode)\b"
    r"|\b(?:reveal|print|show|repeat) (?:me )?(?:your|the) (?:system prompt|hidden instructions|instructions)\b"
    r"|\bnew (?:system )?instructions?:"
    r"|\bpretend (?:you have|there are) no (?:rules|restrictions|guidelines)\b",
    re.I | re.S)


def _neutralise(text: str) -> tuple[str, list[str]]:
    found = []
    if TEMPLATE_TOKEN.search(text):
        found.append("template_token")
        # A space breaks the token so the tokenizer cannot read it as a special token; the text stays readable.
        text = TEMPLATE_TOKEN.sub(lambda m: m.group(0)[0] + " " + m.group(0)[1:], text)
        text = text.replace("<|", "< |").replace("|>", "| >")
    if ROLE_TAG.search(text):
        found.append("role_tag")
        text = ROLE_TAG.sub(lambda m: m.group(0).replace(":", " -").replace("[", "(").replace("]", ")")
                                    .replace("<", "(").replace(">", ")").replace("#", ""), text)
    return text, found


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _field(i: int, key: str | None = None) -> str:
    return f"messages[{i}]" + (f".{key}" if key else "")


# -- crisis reply -----------------------------------------------------------------------------------------------

EMERGENCY = ("If you or anyone else is in immediate danger, call emergency services now: 911 in the US, 999 in the "
             "UK, 112 in Ireland and across Europe.")
# Extra resources by risk category. Every number here is in output_filter.CRISIS_NUMBERS, so the crisis reply
# passes the output filter's contact_info rule.
CATEGORY_RESOURCES: dict[str, str] = {
    "child_abuse": ("If a child is being hurt or is at risk, their safety comes first: you can call Childhelp on "
                    "1-800-422-4453 (US) or Childline on 0800 1111 (UK), or contact child protection services or "
                    "the police."),
    "domestic_violence": ("If someone at home is hurting or threatening you, you can call the National Domestic "
                          "Violence Hotline on 1-800-799-7233 (US) or the National Domestic Abuse Helpline on "
                          "0808 2000 247 (UK); they can help you plan how to stay safe."),
    "elder_abuse": ("If an older person is being harmed or neglected, adult protective services (US) or the local "
                    "council's safeguarding team (UK) can step in."),
    "homicidal_ideation": ("If you are thinking about hurting someone else, please step away from them and from "
                           "anything you could use, and call emergency services or a crisis line now."),
    "substance_crisis": ("If you have taken too much of something, or feel very unwell, call emergency services "
                         "now; the SAMHSA helpline on 1-800-662-4357 (US) is there any time."),
    "eating_disorder_medical": ("Fainting, chest pain or a racing heart need urgent medical help: please call "
                                "emergency services or go to the nearest emergency department."),
    "psychosis": ("If you are hearing or seeing things that frighten you, or telling you to do something harmful, "
                  "please contact an urgent mental health service or an emergency department today."),
}


def crisis_text(categories: list[str]) -> str:
    parts = [output_filter.CRISIS_REPLY, EMERGENCY]
    parts += [CATEGORY_RESOURCES[c] for c in categories if c in CATEGORY_RESOURCES]
    return " ".join(parts)


# -- the guard --------------------------------------------------------------------------------------------------

class Guard:
    def __init__(self, config: GuardConfig | None = None, detector: Any = None, bias: Any = None):
        self.config = config or GuardConfig()
        self._detector = detector
        self._bias = bias
        self._lock = threading.Lock()

    @property
    def detector(self):
        if self._detector is None:
            with self._lock:  # loading takes seconds; concurrent first requests must not load it twice
                if self._detector is None:
                    from empathy.safety.risk import RiskDetector
                    self._detector = RiskDetector.load()
        return self._detector

    @property
    def bias(self):
        if self._bias is None and self.config.bias_check:
            with self._lock:
                if self._bias is None:
                    from empathy.evaluate.bias import make_bias_analyzer
                    self._bias = make_bias_analyzer(self.config.bias_service_url)
        return self._bias if self.config.bias_check else None

    # -- input --------------------------------------------------------------------------------------------------
    def _content(self, i: int, raw: object) -> tuple[str, int]:
        cfg = self.config
        if isinstance(raw, (bytes, bytearray)):
            try:
                raw = bytes(raw).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise GuardError(415, "bad_encoding", f"{_field(i, 'content')}: not valid UTF-8 "
                                 f"(byte {exc.start})") from None
        if not isinstance(raw, str):
            raise GuardError(422, "invalid_messages",
                             f"{_field(i, 'content')}: must be a string, got {type(raw).__name__}")
        # a cheap bound before normalising, so a huge body costs nothing
        if len(raw) > 2 * cfg.max_message_chars:
            raise GuardError(413, "too_large", f"{_field(i, 'content')}: {len(raw)} characters, at most "
                             f"{cfg.max_message_chars}")
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise GuardError(400, "bad_encoding", f"{_field(i, 'content')}: invalid character at {exc.start} "
                             "(a lone surrogate)") from None
        text, removed = _strip_controls(unicodedata.normalize("NFC", raw))
        if len(text) > cfg.max_message_chars:
            raise GuardError(413, "too_large", f"{_field(i, 'content')}: {len(text)} characters, at most "
                             f"{cfg.max_message_chars}")
        return text, removed

    def sanitise(self, messages: object) -> tuple[list[dict[str, str]], list[str], list[str]]:
        """(sanitised messages, injection markers found, notes); GuardError for bad input. No detector runs."""
        cfg = self.config
        if not isinstance(messages, list):
            raise GuardError(422, "invalid_messages", f"messages: must be a list, got {type(messages).__name__}")
        if not messages:
            raise GuardError(422, "invalid_messages", "messages: must not be empty")
        if len(messages) > cfg.max_messages:
            raise GuardError(413, "too_large", f"messages: {len(messages)} messages, at most {cfg.max_messages}")
        out: list[dict[str, str]] = []
        injection: list[str] = []
        notes: list[str] = []
        total = 0
        for i, m in enumerate(messages):
            if not isinstance(m, dict):
                raise GuardError(422, "invalid_messages", f"{_field(i)}: must be an object with role and content")
            role = m.get("role")
            if role not in ROLES:
                raise GuardError(422, "invalid_messages", f"{_field(i, 'role')}: {role!r}, expected one of {ROLES}")
            if "content" not in m:
                raise GuardError(422, "invalid_messages", f"{_field(i, 'content')}: missing")
            extra = sorted(str(k) for k in m if k not in ALLOWED_KEYS)
            if extra:
                notes.append(f"{_field(i)}: ignored keys {extra}")
            text, removed = self._content(i, m["content"])
            if removed:
                notes.append(f"{_field(i, 'content')}: removed {removed} control characters")
            text, found = _neutralise(text)
            if role == "user" and OVERRIDE_PHRASES.search(text):
                found.append("override_phrase")
            for f in found:
                injection.append(f"{_field(i, 'content')}: {f}")
            total += len(text)
            out.append({"role": role, "content": text})
        if total > cfg.max_total_chars:
            raise GuardError(413, "too_large", f"messages: {total} characters in all, at most {cfg.max_total_chars}")
        if out[-1]["role"] != "user":
            raise GuardError(422, "invalid_messages", f"{_field(len(out) - 1, 'role')}: the last message must come "
                             f"from the user, got {out[-1]['role']!r}")
        if not out[-1]["content"].strip():
            raise GuardError(422, "invalid_messages", f"{_field(len(out) - 1, 'content')}: empty after sanitising")
        if injection and cfg.injection_action == "reject":
            log.warning("guard: rejected prompt injection markers=%s last=%s", [s.rsplit(': ', 1)[1] for s in injection],
                        _hash(out[-1]["content"]))
            raise GuardError(400, "prompt_injection", f"{injection[0]}: prompt-injection marker; rephrase the message")
        return out, injection, notes

    def check_input(self, messages: object) -> InputDecision:
        clean, injection, notes = self.sanitise(messages)
        users = [m["content"] for m in clean if m["role"] == "user"]
        texts = [users[-1]]
        if len(users) > 1:
            texts.append("\n".join(users[-RECENT_USER_TURNS:]))
        assessed = self.detector.assess_many(texts)  # one batched call for the turn and the conversation
        worst = max(assessed, key=lambda a: LEVEL_INDEX[a.risk_level])
        cats = sorted({c for a in assessed if a.risk_level == worst.risk_level for c in a.categories})
        if len(assessed) > 1 and LEVEL_INDEX[assessed[1].risk_level] > LEVEL_INDEX[assessed[0].risk_level]:
            notes.append(f"risk from recent turns: {assessed[1].risk_level} (latest turn {assessed[0].risk_level})")
        crisis = worst.risk_level in self.config.crisis_levels
        decision = InputDecision(clean, worst.risk_level, cats, crisis, injection, notes)
        log.info("guard input last=%s turns=%d risk=%s crisis=%s injection=%d", _hash(users[-1]), len(clean),
                 worst.risk_level, crisis, len(injection))
        return decision

    def crisis_reply(self, decision: InputDecision) -> str:
        return crisis_text(decision.categories)

    # -- output -------------------------------------------------------------------------------------------------
    def check_output(self, reply: str, decision: InputDecision) -> OutputDecision:
        if not isinstance(reply, str):
            raise TypeError(f"check_output: reply is {type(reply).__name__}, expected str")
        # The user's risk is already known from check_input, so the filter runs the detector on the reply only.
        result = output_filter.filter_many([reply], None, self.detector)[0]
        reasons = list(result.reasons)
        bias_info = None
        analyzer = self.bias
        if analyzer is not None and reply.strip():
            b = analyzer.analyze_batch([reply])[0]
            bias_info = {"overall": b.overall, "by_type": dict(b.by_type)}
            if b.overall >= self.config.bias_threshold:
                top = max(b.by_type, key=b.by_type.get) if b.by_type else "unknown"
                reasons.append(f"bias: overall {b.overall:.2f} ({top})")
        if not reasons:
            return OutputDecision(reply, "none", [], bias_info)
        risky = LEVEL_INDEX[decision.risk_level] >= LEVEL_INDEX["moderate"]
        text = crisis_text(decision.categories) if risky else output_filter.SAFE_REPLY
        log.warning("guard filtered reply=%s reasons=%s", _hash(reply), [r.split(":", 1)[0] for r in reasons])
        return OutputDecision(text, "filtered", reasons, bias_info)

    # -- both ---------------------------------------------------------------------------------------------------
    @staticmethod
    def safety_object(decision: InputDecision, output: OutputDecision | None = None,
                      details: bool = False) -> dict[str, Any]:
        """{"risk_level", "action"}; with details, also "categories" and "reasons"."""
        if decision.crisis:
            action = "crisis_response"
        else:
            action = output.action if output is not None else "none"
        obj: dict[str, Any] = {"risk_level": decision.risk_level, "action": action}
        if details:
            obj["categories"] = list(decision.categories)
            obj["reasons"] = [r.split(":", 1)[0] for r in (output.reasons if output else [])]
        return obj

    def respond(self, messages: object, generate: Callable[[list[dict[str, str]]], str]) -> GuardedReply:
        decision = self.check_input(messages)
        if decision.crisis:
            log.warning("guard crisis_response last=%s risk=%s categories=%s",
                        _hash(decision.messages[-1]["content"]), decision.risk_level, decision.categories)
            return GuardedReply(self.crisis_reply(decision), self.safety_object(decision), decision, None)
        output = self.check_output(generate([dict(m) for m in decision.messages]), decision)
        return GuardedReply(output.text, self.safety_object(decision, output), decision, output)
