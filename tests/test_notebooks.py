"""The source notebooks: committed clean, valid nbgrader metadata with the points of ``UNITS``,
``nbgrader validate`` clean, runnable top to bottom, and solution regions that behave exactly
like the answer key ``autograder.reference`` (one source of truth).
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

import numpy as np
import pytest

from assignment.notebook_import import import_solution_cells
from autograder import reference as ref
from autograder.release.course import NOTEBOOKS, REFERENCES_ENV, tools_env
from autograder.hidden_cases import UNITS, build_references, notebook_units

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


@pytest.fixture(scope="module")
def solutions():
    """A namespace holding every solution cell of both notebooks (and their set-up imports)."""
    namespace = {"__name__": "solutions"}
    for name in NOTEBOOKS:
        exec(compile(_setup_cell(name), f"<{name} set-up>", "exec"), namespace)
    for name in NOTEBOOKS:
        ids = [meta["grade_id"] for c, meta in _nbgrader_cells(name)
               if meta.get("solution") and c["cell_type"] == "code"]
        import_solution_cells(NOTEBOOK_DIR / name, ids, namespace)
    return namespace


SHAPES = [dict(N=3, T=4, D=5, H=6), dict(N=1, T=1, D=3, H=3), dict(N=4, T=12, D=2, H=7)]
TOL = dict(rtol=1e-9, atol=1e-12)


def _same(actual, expected, what):
    actual = [actual] if not isinstance(actual, tuple) else list(actual)
    expected = [expected] if not isinstance(expected, tuple) else list(expected)
    assert len(actual) == len(expected), f"{what}: {len(actual)} outputs, key has {len(expected)}"
    for i, (a, e) in enumerate(zip(actual, expected)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), **TOL,
                                   err_msg=f"{what}, output {i}")


def _layer_inputs(rng, s, gates, sequence):
    N, T, D, H = s["N"], s["T"], s["D"], s["H"]
    x = rng.standard_normal((N, T, D) if sequence else (N, D))
    h = rng.standard_normal((N, H))
    Wx = rng.standard_normal((D, gates * H)) / np.sqrt(D)
    Wh = rng.standard_normal((H, gates * H)) / np.sqrt(H)
    b = rng.standard_normal(gates * H) * 0.3
    return x, h, Wx, Wh, b


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "-".join(f"{k}{v}" for k, v in s.items()))
def test_rnn_and_lstm_layer_solutions_equal_the_answer_key(solutions, shape):
    rng = np.random.default_rng(sum(shape.values()))
    N, T, H = shape["N"], shape["T"], shape["H"]
    for prefix, gates in (("rnn", 1), ("lstm", 4)):
        x, h, Wx, Wh, b = _layer_inputs(rng, shape, gates, sequence=False)
        if prefix == "rnn":
            args = (x, h, Wx, Wh, b)
            upstream = (rng.standard_normal((N, H)),)
        else:
            args = (x, h, rng.standard_normal((N, H)), Wx, Wh, b)
            upstream = (rng.standard_normal((N, H)), rng.standard_normal((N, H)))
        step_forward, step_backward = f"{prefix}_step_forward", f"{prefix}_step_backward"
        *mine, my_cache = solutions[step_forward](*args)
        *key, key_cache = getattr(ref, step_forward)(*args)
        _same(tuple(mine), tuple(key), step_forward)
        # the same cache type (assignment.caches): backward units are graded on the key's
        assert type(my_cache) is type(key_cache), step_forward
        _same(solutions[step_backward](*upstream, my_cache),
              getattr(ref, step_backward)(*upstream, key_cache), step_backward)

        args = _layer_inputs(rng, shape, gates, sequence=True)
        dh = rng.standard_normal((N, T, H))
        mine, my_cache = solutions[f"{prefix}_forward"](*args)
        key, key_cache = getattr(ref, f"{prefix}_forward")(*args)
        _same(mine, key, f"{prefix}_forward")
        assert type(my_cache) is type(key_cache), f"{prefix}_forward"
        _same(solutions[f"{prefix}_backward"](dh, my_cache),
              getattr(ref, f"{prefix}_backward")(dh, key_cache), f"{prefix}_backward")


def test_word_embedding_solutions_equal_the_answer_key(solutions):
    rng = np.random.default_rng(7)
    x = rng.integers(0, 5, size=(6, 9))  # many repeated words: dW must add them all up
    W = rng.standard_normal((7, 4))
    dout = rng.standard_normal((6, 9, 4))
    mine, my_cache = solutions["word_embedding_forward"](x, W)
    key, key_cache = ref.word_embedding_forward(x, W)
    _same(mine, key, "word_embedding_forward")
    assert type(my_cache) is type(key_cache)
    _same(solutions["word_embedding_backward"](dout, my_cache),
          ref.word_embedding_backward(dout, key_cache), "word_embedding_backward")


WORDS = ["<NULL>", "<START>", "<END>", "<UNK>", "cat", "dog", "red", "blue", "left"]


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
@pytest.mark.parametrize("T", [1, 6])
def test_captioning_model_solution_equals_the_answer_key(solutions, cell_type, T):
    rng = np.random.default_rng(T + len(cell_type))
    word_to_idx = {w: i for i, w in enumerate(WORDS)}
    N, D, W, H = 4, 6, 5, 7
    dims = dict(input_dim=D, wordvec_dim=W, hidden_dim=H, cell_type=cell_type, dtype=np.float64)
    mine = solutions["CaptioningRNN"](word_to_idx, **dims)
    key = ref.CaptioningRNN(word_to_idx, **dims)
    assert sorted(mine.params) == sorted(key.params)
    for k, v in key.params.items():  # the same random parameters in both
        key.params[k] = rng.standard_normal(v.shape) * 0.7
        mine.params[k] = key.params[k].copy()
    features = rng.standard_normal((N, D))
    captions = rng.integers(1, len(WORDS), size=(N, T + 1))
    captions[0, max(1, T - 1):] = 0  # <NULL> padding is masked out of the loss
    my_loss, my_grads = mine.loss(features, captions)
    key_loss, key_grads = key.loss(features, captions)
    _same(float(my_loss), float(key_loss), f"{cell_type} loss")
    assert sorted(my_grads) == sorted(key_grads)
    for k in key_grads:
        _same(my_grads[k], key_grads[k], f"{cell_type} d{k}")
    for max_length in (1, 9):
        np.testing.assert_array_equal(np.asarray(mine.sample(features, max_length=max_length)),
                                      key.sample(features, max_length=max_length))
