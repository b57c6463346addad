"""Shared fixtures: a small in-memory captioning dataset for fast unit tests.

Tests that need the real embedded dataset load it with ``load_coco_data()``;
``make test`` builds it first.
"""

import numpy as np
import pytest

import assignment  # noqa: F401  (one BLAS thread, as in every kernel: assignment/threads.py)


def make_tiny_data(seed=0, num_images=12, num_captions=40, vocab=9, dim=16):
    """A dict shaped like ``load_coco_data``'s output, with random content."""
    rng = np.random.default_rng(seed)
    words = ["<NULL>", "<START>", "<END>", "<UNK>"] + [f"w{i}" for i in range(vocab - 4)]
    data = {"idx_to_word": words, "word_to_idx": {w: i for i, w in enumerate(words)}}
    for split in ("train", "val"):
        captions = rng.integers(4, vocab, size=(num_captions, 17)).astype(np.int32)
        captions[:, 0] = 1
        for row, n in zip(captions, rng.integers(3, 16, size=num_captions)):
            row[n] = 2
            row[n + 1:] = 0
        data[f"{split}_captions"] = captions
        data[f"{split}_image_idxs"] = rng.integers(0, num_images, size=num_captions).astype(np.int32)
        data[f"{split}_features"] = rng.standard_normal((num_images, dim)).astype(np.float32)
        data[f"{split}_urls"] = np.array([f"synthetic://{split}/{i}" for i in range(num_images)])
    return data


@pytest.fixture
def tiny_data():
    return make_tiny_data()
