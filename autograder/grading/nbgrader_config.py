"""The nbgrader configuration of a grading run: the course's nbgrader_config.py plus our steps.

Instructor-only. nbgrader's ``Autograde`` records the sandboxed scores through
``autograder.grading.nbgrader_steps`` (never executing anything itself), and
``GenerateFeedback`` writes through ``autograder.grading.feedback_guard``.
"""

from __future__ import annotations

import logging

from ..release.course import ASSIGNMENT, Course


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


def quiet_nbgrader(app) -> None:
    app.log.setLevel(logging.ERROR)
