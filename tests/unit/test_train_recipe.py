"""What the recipe promises beyond a plain loop: packing that keeps attention inside each conversation, gradient
accumulation equal to a bigger batch, a resumed run that continues exactly, early stopping that keeps the best
weights, a wall-time budget, dropout where PEFT allows it, LoRA on the router, and the batch-size search."""

from __future__ import annotations

import json

import pytest
import torch

from empathy.config import LoraSettings, ModelConfig, TrainConfig
from empathy.errors import UserError
from empathy.train.dataset import collate, make_packed_batches, pack_examples, packing_efficiency, tokenize_examples
from empathy.train.model import apply_lora, build_base_model
from empathy.train.recipe import LoRAFinetuneRecipe, largest_batch_size, latest_checkpoint
from empathy.train.tokenizer import IGNORE_INDEX, train_tokenizer

TOPICS = ["sleep", "worry", "grief", "work stress", "loneliness", "anger", "exams", "moving house", "money", "family"]


def _examples(n: int, offset: int = 0) -> list[dict]:
    out = []
    for i in range(offset, offset + n):
        topic = TOPICS[i % len(TOPICS)]
        extra = " It keeps me up at night and I feel alone with it." * (i % 3)
        out.append({"messages": [
            {"role": "user", "content": f"What can I do about {topic}? It has been {i % 7 + 1} weeks.{extra}"},
            {"role": "assistant", "content": f"Thank you for telling me about {topic}. One small step a day helps."},
        ]})
    return out


def _config(tmp_path, **over) -> TrainConfig:
    base = dict(max_steps=8, batch_size=4, eval_every=4, log_every=2, threads=2, seed=5,
                tokenizer={"vocab_size": 300, "min_frequency": 1},
                lora={"modules_to_save": ["embed_tokens", "lm_head"]}, optim={"learning_rate": 0.005},
                model={"hidden_size": 64, "intermediate_size": 64, "num_experts": 4, "experts_per_token": 2})
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    if "checkpoint_dir" in base:
        base["checkpoint_dir"] = str(tmp_path / base["checkpoint_dir"])
    return TrainConfig.model_validate(base)


def _run(cfg: TrainConfig, n: int = 32, resume: bool = False, on_metrics=None):
    recipe = LoRAFinetuneRecipe(cfg)
    recipe.setup(_examples(n), _examples(8, offset=100), resume=resume)
    return recipe, recipe.train(on_metrics=on_metrics, progress=False)


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer((m["content"] for ex in _examples(40) for m in ex["messages"]), 300, 1)


# ------------------------------------------------------------------ packing


def test_packed_rows_give_each_conversation_the_logits_it_has_alone(tok):
    model = build_base_model(ModelConfig(hidden_size=64, intermediate_size=64), tok, seed=3).eval()
    examples = tokenize_examples(_examples(6), tok, 320)
    rows = pack_examples(examples, 320)
    assert len(rows) < len(examples), "nothing was packed"
    batch = collate(rows, tok.pad_token_id)
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits
        for r, (ids, _, positions) in enumerate(rows):
            starts = [i for i, p in enumerate(positions) if p == 0] + [len(ids)]
            for a, b in zip(starts, starts[1:]):
                alone = model(input_ids=torch.tensor([ids[a:b]]), use_cache=False).logits[0]
                torch.testing.assert_close(packed[r, a:b], alone, atol=1e-4, rtol=1e-4)
    # the labels of every conversation survive packing, and only them
    assert sum(sum(lab != IGNORE_INDEX for lab in row[1]) for row in rows) == \
        sum(sum(lab != IGNORE_INDEX for lab in e[1]) for e in examples)


def test_packing_fills_rows_and_every_token_is_kept(tok):
    examples = tokenize_examples(_examples(200), tok, 512)
    rows = pack_examples(examples, 512)
    assert all(len(r[0]) <= 512 for r in rows)
    assert sorted(len(e[0]) for e in examples) == sorted(b - a for r in rows for a, b in _spans(r[2]))
    batches = make_packed_batches(rows, 4, tok.pad_token_id, seed=1)
    # 200 conversations of 77 to 145 tokens: best-fit decreasing fills 512-token rows to 0.94 (bucketing: 0.8)
    assert packing_efficiency(batches) >= 0.92


def _spans(positions: list[int]) -> list[tuple[int, int]]:
    starts = [i for i, p in enumerate(positions) if p == 0] + [len(positions)]
    return list(zip(starts, starts[1:]))


def test_packed_training_runs_and_reports_its_efficiency(tmp_path):
    _, result = _run(_config(tmp_path, packing=True, max_seq_len=320, batch_size=2, max_steps=4), n=40)
    assert result.steps == 4 and result.packing_efficiency > 0.9
    assert result.final_train_loss == result.final_train_loss  # not NaN


# ------------------------------------------------------------------ optimisation


def test_gradient_accumulation_equals_the_bigger_batch(tmp_path):
    _, big = _run(_config(tmp_path, batch_size=8, max_steps=4, eval_every=100, packing=True, max_seq_len=64))
    _, accumulated = _run(_config(tmp_path, batch_size=4, gradient_accumulation_steps=2, max_steps=4, eval_every=100,
                                  packing=True, max_seq_len=64))
    # packed rows of one length: two batches of 4 rows hold exactly the 8 rows of the big batch, in the same order
    losses = [h["train_loss"] for h in big.history if "train_loss" in h]
    acc_losses = [h["train_loss"] for h in accumulated.history if "train_loss" in h]
    assert losses == pytest.approx(acc_losses, abs=2e-4)


def test_dropout_goes_on_the_attention_adapters_only(tok):
    model = apply_lora(build_base_model(ModelConfig(), tok, seed=1), LoraSettings(dropout=0.2))
    drops = {n: m for n, m in model.named_modules() if n.endswith("lora_dropout.default")}
    attention = [m for n, m in drops.items() if "self_attn" in n]
    assert attention and all(isinstance(m, torch.nn.Dropout) and m.p == 0.2 for m in attention)
    assert all(not isinstance(m, torch.nn.Dropout) for n, m in drops.items() if "experts" in n)


def test_router_lora_is_trained_when_asked(tmp_path):
    recipe, _ = _run(_config(tmp_path, lora={"router": True}, max_steps=2))
    router = [n for n in recipe.trainable if "mlp.gate" in n and "lora_" in n]
    assert router, "no LoRA weights on the router"


def test_auto_batch_size_needs_a_gpu(tmp_path):
    with pytest.raises(UserError, match="needs a GPU"):
        _run(_config(tmp_path, batch_size="auto"))


@pytest.mark.parametrize("capacity, expected", [(1, 1), (5, 5), (64, 64), (100, 100), (0, 0), (5000, 1024)])
def test_largest_batch_size_search(capacity, expected):
    tried = []

    def fits(size):
        tried.append(size)
        return size <= capacity

    assert largest_batch_size(fits, limit=1024) == expected
    assert len(tried) <= 2 * 11 + 1


def test_gradient_checkpointing_gives_the_same_losses(tmp_path):
    _, plain = _run(_config(tmp_path, max_steps=3, eval_every=100, log_every=1))
    _, checkpointed = _run(_config(tmp_path, max_steps=3, eval_every=100, log_every=1, gradient_checkpointing=True))
    a = [h["train_loss"] for h in plain.history if "train_loss" in h]
    b = [h["train_loss"] for h in checkpointed.history if "train_loss" in h]
    assert len(a) == 3
    assert a == pytest.approx(b, abs=1e-5)


# ------------------------------------------------------------------ resume, early stopping, time budget


class _Crash(Exception):
    pass


def test_a_crashed_run_resumes_to_the_same_losses(tmp_path):
    # 8 steps per epoch: the checkpoint at step 10 is inside the second epoch, whose batch order differs
    over = dict(max_steps=16, checkpoint_every=5, eval_every=3, log_every=1, lora={"dropout": 0.1})
    _, whole = _run(_config(tmp_path, checkpoint_dir="whole", **over))

    def crash_at_step_13(metrics, step):
        if step == 13:
            raise _Crash

    with pytest.raises(_Crash):
        _run(_config(tmp_path, checkpoint_dir="crashed", **over), on_metrics=crash_at_step_13)
    assert latest_checkpoint(tmp_path / "crashed").name == "step-0000010"
    recipe, resumed = _run(_config(tmp_path, checkpoint_dir="crashed", **over), resume=True)
    assert resumed.resumed_from_step == 10 and resumed.steps == 16
    assert resumed.final_train_loss == pytest.approx(whole.final_train_loss, abs=1e-6)
    assert resumed.val["loss"] == pytest.approx(whole.val["loss"], abs=1e-6)
    # the history continues where the checkpoint left it: one row per step, as in the run that never stopped
    assert [h["step"] for h in resumed.history] == [h["step"] for h in whole.history]


def test_resume_refuses_a_different_run(tmp_path):
    _run(_config(tmp_path, checkpoint_dir="c", max_steps=4, checkpoint_every=2))
    with pytest.raises(UserError, match="optim.learning_rate"):
        _run(_config(tmp_path, checkpoint_dir="c", max_steps=4, checkpoint_every=2, optim={"learning_rate": 0.01}),
             resume=True)
    with pytest.raises(UserError, match="needs checkpoint_dir"):
        _run(_config(tmp_path, max_steps=4), resume=True)


def test_early_stopping_keeps_the_best_weights(tmp_path):
    # a learning rate this high makes val loss climb after the first evaluations
    cfg = _config(tmp_path, checkpoint_dir="es", max_steps=60, eval_every=2, log_every=2, early_stopping_patience=2,
                  optim={"learning_rate": 0.2, "warmup_ratio": 0.0})
    recipe, result = _run(cfg)
    vals = [h["val_loss"] for h in result.history if "val_loss" in h]
    assert result.stopped_reason == "early_stopping" and result.steps < 60
    assert vals[-1] > vals[-2] > vals[-3]
    assert result.best_val_loss == min(vals) and result.restored_best
    assert recipe.validate()["loss"] == pytest.approx(result.best_val_loss, abs=1e-5)
    best = json.loads((tmp_path / "es" / "best" / "state.json").read_text())
    assert best["best_step"] == result.best_step
    assert (tmp_path / "es" / "best" / "adapter" / "adapter_config.json").is_file()


def test_time_budget_ends_the_run_with_a_checkpoint(tmp_path):
    cfg = _config(tmp_path, checkpoint_dir="tb", max_steps=500, max_wall_hours=1e-6)
    _, result = _run(cfg)
    assert result.stopped_reason == "time_budget" and result.steps == 1
    assert latest_checkpoint(tmp_path / "tb").name == "step-0000001"
