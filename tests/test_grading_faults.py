"""Grading survives faults: real ``rnn-assignment grade`` processes, killed where it hurts.

* the coordinator SIGKILLed while nbgrader records a student (a test-only
  pause in the coordinator, ``autograder.grading.nbgrader_steps.PAUSE_ENV``, holds it
  exactly there): the next run records the student again from the stored
  results, without running a notebook;
* the only worker of a real Dask LocalCluster SIGKILLed mid-run: its job and
  the grading inputs are computed again, nothing is lost, and each worker's
  inputs folder is gone when the run ends;
* a job that cannot be run at all (the scheduler allowed no retry): the
  student is listed, flagged, with the reason, and the next run grades it;
* the same on a real scheduler and worker on loopback (the worker's nanny
  restarts it);
* a Dask worker running other grading code than the coordinator is refused.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.grading.coordinator import GradeOptions, grade
from autograder.grading.errors import GradingError
from autograder.grading.nbgrader_steps import PAUSE_ENV
from autograder.grading.recording import RECORDED_DIR
from autograder.release.course import COURSE_ID, Course, tools_env
from student_copies import CAPTIONING as NOTEBOOKS  # what the test course hands out
from student_copies import CAPTIONING_RELEASE, CAPTIONING_UNITS, write_submission

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "rnn_captioning"
FULL = {f"test_{u}": spec.points for u, spec in CAPTIONING_UNITS.items()}
# the same limits in every run, so that a rerun finds the stored results (part of their key)
LIMITS = ["--cell-timeout", "60", "--timeout", "300"]
WAIT_S = 1800  # generous: the machine running the tests may be loaded


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults") / "course"
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "release", "--course",
                           str(root), "--skip-checks", *CAPTIONING_RELEASE], env=tools_env(), capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Course(root)


def _submission(subs: Path, student: str) -> None:
    """A student who submits the solutions (every autograded point)."""
    write_submission(subs / student, NOTEBOOKS)


class Grading:
    """``rnn-assignment grade`` as a real process in its own session (so its workers can be
    cleaned up after a SIGKILL), with its own temporary folder."""

    def __init__(self, course, tmp: Path, *args, env=None):
        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp, self.out = tmp, tmp.parent / f"{tmp.name}.out"
        cmd = [sys.executable, "-m", "autograder.cli", "grade", "--course", str(course.root),
               "--no-progress", *LIMITS, *args]
        with open(self.out, "w") as out:
            self.proc = subprocess.Popen(cmd, env=tools_env(TMPDIR=str(tmp), **(env or {})),
                                         stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    @property
    def output(self) -> str:
        return self.out.read_text()

    def wait_for(self, ready, what) -> None:
        deadline = time.monotonic() + WAIT_S
        while not ready():
            assert self.proc.poll() is None, f"grade ended before {what}:\n{self.output}"
            assert time.monotonic() < deadline, f"no {what} after {WAIT_S} s:\n{self.output}"
            time.sleep(0.2)

    def finish(self) -> int:
        try:
            return self.proc.wait(timeout=WAIT_S)
        finally:
            self.kill_all()

    def kill_all(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def worker_pid(self) -> int:
        """The Dask worker process (a LocalCluster's workers are spawned by the coordinator)."""
        import psutil
        workers = [p for p in psutil.Process(self.proc.pid).children(recursive=True)
                   if "spawn_main" in " ".join(p.cmdline())]
        assert len(workers) == 1, [p.cmdline() for p in workers]
        return workers[0].pid


def _rows(path):
    import csv
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _scores(course):
    out = {}
    for row in _rows(course.root / "grades_by_test.csv"):
        out.setdefault(row["student_id"], {})[row["grade_id"]] = float(row["score"])
    return out


def _ran(output) -> tuple[int, int]:
    match = re.search(r"(\d+) notebook\(s\) run, (\d+) unchanged", output)
    assert match, output
    return int(match.group(1)), int(match.group(2))


def _auto_scores(course, student):
    """grade_id -> auto_score in the gradebook (None: nbgrader saved no score)."""
    from nbgrader.api import Gradebook
    with Gradebook(course.gradebook_url, COURSE_ID) as gb:
        return {g.name: g.auto_score for nb in gb.find_submission(ASSIGNMENT, student).notebooks
                for g in nb.grades if g.name.startswith("test_")}


@pytest.mark.slow
def test_a_coordinator_killed_while_recording_is_recorded_again_without_running(course,
                                                                                 tmp_path):
    subs = tmp_path / "subs"
    _submission(subs, "alice")
    paused = tmp_path / "recording"
    run = Grading(course, tmp_path / "first", str(subs), "--workers", "2",
                  env={PAUSE_ENV: str(paused)})
    run.wait_for(paused.exists, "recording")
    os.kill(run.proc.pid, signal.SIGKILL)  # the coordinator, inside nbgrader's autograde
    run.kill_all()
    assert paused.read_text() == "alice"
    # the fault as it was: the submission's cells are in the gradebook with no score yet,
    # no feedback, and no completion marker
    assert None in _auto_scores(course, "alice").values()
    assert not (course.root / "feedback" / "alice").exists()
    assert not (course.root / RECORDED_DIR / "alice.json").exists()
    executed = {p: p.stat().st_mtime_ns
                for p in (course.root / "grading" / "executed" / "alice").glob("*.ipynb")}
    assert len(executed) == 2  # both notebooks had run and were scored before the kill

    again = Grading(course, tmp_path / "again", "--student", "alice")  # from submitted/
    assert again.finish() == 0, again.output
    assert _ran(again.output) == (0, 2)
    assert {p: p.stat().st_mtime_ns for p in executed} == executed  # nothing executed again
    assert _auto_scores(course, "alice") == FULL
    grades = {r["student_id"]: r for r in _rows(course.root / "grades.csv")}
    assert float(grades["alice"]["raw_score"]) == sum(FULL.values())
    assert _scores(course)["alice"] == FULL
    for name in NOTEBOOKS:
        html = course.root / "feedback" / "alice" / ASSIGNMENT / name.replace(".ipynb", ".html")
        assert "points" in html.read_text()
    marker = json.loads((course.root / RECORDED_DIR / "alice.json").read_text())
    assert marker["feedback"] is True
    # recorded once and for all: a third run neither runs nor records anything
    third = Grading(course, tmp_path / "third", "--student", "alice")
    assert third.finish() == 0, third.output
    assert _ran(third.output) == (0, 2)
    assert json.loads((course.root / RECORDED_DIR / "alice.json").read_text()) == marker


@pytest.mark.slow
def test_killing_the_only_worker_loses_nothing_and_leaves_no_inputs_folder(course, tmp_path):
    subs = tmp_path / "subs"
    for student in ("bob", "carol"):
        _submission(subs, student)
    run = Grading(course, tmp_path / "run", str(subs), "--workers", "1")
    run.wait_for(lambda: any(run.tmp.rglob("rnn-grading-work-*")), "notebook running")
    inputs_while_running = list(run.tmp.rglob("rnn-grading-inputs-*"))
    os.kill(run.worker_pid(), signal.SIGKILL)  # the only worker, which holds the inputs
    assert run.finish() == 0, run.output
    assert _ran(run.output)[0] == 4
    assert "not graded" not in run.output and "earlier grade kept" not in run.output
    assert _scores(course)["bob"] == FULL and _scores(course)["carol"] == FULL
    grades = {r["student_id"]: r for r in _rows(course.root / "grades.csv")}
    assert float(grades["carol"]["raw_score"]) == sum(FULL.values())
    assert not [r for r in _rows(course.root / "review.csv") if r["student_id"] in ("bob",
                                                                                    "carol")]
    # each worker's grading-inputs folder existed while it worked and is gone now, and so
    # is the working folder of the job that was killed
    assert inputs_while_running
    assert not list(run.tmp.rglob("rnn-grading-inputs-*"))
    assert not list(run.tmp.rglob("rnn-grading-work-*"))


@pytest.mark.slow
def test_a_notebook_that_could_not_run_is_listed_flagged_and_graded_next_time(course,
                                                                              tmp_path):
    subs = tmp_path / "subs"
    _submission(subs, "dave")
    # the scheduler retries no task whose worker died: the job that was running fails
    run = Grading(course, tmp_path / "run", str(subs), "--workers", "1",
                  env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"})
    run.wait_for(lambda: any(run.tmp.rglob("rnn-grading-work-*")), "notebook running")
    os.kill(run.worker_pid(), signal.SIGKILL)
    assert run.finish() == 1, run.output
    assert "earlier grade kept" not in run.output  # dave has no earlier grade
    row = [line for line in run.output.splitlines() if line.startswith("dave ")]
    assert row and "not graded" in row[0], run.output
    review = [r for r in _rows(course.root / "review.csv") if r["student_id"] == "dave"]
    assert review and all("not graded" in r["reason"] and "KilledWorker" in r["reason"]
                          for r in review)
    grades = {r["student_id"]: r for r in _rows(course.root / "grades.csv")}
    assert "dave" in grades
    assert not (course.root / RECORDED_DIR / "dave.json").exists()

    again = Grading(course, tmp_path / "again", "--student", "dave")
    assert again.finish() == 0, again.output
    assert _ran(again.output) == (len(review), 2 - len(review))  # only what could not run
    assert _scores(course)["dave"] == FULL
    assert not [r for r in _rows(course.root / "review.csv") if r["student_id"] == "dave"]
    grades = {r["student_id"]: r for r in _rows(course.root / "grades.csv")}
    assert float(grades["dave"]["raw_score"]) == sum(FULL.values())


def test_a_worker_refuses_a_job_from_other_grading_code():
    from autograder.grading.worker import JOB_FORMAT, WorkerVersionError, execute_job
    job = {"format": JOB_FORMAT, "code": "0" * 64, "student": "s", "notebook": "n", "nb": {},
           "files": {}, "inputs_name": "x.npz"}
    with pytest.raises(WorkerVersionError, match="install the same version"):
        execute_job(job, b"", {})


class LoopbackCluster:
    """A real ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, in an empty folder."""

    def __init__(self, tmp: Path):
        self.tmp, self.procs = tmp, []
        self.cwd = tmp / "cwd"
        self.cwd.mkdir(parents=True)
        self.address_file = tmp / "scheduler.json"
        self._start([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host",
                     "127.0.0.1", "--port", "0", "--dashboard-address", ":0",
                     "--scheduler-file", str(self.address_file)])
        deadline = time.monotonic() + 120
        while not self.address_file.exists():
            assert time.monotonic() < deadline and self.procs[0].poll() is None
            time.sleep(0.2)
        self.address = json.loads(self.address_file.read_text())["address"]

    def _start(self, cmd, **env):
        self.procs.append(subprocess.Popen(cmd, cwd=self.cwd, env=tools_env(**env),
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                           start_new_session=True))
        return self.procs[-1]

    def add_worker(self, *args, **env):
        """A worker (under a nanny, which restarts it if it dies), once it has joined."""
        from dask.distributed import Client
        nanny = self._start([sys.executable, "-m", "distributed.cli.dask_worker",
                             "--scheduler-file", str(self.address_file), "--nthreads", "1",
                             "--no-dashboard", *args], **env)
        with Client(self.address, timeout="60s") as client:
            client.wait_for_workers(len(self.procs) - 1, timeout=120)
        return nanny

    def close(self):
        for proc in reversed(self.procs):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


@pytest.mark.slow
def test_a_worker_killed_on_a_loopback_cluster_loses_nothing(course, tmp_path):
    """Scheduler and worker as separate processes: the worker dies mid-job, its nanny restarts
    it, and the job and the grading inputs are computed again there."""
    import psutil
    cluster = LoopbackCluster(tmp_path / "cluster")
    try:
        worker_tmp = tmp_path / "worker-tmp"
        worker_tmp.mkdir()
        nanny = cluster.add_worker(TMPDIR=str(worker_tmp))
        subs = tmp_path / "subs"
        _submission(subs, "frank")
        run = Grading(course, tmp_path / "run", str(subs), "--scheduler", cluster.address)
        run.wait_for(lambda: any(worker_tmp.rglob("rnn-grading-work-*")), "notebook running")
        workers = [p for p in psutil.Process(nanny.pid).children()
                   if "spawn_main" in " ".join(p.cmdline())]
        assert len(workers) == 1
        os.kill(workers[0].pid, signal.SIGKILL)
        assert run.finish() == 0, run.output
        assert _ran(run.output)[0] == 2
        assert "not graded" not in run.output and "earlier grade kept" not in run.output
        assert _scores(course)["frank"] == FULL
    finally:
        cluster.close()


@pytest.mark.slow
def test_a_cluster_with_an_older_grading_kernel_is_refused(course, tmp_path):
    """A real scheduler and worker on loopback; the worker imports an older kernel module."""
    older = tmp_path / "older"
    shutil.copytree(REPO / "autograder", older / "autograder",
                    ignore=shutil.ignore_patterns("__pycache__"))
    kernel = older / "autograder" / "kernel" / "rnn_grading_kernel.py"
    kernel.write_text(kernel.read_text() + "\n# an older grading kernel\n")
    cluster = LoopbackCluster(tmp_path / "cluster")
    try:
        cluster.add_worker(PYTHONPATH=str(older))
        subs = tmp_path / "subs"
        _submission(subs, "erin")
        with pytest.raises(GradingError, match="other grading code than this coordinator"):
            grade(course.root, subs, GradeOptions(cell_timeout=60, total_timeout=300,
                                                  scheduler=cluster.address, progress=False))
        assert not (course.root / "grading" / "results" / "erin").exists()
    finally:
        cluster.close()


def test_a_sandboxed_kernel_reads_the_language_model_corpora():
    """The language-model notebook loads its text while it is graded: the worker hands the
    corpora to the sandbox, read-only."""
    import nbformat

    from autograder.grading.fingerprint import worker_code_version
    from autograder.grading.worker import JOB_FORMAT, execute_job
    cell = nbformat.v4.new_code_cell(
        "from assignment.char_data import CORPORA, load_corpus\n"
        "print('characters:', min(len(load_corpus(name)) for name in CORPORA))")
    nb = nbformat.v4.new_notebook(cells=[cell])
    job = {"format": JOB_FORMAT, "code": worker_code_version(), "student": "s", "notebook": "n",
           "nb": nb, "files": {},
           "inputs_name": "grading_inputs.npz"}
    result = execute_job(job, b"", {})
    executed = nbformat.reads(result["nb"], as_version=4)
    assert result["status"] == "ok", result["reason"]
    printed = "".join(o.get("text", "") for o in executed.cells[0].outputs)
    assert "characters:" in printed, executed.cells[0].outputs  # no FileNotFoundError
    assert int(printed.split("characters:")[1]) > 100_000
