"""Two gradebook steps of recording that nbgrader's Autograde does not do for us.

Instructor-only, called by ``autograder.grading.recording`` while it records a student:

* ``record_no_notebook``: a student with no notebook to run (all missing, links
  skipped, ...) still gets a submission in the gradebook, zero and flagged as
  needed, so ``grades.csv`` (nbgrader's export) and ``grades_by_test.csv``
  list the same students with the same totals;
* ``flag_withheld``: notebooks whose feedback held instructor-only text
  (``autograder.grading.feedback_guard`` withheld it) are flagged, with the reason, in
  the stored result and in the gradebook.
"""

from __future__ import annotations

import json

from .nbgrader_config import nbgrader_config
from .results import load_result, result_path, write_atomic

__all__ = ["record_no_notebook", "flag_withheld"]


def record_no_notebook(course, assignment, student, results) -> str:
    """A student with no notebook to run is in the gradebook too: zero, flagged as needed.

    (nbgrader's Autograde refuses a submission without notebooks; this does what
    it does for a missing notebook.) '' or the error.
    """
    from nbgrader.api import Gradebook
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=nbgrader_config(course, assignment))
    try:
        when = coursedir.get_existing_timestamp(str(course.root / "submitted" / student /
                                                    assignment))
        with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
            gb.update_or_create_student(student)
            submission = gb.update_or_create_submission(
                assignment, student, **({"timestamp": when} if when else {}))
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    grade.auto_score, grade.needs_manual_grade = 0, False
                result = results.get((student, notebook.name))
                notebook.flagged = bool(result and result["flagged"])
            gb.db.commit()
    except Exception as err:  # noqa: BLE001 - reported like any failed recording
        return f"{type(err).__name__}: {err}"
    return ""


def flag_withheld(course, assignment, student, withheld: dict, results=None) -> None:
    """Flag the notebooks whose feedback held instructor-only text (it was withheld).

    ``withheld``: the feedback exporter's (``GuardedFeedbackExporter.withheld``).
    """
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.coursedir import CourseDirectory

    found = {key: what for key, what in withheld.items() if key[0] == student}
    if not found:
        return
    coursedir = CourseDirectory(config=nbgrader_config(course, assignment))
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        for (_, notebook), what in sorted(found.items()):
            why = (f"its feedback held instructor-only text and was withheld in part "
                   f"({', '.join(what[:3])})")
            result = (results or {}).get((student, notebook)) or \
                load_result(course, student, notebook)
            if result is not None:
                result["flagged"] = True
                if why not in result["reason"]:
                    result["reason"] = "; ".join(r for r in (result["reason"], why) if r)
                write_atomic(result_path(course, student, notebook), json.dumps(
                    {k: v for k, v in result.items() if k != "_nb"}, indent=1))
            try:
                gb.find_submission_notebook(notebook, assignment, student).flagged = True
            except MissingEntry:
                pass
        gb.db.commit()
