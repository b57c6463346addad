"""Judge one case: ``judge_case`` turns a ``CaseRun`` into a ``CaseResult``.

Checking a case has two halves, so that the student's own check and the
grader share them:

* run (where the student's code lives): ``running.execute`` -> a ``CaseRun``,
  the raw outputs and what happened; nothing in it is a verdict;
* judge (where the expected values live): ``judge_case`` -> a ``CaseResult``,
  with the credit for the gradients of a known loss mistake.

``check_unit`` does both in-process on the public cases; while grading, the
student's kernel only runs (autograder/kernel/rnn_grading_kernel.py) and the
scorer outside it judges (autograder/grading/scoring.py). Never runs student code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..check_errors import in_place_note
from ..formats.check_file import CheckCase, UnitChecks
from ..units import PROTOCOLS
from .capture import Captured, mask_numbers
from .comparing import Verdict, compare, diagnose, end_index
from .running import Execution, StudentCodeError, display_name

__all__ = ["CaseRun", "CaseResult", "judge_case"]


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
    end = end_index(case.settings.get("words", []))
    for name in p.outputs:
        result.verdicts[name] = compare(name, ex.outputs.get(name), case.expected[name],
                                        checks.tolerance, show_values=not hidden, end_token=end)
    _credit_known_mistake(checks, case, ex, result)
    for name, verdict in result.verdicts.items():
        if not verdict.ok:
            verdict.hint = diagnose(name, ex.outputs.get(name), case, checks.hints,
                                    checks.tolerance, end)
    what = display_name(unit)
    for name in list(ex.changed_upstream) + list(ex.changed):
        result.notes.append(in_place_note(what, name))
    return result

