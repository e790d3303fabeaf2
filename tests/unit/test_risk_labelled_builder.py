"""data/safety/build_risk_labelled.py rebuilds the committed labelled risk set byte for byte, and refuses a test
sentence that nearly repeats a development one."""

from __future__ import annotations

import importlib.util
import json

import pytest

from tests.conftest import REPO

BUILDER = REPO / "data" / "safety" / "build_risk_labelled.py"


@pytest.fixture(scope="module")
def builder():
    spec = importlib.util.spec_from_file_location("build_risk_labelled", BUILDER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.read_rounds()
    return module


def test_the_builder_reproduces_the_committed_set(builder):
    rows = builder.build()
    built = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    assert built == builder.OUT.read_text(encoding="utf-8"), \
        "data/safety/risk_labelled.jsonl differs from its builder: run .venv/bin/python data/safety/build_risk_labelled.py"
    builder.near_repeats(rows)


def _row(text: str, split: str) -> dict:
    return {"text": text, "split": split}


def test_a_near_repeat_in_the_test_split_fails_the_build(builder):
    dev = _row("My brother isn't breathing, he took something in the bathroom, what do I do", "train")
    near = _row("my brother isnt breathing, he took something in the bathroom what do I do now", "test")
    with pytest.raises(SystemExit, match="nearly repeats development sentence"):
        builder.near_repeats([dev, near])
    other = _row("My sister has stopped eating and fainted at school today", "test")
    builder.near_repeats([dev, other])
