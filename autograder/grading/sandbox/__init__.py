"""The grading sandbox: a student notebook run with its kernel, and only the kernel, in bubblewrap.

``run_notebook`` (``autograder.grading.sandbox.run_notebook``) is the entry
point; ``check`` tests a machine once before grading. The threat model, every
option and what is *not* protected: docs/sandbox.md.
"""
