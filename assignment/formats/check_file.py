"""Check files: ``assignment/public_checks.npz`` and the instructors' references file.

One .npz (``npz.write_npz``, no pickles). ``__index__`` holds a JSON index
(units, their outputs and points, tolerance, hints, and per case its label,
shapes and settings, and for a backward unit the type of its cache); the
arrays are stored under ``<unit>/<case>/<group>/<name>`` with group
``inputs``, ``cache`` (backward units: the fields of the cache a correct
forward pass makes on the inputs, ``caches.to_arrays``), ``expected`` or
``mistake:<id>`` (what a known mistake gives). ``read_check_file`` /
``write_check_file`` are the only code that knows this layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import caches
from .npz import INDEX, decode_index, encode_index, write_npz

__all__ = ["FILE_FORMAT", "FILE_VERSION", "REFERENCES_ENV", "CheckCase", "UnitChecks",
           "write_check_file", "read_check_file", "read_check_header"]

FILE_FORMAT = "rnn-assignment-checks"
FILE_VERSION = 2
# The references file, for in-kernel grading on an instructor's machine (no sandbox)
REFERENCES_ENV = "RNN_ASSIGNMENT_REFERENCES"


@dataclass
class CheckCase:
    """One set of inputs for a unit, with the expected outputs."""

    label: str                 # 'public case', 'hidden case 2 (T=1)'
    hidden: bool
    dims: dict                 # N, T, D, H, V, W as used by this case
    settings: dict             # model units: cell_type, words, max_length
    inputs: dict               # name -> array; backward units also "cache" (assignment.caches)
    expected: dict             # output -> array (float64; captions int)
    mistakes: dict             # mistake id -> {output -> what that mistake gives}

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.dims.items()]
        if "max_length" in self.settings:
            parts.append(f"max_length={self.settings['max_length']}")
        return ", ".join(parts)


@dataclass
class UnitChecks:
    """Everything needed to check one unit: its outputs, tolerance and cases."""

    unit: str
    notebook: str
    obj_name: str
    points: dict               # output -> points, in return order
    tolerance: float           # against the reference
    hints: dict                # mistake id -> hint text
    cases: list

    @property
    def total(self) -> float:
        return float(sum(self.points.values()))


def write_check_file(path, header: dict, units: dict) -> Path:
    """Write units (name -> UnitChecks) to one .npz: arrays plus a JSON index.

    Deterministic (fixed zip timestamps, sorted keys), so rebuilding an
    unchanged file gives the same bytes. No pickles: ``np.load`` reads it with
    ``allow_pickle=False``.
    """
    index = dict(header, format=FILE_FORMAT, version=FILE_VERSION, units={})
    arrays = {}
    for name, u in units.items():
        entry = {"notebook": u.notebook, "object": u.obj_name,
                 "outputs": [[k, v] for k, v in u.points.items()],
                 "tolerance": u.tolerance, "hints": u.hints, "cases": []}
        for i, case in enumerate(u.cases):
            inputs = dict(case.inputs)
            cache = inputs.pop("cache", None)
            groups = {"inputs": inputs, "expected": case.expected}
            if cache is not None:
                cache_type, groups["cache"] = caches.to_arrays(cache)
            groups.update({f"mistake:{m}": outs for m, outs in case.mistakes.items()})
            entry["cases"].append({
                "label": case.label, "hidden": case.hidden, "dims": case.dims,
                "settings": case.settings,
                **({"cache": cache_type} if cache is not None else {}),
                "groups": {g: list(values) for g, values in groups.items()}})
            for g, values in groups.items():
                for key, value in values.items():
                    arrays[f"{name}/{i}/{g}/{key}"] = np.asarray(value)
        index["units"][name] = entry
    arrays[INDEX] = encode_index(index)

    return write_npz(path, arrays)


def _check_index(path, data) -> dict:
    """The JSON index of an open check file (ValueError when it is not one of ours)."""
    if INDEX not in data.files:
        raise ValueError(f"{path} is not a check file of this assignment (no __index__).")
    index = decode_index(data)
    if not isinstance(index, dict) or index.get("format") != FILE_FORMAT:
        raise ValueError(f"{path} is not a check file of this assignment.")
    return index


def _open_check_file(path):
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Check file not found: {path}")
    return path, np.load(path, allow_pickle=False)


def read_check_header(path) -> dict:
    """The JSON index of a check file without its units, whatever its version (for its header)."""
    path, data = _open_check_file(path)
    with data:
        index = _check_index(path, data)
    index.pop("units", None)
    return index


def read_check_file(path) -> tuple[dict, dict]:
    """Read a file written by :func:`write_check_file`: (header, {unit: UnitChecks})."""
    path, data = _open_check_file(path)
    with data:
        index = _check_index(path, data)
        if index.get("version") != FILE_VERSION:
            raise ValueError(f"{path} has format {index.get('format')!r} version "
                             f"{index.get('version')!r}; expected {FILE_FORMAT!r} version "
                             f"{FILE_VERSION}. Rebuild it.")
        units = {}
        for name, entry in index.pop("units").items():
            cases = []
            for i, c in enumerate(entry["cases"]):
                groups = {g: {k: data[f"{name}/{i}/{g}/{k}"] for k in keys}
                          for g, keys in c["groups"].items()}
                inputs = groups.pop("inputs")
                if "cache" in c:
                    inputs["cache"] = caches.from_arrays(c["cache"], groups.pop("cache"))
                cases.append(CheckCase(
                    label=c["label"], hidden=c["hidden"], dims=c["dims"], settings=c["settings"],
                    inputs=inputs, expected=groups.pop("expected"),
                    mistakes={g.split(":", 1)[1]: v for g, v in groups.items()}))
            units[name] = UnitChecks(
                unit=name, notebook=entry["notebook"], obj_name=entry["object"],
                points={k: v for k, v in entry["outputs"]}, tolerance=entry["tolerance"],
                hints=entry["hints"], cases=cases)
    return index, units
