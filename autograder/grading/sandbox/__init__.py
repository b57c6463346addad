"""The grading sandbox: a student notebook run with its kernel, and only the kernel, in bubblewrap.

``run_notebook`` (``autograder.grading.sandbox.run_notebook``) is the entry
point; a grading worker takes its kernels, started ahead, from
``autograder.grading.sandbox.kernel_pool``; ``check`` tests a machine once
before grading. The threat model, every option and what is *not* protected:
docs/sandbox.md.
"""
