"""Grading the replay and strange-output submissions (tests/adversarial/replay_corpus.py) for real.

One `rnn-assignment release --skip-checks` and one `rnn-assignment grade` (two
workers, sandboxed kernels, nbgrader recording) over every student; each
autograded test cell must get exactly its expected score, and nothing is
flagged for review. ``test_replay_corpus_builds`` (fast) checks the corpus.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from adversarial.corpus import NOTEBOOKS, expected_points
from adversarial.replay_corpus import build_replay_corpus
from autograder.release.course import Course, tools_env
from student_copies import CAPTIONING_RELEASE

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "rnn_captioning"
CELL_TIMEOUT_S = 40  # as in test_adversarial.py: lstm_backward's cell on a busy 2-core machine
WORKERS = 2


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = Course(tmp_path_factory.mktemp("replay_adversarial") / "course")
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "release", "--course",
                           str(course.root), "--skip-checks", *CAPTIONING_RELEASE], cwd=REPO, env=tools_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return course


@pytest.fixture(scope="module")
def corpus(course):
    folder = course.root.parent / "submissions"
    expected = build_replay_corpus(course.source_dir(ASSIGNMENT), course.release_dir(ASSIGNMENT),
                                   folder)
    return folder, expected


def test_replay_corpus_builds(course, corpus):
    folder, expected = corpus
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)
    for student, want in expected.items():
        assert set(want.scores) == set(expected_points()), student
        assert 0 < want.total < sum(expected_points().values()), student
        sources = {n: "\n".join(c.source for c in nbformat.read(
            str(folder / student / f"{n}.ipynb"), as_version=4).cells) for n in NOTEBOOKS}
        for name, text in want.present:
            assert text in sources[name], (student, text)


@pytest.mark.slow
def test_every_replay_and_strange_output_submission_gets_exactly_its_score(course, corpus):
    folder, expected = corpus
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "grade", "--course", str(course.root),
         str(folder), "--workers", str(WORKERS), "--cell-timeout", str(CELL_TIMEOUT_S),
         "--no-progress"],
        cwd=REPO, env=tools_env(), capture_output=True, text=True, timeout=900)
    print(f"\ngrade of {len(expected)} submissions: {time.perf_counter() - start:.1f} s")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    with open(course.root / "grades_by_test.csv", newline="") as f:
        rows = {(r["student_id"], r["notebook"].removesuffix(".ipynb"), r["grade_id"]): r
                for r in csv.DictReader(f)}
    problems = []
    for student, want in expected.items():
        for (notebook, grade_id), score in want.scores.items():
            row = rows.get((student, notebook, grade_id))
            if row is None:
                problems.append(f"{student} {grade_id}: no row")
            elif abs(float(row["score"] or 0) - score) > 1e-9:
                problems.append(f"{student} {grade_id}: score {row['score']}, expected {score:g} "
                                f"({want.description}); message: {row['message'][:300]}")
    assert not problems, "\n".join(problems)
    with open(course.root / "review.csv", newline="") as f:
        flagged = [f"{r['student_id']} {r['notebook']}: {r['reason']}" for r in csv.DictReader(f)]
    assert not flagged, "\n".join(flagged)
