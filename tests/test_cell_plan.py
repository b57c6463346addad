"""Which cells run while grading (autograder/grading/cell_plan.py), and real grading with the plan.

The fast tests build small restored notebooks and check the liveness rule:
every binding form, scopes, magics, dynamic access to the globals, cells that
do not parse, a test cell's ``uses``, and which cells are candidates at all.
The slow tests release a course (all three notebooks) and grade real
submissions with ``rnn-assignment grade``: bubblewrap sandboxes, Dask
workers, nbgrader.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from assignment.units import UNITS, notebook_units
from autograder.answer_key.cells import generate_notebook
from autograder.grading.cell_plan import NOT_RUN_TEXT, cell_names, is_marked, plan_skips
from autograder.grading.restore import grade_id, is_test
from autograder.release.course import Course, tools_env
from student_copies import write_submission

REPO = Path(__file__).resolve().parents[1]
MARK = {"rnn_assignment": {"grading": "skip"}}


# ------------------------------------------------------------ small notebooks


def _cell(kind: str, source: str) -> tuple:
    """(restored cell, released cell) of one kind: setup, exp, student, solution:<obj>,
    test:<unit>, check:<unit> (locked and marked) or locked:<id> (locked, not marked)."""
    kind, _, name = kind.partition(":")
    code = {"cell_type": "code", "execution_count": None, "outputs": [], "source": source}
    if kind in ("setup", "student"):
        return dict(code, metadata={}), dict(code, metadata={})
    if kind == "exp":   # restore drops a plain cell's metadata; the release keeps the marker
        return dict(code, metadata={}), dict(code, metadata=dict(MARK))
    nbgrader = {"solution": {"solution": True, "grade": False, "locked": False,
                             "grade_id": f"{name}_solution"},
                "test": {"solution": False, "grade": True, "locked": True,
                         "grade_id": f"test_{name}", "points": 1},
                "check": {"solution": False, "grade": False, "locked": True,
                          "grade_id": f"{name}_check"},
                "locked": {"solution": False, "grade": False, "locked": True,
                           "grade_id": name}}[kind]
    metadata = {"nbgrader": nbgrader, **(MARK if kind == "check" else {})}
    return dict(code, metadata=metadata), dict(code, metadata=json.loads(json.dumps(metadata)))


def _skipped(*cells) -> list:
    pairs = [_cell(kind, source) for kind, source in cells]
    nb = {"cells": [p[0] for p in pairs]}
    release = {"cells": [p[1] for p in pairs]}
    return [index for index, _ in plan_skips(nb, release)]


SETUP = ("setup", "import numpy as np\nrng = np.random.default_rng(0)")
STEP = ("solution:rnn_step_forward", "def rnn_step_forward(x, prev_h, Wx, Wh, b):\n"
        "    N, D = x.shape\n    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)\n"
        "    return next_h, (x, prev_h, Wx, Wh, next_h)")
TEST_STEP = ("test:rnn_step_forward", 'check_unit("rnn_step_forward", rnn_step_forward, '
             'graded=True)\nfrom rnn_grading_kernel import grade_unit\n'
             'grade_unit("rnn_step_forward", rnn_step_forward, globals())')
TEST_FORWARD = ("test:rnn_forward", 'check_unit("rnn_forward", rnn_forward, graded=True)\n'
                'from rnn_grading_kernel import grade_unit\n'
                'grade_unit("rnn_forward", rnn_forward, globals())')


def test_an_experiment_and_a_check_that_nothing_graded_reads_are_skipped():
    assert _skipped(SETUP, STEP, ("check:rnn_step_forward", "check_unit('rnn_step_forward', "
                                  "rnn_step_forward)\nreport = 1"),
                    TEST_STEP, ("exp", "N, T, D = 3, 4, 5\nh = rng.standard_normal((N, D))"),
                    ("exp", "print(h.sum(), N)")) == [2, 4, 5]


BINDINGS = {
    "assignment": "helper = 1",
    "tuple": "helper, other = 1, 2",
    "starred": "first, *helper = [1, 2, 3]",
    "annotated": "helper: int = 1",
    "augmented": "helper += 1",
    "walrus": "print(helper := 2)",
    "walrus in a comprehension": "[helper := i for i in range(3)]",
    "for": "for helper in range(2):\n    pass",
    "with": "import contextlib\nwith contextlib.nullcontext(1) as helper:\n    pass",
    "except": "try:\n    1 / 0\nexcept ZeroDivisionError as helper:\n    pass",
    "import": "import json as helper",
    "from import": "from json import dumps as helper",
    "def": "def helper():\n    return 1",
    "class": "class helper:\n    pass",
    "global in a function": "def make():\n    global helper\n    helper = 1\nmake()",
    "del": "del helper",
}


@pytest.mark.parametrize("form", BINDINGS)
def test_a_candidate_that_binds_a_name_a_later_running_cell_reads_runs(form):
    bind = ("exp", BINDINGS[form])
    setup = ("setup", "import numpy as np\nhelper = 0")
    assert _skipped(setup, bind, ("student", "print('mine')")) == [1]
    assert _skipped(setup, bind, ("student", "print(helper)")) == []


def test_a_name_read_inside_a_student_function_keeps_alive_a_candidate_before_or_after_it():
    reads_global = ("solution:rnn_step_forward", "def rnn_step_forward(x, prev_h, Wx, Wh, b):\n"
                    "    return np.tanh(x @ Wx * scale), None")
    binds = ("exp", "scale = 2.0")
    # the function runs when the test cell calls it: after a candidate that follows it, too
    assert _skipped(SETUP, reads_global, binds, TEST_STEP) == []
    assert _skipped(SETUP, binds, reads_global, TEST_STEP) == []
    lambda_reads = ("student", "f = lambda: scale\nprint([g for g in [scale]])")
    assert _skipped(SETUP, binds, lambda_reads) == []
    class_reads = ("student", "class Model:\n    def size(self):\n        return scale")
    assert _skipped(SETUP, binds, class_reads) == []


def test_a_functions_local_names_do_not_keep_alive_an_experiment_that_binds_them_globally():
    # rnn_step_forward binds N and D locally; the experiment binds N, D, h, x, cache globally
    experiment = ("exp", "N, D = 2, 3\nx = rng.standard_normal((N, D))\nh, cache = x, None")
    student = ("student", "def rescale(x):\n    N, T = x.shape\n    h = x / N\n"
               "    for t in range(T):\n        cache = h[:, t]\n    return h")
    assert _skipped(SETUP, experiment, STEP, TEST_STEP, student) == [1]


def test_augmented_assignment_and_del_read_the_global_only_where_it_is_global():
    binds = ("exp", "total = 0")
    assert _skipped(SETUP, binds, ("student", "total += 1")) == []
    assert _skipped(SETUP, binds, ("student", "del total")) == []
    assert _skipped(SETUP, binds, ("student", "def f():\n    global total\n    total += 1")) \
        == []
    local = ("student", "def f(p):\n    total = p.sum()\n    total /= 2\n    return total")
    assert _skipped(SETUP, binds, local) == [1]


def test_a_graded_test_cell_reads_its_units_object_and_uses():
    # rnn_forward uses rnn_step_forward: an experiment that (re)binds it must run
    assert "rnn_step_forward" in UNITS["rnn_forward"].uses
    rebinds = ("exp", "def rnn_step_forward(x, prev_h, Wx, Wh, b):\n    return x, None")
    forward = ("solution:rnn_forward", "def rnn_forward(x, h0, Wx, Wh, b):\n    return x, None")
    assert _skipped(SETUP, STEP, rebinds, forward, TEST_FORWARD) == []
    assert _skipped(SETUP, STEP, rebinds, forward, TEST_STEP) == []
    unrelated = ("exp", "def plot_something():\n    return 1")
    assert _skipped(SETUP, STEP, unrelated, forward, TEST_FORWARD) == [2]


def test_a_test_cell_of_an_unknown_unit_reads_everything():
    unknown = ("test:no_such_unit", "grade_unit('no_such_unit', f, globals())")
    assert _skipped(SETUP, ("exp", "x = 1"), unknown) == []


def test_magics_are_parsed_after_ipythons_transformation():
    # `%time` becomes get_ipython().run_line_magic(...): it reads everything before it ...
    exp = ("exp", "x = 1")
    assert _skipped(SETUP, exp, ("student", "%time y = 2")) == []
    assert _skipped(SETUP, exp, ("student", "!echo hi")) == []
    # ... but not the candidates after it
    assert _skipped(("setup", "%matplotlib inline\nimport numpy as np"), exp,
                    ("student", "print(1)")) == [1]
    # a marked cell with a magic in it may bind any name through it: it runs
    assert _skipped(SETUP, ("exp", "%time z = np.ones(3)"), ("student", "print(1)")) == []


@pytest.mark.parametrize("dynamic", [
    "globals()['x']", "print(locals())", "vars()", "eval('x')", "exec('print(x)')",
    "get_ipython().user_ns", "__import__('__main__').x", "import __main__",
    "import sys\nsys.modules['__main__']", "import inspect", "print(Out[3])", "print(_)",
    "getattr(object, name)", "(lambda: 1).__globals__"])
def test_a_running_cell_that_can_reach_names_dynamically_reads_everything_before_it(dynamic):
    exp = ("exp", "x = 1")
    assert _skipped(SETUP, exp, ("student", dynamic)) == []
    assert _skipped(SETUP, ("student", dynamic), exp, ("student", "print(1)")) == [2]
    # inside a function it can run at any time: nothing is skipped
    inside = "def peek():\n    " + dynamic.replace("\n", "\n    ") + "\n"
    assert _skipped(SETUP, ("student", inside), exp, ("student", "print(1)")) == []


def test_a_running_cell_that_does_not_parse_here_reads_everything():
    # the kernel may still run it (another Python, another transformation) and define
    # functions that read any name when they are called: nothing is skipped
    exp = ("exp", "x = 1")
    assert _skipped(SETUP, exp, ("student", "def broken(:\n    pass")) == []
    assert _skipped(SETUP, ("student", "def broken(:"), exp, ("student", "print(1)")) == []
    assert _skipped(SETUP, exp, ("student", "print(1)")) == [1]


def test_a_candidate_that_may_bind_any_name_always_runs():
    for source in ("from json import *", "globals()['helper'] = 1"):
        assert _skipped(SETUP, ("exp", source), ("student", "print(1)")) == []


def test_keeping_a_candidate_keeps_the_candidates_it_reads():
    a = ("exp", "a = 1")
    b = ("exp", "b = a + 1")
    unrelated = ("exp", "c = 3")
    assert _skipped(SETUP, a, b, unrelated, ("student", "print(b)")) == [3]


def test_only_marked_cells_from_the_instructor_are_candidates():
    exp = ("exp", "x = 1")
    # a plain cell whose text is not that of a marked release cell: edited or added
    assert _skipped(SETUP, ("student", "x = 1  # edited"), ("student", "print(2)")) == []
    assert _skipped(SETUP, exp, ("student", "y = 1")) == [1]
    # a locked cell without the marker, and a plain cell that claims the marker itself
    assert _skipped(SETUP, ("locked:provided", "x = 1")) == []
    forged = {"cell_type": "code", "metadata": dict(MARK), "outputs": [], "source": "x = 1",
              "execution_count": None}
    assert plan_skips({"cells": [forged]}, {"cells": []}) == []


def test_cell_names_are_scope_correct():
    names = cell_names("import numpy as np\ndef f(x):\n    N, T = x.shape\n"
                       "    return np.ones(N) * K\nN = 3\nprint(N)")
    assert {"np", "f", "N"} <= names.binds and "K" not in names.binds
    assert names.reads_later == {"np", "K"}
    assert "N" in names.reads_now and "T" not in names.reads_now | names.reads_later
    assert not (names.everything_now or names.everything_later or names.binds_unknown)


# ------------------------------------------------------------ the source notebooks


NOTEBOOK_NAMES = ("RNN_Captioning", "LSTM_Captioning", "CharRNN_Language_Model")


def _source(name):
    return json.loads((REPO / "notebooks" / f"{name}.ipynb").read_text())


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_generated_check_cells_are_marked_and_no_graded_solution_or_setup_cell_is(name):
    nb = generate_notebook(_source(name), name)
    for index, cell in enumerate(nb["cells"]):
        gid = grade_id(cell) or ""
        meta = cell["metadata"].get("nbgrader", {})
        if gid.endswith("_check") and meta.get("locked"):
            assert is_marked(cell), gid
        if is_test(cell) or meta.get("solution") or gid.endswith("_provided"):
            assert not is_marked(cell), gid
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert not is_marked(code[0])   # the set-up cell
    for unit in notebook_units(name):
        assert f"{unit}_check" in {grade_id(c) for c in nb["cells"] if is_marked(c)}


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_a_solved_notebook_skips_every_marked_cell_but_what_dynamic_code_may_read(name):
    nb = _source(name)
    marked = [i for i, c in enumerate(nb["cells"]) if is_marked(c)]
    skipped = [i for i, _ in plan_skips(nb, nb)]
    if name == "LSTM_Captioning":
        # import_solution_cells(..., globals()) runs the RNN notebook's cells here: the
        # check cells before it run (they could bind what it reads), the experiments do not
        before = next(i for i, c in enumerate(nb["cells"])
                      if "import_solution_cells(" in "".join(c["source"]) and not is_marked(c))
        assert skipped == [i for i in marked if i > before]
    else:
        assert skipped == marked


# ------------------------------------------------------------ the sandboxed run


@pytest.mark.slow
def test_a_skipped_cell_is_not_sent_to_the_kernel_and_says_so(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    from autograder.grading.limits import Limits
    from autograder.grading.sandbox.run_notebook import run_notebook

    nb = new_notebook(cells=[new_code_cell("a = 1"), new_markdown_cell("text"),
                             new_code_cell("b = 2\nprint('ran')"),
                             new_code_cell("print('b' in globals(), a)")])
    (tmp_path / "work").mkdir()
    out = run_notebook(nb, tmp_path / "work", env={}, skip=[2],
                       limits=Limits(cell_seconds=60, total_seconds=120))
    assert out.status == "ok"
    assert [o["text"] for o in out.nb.cells[2].outputs] == [NOT_RUN_TEXT]
    assert out.nb.cells[2].execution_count is None
    assert out.nb.cells[3].outputs[0]["text"] == "False 1\n"
    assert [index for index, _ in out.cell_seconds] == [0, 3]
    assert nbformat.validate(out.nb) is None


# ------------------------------------------------------------ real grading


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A released course handing out all three notebooks (checks skipped)."""
    root = tmp_path_factory.mktemp("plan") / "course"
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "release", "--course",
                           str(root), "--skip-checks"], env=tools_env(), capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Course(root)


ALL = ("RNN_Captioning.ipynb", "LSTM_Captioning.ipynb", "CharRNN_Language_Model.ipynb")


@pytest.mark.slow
def test_nbgraders_release_keeps_every_marker_and_marked_text(course):
    for notebook in ALL:
        source = json.loads((course.source_dir() / notebook).read_text())
        release = json.loads((course.release_dir() / notebook).read_text())
        marked = [(_text(c), c["metadata"]["rnn_assignment"]) for c in source["cells"]
                  if is_marked(c)]
        assert marked, notebook
        assert marked == [(_text(c), c["metadata"]["rnn_assignment"]) for c in release["cells"]
                          if is_marked(c)]
EDITED_LINE = "print('my own line in an experiment cell')"
ADDED_LINE = "print('a cell I added')"


def _by_id(nb):
    return {grade_id(c): c for c in nb["cells"] if grade_id(c)}


def _text(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _functools_solution(name, nb):
    """truncated_bptt_step uses `functools`, imported only by the locked multilayer_check."""
    if name != "CharRNN_Language_Model.ipynb":
        return
    cell = _by_id(nb)["truncated_bptt_step_solution"]
    text = _text(cell)
    head, body = text.split("\n", 1)
    assert head.startswith("def truncated_bptt_step(")
    cell["source"] = head + "\n    functools.reduce(lambda a, b: a + b, [1, 2])\n" + body


def _edited_and_added(name, nb):
    """An experiment cell the student edited (it defines a helper the solution uses) and a
    cell they added."""
    if name != "RNN_Captioning.ipynb":
        return
    cells = nb["cells"]
    experiment = next(c for c in cells if c["cell_type"] == "code" and is_marked(c))
    experiment["source"] = _text(experiment) + f"\n{EDITED_LINE}\ndef my_scale(v):\n    return v\n"
    step = _by_id(nb)["rnn_step_forward_solution"]
    assert "    return next_h, cache" in _text(step)
    step["source"] = _text(step).replace("    return next_h, cache",
                                         "    next_h = my_scale(next_h)\n    return next_h, cache")
    at = cells.index(step) + 1
    cells.insert(at, {"cell_type": "code", "metadata": {}, "outputs": [],
                      "execution_count": None, "source": ADDED_LINE})


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    subs = tmp_path_factory.mktemp("plan-subs")
    write_submission(subs / "solved", ALL)
    write_submission(subs / "functools", ALL, _functools_solution)
    write_submission(subs / "edited", ALL, _edited_and_added)
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "grade", "--course",
                           str(course.root), str(subs), "--workers", "2", "--no-progress"],
                          env=tools_env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return course


def _scores(course):
    with open(course.root / "grades_by_test.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    out = {}
    for row in rows:
        out.setdefault(row["student_id"], {})[row["grade_id"]] = float(row["score"])
    return out


def _executed(course, student, notebook):
    path = course.root / "grading" / "executed" / student / notebook
    return json.loads(path.read_text())


def _not_run(cell):
    return [o.get("text") for o in cell.get("outputs", [])] in ([NOT_RUN_TEXT], [[NOT_RUN_TEXT]])


def _outputs_text(cell):
    return "".join("".join(o.get("text", "")) for o in cell.get("outputs", []))


FULL = {f"test_{u}": spec.points for u, spec in UNITS.items()}


@pytest.mark.slow
def test_a_solved_notebook_gets_every_point_without_running_its_experiments_and_checks(graded):
    assert _scores(graded)["solved"] == FULL
    for notebook in ALL:
        executed = _executed(graded, "solved", notebook)
        release = json.loads((graded.release_dir() / notebook).read_text())
        marked_texts = {_text(c) for c in release["cells"] if is_marked(c)}
        skipped = [c for c in executed["cells"] if _not_run(c)]
        assert skipped, notebook
        for cell in skipped:
            assert cell["execution_count"] is None
            assert _text(cell) in marked_texts or is_marked(cell)
        for cell in executed["cells"]:
            if cell["cell_type"] == "code" and (
                    is_test(cell) or (cell["metadata"].get("nbgrader") or {}).get("solution")):
                assert not _not_run(cell) and cell["execution_count"] is not None
    result = json.loads((graded.root / "grading" / "results" / "solved" /
                         "RNN_Captioning.json").read_text())
    ran = [index for index, _ in result["cell_seconds"]]
    executed = _executed(graded, "solved", "RNN_Captioning.ipynb")
    assert ran == [i for i, c in enumerate(executed["cells"])
                   if c["cell_type"] == "code" and c["execution_count"] is not None]


@pytest.mark.slow
def test_a_solution_that_uses_a_name_bound_only_in_a_marked_cell_runs_that_cell(graded):
    assert _scores(graded)["functools"] == FULL
    executed = _by_id(_executed(graded, "functools", "CharRNN_Language_Model.ipynb"))
    assert not _not_run(executed["multilayer_check"])
    assert executed["multilayer_check"]["execution_count"] is not None


@pytest.mark.slow
def test_an_edited_experiment_cell_and_an_added_cell_run(graded):
    assert _scores(graded)["edited"] == FULL     # its solution calls the edited cell's helper
    cells = _executed(graded, "edited", "RNN_Captioning.ipynb")["cells"]
    assert any(EDITED_LINE in _text(c) and "my own line" in _outputs_text(c) for c in cells)
    assert any(_text(c) == ADDED_LINE and "a cell I added" in _outputs_text(c) for c in cells)


@pytest.mark.slow
def test_feedback_shows_no_skipped_cell(graded):
    for notebook in ALL:
        html = (graded.root / "feedback" / "solved" / "rnn_captioning" /
                notebook.replace(".ipynb", ".html")).read_text()
        assert "not run while grading" not in html and "Graded test for" in html


@pytest.mark.slow
def test_the_plan_is_part_of_the_jobs_key(graded, tmp_path):
    import shutil

    from autograder.grading.jobs import build_jobs

    shutil.copytree(graded.root, tmp_path / "course")
    course = Course(tmp_path / "course")

    def jobs():
        built, _ = build_jobs(course, "rnn_captioning", ["solved"], "the same context")
        return {job.notebook: job for job in built}

    before = jobs()
    # the release no longer marks one experiment cell: the same restored notebook, another plan
    path = course.release_dir() / "RNN_Captioning.ipynb"
    release = json.loads(path.read_text())
    cell = next(c for c in release["cells"] if is_marked(c) and grade_id(c) is None)
    del cell["metadata"]["rnn_assignment"]
    path.write_text(json.dumps(release))
    after = jobs()
    assert after["RNN_Captioning"].nb == before["RNN_Captioning"].nb
    assert len(after["RNN_Captioning"].skip) == len(before["RNN_Captioning"].skip) - 1
    assert after["RNN_Captioning"].key != before["RNN_Captioning"].key
    assert after["LSTM_Captioning"].key == before["LSTM_Captioning"].key
