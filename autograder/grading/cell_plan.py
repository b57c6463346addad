"""Which cells of a restored notebook run while grading, and which are skipped (and why).

Instructor-only; computed by the coordinator from the restored notebook
(``autograder.grading.restore``) and the release, and part of each job's key.
A code cell of a source notebook that nothing graded needs (an experiment, a
check cell) carries the marker ``SKIP_MARKER`` in its cell metadata. A cell is
a *candidate* for skipping when it is marked and came from the instructor: a
locked cell (its metadata is the source's), or a plain cell whose text is that
of a marked cell of the release (the student did not change it). A changed or
student-added cell always runs.

A candidate is skipped only if no name it binds can be read by a cell that
runs: read at module level by a later running cell, or read as a global by a
function, class, lambda or comprehension of any running cell (they run when
they are called, perhaps after the candidate). A graded test cell reads its
unit's object and the functions its unit ``uses`` (``assignment.units``),
which the hidden test looks up in the notebook's globals. Cells are parsed
after IPython's own transformation (magics become calls), and scopes come from
the standard library's ``symtable``, so a student function's local ``N`` does
not keep alive an experiment's global ``N``. A running cell that does not
parse, or that can reach names dynamically (``globals()``, ``eval``,
``get_ipython``, frames, ``__main__``, IPython's output history, ...), reads
everything: no candidate before it is skipped (none at all when it does so
inside a function, or does not parse here: its functions may run at any time).
A candidate that may bind any name (``from x import *``, dynamic access) runs.
When unsure, the cell runs.

    plan_skips(nb, release) -> [(cell index, reason), ...]
"""

from __future__ import annotations

import ast
import functools
import re
import symtable
from dataclasses import dataclass

from assignment.units import UNITS

from .restore import grade_id, is_solution, is_test, source_text

__all__ = ["METADATA_KEY", "SKIP_MARKER", "NOT_RUN_TEXT", "is_marked", "plan_skips", "cell_names"]

METADATA_KEY = "rnn_assignment"
SKIP_MARKER = {"grading": "skip"}
NOT_RUN_TEXT = "[grader] not run while grading: nothing graded uses what it computes\n"

# names, attributes and modules through which code can reach the notebook's
# globals (or IPython's history of outputs) without naming them
DYNAMIC_NAMES = {"globals", "locals", "vars", "dir", "eval", "exec", "get_ipython",
                 "__import__", "__builtins__", "__main__", "breakpoint", "attrgetter", "In",
                 "Out"}
# called with an attribute name that is not a plain string (or is one of DYNAMIC_ATTRS)
ATTRIBUTE_CALLS = {"getattr", "setattr", "delattr", "hasattr"}
DYNAMIC_ATTRS = {"f_globals", "f_locals", "f_back", "f_builtins", "tb_frame", "gi_frame",
                 "cr_frame", "ag_frame", "_getframe", "currentframe", "modules", "__dict__",
                 "__globals__", "__builtins__", "__traceback__", "exc_info", "exception",
                 "last_traceback", "user_ns", "user_global_ns", "get_ipython"}
DYNAMIC_MODULES = {"__main__", "builtins", "inspect", "IPython", "ipykernel", "ctypes", "gc",
                   "importlib", "runpy", "traceback", "code", "pdb"}
HISTORY = re.compile(r"^_{1,3}$|^_i{1,3}$|^_i?\d+$|^_[iod]h$")


def is_marked(cell) -> bool:
    """True when a cell carries ``"rnn_assignment": {"grading": "skip"}`` in its metadata."""
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    mark = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    return isinstance(mark, dict) and mark.get("grading") == SKIP_MARKER["grading"]


@dataclass(frozen=True)
class Names:
    """What one code cell binds and reads (``everything``: it may read any name)."""

    binds: frozenset = frozenset()
    reads_now: frozenset = frozenset()     # at module level, when the cell runs
    reads_later: frozenset = frozenset()   # as globals of its functions and classes
    everything_now: bool = False
    everything_later: bool = False
    binds_unknown: bool = False            # `from x import *`, dynamic access, or no parse


EVERYTHING = Names(everything_now=True, everything_later=True, binds_unknown=True)


@functools.lru_cache(maxsize=1)
def _transformer():
    from IPython.core.inputtransformer2 import TransformerManager
    return TransformerManager()


def _python(text: str) -> str:
    return _transformer().transform_cell(text)


def _is_dynamic(node) -> bool:
    if isinstance(node, ast.Name):
        return node.id in DYNAMIC_NAMES or (isinstance(node.ctx, ast.Load)
                                             and bool(HISTORY.match(node.id)))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id in ATTRIBUTE_CALLS:
        name = node.args[1] if len(node.args) > 1 else None
        return not (isinstance(name, ast.Constant) and isinstance(name.value, str)
                    and name.value not in DYNAMIC_ATTRS)
    if isinstance(node, ast.Attribute):
        return node.attr in DYNAMIC_ATTRS
    if isinstance(node, ast.Import):
        return any(a.name.split(".")[0] in DYNAMIC_MODULES for a in node.names)
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").split(".")[0] in DYNAMIC_MODULES or node.level > 0
    return False


def _scopes(table):
    for child in table.get_children():
        yield child
        yield from _scopes(child)


@functools.lru_cache(maxsize=4096)
def cell_names(text: str, trusted_reads: frozenset | None = None) -> Names:
    """The names a code cell binds and reads (see the module docstring).

    ``trusted_reads``: for a graded test cell, the names its hidden part reads
    (its unit's object and ``uses``); its own ``globals()`` is then not dynamic.
    Cached: the cells of a class's notebooks are mostly the same text.
    """
    try:
        code = _python(text)
        tree = ast.parse(code)
        table = symtable.symtable(code, "<cell>", "exec")
    except Exception:  # student text: whatever fails here, the cell may read anything
        return EVERYTHING
    binds, reads_now, reads_later, declared_global = set(), set(), set(), set()
    for symbol in table.get_symbols():
        name = symbol.get_name()
        if symbol.is_referenced():
            reads_now.add(name)
        if symbol.is_assigned() or symbol.is_imported() or symbol.is_namespace() or \
                not symbol.is_referenced():
            binds.add(name)
    for scope in _scopes(table):
        for symbol in scope.get_symbols():
            if symbol.is_global() and symbol.is_referenced():
                reads_later.add(symbol.get_name())
            if symbol.is_declared_global():
                declared_global.add(symbol.get_name())
                if symbol.is_assigned():
                    binds.add(symbol.get_name())
    star = dynamic_now = dynamic_later = False
    for node, nested in _walk(tree):
        # `x += 1` and `del x` read the global x too (symtable only says they bind it);
        # inside a function only when x is declared global there (else x is local)
        targets = [node.target] if isinstance(node, ast.AugAssign) else \
            node.targets if isinstance(node, ast.Delete) else []
        for target in targets:
            if isinstance(target, ast.Name):
                if not nested:
                    reads_now.add(target.id)
                elif target.id in declared_global:
                    reads_later.add(target.id)
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            star = True
        if trusted_reads is None and _is_dynamic(node):
            dynamic_later = dynamic_later or nested
            dynamic_now = dynamic_now or not nested
    if trusted_reads is not None:
        reads_now |= trusted_reads
    # code that reaches the globals dynamically may also bind any name there
    return Names(frozenset(binds), frozenset(reads_now), frozenset(reads_later), dynamic_now,
                 dynamic_later, star or dynamic_now or dynamic_later)


_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp,
           ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _walk(tree):
    """Every node of ``tree`` with whether it lies inside a function, class or comprehension."""
    todo = [(tree, False)]
    while todo:
        node, nested = todo.pop()
        yield node, nested
        inside = nested or isinstance(node, _NESTED)
        todo.extend((child, inside) for child in ast.iter_child_nodes(node))


def _test_reads(cell):
    """The names the hidden part of a graded test cell reads, or None for an unknown unit."""
    unit = UNITS.get((grade_id(cell) or "")[len("test_"):])
    return None if unit is None else frozenset({unit.obj, *unit.uses})


def _candidates(nb: dict, release: dict) -> dict:
    """{cell index: why it may be skipped} of the marked cells that came from the instructor."""
    marked_texts = {source_text(c) for c in release.get("cells", [])
                    if c.get("cell_type") == "code" and is_marked(c)}
    found = {}
    for index, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") != "code" or not source_text(cell).strip():
            continue
        gid = grade_id(cell)
        if gid is not None:
            if is_marked(cell) and not is_solution(cell) and not is_test(cell):
                found[index] = f"the locked cell {gid}"
        elif source_text(cell) in marked_texts:
            found[index] = "an experiment cell, unchanged from the release"
    return found


def plan_skips(nb: dict, release: dict) -> list:
    """[(cell index, reason)] of the cells of the restored ``nb`` not to run; see the docstring."""
    candidates = _candidates(nb, release)
    if not candidates:
        return []
    cells = {}
    for index, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") != "code" or not source_text(cell).strip():
            continue
        if is_test(cell):
            reads = _test_reads(cell)
            cells[index] = cell_names(source_text(cell), reads) if reads is not None else \
                EVERYTHING
        else:
            cells[index] = cell_names(source_text(cell))
    skipped = {i for i in candidates if not cells[i].binds_unknown}
    while True:
        running = [cells[i] for i in cells if i not in skipped]
        if any(c.everything_later for c in running):
            return []
        later = set().union(*(c.reads_later for c in running))
        live, everything, keep = set(), False, set()
        for index in sorted(cells, reverse=True):
            names = cells[index]
            if index in skipped:
                if everything or names.binds & (live | later):
                    keep.add(index)
                else:
                    continue
            everything = everything or names.everything_now
            live |= names.reads_now
        if not keep:
            break
        skipped -= keep
    return [(index, f"{candidates[index]}: nothing graded reads what it binds")
            for index in sorted(skipped)]
