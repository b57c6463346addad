"""Fingerprints of the code that grades: what a worker runs, and everything that decides a result.

Instructor-only. Both are digests of whole folders, not of a list of files, so
a module that is added or moved is covered without anyone editing this:

* ``worker_code_version()``: every ``.py`` file of the ``assignment`` package
  (what the notebooks import), of ``autograder/grading/`` (the worker and its
  sandbox) and of ``autograder/kernel/`` (the collector in the kernel). The
  coordinator refuses a Dask worker whose fingerprint differs.
* ``grading_code_version()``: every ``.py`` file of ``assignment`` and of
  ``autograder`` except the folders that cannot decide a grade (``demo/``:
  the demo and benchmarks; ``release/``: what it makes, the references file,
  is part of a result's key by its bytes), and the source notebooks in
  ``notebooks/`` (the answer key). A change to any of them makes every
  notebook run and be scored again.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import assignment

from ..release.course import SOURCE_NOTEBOOKS

AUTOGRADER = Path(__file__).resolve().parents[1]
ASSIGNMENT_PACKAGE = Path(assignment.__file__).resolve().parent

# folders of autograder/ whose code cannot change a grade (see the module docstring)
NOT_DECIDING = ("demo", "release")


def _digest(root: Path, paths) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def _python_files(folder: Path) -> list:
    return [p for p in folder.rglob("*.py") if "__pycache__" not in p.parts]


@functools.lru_cache(maxsize=1)
def worker_code_version() -> str:
    """Fingerprint of the code a worker grades with: the same on the coordinator and workers."""
    files = _python_files(ASSIGNMENT_PACKAGE) + _python_files(AUTOGRADER / "grading") + \
        _python_files(AUTOGRADER / "kernel")
    return _digest(ASSIGNMENT_PACKAGE.parent, files)


def grading_code_version() -> str:
    """Fingerprint of every file whose change can change a grade (read afresh on each call)."""
    deciding = [p for p in _python_files(AUTOGRADER)
                if p.relative_to(AUTOGRADER).parts[0] not in NOT_DECIDING]
    notebooks = sorted(SOURCE_NOTEBOOKS.glob("*.ipynb")) if SOURCE_NOTEBOOKS.is_dir() else []
    return _digest(ASSIGNMENT_PACKAGE.parent, _python_files(ASSIGNMENT_PACKAGE) + deciding) + \
        _digest(SOURCE_NOTEBOOKS.parent, notebooks)
