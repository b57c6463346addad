"""Random minibatches of captions and the features of their images (the training loop's input)."""

from __future__ import annotations

import numpy as np

from ..backend import asarray, to_numpy
from ..coco_format import check_split


def _take(array, idx):
    """``array[idx]`` where ``array`` and ``idx`` may live on the host or (data moved
    to the GPU by the caller) on the device: the indices follow the array."""
    return array[to_numpy(idx)] if isinstance(array, np.ndarray) else array[asarray(idx)]


def sample_coco_minibatch(data, batch_size=100, split="train", rng=None):
    """A random minibatch of captions and the features of their images.

    Inputs:
        data: the dict from ``load_coco_data``
        batch_size: number B of captions, drawn with replacement
        split: 'train' or 'val'
        rng: a ``numpy.random.Generator`` (default: a fresh unseeded one)

    Returns ``captions`` (B, 17) int32, ``image_features`` (B, D) float32,
    ``urls`` (B,) str.
    """
    check_split(split)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    key = f"{split}_captions"
    if not isinstance(data, dict) or key not in data:
        raise ValueError(f"data has no '{key}': pass the dict returned by load_coco_data")
    num = data[key].shape[0]
    if num == 0:
        raise ValueError(f"data['{key}'] is empty: there is nothing to sample from")
    if rng is None:
        rng = np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    mask = rng.integers(0, num, size=int(batch_size))
    captions = _take(data[key], mask)
    image_idxs = _take(data[f"{split}_image_idxs"], mask)
    image_features = _take(data[f"{split}_features"], image_idxs)
    urls = data[f"{split}_urls"][to_numpy(image_idxs)]
    return captions, image_features, urls
