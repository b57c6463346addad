"""Deterministic .npz files with a JSON index: the container of the check files and grading inputs.

An .npz (a zip of .npy files, no pickles) whose ``__index__`` member holds a
JSON document (as uint8) that says what the arrays are. The same arrays give
the same bytes (sorted entries, fixed timestamps).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["INDEX", "ArrayStore", "write_npz", "encode_index", "decode_index"]

INDEX = "__index__"   # the member that holds the JSON index


class ArrayStore:
    """Arrays to write, each stored once (keyed by dtype, shape and bytes) under 'a<n>'."""

    def __init__(self):
        self.arrays, self._keys = {}, {}

    def add(self, a: np.ndarray) -> tuple[str, bool]:
        """The key of a C-contiguous array, and whether it is new to the store."""
        digest = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()
        if digest in self._keys:
            return self._keys[digest], False
        self._keys[digest] = f"a{len(self.arrays)}"
        self.arrays[self._keys[digest]] = a.copy()
        return self._keys[digest], True


def encode_index(index: dict, *, sort_keys=False) -> np.ndarray:
    """The JSON index as the uint8 array stored under ``INDEX``."""
    return np.frombuffer(json.dumps(index, sort_keys=sort_keys).encode(), dtype=np.uint8)


def decode_index(data) -> object:
    """The JSON index of an open .npz (``np.load``); KeyError when it has none."""
    return json.loads(bytes(data[INDEX]).decode())


def write_npz(path, arrays: dict) -> Path:
    """Write ``arrays`` as an .npz (no pickles), byte-identical for the same arrays.

    Entries sorted, fixed timestamps; written to a temporary file, then moved
    into place, so a reader never sees half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[key], order="C"), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())
    os.replace(tmp, path)
    return path
