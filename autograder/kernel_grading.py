"""Grading one unit inside the student's kernel: ``grade_unit(unit, obj, globals())``.

Instructor-only; called from the hidden part of every graded test cell
(docs/grading-design.md). It runs the student's ``obj`` on the public and the
hidden cases of the references file named by ``RNN_ASSIGNMENT_REFERENCES``,
prints a feedback table and returns the points earned as a float, which
nbgrader takes as the cell's partial credit.

Rules:
* an output earns its points only if it is right on every case;
* while the unit runs, the student functions it may call (``UNITS[unit].uses``)
  are the reference versions, and a case that still fails is retried with the
  student's own versions (right either way = right): one mistake is charged
  once, and a cache format that only the student's own helpers understand
  costs nothing;
* a backward pass whose own forward pass is wrong on a case is compared with
  the numerical gradient of that forward pass (in assignment.checks);
* nothing the student's code does (exceptions, endless loops, output on
  stderr) escapes: it makes that case wrong and the feedback says why;
* the feedback never shows a hidden input or value: only which output, which
  case (by its shape), the relative error and the hint.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path

from assignment import checks
from assignment.checks import StudentCodeError, StudentTimeout, evaluate_case

from . import reference
from .hidden_cases import UNITS

__all__ = ["grade_unit", "GradingSetupError", "ENV_VAR"]

ENV_VAR = "RNN_ASSIGNMENT_REFERENCES"
CASE_SECONDS = float(os.environ.get("RNN_ASSIGNMENT_CASE_SECONDS", 10))   # one case
UNIT_SECONDS = float(os.environ.get("RNN_ASSIGNMENT_UNIT_SECONDS", 25))   # all cases of a unit

checks.register_grading_file(__file__)


class GradingSetupError(RuntimeError):
    """The grading environment is not set up (instructor-side problem)."""


# ------------------------------------------------------------------ references

_loaded = {}


def _references() -> tuple[Path, dict]:
    value = os.environ.get(ENV_VAR)
    if not value:
        raise GradingSetupError(
            f"{ENV_VAR} is not set: it must name the references file written by "
            "`rnn-assignment release` (hidden_cases.build_references).")
    path = Path(value)
    if not path.is_file():
        raise GradingSetupError(f"{ENV_VAR}={value}: no such file. Build it with "
                                "`rnn-assignment release` (hidden_cases.build_references).")
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if key not in _loaded:
        try:
            header, units = checks.read_check_file(path)
        except Exception as err:
            raise GradingSetupError(f"{ENV_VAR}={value} cannot be read: {err}") from None
        if header.get("kind") != "references":
            raise GradingSetupError(f"{value} holds only the public cases; grading needs the "
                                    "references file (hidden_cases.build_references).")
        for name, unit in UNITS.items():
            if name not in units or units[name].points != dict(unit.outputs):
                raise GradingSetupError(f"{value} is out of date (unit {name} differs from "
                                        "autograder/hidden_cases.py): rebuild it.")
        _loaded.clear()
        _loaded[key] = units
    return path.resolve(), _loaded[key]


# --------------------------------------------------------------- guard rails


@contextlib.contextmanager
def _dependencies_replaced(namespace, names):
    """Put the reference versions of ``names`` into ``namespace``; restore it afterwards."""
    missing = object()
    saved = {name: namespace.get(name, missing) for name in names}
    try:
        for name in names:
            namespace[name] = getattr(reference, name)
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def _alarm(signum, frame):
    raise StudentTimeout()


@contextlib.contextmanager
def _time_limit(seconds):
    """Interrupt student code after ``seconds`` (and again every second if it goes on).

    Uses SIGALRM, so only in the main thread of a POSIX process (a kernel's
    cells run there); elsewhere there is no limit.
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
    """Record student code opening an instructor file while it is graded.

    Watched: everything in the folder of the references file (the course's
    hidden/ folder). A best-effort guard: the sandbox is what denies access.
    """
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
    _watch.update(active=True, paths={os.path.realpath(p) for p in paths}, opened=[])
    try:
        yield _watch["opened"]
    finally:
        _watch["active"] = False


# ------------------------------------------------------------------- grading


def _not_run(checks_, case, message):
    result = checks.CaseResult(case)
    result.failure = StudentCodeError(message)
    result.verdicts = {k: checks.Verdict(k, False, message) for k in checks_.points}
    return result


def _evaluate(checks_, obj, case, namespace, deadline, reference_path):
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return _not_run(checks_, case, "not run: the time limit of this test was used up")
    with _watching([reference_path.parent]) as opened:
        result = evaluate_case(checks_, obj, case, namespace.get, hidden=True,
                               time_limit=lambda: _time_limit(min(CASE_SECONDS, remaining)))
    if opened:
        return _not_run(checks_, case, "your code opened an instructor file while it was "
                                       "graded: no credit")
    return result


def _timed_out(result) -> bool:
    return result.failure is not None and result.failure.timed_out


def _merge(first, second):
    """Per output: right with the reference helpers or with the student's own."""
    if second is None:
        return first
    shown = second if sum(v.ok for v in second.verdicts.values()) > \
        sum(v.ok for v in first.verdicts.values()) else first
    merged = checks.CaseResult(first.case, dict(shown.verdicts), shown.failure,
                               list(shown.notes), shown.captured)
    for name, verdict in first.verdicts.items():
        if verdict.ok:
            merged.verdicts[name] = verdict
    for name, verdict in second.verdicts.items():
        if verdict.ok:
            merged.verdicts[name] = verdict
    if merged.ok:
        merged.failure = None
    return merged


def _run_all(unit, obj, namespace, units, reference_path):
    checks_ = units[unit]
    deadline = time.monotonic() + UNIT_SECONDS
    first = []
    with _dependencies_replaced(namespace, UNITS[unit].uses):
        for case in checks_.cases:
            if any(map(_timed_out, first)):
                # every output is already lost; an endless loop would only repeat
                first.append(_not_run(checks_, case, first[-1].failure.message))
                continue
            first.append(_evaluate(checks_, obj, case, namespace, deadline, reference_path))
    results = []
    for case, result in zip(checks_.cases, first):
        retry = None
        if not result.ok and UNITS[unit].uses and not any(map(_timed_out, first)):
            retry = _evaluate(checks_, obj, case, namespace, deadline, reference_path)
        results.append(_merge(result, retry))
    return checks_, results


def _points(x) -> str:
    return f"{x:g}"


def _feedback(checks_, results) -> tuple[float, list]:
    """The score and the feedback table (no hidden values)."""
    unit = checks_.unit
    n_hidden = sum(r.case.hidden for r in results)
    n_public = len(results) - n_hidden
    lines = [f"Hidden tests of {unit} ({_points(checks_.total)} points): "
             f"{'the public case' if n_public == 1 else f'{n_public} public cases'} and "
             f"{n_hidden} hidden cases with other shapes."]
    width = max([len(k) for k in checks_.points] + [len("output")])
    lines.append(f"  {'output':<{width}}  points  result")
    score = 0.0
    if all(r.failure is not None and not any(v.ok for v in r.verdicts.values())
           for r in results) and len({r.failure.message for r in results}) == 1:
        # one reason on every case (not implemented, the same exception): one line
        lines.append(f"  {'all':<{width}}  0 / {_points(checks_.total):<2} "
                     f"{results[0].failure.message} (on every case)")
    else:
        for name, points in checks_.points.items():
            wrong = [r for r in results if not r.verdicts[name].ok]
            earned = 0.0 if wrong else float(points)
            score += earned
            head = f"  {name:<{width}}  {_points(earned):>2} / {_points(points):<2}"
            if not wrong:
                lines.append(f"{head} right on all {len(results)} cases")
                continue
            verdict = wrong[0].verdicts[name]
            lines.append(f"{head} wrong on the {wrong[0].case.label}: {verdict.problem}")
            hinted = next((r for r in wrong if r.verdicts[name].hint), None)
            if hinted is not None:  # the first case with a hint (a shape error has none)
                where = "" if hinted is wrong[0] else f" (from the {hinted.case.label})"
                lines.append(f"  {'':<{width}}           hint{where}: "
                             f"{hinted.verdicts[name].hint}")
            if len(wrong) > 1:
                lines.append(f"  {'':<{width}}           (wrong on {len(wrong)} of the "
                             f"{len(results)} cases)")
    notes = {}  # note -> the cases it was made on
    for r in results:
        for note in r.notes + r.captured.summary():
            notes.setdefault(checks.mask_numbers(note), []).append(r.case.label)
    for text, labels in list(notes.items())[:10]:
        more = f" and {len(labels) - 1} more case(s)" if len(labels) > 1 else ""
        lines.append(f"  note ({labels[0]}{more}): {text}")
    lines.append(f"{unit}: {_points(score)} / {_points(checks_.total)} points")
    return score, lines


def grade_unit(unit, obj, namespace) -> float:
    """Grade ``obj`` (the student's function, or CaptioningRNN) as ``unit``; return the points.

    Inputs:
        unit: a name from hidden_cases.UNITS, e.g. "rnn_step_backward"
        obj: the student's function (CaptioningRNN for the model units)
        namespace: the notebook's globals() (where obj's helpers live)
    Returns:
        points earned, a float between 0 and the unit's points
    Raises GradingSetupError only when the grading set-up itself is broken
    (references file missing, unknown unit); never because of student code.
    """
    if unit not in UNITS:
        raise GradingSetupError(f"Unknown unit {unit!r}; the units are {', '.join(UNITS)}.")
    reference_path, units = _references()
    try:
        checks_, results = _run_all(unit, obj, namespace, units, reference_path)
        score, lines = _feedback(checks_, results)
    except (KeyboardInterrupt, GradingSetupError):
        raise
    except BaseException as err:  # a bug of ours or something very odd: say so, no points
        print(f"{unit}: could not be graded ({type(err).__name__}: "
              f"{checks.mask_numbers(str(err))[:200]}). Please tell the course staff.")
        return 0.0
    print("\n".join(lines))
    return float(min(max(score, 0.0), checks_.total))
