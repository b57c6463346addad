"""Writing the HDF5 files of a build, byte-identical for the same content.

Every file carries the root attribute ``dataset_id``; no timestamps are
stored (``track_times=False``), so rebuilding gives the same bytes. The
images file also holds the scenes in its ``attributes`` group (the layout is
described in the package docstring).
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from .scenes import BACKGROUNDS, COLORS, COLS, IMAGE_SIZE, ROWS, SHAPES, SIZES, Scene, scene_attributes


def write_h5(path: Path, dataset_id: str, arrays: dict[str, np.ndarray], **dataset_options) -> None:
    with h5py.File(path, "w") as f:
        f.attrs["dataset_id"] = dataset_id
        for key, value in arrays.items():
            f.create_dataset(key, data=value, track_times=False, **dataset_options)


def write_images(path: Path, dataset_id: str, images: np.ndarray, scenes: list[Scene]) -> None:
    with h5py.File(path, "w") as f:
        f.attrs["dataset_id"] = dataset_id
        # One chunk per image: showing one image reads one small chunk.
        f.create_dataset("images", data=images, chunks=(1, IMAGE_SIZE, IMAGE_SIZE, 3),
                         compression="gzip", compression_opts=4, track_times=False)
        group = f.create_group("attributes")
        for key, value in scene_attributes(scenes).items():
            group.create_dataset(key, data=value, track_times=False)
        names = {"color_names": COLORS, "shape_names": SHAPES, "size_names": SIZES,
                 "background_names": BACKGROUNDS, "row_names": ROWS, "col_names": COLS}
        for key, value in names.items():
            group.attrs[key] = json.dumps(list(value))
        group.attrs["padding"] = -1
