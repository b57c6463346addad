"""Two nbgrader preprocessors that put sandboxed results through nbgrader's own autograde.

Instructor-only. ``rnn-assignment grade`` runs the notebooks in sandboxes first
(``autograder.grading.sandbox.run_notebook``) and scores them outside the kernels; then it runs
nbgrader's real ``Autograde`` converter for each student, in its own process
(the only writer of the gradebook), with these two steps in place of
nbgrader's sanitising steps and of ``Execute``:

* :class:`UseRestoredNotebook` (sanitising): the notebook nbgrader grades is
  the restored one that ran (instructor cells put back), outputs cleared;
* :class:`ApplyScores` (autograding): each autograded test cell gets the
  feedback text as its output and its score as the cell's result, which
  nbgrader's ``SaveAutoGrades`` records as partial credit. Other cells keep no
  outputs: what student code printed while grading may include hidden inputs,
  and the feedback is made from this notebook.

Everything else is nbgrader's: submissions and timestamps, late penalties,
``autograded/``, the gradebook, then ``generate_feedback`` and ``export``.
The coordinator hands the notebooks and scores over in nbgrader's own
configuration (``hand_over``: each step's ``pending`` trait) before it starts
the converter (same process).

nbgrader never reads the student's original file: :class:`RestoredNotebookExporter`
(``Autograde.exporter_class``) gives it the restored notebook instead, so a
submission that is not a notebook at all (0 bytes, invalid JSON, ``[]``) is
recorded like any other (it was graded as the release and flagged).

Test-only hook: when the *coordinator's* environment has ``PAUSE_ENV`` set to
a file, :class:`ApplyScores` writes the student's id to that file after
nbgrader created the submission's rows and before any score is saved, then
sleeps, so a test can SIGKILL the coordinator exactly there. Student code
never runs in the coordinator (it runs sandboxed on workers, with an
environment of the sandbox's own), so it cannot reach this hook.
"""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path

import nbformat
from nbconvert.exporters import NotebookExporter
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Dict

__all__ = ["PAUSE_ENV", "UseRestoredNotebook", "ApplyScores", "RestoredNotebookExporter",
           "hand_over", "test_cell_outputs"]

PAUSE_ENV = "RNN_ASSIGNMENT_TEST_PAUSE_RECORDING"

PENDING_HELP = ("(student, notebook) -> {'nb': the restored notebook that ran (dict), "
                "'scores': {grade_id: (score, feedback text)}}")


def _pending(step, resources) -> dict:
    info = resources["nbgrader"]
    key = (info["student"], info["notebook"])
    if key not in step.pending:
        raise RuntimeError(f"no sandboxed result for {key[0]} / {key[1]}: it was not run in this "
                           "grading run (nbgrader must be run through `rnn-assignment grade`)")
    return step.pending[key]


def pause_for_tests(student: str) -> None:
    """The test-only pause (see the module docstring); nothing unless PAUSE_ENV is set."""
    path = os.environ.get(PAUSE_ENV)
    if not path:
        return
    Path(path).write_text(student)
    time.sleep(600)


class UseRestoredNotebook(NbGraderPreprocessor):
    """Replace the submitted notebook by the restored one that was run."""

    pending = Dict(help=PENDING_HELP).tag(config=True)

    def preprocess(self, nb, resources):
        restored = nbformat.from_dict(copy.deepcopy(_pending(self, resources)["nb"]))
        for cell in restored.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        return restored, resources


def test_cell_outputs(text: str, score: float, count: int) -> list:
    """The outputs of a scored test cell: the feedback, then the score as the cell's value."""
    return [nbformat.v4.new_output("stream", name="stdout", text=text.rstrip("\n") + "\n"),
            nbformat.v4.new_output("execute_result", data={"text/plain": repr(float(score))},
                                   execution_count=count)]


class ApplyScores(NbGraderPreprocessor):
    """Give every autograded test cell its feedback and score (in place of Execute)."""

    pending = Dict(help=PENDING_HELP).tag(config=True)

    def preprocess(self, nb, resources):
        scores = _pending(self, resources)["scores"]
        pause_for_tests(resources["nbgrader"]["student"])  # test-only; see the module docstring
        count = 0
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            count += 1
            cell.execution_count = count
            cell.outputs = []
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in scores:
                score, text = scores[grade_id]
                cell.outputs = test_cell_outputs(text, score, count)
        return nb, resources


class RestoredNotebookExporter(NotebookExporter):
    """nbgrader's notebook exporter, reading the restored notebook instead of the student's file."""

    pending = Dict(help=PENDING_HELP).tag(config=True)

    def from_filename(self, filename, resources=None, **kw):
        info = (resources or {}).get("nbgrader", {})
        key = (info.get("student"), info.get("notebook"))
        if key in self.pending:
            nb = nbformat.from_dict(copy.deepcopy(self.pending[key]["nb"]))
            return self.from_notebook_node(nb, resources=resources, **kw)
        return super().from_filename(filename, resources=resources, **kw)


def hand_over(config, pending: dict) -> None:
    """Give the three steps above, in ``config``, what they need for one student's notebooks."""
    for step in (UseRestoredNotebook, ApplyScores, RestoredNotebookExporter):
        config[step.__name__].pending = pending
