"""Caption baselines that a trained model must beat.

    most_frequent_caption(data)   the single most common training caption, for every image
    nearest_neighbour(data)       the caption of the closest training image in feature space

Both return one token list per evaluated image, aligned with
``sorted(references_by_image(data, split))``, ready for ``bleu_scores``.
If a model does not beat the nearest-neighbour baseline, it has learnt little
more than "find a similar picture".
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from assignment.data import caption_tokens, references_by_image


def _eval_images(data, split, num_images):
    image_idxs = np.array(sorted(references_by_image(data, split)))
    return image_idxs if num_images is None else image_idxs[:num_images]


def most_frequent_caption(data, split="val", num_images=None):
    """The most frequent training caption (ties: the first seen), repeated for every image."""
    counts = Counter(tuple(caption_tokens(row, data["idx_to_word"])) for row in data["train_captions"])
    best = list(counts.most_common(1)[0][0])
    return [best for _ in _eval_images(data, split, num_images)]


def nearest_neighbour(data, split="val", num_images=None, batch_size=1000):
    """For each image, the first caption of the training image with the most similar features.

    Similarity is the cosine of the (mean-centred) feature vectors.
    """
    train_feats = np.asarray(data["train_features"], dtype=np.float64)
    mean = train_feats.mean(axis=0)

    def normalise(f):
        f = np.asarray(f, dtype=np.float64) - mean
        return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)

    # only training images that have captions (max_train may have dropped some)
    first_caption = {}
    for row, img in enumerate(data["train_image_idxs"]):
        first_caption.setdefault(int(img), row)
    candidates = np.array(sorted(first_caption))
    cand = normalise(train_feats[candidates])                  # (C, D)
    image_idxs = _eval_images(data, split, num_images)
    hypotheses = []
    for start in range(0, len(image_idxs), batch_size):
        query = normalise(data[f"{split}_features"][image_idxs[start:start + batch_size]])
        best = candidates[np.argmax(query @ cand.T, axis=1)]  # (B,) nearest train image
        hypotheses += [caption_tokens(data["train_captions"][first_caption[int(b)]], data["idx_to_word"])
                       for b in best]
    return hypotheses
