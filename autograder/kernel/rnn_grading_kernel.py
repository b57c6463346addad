"""Collect a student's results in their own kernel while it is graded: ``grade_unit(unit, obj, globals())``.

Called from the hidden part of every graded test cell (docs/grading-design.md).
Imported as the top-level module ``rnn_grading_kernel`` (the grader puts this
folder on PYTHONPATH); it imports only the standard library, NumPy and the
students' ``assignment`` package, because the kernel runs in a sandbox where
``autograder`` does not exist.

The rule it serves: the student's kernel never holds an expected value or
reference code. ``grade_unit`` reads the case inputs and replay tables from
the grading-inputs file named by ``RNN_GRADING_INPUTS``
(``autograder.hidden_cases.build_grading_inputs``), runs the student's ``obj``
on every case, and publishes what came out as one *record*: a display_data
output of MIME type ``application/vnd.rnn-assignment.record+json``. The
scorer outside the sandbox (``autograder.scoring.score_unit``) compares it
with the references and gives the points.

How a unit is run:
* units that call other student functions (``uses``) run twice: first with
  *replay stubs* in the notebook's namespace (a stub answers a call whose
  arguments are those of a call the reference made on this case, to
  round-off, with the reference's recorded result, and otherwise calls the
  student's own function), then with the student's own functions; the
  scorer takes, per output, right either way. The recorded results are
  sealed (``assignment.replay_seal``): each is encrypted with a key derived
  from its call's arguments (to round-off), so reading the tables without
  doing the work yields nothing; a result that holds a cache decodes to the
  ``assignment.caches`` class (so ``cache.step(t)`` works);
* a backward unit is called with the upstream gradients and the case's
  cache from the grading-inputs file (made by the reference forward pass on
  the case's hidden inputs; a fresh copy per call), never with a cache of the
  student's own forward pass: nothing the kernel reports about the student's
  forward pass is needed, or believed;
* inputs are fresh copies; stdout, stderr (file descriptor 2 too) and warnings
  are captured (nbgrader zeroes a cell that writes to stderr); SIGALRM stops
  a case after CASE_SECONDS and the unit after UNIT_SECONDS;
* nothing is printed but one line ("grading data for <unit> recorded"): no
  hidden input or value. ``grade_unit`` returns None.

Trusted fallback (an instructor's own machine, no sandbox): when
``RNN_ASSIGNMENT_REFERENCES`` names a readable references file and
``autograder.scoring`` can be imported, the record is also scored right here
with the same scorer; the feedback is printed and the points are returned (a
float: nbgrader's partial credit). Without ``RNN_GRADING_INPUTS`` the inputs
are then built from the references into a temporary file.

Record (the JSON value of the display_data): {"format": RECORD_FORMAT,
"version": 2, "unit", "secret_fingerprint", "runs": [{"stubs": bool,
"cases": [case entry, one per case in file order]}], "arrays": base64 of an
uncompressed .npz}. A case entry: {"failure": null or {"message",
"not_implemented", "timed_out"}, "outputs": {name: value}, "changed": [...],
"changed_upstream": [...], "printed": bool, "stderr": bool, "warnings": [...],
"opened_instructor_file": bool}; a value is {"array": key}, {"missing": true} (not returned),
{"type": type name} (not an array), {"dtype": str, "shape": [...]} (not
numbers) or {"too_large": true, "shape": [...]}.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import hashlib
import io
import json
import os
import signal
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np

from assignment import caches, checks, replay_seal
from assignment.checks import PROTOCOLS, StudentCodeError, StudentTimeout

__all__ = ["grade_unit", "GradingSetupError", "RECORD_MIME", "RECORD_FORMAT", "INPUTS_ENV",
           "REFERENCES_ENV", "PUBLISHED"]

RECORD_MIME = "application/vnd.rnn-assignment.record+json"
RECORD_FORMAT = "rnn-assignment-record"
RECORD_VERSION = 2  # 2: no forward values or evidence (backward units run on grader caches)
INPUTS_FORMAT = "rnn-assignment-grading-inputs"
INPUTS_VERSION = 3  # 3: grader-built caches and sealed replay entries (2 had one or the other)
SEAL_VERSION = replay_seal.SEAL_VERSION
INPUTS_ENV = "RNN_GRADING_INPUTS"
REFERENCES_ENV = "RNN_ASSIGNMENT_REFERENCES"
CASE_SECONDS = float(os.environ.get("RNN_ASSIGNMENT_CASE_SECONDS", 10))    # one case
UNIT_SECONDS = float(os.environ.get("RNN_ASSIGNMENT_UNIT_SECONDS", 25))    # all runs of a unit
MAX_OUTPUT_ELEMENTS = 20_000        # the largest right output has a few hundred
MAX_RECORD_BYTES = 16 * 2 ** 20     # all arrays of one record, before base64


# Outside IPython (tests, scripts) the published bundles are collected here.
PUBLISHED = []

checks.register_grading_file(__file__)

# Taken when this module is imported (reassigning numpy functions later changes
# nothing here). A stub answers only when its arguments open a sealed entry
# (assignment.replay_seal): no comparison decides it.
_ndarray = np.ndarray
_generic = np.generic


class GradingSetupError(RuntimeError):
    """The grading environment is not set up (instructor-side problem)."""


# --------------------------------------------------------------- grading inputs


_loaded = {}


def _inputs_path() -> Path:
    value = os.environ.get(INPUTS_ENV)
    if value:
        return Path(value)
    references = _trusted_references()
    if references is not None:  # trusted fallback: build them from the references
        from autograder.hidden_cases import build_grading_inputs
        stamp = hashlib.sha256(f"{references.resolve()}:{references.stat().st_mtime_ns}"
                               .encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"rnn-grading-inputs-{stamp}.npz"
        if not path.is_file():
            build_grading_inputs(references, path)
        return path
    raise GradingSetupError(
        f"{INPUTS_ENV} is not set: it must name the grading-inputs file "
        "(autograder.hidden_cases.build_grading_inputs), which the grader provides.")


def _grading_inputs() -> dict:
    """The grading-inputs file: {"units": ..., "arrays": ..., "fingerprint": ...} (cached)."""
    path = _inputs_path()
    try:
        key = (str(path.resolve()), path.stat().st_mtime_ns)
    except OSError:
        raise GradingSetupError(f"{INPUTS_ENV}={path}: no such file. The grader builds it "
                                "with autograder.hidden_cases.build_grading_inputs.") from None
    if key not in _loaded:
        try:
            with np.load(path, allow_pickle=False) as data:
                index = json.loads(bytes(data["__index__"]).decode())
                arrays = {k: data[k] for k in data.files if k != "__index__"}
        except Exception as err:
            raise GradingSetupError(f"{path} cannot be read: {err}") from None
        if index.get("format") != INPUTS_FORMAT:
            raise GradingSetupError(f"{path} is not a grading-inputs file of this assignment "
                                    f"(format {index.get('format')!r}): rebuild it.")
        if index.get("version") != INPUTS_VERSION or index.get("seal") != SEAL_VERSION:
            raise GradingSetupError(
                f"{path} was built by another version of the grader (grading inputs version "
                f"{index.get('version')!r}, replay seal {index.get('seal')!r}; this kernel reads "
                f"version {INPUTS_VERSION}, seal {SEAL_VERSION}). Update the grader on every "
                "machine and grade again: `rnn-assignment grade` rebuilds the file from the "
                "course's references.")
        _loaded.clear()
        _loaded[key] = {"units": index["units"], "arrays": arrays,
                        "fingerprint": index.get("secret_fingerprint")}
    return _loaded[key]


# ----------------------------------------------------------------- replay stubs


class _ReplayTable:
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


_MISSING = object()


def _stub(name, table, own):
    """A replay stub for ``name``: the recorded answer, else the student's own function."""
    def stub(*args, **kwargs):
        if not kwargs:
            answer = table.answer(name, args)
            if answer is not None:
                return answer
        if own is _MISSING:
            raise NameError(f"name '{name}' is not defined", name=name)
        return own(*args, **kwargs)
    stub.__name__ = stub.__qualname__ = name
    return stub


@contextlib.contextmanager
def _stubs_in(namespace, names, table):
    """Replay stubs for ``names`` in ``namespace``; the namespace is restored afterwards."""
    saved = {name: namespace.get(name, _MISSING) for name in names}
    try:
        for name in names:
            namespace[name] = _stub(name, table, saved[name])
        yield
    finally:
        for name, value in saved.items():
            if value is _MISSING:
                namespace.pop(name, None)
            else:
                namespace[name] = value


# ------------------------------------------------------------------ guard rails


def _alarm(signum, frame):
    raise StudentTimeout()


@contextlib.contextmanager
def _time_limit(seconds):
    """Interrupt student code after ``seconds`` (and again every second if it goes on).

    SIGALRM: only in the main thread of a POSIX process (a kernel's cells run
    there); elsewhere there is no limit.
    """
    if seconds <= 0:
        raise StudentTimeout()
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_watch = {"active": False, "paths": set(), "opened": []}


def _audit(event, args):
    """Note student code opening an instructor file (trusted fallback only: no sandbox there)."""
    if event == "open" and _watch["active"] and args and isinstance(args[0], (str, bytes, Path)):
        try:
            path = os.path.realpath(os.fsdecode(args[0]))
        except Exception:
            return
        if any(path == p or path.startswith(p + os.sep) for p in _watch["paths"]):
            _watch["opened"].append(path)


if not getattr(sys, "_rnn_assignment_audit", False):
    sys.addaudithook(_audit)
    sys._rnn_assignment_audit = True


@contextlib.contextmanager
def _watching(paths):
    _watch.update(active=bool(paths), paths={os.path.realpath(p) for p in paths}, opened=[])
    try:
        yield _watch["opened"]
    finally:
        _watch["active"] = False


def _instructor_folders() -> list:
    references = os.environ.get(REFERENCES_ENV)
    return [str(Path(references).resolve().parent)] if references else []


# ----------------------------------------------------------------- running cases


class _Arrays:
    """The arrays of a record, each stored once, within MAX_RECORD_BYTES."""

    def __init__(self):
        self.arrays, self._keys, self.size = {}, {}, 0

    def value(self, value) -> dict:
        if value is None:
            return {"missing": True}
        if isinstance(value, checks.TooLarge):  # not copied (assignment.checks._host)
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
        digest = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode() + a.tobytes()).hexdigest()
        if digest not in self._keys:
            self._keys[digest] = f"a{len(self.arrays)}"
            self.arrays[self._keys[digest]] = a.copy()
            self.size += a.nbytes
        return {"array": self._keys[digest]}

    def blob(self) -> str:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
            for key, a in self.arrays.items():
                out = io.BytesIO()
                np.lib.format.write_array(out, a, allow_pickle=False)
                zf.writestr(key + ".npy", out.getvalue())
        return base64.b64encode(buf.getvalue()).decode("ascii")


def _run_case(unit, obj, case, deadline):
    """Run one case under the case's time limit (and what is left of the unit's)."""
    entry = {"failure": None, "opened_instructor_file": False}
    inputs = {k: v for k, v in case["inputs"].items()}
    execution = None
    remaining = deadline - time.monotonic()
    with _watching(_instructor_folders()) as opened, \
            checks.capture_student_output() as captured:
        if remaining <= 0:
            failure = StudentCodeError("not run: the time limit of this test was used up")
        else:
            failure = None
            try:
                with _time_limit(min(CASE_SECONDS, remaining)):
                    execution = checks.execute(unit, obj, inputs, case["settings"])
            except StudentCodeError as err:
                failure = err
            except StudentTimeout:
                failure = checks.timeout_error(unit)
    entry["opened_instructor_file"] = bool(opened)
    if failure is not None:
        entry["failure"] = {"message": checks.mask_numbers(failure.message)[:500],
                            "not_implemented": bool(failure.not_implemented),
                            "timed_out": bool(failure.timed_out)}
    entry["printed"] = bool(captured.stdout.strip())
    entry["stderr"] = bool(captured.stderr.strip())
    entry["warnings"] = sorted({checks.mask_numbers(w)[:200] for w in captured.warnings})[:5]
    return entry, execution


def _run_all(unit, obj, namespace, unit_inputs, arrays_in):
    """Every case, with replay stubs first when the unit uses other functions, then without."""
    cases = [{"inputs": {k: arrays_in[key] for k, key in c["inputs"].items()},
              "settings": c["settings"], "calls": c["calls"]} for c in unit_inputs["cases"]]
    for case, c in zip(cases, unit_inputs["cases"]):
        if c.get("cache"):  # backward units: the grader's cache (execute copies it per call)
            case["inputs"]["cache"] = caches.from_arrays(
                c["cache"]["type"], {k: arrays_in[key] for k, key in c["cache"]["arrays"].items()})
    deadline = time.monotonic() + UNIT_SECONDS
    uses = sorted({c["fn"] for case in cases for c in case["calls"]} |
                  set(unit_inputs.get("uses", ())))
    runs = []
    for stubs in ([True, False] if uses else [False]):
        entries, timed_out = [], False
        for case in cases:
            if timed_out:  # every output is already lost; an endless loop would only repeat
                entry = {"failure": {"message": "not run: an earlier case ran past the time "
                                                "limit", "not_implemented": False,
                                     "timed_out": True},
                         "opened_instructor_file": False, "printed": False, "stderr": False,
                         "warnings": []}
                entries.append((entry, None))
                continue
            table = _ReplayTable(case["calls"], arrays_in) if stubs else None
            with (_stubs_in(namespace, uses, table) if stubs else contextlib.nullcontext()):
                entry, execution = _run_case(unit, obj, case, deadline)
            timed_out = bool(entry["failure"] and entry["failure"]["timed_out"])
            entries.append((entry, execution))
        runs.append((stubs, entries))
        if any(e["failure"] and e["failure"]["timed_out"] for e, _ in entries):
            break  # the run without stubs would time out again
    return runs


def _record(unit, runs, fingerprint) -> dict:
    """The record of a unit (see the module docstring)."""
    arrays = _Arrays()
    encoded = []
    for stubs, entries in runs:
        cases = []
        for entry, execution in entries:
            entry = dict(entry, outputs={}, changed=[], changed_upstream=[])
            if execution is not None:
                entry["outputs"] = {k: arrays.value(v) for k, v in execution.outputs.items()}
                entry["changed"] = list(execution.changed)
                entry["changed_upstream"] = list(execution.changed_upstream)
            cases.append(entry)
        encoded.append({"stubs": stubs, "cases": cases})
    return {"format": RECORD_FORMAT, "version": RECORD_VERSION, "unit": unit,
            "secret_fingerprint": fingerprint, "runs": encoded, "arrays": arrays.blob()}


# ------------------------------------------------------------------- publishing


def _publish(unit, record) -> dict:
    """Send the record as display_data (IPython) or keep it in PUBLISHED (elsewhere)."""
    text = f"grading data for {unit} recorded"
    bundle = {RECORD_MIME: record, "text/plain": text}
    shell = getattr(builtins, "get_ipython", None)
    shell = shell() if callable(shell) else None
    if shell is not None and getattr(shell, "display_pub", None) is not None:
        shell.display_pub.publish(data=bundle, metadata={})
    else:
        PUBLISHED.append(bundle)
        print(text)
    return {"output_type": "display_data", "data": bundle, "metadata": {}}


def _trusted_references():
    """The references file, when this is an instructor's machine (no sandbox)."""
    value = os.environ.get(REFERENCES_ENV)
    if not value or not os.path.isfile(value) or not os.access(value, os.R_OK):
        return None
    try:
        import autograder.scoring  # noqa: F401
    except Exception:
        return None
    return Path(value)


def grade_unit(unit, obj, namespace):
    """Run ``obj`` (the student's function, or CaptioningRNN) on every case of ``unit``; publish the record.

    Inputs:
        unit: a unit name, e.g. "rnn_step_backward"
        obj: the student's function (CaptioningRNN for the model units)
        namespace: the notebook's globals() (where obj's helpers live)
    Returns:
        None in the sandbox (the scorer outside gives the points); in the
        trusted fallback, the points earned (a float), after printing the
        feedback.
    Raises GradingSetupError only when the grading set-up itself is broken
    (inputs file missing, unknown unit); never because of student code.
    """
    if unit not in PROTOCOLS:
        raise GradingSetupError(f"Unknown unit {unit!r}; the units are {', '.join(PROTOCOLS)}.")
    grading = _grading_inputs()
    if unit not in grading["units"]:
        raise GradingSetupError(f"the grading-inputs file has no unit {unit!r}: rebuild it.")
    try:
        runs = _run_all(unit, obj, namespace, grading["units"][unit], grading["arrays"])
        record = _record(unit, runs, grading["fingerprint"])
    except (KeyboardInterrupt, GradingSetupError):
        raise
    except BaseException as err:  # a bug of ours or something very odd: no record, say so
        print(f"{unit}: could not be graded ({type(err).__name__}: "
              f"{checks.mask_numbers(str(err))[:200]}). Please tell the course staff.")
        return None
    output = _publish(unit, record)
    references = _trusted_references()
    if references is None:
        return None
    from autograder.scoring import score_unit
    score = score_unit(unit, [output], references)
    print("\n".join(score.lines))
    return float(score.score)
