"""Grading hostile and broken intake end to end: links, names, broken notebooks, late work.

The submissions are built by tests/adversarial/intake.py (one class of problem
per student, several variants per class, exact expected scores). A course is
released once for this module (``--skip-checks``), given a due date and
nbgrader's "zero" late penalty, and ``rnn-assignment grade`` runs twice: once
over a folder of submissions, once over an LMS zip. The tests read what it
wrote: grades_by_test.csv, review.csv, grades.csv (nbgrader's export, with the
late penalty), the feedback HTML, ``submitted/`` and the exit status.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from adversarial.corpus import expected_points
from adversarial.intake import DUE, build_folder, build_zip
from autograder.grading.collect import normalise_student_id
from autograder.grading.feedback_guard import find_leaks, instructor_only_text, visible_text
from autograder.release.course import Course, tools_env
from student_copies import CAPTIONING_RELEASE

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "rnn_captioning"
CELL_TIMEOUT_S = 60
WORKERS = 2
EXIT_REVIEW = 3

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A released course with a due date and nbgrader's 'zero' late penalty."""
    course = Course(tmp_path_factory.mktemp("intake") / "course")
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "release", "--course",
                           str(course.root), "--skip-checks", *CAPTIONING_RELEASE], cwd=REPO, env=tools_env(),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "db", "assignment", "add",
                           ASSIGNMENT, f"--duedate={DUE}"], cwd=course.root, env=tools_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with open(course.config_path, "a") as f:
        f.write('\nc.LateSubmissionPlugin.penalty_method = "zero"\n')
    return course


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _grade(course, submissions):
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "grade", "--course", str(course.root),
         str(submissions), "--workers", str(WORKERS), "--cell-timeout", str(CELL_TIMEOUT_S),
         "--no-progress"], cwd=REPO, env=tools_env(), capture_output=True, text=True,
        timeout=1800)
    seconds = time.perf_counter() - start
    return SimpleNamespace(proc=proc, seconds=seconds, log=proc.stdout + proc.stderr)


@pytest.fixture(scope="module")
def folder(course):
    subs = course.root.parent / "folder-submissions"
    want = build_folder(course, subs)
    run = _grade(course, subs)
    print(f"\ngrade of a folder of {len(want)} submissions: {run.seconds:.1f} s")
    assert run.proc.returncode in (0, 1, EXIT_REVIEW), run.log[-6000:]
    return SimpleNamespace(run=run, want=want, ids={n: normalise_student_id(n) for n in want})


@pytest.fixture(scope="module")
def lms(course, folder):
    archive = course.root.parent / "lms-download.zip"
    want = build_zip(course, archive)
    run = _grade(course, archive)
    print(f"\ngrade of an LMS zip of {len(want)} students: {run.seconds:.1f} s")
    assert run.proc.returncode in (0, 1, EXIT_REVIEW), run.log[-6000:]
    return SimpleNamespace(run=run, want=want, ids={n: normalise_student_id(n) for n in want})


@pytest.fixture(scope="module")
def graded(course, folder, lms):
    """Both runs done: the course's grade files, and every student wanted."""
    want = {folder.ids[n]: w for n, w in folder.want.items()}
    want.update({lms.ids[n]: w for n, w in lms.want.items()})
    return SimpleNamespace(
        want=want, by_test=_rows(course.root / "grades_by_test.csv"),
        review=_rows(course.root / "review.csv"),
        grades={r["student_id"]: r for r in _rows(course.root / "grades.csv")})


def _stem(name):
    return name[:-len(".ipynb")] if name.endswith(".ipynb") else name


# ------------------------------------------------------------------ scores


def test_every_test_cell_gets_exactly_its_expected_score(graded):
    maximum = expected_points()
    got, problems = {}, []
    for row in graded.by_test:
        got[(row["student_id"], _stem(row["notebook"]), row["grade_id"])] = row
    for student, want in graded.want.items():
        rows = [k for k in got if k[0] == student]
        if want.absent:
            if rows:
                problems.append(f"{student}: graded, but it is a link and no student")
            continue
        for (notebook, grade_id), score in want.scores.items():
            row = got.pop((student, notebook, grade_id), None)
            if row is None:
                problems.append(f"{student} {notebook} {grade_id}: no row")
            elif abs(float(row["score"]) - score) > 1e-9:
                problems.append(f"{student} {grade_id}: {row['score']}, expected {score:g} "
                                f"({want.description}): {row['message'][:200]}")
            elif abs(float(row["max_score"]) - maximum[(notebook, grade_id)]) > 1e-9:
                problems.append(f"{student} {grade_id}: max_score {row['max_score']}")
    problems += [f"{key}: unexpected row" for key in got]
    assert not problems, "\n".join(problems)


def test_exactly_the_problem_submissions_are_flagged_with_their_reasons(graded):
    flagged = {(r["student_id"], _stem(r["notebook"])): r["reason"] for r in graded.review}
    expected = {(s, n): words for s, w in graded.want.items() for n, words in w.flagged.items()}
    assert set(flagged) == set(expected), "\n".join(
        f"{k}: {flagged.get(k, 'not flagged')!r}" for k in set(flagged) ^ set(expected))
    wrong = [f"{k}: {flagged[k]!r} does not say {words!r}" for k, words in expected.items()
             if words.lower() not in flagged[k].lower()]
    assert not wrong, "\n".join(wrong)


def test_grades_csv_and_grades_by_test_agree_for_every_student(graded, course):
    by_test = {}
    for row in graded.by_test:
        by_test[row["student_id"]] = by_test.get(row["student_id"], 0.0) + float(row["score"])
    submitted = sorted(p.name for p in (course.root / "submitted").iterdir())
    assert sorted(by_test) == sorted(graded.grades) == submitted
    for student, total in by_test.items():
        assert float(graded.grades[student]["raw_score"]) == pytest.approx(total), student


def test_the_late_penalty_applies_from_the_folders_timestamp(graded, folder):
    late, on_time = graded.grades["c09-late"], graded.grades["c01-correct"]
    assert late["timestamp"].startswith("2026-11-23 08:30:00")
    assert float(late["raw_score"]) == expected_points_total("RNN_Captioning")
    assert float(late["late_submission_penalty"]) == float(late["raw_score"])
    assert float(late["score"]) == 0.0
    assert on_time["timestamp"].startswith("2026-11-20 12:00:00")
    assert float(on_time["late_submission_penalty"] or 0) == 0.0
    assert float(on_time["score"]) == float(on_time["raw_score"]) == sum(expected_points().values())
    # an LMS zip's time from the file names; no timestamp: no penalty
    assert graded.grades["victim"]["timestamp"].startswith("2026-11-20 10:00:00")
    jane = graded.grades[folder.ids["Jane Doe"]]
    assert not jane["timestamp"] and float(jane["score"]) == float(jane["raw_score"]) > 0


def expected_points_total(notebook):
    return sum(v for (n, _), v in expected_points().items() if n == notebook)


# ------------------------------------------------------------------ links and names


def test_links_are_skipped_reported_and_nothing_they_point_to_is_imported(course, folder, lms):
    for name in ("c02-folder-links-to-source", "c03-folder-links-to-c01"):
        assert not (course.root / "submitted" / name).exists()
        assert not (course.root / "feedback" / name).exists()
        assert f"{name}: a symbolic link" in folder.run.proc.stderr
    for student in ("c04-notebook-links", "c05-assignment-folder-link", "eve"):
        assert (course.root / "submitted" / student).is_dir(), student
        folder_ = course.root / "submitted" / student / ASSIGNMENT
        assert not [p for p in folder_.iterdir() if p.suffix in (".ipynb", ".npz")], student
    assert "a symbolic link in the zip" in lms.run.proc.stderr
    copied = course.root / "submitted" / "c10-source-copies" / ASSIGNMENT
    assert sorted(p.name for p in copied.iterdir()) == ["RNN_Captioning.ipynb"]  # no hard link


def test_odd_names_get_safe_ids_and_the_original_is_reported(course, folder, lms):
    for run, names in ((folder, ("Jane Doe", "Zoë Ångström.v2", ".dot.student")),
                       (lms, ("José Núñez",))):
        for name in names:
            sid = run.ids[name]
            assert sid != name and (course.root / "submitted" / sid).is_dir()
            assert f"{name!r} as {sid}" in run.run.proc.stderr
    assert (course.root / "submitted" / "victim" / ASSIGNMENT / "RNN_Captioning.ipynb").is_file()


def test_grade_exits_with_the_review_status_and_blames_the_submissions(folder, lms):
    for run in (folder.run, lms.run):
        assert run.proc.returncode == EXIT_REVIEW, run.log[-4000:]
        assert "a problem of the submission, not of the grader" in run.proc.stderr
        assert "Traceback" not in run.log


# ------------------------------------------------------------------ feedback


def test_no_feedback_shows_solutions_or_hidden_tests(graded, course):
    sensitive = instructor_only_text(sorted(course.source_dir(ASSIGNMENT).glob("*.ipynb")))
    graded_notebooks = {(p.parent.name, p.stem) for p in
                        (course.root / "grading" / "results").glob("*/*.json")
                        if json.loads(p.read_text())["status"] != "missing"}
    pages = {(p.parents[1].name, p.stem) for p in (course.root / "feedback").rglob("*.html")}
    assert graded_notebooks and pages == graded_notebooks
    problems = []
    for path in sorted((course.root / "feedback").rglob("*.html")):
        text = path.read_text(errors="replace")
        leaks = find_leaks(visible_text(text), sensitive) + \
            [m for m in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "rnn_grading_kernel") if m in text]
        if leaks:
            problems.append(f"{path.relative_to(course.root)}: {leaks[:3]}")
    assert not problems, "\n".join(problems)
    page = (course.root / "feedback" / "c08-outputs-and-markers" / ASSIGNMENT /
            "RNN_Captioning.html").read_text()
    assert "This cell is not shown" in page and "My notes" not in page


def test_invalid_outputs_left_a_note_in_the_executed_notebook(course, folder):
    executed = (course.root / "grading" / "executed" / "c08-outputs-and-markers" /
                "RNN_Captioning.ipynb").read_text()
    assert executed.count("[grader] An output of this cell was left out") >= 4
