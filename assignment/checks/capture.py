"""Capture what student code writes while it is checked, and mask numbers in it.

``capture_student_output`` collects sys.stdout, sys.stderr, file descriptor 2
and warnings; ``Captured`` says what was written (in full for the student's
own check, as a summary for hidden cases). ``mask_numbers`` hides numbers that
could be values, so that no hidden value reaches feedback.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
import warnings
from dataclasses import dataclass, field

__all__ = ["Captured", "capture_student_output", "mask_numbers"]


@dataclass
class Captured:
    """What student code wrote while it was checked."""

    stdout: str = ""
    stderr: str = ""
    warnings: list = field(default_factory=list)

    def report(self) -> list:
        """Lines telling the student what their code printed (their own check: in full)."""
        lines = []
        for title, text in (("printed", self.stdout), ("wrote to stderr", self.stderr)):
            if text.strip():
                lines.append(f"Your code {title} (shown here, it does not affect the check):")
                lines += ["  | " + line for line in _shorten(text)]
        if self.warnings:
            counts = {}
            for w in self.warnings:
                counts[w] = counts.get(w, 0) + 1
            lines.append("Your code raised warnings (an overflow or a division by zero can "
                         "make outputs wrong):")
            lines += [f"  | {w}" + (f"  (x{n})" if n > 1 else "")
                      for w, n in list(counts.items())[:5]]
        return lines

    def summary(self) -> list:
        """For hidden cases: what was written, without the text (it could quote inputs)."""
        lines = []
        written = [title for title, text in (("printed", self.stdout),
                                             ("wrote to stderr", self.stderr)) if text.strip()]
        if written:
            lines.append(f"your code {' and '.join(written)} while it was graded (not shown: "
                         "hidden inputs stay hidden)")
        kinds = sorted({mask_numbers(w) for w in self.warnings})
        if kinds:
            lines.append("your code raised warnings: " + "; ".join(kinds[:3])
                         + (" ..." if len(kinds) > 3 else ""))
        return lines


def _shorten(text, max_lines=12, max_chars=1200) -> list:
    lines = text[:max_chars].rstrip("\n").splitlines()
    more = len(text.splitlines()) - len(lines[:max_lines])
    lines = lines[:max_lines]
    if more > 0 or len(text) > max_chars:
        lines.append(f"... ({max(more, 1)} more line(s) not shown)")
    return lines


_NUMBER = re.compile(r"\d[\d.]*(?:[eE][-+]?\d+)?")


def mask_numbers(text: str) -> str:
    """Hide numbers that could be values (a decimal point, an exponent, 4+ digits).

    Shapes, indices and line numbers (small integers) stay readable.
    """
    def repl(m):
        token = m.group(0)
        digits = sum(c.isdigit() for c in token)
        return "<number>" if ("." in token.rstrip(".") or "e" in token.lower()
                              or digits >= 4) else token
    return _NUMBER.sub(repl, text)


def _flush(stream):
    try:
        stream.flush()
    except Exception:
        pass


@contextlib.contextmanager
def capture_student_output():
    """Capture sys.stdout, sys.stderr, file descriptor 2 and warnings.

    Yields a Captured that is filled in when the block ends. C code and
    ``print(..., file=sys.__stderr__)`` write to file descriptor 2 directly, so
    it is pointed at a temporary file for the duration (os.dup2).
    """
    captured = Captured()
    out, err = io.StringIO(), io.StringIO()
    saved_out, saved_err = sys.stdout, sys.stderr
    for stream in (saved_out, saved_err, sys.__stderr__):
        _flush(stream)
    tmp = tempfile.TemporaryFile()
    try:
        saved_fd = os.dup(2)
        os.dup2(tmp.fileno(), 2)
    except OSError:
        saved_fd = None
    caught = []
    sys.stdout, sys.stderr = out, err
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield captured
    finally:
        sys.stdout, sys.stderr = saved_out, saved_err
        _flush(sys.__stderr__)
        if saved_fd is not None:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
        tmp.seek(0)
        fd_text = tmp.read().decode("utf-8", "replace")
        tmp.close()
        captured.stdout = out.getvalue()
        captured.stderr = err.getvalue() + fd_text
        captured.warnings = [f"{w.category.__name__}: {w.message}" for w in caught]

