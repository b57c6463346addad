"""``rnn-assignment feedback``: nbgrader's feedback HTML again, hidden tests removed.

Instructor-only. Recording writes the feedback of each student it records;
this writes it again for students already graded.
"""

from __future__ import annotations

from ..release.course import ASSIGNMENT
from .errors import GradingError
from .gradebook_extras import flag_withheld
from .nbgrader_config import nbgrader_config, quiet_nbgrader


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
        quiet_nbgrader(app)
        app.start()
        flag_withheld(course, assignment, sid, app.exporter.withheld)
    return students
