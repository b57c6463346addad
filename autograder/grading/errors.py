"""The error of the grading path that stops a grading run before any notebook runs."""

from __future__ import annotations


class GradingError(RuntimeError):
    """Grading cannot start (no released course, bad submissions, no sandbox, other workers)."""
