"""The source notebooks: committed clean, valid nbgrader metadata with the points of ``UNITS``,
``nbgrader validate`` clean, runnable top to bottom, and their generated parts (graded cells,
the docs' unit table) exactly what ``assignment/units.py`` generates. The answer key is built
from their solution cells (``autograder.answer_key.solution``), so it cannot drift from them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assignment.units import UNITS, notebook_units
from autograder.answer_key.check_files import build_references
from autograder.answer_key import cells, solution
from autograder.answer_key.solution import reference
from autograder.release.course import NOTEBOOKS, REFERENCES_ENV, tools_env

ref = reference()

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"


def _notebook(name):
    return json.loads((NOTEBOOK_DIR / name).read_text())


def _nbgrader_cells(name):
    return [(c, c["metadata"]["nbgrader"]) for c in _notebook(name)["cells"]
            if "nbgrader" in c.get("metadata", {})]


def _source(cell):
    return "".join(cell["source"])


# ------------------------------------------------------------ committed form


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_committed_without_outputs(name):
    dirty = [i for i, c in enumerate(_notebook(name)["cells"]) if c["cell_type"] == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert dirty == [], f"{name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_uses_the_python3_kernel(name):
    assert _notebook(name)["metadata"]["kernelspec"]["name"] == "python3"


def test_every_nbgrader_cell_has_a_unique_grade_id_and_every_graded_cell_points():
    ids = [meta.get("grade_id") for name in NOTEBOOKS for _, meta in _nbgrader_cells(name)]
    assert None not in ids
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    for name in NOTEBOOKS:
        for cell, meta in _nbgrader_cells(name):
            assert meta.get("schema_version") == 3, meta["grade_id"]
            if meta.get("grade"):
                assert isinstance(meta.get("points"), (int, float)) and meta["points"] > 0, \
                    meta["grade_id"]
            if meta.get("grade") and not meta.get("solution"):
                assert cell["cell_type"] == "code" and meta.get("locked"), meta["grade_id"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_autograded_points_equal_the_units_table(name):
    stem = Path(name).stem
    graded = {meta["grade_id"]: meta["points"] for _, meta in _nbgrader_cells(name)
              if meta.get("grade") and not meta.get("solution")}
    assert graded == {f"test_{unit}": spec.points for unit, spec in notebook_units(stem).items()}


@pytest.mark.parametrize("unit", list(UNITS))
def test_graded_cell_runs_the_visible_check_and_the_hidden_grading_of_its_unit(unit):
    name = UNITS[unit].notebook + ".ipynb"
    cell = next(c for c, meta in _nbgrader_cells(name) if meta["grade_id"] == f"test_{unit}")
    source = _source(cell)
    visible, hidden = source.split("### BEGIN HIDDEN TESTS")
    assert re.search(rf'check_unit\("{unit}", \w+, graded=True\)', visible)
    assert f'grade_unit("{unit}",' in hidden and "### END HIDDEN TESTS" in hidden
    # grade_unit's return value is the cell's result: nbgrader's partial credit
    last_statement = hidden.split("### END HIDDEN TESTS")[0].strip().splitlines()[-1]
    assert last_statement.startswith("grade_unit(")


# ------------------------------------------------------------ real runs


# where the hidden tests' module rnn_grading_kernel lives (on PYTHONPATH in grading kernels)
KERNEL_PATH = os.pathsep.join(p for p in (str(Path(__file__).resolve().parents[1] / "autograder"
                                                  / "kernel"), os.environ.get("PYTHONPATH", ""))
                              if p)


@pytest.fixture(scope="module")
def notebook_folder(tmp_path_factory):
    """Both source notebooks side by side, and a references file, in a temporary folder."""
    folder = tmp_path_factory.mktemp("notebooks")
    for name in NOTEBOOKS:
        shutil.copy2(NOTEBOOK_DIR / name, folder / name)
    references = build_references(b"test_notebooks secret", folder / "hidden" / "references.npz")
    return folder, references


@pytest.mark.slow
def test_nbgrader_validate_passes_on_the_solution_notebooks(notebook_folder):
    folder, references = notebook_folder
    env = tools_env(**{REFERENCES_ENV: str(references), "PYTHONPATH": KERNEL_PATH})
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "validate", *NOTEBOOKS],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "VALIDATION FAILED" not in output and "ERROR" not in output, output[-3000:]
    assert output.count("Success! Your notebook passes all the tests.") == len(NOTEBOOKS), \
        output[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)  # RNN first: the LSTM notebook reads it
def test_solution_notebook_runs_top_to_bottom_while_grading(name, notebook_folder, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    folder, references = notebook_folder
    # the kernel inherits the environment: short training cells, hidden references found
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv(REFERENCES_ENV, str(references))
    # the hidden tests' module (trusted: it scores in the kernel, no sandbox here)
    monkeypatch.setenv("PYTHONPATH", KERNEL_PATH)
    notebook = nbformat.read(folder / name, as_version=4)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    print(f"\n{name} under NBGRADER_EXECUTION=autograde: {time.perf_counter() - start:.1f} s")
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert errors == []  # nbclient raises on the first error already; belt and braces


# ------------------------------------------------------------ one source of truth


def _setup_cell(name):
    """The notebook's first code cell (its imports), without IPython-only lines."""
    cell = next(c for c in _notebook(name)["cells"] if c["cell_type"] == "code")
    return "\n".join(ln for ln in _source(cell).splitlines() if not re.match(r"\s*[%!]", ln))


def test_the_answer_key_gets_what_the_notebooks_set_up_cells_give():
    """The answer key runs the solution cells in a namespace prepared like the notebooks' own."""
    notebooks = {}
    for name in NOTEBOOKS:
        exec(compile(_setup_cell(name), f"<{name} set-up>", "exec"), notebooks)
    prepared = solution._setup()
    for name, value in prepared.items():
        if name != "__name__":
            assert notebooks[name] is value, name


def test_every_solution_and_provided_cell_is_in_the_answer_key():
    cells = [meta["grade_id"] for name in NOTEBOOKS for c, meta in _nbgrader_cells(name)
             if c["cell_type"] == "code" and meta["grade_id"].endswith(("_solution", "_provided"))]
    assert [solution._grade_ids()[cell] for _, cell, _ in solution.solution_cells()] == cells
    assert any(grade_id.endswith("_provided") for grade_id in cells)
    for unit in UNITS.values():
        assert unit.obj in ref.names, unit.obj


def test_committed_notebooks_and_docs_are_what_the_unit_declarations_generate():
    stale = [str(path) for path, (committed, generated) in cells.generated_files().items()
             if committed != generated]
    assert not stale, ("regenerate with `python -m autograder.answer_key.cells --write`: "
                       f"{stale}")


def test_generation_adds_the_check_and_graded_cells_of_a_unit_that_has_none():
    notebook = _notebook("RNN_Captioning.ipynb")
    notebook["cells"] = [c for c in notebook["cells"] if _grade_id(c) not in
                         ("rnn_forward_check", "test_rnn_forward")]
    generated = cells.generate_notebook(notebook, "RNN_Captioning")
    ids = [_grade_id(c) for c in generated["cells"]]
    at = ids.index("rnn_forward_solution")
    assert ids[at + 1:at + 3] == ["rnn_forward_check", "test_rnn_forward"]
    graded = generated["cells"][at + 2]
    assert graded["metadata"]["nbgrader"]["points"] == UNITS["rnn_forward"].points
    assert _source(graded) == cells.graded_cell_source("rnn_forward")
    assert [c["id"] for c in generated["cells"][at + 1:at + 3]] == ids[at + 1:at + 3]


def _grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
