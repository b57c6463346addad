"""Use your own code from one notebook in another: ``import_solution_cells``.

Why this exists
---------------
You write ``CaptioningRNN`` once, in ``RNN_Captioning.ipynb``, for both cell
types: with ``cell_type='lstm'`` it calls ``lstm_forward``/``lstm_backward``,
which you write in ``LSTM_Captioning.ipynb``. Rather than copying the class
(and the word embedding and the vanilla RNN it uses) into the LSTM notebook by
hand -- two copies that drift apart, and a bug fixed in one stays in the
other -- the LSTM notebook runs the very cells you wrote in the RNN notebook::

    import_solution_cells("RNN_Captioning.ipynb",
                          ["rnn_forward", "captioning_model"], globals())

Each name picks the code cell whose nbgrader ``grade_id`` is
``<name>_solution`` (``captioning_model`` -> ``captioning_model_solution``);
a full grade id such as ``"rnn_forward_solution"``, or the grade id of a
provided code cell, works too. The cells' source is executed, in notebook
order, into ``namespace`` -- the calling notebook's ``globals()`` -- so the
imported class finds that notebook's ``lstm_forward`` when it runs. Only the
definitions are executed: a function you have not written yet, which still
raises ``NotImplementedError``, imports fine and raises only when it is called.

The notebook is read as plain JSON (no Jupyter machinery); the file on disk
is what counts, so save the RNN notebook before running the import cell again.
While nbgrader grades, the same holds: both notebooks must be in the folder
the LSTM notebook runs in (grade RNN_Captioning first).
"""

from __future__ import annotations

import ast
import builtins
import json
import linecache
import os
import re
import symtable
import types
from pathlib import Path

__all__ = ["import_solution_cells", "import_if_present", "NotebookImportError", "SOLUTION_SUFFIX"]

SOLUTION_SUFFIX = "_solution"
# A line starting with % or ! is IPython syntax (a magic or a shell command).
_IPYTHON_SYNTAX = re.compile(r"^\s*[%!]", re.MULTILINE)


class NotebookImportError(ImportError):
    """Cells could not be imported from a notebook (the message says which and why)."""


def import_solution_cells(notebook_path, names, namespace):
    """Run the solution cells ``names`` of the notebook ``notebook_path`` in ``namespace``.

    Inputs:
        notebook_path: the notebook to read, e.g. ``"RNN_Captioning.ipynb"``
            (relative paths are relative to the current folder, which in
            Jupyter is the folder of the running notebook)
        names: solution cells to import, each a cell name such as
            ``"rnn_forward"`` or ``"captioning_model"`` (the cell whose
            grade_id is ``<name>_solution``) or the full grade id of a code cell
        namespace: dict to define the names in, normally ``globals()``
    Returns:
        the names the cells defined or redefined in ``namespace``, e.g.
        ``['rnn_forward', 'CaptioningRNN']`` (modules they import and _private
        names left out)
    Raises:
        NotebookImportError: the notebook is missing or unreadable, a cell is
            missing or duplicated, a cell has a syntax error or fails while
            being defined. Names the cells use that ``namespace`` lacks (so far)
            are listed in a printed note.
    """
    if isinstance(names, str):
        names = [names]
    if not isinstance(namespace, dict):
        raise TypeError(f"namespace must be a dict (pass globals()), got {type(namespace).__name__}.")
    names = [_check_name(name) for name in names]
    path = _locate(Path(notebook_path))
    cells = _solution_cells(path, names)

    cells = [(grade_id, _as_python(source)) for grade_id, source in cells]
    # every cell is compiled before any runs: a syntax error leaves the namespace as it was
    codes = [(grade_id, _compile_cell(path, grade_id, source)) for grade_id, source in cells]
    _check_free_names(path, cells, namespace)
    before = dict(namespace)
    for grade_id, code in codes:
        _run_cell(path, grade_id, code, namespace)
    return [k for k, v in namespace.items()
            if not k.startswith("_") and not isinstance(v, types.ModuleType)
            and (k not in before or before[k] is not v)]


def import_if_present(notebook_path, names, namespace) -> bool:
    """``import_solution_cells`` when the notebook is there; False, and nothing done, when not.

    For a notebook that can do without the other one (it was handed out alone).
    """
    if not _locate(Path(notebook_path)).is_file():
        return False
    import_solution_cells(notebook_path, names, namespace)
    return True


def _locate(path: Path) -> Path:
    """``path``, or while nbgrader autogrades, the student's submitted copy of it.

    nbgrader autogrades a student's notebooks one at a time, in alphabetical
    order, each in ``<course>/autograded/<student>/<assignment>/``: when the
    LSTM notebook runs, the RNN notebook has not been copied there yet. The
    submitted copy, ``<course>/submitted/<student>/<assignment>/``, is the same
    file.
    """
    if path.is_file() or path.is_absolute() or os.environ.get("NBGRADER_EXECUTION") != "autograde":
        return path
    here = Path.cwd()
    if len(here.parents) >= 3 and here.parents[1].name == "autograded":
        submitted = here.parents[2] / "submitted" / here.parent.name / here.name / path
        if submitted.is_file():
            return submitted
    return path


def _check_name(name):
    if not isinstance(name, str) or not name:
        raise TypeError(f"names must be cell names such as 'rnn_forward', got {name!r}.")
    return name


def _read_notebook(path: Path) -> dict:
    if not path.is_file():
        raise NotebookImportError(
            f"Could not find the notebook {path.name}: looked for {path.resolve()}. "
            f"This notebook uses code you wrote in {path.name}, so both notebooks must sit in "
            "the same folder (the folder you started Jupyter from, as in the release you "
            "received). Move them next to each other and run this cell again."
        )
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise NotebookImportError(
            f"{path.resolve()} is not a readable notebook ({err}). Open it in Jupyter, "
            "save it, and run this cell again."
        ) from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise NotebookImportError(f"{path.resolve()} is not a Jupyter notebook (it has no list of cells).")
    return notebook


def _solution_cells(path: Path, names: list) -> list:
    """[(grade_id, source)] of the code cells ``names`` refer to, in notebook order."""
    cells = {}  # grade_id -> (position, source) of every code cell with a grade id
    copied = set()
    for position, cell in enumerate(_read_notebook(path)["cells"]):
        grade_id = ((cell.get("metadata") or {}).get("nbgrader") or {}).get("grade_id")
        if cell.get("cell_type") != "code" or not grade_id:
            continue
        if grade_id in cells:
            copied.add(grade_id)
        source = cell.get("source", "")
        cells.setdefault(grade_id, (position, "".join(source) if isinstance(source, list) else str(source)))

    chosen, missing = {}, []
    for name in names:
        # 'rnn_forward' means the cell 'rnn_forward_solution'; a full grade id means itself
        for grade_id in (name + SOLUTION_SUFFIX, name):
            if grade_id in copied:
                raise NotebookImportError(
                    f"{path.name} has two code cells with grade id {grade_id!r} (a copied "
                    "cell?). Delete the copy, keeping the cell you wrote your solution in, "
                    "save the notebook and run this cell again."
                )
            if grade_id in cells:
                chosen[grade_id] = cells[grade_id]
                break
        else:
            missing.append(name if name.endswith(SOLUTION_SUFFIX) else name + SOLUTION_SUFFIX)
    if missing:
        present = [g for g in cells if g.endswith(SOLUTION_SUFFIX)]
        raise NotebookImportError(
            f"{path.name} has no code cell with grade id {', '.join(map(repr, missing))} "
            f"(it has: {', '.join(present) or 'no solution cells'}). The solution cells of "
            f"the release must stay in {path.name}: if you deleted one, get a fresh copy "
            "of the notebook and move your code into it."
        )
    return [(g, source) for g, (_, source) in sorted(chosen.items(), key=lambda kv: kv[1][0])]


def _cell_filename(path: Path, grade_id: str) -> str:
    return f"<{path.name}, cell {grade_id}>"


def _as_python(source: str) -> str:
    """Turn magics and shell escapes (lines starting with % or !) into Python, as Jupyter does."""
    if not _IPYTHON_SYNTAX.search(source):
        return source
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # outside Jupyter: compile() will report the line
        return source
    return TransformerManager().transform_cell(source)


def _compile_cell(path: Path, grade_id: str, source: str):
    filename = _cell_filename(path, grade_id)
    # Registered so that tracebacks from the imported code show its lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    try:
        return compile(source, filename, "exec")
    except SyntaxError as err:
        raise NotebookImportError(
            f"The cell {grade_id!r} of {path.name} has a syntax error on line {err.lineno}: "
            f"{err.msg}.\n    {(err.text or '').strip()}\nFix it in {path.name}, save, and "
            "run this cell again."
        ) from None


def _run_cell(path: Path, grade_id: str, code, namespace: dict):
    try:
        exec(code, namespace)
    except Exception as err:
        raise NotebookImportError(
            f"Running the cell {grade_id!r} of {path.name} raised {type(err).__name__}: {err}. "
            "Only the definitions are needed here: a solution cell should define its function "
            "or class and leave the testing to the cells below it."
        ) from err


def _check_free_names(path: Path, cells: list, namespace: dict):
    """Say now, not at the first call, if the imported code uses names nobody defines yet.

    A solution cell may rely on something the other notebook defines elsewhere
    (an import in its set-up cell, a helper function of your own). That is only
    a note, not an error: the name may still be defined before the code runs
    (the captioning model may be imported before the LSTM functions it calls).
    """
    tables = [(grade_id, symtable.symtable(source, _cell_filename(path, grade_id), "exec"),
               _unfinished_functions(source)) for grade_id, source in cells]
    known = set(namespace) | set(dir(builtins))
    for _, table, _ in tables:  # what the imported cells define themselves
        known |= {sym.get_name() for sym in table.get_symbols() if sym.is_assigned() or sym.is_imported()}
    missing = {}
    for grade_id, table, unfinished in tables:
        for name in sorted(_global_references(table, unfinished) - known):
            missing.setdefault(name, grade_id)
    if missing:
        listing = ", ".join(f"{name} (used in {grade_id})" for name, grade_id in missing.items())
        print(f"Note: the code imported from {path.name} uses names that are not defined here "
              f"(yet): {listing}. Calling it before they are defined raises NameError: run "
              "the cells that define them first. If it is something "
              f"{path.name} defines outside its solution cells (an import in its set-up "
              "cell, a helper in a cell of your own), move that code into the solution cell "
              "that needs it.")
    return missing


def _unfinished_functions(source: str) -> set:
    """Lines of the functions that still raise NotImplementedError: not written yet.

    Their leftover ``return next_h, cache`` reads names that nothing assigns;
    that is expected, not worth a note.
    """
    lines = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                exc = getattr(sub, "exc", None) if isinstance(sub, ast.Raise) else None
                exc = exc.func if isinstance(exc, ast.Call) else exc
                if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                    lines.add(node.lineno)
                    break
    return lines


def _global_references(table, skip_functions=frozenset()) -> set:
    """Names a module's code reads from the global namespace (assignments excluded).

    skip_functions: line numbers of functions (and what they contain) to leave out.
    """
    names = set()
    assigned_globally = set()
    stack = [table]
    while stack:
        scope = stack.pop()
        if scope.get_type() == "function" and scope.get_lineno() in skip_functions:
            continue
        stack.extend(scope.get_children())
        for sym in scope.get_symbols():
            if scope.get_type() == "module" or (sym.is_declared_global() and sym.is_assigned()):
                if sym.is_assigned() or sym.is_imported():
                    assigned_globally.add(sym.get_name())
                if scope.get_type() == "module" and sym.is_referenced():
                    names.add(sym.get_name())
            elif sym.is_referenced() and sym.is_global():
                names.add(sym.get_name())
            elif scope.get_type() == "class" and sym.is_referenced() and not sym.is_assigned():
                names.add(sym.get_name())  # class bodies read unassigned names from globals
    return names - assigned_globally
