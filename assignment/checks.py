"""Check the functions you write on fixed inputs: ``check_unit("rnn_forward", rnn_forward)``.

A *unit* is one thing you implement in a notebook (a function, or
``CaptioningRNN.loss`` / ``CaptioningRNN.sample``). ``check_unit`` runs it on
the fixed public inputs stored in ``assignment/public_checks.npz`` and prints
one line per output: OK, or what is wrong (shape, NaN, how far off, and a hint
when the answer matches a usual mistake). It raises ``AssertionError`` when
something is wrong, so a notebook cell stops there; while nbgrader autogrades
(``NBGRADER_EXECUTION=autograde``) it only prints, and a graded cell's visible
test is left to the hidden tests.

Also here, shared with the instructors' autograder (which runs the same code
on hidden inputs of other shapes): how each unit is called (``PROTOCOLS``),
the file format of the check files, and the two halves of checking a case:
*run* (``execute``, ``collect_evidence``: the raw outputs and the evaluations
of the student's own forward pass, the capture of anything student code
writes to stderr) and *judge* (``judge_case``: the comparison of an output
with its expected value, hints, the numerical gradient used when a backward
pass sits on a wrong forward pass). Here both run in-process; while grading,
the student's kernel only runs and the scorer outside it judges. Nothing in
this module knows a hidden value.

Errors are relative: |a - b| / max(1e-8, |a| + |b|), maximum over entries,
the same measure as ``gradient_check.rel_error``.

Check files (``public_checks.npz`` here; the instructors' references file has
the same layout): one .npz, no pickles. ``__index__`` holds a JSON index
(units, their outputs and points, tolerance, hints, and per case its label,
shapes and settings); the arrays are stored under
``<unit>/<case>/<group>/<name>`` with group ``inputs``, ``expected``,
``forward`` (the right forward outputs) or ``mistake:<id>`` (what a known
mistake gives). ``read_check_file`` / ``write_check_file`` are the only code
that knows this layout.
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

from .backend import to_numpy

__all__ = ["check_unit", "PROTOCOLS", "UNIT_NAMES", "PUBLIC_CHECKS", "read_check_file",
           "write_check_file", "execute", "collect_evidence", "judge_case", "evaluate_case",
           "CaseRun", "CaseResult", "Execution"]

PUBLIC_CHECKS = Path(__file__).with_name("public_checks.npz")
FILE_FORMAT = "rnn-assignment-checks"
FILE_VERSION = 1
NUMERIC_STEP = 1e-5  # centred differences in float64
_REL_FLOOR = 1e-8    # denominator floor of the relative error (as in rel_error)
# Against a numerical gradient the floor is NUMERIC_FLOOR * max(1, max |gradient|):
# centred differences carry an absolute round-off of ~eps |f| / h, which swamps
# the relative error of entries that are nearly zero.
NUMERIC_FLOOR = 1e-4

# Taken once, when the module is imported (before any student cell runs), so
# that a notebook that reassigns np.isfinite & co. cannot change a verdict.
_isfinite = np.isfinite
_array = np.array
_zeros = np.zeros
_ndindex = np.ndindex
_unravel = np.unravel_index


# ----------------------------------------------------------------- protocols


PARAM_NAMES = ("W_embed", "W_proj", "b_proj", "Wx", "Wh", "b", "W_vocab", "b_vocab")
LSTM_NAMES = ("lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward")


@dataclass(frozen=True)
class Protocol:
    """How a unit is called and what it returns (SPEC section 3).

    kind: 'forward'  obj(*inputs) -> (*outputs, cache)
          'backward' obj(*upstream, cache) -> outputs, the cache coming from the
                     student's own ``forward`` function on the same inputs
          'loss'     CaptioningRNN(...).loss(features, captions) -> (loss, grads)
          'sample'   CaptioningRNN(...).sample(features, max_length=L) -> captions
    A gradient output is named 'd' + the input it belongs to (dWx <-> Wx), and
    an upstream gradient 'd' + the forward output it belongs to (dh <-> h).
    """

    kind: str
    inputs: tuple            # forward arguments (model units: features, captions, params)
    outputs: tuple           # graded outputs, in return order
    forward: str = ""        # backward units: the forward function that makes the cache
    forward_outputs: tuple = ()  # what that forward returns before its cache

    @property
    def upstream(self) -> tuple:
        return tuple("d" + name for name in self.forward_outputs)


_RNN_STEP = ("x", "prev_h", "Wx", "Wh", "b")
_RNN_SEQ = ("x", "h0", "Wx", "Wh", "b")
_LSTM_STEP = ("x", "prev_h", "prev_c", "Wx", "Wh", "b")

PROTOCOLS = {
    "rnn_step_forward": Protocol("forward", _RNN_STEP, ("next_h",)),
    "rnn_step_backward": Protocol("backward", _RNN_STEP, ("dx", "dprev_h", "dWx", "dWh", "db"),
                                  "rnn_step_forward", ("next_h",)),
    "rnn_forward": Protocol("forward", _RNN_SEQ, ("h",)),
    "rnn_backward": Protocol("backward", _RNN_SEQ, ("dx", "dh0", "dWx", "dWh", "db"),
                             "rnn_forward", ("h",)),
    "word_embedding_forward": Protocol("forward", ("x", "W"), ("out",)),
    "word_embedding_backward": Protocol("backward", ("x", "W"), ("dW",),
                                        "word_embedding_forward", ("out",)),
    "captioning_loss": Protocol("loss", ("features", "captions") + PARAM_NAMES,
                                ("loss",) + tuple("d" + p for p in PARAM_NAMES)),
    "captioning_sample": Protocol("sample", ("features",) + PARAM_NAMES, ("captions",)),
    "lstm_step_forward": Protocol("forward", _LSTM_STEP, ("next_h", "next_c")),
    "lstm_step_backward": Protocol("backward", _LSTM_STEP,
                                   ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"),
                                   "lstm_step_forward", ("next_h", "next_c")),
    "lstm_forward": Protocol("forward", _RNN_SEQ, ("h",)),
    "lstm_backward": Protocol("backward", _RNN_SEQ, ("dx", "dh0", "dWx", "dWh", "db"),
                              "lstm_forward", ("h",)),
}
UNIT_NAMES = tuple(PROTOCOLS)
_WHAT = {"loss": "CaptioningRNN.loss", "sample": "CaptioningRNN.sample"}


# ---------------------------------------------------------------- check files


@dataclass
class CheckCase:
    """One set of inputs for a unit, with the expected outputs."""

    label: str                 # 'public case', 'hidden case 2 (T=1)'
    hidden: bool
    dims: dict                 # N, T, D, H, V, W as used by this case
    settings: dict             # model units: cell_type, words, max_length
    inputs: dict               # name -> array
    expected: dict             # output -> array (float64; captions int)
    forward_expected: dict     # backward/loss units: the right forward outputs
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
    numeric_tolerance: float   # against a numerical gradient of the student's own forward
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
                 "tolerance": u.tolerance, "numeric_tolerance": u.numeric_tolerance,
                 "hints": u.hints, "cases": []}
        for i, case in enumerate(u.cases):
            groups = {"inputs": case.inputs, "expected": case.expected,
                      "forward": case.forward_expected}
            groups.update({f"mistake:{m}": outs for m, outs in case.mistakes.items()})
            entry["cases"].append({
                "label": case.label, "hidden": case.hidden, "dims": case.dims,
                "settings": case.settings,
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


def read_check_file(path) -> tuple[dict, dict]:
    """Read a file written by :func:`write_check_file`: (header, {unit: UnitChecks})."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Check file not found: {path}")
    with np.load(path, allow_pickle=False) as data:
        if "__index__" not in data.files:
            raise ValueError(f"{path} is not a check file of this assignment (no __index__).")
        index = json.loads(bytes(data["__index__"]).decode())
        if index.get("format") != FILE_FORMAT or index.get("version") != FILE_VERSION:
            raise ValueError(f"{path} has format {index.get('format')!r} version "
                             f"{index.get('version')!r}; expected {FILE_FORMAT!r} version "
                             f"{FILE_VERSION}. Rebuild it.")
        units = {}
        for name, entry in index.pop("units").items():
            cases = []
            for i, c in enumerate(entry["cases"]):
                groups = {g: {k: data[f"{name}/{i}/{g}/{k}"] for k in keys}
                          for g, keys in c["groups"].items()}
                cases.append(CheckCase(
                    label=c["label"], hidden=c["hidden"], dims=c["dims"], settings=c["settings"],
                    inputs=groups.pop("inputs"), expected=groups.pop("expected"),
                    forward_expected=groups.pop("forward"),
                    mistakes={g.split(":", 1)[1]: v for g, v in groups.items()}))
            units[name] = UnitChecks(
                unit=name, notebook=entry["notebook"], obj_name=entry["object"],
                points={k: v for k, v in entry["outputs"]}, tolerance=entry["tolerance"],
                numeric_tolerance=entry["numeric_tolerance"], hints=entry["hints"], cases=cases)
    return index, units


_public_cache = {}


def public_checks() -> dict:
    """The public cases of every unit (read once from ``public_checks.npz``)."""
    if "units" not in _public_cache:
        if not PUBLIC_CHECKS.is_file():
            raise FileNotFoundError(
                f"The public check data {PUBLIC_CHECKS} is missing. It comes with the "
                "assignment package; reinstall it (course staff: "
                "`python -m autograder.hidden_cases` rebuilds it).")
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
    forward_outputs: dict = field(default_factory=dict)  # backward/loss units
    forward_values: object = None  # inputs -> list of forward outputs (numerical gradients)
    upstream: list = field(default_factory=list)         # upstream gradients used
    changed: list = field(default_factory=list)          # inputs modified in place
    changed_upstream: list = field(default_factory=list)  # upstream gradients modified in place
    evidence: dict | None = None  # raw forward evaluations (collect_evidence); None: not collected


def execute(unit, obj, inputs, settings, lookup) -> Execution:
    """Run ``obj`` (a student's or the reference's) on one case of ``unit``.

    ``lookup(name)`` finds the other functions a backward unit needs (its
    forward pass, which makes the cache). Every array handed to ``obj`` is a
    fresh copy. Raises StudentCodeError for anything the code does wrong that
    stops the check (an exception, a missing return value).
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
        return _execute_backward(unit, p, obj, inputs, lookup)
    return _execute_model(unit, p, obj, inputs, settings)


def _execute_backward(unit, p, obj, inputs, lookup):
    forward = lookup(p.forward)
    if forward is None:
        raise StudentCodeError(f"{unit} needs your {p.forward} to make the cache: run the cell "
                               f"that defines {p.forward} first.")

    def forward_values(point):
        args = _copies({k: point[k] for k in p.inputs})
        return _unpack(p.forward, _call(p.forward, forward, *args.values()),
                       p.forward_outputs, cache=True)

    original = {k: inputs[k] for k in p.inputs}
    *fouts, cache = forward_values(original)
    forward_outputs = dict(zip(p.forward_outputs, map(_host, fouts)))
    upstream = _copies({k: inputs[k] for k in p.upstream})
    result = _call(unit, obj, *upstream.values(), cache)
    grads = _unpack(unit, result, p.outputs, cache=False)
    run = Execution(dict(zip(p.outputs, map(_host, grads))), forward_outputs,
                    lambda point: [_host(v) for v in forward_values(point)[:-1]],
                    [inputs[k] for k in p.upstream])
    run.changed_upstream = _changed(_copies({k: inputs[k] for k in p.upstream}), upstream)
    return run


def _execute_model(unit, p, obj, inputs, settings):
    words = settings["words"]
    word_to_idx = {w: i for i, w in enumerate(words)}
    dims = {"input_dim": inputs["features"].shape[1], "wordvec_dim": inputs["W_embed"].shape[1],
            "hidden_dim": inputs["W_proj"].shape[1]}
    model = _call("CaptioningRNN(...)", obj, word_to_idx, **dims,
                  cell_type=settings["cell_type"], dtype=np.float64)
    if not isinstance(getattr(model, "params", None), dict):
        raise StudentCodeError("CaptioningRNN(...) has no params dict (self.params).")

    def set_params(point):
        for k in PARAM_NAMES:
            model.params[k] = _array(point[k], copy=True)

    set_params(inputs)
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

        def loss_value(point):
            set_params(point)
            fresh = _copies({k: inputs[k] for k in data})
            value = _unpack(what, _call(what, model.loss, *fresh.values()),
                            ("loss", "grads"), cache=False)[0]
            return [_host(value)]

        run = Execution(outputs, {"loss": outputs["loss"]}, loss_value, [np.array(1.0)])
    run.changed = _changed(_copies({k: inputs[k] for k in data}), data)
    return run


# ------------------------------------------- evidence: the student's own forward pass
#
# A gradient that misses the reference while its own forward pass (or loss) is
# wrong earns its points if it is the gradient of that forward pass. The
# evidence is raw forward evaluations, collected where the student's code runs
# (in-process here, in the student's kernel while grading); the judgement
# (contraction, division, comparison) is made by whoever judges, from inputs it
# holds itself. Formats:
#   backward unit: evidence['dWx'] = float64 array (Wx.size, M): row i is
#       f(Wx + h e_i) - f(Wx - h e_i), every forward output flattened and
#       concatenated (M = total size of the forward outputs), e_i the i-th entry;
#   loss unit: evidence['dWx'] = float64 array (LOSS_DIRECTIONS, 2): the loss at
#       Wx + h u and at Wx - h u for the fixed random unit directions u of
#       loss_directions().
# An output whose evidence could not be collected (the forward pass raised or
# returned the wrong shape at a perturbed point) is absent: it gets no credit
# this way.

LOSS_DIRECTIONS = 3


class _NoEvidence(Exception):
    """The forward pass gave nothing usable at a perturbed point."""


def loss_directions(shapes: dict) -> dict:
    """Fixed random unit directions for the loss check: name -> [u, ...] (seed 0, PARAM_NAMES order)."""
    rng = np.random.default_rng(0)
    directions = {}
    for name in PARAM_NAMES:
        if name not in shapes:
            continue
        units = []
        for _ in range(LOSS_DIRECTIONS):
            u = rng.standard_normal(tuple(shapes[name]))
            units.append(u / float((u * u).sum()) ** 0.5)
        directions[name] = units
    return directions


def _flat_forward(values, sizes) -> np.ndarray:
    """The forward outputs at one point as one float64 vector (sizes: the upstream sizes)."""
    if len(values) != len(sizes):
        raise _NoEvidence()
    parts = []
    for value, size in zip(values, sizes):
        if not isinstance(value, np.ndarray) or value.size != size or value.dtype.kind not in "biuf":
            raise _NoEvidence()
        parts.append(value.astype(np.float64).reshape(-1))
    return np.concatenate(parts) if parts else _zeros(0)


def collect_evidence(run: Execution, unit, inputs, names=None, into=None, h=NUMERIC_STEP) -> dict:
    """Raw evaluations of the student's own forward pass (or loss) around the case's inputs.

    ``names``: the gradient outputs wanted (default: all of the unit). Filled in
    ``into`` (a dict) output by output, so a time limit that stops it keeps what
    is complete. Student code that raises at a perturbed point leaves that
    output out; a StudentTimeout goes through.
    """
    p = PROTOCOLS[unit]
    evidence = {} if into is None else into
    if p.kind not in ("backward", "loss") or run.forward_values is None:
        return evidence
    names = [n for n in (p.outputs if names is None else names)
             if n.startswith("d") and n[1:] in inputs]
    if p.kind == "loss":
        directions = loss_directions({n[1:]: inputs[n[1:]].shape for n in names})
    sizes = [int(np.size(d)) for d in run.upstream]
    for output in names:
        name = output[1:]
        point = _copies(inputs)
        try:
            if p.kind == "loss":
                rows = []
                for u in directions[name]:
                    point[name] = inputs[name] + h * u
                    plus = _flat_forward(run.forward_values(point), sizes)
                    point[name] = inputs[name] - h * u
                    minus = _flat_forward(run.forward_values(point), sizes)
                    rows.append([float(plus[0]), float(minus[0])])
                evidence[output] = _array(rows, dtype=np.float64).reshape(-1, 2)
                continue
            x = point[name]
            if x.dtype.kind != "f":
                continue  # word indices have no gradient
            diffs = _zeros((x.size, sum(sizes)))
            for row, idx in enumerate(_ndindex(x.shape)):
                old = x[idx]
                x[idx] = old + h
                plus = _flat_forward(run.forward_values(point), sizes)
                x[idx] = old - h
                minus = _flat_forward(run.forward_values(point), sizes)
                x[idx] = old
                diffs[row] = plus - minus
            evidence[output] = diffs
        except (_NoEvidence, StudentCodeError):
            continue
    return evidence


def gradient_from_evidence(diffs, upstream, shape, h=NUMERIC_STEP):
    """The centred-difference gradient (of ``shape``) from backward-unit evidence.

    Each row of ``diffs`` is contracted with the upstream gradients the backward
    pass received (flattened, concatenated), so the result is what a correct
    backward pass of the student's own forward pass returns. None when the
    evidence does not fit.
    """
    d = np.concatenate([np.asarray(u, dtype=np.float64).reshape(-1) for u in upstream]) \
        if upstream else _zeros(0)
    size = int(np.prod(shape)) if len(shape) else 1
    if not isinstance(diffs, np.ndarray) or diffs.shape != (size, d.size) \
            or diffs.dtype != np.float64:
        return None
    return ((diffs * d).sum(axis=1) / (2 * h)).reshape(shape)


def directional_error(values, grad, directions, h=NUMERIC_STEP):
    """Worst relative error of <grad, u> against the loss's slope along each direction u.

    ``values``: loss-unit evidence (LOSS_DIRECTIONS, 2). Floor of the relative
    error: NUMERIC_FLOOR * max(1, |grad|). None when the evidence does not fit.
    """
    if not isinstance(values, np.ndarray) or values.shape != (len(directions), 2) \
            or values.dtype != np.float64 or not bool(_isfinite(values).all()):
        return None
    floor = NUMERIC_FLOOR * max(1.0, float((grad * grad).sum()) ** 0.5)
    worst = 0.0
    for (plus, minus), u in zip(values, directions):
        slope = float(plus - minus) / (2 * h)
        analytic = float((grad * u).sum())
        worst = max(worst, abs(slope - analytic) / max(floor, abs(slope) + abs(analytic)))
    return worst


def _norm(a) -> float:
    return float((a * a).sum()) ** 0.5


def _own_forward_verdicts(run: Execution, unit, case: CheckCase, names, tol) -> dict:
    """Verdicts of gradient outputs against the student's own forward pass (or loss).

    Uses ``run.evidence`` (collected in the student's kernel while grading), or
    collects it now when the run happened in this process. A gradient is only
    accepted this way if it is not (nearly) zero where the right one is not: a
    forward pass that ignores its input (or returns zeros) has a zero
    gradient, and copying that earns nothing. Outputs without usable evidence
    are left out (no credit this way).
    """
    inputs = case.inputs
    usable = [n for n in names if isinstance(run.outputs.get(n), np.ndarray)
              and run.outputs[n].dtype.kind in "biuf"
              and run.outputs[n].shape == inputs[n[1:]].shape
              and bool(_isfinite(run.outputs[n]).all())
              and _norm(run.outputs[n].astype(np.float64)) >= 1e-3 * _norm(case.expected[n])]
    evidence = run.evidence
    if evidence is None:
        evidence = collect_evidence(run, unit, inputs, usable)
    p = PROTOCOLS[unit]
    verdicts = {}
    if p.kind == "loss":
        directions = loss_directions({n[1:]: inputs[n[1:]].shape for n in usable})
        for n in usable:
            e = directional_error(evidence.get(n), run.outputs[n].astype(np.float64),
                                  directions[n[1:]])
            if e is not None:
                verdicts[n] = Verdict(n, e <= tol, f"max relative error {e:.1e} (tolerance "
                                                   f"{tol:.0e})", error=e)
        return verdicts
    upstream = [inputs[k] for k in p.upstream]
    for n in usable:
        grad = gradient_from_evidence(evidence.get(n), upstream, inputs[n[1:]].shape)
        if grad is not None and bool(_isfinite(grad).all()):
            verdicts[n] = compare(n, run.outputs[n].astype(np.float64), grad, tol, numeric=True)
    return verdicts


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


def compare(name, actual, expected, tol, *, show_values=False, end_token=None,
            numeric=False) -> Verdict:
    """Is ``actual`` right? (expected: float64, or int for sampled captions).

    ``numeric``: ``expected`` is a numerical gradient (see NUMERIC_FLOOR).
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
    floor = _REL_FLOOR
    if numeric:
        floor = NUMERIC_FLOOR * max(1.0, float(abs(expected).max()))
    errors = _rel_errors(a, expected, floor)
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


def diagnose(name, actual, case: CheckCase, hints: dict, tol: float, end_token=None) -> str:
    """A hint for a wrong output: a known mistake it matches, or a telling pattern."""
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
    if a.dtype != np.float64:
        return f"{name} is {a.dtype}; the inputs are float64, keep that (no .astype(np.float32))."
    if not bool(a.any()) and bool(expected.any()):
        return f"{name} is all zeros: is it computed (and returned)?"
    if _close(a, -expected):
        return f"{name} has the wrong sign."
    flat_e, flat_a = expected.reshape(-1), a.reshape(-1)
    k = int(abs(flat_e).argmax())
    if flat_e[k] != 0:
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


def _recheck_against_own_forward(checks, case, run, result):
    """Gradients that miss the reference but sit on a wrong forward pass (or loss):
    right if they are the gradient of that forward pass. One mistake, charged once."""
    p = PROTOCOLS[checks.unit]
    missed = [n for n, v in result.verdicts.items() if not v.ok and n.startswith("d")]
    if p.kind not in ("backward", "loss") or not missed:
        return
    wrong_forward = [k for k, v in case.forward_expected.items()
                     if not compare(k, run.forward_outputs.get(k), v, checks.tolerance).ok]
    if not wrong_forward:
        return
    what = p.forward or "loss"
    own = _own_forward_verdicts(run, checks.unit, case, missed, checks.numeric_tolerance)
    for name, verdict in own.items():
        if verdict.ok:
            result.verdicts[name] = verdict
        else:
            result.verdicts[name].problem += (f"; it is not the gradient of your own {what} "
                                              "either")
    fine = [n for n in missed if result.verdicts[n].ok]
    result.notes.append(
        f"Your {what} gives a wrong {', '.join(wrong_forward)}, so "
        + (f"{', '.join(fine)} {'was' if len(fine) == 1 else 'were'} accepted as the gradient "
           f"of your own {what}" if fine else "the gradients were also compared with the "
           f"numerical gradient of your own {what}")
        + f" (one mistake is charged once). Fix {what} first.")


def judge_case(checks: UnitChecks, case: CheckCase, run: CaseRun, *, hidden=False) -> CaseResult:
    """Judge every output of one run against the case's expected values.

    A gradient that misses the reference while its own forward pass (or the
    loss) is wrong on this case is accepted if it is the numerical gradient of
    that forward pass (from ``run.execution.evidence``, or computed now when
    the run happened in this process). ``hidden`` keeps values out of the
    messages. Never runs student code unless the evidence must be computed.
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
    _recheck_against_own_forward(checks, case, ex, result)
    for name, verdict in result.verdicts.items():
        if not verdict.ok:
            verdict.hint = diagnose(name, ex.outputs.get(name), case, checks.hints,
                                    checks.tolerance, end)
    what = _WHAT.get(p.kind, unit)
    for name in ex.changed_upstream:
        result.notes.append(f"{what} changed its input {name} in place (e.g. {name} += ... or "
                            f"{name}[...] = ...). Work on a copy: the caller may still need it.")
    for name in ex.changed:
        result.notes.append(f"{what} changed its input {name} in place; leave inputs unchanged.")
    if ex.changed_upstream:
        for verdict in result.verdicts.values():
            if not verdict.ok and not verdict.hint:
                verdict.hint = (f"{what} modifies {', '.join(ex.changed_upstream)} in place, "
                                "which can change the result: work on a copy.")
    return result


def timeout_error(unit) -> StudentCodeError:
    """The failure of a case whose code ran past its time limit."""
    return StudentCodeError(f"{_WHAT.get(PROTOCOLS[unit].kind, unit)} ran past the time limit "
                            "(an endless loop?)", timed_out=True)


def evaluate_case(checks: UnitChecks, obj, case: CheckCase, lookup, *, hidden=False,
                  time_limit=None) -> CaseResult:
    """Run ``obj`` on one case and judge every output, in this process (both halves).

    ``time_limit`` is a context manager factory (an alarm); all output of the
    student's code, including what it writes while its gradients are checked
    against its own forward pass, is captured.
    """
    run = CaseRun()
    result = None
    with capture_student_output() as captured:
        try:
            with (time_limit() if time_limit else contextlib.nullcontext()):
                run.execution = execute(checks.unit, obj, case.inputs, case.settings, lookup)
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


def _lookup_for(obj, namespace):
    """Where a backward pass finds its forward pass: the namespace it was defined in."""
    if namespace is None:
        namespace = getattr(obj, "__globals__", None)
    if namespace is None:
        namespace = getattr(sys.modules.get("__main__"), "__dict__", {})
    return namespace.get


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
    def guarded(unit, obj, graded=False, *, namespace=None):
        if not _autograding():
            return check(unit, obj, graded, namespace=namespace)
        if graded:
            print(f"Visible test of {unit}: not repeated while grading (the hidden tests run "
                  "your code on the public case too, and on hidden ones).")
            return None
        try:
            return check(unit, obj, graded, namespace=namespace)
        except KeyboardInterrupt:
            raise
        except BaseException as err:
            print(f"{unit}: the check stopped ({type(err).__name__}); grading goes on.")
            return None
    return guarded


@_guarded_while_grading
def check_unit(unit, obj, graded=False, *, namespace=None):
    """Check your ``unit`` on the fixed public inputs; print one line per output.

    Inputs:
        unit: the name of what you implemented, e.g. "rnn_step_backward",
            "captioning_loss" (CaptioningRNN.loss) or "captioning_sample"
        obj: your function (for the model units: the CaptioningRNN class)
        graded: True in the graded test cell (only the wording changes)
        namespace: where to find your other functions (a backward pass needs
            its forward pass for the cache); default: where ``obj`` was defined
    Raises AssertionError when an output is wrong (not while nbgrader autogrades).
    """
    units = public_checks()
    if unit not in units:
        raise ValueError(f"Unknown unit {unit!r}; the units are: {', '.join(units)}.")
    checks = units[unit]
    lookup = _lookup_for(obj, namespace)
    results = []
    for case in checks.cases:
        result = evaluate_case(checks, obj, case, lookup)
        err = result.failure.exc if result.failure else None
        if (isinstance(err, NameError) and case.settings.get("cell_type") == "lstm"
                and getattr(err, "name", None) in LSTM_NAMES):
            result.skipped = (f"the LSTM case, because {err.name} is not defined in this notebook "
                              "(you write it in LSTM_Captioning; at grading time your LSTM branch "
                              "is checked with correct LSTM layers).")
        results.append(result)

    title = "Visible test of" if graded else "Checking"
    for result in results:
        print(f"{title} {unit} on the {result.case.label} with {result.case.describe()}:")
        for line in format_case(result):
            print(line)
    failed = [r for r in results if not r.ok]
    if not failed:
        print(f"{unit}: all outputs match." + (" Hidden cases with other shapes run at grading "
                                                "time." if graded else " Well done!"))
        return None
    missing = [r.failure.message for r in failed if r.failure and r.failure.not_implemented]
    broken = [r.failure.message for r in failed if r.failure]
    if missing:
        summary = missing[0] + "."
    elif broken:
        summary = f"{unit} could not be checked: {broken[0]}"
    else:
        wrong = sorted({k for r in failed for k in r.wrong}, key=PROTOCOLS[unit].outputs.index)
        summary = f"{unit}: {', '.join(wrong)} wrong on the public case; see the lines above."
    if _autograding():
        print(summary)
        return None
    raise AssertionError(summary)
