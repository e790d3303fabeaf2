"""A byte-level BPE tokenizer trained on the corpus, with a ChatML template.

Models built from a config have no tokenizer of their own, and nothing may be
downloaded, so one is trained on the training split (well under a second for
the demo). `encode_chat` is the single place that turns messages into ids and
an assistant-only loss mask; training, evaluation and generation all use it,
so prompts at serving time are tokenised exactly as in training.
"""

from __future__ import annotations

from typing import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

IM_START, IM_END, PAD, EOS = "<|im_start|>", "<|im_end|>", "<|pad|>", "<|endoftext|>"
SPECIAL_TOKENS = [PAD, EOS, IM_START, IM_END]
IGNORE_INDEX = -100
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def train_tokenizer(texts: Iterable[str], vocab_size: int, min_frequency: int = 2) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token=PAD, eos_token=IM_END, bos_token=None, unk_token=None,
        additional_special_tokens=[IM_START, EOS],
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.model_max_length = 1_000_000
    return fast


def chat_texts(examples: Iterable[dict]) -> Iterable[str]:
    for ex in examples:
        for message in ex["messages"]:
            yield message["content"]


def _ids(tokenizer: PreTrainedTokenizerFast, text: str) -> list[int]:
    return tokenizer.encode(text, add_special_tokens=False)


def encode_chat(
    tokenizer: PreTrainedTokenizerFast, messages: list[dict[str, str]], max_len: int | None = None,
    add_generation_prompt: bool = False,
) -> tuple[list[int], list[int]]:
    """Token ids and labels (IGNORE_INDEX outside assistant replies).

    Messages are encoded piece by piece (header, content, end) so that the
    label mask falls exactly on the assistant's content and its end token.
    Over max_len, the oldest context turns are dropped first (the system
    prompt and the last exchange stay), then the tail is cut.
    """
    def build(msgs: list[dict[str, str]]) -> tuple[list[int], list[int]]:
        ids: list[int] = []
        labels: list[int] = []
        for m in msgs:
            head = _ids(tokenizer, f"{IM_START}{m['role']}\n")
            body = _ids(tokenizer, m["content"]) + _ids(tokenizer, IM_END)
            tail = _ids(tokenizer, "\n")
            ids += head + body + tail
            labels += [IGNORE_INDEX] * len(head)
            labels += body if m["role"] == "assistant" else [IGNORE_INDEX] * len(body)
            labels += [IGNORE_INDEX] * len(tail)
        if add_generation_prompt:
            head = _ids(tokenizer, f"{IM_START}assistant\n")
            ids += head
            labels += [IGNORE_INDEX] * len(head)
        return ids, labels

    ids, labels = build(messages)
    msgs = list(messages)
    has_system = bool(msgs) and msgs[0]["role"] == "system"
    first = 1 if has_system else 0
    while max_len is not None and len(ids) > max_len and len(msgs) > first + 2:
        del msgs[first]
        # never leave a reply without its question: drop up to the next user turn
        while len(msgs) > first + 2 and msgs[first]["role"] != "user":
            del msgs[first]
        ids, labels = build(msgs)
    if max_len is not None and len(ids) > max_len:
        if add_generation_prompt:
            ids, labels = ids[-max_len:], labels[-max_len:]
        else:
            ids, labels = ids[:max_len], labels[:max_len]
    return ids, labels
