"""A tiny fine-tuned model, registered in a throwaway SQLite MLflow store, shared by the integration tests."""

from __future__ import annotations

import pytest

from empathy.config import RegistryConfig, TrainConfig


def chat_examples(n: int) -> list[dict]:
    topics = ["sleep", "worry", "grief", "work stress", "loneliness", "anger"]
    return [{"messages": [
        {"role": "system", "content": "You are a counselling assistant."},
        {"role": "user", "content": f"How do I cope with {topics[i % 6]} lately?"},
        {"role": "assistant", "content": f"Coping with {topics[i % 6]} starts with noticing it and one small step."},
    ]} for i in range(n)]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from empathy.train.recipe import LoRAFinetuneRecipe

    cfg = TrainConfig.model_validate({"max_steps": 6, "batch_size": 4, "eval_every": 6, "log_every": 2, "threads": 2,
                                      "tokenizer": {"vocab_size": 300, "min_frequency": 1},
                                      "lora": {"modules_to_save": ["embed_tokens", "lm_head"]}})
    recipe = LoRAFinetuneRecipe(cfg)
    recipe.setup(chat_examples(24), chat_examples(4))
    recipe.train(progress=False)
    return recipe.save(tmp_path_factory.mktemp("model") / "model")


@pytest.fixture(scope="session")
def registry_config(tmp_path_factory) -> RegistryConfig:
    root = tmp_path_factory.mktemp("mlflow")
    return RegistryConfig(tracking_uri=f"sqlite:///{root / 'mlflow.db'}", artifact_location=(root / "artifacts").as_uri(),
                          experiment="tests", model_name="empathy-chat-test", alias="candidate")


@pytest.fixture(scope="session")
def registered(tiny_model_dir, registry_config):
    from empathy.registry import log_flat, register_model, tracked_run

    with tracked_run(registry_config, run_name="integration") as run:
        log_flat({"test_loss": 1.0})
    return register_model(tiny_model_dir, registry_config, run.info.run_id, {"train_sha256": "abc"})
