"""The kernel's record: what the student's kernel reports about a unit, for the scorer.

Written in the student's kernel (``rnn_grading_kernel``: ``build_record``,
published as display_data with ``record_bundle``), read by the scorer outside
the sandbox (``autograder.grading.scoring``: ``records_in`` and ``read_record``).

The record is the JSON value of a display_data output of MIME type
``RECORD_MIME``: {"format": RECORD_FORMAT, "version": RECORD_VERSION, "unit",
"secret_fingerprint", "runs": [{"stubs": bool, "cases": [case entry, one per
case in file order]}], "arrays": base64 of an uncompressed .npz}. A case
entry: {"failure": null or {"message", "not_implemented", "timed_out"},
"outputs": {name: value}, "changed": [...], "changed_upstream": [...],
"printed": bool, "stderr": bool, "warnings": [...],
"opened_instructor_file": bool}; a value is {"array": key}, {"missing": true}
(not returned), {"type": type name} (not an array), {"dtype": str, "shape":
[...]} (not numbers) or {"too_large": true, "shape": [...]}.

The student's code runs in the kernel that writes the record, so a record is
untrusted input: ``read_record`` never unpickles, never crashes on what it
reads (anything malformed is a ``BadRecord``) and believes only the outputs,
which the scorer judges against values the sandbox never holds.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import zipfile

import numpy as np

from ..checks import CaseRun, Captured, Execution, StudentCodeError, TooLarge, mask_numbers
from .npz import ArrayStore

__all__ = ["RECORD_MIME", "RECORD_FORMAT", "RECORD_VERSION", "MAX_OUTPUT_ELEMENTS",
           "build_record", "record_bundle", "records_in", "read_record", "BadRecord", "clean_text",
           "Placeholder"]

RECORD_MIME = "application/vnd.rnn-assignment.record+json"
RECORD_FORMAT = "rnn-assignment-record"
RECORD_VERSION = 2
MAX_OUTPUT_ELEMENTS = 20_000        # one output: the largest right output has a few hundred
MAX_RECORD_BYTES = 16 * 2 ** 20     # all arrays of one record, before base64
MAX_RECORD_CHARS = 48 * 2 ** 20     # base64 text of one record
MAX_ARRAY_BYTES = 16 * 2 ** 20      # one array in a record

# Taken when this module is imported, before any student cell runs.
_ndarray = np.ndarray
_generic = np.generic


# ------------------------------------------------------------------- writing


class _Arrays:
    """The arrays of a record, each stored once, within MAX_RECORD_BYTES."""

    def __init__(self):
        self._store, self.size = ArrayStore(), 0

    @property
    def arrays(self) -> dict:
        return self._store.arrays

    def value(self, value) -> dict:
        if value is None:
            return {"missing": True}
        if isinstance(value, TooLarge):  # not copied (assignment.checks.host)
            return {"too_large": True, "shape": list(value.shape)}
        if type(value) is not _ndarray:
            if isinstance(value, (bool, int, float, _generic)):
                value = np.array(value)
            else:
                return {"type": type(value).__name__[:40]}
        shape = [int(n) for n in value.shape]
        if value.dtype.kind not in "biuf":
            return {"dtype": str(value.dtype)[:40], "shape": shape}
        if value.size > MAX_OUTPUT_ELEMENTS or self.size + value.nbytes > MAX_RECORD_BYTES:
            return {"too_large": True, "shape": shape}
        a = np.ascontiguousarray(value).reshape(value.shape)  # (ascontiguousarray makes 0-d 1-d)
        key, new = self._store.add(a)
        if new:
            self.size += a.nbytes
        return {"array": key}

    def blob(self) -> str:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
            for key, a in self.arrays.items():
                out = io.BytesIO()
                np.lib.format.write_array(out, a, allow_pickle=False)
                zf.writestr(key + ".npy", out.getvalue())
        return base64.b64encode(buf.getvalue()).decode("ascii")


def _case_entry(run: CaseRun, opened_instructor_file: bool, arrays: _Arrays) -> dict:
    """One case entry (see the module docstring); numbers in texts masked."""
    failure, captured, execution = run.failure, run.captured, run.execution
    entry = {"failure": None, "opened_instructor_file": bool(opened_instructor_file)}
    if failure is not None:
        entry["failure"] = {"message": mask_numbers(failure.message)[:500],
                            "not_implemented": bool(failure.not_implemented),
                            "timed_out": bool(failure.timed_out)}
    entry["printed"] = bool(captured.stdout.strip())
    entry["stderr"] = bool(captured.stderr.strip())
    entry["warnings"] = sorted({mask_numbers(w)[:200] for w in captured.warnings})[:5]
    entry.update(outputs={}, changed=[], changed_upstream=[])
    if failure is None and execution is not None:
        entry["outputs"] = {k: arrays.value(v) for k, v in execution.outputs.items()}
        entry["changed"] = list(execution.changed)
        entry["changed_upstream"] = list(execution.changed_upstream)
    return entry


def build_record(unit, runs, fingerprint) -> dict:
    """The record of a unit.

    ``runs``: [(stubs, [(CaseRun, opened_instructor_file), one per case])],
    with stubs True for the run with replay stubs.
    """
    arrays = _Arrays()
    encoded = [{"stubs": stubs, "cases": [_case_entry(run, opened, arrays)
                                          for run, opened in cases]}
               for stubs, cases in runs]
    return {"format": RECORD_FORMAT, "version": RECORD_VERSION, "unit": unit,
            "secret_fingerprint": fingerprint, "runs": encoded, "arrays": arrays.blob()}


def record_bundle(unit, record) -> dict:
    """The display_data bundle that carries a record: the record and one line of text."""
    return {RECORD_MIME: record, "text/plain": f"grading data for {unit} recorded"}


# ------------------------------------------------------------------- reading


class BadRecord(Exception):
    """The record cannot be used (malformed, forged, another course)."""


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(value, limit=300) -> str:
    """Untrusted text for the feedback: a string, no control characters, numbers masked."""
    if not isinstance(value, str):
        raise BadRecord("text expected")
    return mask_numbers(_CONTROL.sub("", value))[:limit]


def _flag(value) -> bool:
    if not isinstance(value, bool):
        raise BadRecord("true or false expected")
    return value


def _arrays(blob) -> dict:
    """The arrays of a record: an uncompressed zip of .npy files, read without pickles."""
    if not isinstance(blob, str) or len(blob) > MAX_RECORD_CHARS:
        raise BadRecord("arrays missing or too large")
    try:
        raw = base64.b64decode(blob.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise BadRecord("arrays are not base64") from None
    arrays = {}
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            for info in zf.infolist():
                if info.file_size > MAX_ARRAY_BYTES or not info.filename.endswith(".npy"):
                    raise BadRecord("an array is too large")
                with zf.open(info) as f:
                    a = np.lib.format.read_array(f, allow_pickle=False)
                if not isinstance(a, np.ndarray) or a.dtype.kind not in "biuf" \
                        or a.dtype.byteorder not in "=|" + ("<" if np.little_endian else ">"):
                    raise BadRecord("an array is not plain numbers")
                arrays[info.filename[:-4]] = a
    except BadRecord:
        raise
    except Exception:  # a broken zip, a pickle, a bad header: all the same to us
        raise BadRecord("arrays cannot be read") from None
    return arrays


class Placeholder:
    """Stands for an output that was not an array: ``type_name`` is (kind, detail)."""

    def __init__(self, type_name):
        self.type_name = type_name


def _value(entry, arrays):
    """One recorded value: an array, None (not returned) or a Placeholder."""
    if not isinstance(entry, dict):
        raise BadRecord("value expected")
    if "array" in entry:
        a = arrays.get(entry["array"]) if isinstance(entry["array"], str) else None
        if a is None:
            raise BadRecord("unknown array")
        if a.size > MAX_OUTPUT_ELEMENTS:
            return Placeholder(("too_large", tuple(a.shape)))
        return a
    if entry.get("missing") is True:
        return None
    if "too_large" in entry or "dtype" in entry:
        shape = entry.get("shape")
        if not isinstance(shape, list) or len(shape) > 32 or \
                not all(isinstance(n, int) and 0 <= n < 2 ** 62 for n in shape):
            raise BadRecord("bad shape")
        if "too_large" in entry:
            return Placeholder(("too_large", tuple(shape)))
        return Placeholder(("dtype", clean_text(entry["dtype"], 40)))
    if "type" in entry:
        return Placeholder(("type", re.sub(r"[^\w.]", "", clean_text(entry["type"], 40))))
    raise BadRecord("unknown value")


def _values(entries, names, arrays) -> dict:
    if not isinstance(entries, dict):
        raise BadRecord("values expected")
    return {k: _value(entries[k], arrays) for k in names if k in entries}


def _names(value, allowed) -> list:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRecord("names expected")
    return [v for v in value if v in allowed]


def _case_run(protocol, entry, arrays) -> CaseRun:
    """A CaseRun from one untrusted case entry; ``run.placeholders``: output -> Placeholder."""
    if not isinstance(entry, dict):
        raise BadRecord("case expected")
    captured = Captured(stdout="yes" if _flag(entry.get("printed", False)) else "",
                        stderr="yes" if _flag(entry.get("stderr", False)) else "")
    warnings = entry.get("warnings", [])
    if not isinstance(warnings, list):
        raise BadRecord("warnings expected")
    captured.warnings = [clean_text(w, 200) for w in warnings[:5]]
    if _flag(entry.get("opened_instructor_file", False)):
        return CaseRun(failure=StudentCodeError("your code opened an instructor file while it "
                                                "was graded: no credit"), captured=captured)
    failure = entry.get("failure")
    if failure is not None:
        if not isinstance(failure, dict):
            raise BadRecord("failure expected")
        return CaseRun(failure=StudentCodeError(
            clean_text(failure.get("message")),
            not_implemented=_flag(failure.get("not_implemented")),
            timed_out=_flag(failure.get("timed_out"))), captured=captured)
    outputs = _values(entry.get("outputs"), protocol.outputs, arrays)
    placeholders = {k: v for k, v in outputs.items() if isinstance(v, Placeholder)}
    outputs = {k: (None if k in placeholders else v) for k, v in outputs.items()}
    # in-place changes only add notes (and a hint to a wrong output)
    execution = Execution(outputs, _names(entry.get("changed", []), protocol.inputs),
                          _names(entry.get("changed_upstream", []), protocol.upstream))
    run = CaseRun(execution, captured=captured)
    run.placeholders = placeholders
    return run


def records_in(cell_outputs):
    """The records in a cell's outputs (nbformat dicts), in order; nothing else is read."""
    if not isinstance(cell_outputs, (list, tuple)):
        return
    for output in cell_outputs:
        if isinstance(output, dict) and output.get("output_type") in ("display_data",
                                                                      "execute_result"):
            data = output.get("data")
            if isinstance(data, dict) and RECORD_MIME in data:
                yield data[RECORD_MIME]


def read_record(record, unit, protocol, n_cases, fingerprint, *, with_stubs) -> list:
    """[run: [CaseRun per case]] from one untrusted record, or BadRecord.

    ``protocol``: the unit's ``assignment.checks.Protocol`` (the names read);
    ``n_cases``: how many cases the references have; ``fingerprint``: the
    course's; ``with_stubs``: whether the unit is graded with replay stubs.
    """
    if isinstance(record, str):
        if len(record) > MAX_RECORD_CHARS:
            raise BadRecord("too large")
        try:
            record = json.loads(record)
        except ValueError:
            raise BadRecord("not JSON") from None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT \
            or record.get("version") != RECORD_VERSION:
        raise BadRecord("not a record")
    if record.get("unit") != unit:
        raise BadRecord("another unit")
    if record.get("secret_fingerprint") != fingerprint:
        raise BadRecord("recorded on the inputs of another course")
    runs = record.get("runs")
    # the kernel's runs: [stubs] or [stubs, own functions] for a unit with helpers, [own]
    # otherwise; anything else could offer a second guess at the answers
    stubs = [r.get("stubs") if isinstance(r, dict) else None for r in runs] \
        if isinstance(runs, list) else None
    if stubs not in (([True], [True, False]) if with_stubs else ([False],)):
        raise BadRecord("runs expected")
    arrays = _arrays(record.get("arrays"))
    parsed = []
    for run in runs:
        cases = run.get("cases") if isinstance(run, dict) else None
        if not isinstance(cases, list) or len(cases) != n_cases:
            raise BadRecord("one entry per case expected")
        parsed.append([_case_run(protocol, e, arrays) for e in cases])
    return parsed
