"""The error a check raises: one clear line in a notebook, no traceback of this package.

A check cell that finds a problem must stop (so that *Run All* stops there),
but the traceback of ``check_unit`` or ``check_layer_gradients`` tells a
student nothing: the message says what is wrong and which cell to fix.
IPython asks an exception for ``_render_traceback_()`` before it formats a
traceback; ``CheckFailed`` answers with its message only. Everywhere else
(pytest, a plain ``python`` script) it is an ordinary ``AssertionError``.
"""

from __future__ import annotations

__all__ = ["CheckFailed", "not_implemented_message", "stub_message", "in_place_note"]

_RED, _RESET = "\x1b[1;31m", "\x1b[0m"


class CheckFailed(AssertionError):
    """A check found something to fix; ``str(err)`` is the whole message."""

    def _render_traceback_(self):  # IPython: the lines shown instead of a traceback
        return [f"{_RED}Check failed:{_RESET} {self}"]


def not_implemented_message(what: str, cell: str) -> str:
    """The one line for a function that still raises NotImplementedError.

    ``what``: what was called (``rnn_forward``, ``CaptioningRNN.loss``);
    ``cell``: the definition that names its cell (``def rnn_forward``).
    """
    return (f"{what} is not implemented yet: write it in the cell with `{cell}` (replace "
            "`raise NotImplementedError()` with your code), run that cell, then this one.")


def stub_message(exc: BaseException, fallback: str) -> str:
    """The line for a NotImplementedError, naming the function that raised it.

    The innermost frame of the traceback is the stub (``rnn_step_backward``
    called by your ``rnn_backward``, or ``CaptioningRNN.loss``); ``fallback``
    names it when the traceback does not.
    """
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code if tb is not None else None
    what = (getattr(code, "co_qualname", None) or code.co_name) if code is not None else fallback
    library = code is not None and ("site-packages" in code.co_filename
                                    or "/lib/python" in code.co_filename)
    if library or what.startswith("<") or ".<locals>." in what:
        what = fallback
    owner = what.split(".")[0]
    return not_implemented_message(what, f"class {owner}" if "." in what else f"def {what}")


def in_place_note(what: str, name: str) -> str:
    """One line, the same in every check: ``what`` changed its input ``name`` in place."""
    return (f"{what} changed its input {name} in place ({name} *= ... or {name}[...] = ...). "
            f"The check gave it a copy, so its verdict stands, but a caller that still needs "
            f"{name} would get a changed array: work on a copy ({name} * ... makes one).")
