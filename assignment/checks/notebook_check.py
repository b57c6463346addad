"""``check_unit``: check a unit on the public cases in a notebook, one line per output.

It runs the student's function on the fixed public inputs stored in
``assignment/public_checks.npz`` and prints one line per output: OK, or what
is wrong (shape, NaN, how far off, and a hint when the answer matches a usual
mistake). It raises ``CheckFailed`` (an AssertionError) when something is
wrong, so a notebook cell stops there; while nbgrader autogrades
(``NBGRADER_EXECUTION=autograde``) it only prints, and a graded cell's
visible test is left to the hidden tests.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from .. import formulas
from ..check_errors import CheckFailed, stub_message
from ..formats.check_file import CheckCase, UnitChecks, read_check_file
from ..units import PROTOCOLS, UNITS
from .capture import capture_student_output
from .judging import CaseResult, CaseRun, judge_case
from .running import StudentCodeError, StudentTimeout, execute, timeout_error

__all__ = ["check_unit", "PUBLIC_CHECKS", "public_checks", "evaluate_case", "format_case"]

PUBLIC_CHECKS = Path(__file__).parent.parent / "public_checks.npz"
# The LSTM notebook's functions: the RNN notebook's model check skips its LSTM cases without them.
_LSTM_FUNCTIONS = tuple(u.obj for u in UNITS.values() if u.notebook == "LSTM_Captioning")

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


def evaluate_case(checks: UnitChecks, obj, case: CheckCase) -> CaseResult:
    """Run ``obj`` on one case and judge every output, in this process (both halves).

    All output of the student's code is captured.
    """
    run = CaseRun()
    with capture_student_output() as captured:
        try:
            run.execution = execute(checks.unit, obj, case.inputs, case.settings)
        except StudentCodeError as err:
            run.failure = err
        except StudentTimeout:  # student code raised the grader's alarm itself
            run.failure = timeout_error(checks.unit)
        result = judge_case(checks, case, run)
    result.captured = captured
    return result


def _autograding() -> bool:
    return os.environ.get("NBGRADER_EXECUTION") == "autograde"


def format_case(result: CaseResult) -> list:
    """The lines printed for one case: one per output, then notes."""
    if result.skipped:
        return [f"  skipped: {result.skipped}"]
    if result.failure is not None:
        text = result.failure.message
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
    lines += ["  " + line for line in result.captured.report()]
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
                and getattr(err, "name", None) in _LSTM_FUNCTIONS):
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
