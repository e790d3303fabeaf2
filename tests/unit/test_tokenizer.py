"""empathy.train.tokenizer: the corpus-trained BPE tokenizer and the ChatML encoding.

Covers train_tokenizer on a few hundred short lines (special tokens, byte-level
round trip), encode_chat (ids match the chat template, labels are
IGNORE_INDEX everywhere except assistant replies and their end token),
truncation with max_len (oldest context first, system prompt and last exchange
kept), add_generation_prompt, and the ChatML chat_template.
"""

from __future__ import annotations

import random

import pytest

from empathy.train.tokenizer import (
    EOS, IGNORE_INDEX, IM_END, IM_START, PAD, SPECIAL_TOKENS, chat_texts, encode_chat, train_tokenizer,
)

WORDS = ("i feel anxious about work and sleep what can help me the therapist said try breathing slowly each "
         "night worry stress small steps kind gentle notice your thoughts it sounds hard").split()


@pytest.fixture(scope="module")
def tok():
    rng = random.Random(0)
    lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 15))) for _ in range(300)]
    return train_tokenizer(lines, vocab_size=500, min_frequency=2)


def _chat(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"role": r, "content": c} for r, c in pairs]


SYSTEM = ("system", "Be kind and gentle.")
CONVO = _chat(
    SYSTEM,
    ("user", "i feel anxious about work, what can help me?"),
    ("assistant", "it sounds hard. try breathing slowly each night."),
    ("user", "what about sleep?"),
    ("assistant", "notice your thoughts, then try small steps."),
)


def _labelled_spans(labels: list[int]) -> list[list[int]]:
    spans, current = [], []
    for label in labels:
        if label == IGNORE_INDEX:
            if current:
                spans.append(current)
                current = []
        else:
            current.append(label)
    if current:
        spans.append(current)
    return spans


# --- train_tokenizer ------------------------------------------------------------------------


def test_special_tokens_and_settings(tok) -> None:
    for token in SPECIAL_TOKENS:
        ids = tok.encode(token, add_special_tokens=False)
        assert len(ids) == 1, token
        assert tok.convert_ids_to_tokens(ids[0]) == token
    assert tok.pad_token == PAD
    assert tok.eos_token == IM_END
    assert tok.bos_token is None
    assert EOS in tok.all_special_tokens and IM_START in tok.all_special_tokens
    assert 300 < len(tok) <= 500
    assert tok.convert_tokens_to_ids(PAD) == 0  # first special token: padding id 0


def test_byte_level_round_trip(tok) -> None:
    for text in ("i feel anxious about work", "Unseen words: Zürich, naïve, 🙂!", "  two  spaces\nnewline"):
        ids = tok.encode(text, add_special_tokens=False)
        assert tok.decode(ids) == text
    # add_special_tokens adds nothing (no BOS/EOS post-processing)
    assert tok.encode("i feel", add_special_tokens=True) == tok.encode("i feel", add_special_tokens=False)


def test_training_is_deterministic() -> None:
    lines = [" ".join(WORDS[i:i + 6]) for i in range(len(WORDS) - 6)] * 10
    a = train_tokenizer(lines, vocab_size=400)
    b = train_tokenizer(lines, vocab_size=400)
    assert a.get_vocab() == b.get_vocab()


def test_chat_texts_yields_every_message() -> None:
    examples = [{"messages": CONVO}, {"messages": CONVO[:2]}]
    assert list(chat_texts(examples)) == [m["content"] for m in CONVO] + [m["content"] for m in CONVO[:2]]


# --- chat template --------------------------------------------------------------------------


def test_chat_template_renders_chatml(tok) -> None:
    msgs = CONVO[:3]
    rendered = tok.apply_chat_template(msgs, tokenize=False)
    assert rendered == "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in msgs)
    with_prompt = tok.apply_chat_template(msgs[:2], tokenize=False, add_generation_prompt=True)
    assert with_prompt.endswith("<|im_end|>\n<|im_start|>assistant\n")


# --- encode_chat ----------------------------------------------------------------------------


def test_ids_match_the_chat_template(tok) -> None:
    ids, labels = encode_chat(tok, CONVO)
    assert len(ids) == len(labels)
    assert tok.decode(ids) == tok.apply_chat_template(CONVO, tokenize=False)
    ids_p, labels_p = encode_chat(tok, CONVO[:4], add_generation_prompt=True)
    assert tok.decode(ids_p) == tok.apply_chat_template(CONVO[:4], tokenize=False, add_generation_prompt=True)
    assert all(label == IGNORE_INDEX for label in labels_p[-3:])


def test_labels_cover_assistant_content_and_end_token(tok) -> None:
    ids, labels = encode_chat(tok, CONVO)
    spans = _labelled_spans(labels)
    assistants = [m["content"] for m in CONVO if m["role"] == "assistant"]
    assert len(spans) == len(assistants)
    im_end = tok.convert_tokens_to_ids(IM_END)
    for span, content in zip(spans, assistants):
        text = tok.decode(span)
        assert text.startswith(content + IM_END), text
        assert im_end in span
    # labels equal ids wherever they are set
    for i, label in enumerate(labels):
        assert label in (IGNORE_INDEX, ids[i])
    # nothing of the system prompt, the user turns or the headers is labelled
    labelled_text = "".join(tok.decode(s) for s in spans)
    for m in CONVO:
        if m["role"] != "assistant":
            assert m["content"] not in labelled_text
    assert IM_START not in labelled_text and "assistant\n" not in labelled_text


def test_labels_are_exactly_content_plus_end_token(tok) -> None:
    _, labels = encode_chat(tok, CONVO)
    spans = _labelled_spans(labels)
    assistants = [m["content"] for m in CONVO if m["role"] == "assistant"]
    assert [tok.decode(s) for s in spans] == [c + IM_END for c in assistants]


def test_no_assistant_means_no_labels(tok) -> None:
    _, labels = encode_chat(tok, CONVO[:2])
    assert set(labels) == {IGNORE_INDEX}


def test_add_generation_prompt_ends_with_assistant_header(tok) -> None:
    ids, labels = encode_chat(tok, CONVO[:4], add_generation_prompt=True)
    header = tok.encode(f"{IM_START}assistant\n", add_special_tokens=False)
    assert ids[-len(header):] == header
    assert tok.decode(ids).endswith("<|im_start|>assistant\n")
    without, _ = encode_chat(tok, CONVO[:4])
    assert ids == without + header


# --- truncation -----------------------------------------------------------------------------


def _lengths(tok, msgs) -> int:
    return len(encode_chat(tok, msgs)[0])


def test_no_truncation_when_it_fits(tok) -> None:
    full = encode_chat(tok, CONVO)
    assert encode_chat(tok, CONVO, max_len=len(full[0])) == full
    assert encode_chat(tok, CONVO, max_len=10_000) == full


def test_truncation_drops_oldest_context_first(tok) -> None:
    full_len = _lengths(tok, CONVO)
    last_exchange = [CONVO[0], *CONVO[3:]]
    budget = _lengths(tok, last_exchange)
    assert budget < full_len
    ids, labels = encode_chat(tok, CONVO, max_len=budget)
    assert len(ids) <= budget
    text = tok.decode(ids)
    assert text == tok.apply_chat_template(last_exchange, tokenize=False)
    assert text.startswith(f"{IM_START}system\n{SYSTEM[1]}")
    assert CONVO[1]["content"] not in text  # oldest user turn gone
    assert CONVO[-2]["content"] in text and text.endswith(CONVO[-1]["content"] + f"{IM_END}\n")
    assert len(_labelled_spans(labels)) == 1


def test_truncation_keeps_only_needed_turns(tok) -> None:
    # budget one token short of the full conversation: only the oldest turn has to go
    full_len = _lengths(tok, CONVO)
    ids, _ = encode_chat(tok, CONVO, max_len=full_len - 1)
    text = tok.decode(ids)
    assert CONVO[1]["content"] not in text
    assert CONVO[3]["content"] in text and CONVO[4]["content"] in text
    assert text.startswith(f"{IM_START}system\n")


def test_truncation_keeps_user_first_after_system(tok) -> None:
    full_len = _lengths(tok, CONVO)
    ids, _ = encode_chat(tok, CONVO, max_len=full_len - 1)
    text = tok.decode(ids)
    assert text.startswith(f"{IM_START}system\n{SYSTEM[1]}{IM_END}\n{IM_START}user\n"), text


def test_truncation_cuts_tail_when_last_exchange_is_too_long(tok) -> None:
    ids_full, labels_full = encode_chat(tok, CONVO[:3])
    ids, labels = encode_chat(tok, CONVO[:3], max_len=12)
    assert len(ids) == 12
    assert ids == ids_full[:12] and labels == labels_full[:12]
    assert tok.decode(ids).startswith(f"{IM_START}system\n")


def test_truncation_with_generation_prompt_keeps_the_end(tok) -> None:
    msgs = [{"role": "system", "content": "Be kind. " * 30}, CONVO[1]]
    ids_full, _ = encode_chat(tok, msgs, add_generation_prompt=True)
    ids, labels = encode_chat(tok, msgs, max_len=20, add_generation_prompt=True)
    assert len(ids) == 20
    assert ids == ids_full[-20:]
    assert tok.decode(ids).endswith("<|im_start|>assistant\n")
    assert set(labels) == {IGNORE_INDEX}


def test_truncation_without_system_prompt(tok) -> None:
    msgs = CONVO[1:]
    budget = _lengths(tok, msgs[2:])
    ids, _ = encode_chat(tok, msgs, max_len=budget)
    assert tok.decode(ids) == tok.apply_chat_template(msgs[2:], tokenize=False)
