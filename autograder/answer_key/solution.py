"""The answer key, built from the source notebooks' solution cells.

Why the notebooks are the one copy: they are what nbgrader releases and what
instructors edit in Jupyter, and the release check already runs them. So the
answer key is not a second module kept in step with them: ``build()`` reads
``notebooks/*.ipynb`` as JSON, takes every code cell whose nbgrader grade id
ends in ``_solution`` and executes them, RNN notebook first, into a fresh
namespace prepared with what the notebooks' set-up cells give (``xp``, the
NumPy backend; ``sigmoid``, ``scatter_add``, the temporal layers). A
*provided* code cell (grade id ending in ``_provided``: code the students
are given and run, which their solutions call, such as the language-model
notebook's ``cell_step_forward``) runs too, in its place. The functions and
classes the students write are then attributes of the result::

    ref = reference()                 # the answer key (built once)
    h, cache = ref.rnn_forward(x, h0, Wx, Wh, b)
    model = ref.CaptioningRNN(word_to_idx, cell_type="lstm", dtype=np.float64)

Tracebacks point at the notebook cell: each cell is compiled under the name
``<RNN_Captioning.ipynb, cell rnn_forward_solution>`` and its source is
registered in ``linecache``.

Overrides. The solved functions find each other through their namespace at
call time (``rnn_forward`` calls whatever ``rnn_step_forward`` is there when
it runs), so a variant of the answer key is a fresh build with

* ``edits``: ``Edit(cell, old, new)`` replaces the exact snippet ``old`` of a
  solution cell (it must occur exactly once) before the cell runs; the known
  mistakes are such edits (``autograder.answer_key.mistakes``);
* ``replace``: ``{name: make}`` replaces ``name`` by ``make(original)`` after
  the cells ran; the replay recorder wraps the functions a unit uses this way
  (``autograder.answer_key.replay``).

No module is patched: every build is its own namespace.
"""

from __future__ import annotations

import functools
import hashlib
import json
import linecache
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assignment.backend import scatter_add, xp
from assignment.layers import (sigmoid, temporal_affine_backward, temporal_affine_forward,
                               temporal_softmax_loss)

from ..release.course import NOTEBOOKS, SOURCE_NOTEBOOKS

__all__ = ["Edit", "Solution", "build", "reference", "solution_cells", "SOLUTION_SUFFIX",
           "PROVIDED_SUFFIX"]

SOLUTION_SUFFIX = "_solution"
PROVIDED_SUFFIX = "_provided"


@dataclass(frozen=True)
class Edit:
    """Replace the snippet ``old`` (exactly once) by ``new`` in the solution cell ``cell``.

    ``cell`` is the cell's name: ``"rnn_forward"`` is the cell whose grade id is
    ``rnn_forward_solution``.
    """

    cell: str
    old: str
    new: str

    def apply(self, source: str) -> str:
        count = source.count(self.old)
        if count != 1:
            raise ValueError(f"the edit of the cell {self.cell}{SOLUTION_SUFFIX} must match its "
                             f"source exactly once, but {self.old!r} occurs {count} times: "
                             "make the snippet longer (or fix it after a change of the cell).")
        return source.replace(self.old, self.new)


@functools.lru_cache(maxsize=None)
def _grade_ids(notebooks_dir=SOURCE_NOTEBOOKS) -> dict:
    """{cell name: its grade id} of every solution and provided cell."""
    return {cell: cell + suffix for cell, suffix in _cells(notebooks_dir)[1]}


def solution_cells(notebooks_dir=SOURCE_NOTEBOOKS) -> tuple:
    """((notebook file, cell name, source), ...): every solution (and provided) cell, in order."""
    return _cells(notebooks_dir)[0]


@functools.lru_cache(maxsize=None)
def _cells(notebooks_dir) -> tuple:
    cells, suffixes = [], []
    for notebook in NOTEBOOKS:
        path = Path(notebooks_dir) / notebook
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            grade_id = ((cell.get("metadata") or {}).get("nbgrader") or {}).get("grade_id", "")
            suffix = next((s for s in (SOLUTION_SUFFIX, PROVIDED_SUFFIX) if grade_id.endswith(s)),
                          None)
            if cell.get("cell_type") == "code" and suffix:
                source = cell["source"]
                cells.append((notebook, grade_id[:-len(suffix)],
                              "".join(source) if isinstance(source, list) else source))
                suffixes.append((grade_id[:-len(suffix)], suffix))
    return tuple(cells), tuple(suffixes)


def _setup() -> dict:
    """What the notebooks' set-up cells give the solution cells."""
    return {"__name__": "answer_key", "np": np, "xp": xp, "sigmoid": sigmoid,
            "scatter_add": scatter_add, "temporal_affine_forward": temporal_affine_forward,
            "temporal_affine_backward": temporal_affine_backward,
            "temporal_softmax_loss": temporal_softmax_loss}


@functools.lru_cache(maxsize=None)
def _compiled(notebook: str, cell: str, source: str):
    filename = f"<{notebook}, cell {_grade_ids()[cell]}>"
    if source != _original_source(notebook, cell):  # an edited cell: its own name
        filename = filename[:-1] + f", edited {hashlib.sha256(source.encode()).hexdigest()[:8]}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return compile(source, filename, "exec")


def _original_source(notebook: str, cell: str) -> str:
    return next(s for nb, c, s in solution_cells() if (nb, c) == (notebook, cell))


class Solution:
    """One build of the answer key: ``solution.rnn_forward``, ``solution["CaptioningRNN"]``."""

    def __init__(self, namespace: dict, names: tuple):
        self._namespace = namespace
        self.names = names  # what the students write: the functions and classes of the cells

    def __getattr__(self, name):
        if name.startswith("_") or name not in self.names:
            raise AttributeError(f"the answer key defines no {name!r} (it has: "
                                 f"{', '.join(self.names)})")
        return self._namespace[name]

    __getitem__ = __getattr__

    def functions(self) -> dict:
        """{name: object} of everything the students write (a notebook solved right)."""
        return {k: self._namespace[k] for k in self.names}


def build(edits=(), replace=None) -> Solution:
    """A fresh answer key: the solution cells with ``edits``, then ``replace`` applied.

    edits: ``Edit``s of solution cells; every one must match its cell exactly once
    replace: {name: make}: ``name`` becomes ``make(original)`` in the new namespace
    """
    cells = solution_cells()
    known = {c for _, c, _ in cells}
    unknown = sorted({e.cell for e in edits} - known)
    if unknown:
        raise ValueError(f"no solution cell named {', '.join(unknown)} (the cells: "
                         f"{', '.join(sorted(known))})")
    namespace = _setup()
    for notebook, cell, source in cells:
        for edit in edits:
            if edit.cell == cell:
                source = edit.apply(source)
        exec(_compiled(notebook, cell, source), namespace)
    names = tuple(k for k, v in namespace.items()
                  if not k.startswith("_") and getattr(v, "__module__", None) == "answer_key")
    for name, make in (replace or {}).items():
        if name not in names:
            raise ValueError(f"cannot replace {name!r}: the answer key defines {', '.join(names)}")
        namespace[name] = make(namespace[name])
    return Solution(namespace, names)


@functools.lru_cache(maxsize=None)
def reference() -> Solution:
    """The answer key (built once per process)."""
    return build()
