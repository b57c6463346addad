"""``rnn-assignment grade``: restoring instructor cells, collecting submissions, and grading.

The restore and collect tests are fast. The grading tests release a course
once (module fixture) and grade real submissions end to end: bubblewrap
sandboxes on a local Dask cluster, scores outside the kernels, nbgrader's own
autograde, feedback and export. The adversarial corpus is in
tests/test_adversarial.py.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from assignment.units import UNITS, notebook_units
from autograder.grading.collect import DEFAULT_ZIP_REGEXP, collect
from autograder.grading.coordinator import GradeOptions, grade
from autograder.grading.errors import GradingError
from autograder.grading.restore import grade_id, is_solution, restore_notebook
from autograder.grading.upload import CollectError
from autograder.release.course import Course, tools_env
from student_copies import CAPTIONING as NOTEBOOKS  # what the test course hands out
from student_copies import CAPTIONING_RELEASE, CAPTIONING_UNITS, write_submission

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "rnn_captioning"


def _cells_by_id(nb):
    return {grade_id(c): c for c in nb["cells"] if grade_id(c)}


def _ids(nb):
    return [grade_id(c) for c in nb["cells"] if grade_id(c)]


def _src(cell):
    s = cell["source"]
    return "".join(s) if isinstance(s, list) else s


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A released course (checks skipped: the release check itself is in test_release.py)."""
    root = tmp_path_factory.mktemp("grading") / "course"
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "release", "--course",
                           str(root), "--skip-checks", *CAPTIONING_RELEASE], env=tools_env(), capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Course(root)


def _load(path):
    return json.loads(Path(path).read_text())


@pytest.fixture(scope="module")
def notebooks(course):
    return {name: (_load(course.source_dir() / name), _load(course.release_dir() / name))
            for name in NOTEBOOKS}


# -------------------------------------------------------------------- restore


def test_untouched_release_is_restored_unchanged(notebooks):
    for name, (source, release) in notebooks.items():
        restored = restore_notebook(source, release, release)
        assert restored.changes == []
        assert _ids(restored.nb) == _ids(source)
        # test cells come from the source: hidden tests included
        tests = [c for c in restored.nb["cells"] if (grade_id(c) or "").startswith("test_")]
        assert tests and all("BEGIN HIDDEN TESTS" in _src(c) for c in tests)
        nbformat.validate(nbformat.from_dict(restored.nb))


def test_tampered_cells_are_put_back_and_answers_kept(notebooks):
    source, release = notebooks["RNN_Captioning.ipynb"]
    sub = copy.deepcopy(release)
    cells = sub["cells"]
    where = {grade_id(c): i for i, c in enumerate(cells) if grade_id(c)}
    cells[where["rnn_step_forward_solution"]]["source"] = "def rnn_step_forward(*a):\n    return 42\n"
    cells[where["test_rnn_step_forward"]]["source"] = "print(100)"
    cells[where["test_rnn_backward"]]["metadata"]["nbgrader"]["points"] = 1000
    cells.insert(where["test_rnn_backward"] + 1, copy.deepcopy(cells[where["test_rnn_backward"]]))
    cells.insert(where["rnn_forward_solution"] + 1,
                 {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                  "source": "helper = 1"})
    fake = {"cell_type": "code", "execution_count": None, "outputs": [], "source": "1",
            "metadata": {"nbgrader": {"grade": True, "grade_id": "test_extra", "points": 50,
                                      "locked": True, "solution": False}}}
    cells.append(fake)
    # move a locked check cell to the top, delete a test cell
    cells.insert(0, cells.pop([grade_id(c) for c in cells].index("rnn_backward_check")))
    del cells[[grade_id(c) for c in cells].index("test_rnn_forward")]

    restored = restore_notebook(source, release, sub)
    assert _ids(restored.nb) == _ids(source)            # every instructor cell, once, in order
    by_id = _cells_by_id(restored.nb)
    src_by_id = _cells_by_id(source)
    for gid, cell in src_by_id.items():
        if is_solution(cell):
            continue
        assert _src(by_id[gid]) == _src(cell)
        assert by_id[gid]["metadata"]["nbgrader"] == cell["metadata"]["nbgrader"]
    assert _src(by_id["rnn_step_forward_solution"]).endswith("return 42\n")  # the answer stays
    index = [grade_id(c) for c in restored.nb["cells"]].index("rnn_forward_solution")
    assert _src(restored.nb["cells"][index + 1]) == "helper = 1"        # added cell kept in place
    extra = [c for c in restored.nb["cells"] if _src(c) == "1"]
    assert extra and extra[0]["metadata"] == {}                         # no points from a new id
    text = "\n".join(restored.changes)
    for expected in ("test_rnn_step_forward was edited", "test_rnn_forward was deleted",
                     "metadata of test_rnn_backward", "duplicate of the cell test_rnn_backward",
                     "unknown grade id 'test_extra'", "moved"):
        assert expected in text
    nbformat.validate(nbformat.from_dict(restored.nb))


def test_unreadable_or_missing_answers_are_graded_as_released(notebooks):
    source, release = notebooks["LSTM_Captioning.ipynb"]
    restored = restore_notebook(source, release, None)
    assert _ids(restored.nb) == _ids(source)
    rel = _cells_by_id(release)
    for gid, cell in _cells_by_id(restored.nb).items():
        if is_solution(cell):
            assert _src(cell) == _src(rel[gid])


# -------------------------------------------------------------------- collect


def test_import_folder_replaces_a_students_earlier_files(course, tmp_path):
    subs = tmp_path / "subs"
    (subs / "amy").mkdir(parents=True)
    (subs / "amy" / "RNN_Captioning.ipynb").write_text("{}")
    (subs / "amy" / "notes.txt").write_text("hello")
    assert collect(course, subs).students == ["amy"]
    (subs / "amy" / "notes.txt").unlink()
    assert collect(course, subs).students == ["amy"]
    folder = course.root / "submitted" / "amy" / ASSIGNMENT
    assert sorted(p.name for p in folder.iterdir()) == ["RNN_Captioning.ipynb"]
    shutil.rmtree(course.root / "submitted" / "amy")
    bad = tmp_path / "bad"
    (bad / "bad name").mkdir(parents=True)
    (bad / "bad name" / "RNN_Captioning.ipynb").write_text("{}")
    safe = collect(course, bad).students          # a safe id, not a stopped run
    assert len(safe) == 1 and safe[0].startswith("bad_name-")
    shutil.rmtree(course.root / "submitted" / safe[0])
    with pytest.raises(CollectError, match="no such folder"):
        collect(course, tmp_path / "nowhere")


def test_import_lms_zip_with_nbgraders_naming(course, tmp_path):
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for student in ("bitdiddle", "hacker"):
            for name in NOTEBOOKS:
                zf.writestr(f"{ASSIGNMENT}_{student}_attempt_2026-11-20-10-00-00_{name}",
                            (course.release_dir() / name).read_text())
    students = collect(course, archive, zip_regexp=DEFAULT_ZIP_REGEXP).students
    assert students == ["bitdiddle", "hacker"]
    for student in students:
        folder = course.root / "submitted" / student / ASSIGNMENT
        assert sorted(p.name for p in folder.glob("*.ipynb")) == sorted(NOTEBOOKS)
        shutil.rmtree(course.root / "submitted" / student)


# -------------------------------------------------------------------- grading


def _submission(folder: Path, notebooks_from: Path, edit=None):
    write_submission(folder, NOTEBOOKS, edit, notebooks_from)


def _double_dWh(name, nb):
    if name != "RNN_Captioning.ipynb":
        return
    cell = _cells_by_id(nb)["rnn_step_backward_solution"]
    text = _src(cell)
    assert "return dx, dprev_h, dWx, dWh, db" in text
    cell["source"] = text.replace("return dx, dprev_h, dWx, dWh, db",
                                  "return dx, dprev_h, dWx, 2 * dWh, db")


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _scores(course):
    out = {}
    for row in _rows(course.root / "grades_by_test.csv"):
        out.setdefault(row["student_id"], {})[row["grade_id"]] = float(row["score"])
    return out


FULL = {f"test_{u}": spec.points for u, spec in CAPTIONING_UNITS.items()}
# the limits are part of a result's key: the same limits find the earlier results
LIMITS = dict(cell_timeout=60, total_timeout=300)


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    """Three students graded together with two local Dask workers."""
    subs = tmp_path_factory.mktemp("subs")
    _submission(subs / "correct", REPO / "notebooks")
    _submission(subs / "untouched", course.release_dir())
    _submission(subs / "wrong-dWh", REPO / "notebooks", _double_dWh)
    report = grade(course.root, subs, GradeOptions(**LIMITS, workers=2, progress=False))
    return subs, report


@pytest.mark.slow
def test_grades_are_exact_per_test(course, graded):
    _, report = graded
    assert report.ran == 6 and not report.kept
    scores = _scores(course)
    assert scores["correct"] == FULL
    assert scores["untouched"] == {k: 0.0 for k in FULL}
    wrong = dict(FULL, test_rnn_step_backward=FULL["test_rnn_step_backward"] - 2)
    assert scores["wrong-dWh"] == wrong           # only dWh's 2 points, nothing downstream
    msg = {r["grade_id"]: r["message"] for r in _rows(course.root / "grades_by_test.csv")
           if r["student_id"] == "wrong-dWh"}
    assert "dWh" in msg["test_rnn_step_backward"]
    assert _rows(course.root / "review.csv") == []


@pytest.mark.slow
def test_gradebook_and_nbgrader_export(course, graded):
    from nbgrader.api import Gradebook
    with Gradebook(course.gradebook_url) as gb:
        submissions = gb.assignment_submissions(ASSIGNMENT)
        assert sorted(s.student_id for s in submissions) == ["correct", "untouched", "wrong-dWh"]
        correct = gb.find_submission(ASSIGNMENT, "correct")
        auto = sum(g.auto_score or 0 for nb in correct.notebooks for g in nb.grades)
        assert auto == sum(FULL.values())
    rows = {r["student_id"]: r for r in _rows(course.root / "grades.csv")}
    assert float(rows["correct"]["raw_score"]) == sum(FULL.values())
    assert float(rows["wrong-dWh"]["raw_score"]) == sum(FULL.values()) - 2
    assert float(rows["untouched"]["raw_score"]) == 0


@pytest.mark.slow
def test_feedback_shows_verdicts_but_no_hidden_tests(course, graded):
    for student in ("correct", "wrong-dWh"):
        for name in NOTEBOOKS:
            html = (course.root / "feedback" / student / ASSIGNMENT /
                    name.replace(".ipynb", ".html")).read_text()
            assert "BEGIN HIDDEN TESTS" not in html and "rnn_grading_kernel" not in html
            assert "points" in html
    html = (course.root / "feedback" / "wrong-dWh" / ASSIGNMENT / "RNN_Captioning.html").read_text()
    assert "dWh" in html and "hint" in html


@pytest.mark.slow
def test_regrading_is_idempotent_and_one_student_can_be_regraded(course, graded):
    subs, _ = graded
    before = (course.root / "grades_by_test.csv").read_text()
    report = grade(course.root, subs, GradeOptions(**LIMITS, workers=2, progress=False))
    assert report.ran == 0 and report.reused == 6
    assert (course.root / "grades_by_test.csv").read_text() == before
    # the student fixes the mistake: only that student is run again (both notebooks: the
    # LSTM notebook imports the RNN notebook's answers, so its key includes that file)
    shutil.rmtree(subs / "wrong-dWh")
    _submission(subs / "wrong-dWh", REPO / "notebooks")
    report = grade(course.root, subs, GradeOptions(**LIMITS, workers=1, progress=False,
                                                   student="wrong-dWh"))
    assert report.students == ["wrong-dWh"] and report.ran == 2 and report.reused == 0
    assert _scores(course)["wrong-dWh"] == FULL
    assert _scores(course)["correct"] == FULL


@pytest.mark.slow
def test_a_rerelease_that_changes_an_expected_output_regrades_without_rerun(
        course, graded, monkeypatch):
    """The instructor corrects the answer key and releases again with the same secret.

    Here the reference model's loss changes (an expected output of the
    captioning_loss unit) while the hidden inputs, and so the grading inputs
    the sandboxes get, stay byte for byte the same: only the references file
    tells the old results from the new ones.
    """
    from autograder.answer_key.check_files import build_references
    from autograder.answer_key.solution import reference
    subs, _ = graded
    refs = course.references_path
    inputs = refs.with_name("grading_inputs.npz")
    original_refs, original_inputs = refs.read_bytes(), inputs.read_bytes()
    options = GradeOptions(**LIMITS, workers=1, progress=False, student="correct")

    model_class = reference().CaptioningRNN   # the answer key (built once per process)
    loss = model_class.loss

    def loss_plus_one(self, *args, **kwargs):
        value, grads = loss(self, *args, **kwargs)
        return value + 1.0, grads

    monkeypatch.setattr(model_class, "loss", loss_plus_one)
    build_references(course.secret(), refs)            # what `rnn-assignment release` does
    monkeypatch.undo()
    assert refs.read_bytes() != original_refs
    report = grade(course.root, subs, options)
    assert inputs.read_bytes() == original_inputs      # the sandboxes' inputs did not change
    assert report.ran == 2 and report.reused == 0      # ... yet nothing stale was reused
    assert _scores(course)["correct"] == dict(
        FULL, test_captioning_loss=FULL["test_captioning_loss"] - UNITS[
            "captioning_loss"].outputs["loss"])

    build_references(course.secret(), refs)            # the answer key as it was
    assert refs.read_bytes() == original_refs
    report = grade(course.root, subs, options)
    assert report.ran == 2 and _scores(course)["correct"] == FULL
    report = grade(course.root, subs, options)         # nothing changed: nothing runs
    assert report.ran == 0 and report.reused == 2


@pytest.mark.slow
def test_a_failed_run_keeps_the_earlier_grade(course, graded, monkeypatch):
    """A worker lost mid-run (simulated: no second machine here) changes no grade."""
    import autograder.grading.coordinator as coordinator
    subs, _ = graded
    before = _scores(course)["correct"]

    def lost(jobs, inputs, options, on_result):
        for job in jobs:
            on_result(job, OSError("worker lost"))

    monkeypatch.setattr(coordinator, "run_jobs", lost)
    report = grade(course.root, subs, GradeOptions(**LIMITS, progress=False, student="correct",
                                                   rerun=True))
    assert all("worker lost" in why for why in report.kept.values()) and report.kept
    assert _scores(course)["correct"] == before


@pytest.mark.slow
def test_grading_on_a_running_dask_scheduler(course, tmp_path):
    from dask.distributed import LocalCluster
    subs = tmp_path / "subs"
    _submission(subs / "remote", REPO / "notebooks")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, memory_limit=0,
                      dashboard_address=":0") as cluster:
        report = grade(course.root, subs, GradeOptions(**LIMITS, progress=False,
                                                       scheduler=cluster.scheduler_address))
    assert report.ran == 2 and not report.kept
    assert _scores(course)["remote"] == FULL


def test_a_limit_that_is_not_positive_is_refused_with_the_option_to_fix(course, tmp_path):
    with pytest.raises(GradingError, match="cell_seconds.*--cell-timeout"):
        grade(course.root, tmp_path, GradeOptions(cell_timeout=0, progress=False))


def test_a_release_without_its_source_notebooks_is_named_not_a_traceback(tmp_path):
    course = Course(tmp_path / "course")
    course.release_dir().mkdir(parents=True)
    course.source_dir().mkdir(parents=True)
    course.references_path.parent.mkdir(parents=True)
    shutil.copy2(REPO / "assignment" / "public_checks.npz", course.references_path)
    with pytest.raises(GradingError, match="holds none of the notebooks.*rnn-assignment release"):
        grade(course.root, tmp_path, GradeOptions(progress=False))


def test_grading_needs_a_released_course(tmp_path):
    with pytest.raises(GradingError, match="rnn-assignment release"):
        grade(tmp_path / "nothing", tmp_path)


def test_notebook_units_cover_every_test_cell(notebooks):
    for name, (source, _) in notebooks.items():
        tests = [g for g in _ids(source) if g.startswith("test_")]
        assert tests == [f"test_{u}" for u in notebook_units(name[:-6])]


@pytest.mark.parametrize("cpus", [1, 2, 4])
def test_local_workers_default_to_half_the_usable_cpus(cpus):
    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < cpus:
        pytest.skip(f"needs {cpus} usable CPUs and CPU affinity")
    code = ("import os; os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:%d]); "
            "from assignment.threads import usable_cpus; "
            "from autograder.grading.dask_run import default_workers; "
            "print(usable_cpus(), default_workers())" % cpus)
    usable, workers = map(int, subprocess.run([sys.executable, "-c", code], check=True,
                                              capture_output=True, text=True).stdout.split())
    assert usable <= cpus
    assert workers == max(1, usable // 2)  # one worker keeps about two CPUs busy
