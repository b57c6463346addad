"""Captions as text: word indices decoded to strings, and the token lists BLEU compares."""

from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from ..coco_format import END_TOKEN, NULL_TOKEN, START_TOKEN, check_split


def decode_captions(captions, idx_to_word):
    """Word indices -> text, as in Stanford's CS231n assignment.

    ``captions`` (T,) gives one string, (N, T) a list of N strings. ``<NULL>``
    is skipped, decoding stops after ``<END>``; ``<START>`` and ``<END>`` stay
    in the text.
    """
    captions = np.asarray(captions) if isinstance(captions, (list, tuple)) else captions
    singleton = captions.ndim == 1
    rows = to_numpy(captions[None] if singleton else captions)  # decoding is host work
    decoded = []
    for row in rows:
        words = []
        for idx in row:
            word = idx_to_word[int(idx)]
            if word != NULL_TOKEN:
                words.append(word)
            if word == END_TOKEN:
                break
        decoded.append(" ".join(words))
    return decoded[0] if singleton else decoded


def caption_tokens(caption, idx_to_word) -> list:
    """The words of one caption (T,) without <START>, <END> and <NULL> (what BLEU compares)."""
    tokens = []
    for idx in to_numpy(np.asarray(caption) if isinstance(caption, (list, tuple)) else caption).ravel():
        word = idx_to_word[int(idx)]
        if word == END_TOKEN:
            break
        if word not in (NULL_TOKEN, START_TOKEN):
            tokens.append(word)
    return tokens


def references_by_image(data, split) -> dict:
    """All reference captions of each image of ``split``: image_idx -> list of token lists."""
    check_split(split)
    refs: dict = {}
    idx_to_word = data["idx_to_word"]
    for caption, image_idx in zip(data[f"{split}_captions"], data[f"{split}_image_idxs"]):
        refs.setdefault(int(image_idx), []).append(caption_tokens(caption, idx_to_word))
    return refs
