"""empathy.config: loading and validating the pipeline config and training presets.

Covers: every YAML in configs/train/ and configs/pipeline/ loads (globbed, so a
new preset is covered automatically); `train: {preset: ..., overrides}`
merging (overrides win, other preset keys kept, nested keys deep-merged);
unknown keys rejected with the key named; inconsistent values rejected; a
missing preset; `.params()` dropping None and being JSON-serialisable and
round-trippable through its model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from empathy.config import (
    DEFAULT_SYSTEM_PROMPT, LoraSettings, ModelConfig, PipelineConfig, SplitConfig, TrainConfig, configs_dir,
    load_pipeline_config, load_train_config, validate_section,
)
from empathy.errors import UserError

REPO = Path(__file__).resolve().parents[2]
TRAIN_PRESETS = sorted((REPO / "configs" / "train").glob("*.yaml"))
PIPELINE_CONFIGS = sorted((REPO / "configs" / "pipeline").glob("*.yaml"))
PRESET = "train/tiny-moe-cpu.yaml"


def _write(path: Path, data: dict | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def _user_error(func, *args) -> str:
    with pytest.raises(UserError) as info:
        func(*args)
    return str(info.value)


# --- the shipped configs --------------------------------------------------------------------


def test_config_dirs_are_found() -> None:
    assert configs_dir() == REPO / "configs"
    assert TRAIN_PRESETS, "no training presets in configs/train"
    assert PIPELINE_CONFIGS, "no pipeline configs in configs/pipeline"


@pytest.mark.parametrize("path", TRAIN_PRESETS, ids=lambda p: p.name)
def test_every_train_preset_loads(path: Path) -> None:
    cfg = load_train_config(path)
    assert isinstance(cfg, TrainConfig)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    # what the file sets is what the model holds (nothing silently defaulted away)
    dumped = cfg.model_dump(mode="json")
    for section, value in raw.items():
        if isinstance(value, dict):
            for key, sub in value.items():
                assert dumped[section][key] == sub, f"{path.name}: {section}.{key}"
        else:
            assert dumped[section] == value, f"{path.name}: {section}"


@pytest.mark.parametrize("path", PIPELINE_CONFIGS, ids=lambda p: p.name)
def test_every_pipeline_config_loads(path: Path) -> None:
    cfg = load_pipeline_config(path)
    assert isinstance(cfg, PipelineConfig)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert cfg.corpus_dir == raw.get("corpus_dir", "data/demo")
    json.dumps(cfg.params())


def test_no_config_gives_defaults() -> None:
    cfg = load_pipeline_config(None)
    assert cfg == PipelineConfig()
    assert cfg.split.system_prompt == DEFAULT_SYSTEM_PROMPT


def test_demo_config_values() -> None:
    cfg = load_pipeline_config(REPO / "configs" / "pipeline" / "demo.yaml")
    assert cfg.corpus_dir == "data/demo"
    assert cfg.validate_.max_answer_words == 600 and cfg.validate_.threshold is None and cfg.validate_.model is None
    assert cfg.deploy.max_new_tokens == 48
    assert cfg.registry.experiment == "empathy-demo"
    # the preset was pulled in
    assert cfg.train == load_train_config(REPO / "configs" / PRESET)


# --- presets and overrides ------------------------------------------------------------------


def test_cluster_preset_overrides_win_and_preset_keys_kept() -> None:
    cfg = load_pipeline_config(REPO / "configs" / "pipeline" / "cluster.yaml")
    preset = load_train_config(REPO / "configs" / PRESET)
    assert cfg.train.checkpoint_dir == "/checkpoints/empathy"
    assert cfg.train.checkpoint_every == 200
    assert preset.checkpoint_every != 200
    # everything the override does not name comes from the preset
    assert cfg.train.model == preset.model
    assert cfg.train.lora == preset.lora
    assert cfg.train.epochs == preset.epochs


def test_override_deep_merges_nested_sections(tmp_path: Path) -> None:
    path = _write(tmp_path / "pipeline" / "p.yaml", {
        "train": {"preset": PRESET, "epochs": 1, "model": {"num_layers": 1}, "optim": {"learning_rate": 0.1}},
    })
    cfg = load_pipeline_config(path)
    preset = load_train_config(REPO / "configs" / PRESET)
    assert cfg.train.epochs == 1
    assert cfg.train.model.num_layers == 1
    assert cfg.train.optim.learning_rate == 0.1
    # siblings of an overridden nested key keep the preset's values
    assert cfg.train.model.hidden_size == preset.model.hidden_size
    assert cfg.train.model.num_experts == preset.model.num_experts
    assert cfg.train.optim.scheduler == preset.optim.scheduler
    assert cfg.train.lora.modules_to_save == preset.lora.modules_to_save
    assert cfg.train.batch_size == preset.batch_size


def test_preset_resolved_relative_to_the_config_tree(tmp_path: Path) -> None:
    _write(tmp_path / "train" / "mine.yaml", {"epochs": 7, "batch_size": 3})
    path = _write(tmp_path / "pipeline" / "p.yaml", {"train": {"preset": "train/mine.yaml", "batch_size": 5}})
    cfg = load_pipeline_config(path)
    assert cfg.train.epochs == 7
    assert cfg.train.batch_size == 5


def test_missing_preset_is_a_user_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "pipeline" / "p.yaml", {"train": {"preset": "train/does-not-exist.yaml"}})
    msg = _user_error(load_pipeline_config, path)
    assert "train/does-not-exist.yaml" in msg
    assert "not found" in msg


def test_malformed_preset_names_the_preset(tmp_path: Path) -> None:
    preset = _write(tmp_path / "train" / "broken.yaml", "epochs: [1,\n")
    path = _write(tmp_path / "pipeline" / "p.yaml", {"train": {"preset": "train/broken.yaml"}})
    msg = _user_error(load_pipeline_config, path)
    assert str(preset) in msg
    assert "malformed YAML" in msg


# --- unknown keys ---------------------------------------------------------------------------


@pytest.mark.parametrize("data, key", [
    ({"corpus_dirr": "x"}, "corpus_dirr"),
    ({"split": {"sed": 3}}, "split.sed"),
    ({"validate": {"min_simlarity": 0.3}}, "validate.min_simlarity"),
    ({"train": {"preset": PRESET, "lora": {"rank": 4}}}, "train.lora.rank"),
    ({"train": {"preset": PRESET, "bogus": 1}}, "train.bogus"),
    ({"cluster": {"gpus": 2}}, "cluster.gpus"),
])
def test_unknown_key_in_pipeline_config_is_named(tmp_path: Path, data: dict, key: str) -> None:
    path = _write(tmp_path / "pipeline" / "p.yaml", data)
    msg = _user_error(load_pipeline_config, path)
    assert str(path) in msg
    assert key in msg
    assert "Extra inputs are not permitted" in msg


def test_unknown_key_in_train_preset_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.yaml", {"epochs": 2, "model": {"hidden_sise": 64}})
    msg = _user_error(load_train_config, path)
    assert str(path) in msg
    assert "model.hidden_sise" in msg


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    path = _write(tmp_path / "pipeline" / "p.yaml", {"split": {"seedd": 1}, "pairs": {"context_turn": 1}})
    msg = _user_error(load_pipeline_config, path)
    assert "split.seedd" in msg and "pairs.context_turn" in msg


def test_validate_section_is_reachable_by_name_and_alias() -> None:
    assert PipelineConfig.model_validate({"validate": {"batch_size": 4}}).validate_.batch_size == 4
    assert PipelineConfig.model_validate({"validate_": {"batch_size": 5}}).validate_.batch_size == 5


# --- inconsistent values --------------------------------------------------------------------


@pytest.mark.parametrize("train, needle", [
    ({"model": {"num_experts": 2, "experts_per_token": 3}}, "experts_per_token cannot exceed num_experts"),
    ({"max_seq_len": 1024}, "exceeds the model's context (512)"),
    ({"model": {"architecture": "qwen2_moe"}}, "set shared_expert_intermediate_size"),
    ({"lora": {"shared_experts": True}}, "needs a model with a shared expert"),
    ({"batch_size": "large"}, "batch_size"),
    ({"model": {"source": "pretrained"}}, "name_or_path is required"),
    ({"model": {"hidden_size": 130, "num_attention_heads": 4}}, "divisible by num_attention_heads"),
    ({"model": {"num_attention_heads": 4, "num_key_value_heads": 3}}, "divisible by num_key_value_heads"),
    ({"lora": {"target_modules": [], "target_parameters": []}}, "target_modules or target_parameters"),
    ({"epochs": 0}, "epochs"),
])
def test_inconsistent_train_values_rejected(tmp_path: Path, train: dict, needle: str) -> None:
    path = _write(tmp_path / "t.yaml", train)
    msg = _user_error(load_train_config, path)
    assert str(path) in msg
    assert needle in msg


def test_lora_dropout_allowed_with_expert_parameters() -> None:
    # dropout goes on the Linear adapters only (test_train checks where it lands)
    lora = LoraSettings(dropout=0.1)
    assert lora.dropout == 0.1 and lora.target_parameters


def test_rope_scaling_extends_the_context() -> None:
    cfg = TrainConfig.model_validate({"max_seq_len": 2048, "model": {"rope_scaling": {"rope_type": "linear", "factor": 4}}})
    assert cfg.model.context_length == 2048


def test_pretrained_with_name_is_accepted() -> None:
    assert ModelConfig(source="pretrained", name_or_path="some/model").name_or_path == "some/model"


@pytest.mark.parametrize("val, test, ok", [
    (0.1, 0.1, True), (0.45, 0.44, True), (0.45, 0.45, False), (0.5, 0.5, False), (0.0, 0.9, False),
])
def test_split_fractions_must_leave_training_data(tmp_path: Path, val: float, test: float, ok: bool) -> None:
    path = _write(tmp_path / "pipeline" / "p.yaml", {"split": {"val_fraction": val, "test_fraction": test}})
    if ok:
        cfg = load_pipeline_config(path)
        assert (cfg.split.val_fraction, cfg.split.test_fraction) == (val, test)
    else:
        msg = _user_error(load_pipeline_config, path)
        assert "split" in msg and "at least 10% for training" in msg


def test_wrong_type_names_the_field(tmp_path: Path) -> None:
    path = _write(tmp_path / "pipeline" / "p.yaml", {"pairs": {"context_turns": "two"}})
    msg = _user_error(load_pipeline_config, path)
    assert "pairs.context_turns" in msg


def test_validate_section_wraps_errors_with_source() -> None:
    with pytest.raises(UserError, match=r"^config component-arg: seed: "):
        validate_section(SplitConfig, {"seed": "x"}, "component-arg")
    assert validate_section(SplitConfig, None, "x") == SplitConfig()


# --- params() -------------------------------------------------------------------------------


def test_params_drop_none_and_are_json() -> None:
    cfg = TrainConfig()
    assert cfg.max_steps is None and cfg.checkpoint_dir is None and cfg.threads is None
    params = cfg.params()
    for key in ("max_steps", "checkpoint_dir", "threads"):
        assert key not in params
    assert "name_or_path" not in params["model"]
    assert json.loads(json.dumps(params)) == params
    # set values stay
    assert TrainConfig(max_steps=5).params()["max_steps"] == 5


@pytest.mark.parametrize("path", PIPELINE_CONFIGS, ids=lambda p: p.name)
def test_section_params_round_trip(path: Path) -> None:
    """What the KFP components receive (section.params()) validates back to the same section."""
    cfg = load_pipeline_config(path)
    for name in ("ingest", "pairs", "validate_", "split", "train", "evaluate", "registry", "deploy", "monitor",
                 "cluster"):
        section = getattr(cfg, name)
        params = json.loads(json.dumps(section.params()))
        assert not _has_none(params), name
        assert validate_section(type(section), params, name) == section, name


def _has_none(obj) -> bool:
    if obj is None:
        return True
    if isinstance(obj, dict):
        return any(_has_none(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_none(v) for v in obj)
    return False
