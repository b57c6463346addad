"""Sample submissions for the demo: what a grader sees in a real course, in miniature.

Instructor-only. Each sample is a pair of notebooks as a student would hand
them in: the release, with some answer cells filled in from the instructor's
solutions (the ``### BEGIN/END SOLUTION`` lines dropped), some left as
released, and a few broken in the ways students' notebooks break.

    write_samples(source_dir, release_dir, out_dir, notebooks) -> {student_id: description}

``out_dir/<student_id>/<notebook>.ipynb`` is the layout ``rnn-assignment
grade`` takes.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from ..grading.restore import grade_id, is_solution

__all__ = ["answered", "solved", "edit_answer", "write_samples", "SAMPLES"]

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def _text(cell) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def _solution_body(text: str) -> str:
    return "".join(line for line in text.splitlines(keepends=True)
                   if line.strip() not in MARKERS)


def solved(source: dict) -> dict:
    """The source notebook as a student who solved everything hands it in (no solution markers).

    Grading flags a notebook whose answer cells still carry the markers as a copy
    of the instructor's source.
    """
    nb = copy.deepcopy(source)
    for cell in nb["cells"]:
        cell["source"] = _solution_body(_text(cell))
    return nb


def answered(source: dict, release: dict, skip=()) -> dict:
    """The release with every code answer cell filled in from ``source`` (except ``skip``)."""
    answers = {grade_id(c): c for c in source["cells"] if is_solution(c) and c["cell_type"] == "code"}
    nb = copy.deepcopy(release)
    for cell in nb["cells"]:
        gid = grade_id(cell)
        if gid in answers and gid not in skip:
            cell["source"] = _solution_body(_text(answers[gid]))
    return nb


def edit_answer(nb: dict, gid: str, old: str, new: str) -> dict:
    """Replace ``old`` by ``new`` in the answer cell ``gid`` (which must contain it)."""
    for cell in nb["cells"]:
        if grade_id(cell) == gid:
            text = _text(cell)
            if old not in text:
                raise ValueError(f"{old!r} is not in the cell {gid}")
            cell["source"] = text.replace(old, new, 1)
            return nb
    raise ValueError(f"no cell {gid}")


def _full(src, rel, name):
    return answered(src, rel)


def _untouched(src, rel, name):
    return copy.deepcopy(rel)


def _partial(src, rel, name):
    # the RNN notebook done up to the captioning model; the LSTM backward passes not yet
    skip = {"captioning_model_solution", "lstm_step_backward_solution", "lstm_backward_solution"}
    return answered(src, rel, skip)


def _wrong_dWh(src, rel, name):
    nb = answered(src, rel)
    if name == "RNN_Captioning.ipynb":
        edit_answer(nb, "rnn_step_backward_solution", "return dx, dprev_h, dWx, dWh, db",
                    "return dx, dprev_h, dWx, dWh.T, db")
    return nb


def _syntax_error(src, rel, name):
    nb = answered(src, rel)
    if name == "RNN_Captioning.ipynb":
        edit_answer(nb, "rnn_forward_solution", "def rnn_forward(", "def rnn_forward(((")
    return nb


def _kernel_exit(src, rel, name):
    nb = answered(src, rel)
    if name == "LSTM_Captioning.ipynb":  # the kernel dies in lstm_forward's first call
        edit_answer(nb, "lstm_forward_solution", '"""\n', '"""\n    import os; os._exit(3)\n')
    return nb


def _numpy_patch(src, rel, name):
    # wrong word embedding, and numpy's comparisons told to agree with anything
    nb = answered(src, rel)
    if name == "RNN_Captioning.ipynb":
        edit_answer(nb, "word_embedding_forward_solution", '"""\n',
                    '"""\n    import numpy as np\n    np.allclose = lambda *a, **k: True\n'
                    '    np.testing.assert_allclose = lambda *a, **k: None\n'
                    '    return np.zeros((x.shape[0], x.shape[1], W.shape[1])), None\n')
    return nb


# student id -> (what it shows, how it is made)
SAMPLES = {
    "full-solution": ("every answer right", _full),
    "untouched": ("the release as handed out", _untouched),
    "partial": ("RNN layers done; captioning model and LSTM backward passes not yet", _partial),
    "transposed-dWh": ("dWh transposed in rnn_step_backward", _wrong_dWh),
    "syntax-error": ("a syntax error in the rnn_forward cell", _syntax_error),
    "kernel-exit": ("os._exit in lstm_forward: the kernel dies", _kernel_exit),
    "numpy-patch": ("wrong embedding that patches np.allclose to agree", _numpy_patch),
}


def write_samples(source_dir, release_dir, out_dir, notebooks) -> dict:
    """Write every sample of ``notebooks`` under ``out_dir``; return {student_id: description}."""
    out_dir = Path(out_dir)
    for student, (_, make) in SAMPLES.items():
        folder = out_dir / student
        folder.mkdir(parents=True, exist_ok=True)
        for name in notebooks:
            source = json.loads((Path(source_dir) / name).read_text())
            release = json.loads((Path(release_dir) / name).read_text())
            (folder / name).write_text(json.dumps(make(source, release, name), indent=1))
    return {student: text for student, (text, _) in SAMPLES.items()}
