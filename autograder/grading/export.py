"""The grade files: ``grades.csv`` (nbgrader's CSV export), ``grades_by_test.csv``, ``review.csv``.

Instructor-only; written at the end of every ``rnn-assignment grade`` and by
``rnn-assignment export``. Rows are sorted, so one course gives the same files
whatever database holds its gradebook.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..release.course import ASSIGNMENT
from .nbgrader_config import nbgrader_config
from .results import all_results, write_atomic


def sort_rows(path: Path, columns) -> None:
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
    write_atomic(path, buf.getvalue())


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
    sort_rows(grades, ("assignment", "student_id"))

    by_test = course.root / "grades_by_test.csv"
    review = course.root / "review.csv"
    results = all_results(course)
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
    write_atomic(by_test, buf.getvalue())
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["student_id", "notebook", "reason"])
    for result in results:
        if result["flagged"]:
            writer.writerow([result["student"], result["notebook"], result["reason"]])
    write_atomic(review, buf.getvalue())
    return {"grades": grades, "grades_by_test": by_test, "review": review}
