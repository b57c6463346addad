"""``rnn-assignment grade``: every submission sandboxed, scored outside its kernel, into nbgrader.

Instructor-only. One call, in order (docs/grading-at-scale.md has the why):

1. **collect** (``autograder.collect``): a folder ``<student_id>/<notebook>.ipynb``
   (other files allowed) or an LMS zip (nbgrader's LMS naming) goes into the
   course's ``submitted/<student>/<assignment>/``: regular files only (no link
   is ever followed), ids from the LMS prefix, safe ids for odd names,
   timestamps for late penalties; what needs a look is noted per student;
2. **restore** (``autograder.restore``): each notebook gets back every cell the
   student may not change, from the instructor's source;
3. **run**: each restored notebook runs in a bubblewrap sandbox
   (``autograder.sandbox``) on a Dask worker: a local cluster of ``workers``
   processes by default, or the cluster at ``scheduler``. Workers get only the
   notebook, the student's files and the grading inputs (hidden inputs, no
   expected values); in the kernel, the hidden tests only *collect* the
   student's outputs (``autograder/kernel/rnn_grading_kernel.py``);
4. **score** (``autograder.scoring``), here, outside every kernel, against the
   hidden references. A run that stopped (kernel died, cell or total time
   limit) keeps the points of the tests that ran; the rest get zero and the
   submission is flagged for review with the reason;
5. **record** with nbgrader's own ``Autograde`` converter, one student at a time
   in this process (the only writer of the gradebook; SQLite by default, any
   SQLAlchemy URL through ``c.CourseDirectory.db_url`` in nbgrader_config.py),
   then ``generate_feedback`` (hidden tests removed) and the exports:
   ``grades.csv`` (nbgrader's export), ``grades_by_test.csv`` and ``review.csv``.

Results are kept per notebook in ``grading/results/`` under a key made of
everything that decides them (the restored notebook, the student's files, the
grading inputs, the limits, the grader's code); a run with the same key is not
repeated, so grading again is idempotent and cheap, and ``student`` regrades
one student. A result is replaced only by a newer *finished* run: when the
sandbox or a worker fails (not the student's code), the earlier grade stays and
the report says so; a notebook with no earlier grade is listed as not graded,
with zero points and the reason (table, grades_by_test.csv, review.csv; the
student is in grades.csv), and runs again on the next call. Recording is all or
nothing per student (``autograder.recording``): a student half-recorded by a
killed coordinator is recorded again from the stored results, without running
any notebook again.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import shutil
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .course import ASSIGNMENT, NOTEBOOKS, Course
from .grading_worker import (JOB_FORMAT, KERNEL_MODULE_DIR, MAX_STUDENT_FILE_BYTES,
                             STUDENT_FILE_TYPES, code_version, execute_job, grading_inputs)
from .collect import DEFAULT_ZIP_REGEXP, CollectError, collect
from .collect import notes as collect_notes
from .gradebook_extras import flag_withheld
from .recording import add_student, gradebook_id, is_recorded, record_student, \
    recording_fingerprint
from .restore import grade_id, is_test, read_submitted, restore_notebook
from .submitted_files import course_files, read_submitted_folder

__all__ = ["GradeOptions", "GradeReport", "GradingError", "grade", "import_submissions", "export",
           "generate_feedback", "grade_table", "nbgrader_config",
           "DEFAULT_ZIP_REGEXP", "RESULTS_DIR"]

RESULTS_DIR = Path("grading") / "results"
EXECUTED_DIR = Path("grading") / "executed"
INPUTS_NAME = "grading_inputs.npz"
RESULT_FORMAT = 1
STOPPED = {"cell_timeout": "a cell ran past the time limit",
           "total_timeout": "the notebook ran past the total time limit",
           "kernel_died": "the kernel died",
           "startup_failed": "the kernel could not start"}

log = logging.getLogger("rnn_assignment.grading")


class GradingError(RuntimeError):
    """Grading cannot start (course not released, bad submissions folder, no sandbox)."""


@dataclass
class GradeOptions:
    workers: int | None = None          # local Dask workers (default: the number of cores)
    scheduler: str | None = None        # address of a running Dask scheduler
    student: str | None = None          # regrade only this student
    cell_timeout: float = 120.0         # seconds per cell
    total_timeout: float = 900.0        # seconds per notebook
    memory_gb: float = 3.0              # address space per sandboxed process
    rerun: bool = False                 # run again even when a result with the same key exists
    feedback: bool = True
    progress: bool = True
    zip_regexp: str = DEFAULT_ZIP_REGEXP
    timestamps: str = "timestamp.txt"   # folders: timestamp.txt, "mtime" or "none" (collect.py)

    def limits(self) -> dict:
        return {"cell_seconds": float(self.cell_timeout), "total_seconds": float(self.total_timeout),
                "memory_bytes": int(self.memory_gb * 2**30)}


@dataclass
class GradeReport:
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


# ------------------------------------------------------------------ 1. collect
# (autograder/collect.py: regular files only, ids from the LMS prefix, safe ids, timestamps)


def import_submissions(course: Course, submissions, assignment=ASSIGNMENT, *,
                       only_student=None, zip_regexp=DEFAULT_ZIP_REGEXP,
                       timestamps="timestamp.txt") -> list:
    """Put the submissions into ``submitted/``; return the student ids (sorted)."""
    return _collect(course, submissions, assignment, only_student, zip_regexp,
                    timestamps).students


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


# -------------------------------------------------------------- 2. restore, jobs


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8")), ""
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        return None, f"{path.name} could not be read as a notebook ({type(err).__name__})"


def _student_files(read: dict) -> dict:
    """The files of a submission that go into its sandbox (types and total size limited)."""
    files, total = {}, 0
    for name in sorted(read):
        if Path(name).suffix.lower() in STUDENT_FILE_TYPES:
            size = len(read[name])
            if total + size <= MAX_STUDENT_FILE_BYTES:
                files[name] = read[name]
                total += size
    return files


def _code_version() -> str:
    """The grader's code that decides results (a change reruns everything)."""
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted([KERNEL_MODULE_DIR / "rnn_grading_kernel.py", here / "sandbox.py",
                        here / "scoring.py", here / "restore.py", here / "grading_worker.py",
                        here / "sandbox_outputs.py",
                        here / "answer_key" / "grading_inputs.py"]):
        if path.exists():
            digest.update(path.read_bytes())
    import assignment
    support = Path(assignment.__file__).resolve().parent
    for path in sorted([*(support / "checks").glob("*.py"), *(support / "formats").glob("*.py")]):
        digest.update(path.read_bytes())
    digest.update((support / "units.py").read_bytes())
    return digest.hexdigest()


def _key(*parts) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else json.dumps(part, sort_keys=True,
                                                                      default=str).encode())
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass
class _Job:
    student: str
    notebook: str               # without .ipynb
    nb: dict                    # restored
    files: dict
    changes: list
    unreadable: str             # why the submission needs review ("" if it does not)
    key: str = ""


def _jobs(course, assignment, students, inputs_digest, options) -> tuple[list, dict]:
    """Restored notebooks to run, and the results of notebooks not submitted."""
    jobs, missing = [], {}
    version = _code_version()
    forbidden = course_files(course.root)
    for student in students:
        folder = course.root / "submitted" / student / assignment
        read, unsafe = read_submitted_folder(course.root / "submitted", student, assignment,
                                             forbidden)
        files = _student_files(read)
        problems = list(collect_notes(course, student).get("problems", [])) + unsafe
        for name in NOTEBOOKS:
            notebook = name[:-len(".ipynb")]
            source, _ = _read_json(course.source_dir(assignment) / name)
            release, _ = _read_json(course.release_dir(assignment) / name)
            if source is None or release is None:
                raise GradingError(f"{name} is missing in {course.source_dir(assignment)} or "
                                   f"{course.release_dir(assignment)}: run `rnn-assignment "
                                   "release` first")
            path = folder / name
            mine = [p for p in problems if name in p or not any(
                other in p for other in NOTEBOOKS if other != name)]
            if name not in read:
                others = sorted(n for n in read if n.endswith(".ipynb") and n not in NOTEBOOKS)
                missing[(student, notebook)] = (
                    f"{name} was not submitted" + (f" (found {', '.join(others)}: the notebook "
                                                   "must keep its name)" if others else ""),
                    mine)
                continue
            submitted, unreadable = read_submitted(path, read[name])
            restored = restore_notebook(source, release, submitted)
            review = "; ".join(p for p in [unreadable, *restored.review, *mine] if p)
            job = _Job(student, notebook, restored.nb, files, restored.changes, review)
            job.key = _key(JOB_FORMAT, RESULT_FORMAT, version, inputs_digest, options.limits(),
                           review,
                           restored.nb, sorted((k, hashlib.sha256(v).hexdigest())
                                               for k, v in files.items()))
            jobs.append(job)
    return jobs, missing


def _grading_inputs(course: Course) -> bytes:
    """The grading-inputs file (hidden inputs, replay tables; no expected values), cached."""
    from .answer_key.grading_inputs import build_grading_inputs
    refs = course.references_path
    if not refs.is_file():
        raise GradingError(f"{refs} is missing: run `rnn-assignment release --course "
                           f"{course.root}` first")
    path = refs.with_name(INPUTS_NAME)
    stamp = path.with_suffix(".source")
    ref_digest = hashlib.sha256(refs.read_bytes()).hexdigest() + _code_version()
    if not path.is_file() or not stamp.is_file() or stamp.read_text() != ref_digest:
        built = Path(build_grading_inputs(refs, path))
        if built != path:
            shutil.copyfile(built, path)
        stamp.write_text(ref_digest)
    return path.read_bytes()


# ----------------------------------------------------------------------- 3. run


def _progress(total, enabled):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, desc="grading", unit="notebook", file=sys.stderr)


def _run_jobs(jobs, inputs: bytes, options, on_result) -> None:
    """Run the jobs on Dask workers; ``on_result(job, result)`` as each one ends, here.

    ``result`` is the worker's dict, or an Exception when the worker or the
    sandbox failed (not the student's code).
    """
    if not jobs:
        return
    from dask.distributed import Client, LocalCluster, as_completed

    version = code_version()

    cluster = None
    if options.scheduler:
        client = Client(options.scheduler, timeout="30s")
    else:
        workers = options.workers or os.cpu_count() or 1
        cluster = LocalCluster(n_workers=min(workers, len(jobs)), threads_per_worker=1,
                               processes=True, memory_limit=0, dashboard_address=":0",
                               silence_logs=logging.ERROR)
        client = Client(cluster)
    bar = _progress(len(jobs), options.progress)
    try:
        _check_workers(client, version)
        # a task, not scattered data: if every worker holding it dies, Dask computes it again
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Ll]arge object")
            shared = client.submit(grading_inputs, inputs, pure=False,
                                   key=f"grading-inputs-{hashlib.sha256(inputs).hexdigest()[:16]}")
        futures = {}
        for job in jobs:
            payload = {"format": JOB_FORMAT, "code": version, "student": job.student,
                       "notebook": job.notebook, "nb": job.nb, "files": job.files,
                       "inputs_name": INPUTS_NAME}
            future = client.submit(execute_job, payload, shared, options.limits(), pure=False,
                                   key=f"grade-{job.student}-{job.notebook}-{job.key[:12]}")
            futures[future] = job
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as err:  # the worker or the sandbox failed, not the student
                result = err
            on_result(futures[future], result)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        client.close()
        if cluster is not None:
            cluster.close()


def _check_workers(client, version) -> None:
    """Refuse a cluster whose workers run other grading code than this coordinator."""
    answers = client.run(code_version, on_error="return")
    wrong = {address: answer for address, answer in answers.items() if answer != version}
    if wrong:
        lines = [f"{address}: " + (f"grading code {answer[:12]}" if isinstance(answer, str) else
                                   f"cannot tell its version ({type(answer).__name__})")
                 for address, answer in sorted(wrong.items())]
        raise GradingError(
            f"{len(wrong)} of {len(answers)} Dask worker(s) run other grading code than this "
            f"coordinator ({version[:12]}):\n  " + "\n  ".join(lines) + "\nInstall the same "
            "version of rnn-captioning-assignment on every grading machine, restart their "
            "workers, and grade again (nothing was graded by them).")


# --------------------------------------------------------------------- 4. score


def _clean_reason(text) -> str:
    """The sandbox's reason on one line, without Jupyter's connection-file chatter."""
    lines = [line.strip() for line in str(text or "").splitlines()
             if line.strip() and "--existing" not in line and "connect another client" not in line]
    return " / ".join(lines)[:300]


def _score(job: _Job, run: dict, references) -> dict:
    """The result of one notebook: per test, the score and the feedback (no hidden values)."""
    import nbformat

    from .scoring import score_unit

    executed = nbformat.reads(run["nb"], as_version=4)
    status = run["status"]
    stop = run.get("cell_index")
    reason = STOPPED.get(status, "")
    if reason and _clean_reason(run.get("reason")):
        reason = f"{reason}: {_clean_reason(run['reason'])}"
    tests = []
    for index, cell in enumerate(executed.cells):
        if not is_test(cell):
            continue
        gid = grade_id(cell)
        unit = gid[len("test_"):]
        not_run = None
        if status != "ok" and stop is not None and index >= stop:
            not_run = f"not graded because {reason}" if index > stop else \
                f"not graded: {reason} in this cell"
        score = score_unit(unit, [dict(o) for o in cell.get("outputs", [])], references,
                           not_run_reason=not_run)
        tests.append({"grade_id": gid, "unit": unit, "score": float(score.score),
                      "max_score": float(score.total), "lines": list(score.lines),
                      "outputs": [asdict(o) for o in score.outputs]})
    flagged = status != "ok" or bool(job.unreadable)
    review = "; ".join(r for r in (reason, job.unreadable) if r)
    return {"format": RESULT_FORMAT, "key": job.key, "student": job.student,
            "notebook": job.notebook, "status": status, "reason": review, "flagged": flagged,
            "changes": job.changes, "tests": tests, "seconds": run.get("seconds"),
            "cell_seconds": run.get("cell_seconds"),
            "worker": run.get("worker"), "graded_at": time.time()}


def _missing_result(course, assignment, student, notebook, why, problems=()) -> dict:
    """Zero for a notebook not submitted; flagged when collecting noted a problem."""
    from assignment.units import notebook_units
    tests = [{"grade_id": f"test_{unit}", "unit": unit, "score": 0.0, "max_score": spec.points,
              "lines": [f"{unit}: 0 / {spec.points:g} points ({why})"], "outputs": []}
             for unit, spec in notebook_units(notebook).items()]
    return {"format": RESULT_FORMAT, "key": "", "student": student, "notebook": notebook,
            "status": "missing", "reason": "; ".join([why, *problems]),
            "flagged": bool(problems), "changes": [], "tests": tests,
            "seconds": 0.0, "worker": None, "graded_at": time.time()}


def _not_run_result(course, assignment, job, why) -> dict:
    """A notebook that could not run (worker or sandbox failure) and has no earlier grade."""
    result = _missing_result(course, assignment, job.student, job.notebook, "")
    reason = f"not graded: the grader failed, not the notebook ({_clean_reason(why)})"
    for test in result["tests"]:
        test["lines"] = [f"{test['unit']}: 0 / {test['max_score']:g} points, not graded yet "
                         "(the grading machine failed, not your code; it will be graded again)"]
    result.update(status="not_run", reason=reason, flagged=True)
    return result


def _result_path(course, student, notebook) -> Path:
    return course.root / RESULTS_DIR / student / f"{notebook}.json"


def _load_result(course, student, notebook):
    path = _result_path(course, student, notebook)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if data.get("format") == RESULT_FORMAT else None


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# -------------------------------------------------------------- 5. record (nbgrader)


def _feedback_text(result: dict, test: dict, first: bool) -> str:
    lines = list(test["lines"])
    if first and result["changes"]:
        lines.append("note: cells you may not change were put back as released before grading "
                     f"({len(result['changes'])} change(s)); your answers were kept.")
    if first and result["status"] not in ("ok", "missing"):
        lines.append(f"note: this notebook's run stopped ({result['reason']}); tests after that "
                     "point got no points and the course staff will look at it.")
    return "\n".join(lines)


def nbgrader_config(course: Course, assignment=ASSIGNMENT, **extra):
    """The course's nbgrader configuration (nbgrader_config.py), plus our steps."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearHiddenTests,
                                        GetGrades, IgnorePattern, LimitOutput, SaveAutoGrades)
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    from .feedback_guard import GuardedFeedbackExporter
    from .nbgrader_steps import ApplyScores, RestoredNotebookExporter, UseRestoredNotebook

    config = Config()
    if course.config_path.is_file():
        config.merge(PyFileConfigLoader(course.config_path.name,
                                        path=str(course.root)).load_config())
    config.CourseDirectory.root = str(course.root)
    config.CourseDirectory.assignment_id = assignment
    config.Autograde.sanitize_preprocessors = [UseRestoredNotebook]
    config.Autograde.autograde_preprocessors = [ApplyScores, IgnorePattern,
                                                ClearMetadataPreprocessor, LimitOutput,
                                                SaveAutoGrades, AssignLatePenalties,
                                                CheckCellMetadata]
    config.Autograde.create_student = True
    config.Autograde.exporter_class = RestoredNotebookExporter  # never the student's raw file
    config.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests,
                                             CSSHTMLHeaderPreprocessor]
    config.GenerateFeedback.exporter_class = GuardedFeedbackExporter  # no instructor-only text
    for key, value in extra.items():
        section, name = key.split(".")
        setattr(getattr(config, section), name, value)
    return config


def _quiet_nbgrader(app) -> None:
    app.log.setLevel(logging.ERROR)


# ------------------------------------------------------------------- 6. exports


def _all_results(course) -> list:
    out = []
    root = course.root / RESULTS_DIR
    for path in sorted(root.glob("*/*.json")) if root.is_dir() else []:
        data = _load_result(course, path.parent.name, path.stem)
        if data is not None:
            out.append(data)
    return out


def _sort_rows(path: Path, columns) -> None:
    """Sort a CSV file's rows by ``columns`` (nbgrader's export follows the database's order,
    which differs between SQLite and PostgreSQL; one course gives one file on either)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    header, body = rows[0], rows[1:]
    at = [header.index(c) for c in columns if c in header]
    body.sort(key=lambda row: [row[i] if i < len(row) else "" for i in at])
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *body])
    _write_atomic(path, buf.getvalue())


def export(course, assignment=ASSIGNMENT) -> dict:
    """grades.csv (nbgrader's CSV export), grades_by_test.csv and review.csv; their paths."""
    from nbgrader.api import Gradebook
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.plugins import CsvExportPlugin

    config = nbgrader_config(course, assignment)
    coursedir = CourseDirectory(config=config)
    grades = course.root / "grades.csv"
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        plugin = CsvExportPlugin(config=config)
        plugin.to = str(grades)
        plugin.export(gb)
    _sort_rows(grades, ("assignment", "student_id"))

    by_test = course.root / "grades_by_test.csv"
    review = course.root / "review.csv"
    results = _all_results(course)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["student_id", "notebook", "grade_id", "score", "max_score", "message"])
    for result in results:
        for test in result["tests"]:
            wrong = [o["message"] for o in test["outputs"] if o["earned"] < o["points"]]
            message = "right" if test["score"] >= test["max_score"] and not wrong else \
                "; ".join(dict.fromkeys(wrong)) or (test["lines"][-1] if test["lines"] else "")
            writer.writerow([result["student"], result["notebook"], test["grade_id"],
                             f"{test['score']:g}", f"{test['max_score']:g}", message])
    _write_atomic(by_test, buf.getvalue())
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["student_id", "notebook", "reason"])
    for result in results:
        if result["flagged"]:
            writer.writerow([result["student"], result["notebook"], result["reason"]])
    _write_atomic(review, buf.getvalue())
    return {"grades": grades, "grades_by_test": by_test, "review": review}


def generate_feedback(course, assignment=ASSIGNMENT, student=None) -> list:
    """nbgrader generate_feedback (hidden tests removed) for the graded students; their ids."""
    from nbgrader.converters import GenerateFeedback
    from nbgrader.coursedir import CourseDirectory

    root = course.root / "autograded"
    students = sorted(p.name for p in root.iterdir() if (p / assignment).is_dir()) \
        if root.is_dir() else []
    students = [s for s in students if student is None or s == student]
    if not students:
        raise GradingError(f"nothing graded in {root}" + (f" for {student!r}" if student else "")
                           + ": run `rnn-assignment grade` first")
    for sid in students:
        config = nbgrader_config(course, assignment)
        config.CourseDirectory.student_id = sid
        app = GenerateFeedback(coursedir=CourseDirectory(config=config), config=config)
        app.force = True
        _quiet_nbgrader(app)
        app.start()
        flag_withheld(course, assignment, sid)
    return students


# ---------------------------------------------------------------------- grade


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
    for name in NOTEBOOKS:
        source, _ = _read_json(course.source_dir(assignment) / name)
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
        from .sandbox import SandboxError, check_sandbox
        try:
            check_sandbox()
        except SandboxError as err:
            raise GradingError(str(err)) from None
    inputs = _grading_inputs(course)
    jobs, missing = _jobs(course, assignment, students, hashlib.sha256(inputs).hexdigest(),
                          options)
    lap("collect", t0)

    report = GradeReport(course.root, students, collected=collected)
    gradebook = gradebook_id(nbgrader_config(course, assignment))
    todo, waiting = [], {student: 0 for student in students}
    for job in jobs:
        earlier = _load_result(course, job.student, job.notebook)
        if earlier is not None and earlier["key"] == job.key and not options.rerun:
            earlier["_nb"] = job.nb
            report.results[(job.student, job.notebook)] = earlier
            report.reused += 1
        else:
            todo.append(job)
            waiting[job.student] += 1
    for (student, notebook), (why, problems) in missing.items():
        result = _missing_result(course, assignment, student, notebook, why, problems)
        _write_atomic(_result_path(course, student, notebook), json.dumps(result, indent=1))
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
            earlier = _load_result(course, job.student, job.notebook)
            if earlier is None or earlier["status"] == "not_run":
                earlier = _not_run_result(course, assignment, job, why)
                _write_atomic(_result_path(course, *key), json.dumps(earlier, indent=1))
                report.not_graded[key] = why
            else:
                report.kept[key] = why
            earlier["_nb"] = None
            report.results[key] = earlier
        else:
            # set-up problems are ruled out before the run (_check_ready, the grading
            # inputs' fingerprint, check_sandbox): whatever happens in the kernel
            # is the notebook's, and is graded
            result = _score(job, run, course.references_path)
            _write_atomic(_result_path(course, *key), json.dumps(result, indent=1))
            _write_atomic(course.root / EXECUTED_DIR / job.student / f"{job.notebook}.ipynb",
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
    _run_jobs(todo, inputs, options, finished)
    timings["run (incl. scoring, nbgrader)"] = time.monotonic() - t0
    t0 = time.monotonic()
    export(course, assignment)
    lap("export", t0)
    for result in report.results.values():
        result.pop("_nb", None)
    report.seconds = time.monotonic() - started
    report.timings = timings
    return report


def grade_table(report: GradeReport) -> str:
    """The grade table printed by ``rnn-assignment grade``."""
    lines = []
    students = sorted({s for s, _ in report.results})
    notebooks = [n[:-len(".ipynb")] for n in NOTEBOOKS]
    width = max([len(s) for s in students] + [len("student")])
    head = f"{'student':<{width}}  " + "  ".join(f"{n:>16}" for n in notebooks) + \
        f"  {'total':>9}  review"
    lines += [head, "-" * len(head)]
    for student in students:
        cells, total, most, flags = [], 0.0, 0.0, []
        for notebook in notebooks:
            result = report.results.get((student, notebook))
            if result is None:
                cells.append(f"{'-':>16}")
                continue
            score = sum(t["score"] for t in result["tests"])
            out_of = sum(t["max_score"] for t in result["tests"])
            total, most = total + score, most + out_of
            cells.append(f"{score:>9g} / {out_of:<4g}")
            if result["flagged"]:
                flags.append(f"{notebook}: {result['reason']}")
            if (student, notebook) in report.kept:
                flags.append(f"{notebook}: earlier grade kept ({report.kept[(student, notebook)]})")
        lines.append(f"{student:<{width}}  " + "  ".join(cells) +
                     f"  {total:>4g} / {most:<3g}  " + "; ".join(flags))
    lines.append(f"{len(students)} student(s); {report.ran} notebook(s) run, {report.reused} "
                 f"unchanged since the last run; {report.seconds:.1f} s")
    return "\n".join(lines)
