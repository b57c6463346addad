"""What a complete synthetic build is: its files, its default folder, its name.

A build is named by its ``dataset_id`` (from the seed, the sizes and
BUILDER_VERSION); every .h5 file carries it as a root attribute so the loader
can tell when files from two builds are mixed. ``MANIFEST.json``, written
last, lists the size and SHA-256 of every file and the build parameters: a
folder is complete when its manifest lists every file and every file matches.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..checksums import ChecksumError, read_manifest, verify_manifest
from ..coco_format import CAPTIONS_FILE, VOCAB_FILE, features_file, images_file, urls_file

# Bump when anything changes the bytes written for a given seed: the
# dataset_id changes with it, so old folders are rebuilt instead of reused.
BUILDER_VERSION = "1"

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "datasets" / "synthetic_coco"


def _split_files(split: str) -> list[str]:
    return [features_file(split, pca=False), features_file(split, pca=True), urls_file(split),
            images_file(split)]


# Every data file of a complete build (MANIFEST.json lists exactly these).
FILENAMES = (CAPTIONS_FILE, VOCAB_FILE, *_split_files("train"), *_split_files("val"))


def dataset_id(seed: int, num_train: int, num_val: int, captions_per_image: int) -> str:
    """A short name that changes with anything that changes the files."""
    params = f"v{BUILDER_VERSION}-seed{seed}-train{num_train}-val{num_val}-cap{captions_per_image}"
    digest = hashlib.sha256(params.encode()).hexdigest()[:8]
    return f"synthetic_coco-{params}-{digest}"


def build_params(seed, num_train, num_val, captions_per_image) -> dict:
    """The parameters a build records in its manifest (they decide every byte it writes)."""
    return {"dataset": "synthetic_coco", "builder_version": BUILDER_VERSION, "seed": seed,
            "num_train": num_train, "num_val": num_val, "captions_per_image": captions_per_image,
            "dataset_id": dataset_id(seed, num_train, num_val, captions_per_image)}


def file_sizes_mb(directory: Path) -> dict[str, float]:
    return {name: round((directory / name).stat().st_size / 2**20, 2) for name in FILENAMES}


def is_built(out_dir: str | Path = DEFAULT_DIR) -> bool:
    """Whether ``out_dir`` holds a complete build: a manifest listing every
    data file, and every file present with the size the manifest records."""
    out_dir = Path(out_dir)
    try:
        manifest = read_manifest(out_dir)
        if manifest is None or not set(FILENAMES) <= set(manifest["files"]):
            return False
        verify_manifest(out_dir, FILENAMES, quick=True)
    except ChecksumError:
        return False
    return True


def matching_build(out_dir: Path, params: dict) -> dict | None:
    """The manifest of ``out_dir`` if it is a verified build with ``params``."""
    if not is_built(out_dir):
        return None
    manifest = read_manifest(out_dir)
    if any(manifest.get(key) != value for key, value in params.items()):
        return None
    try:
        verify_manifest(out_dir, FILENAMES)  # full SHA-256 check, a second or two
    except ChecksumError:
        return None
    return manifest
