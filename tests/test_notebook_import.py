"""import_solution_cells: the LSTM notebook runs the student's own cells from the RNN notebook.

Every test writes a small real notebook (nbformat v4 JSON, nbgrader metadata
as in docs/grading-design.md) into tmp_path and imports from it.
"""

import json
import os

import pytest

from assignment.notebook_import import (NotebookImportError, import_if_present,
                                        import_solution_cells)


def solution_cell(grade_id, source):
    return {
        "cell_type": "code", "execution_count": None, "outputs": [], "source": source,
        "metadata": {"nbgrader": {"grade": False, "solution": True, "locked": False,
                                  "grade_id": grade_id, "schema_version": 3}},
    }


def plain_cell(source, cell_type="code", grade_id=None):
    cell = {"cell_type": cell_type, "source": source, "metadata": {}}
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    if grade_id:
        cell["metadata"]["nbgrader"] = {"grade": False, "solution": False, "locked": True,
                                        "grade_id": grade_id, "schema_version": 3}
    return cell


def write_notebook(path, cells):
    notebook = {"cells": cells, "metadata": {"kernelspec": {"name": "python3"}},
                "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    return path


STEP = 'def step(x):\n    """One step."""\n    return 2 * x\n'
FORWARD = "def forward(xs):\n    return [step(x) for x in xs]\n"
MODEL = ("class Model:\n"
         "    def run(self, xs):\n"
         "        return cell_forward(xs)  # found in the importing notebook\n")


@pytest.fixture
def rnn_notebook(tmp_path):
    return write_notebook(tmp_path / "RNN_Captioning.ipynb", [
        plain_cell("# Set-up", "markdown"),
        plain_cell("print('the set-up cell must not run')\nraise SystemExit"),
        solution_cell("step_solution", STEP),
        plain_cell("assert step(1) == 2", grade_id="step_check"),
        solution_cell("forward_solution", FORWARD.splitlines(True)),  # source as a list of lines
        solution_cell("captioning_model_solution", MODEL),
    ])


def test_defines_the_requested_cells_in_the_namespace(rnn_notebook):
    ns = {}
    import_solution_cells(rnn_notebook, ["step", "forward"], ns)
    assert ns["forward"]([1, 2]) == [2, 4]


def test_returns_the_names_defined_in_notebook_order(rnn_notebook):
    ns = {"cell_forward": None}
    assert import_solution_cells(rnn_notebook, ["forward", "step"], ns) == ["step", "forward"]


def test_returned_names_leave_out_modules_and_private_helpers(tmp_path):
    path = write_notebook(tmp_path / "nb.ipynb", [solution_cell(
        "step_solution", "import math\n\ndef _helper(x):\n    return x\n\ndef step(x):\n    return _helper(x)\n")])
    assert import_solution_cells(path, ["step"], {}) == ["step"]


def test_full_grade_ids_are_accepted(rnn_notebook):
    ns = {}
    import_solution_cells(rnn_notebook, ["step_solution"], ns)
    assert ns["step"](3) == 6


def test_only_the_named_cells_run(rnn_notebook):
    ns = {}
    import_solution_cells(rnn_notebook, ["step"], ns)  # the set-up cell would raise SystemExit
    assert "forward" not in ns and "Model" not in ns


def test_imported_class_uses_the_functions_of_the_importing_namespace(rnn_notebook):
    ns = {"cell_forward": lambda xs: "lstm of " + str(xs)}
    import_solution_cells(rnn_notebook, ["captioning_model"], ns)
    assert ns["Model"]().run([1]) == "lstm of [1]"
    ns["cell_forward"] = lambda xs: "fixed"  # a later redefinition is seen too
    assert ns["Model"]().run([1]) == "fixed"


def test_unfinished_functions_import_and_raise_only_when_called(tmp_path):
    path = write_notebook(tmp_path / "RNN_Captioning.ipynb", [solution_cell(
        "step_solution", "def step(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n")])
    ns = {}
    import_solution_cells(path, ["step"], ns)
    with pytest.raises(NotImplementedError):
        ns["step"](1)


def test_missing_notebook_says_where_it_looked_and_that_both_notebooks_share_a_folder(tmp_path):
    with pytest.raises(NotebookImportError) as err:
        import_solution_cells(tmp_path / "RNN_Captioning.ipynb", ["step"], {})
    message = str(err.value)
    assert str((tmp_path / "RNN_Captioning.ipynb").resolve()) in message
    assert "same folder" in message


def test_relative_paths_are_read_from_the_current_folder(rnn_notebook, monkeypatch):
    monkeypatch.chdir(rnn_notebook.parent)
    ns = {}
    import_solution_cells("RNN_Captioning.ipynb", ["step"], ns)
    assert ns["step"](1) == 2


def test_missing_cell_is_named_with_the_cells_that_exist(rnn_notebook):
    with pytest.raises(NotebookImportError) as err:
        import_solution_cells(rnn_notebook, ["step", "rnn_backward"], {})
    message = str(err.value)
    assert "'rnn_backward_solution'" in message and "step_solution" in message


def test_duplicated_cell_is_an_error(tmp_path):
    path = write_notebook(tmp_path / "nb.ipynb", [solution_cell("step_solution", STEP),
                                                  solution_cell("step_solution", STEP)])
    with pytest.raises(NotebookImportError, match="two code cells with grade id 'step_solution'"):
        import_solution_cells(path, ["step"], {})


def test_syntax_error_names_the_cell_and_the_line(tmp_path):
    path = write_notebook(tmp_path / "RNN_Captioning.ipynb", [
        solution_cell("rnn_forward_solution", "def rnn_forward(x):\n    return x +\n")])
    with pytest.raises(NotebookImportError) as err:
        import_solution_cells(path, ["rnn_forward"], {})
    message = str(err.value)
    assert "'rnn_forward_solution'" in message and "RNN_Captioning.ipynb" in message
    assert "line 2" in message


def test_error_while_defining_names_the_cell(tmp_path):
    path = write_notebook(tmp_path / "nb.ipynb", [solution_cell("step_solution", "1 / 0\n")])
    with pytest.raises(NotebookImportError, match="'step_solution'.*ZeroDivisionError"):
        import_solution_cells(path, ["step"], {})


def test_names_the_importing_notebook_lacks_are_named_in_a_note_at_import(tmp_path, capsys):
    path = write_notebook(tmp_path / "nb.ipynb", [solution_cell(
        "step_solution", "def step(x):\n    return my_helper(x) + np.tanh(x)\n")])
    ns = {"np": object()}
    import_solution_cells(path, ["step"], ns)
    note = capsys.readouterr().out
    assert "my_helper (used in step_solution)" in note and "np " not in note
    assert "step" in ns  # a note, not an error: the helper may still be defined before the call


def test_no_note_for_the_leftovers_of_functions_not_written_yet(tmp_path, capsys):
    stub = ("def step(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
            "    return next_h, cache\n\n"
            "class Model:\n    def run(self):\n        raise NotImplementedError\n        return out\n")
    path = write_notebook(tmp_path / "nb.ipynb", [solution_cell("step_solution", stub)])
    import_solution_cells(path, ["step"], {})
    assert capsys.readouterr().out == ""


def test_no_note_when_every_name_is_defined(rnn_notebook, capsys):
    import_solution_cells(rnn_notebook, ["step", "forward", "captioning_model"], {"cell_forward": len})
    assert capsys.readouterr().out == ""


def test_imports_inside_a_cell_count_as_defined(tmp_path):
    path = write_notebook(tmp_path / "nb.ipynb", [solution_cell(
        "step_solution", "import math\n\ndef step(x):\n    return math.sqrt(x)\n")])
    ns = {}
    import_solution_cells(path, ["step"], ns)
    assert ns["step"](4) == 2


def test_tracebacks_show_the_imported_source(tmp_path):
    import traceback
    path = write_notebook(tmp_path / "nb.ipynb", [solution_cell(
        "step_solution", "def step(x):\n    return x / 0  # the faulty line\n")])
    ns = {}
    import_solution_cells(path, ["step"], ns)
    with pytest.raises(ZeroDivisionError) as err:
        ns["step"](1)
    text = "".join(traceback.format_exception(err.value))
    assert "cell step_solution" in text and "the faulty line" in text


def test_ipython_magics_in_a_cell_are_accepted(tmp_path):
    pytest.importorskip("IPython")
    path = write_notebook(tmp_path / "nb.ipynb", [solution_cell(
        "step_solution", "%matplotlib inline\ndef step(x):\n    return x\n")])
    ns = {"get_ipython": lambda: type("Shell", (), {"run_line_magic": lambda *a: None})()}
    import_solution_cells(path, ["step"], ns)
    assert ns["step"](5) == 5


def test_unreadable_notebook_is_reported(tmp_path):
    path = tmp_path / "RNN_Captioning.ipynb"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(NotebookImportError, match="not a readable notebook"):
        import_solution_cells(path, ["step"], {})


def test_is_cheap_it_does_not_import_jupyter_machinery(rnn_notebook):
    import subprocess
    import sys
    code = ("import sys; from assignment.notebook_import import import_solution_cells; "
            f"import_solution_cells({str(rnn_notebook)!r}, ['step'], {{}}); "
            "print(any(m in sys.modules for m in ('nbformat', 'IPython', 'nbclient')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip() == "False"


def test_a_copied_cell_that_is_not_imported_does_not_matter(tmp_path):
    path = write_notebook(tmp_path / "nb.ipynb", [
        solution_cell("step_solution", STEP),
        plain_cell("assert step(1) == 2", grade_id="step_check"),
        plain_cell("assert step(1) == 2", grade_id="step_check")])
    ns = {}
    import_solution_cells(path, ["step"], ns)
    assert ns["step"](1) == 2


def test_a_provided_cell_can_be_imported_by_its_grade_id(tmp_path):
    path = write_notebook(tmp_path / "nb.ipynb", [
        plain_cell("SCALE = 3", grade_id="provided_constants"),
        solution_cell("step_solution", "def step(x):\n    return SCALE * x\n")])
    ns = {}
    assert import_solution_cells(path, ["provided_constants", "step"], ns) == ["SCALE", "step"]
    assert ns["step"](2) == 6


def test_nothing_is_defined_when_a_cell_has_a_syntax_error(tmp_path):
    path = write_notebook(tmp_path / "nb.ipynb", [
        solution_cell("step_solution", STEP),
        solution_cell("forward_solution", "def forward(x:\n    return x\n")])
    ns = {}
    with pytest.raises(NotebookImportError, match="forward_solution"):
        import_solution_cells(path, ["step", "forward"], ns)
    assert ns == {}


def test_autograde_finds_the_students_submitted_notebook(tmp_path, monkeypatch):
    # nbgrader's layout: the LSTM notebook is graded in autograded/<student>/<assignment>/
    # before the RNN notebook has been copied there; the submitted copy is the same file.
    submitted = tmp_path / "course" / "submitted" / "alice" / "rnn_captioning"
    autograded = tmp_path / "course" / "autograded" / "alice" / "rnn_captioning"
    submitted.mkdir(parents=True)
    autograded.mkdir(parents=True)
    write_notebook(submitted / "RNN_Captioning.ipynb", [solution_cell("step_solution", STEP)])
    monkeypatch.chdir(autograded)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    namespace = {}
    assert import_solution_cells("RNN_Captioning.ipynb", ["step"], namespace) == ["step"]
    assert namespace["step"](2) == 4
    monkeypatch.delenv("NBGRADER_EXECUTION")  # outside grading the notebooks must sit together
    with pytest.raises(NotebookImportError, match="same folder"):
        import_solution_cells("RNN_Captioning.ipynb", ["step"], {})


def test_import_if_present_imports_a_notebook_that_is_there(rnn_notebook):
    ns = {}
    assert import_if_present(rnn_notebook, ["step"], ns) is True
    assert ns["step"](3) == 6


def test_import_if_present_does_nothing_when_the_notebook_is_not_there(tmp_path):
    ns = {"kept": 1}
    assert import_if_present(tmp_path / "RNN_Captioning.ipynb", ["step"], ns) is False
    assert ns == {"kept": 1}


def test_import_if_present_still_reports_a_broken_cell_of_a_notebook_that_is_there(tmp_path):
    path = write_notebook(tmp_path / "RNN_Captioning.ipynb",
                          [solution_cell("step_solution", "def step(x:\n    return x\n")])
    with pytest.raises(NotebookImportError, match="step_solution"):
        import_if_present(path, ["step"], {})


def test_import_if_present_finds_the_submitted_copy_while_grading(tmp_path, monkeypatch):
    submitted = tmp_path / "course" / "submitted" / "alice" / "rnn_captioning"
    autograded = tmp_path / "course" / "autograded" / "alice" / "rnn_captioning"
    submitted.mkdir(parents=True)
    autograded.mkdir(parents=True)
    write_notebook(submitted / "RNN_Captioning.ipynb", [solution_cell("step_solution", STEP)])
    monkeypatch.chdir(autograded)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    ns = {}
    assert import_if_present("RNN_Captioning.ipynb", ["step"], ns) is True and ns["step"](1) == 2
