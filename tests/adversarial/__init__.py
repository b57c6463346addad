"""Adversarial submissions for the grading tests (see corpus.py)."""
