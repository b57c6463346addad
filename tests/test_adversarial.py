"""Grading adversarial submissions: crashes, bombs, tampering and cheats.

The corpus (tests/adversarial/corpus.py) is one student per way to break or
cheat the grader, each with the exact score of every autograded test cell.
``rnn-assignment grade`` runs ONCE over all of them (two workers, 20 s per
cell) in a course released with ``--skip-checks``; the tests then read what
it wrote: grades_by_test.csv (every score), review.csv (the flagged
notebooks), the feedback HTML (no hidden test code, nothing stolen) and the
grade files (no secret), and ask a listener on 127.0.0.1 whether any
submission reached it.

``test_corpus_builds`` (fast) checks the corpus itself without grading it.
"""

from __future__ import annotations

import csv
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from adversarial.corpus import BEGIN, NOTEBOOKS, build_corpus, expected_points
from autograder.release.course import Course, tools_env
from student_copies import CAPTIONING_RELEASE

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "rnn_captioning"
CELL_TIMEOUT_S = 40  # the heaviest test cell (lstm_backward) takes ~16 s on a busy 2-core machine
WORKERS = 2
# never in anything a student sees
HIDDEN_TEST_TEXT = ("rnn_grading_kernel", "BEGIN HIDDEN TESTS")


class Listener:
    """A TCP server on 127.0.0.1 (a free port) that records every connection it accepts."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = []  # (peer address, first bytes received)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(1.0)
                try:
                    data = conn.recv(1000)
                except OSError:
                    data = b""
            self.connections.append((peer, data))

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course released with `rnn-assignment release --skip-checks` (its own secret)."""
    course = Course(tmp_path_factory.mktemp("adversarial") / "course")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "release", "--course",
                           str(course.root), "--skip-checks", *CAPTIONING_RELEASE], cwd=REPO, env=tools_env(),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    print(f"\nrelease --skip-checks: {time.perf_counter() - start:.1f} s")
    return course


@pytest.fixture(scope="module")
def listener():
    server = Listener()
    yield server
    server.close()


@pytest.fixture(scope="module")
def corpus(course, listener):
    """(submissions folder, student id -> Expected)."""
    folder = course.root.parent / "submissions"
    expected = build_corpus(course.source_dir(ASSIGNMENT), course.release_dir(ASSIGNMENT), folder,
                            listener_port=listener.port)
    return SimpleNamespace(folder=folder, expected=expected)


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _notebook_name(value):
    return value[:-len(".ipynb")] if value.endswith(".ipynb") else value


@pytest.fixture(scope="module")
def graded(course, corpus, listener):
    """One `rnn-assignment grade` run over every submission; what it wrote."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "grade", "--course", str(course.root),
         str(corpus.folder), "--workers", str(WORKERS), "--cell-timeout", str(CELL_TIMEOUT_S),
         "--no-progress"],
        cwd=REPO, env=tools_env(), capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - start
    print(f"\nrnn-assignment grade of {len(corpus.expected)} submissions with {WORKERS} workers: "
          f"{seconds:.1f} s")
    if proc.returncode not in (0, 3):  # 3: all graded, some flagged for review (s04)
        pytest.fail(f"rnn-assignment grade failed (exit {proc.returncode}):\n"
                    f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    rows = _read_csv(course.root / "grades_by_test.csv")
    review = _read_csv(course.root / "review.csv")
    return SimpleNamespace(proc=proc, seconds=seconds, rows=rows, review=review,
                           log=proc.stdout + proc.stderr)


# ------------------------------------------------------------ the corpus itself


def _sources(nb) -> str:
    return "\n".join(cell.source for cell in nb.cells)


def _grade_ids(nb):
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]


def _load(folder, student, name):
    return nbformat.read(str(folder / student / f"{name}.ipynb"), as_version=4)


def test_corpus_builds(course, corpus, listener):
    """Valid notebooks, every autograded cell expected, each mutation really in its submission."""
    folder, expected = corpus.folder, corpus.expected
    release = {n: nbformat.read(str(course.release_dir(ASSIGNMENT) / f"{n}.ipynb"), as_version=4)
               for n in NOTEBOOKS}
    autograded = {(n, c.metadata["nbgrader"]["grade_id"]): float(c.metadata["nbgrader"]["points"])
                  for n, nb in release.items() for c in nb.cells
                  if c.metadata.get("nbgrader", {}).get("grade")
                  and not c.metadata["nbgrader"].get("solution")}
    assert autograded == expected_points()
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)
    assert len(expected) >= 10

    notebooks = {}
    for student, want in expected.items():
        assert want.description
        assert set(want.scores) == set(autograded), student
        assert all(0 <= want.scores[k] <= autograded[k] for k in autograded), student
        notebooks[student] = {n: _load(folder, student, n) for n in NOTEBOOKS}
        for nb in notebooks[student].values():
            nbformat.validate(nb)
        for name, text in want.present:
            assert text in _sources(notebooks[student][name]), (student, name, text)
        for name, nb in notebooks[student].items():
            text = _sources(nb)
            # students never have solution markers or hidden tests
            assert BEGIN not in text and not any(t in text for t in HIDDEN_TEST_TEXT), student

    # the untouched release is the release; the correct one has every solution filled in
    for name in NOTEBOOKS:
        assert notebooks["s00-untouched"][name] == release[name]
        for cell in notebooks["s01-correct"][name].cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                assert "NotImplementedError" not in cell.source, cell.metadata["nbgrader"]
                assert "YOUR CODE HERE" not in cell.source, cell.metadata["nbgrader"]
                assert "YOUR ANSWER HERE" not in cell.source, cell.metadata["nbgrader"]
    assert expected["s00-untouched"].total == 0
    assert expected["s01-correct"].total == sum(autograded.values())
    for student in expected:
        if student not in ("s00-untouched", "s01-correct"):
            assert notebooks[student] != notebooks["s01-correct"], student

    # the tampered test cells
    rnn = notebooks["s06-noisy-and-tampered"]["RNN_Captioning"]
    lstm = notebooks["s06-noisy-and-tampered"]["LSTM_Captioning"]
    ids = _grade_ids(rnn)
    assert "test_rnn_forward" not in ids
    assert ids.count("test_word_embedding_forward") == 2
    meta = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"] for c in rnn.cells
            if "nbgrader" in c.metadata}
    assert meta["test_captioning_loss"]["points"] == 1000
    assert not meta["test_captioning_sample"]["grade"]
    lstm_ids = _grade_ids(lstm)
    assert lstm_ids.index("test_lstm_forward") < lstm_ids.index("lstm_forward_solution")

    # what must not leak is known, and is nowhere in the submissions themselves
    secret = course.secret_path.read_text().strip()
    assert secret in expected["s08-snoops"].must_not_appear
    assert str(listener.port) in _sources(notebooks["s08-snoops"]["LSTM_Captioning"])
    for student, nbs in notebooks.items():
        for nb in nbs.values():
            text = json.dumps(nb)
            assert not any(t in text for t in expected["s08-snoops"]
                           .must_not_appear if t != BEGIN), student

    flagged = sorted(s for s, e in expected.items() if e.flagged)
    print("\n" + "\n".join(f"{s:32} {e.total:5g} {'flagged' if e.flagged else ''}"
                           for s, e in expected.items()))
    assert flagged == ["s04-kernel-killers"]


# ------------------------------------------------------------ grading them all


@pytest.mark.slow
def test_every_test_cell_gets_exactly_its_expected_score(graded, corpus):
    maximum = expected_points()
    got, problems = {}, []
    for row in graded.rows:
        key = (row["student_id"], _notebook_name(row["notebook"]), row["grade_id"])
        if key in got:
            problems.append(f"{key}: more than one row")
        got[key] = row
    for student, want in corpus.expected.items():
        for (notebook, grade_id), score in want.scores.items():
            row = got.pop((student, notebook, grade_id), None)
            if row is None:
                problems.append(f"{student} {grade_id}: no row")
                continue
            if abs(float(row["score"] or 0) - score) > 1e-9:
                problems.append(f"{student} {grade_id}: score {row['score']}, expected {score:g} "
                                f"({want.description}); message: {row['message'][:300]}")
            if abs(float(row["max_score"]) - maximum[(notebook, grade_id)]) > 1e-9:
                problems.append(f"{student} {grade_id}: max_score {row['max_score']}, expected "
                                f"{maximum[(notebook, grade_id)]:g}")
    problems += [f"{key}: unexpected row" for key in got]
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_exactly_the_notebooks_that_stopped_are_flagged_for_review(graded, corpus):
    flagged = {row["student_id"] for row in graded.review}
    expected = {s for s, e in corpus.expected.items() if e.flagged}
    assert flagged == expected, "\n".join(
        f"{row['student_id']} {row['notebook']}: {row['reason']}" for row in graded.review)


def _feedback_path(course, student, notebook):
    return course.root / "feedback" / student / ASSIGNMENT / f"{notebook}.html"


@pytest.mark.slow
def test_feedback_exists_and_shows_no_hidden_test_and_nothing_stolen(graded, course, corpus):
    secret = course.secret_path.read_text().strip()
    problems = []
    for student, want in corpus.expected.items():
        for notebook in NOTEBOOKS:
            path = _feedback_path(course, student, notebook)
            if not path.is_file():
                problems.append(f"{student}: no feedback {path}")
                continue
            text = path.read_text(errors="replace")
            for leak in HIDDEN_TEST_TEXT + want.must_not_appear + (secret,):
                if leak in text:
                    problems.append(f"{student} {notebook}: feedback contains {leak[:40]!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_grade_files_hold_no_secret_and_no_stolen_text(graded, course, corpus):
    stolen = corpus.expected["s08-snoops"].must_not_appear
    for name in ("grades.csv", "grades_by_test.csv", "review.csv"):
        text = (course.root / name).read_text(errors="replace")
        leaks = [t[:40] for t in stolen + HIDDEN_TEST_TEXT if t in text]
        assert not leaks, f"{name} contains {leaks}"


@pytest.mark.slow
def test_no_submission_reached_the_network(graded, listener):
    assert listener.connections == []

