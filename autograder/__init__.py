"""Instructor-only tools: answer key, hidden cases, release and grading.

Never shipped to students. ``autograder.answer_key`` is the answer key, built
from the source notebooks' solution cells.
"""
