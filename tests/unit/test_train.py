"""LoRA on MoE: every architecture gets adapters on its experts, training really
changes the expert adapters (and nothing frozen), checkpoints are written, and a
saved model reloads and generates."""

from __future__ import annotations

import pytest
import torch

from empathy.config import LoraSettings, ModelConfig, TrainConfig
from empathy.errors import UserError
from empathy.generate import ChatGenerator
from empathy.train.model import apply_lora, build_base_model, load_finetuned
from empathy.train.recipe import LoRAFinetuneRecipe
from empathy.train.tokenizer import train_tokenizer

TOPICS = ["sleep", "worry", "grief", "work stress", "loneliness", "anger", "exams", "moving house"]


def _examples(n: int) -> list[dict]:
    out = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        out.append({"messages": [
            {"role": "system", "content": "You are a counselling assistant."},
            {"role": "user", "content": f"What can I do about {topic}? It has been hard for {i % 5 + 1} weeks."},
            {"role": "assistant", "content": f"Thank you for sharing. With {topic}, small steps help: notice it, "
                                              f"name it, and try one calm routine each day."},
        ]})
    return out


def _config(tmp_path, **over) -> TrainConfig:
    base = dict(max_steps=8, batch_size=4, eval_every=4, log_every=2, tokenizer={"vocab_size": 300, "min_frequency": 1},
                lora={"modules_to_save": ["embed_tokens", "lm_head"]}, checkpoint_dir=str(tmp_path / "ckpt"),
                checkpoint_every=4, threads=2)
    base.update(over)
    return TrainConfig.model_validate(base)


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer((m["content"] for ex in _examples(40) for m in ex["messages"]), 300, 1)


@pytest.mark.parametrize("architecture", ["mixtral", "qwen2_moe", "qwen3_moe", "olmoe"])
def test_lora_reaches_the_experts_of_every_architecture(architecture, tok):
    shared = {"shared_expert_intermediate_size": 64} if architecture == "qwen2_moe" else {}
    model = apply_lora(build_base_model(ModelConfig(architecture=architecture, **shared), tok, seed=1), LoraSettings())
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any(".experts." in n and "lora_A" in n for n in trainable)
    assert any(".experts." in n and "lora_B" in n for n in trainable)
    assert any("q_proj.lora_A" in n for n in trainable)
    assert not any(n.endswith("experts.gate_up_proj") or n.endswith("experts.down_proj") for n in trainable)


def test_missing_lora_target_is_a_clear_error(tok):
    base = build_base_model(ModelConfig(), tok, seed=1)
    with pytest.raises(UserError, match="mlp.experts.w1"):
        apply_lora(base, LoraSettings(target_parameters=["mlp.experts.w1"]))


def test_training_changes_expert_adapters_and_nothing_frozen(tmp_path):
    recipe = LoRAFinetuneRecipe(_config(tmp_path))
    recipe.setup(_examples(40), _examples(8))
    params = dict(recipe.model.named_parameters())
    expert_lora = {n: p.detach().clone() for n, p in params.items() if ".experts." in n and "lora_" in n}
    frozen = {n: p.detach().clone() for n, p in params.items() if not p.requires_grad}
    assert expert_lora and frozen
    seen = []
    result = recipe.train(on_metrics=lambda metrics, step: seen.append((step, metrics)), progress=False)
    assert result.steps == 8
    for name, before in expert_lora.items():
        assert not torch.equal(before, params[name].detach()), f"expert adapter {name} did not change"
    for name, before in frozen.items():
        assert torch.equal(before, params[name].detach()), f"frozen weight {name} changed"
    steps_with_train_loss = [s for s, m in seen if "train_loss" in m]
    steps_with_val = [s for s, m in seen if "val_loss" in m]
    assert steps_with_train_loss == [2, 4, 6, 8] and steps_with_val == [4, 8]
    assert result.expert_lora_parameters > 0
    assert sorted(p.name for p in (tmp_path / "ckpt").glob("step-*")) == ["step-0000004", "step-0000008"]
    assert (tmp_path / "ckpt" / "step-0000008" / "trainer_state.pt").is_file()


def test_loss_goes_down_on_a_repetitive_corpus(tmp_path):
    recipe = LoRAFinetuneRecipe(_config(tmp_path, max_steps=30, eval_every=30, checkpoint_dir=None, checkpoint_every=0))
    recipe.setup(_examples(40), _examples(8))
    before = recipe.validate()["loss"]
    recipe.train(progress=False)
    assert recipe.validate()["loss"] < before - 1.0


def test_saved_model_reloads_with_identical_logits_and_generates(tmp_path):
    recipe = LoRAFinetuneRecipe(_config(tmp_path, checkpoint_dir=None, checkpoint_every=0))
    recipe.setup(_examples(24), _examples(4))
    recipe.train(progress=False)
    out = recipe.save(tmp_path / "model")
    assert {"base", "adapter", "tokenizer", "base_model.json", "train_result.json", "history.jsonl"} <= {
        p.name for p in out.iterdir()}
    model, tokenizer = load_finetuned(out, device="cpu")
    ids = torch.tensor([tokenizer.encode("What can I do about sleep?")])
    recipe.model.eval()
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, recipe.model(input_ids=ids).logits, atol=1e-5)
    reply = ChatGenerator(model, tokenizer).reply([{"role": "user", "content": "What can I do about sleep?"}],
                                                  max_new_tokens=12)
    assert reply["completion_tokens"] >= 1 and reply["finish_reason"] in {"stop", "length"}


def test_generator_rejects_bad_messages(tmp_path):
    with pytest.raises(ValueError, match="non-empty list"):
        ChatGenerator.check_messages([])
    with pytest.raises(ValueError, match="messages\\[0\\]"):
        ChatGenerator.check_messages([{"role": "robot", "content": "hi"}])
    with pytest.raises(ValueError, match="last message"):
        ChatGenerator.check_messages([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])


def test_empty_training_split_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="training split is empty"):
        LoRAFinetuneRecipe(_config(tmp_path)).setup([], [])


def test_merged_adapter_gives_the_same_logits(tmp_path):
    recipe = LoRAFinetuneRecipe(_config(tmp_path, checkpoint_dir=None, checkpoint_every=0))
    recipe.setup(_examples(24), _examples(4))
    recipe.train(progress=False)
    out = recipe.save(tmp_path / "model")
    merged, tokenizer = load_finetuned(out, device="cpu")
    unmerged, _ = load_finetuned(out, device="cpu", merge=False)
    assert not any("lora_" in n for n, _ in merged.named_parameters()), "the adapter was not merged"
    assert any(".experts." in n and "lora_" in n for n, _ in unmerged.named_parameters())
    ids = torch.tensor([tokenizer.encode("What can I do about worry at night?")])
    with torch.no_grad():
        assert torch.allclose(merged(input_ids=ids).logits, unmerged(input_ids=ids).logits, atol=1e-4)
