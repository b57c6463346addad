"""Which data folder is read, and the command that recreates a broken one.

Order (``resolve_data_dir``): the ``base_dir`` argument, else the
``ASSIGNMENT_DATA_DIR`` environment variable, else the real COCO folder
``datasets/coco_captioning`` if it was downloaded, else the synthetic dataset
(built on first use). Every ``DataError`` ends with ``how_to_fix``: the
command that rebuilds or downloads that folder.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .. import synthetic_coco
from ..coco_format import images_file
from ..synthetic_coco.cli import BUILD_COMMAND

REPO_ROOT = Path(__file__).resolve().parents[2]
# Where datasets/get_coco_captioning.py puts the real data.
REAL_COCO_DIR = REPO_ROOT / "datasets" / "coco_captioning"
# Where the synthetic dataset is built on first use, when there is no other data.
SYNTHETIC_DIR = synthetic_coco.DEFAULT_DIR
ENV_VAR = "ASSIGNMENT_DATA_DIR"

DOWNLOAD_COMMAND = "python datasets/get_coco_captioning.py"


class DataError(ValueError):
    """A data folder or file is missing, corrupt or inconsistent (the message says how to fix it)."""


def _is_synthetic(directory: Path) -> bool:
    """Synthetic folders keep the rendered images; real COCO has only URLs."""
    return (directory / images_file("train")).exists() or directory.resolve() == SYNTHETIC_DIR.resolve()


def how_to_fix(directory: Path) -> str:
    """The command that recreates ``directory``, as a sentence for error messages."""
    directory = Path(directory)
    if _is_synthetic(directory):
        default = directory.resolve() == SYNTHETIC_DIR.resolve()
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
    directory = SYNTHETIC_DIR
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
            f"Data folder {directory} (from {where}) does not exist. {how_to_fix(directory)}"
        )
    if not directory.is_dir():
        raise DataError(f"{directory} (from {where}) is a file, not a data folder.")
    return directory
