"""``rnn-assignment grade``: every submission sandboxed, scored outside its kernel, into nbgrader.

Instructor-only. One call, in order (docs/grading-at-scale.md has the why):

1. **collect** (``autograder.grading.collect``): a folder
   ``<student_id>/<notebook>.ipynb`` (other files allowed) or an LMS zip
   (nbgrader's LMS naming) goes into the course's
   ``submitted/<student>/<assignment>/``: regular files only (no link is ever
   followed), ids from the LMS prefix, safe ids for odd names, timestamps for
   late penalties; what needs a look is noted per student;
2. **restore** (``autograder.grading.restore``, the jobs and their keys in
   ``autograder.grading.jobs``): each notebook gets back every cell the student
   may not change, from the instructor's source;
3. **run**: each restored notebook runs in a bubblewrap sandbox
   (``autograder.grading.sandbox.run_notebook``) on a Dask worker
   (``autograder.grading.dask_run``, ``autograder.grading.worker``): a local
   cluster of ``workers`` processes by default, or the cluster at
   ``scheduler``. Workers get only the notebook, the student's files and the
   grading inputs (hidden inputs, no expected values); in the kernel, the
   hidden tests only *collect* the student's outputs
   (``autograder/kernel/rnn_grading_kernel.py``);
4. **score** (``autograder.grading.results`` with ``autograder.grading.scoring``),
   here, outside every kernel, against the hidden references. A run that
   stopped (kernel died, cell or total time limit) keeps the points of the
   tests that ran; the rest get zero and the submission is flagged for review
   with the reason;
5. **record** (``autograder.grading.recording``) with nbgrader's own
   ``Autograde`` converter, one student at a time in this process (the only
   writer of the gradebook; SQLite by default, any SQLAlchemy URL through
   ``c.CourseDirectory.db_url`` in nbgrader_config.py), then
   ``generate_feedback`` (hidden tests removed) and the exports
   (``autograder.grading.export``): ``grades.csv`` (nbgrader's export),
   ``grades_by_test.csv`` and ``review.csv``.

Results are kept per notebook in ``grading/results/`` under a key made of
everything that decides them (the restored notebook, the student's files, the
hidden references, the grading inputs, the limits, the grading code and the
source notebooks: ``autograder.grading.jobs``); a run with the same key is not
repeated, so grading again is idempotent and cheap, and ``student`` regrades
one student. A result is replaced only by a newer *finished* run: when the
sandbox or a worker fails (not the student's code), the earlier grade stays and
the report says so; a notebook with no earlier grade is listed as not graded,
with zero points and the reason (table, grades_by_test.csv, review.csv; the
student is in grades.csv), and runs again on the next call. Recording is all or
nothing per student (``autograder.grading.recording``): a student half-recorded by a
killed coordinator is recorded again from the stored results, without running
any notebook again.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..release.course import ASSIGNMENT, Course, CourseError
from .collect import DEFAULT_ZIP_REGEXP, CollectError, collect
from .dask_run import run_jobs
from .errors import GradingError
from .export import export
from .jobs import build_jobs, grading_context, grading_inputs_file, read_json
from .limits import CELL_SECONDS, MEMORY_GB, TOTAL_SECONDS, Limits
from .nbgrader_config import nbgrader_config
from .recording import add_student, gradebook_id, is_recorded, record_student, \
    recording_fingerprint
from .restore import grade_id, is_test
from .results import (EXECUTED_DIR, load_result, missing_result, not_run_result, result_path,
                      score_run, write_atomic)

__all__ = ["GradeOptions", "GradeReport", "grade"]


@dataclass
class GradeOptions:
    """How ``grade`` runs; the command line's options (``rnn-assignment grade --help``)."""

    workers: int | None = None          # local Dask workers (default: dask_run.default_workers())
    scheduler: str | None = None        # address of a running Dask scheduler
    student: str | None = None          # regrade only this student
    cell_timeout: float = CELL_SECONDS  # seconds per cell
    total_timeout: float = TOTAL_SECONDS  # seconds per notebook
    memory_gb: float = MEMORY_GB        # address space per sandboxed process, GiB
    rerun: bool = False                 # run again even when a result with the same key exists
    feedback: bool = True
    progress: bool = True
    zip_regexp: str = DEFAULT_ZIP_REGEXP
    timestamps: str = "timestamp.txt"   # folders: timestamp.txt, "mtime" or "none" (collect.py)

    def limits(self) -> dict:
        """The sandbox's limits (``Limits`` keyword arguments); a bad value raises ValueError."""
        limits = {"cell_seconds": float(self.cell_timeout),
                  "total_seconds": float(self.total_timeout),
                  "memory_bytes": int(self.memory_gb * 2**30)}
        Limits(**limits)
        return limits


@dataclass
class GradeReport:
    """What one ``grade`` call did: every result, what ran, what was reused or kept, timings."""

    course: Path
    students: list
    results: dict = field(default_factory=dict)    # (student, notebook) -> result dict
    ran: int = 0                                   # notebooks run in this call
    reused: int = 0                                # notebooks whose earlier result was reused
    kept: dict = field(default_factory=dict)       # (student, notebook) -> why the earlier grade stayed
    not_graded: dict = field(default_factory=dict)  # (student, notebook) -> why it could not run
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)
    collected: object = None                       # collect.Collected (None: nothing imported)


def _collect(course, submissions, assignment, only_student, zip_regexp, timestamps):
    try:
        return collect(course, submissions, assignment, only_student=only_student,
                       zip_regexp=zip_regexp, timestamps=timestamps)
    except CollectError as err:
        raise GradingError(str(err)) from None


def submitted_students(course: Course, assignment=ASSIGNMENT) -> list:
    root = course.root / "submitted"
    return sorted(p.name for p in root.iterdir() if (p / assignment).is_dir()) \
        if root.is_dir() else []


HIDDEN_TEST_IMPORT = "from rnn_grading_kernel import grade_unit"


def _check_ready(course, assignment):
    if not course.release_dir(assignment).is_dir() or not course.references_path.is_file():
        raise GradingError(f"{course.root} has no released assignment {assignment!r}: run "
                           f"`rnn-assignment release --course {course.root}` first")
    from assignment.formats.check_file import FILE_VERSION, read_check_header
    try:
        version = read_check_header(course.references_path).get("version")
    except (OSError, ValueError) as err:
        raise GradingError(f"{course.references_path} cannot be read ({err})") from None
    if version != FILE_VERSION:
        raise GradingError(
            f"the hidden references {course.references_path} are of version {version}, this "
            f"grader needs version {FILE_VERSION}: the course was released by an older version. "
            f"Run `rnn-assignment release --course {course.root}` again (same secret, same "
            "hidden cases).")
    try:
        handed_out = course.notebooks(assignment)
    except CourseError as err:  # a release folder without its source notebooks
        raise GradingError(str(err)) from None
    for name in handed_out:
        source, _ = read_json(course.source_dir(assignment) / name)
        tests = [c for c in (source or {}).get("cells", []) if is_test(c)]
        stale = [grade_id(c) for c in tests if HIDDEN_TEST_IMPORT not in "".join(c["source"])]
        if not tests or stale:
            raise GradingError(
                f"the hidden tests of {course.source_dir(assignment) / name} are not the ones this "
                f"grader runs ({', '.join(stale[:3]) or 'no test cells'}): the course was "
                "released by an older version. Run `rnn-assignment release --course "
                f"{course.root}` again (same secret, same hidden cases).")


def grade(course_dir, submissions=None, options: GradeOptions | None = None,
          assignment=ASSIGNMENT) -> GradeReport:
    """Grade ``submissions`` (or every submission already in the course); see the module docstring."""
    options = options or GradeOptions()
    started = time.monotonic()
    course = Course(course_dir)
    _check_ready(course, assignment)
    try:
        limits = options.limits()
    except ValueError as err:
        raise GradingError(f"{err}: give a positive --cell-timeout, --timeout and --memory-gb "
                           "(GradeOptions.cell_timeout, total_timeout, memory_gb)") from None
    timings = {}

    def lap(name, t0):
        timings[name] = timings.get(name, 0.0) + time.monotonic() - t0

    t0 = time.monotonic()
    collected = None
    if submissions is not None:
        collected = _collect(course, submissions, assignment, options.student,
                             options.zip_regexp, options.timestamps)
        students = collected.students
    else:
        students = [s for s in submitted_students(course, assignment)
                    if not options.student or s == options.student]
        if not students:
            raise GradingError(f"no submissions in {course.root / 'submitted'}"
                               + (f" for {options.student!r}" if options.student else ""))
    if not options.scheduler:
        from .sandbox.check import check_sandbox
        from .sandbox.host import SandboxError
        try:
            check_sandbox()
        except SandboxError as err:
            raise GradingError(str(err)) from None
    inputs = grading_inputs_file(course)
    context = grading_context(course, inputs, limits)
    jobs, missing = build_jobs(course, assignment, students, context)
    lap("collect", t0)

    report = GradeReport(course.root, students, collected=collected)
    gradebook = gradebook_id(nbgrader_config(course, assignment))
    todo, waiting = [], {student: 0 for student in students}
    for job in jobs:
        earlier = load_result(course, job.student, job.notebook)
        if earlier is not None and earlier["key"] == job.key and not options.rerun:
            earlier["_nb"] = job.nb
            report.results[(job.student, job.notebook)] = earlier
            report.reused += 1
        else:
            todo.append(job)
            waiting[job.student] += 1
    for (student, notebook), (why, problems) in missing.items():
        result = missing_result(student, notebook, why, problems)
        write_atomic(result_path(course, student, notebook), json.dumps(result, indent=1))
        report.results[(student, notebook)] = result

    def record(student):
        t0 = time.monotonic()
        mine = {k: v for k, v in report.results.items() if k[0] == student}
        if any(v.get("_nb") is None and v["status"] != "missing" for v in mine.values()):
            # a notebook that could not run now: nbgrader keeps what it holds (an earlier
            # grade), and knows the student, so grades.csv lists them even with no grade
            add_student(nbgrader_config(course, assignment), student)
            return
        fingerprint = recording_fingerprint(mine, gradebook)
        if not options.rerun and is_recorded(course, student, fingerprint, options.feedback):
            return  # nbgrader recorded exactly this, to the end
        error = record_student(course, assignment, student, mine, options.feedback, fingerprint)
        if error:
            for key in mine:
                report.kept[key] = f"nbgrader could not record it: {error}"
        lap("nbgrader", t0)

    def finished(job, run):
        t0 = time.monotonic()
        key = (job.student, job.notebook)
        if isinstance(run, Exception) or run is None:
            why = f"{type(run).__name__}: {run}" if run is not None else "no result came back"
            earlier = load_result(course, job.student, job.notebook)
            if earlier is None or earlier["status"] == "not_run":
                earlier = not_run_result(job, why)
                write_atomic(result_path(course, *key), json.dumps(earlier, indent=1))
                report.not_graded[key] = why
            else:
                report.kept[key] = why
            earlier["_nb"] = None
            report.results[key] = earlier
        else:
            # set-up problems are ruled out before the run (_check_ready, the grading
            # inputs' fingerprint, check_sandbox): whatever happens in the kernel
            # is the notebook's, and is graded
            result = score_run(job, run, course.references_path)
            write_atomic(result_path(course, *key), json.dumps(result, indent=1))
            write_atomic(course.root / EXECUTED_DIR / job.student / f"{job.notebook}.ipynb",
                          run["nb"])
            result["_nb"] = job.nb
            report.results[key] = result
            report.ran += 1
        lap("score", t0)
        waiting[job.student] -= 1
        if waiting[job.student] == 0:
            record(job.student)  # while the workers go on with the others

    for student in students:
        if waiting[student] == 0:
            record(student)
    t0 = time.monotonic()
    run_jobs(todo, inputs, options, finished)
    timings["run (incl. scoring, nbgrader)"] = time.monotonic() - t0
    t0 = time.monotonic()
    export(course, assignment)
    lap("export", t0)
    for result in report.results.values():
        result.pop("_nb", None)
    report.seconds = time.monotonic() - started
    report.timings = timings
    return report
