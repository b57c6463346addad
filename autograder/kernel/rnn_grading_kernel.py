"""Collect a student's results in their own kernel while it is graded: ``grade_unit(unit, obj, globals())``.

Called from the hidden part of every graded test cell (docs/grading-design.md).
Imported as the top-level module ``rnn_grading_kernel`` (the grader puts this
folder on PYTHONPATH); it imports only the standard library, NumPy and the
students' ``assignment`` package, because the kernel runs in a sandbox where
``autograder`` does not exist.

The rule it serves: the student's kernel never holds an expected value or
reference code. ``grade_unit`` reads the case inputs and replay tables from
the grading-inputs file named by ``RNN_GRADING_INPUTS``
(``autograder.answer_key.grading_inputs.build_grading_inputs``), runs the student's ``obj``
on every case, and publishes what came out as one *record*: a display_data
output of MIME type ``application/vnd.rnn-assignment.record+json``. The
scorer outside the sandbox (``autograder.grading.scoring.score_unit``) compares it
with the references and gives the points.

How a unit is run:
* units that call other student functions (``uses``) run twice: first with
  *replay stubs* in the notebook's namespace (a stub answers a call whose
  arguments are those of a call the reference made on this case, to
  round-off, with the reference's recorded result, and otherwise calls the
  student's own function), then with the student's own functions; the
  scorer takes, per output, right either way. The recorded results are
  sealed (``assignment.formats.replay_seal``): each is encrypted with a key derived
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
``autograder.grading.scoring`` can be imported, the record is also scored right here
with the same scorer; the feedback is printed and the points are returned (a
float: nbgrader's partial credit). Without ``RNN_GRADING_INPUTS`` the inputs
are then built from the references into a temporary file.

The formats it reads and writes are ``assignment.formats.grading_inputs``
and ``assignment.formats.record``.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from assignment import checks
from assignment.checks import PROTOCOLS, CaseRun, Captured, StudentCodeError, StudentTimeout
from assignment.formats.check_file import REFERENCES_ENV
from assignment.formats.grading_inputs import (INPUTS_ENV, GradingInputsError,
                                               read_grading_inputs)
from assignment.formats.record import build_record, record_bundle

__all__ = ["grade_unit", "GradingSetupError", "PUBLISHED"]

CASE_SECONDS = float(os.environ.get("RNN_ASSIGNMENT_CASE_SECONDS", 10))    # one case
UNIT_SECONDS = float(os.environ.get("RNN_ASSIGNMENT_UNIT_SECONDS", 25))    # all runs of a unit


# Outside IPython (tests, scripts) the published bundles are collected here.
PUBLISHED = []

checks.register_grading_file(__file__)


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
        from autograder.answer_key.grading_inputs import build_grading_inputs
        stamp = hashlib.sha256(f"{references.resolve()}:{references.stat().st_mtime_ns}"
                               .encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"rnn-grading-inputs-{stamp}.npz"
        if not path.is_file():
            build_grading_inputs(references, path)
        return path
    raise GradingSetupError(
        f"{INPUTS_ENV} is not set: it must name the grading-inputs file "
        "(autograder.answer_key.grading_inputs.build_grading_inputs), which the grader provides.")


def _grading_inputs():
    """The grading-inputs file (``assignment.formats.grading_inputs``), read once per version."""
    path = _inputs_path()
    try:
        key = (str(path.resolve()), path.stat().st_mtime_ns)
    except OSError:
        raise GradingSetupError(f"{INPUTS_ENV}={path}: no such file. The grader builds it "
                                "with autograder.answer_key.grading_inputs.build_grading_inputs.") from None
    if key not in _loaded:
        try:
            inputs = read_grading_inputs(path)
        except GradingInputsError as err:
            raise GradingSetupError(str(err)) from None
        _loaded.clear()
        _loaded[key] = inputs
    return _loaded[key]


# ----------------------------------------------------------------- replay stubs


_MISSING = object()


def _stub(name, table, own):
    """A replay stub for ``name``: the recorded answer, else the student's own function.

    A stub answers only when its arguments open a sealed entry
    (``assignment.formats.replay_seal``): no comparison decides it.
    """
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


def _run_case(unit, obj, case, deadline) -> tuple[CaseRun, bool]:
    """Run one case under the case's time limit (and what is left of the unit's).

    Returns the CaseRun and whether student code opened an instructor file.
    """
    run = CaseRun()
    remaining = deadline - time.monotonic()
    with _watching(_instructor_folders()) as opened, \
            checks.capture_student_output() as captured:
        if remaining <= 0:
            run.failure = StudentCodeError("not run: the time limit of this test was used up")
        else:
            try:
                with _time_limit(min(CASE_SECONDS, remaining)):
                    run.execution = checks.execute(unit, obj, case.inputs, case.settings)
            except StudentCodeError as err:
                run.failure = err
            except StudentTimeout:
                run.failure = checks.timeout_error(unit)
    run.captured = captured
    return run, bool(opened)


def _timed_out(run) -> bool:
    return run.failure is not None and bool(run.failure.timed_out)


def _run_all(unit, obj, namespace, grading) -> list:
    """Every case, with replay stubs first when the unit uses other functions, then without.

    Returns [(stubs, [(CaseRun, opened_instructor_file) per case])], as
    ``assignment.formats.record.build_record`` takes it.
    """
    cases = grading.cases(unit)
    uses = grading.uses(unit)
    deadline = time.monotonic() + UNIT_SECONDS
    runs = []
    for stubs in ([True, False] if uses else [False]):
        results, timed_out = [], False
        for case in cases:
            if timed_out:  # every output is already lost; an endless loop would only repeat
                failure = StudentCodeError("not run: an earlier case ran past the time limit",
                                           timed_out=True)
                results.append((CaseRun(failure=failure, captured=Captured()), False))
                continue
            table = case.replay_table() if stubs else None
            with (_stubs_in(namespace, uses, table) if stubs else contextlib.nullcontext()):
                run, opened = _run_case(unit, obj, case, deadline)
            timed_out = _timed_out(run)
            results.append((run, opened))
        runs.append((stubs, results))
        if any(_timed_out(run) for run, _ in results):
            break  # the run without stubs would time out again
    return runs


# ------------------------------------------------------------------- publishing


def _publish(unit, record) -> dict:
    """Send the record as display_data (IPython) or keep it in PUBLISHED (elsewhere)."""
    bundle = record_bundle(unit, record)
    shell = getattr(builtins, "get_ipython", None)
    shell = shell() if callable(shell) else None
    if shell is not None and getattr(shell, "display_pub", None) is not None:
        shell.display_pub.publish(data=bundle, metadata={})
    else:
        PUBLISHED.append(bundle)
        print(bundle["text/plain"])
    return {"output_type": "display_data", "data": bundle, "metadata": {}}


def _trusted_references():
    """The references file, when this is an instructor's machine (no sandbox)."""
    value = os.environ.get(REFERENCES_ENV)
    if not value or not os.path.isfile(value) or not os.access(value, os.R_OK):
        return None
    try:
        import autograder.grading.scoring  # noqa: F401
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
    if unit not in grading.units:
        raise GradingSetupError(f"the grading-inputs file has no unit {unit!r}: rebuild it.")
    try:
        runs = _run_all(unit, obj, namespace, grading)
        record = build_record(unit, runs, grading.fingerprint)
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
    from autograder.grading.scoring import score_unit
    score = score_unit(unit, [output], references)
    print("\n".join(score.lines))
    return float(score.score)
