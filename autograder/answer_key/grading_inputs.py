"""Build the grading inputs: what the student's kernel gets while it is graded.

Instructor-only. ``build_grading_inputs(references, path)`` reads the
references file (``autograder.answer_key.check_files.build_references``) and
writes, through ``assignment.formats.grading_inputs`` (the format's one
module), every case's inputs and settings and the sealed replay tables: the
answer key's calls to the functions each unit uses, recorded by
``autograder.answer_key.replay``. Nothing else: no expected output, no
mistake output, no secret.
"""

from __future__ import annotations

from pathlib import Path

from assignment import checks
from assignment.formats.check_file import CheckCase, read_check_file
from assignment.formats.grading_inputs import GradingInputsWriter, SealedCalls
from assignment.units import UNITS, Unit

from .mistakes import mistakes_for
from .replay import record_calls

__all__ = ["build_grading_inputs"]


def _replay_calls(name, unit: Unit, case: CheckCase, sealed: SealedCalls) -> list:
    """The replay table of one case: the calls the answer key made to ``unit.uses``.

    For the captioning loss also the calls each known loss mistake makes (the
    same layers, called with that mistake's upstream gradients), so that a
    student whose loss is wrong in a known way gets the layers' answers to
    their calls too: their gradients are then that mistake's, and keep their
    points (checks.judge_case); without them the LSTM cases of the RNN
    notebook, which has no LSTM layers of its own, could not be computed at
    all. They are sealed like the others. Calls already in the table (the
    same lookup id and grids: the same arguments to round-off) are not
    repeated.
    """
    if not unit.uses:
        return []
    calls = record_calls(name, case.inputs, case.settings, sealed.add)
    if unit.kind == "loss":
        def same(call):
            # The lookup id hashes the arguments' cells on their grids; the grids (one
            # exponent per float argument) are part of what the call was: the loss not
            # averaged over N=4 passes 4 * dh, whose cells on its own grid are dh's
            return call["id"], tuple(call["grid"])

        seen = {same(c) for c in calls}
        for mistake in mistakes_for(name):
            try:
                more = record_calls(name, case.inputs, case.settings, sealed.add, mistake.edits)
            except checks.StudentCodeError:
                continue
            for call in more:
                if same(call) not in seen:
                    seen.add(same(call))
                    calls.append(call)
    return calls


def build_grading_inputs(references_path, out_path) -> Path:
    """Write what the student's kernel needs to be graded, and nothing more, to ``out_path``.

    Read from the references file: every case's inputs and settings (a
    backward case's with its grader-built cache), plus the sealed replay
    tables. Deterministic: the same references give the same bytes. The file
    is read-only in every sandbox; the kernel finds it through
    ``assignment.formats.grading_inputs.INPUTS_ENV``.
    """
    header, units = read_check_file(references_path)
    if header.get("kind") != "references":
        raise ValueError(f"{references_path} holds only the public cases; build the grading "
                         "inputs from the references file (build_references).")
    writer = GradingInputsWriter(header.get("secret_fingerprint"))
    for name, unit in UNITS.items():
        if name not in units or units[name].points != dict(unit.outputs):
            raise ValueError(f"{references_path} is out of date (unit {name} differs from "
                             "assignment/units.py): rebuild it with build_references.")
        writer.add_unit(name, unit.uses)
        for case in units[name].cases:
            writer.add_case(name, case, _replay_calls(name, unit, case, writer.sealed))
    return writer.write(out_path)
