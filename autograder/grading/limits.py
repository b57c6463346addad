"""The limits of grading a notebook, each defined once (the CLI, options and sandbox read them).

Instructor-only. ``CELL_SECONDS`` is also the ``c.Execute.timeout`` that a
release writes into the course's nbgrader_config.py (for plain nbgrader runs).
"""

from __future__ import annotations

from dataclasses import dataclass

CELL_SECONDS = 120.0              # longest one cell may run
TOTAL_SECONDS = 900.0             # longest one notebook may run, from when its kernel is up
MEMORY_GB = 3.0                   # address space of each sandboxed process, GiB


@dataclass(frozen=True)
class Limits:
    """What one sandboxed notebook run may use.

    memory_bytes:  address space of each process in the sandbox (RLIMIT_AS);
                   numpy raises MemoryError beyond it.
    processes:     processes + threads the sandbox may have (RLIMIT_NPROC).
    file_bytes:    largest file it may write (RLIMIT_FSIZE).
    cell_seconds:  wall-clock time of one cell.
    total_seconds: wall-clock time of the whole notebook, counted from when it gets its
                   started kernel (the start itself may take min(60 s, this)).
    output_bytes:  outputs kept per cell; the rest is dropped with a note.
    """

    memory_bytes: int = int(MEMORY_GB * 2**30)
    processes: int = 64
    file_bytes: int = 256 * 2**20
    cell_seconds: float = CELL_SECONDS
    total_seconds: float = TOTAL_SECONDS
    output_bytes: int = 2 * 2**20

    def __post_init__(self):
        for name in ("memory_bytes", "processes", "file_bytes", "output_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive int, got {value!r}")
        for name in ("cell_seconds", "total_seconds"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
                raise ValueError(f"Limits.{name} must be a positive number of seconds, "
                                 f"got {value!r}")
