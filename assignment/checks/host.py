"""Host copies of a unit's outputs, and ``TooLarge`` for an output too large to copy.

An output may be anything student code returns: a NumPy or CuPy array, a
(nested) list of numbers, a generator, a giant broadcast view. ``to_host``
copies what can be checked and never spends the memory that the rest of the
grading needs on what cannot.
"""

from __future__ import annotations

import numpy as np

from ..backend import to_numpy

__all__ = ["MAX_COPY_ELEMENTS", "TooLarge", "to_host"]

# Taken once, when the module is imported (before any student cell runs).
_array = np.array

# An output with more numbers than this is not copied (a right one has a few
# hundred): a giant broadcast view or a monstrous shape costs that output only,
# never the memory that the rest of the grading needs.
MAX_COPY_ELEMENTS = 1_000_000


class TooLarge:
    """Stands for an output too large to copy or check: its shape, dtype and size only."""

    def __init__(self, shape, dtype, size):
        self.shape, self.dtype, self.size = tuple(shape), str(dtype)[:40], int(size)

    def __repr__(self):
        return f"TooLarge(shape={self.shape}, dtype={self.dtype})"


def _numbers_in(value, budget) -> int:
    """How many numbers a list/tuple of numbers holds, or -1 when it holds something else.

    Walks plain lists and tuples only (no student-defined __len__ or
    __getitem__ runs), and stops past ``budget`` numbers.
    """
    if type(value) in (int, float) or isinstance(value, np.generic):
        return 1
    if type(value) is np.ndarray:
        return int(value.size)
    if type(value) not in (list, tuple):
        return -1
    total = 0
    for item in value:
        n = _numbers_in(item, budget - total)
        if n < 0 or total + n > budget:
            return -1 if n < 0 else total + n
        total += n
    return total


def to_host(value):
    """A host copy of an output; anything else (not numbers, too large) without copying it.

    Arrays of the backends and plain (nested) lists of numbers are converted;
    other objects are returned as they are (the check says what they are) and
    an output of more than MAX_COPY_ELEMENTS numbers becomes a TooLarge.
    """
    if isinstance(value, bool):
        return value
    if not isinstance(value, (np.ndarray, np.generic, int, float)):
        if type(value) in (list, tuple):
            n = _numbers_in(value, MAX_COPY_ELEMENTS)
            if n < 0:
                return value
            if n > MAX_COPY_ELEMENTS:
                return TooLarge((len(value),), "list", n)
        elif type(value).__module__.split(".")[0] != "cupy":
            return value  # a generator, a dict, a student's class: not converted
        elif int(value.size) > MAX_COPY_ELEMENTS:  # a CuPy array: not brought to the host
            return TooLarge(value.shape, value.dtype, value.size)
        try:
            value = to_numpy(value)
        except Exception:
            return value
    if isinstance(value, np.ndarray):
        # a plain ndarray: a subclass's own methods do not apply
        value = np.ndarray.view(value, np.ndarray)
    if isinstance(value, np.ndarray) and value.size > MAX_COPY_ELEMENTS:
        return TooLarge(value.shape, value.dtype, value.size)
    if isinstance(value, (np.ndarray, np.generic, int, float)):
        try:
            return _array(value, copy=True)
        except MemoryError:
            return TooLarge(np.shape(value), getattr(value, "dtype", "?"), np.size(value))
    return value

