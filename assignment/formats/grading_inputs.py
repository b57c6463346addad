"""The grading inputs: what the student's kernel gets while it is graded, and nothing more.

Written by the grader (``autograder.answer_key.grading_inputs.build_grading_inputs``, with
``GradingInputsWriter``), read in the student's kernel
(``rnn_grading_kernel``, with ``read_grading_inputs``), which finds the file
through ``INPUTS_ENV``. Every case's inputs and settings (backward cases:
with the cache the grader built), and the sealed replay tables; no expected
output, no mistake output, no secret (only its public fingerprint).

One .npz (``npz.write_npz``, no pickles, ``np.load(..., allow_pickle=False)``):

    '__index__'  JSON (uint8): {"format": INPUTS_FORMAT, "version": INPUTS_VERSION,
                 "seal": replay_seal.SEAL_VERSION, "secret_fingerprint": ...,
                 "units": {unit: {"uses": [...], "cases": [
                   {"label", "hidden", "dims", "settings",
                    "inputs": {name: array key},
                    "cache": null or {"type": cache type, "arrays": {field path: array key}},
                    "calls": [{"fn", "grid": [exponent, ...], "offsets": [[start, size], ...],
                               "id", "tag", "hint", "box": [start, size]}, ...]}]}}}
    'a<n>'       the inputs and caches, each array stored once however often it appears;
    'replay_offsets'  float64: the offsets of the sealed calls' float arguments, one
                 after the other (equal ones once); an entry's are [start, size] in it;
    'replay_boxes'    uint8: the sealed results, one after the other.

"cache" (backward units): the cache the reference forward pass made on the
case's inputs (``assignment.caches.to_arrays`` / ``from_arrays``); the
student's backward pass is called with it. It holds forward values on this
unit's own inputs, drawn from its own seed: no forward unit's answer.

"calls" are the calls the reference made, on that case, to the functions the
unit uses (nested calls included, in the order they returned), each sealed by
``replay_seal``: its result is encrypted with a key derived from its exact
arguments, so only a caller that passes those arguments (to round-off) reads
it. A result that holds a cache opens as the ``assignment.caches`` class. The
kernel's replay stubs answer such a call with the recorded result, so a unit
is not charged for a wrong helper it calls; reading the table without doing
the work yields nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import caches
from . import replay_seal
from .npz import INDEX, ArrayStore, decode_index, encode_index, write_npz

__all__ = ["INPUTS_FORMAT", "INPUTS_VERSION", "INPUTS_ENV", "GradingInputsError",
           "GradingInputsWriter", "SealedCalls", "GradingInputs", "InputCase", "ReplayTable",
           "read_grading_inputs"]

INPUTS_FORMAT = "rnn-assignment-grading-inputs"
INPUTS_VERSION = 3
INPUTS_ENV = "RNN_GRADING_INPUTS"   # names the file in the student's kernel


# ------------------------------------------------------------------- writing


class _ArrayStore(ArrayStore):
    """The inputs' and caches' arrays: plain numbers only."""

    def add(self, value) -> str:
        a = np.ascontiguousarray(value)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"cannot store an array of dtype {a.dtype} in the grading inputs")
        return super().add(a)[0]


class SealedCalls:
    """The offsets and sealed results of every call, each in one flat array (few npz members).

    An entry names its parts by [start, size] in them; equal offsets are stored once.
    """

    def __init__(self):
        self.offsets, self.boxes, self._at, self._sizes = [], [], {}, [0, 0]

    def _place(self, which, data: bytes, itemsize: int):
        key = (which, hashlib.sha256(data).hexdigest())
        if key not in self._at:
            self._at[key] = [self._sizes[which], len(data) // itemsize]
            (self.offsets, self.boxes)[which].append(data)
            self._sizes[which] += len(data) // itemsize
        return self._at[key]

    def add(self, fn_name, args, result) -> dict:
        """One recorded call as a sealed entry of the grading inputs (see the layout above)."""
        entry, offsets, box = replay_seal.seal(fn_name, args, result)
        entry["offsets"] = [self._place(0, np.ascontiguousarray(d, dtype="<f8").tobytes(), 8)
                            for d in offsets]
        entry["box"] = self._place(1, box, 1)
        return entry

    def arrays(self) -> dict:
        return {"replay_offsets": np.frombuffer(b"".join(self.offsets), dtype="<f8"),
                "replay_boxes": np.frombuffer(b"".join(self.boxes), dtype=np.uint8)}


class GradingInputsWriter:
    """Collects the units' cases and sealed calls; ``write`` makes the file.

    Deterministic: the same cases and calls, added in the same order, give
    the same bytes.
    """

    def __init__(self, secret_fingerprint):
        self.sealed = SealedCalls()
        self._store = _ArrayStore()
        self._index = {"format": INPUTS_FORMAT, "version": INPUTS_VERSION,
                       "seal": replay_seal.SEAL_VERSION,
                       "secret_fingerprint": secret_fingerprint, "units": {}}

    def add_case(self, unit, case, calls: list):
        """One case (an ``assignment.formats.check_file.CheckCase``) and its sealed calls."""
        cache = None
        if "cache" in case.inputs:
            kind, arrays = caches.to_arrays(case.inputs["cache"])
            cache = {"type": kind, "arrays": {k: self._store.add(v) for k, v in arrays.items()}}
        self._index["units"][unit]["cases"].append({
            "label": case.label, "hidden": case.hidden, "dims": case.dims,
            "settings": case.settings,
            "inputs": {k: self._store.add(v) for k, v in case.inputs.items() if k != "cache"},
            "cache": cache, "calls": calls})

    def add_unit(self, unit, uses):
        """Start a unit (its cases follow, with ``add_case``)."""
        self._index["units"][unit] = {"uses": list(uses), "cases": []}

    def write(self, path) -> Path:
        arrays = {**self._store.arrays, **self.sealed.arrays()}
        arrays[INDEX] = encode_index(self._index, sort_keys=True)
        return write_npz(path, arrays)


# ------------------------------------------------------------------- reading


class GradingInputsError(RuntimeError):
    """The file is not grading inputs this kernel can read (an instructor-side problem)."""


class ReplayTable:
    """The sealed recorded calls of one case: fn name -> replay_seal.Candidates.

    Nothing here is readable without the arguments of a call: an entry is
    opened only by a caller that passes the arguments the reference passed,
    to round-off. Opened results are not kept.
    """

    def __init__(self, calls, arrays):
        flat, boxes, views, items = arrays["replay_offsets"], arrays["replay_boxes"], {}, {}
        for call in calls:
            offsets = []
            for start, size in call["offsets"]:  # equal offsets: one view (cells cached by it)
                if (start, size) not in views:
                    views[start, size] = flat[start:start + size]
                offsets.append(views[start, size])
            start, size = call["box"]
            items.setdefault(call["fn"], []).append(
                (call, offsets, boxes[start:start + size].tobytes()))
        self.calls = {fn: replay_seal.Candidates(v) for fn, v in items.items()}
        self._next = {}

    def answer(self, name, args):
        """A fresh copy of the recorded result of a call with these arguments, or None.

        Calls usually come in the recorded order, so the search starts after
        the last match.
        """
        candidates = self.calls.get(name)
        if candidates is None:
            return None
        found = candidates.find(replay_seal.Arguments(args), self._next.get(name, 0))
        if found is None:
            return None
        self._next[name] = found[0] + 1
        return found[1]


@dataclass
class InputCase:
    """One case as the kernel runs it: its inputs, settings and sealed calls.

    A backward case's inputs hold its grader-built cache under "cache".
    """

    inputs: dict
    settings: dict
    calls: list
    arrays: dict = field(repr=False)   # the file's arrays (the replay tables live there)

    def replay_table(self) -> ReplayTable:
        """A fresh replay table of this case's sealed calls."""
        return ReplayTable(self.calls, self.arrays)


@dataclass
class GradingInputs:
    """A grading-inputs file, read."""

    units: dict          # the index's "units"
    arrays: Mapping      # every array of the file (ArraysOnDemand: read when used)
    fingerprint: object  # the course secret's public fingerprint

    def cases(self, unit) -> list:
        """The unit's cases in file order, as ``InputCase``."""
        cases = []
        for c in self.units[unit]["cases"]:
            inputs = {k: self.arrays[key] for k, key in c["inputs"].items()}
            if c.get("cache"):  # backward units: the grader's cache (execute copies it per call)
                inputs["cache"] = caches.from_arrays(
                    c["cache"]["type"],
                    {k: self.arrays[key] for k, key in c["cache"]["arrays"].items()})
            cases.append(InputCase(inputs, c["settings"], c["calls"], self.arrays))
        return cases

    def uses(self, unit) -> list:
        """The functions replayed while ``unit`` is graded (recorded calls and declared uses)."""
        entry = self.units[unit]
        return sorted({call["fn"] for c in entry["cases"] for call in c["calls"]} |
                      set(entry.get("uses", ())))


def read_grading_inputs(path) -> GradingInputs:
    """Read a file written by ``GradingInputsWriter``; GradingInputsError if it cannot be used.

    The index is read and checked here; each array is read from the file the
    first time it is used (a notebook grades only its own units).
    """
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as err:
        raise GradingInputsError(f"{path} cannot be read: {err}") from None
    try:
        index = decode_index(data)
    except Exception as err:
        data.close()
        raise GradingInputsError(f"{path} cannot be read: {err}") from None
    if not isinstance(index, dict) or index.get("format") != INPUTS_FORMAT:
        data.close()
        found = index.get("format") if isinstance(index, dict) else None
        raise GradingInputsError(f"{path} is not a grading-inputs file of this assignment "
                                 f"(format {found!r}): rebuild it.")
    if index.get("version") != INPUTS_VERSION or index.get("seal") != replay_seal.SEAL_VERSION:
        data.close()
        raise GradingInputsError(
            f"{path} was built by another version of the grader (grading inputs version "
            f"{index.get('version')!r}, replay seal {index.get('seal')!r}; this kernel reads "
            f"version {INPUTS_VERSION}, seal {replay_seal.SEAL_VERSION}). Update the grader on "
            "every machine and grade again: `rnn-assignment grade` rebuilds the file from the "
            "course's references.")
    return GradingInputs(index["units"], ArraysOnDemand(data, path), index.get("secret_fingerprint"))


class ArraysOnDemand(Mapping):
    """The arrays of an open .npz, each read when first asked for, then kept.

    Reading all of a grading-inputs file's arrays costs about 0.1 s, in every
    grading kernel; a notebook grades a third of the units. The file stays
    open while this lives (zipfile reads are locked: threads may share it).
    """

    def __init__(self, data, path):
        self._data, self._path = data, path
        self._names = frozenset(name for name in data.files if name != INDEX)
        self._read = {}

    def __getitem__(self, name):
        if name not in self._read:
            if name not in self._names:
                raise KeyError(name)
            try:
                self._read[name] = self._data[name]
            except Exception as err:
                raise GradingInputsError(f"{self._path}: the array {name!r} cannot be read "
                                         f"({err}): rebuild the file") from None
        return self._read[name]

    def __iter__(self):
        return iter(sorted(self._names))

    def __len__(self):
        return len(self._names)
