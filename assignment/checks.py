"""Check the functions you write on fixed inputs: ``check_unit("rnn_forward", rnn_forward)``.

A *unit* is one thing you implement in a notebook (a function, or
``CaptioningRNN.loss`` / ``CaptioningRNN.sample``). ``check_unit`` runs it on
the fixed public inputs stored in ``assignment/public_checks.npz`` and prints
one line per output: OK, or what is wrong (shape, NaN, how far off, and a hint
when the answer matches a usual mistake). It raises ``AssertionError`` when
something is wrong, so a notebook cell stops there; while nbgrader autogrades
(``NBGRADER_EXECUTION=autograde``) it only prints, and a graded cell's visible
test is left to the hidden tests.

A backward pass is checked on the cache that a correct forward pass makes
on the case's inputs (stored with the case, one of the types of
``assignment.caches``), not on your own forward pass's cache: a mistake in a
forward pass then shows (and, when graded, costs) only there. The gradient
checks of the notebooks (``gradient_check.check_layer_gradients``) test your
own forward and backward passes together.

Also here, shared with the instructors' autograder (which runs the same code
on hidden inputs of other shapes): how each unit is called (``PROTOCOLS``),
the file format of the check files, and the two halves of checking a case:
*run* (``execute``: the raw outputs, the capture of anything student code
writes to stderr) and *judge* (``judge_case``: the comparison of an output
with its expected value, hints, the credit for gradients of a known loss
mistake). Here both run in-process; while grading, the student's kernel only
runs and the scorer outside it judges. Nothing in this module knows a hidden
value.

Errors are relative: |a - b| / max(1e-8, |a| + |b|), maximum over entries,
the same measure as ``gradient_check.rel_error``.

Check files (``public_checks.npz`` here; the instructors' references file has
the same layout): one .npz, no pickles. ``__index__`` holds a JSON index
(units, their outputs and points, tolerance, hints, and per case its label,
shapes and settings, and for a backward unit the type of its cache); the
arrays are stored under ``<unit>/<case>/<group>/<name>`` with group
``inputs``, ``cache`` (backward units: the fields of the cache a correct
forward pass makes on the inputs, ``caches.to_arrays``), ``expected`` or
``mistake:<id>`` (what a known mistake gives). ``read_check_file`` /
``write_check_file`` are the only code that knows this layout.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import sys
import tempfile
import traceback
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import caches, formulas
from .backend import to_numpy
from .check_errors import CheckFailed, in_place_note, stub_message
from .units import PARAM_NAMES, UNITS

__all__ = ["check_unit", "PROTOCOLS", "PUBLIC_CHECKS", "read_check_file",
           "write_check_file", "execute", "judge_case", "evaluate_case",
           "CaseRun", "CaseResult", "Execution"]

PUBLIC_CHECKS = Path(__file__).with_name("public_checks.npz")
FILE_FORMAT = "rnn-assignment-checks"
# 2: backward cases carry the cache of a correct forward pass; no forward outputs
FILE_VERSION = 2
_REL_FLOOR = 1e-8    # denominator floor of the relative error (as in rel_error)

# Taken once, when the module is imported (before any student cell runs), so
# that a notebook that reassigns np.isfinite & co. cannot change a verdict.
_isfinite = np.isfinite
_array = np.array
_unravel = np.unravel_index


# ----------------------------------------------------------------- protocols


# How each unit is called: declared once, in assignment.units.
PROTOCOLS = {name: unit.protocol for name, unit in UNITS.items()}
LSTM_NAMES = tuple(unit.obj for unit in UNITS.values() if unit.notebook == "LSTM_Captioning")
_WHAT = {"loss": "CaptioningRNN.loss", "sample": "CaptioningRNN.sample"}


# ---------------------------------------------------------------- check files


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
    arrays["__index__"] = np.frombuffer(json.dumps(index).encode(), dtype=np.uint8)

    return write_npz(path, arrays)


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


def _check_index(path, data) -> dict:
    """The JSON index of an open check file (ValueError when it is not one of ours)."""
    if "__index__" not in data.files:
        raise ValueError(f"{path} is not a check file of this assignment (no __index__).")
    index = json.loads(bytes(data["__index__"]).decode())
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


_public_cache = {}


def public_checks() -> dict:
    """The public cases of every unit (read once from ``public_checks.npz``)."""
    if "units" not in _public_cache:
        if not PUBLIC_CHECKS.is_file():
            raise FileNotFoundError(
                f"The public check data {PUBLIC_CHECKS} is missing. It comes with the "
                "assignment package; reinstall it (course staff: "
                "`python -m autograder.answer_key.check_files` rebuilds it).")
        _public_cache["units"] = read_check_file(PUBLIC_CHECKS)[1]
    return _public_cache["units"]


# ------------------------------------------------------- running student code


class StudentCodeError(Exception):
    """Student code raised, or returned something that cannot be checked.

    ``message`` is written for the student; ``exc`` is the original exception.
    """

    def __init__(self, message, *, not_implemented=False, exc=None, timed_out=False):
        super().__init__(message)
        self.message = message
        self.not_implemented = not_implemented
        self.exc = exc
        self.timed_out = timed_out


class StudentTimeout(BaseException):
    """Raised (by the grader's alarm) when student code runs past its time limit.

    A BaseException, so that a bare ``except Exception`` in student code does
    not swallow it.
    """


_OUR_FILES = {__file__}


def register_grading_file(path):
    """Frames of this file are left out of the tracebacks shown to students."""
    _OUR_FILES.add(path)


def _where(exc) -> str:
    """'in rnn_forward, line 7: h[:, t] = ...' for the last frame of student code."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename not in _OUR_FILES]
    # the innermost frame that is not inside an installed library (numpy, ...)
    own = [f for f in frames if "site-packages" not in f.filename
           and "/lib/python" not in f.filename]
    frame = (own or frames or [None])[-1]
    if frame is None:
        return ""
    line = (frame.line or "").strip()
    return f" (in {frame.name}, line {frame.lineno}" + (f": {line}" if line else "") + ")"


def _call(what, fn, *args, **kwargs):
    """Call student code; turn whatever it raises into a StudentCodeError."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as err:
        raise StudentCodeError(f"{what} is not implemented yet", not_implemented=True,
                               exc=err) from None
    except (StudentTimeout, KeyboardInterrupt):
        raise
    except BaseException as err:  # SystemExit too: student code must not end the check
        text = str(err).strip().splitlines()
        message = f"{what} raised {type(err).__name__}" + (f": {text[0][:300]}" if text else "")
        raise StudentCodeError(message + _where(err), exc=err) from None


def _copies(values) -> dict:
    return {k: _array(v, copy=True) for k, v in values.items()}


# An output with more numbers than this is not copied (a right one has a few
# hundred): a giant broadcast view or a monstrous shape costs that output only,
# never the memory that the rest of the grading needs.
MAX_COPY_ELEMENTS = 1_000_000


class TooLarge:
    """Stands for an output too large to copy or check: its shape, dtype and size only."""

    def __init__(self, shape, dtype, size):
        self.shape, self.dtype, self.size = tuple(shape), str(dtype)[:40], int(size)

    def __repr__(self):
        return f"TooLarge(shape={self.shape}, dtype={self.dtype})"


def _numbers_in(value, budget) -> int:
    """How many numbers a list/tuple of numbers holds, or -1 when it holds something else.

    Walks plain lists and tuples only (no student-defined __len__ or
    __getitem__ runs), and stops past ``budget`` numbers.
    """
    if type(value) in (int, float) or isinstance(value, np.generic):
        return 1
    if type(value) is np.ndarray:
        return int(value.size)
    if type(value) not in (list, tuple):
        return -1
    total = 0
    for item in value:
        n = _numbers_in(item, budget - total)
        if n < 0 or total + n > budget:
            return -1 if n < 0 else total + n
        total += n
    return total


def _host(value):
    """A host copy of an output; anything else (not numbers, too large) without copying it.

    Arrays of the backends and plain (nested) lists of numbers are converted;
    other objects are returned as they are (the check says what they are) and
    an output of more than MAX_COPY_ELEMENTS numbers becomes a TooLarge.
    """
    if isinstance(value, bool):
        return value
    if not isinstance(value, (np.ndarray, np.generic, int, float)):
        if type(value) in (list, tuple):
            n = _numbers_in(value, MAX_COPY_ELEMENTS)
            if n < 0:
                return value
            if n > MAX_COPY_ELEMENTS:
                return TooLarge((len(value),), "list", n)
        elif type(value).__module__.split(".")[0] != "cupy":
            return value  # a generator, a dict, a student's class: not converted
        elif int(value.size) > MAX_COPY_ELEMENTS:  # a CuPy array: not brought to the host
            return TooLarge(value.shape, value.dtype, value.size)
        try:
            value = to_numpy(value)
        except Exception:
            return value
    if isinstance(value, np.ndarray):
        value = np.ndarray.view(value, np.ndarray)  # a subclass's own methods no longer apply
    if isinstance(value, np.ndarray) and value.size > MAX_COPY_ELEMENTS:
        return TooLarge(value.shape, value.dtype, value.size)
    if isinstance(value, (np.ndarray, np.generic, int, float)):
        try:
            return _array(value, copy=True)
        except MemoryError:
            return TooLarge(np.shape(value), getattr(value, "dtype", "?"), np.size(value))
    return value


def _unpack(what, result, names, cache: bool) -> list:
    """The returned values as a list, checking how many there are."""
    wanted = list(names) + (["cache"] if cache else [])
    if len(wanted) == 1 and not isinstance(result, (tuple, list)):
        return [result]
    if result is None:
        raise StudentCodeError(f"{what} returned None; it should return "
                               f"{', '.join(wanted)}. Is the return statement missing?")
    if not isinstance(result, (tuple, list)):
        raise StudentCodeError(f"{what} returned one {type(result).__name__}; it should return "
                               f"{len(wanted)} values: {', '.join(wanted)}.")
    if len(result) != len(wanted):
        raise StudentCodeError(f"{what} returned {len(result)} values; it should return "
                               f"{len(wanted)}: {', '.join(wanted)}.")
    return list(result)


def _changed(before: dict, after: dict) -> list:
    """Names of the arrays that student code modified in place."""
    return [k for k in before
            if before[k].shape != after[k].shape or not bool((before[k] == after[k]).all())]


@dataclass
class Execution:
    """What one run of a unit on one case gave."""

    outputs: dict                 # output -> host value (copy)
    changed: list = field(default_factory=list)          # inputs modified in place
    changed_upstream: list = field(default_factory=list)  # upstream gradients modified in place


def execute(unit, obj, inputs, settings) -> Execution:
    """Run ``obj`` (a student's or the reference's) on one case of ``unit``.

    Every array handed to ``obj`` is a fresh copy; a backward unit gets a
    fresh copy of the case's cache (``inputs["cache"]``, made by a correct
    forward pass), never one made by other student code. Raises
    StudentCodeError for anything the code does wrong that stops the check
    (an exception, a missing return value).
    """
    p = PROTOCOLS[unit]
    if not callable(obj):
        raise StudentCodeError(f"{unit}: expected a function (or the CaptioningRNN class), got "
                               f"a {type(obj).__name__}.")
    if p.kind == "forward":
        args = _copies({k: inputs[k] for k in p.inputs})
        result = _call(unit, obj, *args.values())
        outs = _unpack(unit, result, p.outputs, cache=True)[:-1]
        return Execution(dict(zip(p.outputs, map(_host, outs))),
                         changed=_changed(_copies({k: inputs[k] for k in p.inputs}), args))
    if p.kind == "backward":
        upstream = _copies({k: inputs[k] for k in p.upstream})
        cache = caches.copy_cache(inputs["cache"])
        try:
            result = _call(unit, obj, *upstream.values(), cache)
        except StudentCodeError as err:
            if not err.not_implemented:
                err.message += (f". Note: {unit} is given the {type(cache).__name__}"
                                f"({', '.join(cache._fields)}) that a correct {p.forward} "
                                "returns (see assignment.caches): does it read the cache that way?")
            raise
        grads = _unpack(unit, result, p.outputs, cache=False)
        return Execution(dict(zip(p.outputs, map(_host, grads))),
                         changed_upstream=_changed(_copies({k: inputs[k] for k in p.upstream}),
                                                   upstream))
    return _execute_model(unit, p, obj, inputs, settings)


def _execute_model(unit, p, obj, inputs, settings):
    words = settings["words"]
    word_to_idx = {w: i for i, w in enumerate(words)}
    dims = {"input_dim": inputs["features"].shape[1], "wordvec_dim": inputs["W_embed"].shape[1],
            "hidden_dim": inputs["W_proj"].shape[1]}
    model = _call("CaptioningRNN(...)", obj, word_to_idx, **dims,
                  cell_type=settings["cell_type"], dtype=np.float64)
    if not isinstance(getattr(model, "params", None), dict):
        raise StudentCodeError("CaptioningRNN(...) has no params dict (self.params).")
    for k in PARAM_NAMES:
        model.params[k] = _array(inputs[k], copy=True)
    what = _WHAT[p.kind]
    data = _copies({k: inputs[k] for k in p.inputs if k not in PARAM_NAMES})
    if p.kind == "sample":
        captions = _call(what, model.sample, data["features"],
                         max_length=settings["max_length"])
        run = Execution({"captions": _host(captions)})
    else:
        loss, grads = _unpack(what, _call(what, model.loss, data["features"], data["captions"]),
                              ("loss", "grads"), cache=False)
        if not isinstance(grads, dict):
            raise StudentCodeError(f"{what} returned grads as a {type(grads).__name__}; it "
                                   "should be a dict with one entry per parameter.")
        outputs = {"loss": _host(loss)}
        outputs.update({"d" + k: _host(grads[k]) if k in grads else None for k in PARAM_NAMES})
        run = Execution(outputs)
    run.changed = _changed(_copies({k: inputs[k] for k in data}), data)
    return run


# ------------------------------------------------------------------ comparing


@dataclass
class Verdict:
    """The verdict on one output of one case."""

    output: str
    ok: bool
    problem: str = ""           # what is wrong, for the student (empty when ok)
    error: float | None = None  # max relative error, when the shapes match
    hint: str = ""


def _rel_errors(a, b, floor=_REL_FLOOR):
    """Elementwise relative errors, flattened (operators only: see _isfinite above)."""
    a, b = a.reshape(-1), b.reshape(-1)
    diff = abs(a - b)
    denom = abs(a) + abs(b)
    denom[denom < floor] = floor
    return diff / denom


def _index(shape, flat) -> str:
    return "[" + ", ".join(str(int(i)) for i in _unravel(flat, shape)) + "]" if shape else ""


def _end_token(words):
    return {w: i for i, w in enumerate(words)}.get("<END>")


def compare(name, actual, expected, tol, *, show_values=False, end_token=None) -> Verdict:
    """Is ``actual`` right? (expected: float64, or int for sampled captions).

    Integer outputs (captions) must match exactly up to and including the
    first <END> of each expected row; what comes after it is not checked.
    """
    if actual is None:
        return Verdict(name, False, "was not returned")
    if isinstance(actual, TooLarge):
        return Verdict(name, False, f"has shape {actual.shape} ({actual.size:,} numbers, too "
                                    f"many to check); expected {tuple(expected.shape)}")
    if not isinstance(actual, np.ndarray):
        return Verdict(name, False, f"is a {type(actual).__name__}, not an array of numbers")
    if actual.dtype.kind not in "biuf":
        return Verdict(name, False, f"has dtype {actual.dtype}, not numbers")
    if expected.ndim == 0 and actual.size == 1:
        actual = actual.reshape(())  # a loss returned as shape (1,) is still a scalar
    if actual.shape != expected.shape:
        return Verdict(name, False, f"has shape {actual.shape}; expected {expected.shape}")
    if expected.dtype.kind in "iu":
        return _compare_tokens(name, actual, expected, end_token)
    a = actual.astype(np.float64)
    bad = ~_isfinite(a)
    if bad.any():
        kind = "NaN" if bool((a != a).any()) else "inf"
        first = _index(a.shape, int(bad.argmax()))
        return Verdict(name, False, f"contains {kind} (first at {first})")
    if a.size == 0:
        return Verdict(name, True, error=0.0)
    errors = _rel_errors(a, expected)
    worst = int(errors.argmax())
    error = float(errors.reshape(-1)[worst])
    if error <= tol:
        return Verdict(name, True, error=error)
    where = _index(a.shape, worst)
    text = f"max relative error {error:.1e} (tolerance {tol:.0e})"
    if where:
        text += f", worst at {where}"
    if show_values:
        text += (f": expected {float(expected.reshape(-1)[worst]):.6g}, got "
                 f"{float(a.reshape(-1)[worst]):.6g}")
    return Verdict(name, False, text, error=error)


def _compare_tokens(name, actual, expected, end_token):
    if actual.dtype.kind == "f" and not bool((actual == actual.round()).all()):
        return Verdict(name, False, "contains non-integer values; word indices are integers")
    checked = np.ones(expected.shape, dtype=bool)
    if end_token is not None and expected.ndim == 2:
        for row, tokens in enumerate(expected):
            ends = np.flatnonzero(tokens == end_token)
            if ends.size:
                checked[row, ends[0] + 1:] = False
    wrong = (actual != expected) & checked
    if not wrong.any():
        return Verdict(name, True, error=0.0)
    first = _index(expected.shape, int(wrong.argmax()))
    return Verdict(name, False, f"{int(wrong.sum())} of {int(checked.sum())} checked words "
                                f"differ (first at {first})", error=1.0)


def _close(a, b, tol=1e-6) -> bool:
    return a.shape == b.shape and bool((_rel_errors(a, b) <= tol).all())


# A ratio hint ("the right answer times 2") needs a scale that many entries
# agree on: one number, or a handful, always equals the right one times
# *something*. Fewer entries than this, and a wrong value gets no ratio hint.
RATIO_MIN_ENTRIES = 4


def diagnose(name, actual, case: CheckCase, hints: dict, tol: float, end_token=None) -> str:
    """A hint for a wrong output: a known mistake it matches, or a pattern that is certain.

    Known mistakes (``case.mistakes``, with their hints) come first. Otherwise
    only what the numbers prove is said: a transposed or summed-over shape, an
    integer or lower-precision dtype, all zeros, the negative of the answer, or
    one scale factor shared by at least ``RATIO_MIN_ENTRIES`` non-zero entries.
    A wrong scalar (a loss) gets a hint only from a known mistake: an unknown
    mistake gets no hint rather than a wrong one.
    """
    if not isinstance(actual, np.ndarray) or actual.dtype.kind not in "biuf":
        return ""
    expected = case.expected[name]
    a = actual.astype(np.float64) if actual.dtype.kind == "f" else actual
    for mistake, outputs in case.mistakes.items():
        wrong = outputs.get(name)
        if wrong is None or wrong.shape != a.shape:
            continue
        if wrong.dtype.kind in "iu":
            same = compare(name, a, wrong, 0, end_token=end_token).ok
        else:
            same = _close(a.astype(np.float64), wrong, max(tol, 1e-6))
        if same:
            return hints.get(mistake, "")
    if expected.dtype.kind in "iu" or not bool(_isfinite(a).all()):
        return ""
    if a.ndim == 2 and a.shape == expected.shape[::-1] and a.shape != expected.shape:
        if _close(a.T, expected):
            return (f"{name} is the transpose of the right answer: swap the two factors of the "
                    "matrix product (and transpose them).")
        return f"{name} has the shape of the transpose: check the order of the factors."
    if a.ndim > expected.ndim and a.shape[a.ndim - expected.ndim:] == expected.shape:
        summed = a.reshape((-1,) + expected.shape).sum(axis=0)
        if _close(summed, expected):
            return (f"{name} still has the batch (or time) axes: a parameter used by every "
                    "example and every step gets the sum of their gradients.")
        return f"{name} has extra leading axes; expected shape {expected.shape}."
    if a.shape != expected.shape:
        return ""
    if actual.dtype.kind in "biu":
        return (f"{name} is an integer array ({actual.dtype}): values are floating-point. An "
                "array made with zeros_like() of integer word indices is integer too; give "
                "the dtype of the values.")
    if actual.dtype != np.float64 and _close(a, expected, 1e-3):
        return (f"{name} is {actual.dtype} and matches only to its precision; the inputs are "
                "float64, keep that (no .astype(np.float32)).")
    scalar = expected.size == 1
    if not bool(a.any()) and bool(expected.any()):
        return (f"{name} is zero" if scalar else f"{name} is all zeros") + \
            ": is it computed (and returned)?"
    if _close(a, -expected):
        return f"{name} has the wrong sign."
    flat_e, flat_a = expected.reshape(-1), a.reshape(-1)
    k = int(abs(flat_e).argmax())
    significant = int((abs(flat_e) > 1e-6 * abs(flat_e[k])).sum()) if flat_e[k] != 0 else 0
    if significant >= RATIO_MIN_ENTRIES:
        ratio = float(flat_a[k] / flat_e[k])
        if ratio != 0 and abs(ratio - 1) > 1e-3 and _close(a, ratio * expected, 1e-6):
            return (f"{name} is the right answer times {ratio:.3g}: a scaling factor is off "
                    "(a mean instead of a sum, or a missing factor?).")
    return ""


# ----------------------------------------------------------- capturing output


@dataclass
class Captured:
    """What student code wrote while it was checked."""

    stdout: str = ""
    stderr: str = ""
    warnings: list = field(default_factory=list)

    def __bool__(self):
        return bool(self.stdout.strip() or self.stderr.strip() or self.warnings)

    def report(self, mask: bool) -> list:
        """Lines telling the student what their code printed (numbers masked if ``mask``)."""
        clean = mask_numbers if mask else (lambda s: s)
        lines = []
        for title, text in (("printed", self.stdout), ("wrote to stderr", self.stderr)):
            if text.strip():
                lines.append(f"Your code {title} (shown here, it does not affect the check):")
                lines += ["  | " + line for line in _shorten(clean(text))]
        if self.warnings:
            counts = {}
            for w in self.warnings:
                counts[clean(w)] = counts.get(clean(w), 0) + 1
            lines.append("Your code raised warnings (an overflow or a division by zero can "
                         "make outputs wrong):")
            lines += [f"  | {w}" + (f"  (x{n})" if n > 1 else "")
                      for w, n in list(counts.items())[:5]]
        return lines

    def summary(self) -> list:
        """For hidden cases: what was written, without the text (it could quote inputs)."""
        lines = []
        written = [title for title, text in (("printed", self.stdout),
                                             ("wrote to stderr", self.stderr)) if text.strip()]
        if written:
            lines.append(f"your code {' and '.join(written)} while it was graded (not shown: "
                         "hidden inputs stay hidden)")
        kinds = sorted({mask_numbers(w) for w in self.warnings})
        if kinds:
            lines.append("your code raised warnings: " + "; ".join(kinds[:3])
                         + (" ..." if len(kinds) > 3 else ""))
        return lines


def _shorten(text, max_lines=12, max_chars=1200) -> list:
    lines = text[:max_chars].rstrip("\n").splitlines()
    more = len(text.splitlines()) - len(lines[:max_lines])
    lines = lines[:max_lines]
    if more > 0 or len(text) > max_chars:
        lines.append(f"... ({max(more, 1)} more line(s) not shown)")
    return lines


_NUMBER = re.compile(r"\d[\d.]*(?:[eE][-+]?\d+)?")


def mask_numbers(text: str) -> str:
    """Hide numbers that could be values (a decimal point, an exponent, 4+ digits).

    Shapes, indices and line numbers (small integers) stay readable.
    """
    def repl(m):
        token = m.group(0)
        digits = sum(c.isdigit() for c in token)
        return "<number>" if ("." in token.rstrip(".") or "e" in token.lower()
                              or digits >= 4) else token
    return _NUMBER.sub(repl, text)


def _flush(stream):
    try:
        stream.flush()
    except Exception:
        pass


@contextlib.contextmanager
def capture_student_output():
    """Capture sys.stdout, sys.stderr, file descriptor 2 and warnings.

    Yields a Captured that is filled in when the block ends. C code and
    ``print(..., file=sys.__stderr__)`` write to file descriptor 2 directly, so
    it is pointed at a temporary file for the duration (os.dup2).
    """
    captured = Captured()
    out, err = io.StringIO(), io.StringIO()
    saved_out, saved_err = sys.stdout, sys.stderr
    for stream in (saved_out, saved_err, sys.__stderr__):
        _flush(stream)
    tmp = tempfile.TemporaryFile()
    try:
        saved_fd = os.dup(2)
        os.dup2(tmp.fileno(), 2)
    except OSError:
        saved_fd = None
    caught = []
    sys.stdout, sys.stderr = out, err
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield captured
    finally:
        sys.stdout, sys.stderr = saved_out, saved_err
        _flush(sys.__stderr__)
        if saved_fd is not None:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
        tmp.seek(0)
        fd_text = tmp.read().decode("utf-8", "replace")
        tmp.close()
        captured.stdout = out.getvalue()
        captured.stderr = err.getvalue() + fd_text
        captured.warnings = [f"{w.category.__name__}: {w.message}" for w in caught]


# -------------------------------------------------------- evaluating one case
#
# Two halves, so that the student's own check and the grader share them:
#   run   (where the student's code lives): execute() -> a CaseRun, the raw
#         outputs and what happened; nothing in it is a verdict;
#   judge (where the expected values live): judge_case(CaseRun) -> CaseResult.
# check_unit does both in-process on the public cases; while grading, the
# student's kernel only runs (autograder/kernel/rnn_grading_kernel.py) and the
# scorer outside it judges (autograder/scoring.py).


@dataclass
class CaseRun:
    """What running a unit on one case gave, before any judgement."""

    execution: Execution | None = None      # None when the code could not be run to the end
    failure: StudentCodeError | None = None  # why not
    captured: Captured = field(default_factory=Captured)
    notes: list = field(default_factory=list)  # set-up notes (an instructor file was opened)


@dataclass
class CaseResult:
    """The verdicts on every output of one case, and what to tell the student."""

    case: CheckCase
    verdicts: dict = field(default_factory=dict)   # output -> Verdict
    failure: StudentCodeError | None = None        # the code could not be checked
    notes: list = field(default_factory=list)
    captured: Captured = field(default_factory=Captured)
    skipped: str = ""                              # check_unit only: why the case was skipped

    @property
    def ok(self) -> bool:
        return self.skipped != "" or all(v.ok for v in self.verdicts.values())

    @property
    def wrong(self) -> list:
        return [k for k, v in self.verdicts.items() if not v.ok]


def _credit_known_mistake(checks, case, ex, result):
    """A loss wrong the way a known mistake makes it wrong keeps that mistake's gradients.

    One mistake is charged once: when the loss equals, on this case, the loss
    of a known mistake (``case.mistakes``, made by the grader with the
    reference code of that mistake), a gradient that equals the same
    mistake's gradient is accepted. Judged only from stored values: an
    unknown wrong loss gets no gradient credit.
    """
    if PROTOCOLS[checks.unit].kind != "loss" or result.verdicts["loss"].ok:
        return
    missed = [n for n, v in result.verdicts.items() if not v.ok and n != "loss"]
    for mistake, wrong in case.mistakes.items():
        if "loss" not in wrong or not compare("loss", ex.outputs.get("loss"), wrong["loss"],
                                              checks.tolerance).ok:
            continue
        fine = []
        for name in missed:
            if name in wrong:
                verdict = compare(name, ex.outputs.get(name), wrong[name], checks.tolerance)
                if verdict.ok:
                    result.verdicts[name] = verdict
                    fine.append(name)
        if fine:
            result.notes.append(
                f"Your loss is wrong in a known way (see the hint for loss), and "
                f"{', '.join(fine)} {'is' if len(fine) == 1 else 'are'} exactly the gradient of "
                "that same loss, so accepted (one mistake is charged once). Fix the loss first.")
        return


def judge_case(checks: UnitChecks, case: CheckCase, run: CaseRun, *, hidden=False) -> CaseResult:
    """Judge every output of one run against the case's expected values.

    A loss gradient that misses the reference while the loss is wrong in a
    known way is accepted if it is the gradient of that same known mistake
    (``_credit_known_mistake``). ``hidden`` keeps values out of the messages.
    Never runs student code.
    """
    unit, p = checks.unit, PROTOCOLS[checks.unit]
    result = CaseResult(case, captured=run.captured, notes=list(run.notes))
    failure = run.failure
    if failure is None and run.execution is None:
        failure = StudentCodeError("no result was recorded")
    if failure is not None:
        if hidden:  # an exception message can quote values
            failure.message = mask_numbers(failure.message)
        result.failure = failure
        result.verdicts = {k: Verdict(k, False, failure.message) for k in p.outputs}
        return result
    ex = run.execution
    end = _end_token(case.settings.get("words", []))
    for name in p.outputs:
        result.verdicts[name] = compare(name, ex.outputs.get(name), case.expected[name],
                                        checks.tolerance, show_values=not hidden, end_token=end)
    _credit_known_mistake(checks, case, ex, result)
    for name, verdict in result.verdicts.items():
        if not verdict.ok:
            verdict.hint = diagnose(name, ex.outputs.get(name), case, checks.hints,
                                    checks.tolerance, end)
    what = _WHAT.get(p.kind, unit)
    for name in list(ex.changed_upstream) + list(ex.changed):
        result.notes.append(in_place_note(what, name))
    return result


def timeout_error(unit) -> StudentCodeError:
    """The failure of a case whose code ran past its time limit."""
    return StudentCodeError(f"{_WHAT.get(PROTOCOLS[unit].kind, unit)} ran past the time limit "
                            "(an endless loop?)", timed_out=True)


def evaluate_case(checks: UnitChecks, obj, case: CheckCase, *, hidden=False,
                  time_limit=None) -> CaseResult:
    """Run ``obj`` on one case and judge every output, in this process (both halves).

    ``time_limit`` is a context manager factory (an alarm); all output of the
    student's code is captured.
    """
    run = CaseRun()
    result = None
    with capture_student_output() as captured:
        try:
            with (time_limit() if time_limit else contextlib.nullcontext()):
                run.execution = execute(checks.unit, obj, case.inputs, case.settings)
                result = judge_case(checks, case, run, hidden=hidden)
        except StudentCodeError as err:
            run.execution, run.failure = None, err
        except StudentTimeout:
            run.execution, run.failure = None, timeout_error(checks.unit)
    if run.failure is not None:
        result = judge_case(checks, case, run, hidden=hidden)
    result.captured = captured
    return result


# ------------------------------------------------------------------ check_unit


def _autograding() -> bool:
    return os.environ.get("NBGRADER_EXECUTION") == "autograde"


def format_case(result: CaseResult, *, mask=False) -> list:
    """The lines printed for one case: one per output, then notes."""
    if result.skipped:
        return [f"  skipped: {result.skipped}"]
    if result.failure is not None:
        text = mask_numbers(result.failure.message) if mask else result.failure.message
        if result.failure.not_implemented:
            lines = [f"  {text}: replace `# YOUR CODE HERE` and `raise NotImplementedError()` "
                     "in the function's cell with your code, run that cell, then this one."]
        else:
            lines = [f"  every output: not checked, because {text}"]
    else:
        width = max(len(k) for k in result.verdicts)
        lines, hints = [], {}
        for name, v in result.verdicts.items():
            if v.ok:
                lines.append(f"  {name:<{width}}  OK" + (f" (relative error {v.error:.0e})"
                                                          if v.error else ""))
            else:
                lines.append(f"  {name:<{width}}  WRONG: {v.problem}")
                if v.hint:
                    hints.setdefault(v.hint, []).append(name)
        for hint, names in hints.items():
            lines.append(f"  hint ({', '.join(names)}): {hint}")
    lines += ["  note: " + n for n in result.notes]
    lines += ["  " + line for line in result.captured.report(mask)]
    return lines


def _guarded_while_grading(check):
    """While nbgrader autogrades, a check can never keep the graded cell's hidden part from running.

    The visible part of a graded cell (``graded=True``) is not run then: the
    hidden part runs the same public case, with time limits, and nothing the
    visible part could meet (an exception, an output too large to copy, an
    endless loop) may cost another unit. A plain check cell runs, and anything
    it raises is printed, not raised.
    """
    @functools.wraps(check)
    def guarded(unit, obj, graded=False):
        if not _autograding():
            return check(unit, obj, graded)
        if graded:
            print(f"Visible test of {unit}: not repeated while grading (the hidden tests run "
                  "your code on the public case too, and on hidden ones).")
            return None
        try:
            return check(unit, obj, graded)
        except KeyboardInterrupt:
            raise
        except BaseException as err:
            print(f"{unit}: the check stopped ({type(err).__name__}); grading goes on.")
            return None
    return guarded


@_guarded_while_grading
def check_unit(unit, obj, graded=False):
    """Check your ``unit`` on the fixed public inputs; print one line per output.

    Inputs:
        unit: the name of what you implemented, e.g. "rnn_step_backward",
            "captioning_loss" (CaptioningRNN.loss) or "captioning_sample"
        obj: your function (for the model units: the CaptioningRNN class)
        graded: True in the graded test cell (only the wording changes)
    A backward pass gets the cache that a correct forward pass makes on the
    public inputs (a type of assignment.caches), whatever your forward pass
    does; the notebooks' gradient checks test your own pair.
    Raises AssertionError when an output is wrong (not while nbgrader autogrades).
    """
    units = public_checks()
    if unit not in units:
        raise ValueError(f"Unknown unit {unit!r}; the units are: {', '.join(units)}.")
    checks = units[unit]
    results = []
    for case in checks.cases:
        result = evaluate_case(checks, obj, case)
        err = result.failure.exc if result.failure else None
        if (isinstance(err, NameError) and case.settings.get("cell_type") == "lstm"
                and getattr(err, "name", None) in LSTM_NAMES):
            result.skipped = (f"the LSTM case, because {err.name} is not defined in this notebook "
                              "(you write it in LSTM_Captioning; at grading time your LSTM branch "
                              "is checked with correct LSTM layers).")
        results.append(result)

    failed = [r for r in results if not r.ok]
    missing = [r.failure for r in failed if r.failure and r.failure.not_implemented]
    title = "Visible test of" if graded else "Checking"
    for result in results:
        if missing and len(missing) == len(failed):
            break  # a stub: the one line below says it all
        print(f"{title} {unit} on the {result.case.label} with {result.case.describe()}:")
        for line in format_case(result):
            print(line)
    if not failed:
        print(f"{unit}: all outputs match." + (" Hidden cases with other shapes run at grading "
                                                "time." if graded else " Well done!"))
        return None
    broken = [r.failure.message for r in failed if r.failure]
    if missing:
        summary = stub_message(missing[0].exc, missing[0].message.split(" is not implemented")[0])
    elif broken:
        summary = f"{unit} could not be checked: {broken[0]}"
    else:
        wrong = sorted({k for r in failed for k in r.wrong}, key=PROTOCOLS[unit].outputs.index)
        summary = f"{unit}: {', '.join(wrong)} wrong on the public case; see the lines above."
        if not graded and formulas.offer(unit):
            print(formulas.offer(unit))
    if _autograding():
        print(summary)
        return None
    raise CheckFailed(summary)  # in a notebook: this line only, no traceback of this package
