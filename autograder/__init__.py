"""Instructor-only tools: reference solution, hidden cases, release and grading.

Never shipped to students. ``autograder.reference`` is the answer key.
"""
