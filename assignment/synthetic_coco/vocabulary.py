"""The vocabulary of the synthetic dataset, and captions as rows of word indices.

The vocabulary is built from the train captions only: the special tokens,
then every word seen at least MIN_WORD_COUNT times. Rarer words become
``<UNK>``, as in the real COCO files.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..coco_format import (
    CAPTION_LENGTH, END_INDEX, MAX_WORDS, NULL_INDEX, SPECIAL_TOKENS, START_INDEX, UNK_INDEX,
)

MIN_WORD_COUNT = 5             # train occurrences a word needs to get its own index


def build_vocab(train_captions: list[list[str]], min_count: int = MIN_WORD_COUNT) -> list[str]:
    """``idx_to_word``: the special tokens, then every word seen at least
    ``min_count`` times in ``train_captions``, by decreasing count (ties
    alphabetical). Rarer words will be encoded as ``<UNK>``."""
    counts = Counter(word for words in train_captions for word in words)
    kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
    return list(SPECIAL_TOKENS) + kept


def encode_caption(words: list[str], word_to_idx: dict[str, int]) -> np.ndarray:
    """int32 (CAPTION_LENGTH,): <START> w1 .. wk <END> <NULL> ..., unknown words as <UNK>."""
    if len(words) > MAX_WORDS:
        raise ValueError(f"caption has {len(words)} words, at most {MAX_WORDS} fit: {' '.join(words)}")
    row = np.full(CAPTION_LENGTH, NULL_INDEX, dtype=np.int32)
    row[0] = START_INDEX
    row[1:len(words) + 1] = [word_to_idx.get(w, UNK_INDEX) for w in words]
    row[len(words) + 1] = END_INDEX
    return row
