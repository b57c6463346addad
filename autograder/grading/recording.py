"""Recording one student's scored results with nbgrader, all or nothing.

Instructor-only; called by ``autograder.grading.coordinator`` (step 5). nbgrader's own
``Autograde`` converter writes ``autograded/<student>/``, the gradebook rows
(SQLite or a database server) and, with ``GenerateFeedback``, ``feedback/``.
None of these writes is atomic, and a coordinator killed in the middle (out of
memory, a lost ssh session, SIGKILL) leaves a half-recorded student: cells
with no score, no feedback.

So a student counts as recorded only when a *completion marker* says so:
``grading/recorded/<student>.json``, holding the fingerprint of what was
recorded (the stored results of the student's notebooks and the gradebook's
URL). The marker is removed before nbgrader starts and written, atomically,
after the last step (scores, review flags, feedback) succeeded. A run that
finds no marker, or one with another fingerprint, records the student again
from the stored results in ``grading/results/`` (nbgrader runs with
``--force``, which replaces ``autograded/<student>/`` and every score of that
submission); no notebook is executed again.

A test kills the coordinator in the middle of recording through the hook in
``autograder.grading.nbgrader_steps`` (``PAUSE_ENV``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from pathlib import Path

from .gradebook_extras import flag_withheld, record_no_notebook
from .nbgrader_config import nbgrader_config, quiet_nbgrader
from .nbgrader_steps import hand_over
from .results import feedback_text

__all__ = ["RECORDED_DIR", "recording_fingerprint", "is_recorded", "gradebook_id",
           "record_student", "add_student"]

RECORDED_DIR = Path("grading") / "recorded"
# what a result holds that does not change what nbgrader records
_VOLATILE = {"graded_at", "seconds", "cell_seconds", "wall_seconds", "worker", "_nb"}


def _marker(course, student) -> Path:
    return course.root / RECORDED_DIR / f"{student}.json"


def recording_fingerprint(results: dict, gradebook: str) -> str:
    """What nbgrader records for one student: its results (less timings) and the gradebook."""
    digest = hashlib.sha256(gradebook.encode())
    for (_, notebook), result in sorted(results.items()):
        stable = {k: v for k, v in result.items() if k not in _VOLATILE}
        digest.update(json.dumps([notebook, stable], sort_keys=True, default=str).encode())
    return digest.hexdigest()


def is_recorded(course, student, fingerprint: str, feedback: bool) -> bool:
    """True when nbgrader finished recording exactly this (and the feedback, if wanted)."""
    try:
        marker = json.loads(_marker(course, student).read_text())
    except (OSError, ValueError):
        return False
    return marker.get("fingerprint") == fingerprint and (marker.get("feedback") or not feedback)


def gradebook_id(config) -> str:
    """The gradebook a configuration writes to (URL and course id)."""
    from nbgrader.coursedir import CourseDirectory
    coursedir = CourseDirectory(config=config)
    return f"{coursedir.db_url} course={coursedir.course_id}"


def record_student(course, assignment, student, results, feedback, fingerprint) -> str:
    """nbgrader autograde (+ feedback) of one student from its results; '' or the error.

    ``results``: (student, notebook) -> scored result with ``_nb`` (the restored
    notebook that ran). The completion marker is written only if every step
    succeeded.
    """
    marker = _marker(course, student)
    marker.unlink(missing_ok=True)
    pending = {}
    for (s, notebook), result in results.items():
        if s != student or result["status"] == "missing":
            continue
        scores = {}
        for i, test in enumerate(result["tests"]):
            scores[test["grade_id"]] = (test["score"], feedback_text(result, test, i == 0))
        pending[(student, notebook)] = {"nb": result["_nb"], "scores": scores}
    config = nbgrader_config(course, assignment)
    config.CourseDirectory.student_id = student
    hand_over(config, pending)
    with warnings.catch_warnings():
        # nbgrader 0.9 with SQLAlchemy 2 warns about its own session use; harmless
        warnings.simplefilter("ignore")
        if pending:
            error, withheld = _autograde_one(assignment, student, results, feedback, config)
            flag_withheld(course, assignment, student, withheld, results)
        else:  # nothing to run: zero (flagged as needed), so grades.csv lists them too
            error = record_no_notebook(course, assignment, student, results)
    if not error:
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_name(marker.name + ".tmp")
        tmp.write_text(json.dumps({"fingerprint": fingerprint, "feedback": bool(feedback),
                                   "recorded_at": time.time()}))
        os.replace(tmp, marker)
    return error


def add_student(config, student) -> str:
    """Make sure the gradebook knows the student (nbgrader's export then lists them)."""
    from nbgrader.api import Gradebook
    from nbgrader.coursedir import CourseDirectory
    try:
        coursedir = CourseDirectory(config=config)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
                gb.update_or_create_student(student)
    except Exception as err:
        return f"{type(err).__name__}: {err}"
    return ""


def _autograde_one(assignment, student, results, feedback, config) -> tuple[str, dict]:
    """nbgrader Autograde (+ GenerateFeedback); ('' or the error, what the feedback withheld)."""
    from nbgrader.api import Gradebook
    from nbgrader.converters import Autograde, GenerateFeedback
    from nbgrader.coursedir import CourseDirectory

    fb = None
    try:
        coursedir = CourseDirectory(config=config)
        app = Autograde(coursedir=coursedir, config=config)
        app.force = True  # replaces autograded/<student>/ and every score of the submission
        quiet_nbgrader(app)
        app.start()
        with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
            for (s, notebook), result in results.items():
                if s != student or result["status"] == "missing":
                    continue
                submission = gb.find_submission_notebook(notebook, assignment, student)
                submission.flagged = bool(result["flagged"])
            gb.db.commit()
        if feedback:
            fb = GenerateFeedback(coursedir=coursedir, config=config)
            fb.force = True
            quiet_nbgrader(fb)
            fb.start()
        error = ""
    except Exception as err:
        error = f"{type(err).__name__}: {err}"
    exporter = getattr(fb, "exporter", None)  # set by GenerateFeedback.start
    return error, getattr(exporter, "withheld", {})
