"""The images of feature rows: read from the synthetic images file, or downloaded for real COCO."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..backend import to_numpy
from ..coco_format import check_split, images_file
from ..images import DEFAULT_TIMEOUT, ImageUnavailable, fetch_images
from .folders import DataError
from .readers import h5_dataset, open_h5


def _image_error(err: ImageUnavailable) -> DataError:
    return DataError(
        f"Could not download the image {err.url} ({err.reason}). Real COCO images are fetched "
        "from their URLs, which needs internet access; the features, and so training "
        "and sampling captions, work offline. The synthetic dataset ships its images."
    )


def load_images(data, split, image_idxs, timeout=DEFAULT_TIMEOUT, placeholders=True):
    """The images with feature rows ``image_idxs`` (n,) of ``split``.

    Synthetic data: read from ``{split}2014_images.h5``, a uint8 array
    (n, H, W, 3). Real COCO: downloaded from the URLs, in parallel (needs
    internet); the images differ in size, so the result is a list of n uint8
    (H_i, W_i, 3) arrays. An image that cannot be had within ``timeout``
    seconds (dead link, slow or no network) is a grey ``ImagePlaceholder``
    whose ``reason`` says why, and the plots write that reason on it: a
    picture never stops the notebook. ``placeholders=False`` raises DataError
    instead.
    """
    check_split(split)
    idxs = np.atleast_1d(to_numpy(np.asarray(image_idxs) if isinstance(image_idxs, (list, tuple, int)) else image_idxs))
    if idxs.dtype.kind not in "iu":
        raise ValueError(f"image_idxs must be integers, got dtype {idxs.dtype}")
    rows = len(data[f"{split}_urls"])
    if idxs.size and (idxs.min() < 0 or idxs.max() >= rows):
        raise ValueError(f"image_idxs must lie in [0, {rows}) for split '{split}', got {idxs.min()}..{idxs.max()}")
    directory = Path(data["base_dir"])
    path = directory / images_file(split)
    if path.exists():
        with open_h5(path, directory) as f:
            ds = h5_dataset(f, path, "images", "uint8", 4, directory)
            if idxs.size == 0:
                return np.zeros((0,) + ds.shape[1:], dtype=np.uint8)
            # h5py reads sorted unique indices; the inverse puts them back in order.
            unique, inverse = np.unique(idxs, return_inverse=True)
            return ds[unique][inverse.reshape(-1)]
    try:
        return fetch_images(data[f"{split}_urls"][idxs], timeout, placeholders=placeholders)
    except ImageUnavailable as err:
        raise _image_error(err) from None
