"""Checked readers of the data files: each one raises DataError naming the file, the problem and the fix.

Everything is checked once, here at the boundary: a missing or corrupt file,
a wrong key, dtype or shape, or a caption word outside the vocabulary is
reported with the file's path, never as a bare KeyError or a silently wrong
result later in training.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

from ..checksums import ChecksumError, verify_manifest
from ..coco_format import (
    CAPTION_LENGTH, CAPTIONS_FILE, NULL_TOKEN, SPECIAL_TOKENS, SPLITS, VOCAB_FILE, features_file,
    images_file, urls_file,
)
from .folders import DataError, how_to_fix


def require_file(directory: Path, name: str) -> Path:
    path = directory / name
    if not path.is_file():
        raise DataError(f"{path} is missing from the data folder {directory}. {how_to_fix(directory)}")
    return path


@contextmanager
def open_h5(path: Path, directory: Path):
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise DataError(
            f"{path} is not a valid HDF5 file ({err}): it is corrupt or was only partly "
            f"written. {how_to_fix(directory)}"
        ) from None
    with f:
        yield f


# dtype kinds accepted for each expected type, and the dtype the files normally have.
_KINDS = {"integer": ("iu", "int32"), "floating-point": ("f", "float32"), "uint8": ("u", "uint8")}


def h5_dataset(f, path: Path, key: str, kind: str, ndim: int, directory: Path) -> h5py.Dataset:
    """``f[key]`` after checking it exists, has the dtype ``kind`` and ``ndim`` dims (data not read)."""
    found = sorted(f.keys())
    if key not in f or not isinstance(f[key], h5py.Dataset):
        raise DataError(
            f"{path} has no dataset '{key}' (found: {found}). {how_to_fix(directory)}"
        )
    ds = f[key]
    kinds, usual = _KINDS[kind]
    if ds.dtype.kind not in kinds or (kind == "uint8" and ds.dtype != np.uint8):
        raise DataError(
            f"{path}: dataset '{key}' has dtype {ds.dtype}, expected {kind} ({usual}). "
            f"{how_to_fix(directory)}"
        )
    if ds.ndim != ndim:
        raise DataError(
            f"{path}: dataset '{key}' has shape {ds.shape} ({ds.ndim}-D), expected a "
            f"{ndim}-D array. {how_to_fix(directory)}"
        )
    return ds


def file_dataset_id(f) -> str | None:
    value = f.attrs.get("dataset_id")
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode()
    return str(value)


def load_vocab(directory: Path) -> tuple[list, dict]:
    """``idx_to_word`` (list of V words) and ``word_to_idx`` (dict), checked to agree."""
    path = require_file(directory, VOCAB_FILE)
    try:
        vocab = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise DataError(f"{path} is not valid JSON ({err}): the file is corrupt. {how_to_fix(directory)}") from None
    if not isinstance(vocab, dict):
        raise DataError(f"{path} must hold a JSON object with 'idx_to_word' and 'word_to_idx', "
                        f"found a {type(vocab).__name__}. {how_to_fix(directory)}")
    for key in ("idx_to_word", "word_to_idx"):
        if key not in vocab:
            raise DataError(f"{path} has no key '{key}' (found: {sorted(vocab)}). {how_to_fix(directory)}")
    idx_to_word, word_to_idx = vocab["idx_to_word"], vocab["word_to_idx"]
    if not isinstance(idx_to_word, list) or not all(isinstance(w, str) for w in idx_to_word):
        raise DataError(f"{path}: 'idx_to_word' must be a list of words. {how_to_fix(directory)}")
    if not isinstance(word_to_idx, dict) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in word_to_idx.values()
    ):
        raise DataError(f"{path}: 'word_to_idx' must map words to integer indices. {how_to_fix(directory)}")
    if len(idx_to_word) != len(word_to_idx):
        raise DataError(
            f"{path}: 'idx_to_word' has {len(idx_to_word)} words but 'word_to_idx' has "
            f"{len(word_to_idx)}: the two halves of the vocabulary disagree. {how_to_fix(directory)}"
        )
    for i, word in enumerate(idx_to_word):
        if word_to_idx.get(word) != i:
            raise DataError(
                f"{path}: the vocabulary disagrees with itself: idx_to_word[{i}] is {word!r} "
                f"but word_to_idx[{word!r}] is {word_to_idx.get(word)}. {how_to_fix(directory)}"
            )
    if not idx_to_word or idx_to_word[0] != NULL_TOKEN:
        first = idx_to_word[0] if idx_to_word else None
        raise DataError(
            f"{path}: {NULL_TOKEN!r} must be word 0 (the padding index the loss masks out), "
            f"found {first!r}. {how_to_fix(directory)}"
        )
    missing = [t for t in SPECIAL_TOKENS if t not in word_to_idx]
    if missing:
        raise DataError(
            f"{path}: the vocabulary lacks the special tokens {missing} (needs all of "
            f"{list(SPECIAL_TOKENS)}). {how_to_fix(directory)}"
        )
    return idx_to_word, word_to_idx


def out_of_range(indices: np.ndarray, upper: int):
    """An entry of ``indices`` outside [0, upper), or None if all are inside."""
    if indices.size == 0:
        return None
    if indices.max() >= upper:
        return indices.max()
    return indices.min() if indices.min() < 0 else None


def load_captions(directory: Path, vocab_size: int) -> tuple[dict, Path, str | None]:
    """Caption arrays of both splits, checked for dtype, shape and vocabulary range."""
    path = require_file(directory, CAPTIONS_FILE)
    out = {}
    with open_h5(path, directory) as f:
        for split in SPLITS:
            caps = h5_dataset(f, path, f"{split}_captions", "integer", 2, directory)
            idxs = h5_dataset(f, path, f"{split}_image_idxs", "integer", 1, directory)
            out[f"{split}_captions"] = np.asarray(caps).astype(np.int32, copy=False)
            out[f"{split}_image_idxs"] = np.asarray(idxs).astype(np.int32, copy=False)
        dataset_id = file_dataset_id(f)
    widths = {split: out[f"{split}_captions"].shape[1] for split in SPLITS}
    if widths["train"] != widths["val"]:
        raise DataError(
            f"{path}: train_captions have {widths['train']} columns but val_captions have "
            f"{widths['val']}; both must be {CAPTION_LENGTH}. {how_to_fix(directory)}"
        )
    for split in SPLITS:
        caps, idxs = out[f"{split}_captions"], out[f"{split}_image_idxs"]
        if caps.shape[1] != CAPTION_LENGTH:
            raise DataError(
                f"{path}: {split}_captions has shape {caps.shape}, expected (M, {CAPTION_LENGTH}) "
                f"(captions padded to {CAPTION_LENGTH} tokens). {how_to_fix(directory)}"
            )
        if idxs.shape[0] != caps.shape[0]:
            raise DataError(
                f"{path}: {split}_image_idxs has {idxs.shape[0]} entries but {split}_captions has "
                f"{caps.shape[0]} rows (one image index per caption). {how_to_fix(directory)}"
            )
        bad = out_of_range(caps, vocab_size)
        if bad is not None:
            raise DataError(
                f"{path}: {split}_captions contains word index {bad}, outside the vocabulary "
                f"of {vocab_size} words in {directory / VOCAB_FILE}: the captions and the "
                f"vocabulary come from different datasets. {how_to_fix(directory)}"
            )
    return out, path, dataset_id


def feature_rows(directory: Path, split: str, pca: bool, load: bool):
    """(features or None, rows, dim, path, dataset_id) of one features file."""
    path = require_file(directory, features_file(split, pca))
    with open_h5(path, directory) as f:
        ds = h5_dataset(f, path, "features", "floating-point", 2, directory)
        rows, dim = ds.shape
        features = np.asarray(ds).astype(np.float32, copy=False) if load else None
        return features, rows, dim, path, file_dataset_id(f)


def load_urls(directory: Path, split: str, rows: int, features_path: Path) -> np.ndarray:
    path = require_file(directory, urls_file(split))
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except UnicodeDecodeError as err:
        raise DataError(f"{path} is not a UTF-8 text file ({err}): it is corrupt. {how_to_fix(directory)}") from None
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) != rows:
        raise DataError(
            f"{path} has {len(lines)} URLs but {features_path} has {rows} feature rows "
            f"(one URL per image). {how_to_fix(directory)}"
        )
    return np.array(lines, dtype=str)


def check_images_file(directory: Path, split: str, rows: int, features_path: Path):
    """Shape check of the optional images file; returns its dataset_id (or None)."""
    path = directory / images_file(split)
    if not path.exists():
        return None
    with open_h5(path, directory) as f:
        ds = h5_dataset(f, path, "images", "uint8", 4, directory)
        if ds.shape[0] != rows or ds.shape[3] != 3:
            raise DataError(
                f"{path}: 'images' has shape {ds.shape}, expected ({rows}, H, W, 3) to match "
                f"the {rows} feature rows of {features_path}. {how_to_fix(directory)}"
            )
        return file_dataset_id(f)


def check_manifest(directory: Path) -> None:
    """Sizes of the files listed in the folder's ``MANIFEST.json`` (if it has one); names checked."""
    try:
        verify_manifest(directory, quick=True)
    except ChecksumError as err:
        raise DataError(f"{err} {how_to_fix(directory)}") from None
