"""Check the functions you write on fixed inputs: ``check_unit("rnn_forward", rnn_forward)``.

A *unit* is one thing you implement in a notebook (a function, or
``CaptioningRNN.loss`` / ``CaptioningRNN.sample``). ``check_unit`` runs it on
the fixed public inputs stored in ``assignment/public_checks.npz`` and prints
one line per output: OK, or what is wrong (shape, NaN, how far off, and a hint
when the answer matches a usual mistake).

A backward pass is checked on the cache that a correct forward pass makes
on the case's inputs (stored with the case, one of the types of
``assignment.caches``), not on your own forward pass's cache: a mistake in a
forward pass then shows (and, when graded, costs) only there. The gradient
checks of the notebooks (``gradient_check.check_layer_gradients``) test your
own forward and backward passes together.

The instructors' autograder runs the same code on hidden inputs of other
shapes. Its parts, one module each:

    running         run a unit on one case: execute -> Execution (no verdict)
    host            host copies of outputs; TooLarge for one too large to copy
    capture         what student code prints or warns; mask_numbers
    comparing       one output: compare (right or not) and diagnose (a hint)
    judging         one case: judge_case (CaseRun -> CaseResult)
    notebook_check  check_unit and what it prints

Nothing in this package knows a hidden value. The check files' layout is
``assignment.formats.check_file``.
"""

from .capture import Captured, capture_student_output, mask_numbers
from .comparing import Verdict, compare
from .host import TooLarge
from .judging import CaseResult, CaseRun, judge_case
from .notebook_check import PUBLIC_CHECKS, check_unit, public_checks
from ..units import PROTOCOLS
from .running import (Execution, StudentCodeError, StudentTimeout, execute,
                      register_grading_file, timeout_error)

__all__ = ["check_unit", "public_checks", "PUBLIC_CHECKS", "PROTOCOLS", "execute", "Execution",
           "StudentCodeError", "StudentTimeout", "timeout_error", "register_grading_file",
           "TooLarge", "Captured", "capture_student_output", "mask_numbers", "compare",
           "Verdict", "judge_case", "CaseRun", "CaseResult"]
