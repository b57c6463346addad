"""One student's upload as read (not yet written) by collecting, its size limits and timestamps.

Instructor-only; filled by ``autograder.grading.collect`` (folders) and
``autograder.grading.collect_lms`` (LMS zips). Timestamps are read from an LMS
file name or nbgrader's ``timestamp.txt`` and written in nbgrader's format.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field

__all__ = ["CollectError", "Upload", "parse_time", "format_time", "MAX_FILE_BYTES",
           "MAX_STUDENT_BYTES", "LMS_TIME", "NBGRADER_TIME"]

LMS_TIME = "%Y-%m-%d-%H-%M-%S"
NBGRADER_TIME = "%Y-%m-%d %H:%M:%S.%f UTC"
MAX_FILE_BYTES = 200 * 2**20      # a notebook with many figures is tens of MB
MAX_STUDENT_BYTES = 500 * 2**20


class CollectError(RuntimeError):
    """The submissions cannot be read at all (no such folder, not a zip, no student)."""


@dataclass
class Upload:
    """One student's files as read (not yet written), with what to say about them."""
    original: str
    files: dict = field(default_factory=dict)      # name -> bytes
    mtimes: dict = field(default_factory=dict)     # name -> float
    inodes: dict = field(default_factory=dict)     # name -> (device, inode) (folders only)
    times: dict = field(default_factory=dict)      # name -> LMS timestamp (zips only)
    timestamp: object = None                       # datetime or None
    problems: list = field(default_factory=list)
    info: list = field(default_factory=list)


def parse_time(text: str):
    """A naive UTC datetime from an LMS or nbgrader timestamp, or None."""
    text = text.strip()
    try:
        return _dt.datetime.strptime(text, LMS_TIME)
    except ValueError:
        pass
    if not re.fullmatch(r"[0-9][0-9 :T.+\-A-Za-z]{5,60}", text):
        return None
    try:
        from nbgrader.utils import parse_utc
        value = parse_utc(text)
    except (ValueError, OverflowError, TypeError, LookupError):
        return None
    return value if isinstance(value, _dt.datetime) and 1970 <= value.year <= 9999 else None


def format_time(value: _dt.datetime) -> str:
    return value.strftime(NBGRADER_TIME)
