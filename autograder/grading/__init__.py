"""The grading path: collect, restore, run sandboxed on Dask workers, score, record, export.

``rnn-assignment grade`` is ``autograder.grading.coordinator.grade``; its
module docstring walks through the steps and names the module of each.
"""
