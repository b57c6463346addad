"""Record the calls a unit makes to the functions it ``uses``, for the replay tables.

While a unit is graded, the student's own helpers (``rnn_step_forward``
inside ``rnn_forward``, the layers inside ``CaptioningRNN.loss``) are answered
with what the answer key returned for the same arguments, so one mistake is
charged once. ``record_calls`` runs the answer key on one case in a build of
its own (``solution.build``) whose ``uses`` functions are wrapped by
recorders; nested calls (rnn_forward -> rnn_step_forward) are recorded too,
in the order they return. The sampler of that build runs every step, also
after every caption has ended (the captions are the same), so that a
student's sampler that does not stop early still gets its steps answered.
What becomes of a call (sealing it into the grading inputs) is the caller's
``keep(fn_name, args, result)``.
"""

from __future__ import annotations

import copy

from assignment import checks
from assignment.units import UNITS

from .solution import Edit, build

__all__ = ["record_calls", "EVERY_SAMPLING_STEP"]

# sample() without its early stop (once every caption has ended)
EVERY_SAMPLING_STEP = Edit(
    "captioning_model",
    "            if bool(ended.all()):  # every caption has ended: the remaining steps are <NULL>\n"
    "                break\n", "")


def record_calls(name, inputs, settings, keep, edits=()) -> list:
    """[keep(fn_name, args, result), ...] of every call to ``UNITS[name].uses``, in return order.

    edits: ``Edit``s of the answer key to run instead (a known mistake's ``edits``)
    """
    unit = UNITS[name]
    calls = []

    def recorder(fn_name):
        def wrap(fn):
            def recorded(*args):
                before = copy.deepcopy(args)  # the arguments as passed (a helper may not change them)
                result = fn(*args)
                calls.append(keep(fn_name, before, result))
                return result
            return recorded
        return wrap

    solution = build(tuple(edits) + (EVERY_SAMPLING_STEP,),
                     replace={k: recorder(k) for k in unit.uses})
    checks.execute(name, solution[unit.obj], inputs, settings)
    return calls
