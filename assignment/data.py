"""Loading the captioning data: real COCO or the embedded synthetic dataset.

Both live in the standard COCO captioning layout (the one Stanford's
CS231n assignment uses), so the same cells work on either::

    coco2014_captions.h5        train_captions (M, 17) int32, train_image_idxs (M,) int32,
                                val_captions, val_image_idxs
    coco2014_vocab.json         {"idx_to_word": [...], "word_to_idx": {...}}, <NULL> = 0
    train2014_vgg16_fc7.h5      features (N_train, D) float32   (D = 4096 for real COCO)
    train2014_vgg16_fc7_pca.h5  features (N_train, 512) float32
    train2014_urls.txt          one image URL per feature row
    val2014_*                   the same for the validation split
    train2014_images.h5         images (N_train, H, W, 3) uint8 -- synthetic data only
    MANIFEST.json               sizes and SHA-256 of the files (synthetic, or after download)

Which folder is read (``resolve_data_dir``): the ``base_dir`` argument, else
the ``ASSIGNMENT_DATA_DIR`` environment variable, else the real COCO folder
``datasets/coco_captioning`` if it was downloaded, else the synthetic dataset
(built on first use).

Everything is checked once, here at the boundary: a missing or corrupt file, a
wrong key, dtype or shape, a caption word outside the vocabulary or files from
two different datasets raise :class:`DataError` naming the file, the problem
and the command that fixes it -- never a bare KeyError or a silently wrong
result later in training.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np

from .backend import asarray, to_numpy
from .checksums import ChecksumError, read_manifest, verify_manifest
from .images import DEFAULT_TIMEOUT, ImagePlaceholder, ImageUnavailable, download_image, fetch_images

__all__ = [
    "DataError", "REAL_COCO_DIR", "SYNTHETIC_DIR", "ENV_VAR",
    "resolve_data_dir", "load_coco_data", "verify_data_dir",
    "sample_coco_minibatch", "decode_captions", "caption_tokens",
    "references_by_image", "load_images", "image_from_url", "ImagePlaceholder",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
# Where datasets/get_coco_captioning.py puts the real data.
REAL_COCO_DIR = REPO_ROOT / "datasets" / "coco_captioning"
# The synthetic dataset's folder; None means assignment.synthetic_coco.DEFAULT_DIR.
SYNTHETIC_DIR: Path | None = None
ENV_VAR = "ASSIGNMENT_DATA_DIR"

CAPTION_LENGTH = 17  # <START>, at most 15 words, <END>, padded with <NULL>
NULL, START, END, UNK = "<NULL>", "<START>", "<END>", "<UNK>"
SPECIAL_TOKENS = (NULL, START, END, UNK)
SPLITS = ("train", "val")

CAPTIONS_FILE = "coco2014_captions.h5"
VOCAB_FILE = "coco2014_vocab.json"
BUILD_COMMAND = "python -m assignment.synthetic_coco"
DOWNLOAD_COMMAND = "python datasets/get_coco_captioning.py"


class DataError(ValueError):
    """A data folder or file is missing, corrupt or inconsistent (the message says how to fix it)."""


def features_file(split: str, pca: bool) -> str:
    """File name of the VGG-16 fc7 features of ``split`` (PCA-512 variant if ``pca``)."""
    return f"{split}2014_vgg16_fc7{'_pca' if pca else ''}.h5"


def urls_file(split: str) -> str:
    return f"{split}2014_urls.txt"


def images_file(split: str) -> str:
    return f"{split}2014_images.h5"


# --------------------------------------------------------------------------
# Which folder
# --------------------------------------------------------------------------

def _synthetic_dir() -> Path:
    if SYNTHETIC_DIR is not None:
        return Path(SYNTHETIC_DIR)
    from . import synthetic_coco  # lazy: building pulls in more than loading needs
    return Path(synthetic_coco.DEFAULT_DIR)


def _is_synthetic(directory: Path) -> bool:
    """Synthetic folders keep the rendered images; real COCO has only URLs."""
    return (directory / images_file("train")).exists() or (
        SYNTHETIC_DIR is not None and directory == Path(SYNTHETIC_DIR)
    )


def _how_to_fix(directory: Path) -> str:
    """The command that recreates ``directory``, as a sentence for error messages."""
    directory = Path(directory)
    if _is_synthetic(directory):
        default = directory.resolve() == _synthetic_dir().resolve()
        return f"Rebuild the synthetic dataset: `{BUILD_COMMAND} --force{'' if default else f' --out {directory}'}`."
    if directory.resolve() == REAL_COCO_DIR.resolve():
        return f"Download the COCO data again: `{DOWNLOAD_COMMAND} --force`."
    return (
        f"Build the synthetic dataset (`{BUILD_COMMAND}`; add --force to rebuild it), download "
        f"the real COCO data (`{DOWNLOAD_COMMAND}`), or point {ENV_VAR} / base_dir at a "
        "complete folder."
    )


def resolve_data_dir(base_dir=None) -> Path:
    """The data folder to read.

    In order: ``base_dir`` if given; the ``ASSIGNMENT_DATA_DIR`` environment
    variable; the real COCO folder ``REAL_COCO_DIR`` if it exists; the
    synthetic dataset, which is built (once, under a minute) if it is missing.
    An explicitly named folder that does not exist is an error, not a fallback.
    """
    if base_dir is not None:
        return _existing_dir(Path(base_dir), "base_dir")
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return _existing_dir(Path(env).expanduser(), f"the {ENV_VAR} environment variable")
    if REAL_COCO_DIR.is_dir():
        return REAL_COCO_DIR
    directory = _synthetic_dir()
    from . import synthetic_coco
    if not synthetic_coco.is_built(directory):
        print(
            f"No dataset found: building the synthetic COCO-layout dataset in {directory} "
            "(once; it takes under a minute, later loads are instant). "
            f"For the real COCO features run `{DOWNLOAD_COMMAND}` instead.",
            flush=True,
        )
        start = time.perf_counter()
        synthetic_coco.build_dataset(out_dir=directory)
        print(f"Built the synthetic dataset in {time.perf_counter() - start:.0f} s.", flush=True)
    return directory


def _existing_dir(directory: Path, where: str) -> Path:
    if not directory.exists():
        raise DataError(
            f"Data folder {directory} (from {where}) does not exist. {_how_to_fix(directory)}"
        )
    if not directory.is_dir():
        raise DataError(f"{directory} (from {where}) is a file, not a data folder.")
    return directory


# --------------------------------------------------------------------------
# Checked readers: each raises DataError naming the file
# --------------------------------------------------------------------------

def _require_file(directory: Path, name: str) -> Path:
    path = directory / name
    if not path.is_file():
        raise DataError(f"{path} is missing from the data folder {directory}. {_how_to_fix(directory)}")
    return path


@contextmanager
def _open_h5(path: Path, directory: Path):
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise DataError(
            f"{path} is not a valid HDF5 file ({err}): it is corrupt or was only partly "
            f"written. {_how_to_fix(directory)}"
        ) from None
    with f:
        yield f


# dtype kinds accepted for each expected type, and the dtype the files normally have.
_KINDS = {"integer": ("iu", "int32"), "floating-point": ("f", "float32"), "uint8": ("u", "uint8")}


def _h5_dataset(f, path: Path, key: str, kind: str, ndim: int, directory: Path) -> h5py.Dataset:
    """``f[key]`` after checking it exists, has the dtype ``kind`` and ``ndim`` dims (data not read)."""
    found = sorted(f.keys())
    if key not in f or not isinstance(f[key], h5py.Dataset):
        raise DataError(
            f"{path} has no dataset '{key}' (found: {found}). {_how_to_fix(directory)}"
        )
    ds = f[key]
    kinds, usual = _KINDS[kind]
    if ds.dtype.kind not in kinds or (kind == "uint8" and ds.dtype != np.uint8):
        raise DataError(
            f"{path}: dataset '{key}' has dtype {ds.dtype}, expected {kind} ({usual}). "
            f"{_how_to_fix(directory)}"
        )
    if ds.ndim != ndim:
        raise DataError(
            f"{path}: dataset '{key}' has shape {ds.shape} ({ds.ndim}-D), expected a "
            f"{ndim}-D array. {_how_to_fix(directory)}"
        )
    return ds


def _dataset_id(f) -> str | None:
    value = f.attrs.get("dataset_id")
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode()
    return str(value)


def _load_vocab(directory: Path) -> tuple[list, dict]:
    """``idx_to_word`` (list of V words) and ``word_to_idx`` (dict), checked to agree."""
    path = _require_file(directory, VOCAB_FILE)
    try:
        vocab = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise DataError(f"{path} is not valid JSON ({err}): the file is corrupt. {_how_to_fix(directory)}") from None
    if not isinstance(vocab, dict):
        raise DataError(f"{path} must hold a JSON object with 'idx_to_word' and 'word_to_idx', "
                        f"found a {type(vocab).__name__}. {_how_to_fix(directory)}")
    for key in ("idx_to_word", "word_to_idx"):
        if key not in vocab:
            raise DataError(f"{path} has no key '{key}' (found: {sorted(vocab)}). {_how_to_fix(directory)}")
    idx_to_word, word_to_idx = vocab["idx_to_word"], vocab["word_to_idx"]
    if not isinstance(idx_to_word, list) or not all(isinstance(w, str) for w in idx_to_word):
        raise DataError(f"{path}: 'idx_to_word' must be a list of words. {_how_to_fix(directory)}")
    if not isinstance(word_to_idx, dict) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in word_to_idx.values()
    ):
        raise DataError(f"{path}: 'word_to_idx' must map words to integer indices. {_how_to_fix(directory)}")
    if len(idx_to_word) != len(word_to_idx):
        raise DataError(
            f"{path}: 'idx_to_word' has {len(idx_to_word)} words but 'word_to_idx' has "
            f"{len(word_to_idx)}: the two halves of the vocabulary disagree. {_how_to_fix(directory)}"
        )
    for i, word in enumerate(idx_to_word):
        if word_to_idx.get(word) != i:
            raise DataError(
                f"{path}: the vocabulary disagrees with itself: idx_to_word[{i}] is {word!r} "
                f"but word_to_idx[{word!r}] is {word_to_idx.get(word)}. {_how_to_fix(directory)}"
            )
    if not idx_to_word or idx_to_word[0] != NULL:
        first = idx_to_word[0] if idx_to_word else None
        raise DataError(
            f"{path}: '<NULL>' must be word 0 (the padding index the loss masks out), "
            f"found {first!r}. {_how_to_fix(directory)}"
        )
    missing = [t for t in SPECIAL_TOKENS if t not in word_to_idx]
    if missing:
        raise DataError(
            f"{path}: the vocabulary lacks the special tokens {missing} (needs all of "
            f"{list(SPECIAL_TOKENS)}). {_how_to_fix(directory)}"
        )
    return idx_to_word, word_to_idx


def _out_of_range(indices: np.ndarray, upper: int):
    """An entry of ``indices`` outside [0, upper), or None if all are inside."""
    if indices.size == 0:
        return None
    if indices.max() >= upper:
        return indices.max()
    return indices.min() if indices.min() < 0 else None


def _load_captions(directory: Path, vocab_size: int) -> tuple[dict, Path, str | None]:
    """Caption arrays of both splits, checked for dtype, shape and vocabulary range."""
    path = _require_file(directory, CAPTIONS_FILE)
    out = {}
    with _open_h5(path, directory) as f:
        for split in SPLITS:
            caps = _h5_dataset(f, path, f"{split}_captions", "integer", 2, directory)
            idxs = _h5_dataset(f, path, f"{split}_image_idxs", "integer", 1, directory)
            out[f"{split}_captions"] = np.asarray(caps).astype(np.int32, copy=False)
            out[f"{split}_image_idxs"] = np.asarray(idxs).astype(np.int32, copy=False)
        dataset_id = _dataset_id(f)
    widths = {split: out[f"{split}_captions"].shape[1] for split in SPLITS}
    if widths["train"] != widths["val"]:
        raise DataError(
            f"{path}: train_captions have {widths['train']} columns but val_captions have "
            f"{widths['val']}; both must be {CAPTION_LENGTH}. {_how_to_fix(directory)}"
        )
    for split in SPLITS:
        caps, idxs = out[f"{split}_captions"], out[f"{split}_image_idxs"]
        if caps.shape[1] != CAPTION_LENGTH:
            raise DataError(
                f"{path}: {split}_captions has shape {caps.shape}, expected (M, {CAPTION_LENGTH}) "
                f"(captions padded to {CAPTION_LENGTH} tokens). {_how_to_fix(directory)}"
            )
        if idxs.shape[0] != caps.shape[0]:
            raise DataError(
                f"{path}: {split}_image_idxs has {idxs.shape[0]} entries but {split}_captions has "
                f"{caps.shape[0]} rows (one image index per caption). {_how_to_fix(directory)}"
            )
        bad = _out_of_range(caps, vocab_size)
        if bad is not None:
            raise DataError(
                f"{path}: {split}_captions contains word index {bad}, outside the vocabulary "
                f"of {vocab_size} words in {directory / VOCAB_FILE}: the captions and the "
                f"vocabulary come from different datasets. {_how_to_fix(directory)}"
            )
    return out, path, dataset_id


def _feature_rows(directory: Path, split: str, pca: bool, load: bool):
    """(features or None, rows, dim, path, dataset_id) of one features file."""
    path = _require_file(directory, features_file(split, pca))
    with _open_h5(path, directory) as f:
        ds = _h5_dataset(f, path, "features", "floating-point", 2, directory)
        rows, dim = ds.shape
        features = np.asarray(ds).astype(np.float32, copy=False) if load else None
        return features, rows, dim, path, _dataset_id(f)


def _load_urls(directory: Path, split: str, rows: int, features_path: Path) -> np.ndarray:
    path = _require_file(directory, urls_file(split))
    try:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    except UnicodeDecodeError as err:
        raise DataError(f"{path} is not a UTF-8 text file ({err}): it is corrupt. {_how_to_fix(directory)}") from None
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) != rows:
        raise DataError(
            f"{path} has {len(lines)} URLs but {features_path} has {rows} feature rows "
            f"(one URL per image). {_how_to_fix(directory)}"
        )
    return np.array(lines, dtype=str)


def _check_images_file(directory: Path, split: str, rows: int, features_path: Path):
    """Shape check of the optional images file; returns its dataset_id (or None)."""
    path = directory / images_file(split)
    if not path.exists():
        return None
    with _open_h5(path, directory) as f:
        ds = _h5_dataset(f, path, "images", "uint8", 4, directory)
        if ds.shape[0] != rows or ds.shape[3] != 3:
            raise DataError(
                f"{path}: 'images' has shape {ds.shape}, expected ({rows}, H, W, 3) to match "
                f"the {rows} feature rows of {features_path}. {_how_to_fix(directory)}"
            )
        return _dataset_id(f)


def _check_manifest(directory: Path, full: bool) -> list:
    """Sizes (or SHA-256 if ``full``) of the files listed in the manifest; names checked."""
    try:
        manifest = read_manifest(directory)
        verify_manifest(directory, quick=not full)
    except ChecksumError as err:
        hint = "" if _is_synthetic(directory) else f" (For downloaded COCO data: `{DOWNLOAD_COMMAND} --force`.)"
        raise DataError(f"{err}{hint}") from None
    return sorted(manifest["files"]) if manifest else []


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------

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
    _check_manifest(directory, full=False)

    idx_to_word, word_to_idx = _load_vocab(directory)
    data, captions_path, captions_id = _load_captions(directory, len(idx_to_word))
    ids = [(captions_path, captions_id)]
    dims = {}
    for split in SPLITS:
        features, rows, dim, path, fid = _feature_rows(directory, split, pca_features, load=True)
        ids.append((path, fid))
        dims[split] = (dim, path)
        # The other variant is not loaded, only checked to describe the same images.
        other = directory / features_file(split, not pca_features)
        if other.exists():
            _, other_rows, _, _, other_id = _feature_rows(directory, split, not pca_features, load=False)
            ids.append((other, other_id))
            if other_rows != rows:
                raise DataError(
                    f"{other} has {other_rows} feature rows but {path} has {rows}: the raw and "
                    f"PCA features must describe the same images. {_how_to_fix(directory)}"
                )
        data[f"{split}_features"] = features
        data[f"{split}_urls"] = _load_urls(directory, split, rows, path)
        ids.append((directory / images_file(split), _check_images_file(directory, split, rows, path)))
        image_idxs = data[f"{split}_image_idxs"]
        bad = _out_of_range(image_idxs, rows)
        if bad is not None:
            raise DataError(
                f"{captions_path}: {split}_image_idxs contains image index {bad} but {path} has "
                f"only {rows} feature rows: the captions and the features come from different "
                f"datasets. {_how_to_fix(directory)}"
            )
    if dims["train"][0] != dims["val"][0]:
        raise DataError(
            f"{dims['train'][1]} has {dims['train'][0]}-d features but {dims['val'][1]} has "
            f"{dims['val'][0]}-d ones: they come from different feature extractors. {_how_to_fix(directory)}"
        )
    known = [(p, i) for p, i in ids if i is not None]
    for path, dataset_id in known[1:]:
        if dataset_id != known[0][1]:
            raise DataError(
                f"{path} belongs to dataset {dataset_id!r} but {known[0][0]} belongs to "
                f"{known[0][1]!r}: the folder mixes files of two different datasets. "
                f"{_how_to_fix(directory)}"
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


def verify_data_dir(base_dir=None, full=False) -> list:
    """Check the files of a data folder against its ``MANIFEST.json``.

    ``full=False`` compares sizes (what every load does); ``full=True``
    recomputes the SHA-256 of every file (seconds for the synthetic data,
    about a minute for real COCO). Returns the names of the files checked
    (empty if the folder has no manifest, e.g. COCO copied by hand); raises
    DataError naming the first file that does not match.
    """
    return _check_manifest(resolve_data_dir(base_dir), full=full)


def _check_split(split) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    return split


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
    _check_split(split)
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
            if word != NULL:
                words.append(word)
            if word == END:
                break
        decoded.append(" ".join(words))
    return decoded[0] if singleton else decoded


def caption_tokens(caption, idx_to_word) -> list:
    """The words of one caption (T,) without <START>, <END> and <NULL> (what BLEU compares)."""
    tokens = []
    for idx in to_numpy(np.asarray(caption) if isinstance(caption, (list, tuple)) else caption).ravel():
        word = idx_to_word[int(idx)]
        if word == END:
            break
        if word not in (NULL, START):
            tokens.append(word)
    return tokens


def references_by_image(data, split) -> dict:
    """All reference captions of each image of ``split``: image_idx -> list of token lists."""
    _check_split(split)
    refs: dict = {}
    idx_to_word = data["idx_to_word"]
    for caption, image_idx in zip(data[f"{split}_captions"], data[f"{split}_image_idxs"]):
        refs.setdefault(int(image_idx), []).append(caption_tokens(caption, idx_to_word))
    return refs


def image_from_url(url: str, timeout: float = DEFAULT_TIMEOUT) -> np.ndarray:
    """Download one image and decode it to uint8 (H, W, 3).

    Raises DataError when the image cannot be fetched (no internet, dead link,
    no answer within ``timeout`` seconds) or decoded.
    """
    try:
        return download_image(url, timeout)
    except ImageUnavailable as err:
        raise _image_error(err) from None


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
    _check_split(split)
    idxs = np.atleast_1d(to_numpy(np.asarray(image_idxs) if isinstance(image_idxs, (list, tuple, int)) else image_idxs))
    if idxs.dtype.kind not in "iu":
        raise ValueError(f"image_idxs must be integers, got dtype {idxs.dtype}")
    rows = len(data[f"{split}_urls"])
    if idxs.size and (idxs.min() < 0 or idxs.max() >= rows):
        raise ValueError(f"image_idxs must lie in [0, {rows}) for split '{split}', got {idxs.min()}..{idxs.max()}")
    directory = Path(data["base_dir"])
    path = directory / images_file(split)
    if path.exists():
        with _open_h5(path, directory) as f:
            ds = _h5_dataset(f, path, "images", "uint8", 4, directory)
            if idxs.size == 0:
                return np.zeros((0,) + ds.shape[1:], dtype=np.uint8)
            # h5py reads sorted unique indices; the inverse puts them back in order.
            unique, inverse = np.unique(idxs, return_inverse=True)
            return ds[unique][inverse.reshape(-1)]
    try:
        return fetch_images(data[f"{split}_urls"][idxs], timeout, placeholders=placeholders)
    except ImageUnavailable as err:
        raise _image_error(err) from None
