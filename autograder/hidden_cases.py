"""The grading inputs: what the student's kernel gets while it is graded, written to one .npz.

Instructor-only. ``build_grading_inputs(references, path)`` reads the
references file (``autograder.answer_key.check_files.build_references``) and
writes every case's inputs and settings and the sealed replay tables (the
answer key's calls to the functions each unit uses, recorded by
``autograder.answer_key.replay``), nothing else: no expected output, no
mistake output, no secret.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from assignment import caches, checks, replay_seal
from assignment.units import UNITS

from .answer_key.mistakes import mistakes_for
from .answer_key.replay import record_calls

__all__ = ["build_grading_inputs", "GRADING_INPUTS_FORMAT"]

# ---------------------------------------------------------------- grading inputs
#
# What the student's kernel gets while it is graded (rnn_grading_kernel reads
# it; docs/grading-design.md): every case's inputs and settings (backward
# cases: with the cache the grader built), and the sealed replay tables,
# nothing else: no expected output, no mistake output, no secret. One .npz (no pickles, ``np.load(..., allow_pickle=False)``):
#   '__index__'  JSON (uint8): {"format": GRADING_INPUTS_FORMAT, "version": 3,
#                "seal": replay_seal.SEAL_VERSION, "secret_fingerprint": ...,
#                "units": {unit: {"uses": [...], "cases": [
#                  {"label", "hidden", "dims", "settings",
#                   "inputs": {name: array key},
#                   "cache": null or {"type": cache type, "arrays": {field path: array key}},
#                   "calls": [{"fn", "grid": [exponent, ...], "offsets": [[start, size], ...],
#                              "id", "tag", "hint", "box": [start, size]}, ...]}]}}}
#   'a<n>'       the inputs and caches, each array stored once however often it appears;
#   'replay_offsets'  float64: the offsets of the sealed calls' float arguments, one
#                after the other (equal ones once); an entry's are [start, size] in it;
#   'replay_boxes'    uint8: the sealed results, one after the other.
# "cache" (backward units): the cache the reference forward pass made on the
# case's inputs (assignment.caches.to_arrays / from_arrays); the student's
# backward pass is called with it. It holds forward values on this unit's
# own inputs, drawn from its own seed: no forward unit's answer.
# "calls" are the calls the reference made, on that case, to the functions of
# UNITS[unit].uses (nested calls included, in the order they returned; for the
# loss also those of its known mistakes, see _replay_calls), each sealed by
# ``assignment.replay_seal``: its result is encrypted with a key derived from
# its exact arguments, so only a caller that passes those arguments (to
# round-off) reads it. A result that holds a cache (a forward layer's) opens
# as the ``assignment.caches`` class. The kernel's replay stubs answer such a
# call with the recorded result, so a unit is not charged for a wrong helper
# it calls; reading the table without doing the work yields nothing.

GRADING_INPUTS_FORMAT = "rnn-assignment-grading-inputs"
GRADING_INPUTS_VERSION = 3  # 3: grader-built caches and sealed replay entries together


class _ArrayStore:
    """Arrays for the .npz, each stored once (keyed by dtype, shape and bytes)."""

    def __init__(self):
        self.arrays, self._keys = {}, {}

    def add(self, value) -> str:
        a = np.ascontiguousarray(value)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"cannot store an array of dtype {a.dtype} in the grading inputs")
        digest = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()
        if digest not in self._keys:
            self._keys[digest] = f"a{len(self.arrays)}"
            self.arrays[self._keys[digest]] = a.copy()
        return self._keys[digest]


class _Sealed:
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
        """One recorded call as a sealed entry of the grading inputs (see the format above)."""
        entry, offsets, box = replay_seal.seal(fn_name, args, result)
        entry["offsets"] = [self._place(0, np.ascontiguousarray(d, dtype="<f8").tobytes(), 8)
                            for d in offsets]
        entry["box"] = self._place(1, box, 1)
        return entry

    def arrays(self) -> dict:
        return {"replay_offsets": np.frombuffer(b"".join(self.offsets), dtype="<f8"),
                "replay_boxes": np.frombuffer(b"".join(self.boxes), dtype=np.uint8)}


def _replay_calls(name, unit, case, sealed: _Sealed) -> list:
    """The replay table of one case: the calls the reference made to ``unit.uses``.

    For the captioning loss also the calls each known loss mistake makes (the
    same layers, called with that mistake's upstream gradients), so that a
    student whose loss is wrong in a known way gets the layers' answers to
    their calls too: their gradients are then that mistake's, and keep their
    points (checks.judge_case); without them the LSTM cases of the RNN
    notebook, which has no LSTM layers of its own, could not be computed at
    all. They are sealed like the others. Calls already in the table (the
    same lookup id and grids: the same arguments to round-off) are not
    repeated.
    """
    if not unit.uses:
        return []
    calls = record_calls(name, case.inputs, case.settings, sealed.add)
    if unit.kind == "loss":
        def same(call):
            # The lookup id hashes the arguments' cells on their grids; the grids (one
            # exponent per float argument) are part of what the call was: the loss not
            # averaged over N=4 passes 4 * dh, whose cells on its own grid are dh's
            return call["id"], tuple(call["grid"])

        seen = {same(c) for c in calls}
        for mistake in mistakes_for(name):
            try:
                more = record_calls(name, case.inputs, case.settings, sealed.add,
                                    mistake.edits)
            except checks.StudentCodeError:
                continue
            for call in more:
                if same(call) not in seen:
                    seen.add(same(call))
                    calls.append(call)
    return calls


def build_grading_inputs(references_path, out_path) -> Path:
    """Write what the student's kernel needs to be graded, and nothing more, to ``out_path``.

    Read from the references file (``build_references``): every case's inputs
    and settings (a backward case's with its grader-built cache), plus the
    sealed replay tables (the reference's calls to the
    ``uses`` functions of each unit). No expected output, no mistake output,
    no secret (only its public fingerprint). Deterministic:
    the same references give the same bytes. The file is read-only in every
    sandbox; ``rnn_grading_kernel`` finds it through ``RNN_GRADING_INPUTS``.
    """
    header, units = checks.read_check_file(references_path)
    if header.get("kind") != "references":
        raise ValueError(f"{references_path} holds only the public cases; build the grading "
                         "inputs from the references file (build_references).")
    store, sealed = _ArrayStore(), _Sealed()
    index = {"format": GRADING_INPUTS_FORMAT, "version": GRADING_INPUTS_VERSION,
             "seal": replay_seal.SEAL_VERSION,
             "secret_fingerprint": header.get("secret_fingerprint"), "units": {}}
    for name, unit in UNITS.items():
        if name not in units or units[name].points != dict(unit.outputs):
            raise ValueError(f"{references_path} is out of date (unit {name} differs from "
                             "assignment/units.py): rebuild it with build_references.")
        cases = []
        for case in units[name].cases:
            cache = None
            if "cache" in case.inputs:
                kind, arrays = caches.to_arrays(case.inputs["cache"])
                cache = {"type": kind, "arrays": {k: store.add(v) for k, v in arrays.items()}}
            cases.append({
                "label": case.label, "hidden": case.hidden, "dims": case.dims,
                "settings": case.settings,
                "inputs": {k: store.add(v) for k, v in case.inputs.items() if k != "cache"},
                "cache": cache,
                "calls": _replay_calls(name, unit, case, sealed)})
        index["units"][name] = {"uses": list(unit.uses), "cases": cases}
    arrays = {**store.arrays, **sealed.arrays()}
    arrays["__index__"] = np.frombuffer(json.dumps(index, sort_keys=True).encode(),
                                        dtype=np.uint8)
    return checks.write_npz(out_path, arrays)
