"""CharRNN_Language_Model.ipynb: committed clean, and runs top to bottom in a real kernel."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NAME = "CharRNN_Language_Model.ipynb"


def _notebook():
    return json.loads((NOTEBOOK_DIR / NAME).read_text())


def test_notebook_is_committed_without_outputs():
    dirty = [i for i, c in enumerate(_notebook()["cells"]) if c["cell_type"] == "code"
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert dirty == []


def test_solution_cells_have_solution_regions_and_unique_grade_ids():
    cells = [c for c in _notebook()["cells"] if "nbgrader" in c["metadata"]]
    ids = [c["metadata"]["nbgrader"]["grade_id"] for c in cells]
    assert len(ids) == len(set(ids))
    for cell in cells:
        meta, source = cell["metadata"]["nbgrader"], "".join(cell["source"])
        if meta["solution"]:
            assert "### BEGIN SOLUTION" in source and "### END SOLUTION" in source, meta["grade_id"]
        if cell["cell_type"] == "code" and meta["solution"]:
            assert meta["grade_id"].endswith("_solution"), meta["grade_id"]
        if meta["grade"]:
            assert meta["points"] > 0, meta["grade_id"]


def _run_quick(folder, monkeypatch) -> str:
    """Run the notebook in ``folder`` as a student gets it, under ASSIGNMENT_QUICK=1, in a real
    kernel; what it printed."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("ASSIGNMENT_QUICK", "1")
    notebook = nbformat.read(folder / NAME, as_version=4)
    for cell in notebook.cells:  # as released: the hidden tests run only while grading
        cell.source = re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", "", cell.source,
                             flags=re.S)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(folder)}}).execute()
    print(f"\n{NAME} in {sorted(p.name for p in folder.iterdir())} under ASSIGNMENT_QUICK=1: "
          f"{time.perf_counter() - start:.1f} s")
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert errors == []
    return "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code"
                   for o in c.outputs)


@pytest.mark.slow
def test_solution_notebook_runs_top_to_bottom_in_quick_mode(tmp_path, monkeypatch):
    # the captioning notebooks sit next to it: the multilayer stack imports their RNN and LSTM steps
    for name in ("RNN_Captioning.ipynb", "LSTM_Captioning.ipynb", NAME):
        shutil.copy2(NOTEBOOK_DIR / name, tmp_path / name)
    printed = _run_quick(tmp_path, monkeypatch)
    for expected in ("5-gram", "2-layer LSTM", "clipped at 1.0", "state reset every chunk",
                     "position_in_line"):
        assert expected in printed
    assert "are not in this folder" not in printed


@pytest.mark.slow
def test_the_notebook_handed_out_alone_says_so_once_and_runs_with_the_gru(tmp_path, monkeypatch):
    shutil.copy2(NOTEBOOK_DIR / NAME, tmp_path / NAME)
    printed = _run_quick(tmp_path, monkeypatch)
    assert printed.count("RNN_Captioning.ipynb and LSTM_Captioning.ipynb are not in this "
                         "folder") == 1
    for expected in ("5-gram", "clipped at 1.0", "state reset every chunk", "position_in_line",
                     "all outputs match"):
        assert expected in printed
    assert re.search(r"^GRU +[\d.]+ s +held-out", printed, re.M)  # the GRU trained
    assert not re.search(r"^(RNN|LSTM|2-layer LSTM) ", printed, re.M)  # no row of a missing cell
