"""``load_coco_data``: every file of a data folder read, checked against the others, in one dict.

Each file is read by a checked reader (``readers``); here the files are
checked against each other: the same number of images in features, URLs and
images, caption image indices within range, one feature size, and no files
from two different datasets (their ``dataset_id`` attributes).
"""

from __future__ import annotations

import numpy as np

from ..coco_format import SPLITS, features_file, images_file
from .folders import DataError, how_to_fix, resolve_data_dir
from .readers import (
    check_images_file, check_manifest, feature_rows, load_captions, load_urls, load_vocab, out_of_range,
)


def load_coco_data(base_dir=None, max_train=None, pca_features=True, seed=231) -> dict:
    """Load the captioning data of ``base_dir`` (see ``resolve_data_dir`` for the default).

    Inputs:
        base_dir: data folder, or None to resolve it
        max_train: keep only this many training captions, drawn without
            replacement by ``numpy.random.default_rng(seed)`` (None: all)
        pca_features: True for the 512-d PCA features, False for the raw fc7 ones
        seed: seed of the ``max_train`` subsample

    Returns a dict (as in Stanford's CS231n assignment):
        train_captions (M, 17) int32        word indices, <START> ... <END> <NULL>...
        train_image_idxs (M,) int32         feature row of each caption's image
        val_captions (M_val, 17) int32, val_image_idxs (M_val,) int32
        train_features (N, D) float32       D = 512 with pca_features
        val_features (N_val, D) float32
        idx_to_word list of V words, word_to_idx dict word -> index (<NULL> = 0)
        train_urls (N,) str, val_urls (N_val,) str   one URL per feature row
        base_dir str                        the folder that was read

    Raises DataError (a ValueError) naming the file and the fix if anything is
    missing, corrupt or inconsistent.
    """
    directory = resolve_data_dir(base_dir)
    check_manifest(directory)

    idx_to_word, word_to_idx = load_vocab(directory)
    data, captions_path, captions_id = load_captions(directory, len(idx_to_word))
    ids = [(captions_path, captions_id)]
    dims = {}
    for split in SPLITS:
        features, rows, dim, path, fid = feature_rows(directory, split, pca_features, load=True)
        ids.append((path, fid))
        dims[split] = (dim, path)
        # The other variant is not loaded, only checked to describe the same images.
        other = directory / features_file(split, not pca_features)
        if other.exists():
            _, other_rows, _, _, other_id = feature_rows(directory, split, not pca_features, load=False)
            ids.append((other, other_id))
            if other_rows != rows:
                raise DataError(
                    f"{other} has {other_rows} feature rows but {path} has {rows}: the raw and "
                    f"PCA features must describe the same images. {how_to_fix(directory)}"
                )
        data[f"{split}_features"] = features
        data[f"{split}_urls"] = load_urls(directory, split, rows, path)
        ids.append((directory / images_file(split), check_images_file(directory, split, rows, path)))
        image_idxs = data[f"{split}_image_idxs"]
        bad = out_of_range(image_idxs, rows)
        if bad is not None:
            raise DataError(
                f"{captions_path}: {split}_image_idxs contains image index {bad} but {path} has "
                f"only {rows} feature rows: the captions and the features come from different "
                f"datasets. {how_to_fix(directory)}"
            )
    if dims["train"][0] != dims["val"][0]:
        raise DataError(
            f"{dims['train'][1]} has {dims['train'][0]}-d features but {dims['val'][1]} has "
            f"{dims['val'][0]}-d ones: they come from different feature extractors. {how_to_fix(directory)}"
        )
    known = [(p, i) for p, i in ids if i is not None]
    for path, dataset_id in known[1:]:
        if dataset_id != known[0][1]:
            raise DataError(
                f"{path} belongs to dataset {dataset_id!r} but {known[0][0]} belongs to "
                f"{known[0][1]!r}: the folder mixes files of two different datasets. "
                f"{how_to_fix(directory)}"
            )

    if max_train is not None:
        if isinstance(max_train, bool) or not isinstance(max_train, (int, np.integer)) or max_train < 1:
            raise ValueError(f"max_train must be a positive integer or None, got {max_train!r}")
        num_train = data["train_captions"].shape[0]
        if max_train < num_train:
            keep = np.random.default_rng(seed).choice(num_train, size=int(max_train), replace=False)
            data["train_captions"] = data["train_captions"][keep]
            data["train_image_idxs"] = data["train_image_idxs"][keep]

    data["idx_to_word"] = idx_to_word
    data["word_to_idx"] = word_to_idx
    data["base_dir"] = str(directory)
    return data
