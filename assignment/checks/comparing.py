"""Judge one output: ``compare`` (right or not, and why) and ``diagnose`` (a hint).

Errors are relative: |a - b| / max(1e-8, |a| + |b|), maximum over entries,
the same measure as ``gradient_check.rel_error``. Integer outputs (sampled
captions) must match exactly up to the first <END>. Nothing here runs
student code; the values judged may have been forged (the grader's scorer
judges values read from an untrusted record).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..formats.check_file import CheckCase
from .host import TooLarge

__all__ = ["Verdict", "compare", "diagnose", "end_index", "RATIO_MIN_ENTRIES"]

_REL_FLOOR = 1e-8    # denominator floor of the relative error (as in rel_error)

# Taken once, when the module is imported (before any student cell runs), so
# that a notebook that reassigns np.isfinite & co. cannot change a verdict.
_isfinite = np.isfinite
_unravel = np.unravel_index


@dataclass
class Verdict:
    """The verdict on one output of one case."""

    output: str
    ok: bool
    problem: str = ""           # what is wrong, for the student (empty when ok)
    error: float | None = None  # max relative error, when the shapes match
    hint: str = ""


def _rel_errors(a, b, floor=_REL_FLOOR):
    """Elementwise relative errors, flattened (operators only: see _isfinite above)."""
    a, b = a.reshape(-1), b.reshape(-1)
    diff = abs(a - b)
    denom = abs(a) + abs(b)
    denom[denom < floor] = floor
    return diff / denom


def _index(shape, flat) -> str:
    return "[" + ", ".join(str(int(i)) for i in _unravel(flat, shape)) + "]" if shape else ""


def end_index(words):
    """The index of <END> in a caption vocabulary (None without one)."""
    return {w: i for i, w in enumerate(words)}.get("<END>")


def compare(name, actual, expected, tol, *, show_values=False, end_token=None) -> Verdict:
    """Is ``actual`` right? (expected: float64, or int for sampled captions).

    Integer outputs (captions) must match exactly up to and including the
    first <END> of each expected row; what comes after it is not checked.
    """
    if actual is None:
        return Verdict(name, False, "was not returned")
    if isinstance(actual, TooLarge):
        return Verdict(name, False, f"has shape {actual.shape} ({actual.size:,} numbers, too "
                                    f"many to check); expected {tuple(expected.shape)}")
    if not isinstance(actual, np.ndarray):
        return Verdict(name, False, f"is a {type(actual).__name__}, not an array of numbers")
    if actual.dtype.kind not in "biuf":
        return Verdict(name, False, f"has dtype {actual.dtype}, not numbers")
    if expected.ndim == 0 and actual.size == 1:
        actual = actual.reshape(())  # a loss returned as shape (1,) is still a scalar
    if actual.shape != expected.shape:
        return Verdict(name, False, f"has shape {actual.shape}; expected {expected.shape}")
    if expected.dtype.kind in "iu":
        return _compare_tokens(name, actual, expected, end_token)
    a = actual.astype(np.float64)
    bad = ~_isfinite(a)
    if bad.any():
        kind = "NaN" if bool((a != a).any()) else "inf"
        first = _index(a.shape, int(bad.argmax()))
        return Verdict(name, False, f"contains {kind} (first at {first})")
    if a.size == 0:
        return Verdict(name, True, error=0.0)
    errors = _rel_errors(a, expected)
    worst = int(errors.argmax())
    error = float(errors.reshape(-1)[worst])
    if error <= tol:
        return Verdict(name, True, error=error)
    where = _index(a.shape, worst)
    text = f"max relative error {error:.1e} (tolerance {tol:.0e})"
    if where:
        text += f", worst at {where}"
    if show_values:
        text += (f": expected {float(expected.reshape(-1)[worst]):.6g}, got "
                 f"{float(a.reshape(-1)[worst]):.6g}")
    return Verdict(name, False, text, error=error)


def _compare_tokens(name, actual, expected, end_token):
    if actual.dtype.kind == "f" and not bool((actual == actual.round()).all()):
        return Verdict(name, False, "contains non-integer values; word indices are integers")
    checked = np.ones(expected.shape, dtype=bool)
    if end_token is not None and expected.ndim == 2:
        for row, tokens in enumerate(expected):
            ends = np.flatnonzero(tokens == end_token)
            if ends.size:
                checked[row, ends[0] + 1:] = False
    wrong = (actual != expected) & checked
    if not wrong.any():
        return Verdict(name, True, error=0.0)
    first = _index(expected.shape, int(wrong.argmax()))
    return Verdict(name, False, f"{int(wrong.sum())} of {int(checked.sum())} checked words "
                                f"differ (first at {first})", error=1.0)


def _close(a, b, tol=1e-6) -> bool:
    return a.shape == b.shape and bool((_rel_errors(a, b) <= tol).all())


# A ratio hint ("the right answer times 2") needs a scale that many entries
# agree on: one number, or a handful, always equals the right one times
# *something*. Fewer entries than this, and a wrong value gets no ratio hint.
RATIO_MIN_ENTRIES = 4


def diagnose(name, actual, case: CheckCase, hints: dict, tol: float, end_token=None) -> str:
    """A hint for a wrong output: a known mistake it matches, or a pattern that is certain.

    Known mistakes (``case.mistakes``, with their hints) come first. Otherwise
    only what the numbers prove is said: a transposed or summed-over shape, an
    integer or lower-precision dtype, all zeros, the negative of the answer, or
    one scale factor shared by at least ``RATIO_MIN_ENTRIES`` non-zero entries.
    A wrong scalar (a loss) gets a hint only from a known mistake: an unknown
    mistake gets no hint rather than a wrong one.
    """
    if not isinstance(actual, np.ndarray) or actual.dtype.kind not in "biuf":
        return ""
    expected = case.expected[name]
    a = actual.astype(np.float64) if actual.dtype.kind == "f" else actual
    for mistake, outputs in case.mistakes.items():
        wrong = outputs.get(name)
        if wrong is None or wrong.shape != a.shape:
            continue
        if wrong.dtype.kind in "iu":
            same = compare(name, a, wrong, 0, end_token=end_token).ok
        else:
            same = _close(a.astype(np.float64), wrong, max(tol, 1e-6))
        if same:
            return hints.get(mistake, "")
    if expected.dtype.kind in "iu" or not bool(_isfinite(a).all()):
        return ""
    if a.ndim == 2 and a.shape == expected.shape[::-1] and a.shape != expected.shape:
        if _close(a.T, expected):
            return (f"{name} is the transpose of the right answer: swap the two factors of the "
                    "matrix product (and transpose them).")
        return f"{name} has the shape of the transpose: check the order of the factors."
    if a.ndim > expected.ndim and a.shape[a.ndim - expected.ndim:] == expected.shape:
        summed = a.reshape((-1,) + expected.shape).sum(axis=0)
        if _close(summed, expected):
            return (f"{name} still has the batch (or time) axes: a parameter used by every "
                    "example and every step gets the sum of their gradients.")
        return f"{name} has extra leading axes; expected shape {expected.shape}."
    if a.shape != expected.shape:
        return ""
    if actual.dtype.kind in "biu":
        return (f"{name} is an integer array ({actual.dtype}): values are floating-point. An "
                "array made with zeros_like() of integer word indices is integer too; give "
                "the dtype of the values.")
    if actual.dtype != np.float64 and _close(a, expected, 1e-3):
        return (f"{name} is {actual.dtype} and matches only to its precision; the inputs are "
                "float64, keep that (no .astype(np.float32)).")
    scalar = expected.size == 1
    if not bool(a.any()) and bool(expected.any()):
        return (f"{name} is zero" if scalar else f"{name} is all zeros") + \
            ": is it computed (and returned)?"
    if _close(a, -expected):
        return f"{name} has the wrong sign."
    flat_e, flat_a = expected.reshape(-1), a.reshape(-1)
    k = int(abs(flat_e).argmax())
    significant = int((abs(flat_e) > 1e-6 * abs(flat_e[k])).sum()) if flat_e[k] != 0 else 0
    if significant >= RATIO_MIN_ENTRIES:
        ratio = float(flat_a[k] / flat_e[k])
        if ratio != 0 and abs(ratio - 1) > 1e-3 and _close(a, ratio * expected, 1e-6):
            return (f"{name} is the right answer times {ratio:.3g}: a scaling factor is off "
                    "(a mean instead of a sum, or a missing factor?).")
    return ""

