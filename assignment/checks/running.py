"""Run a unit on one case: ``execute`` gives the raw outputs, no verdict.

Every array handed to student code is a fresh copy; whatever the code raises
becomes a ``StudentCodeError`` with a message written for the student, and
the outputs come back as host copies (``host.to_host``). The same code runs
the student's function in their own check, in the grading kernel, and the
reference while the grader records its calls.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import caches
from ..units import PARAM_NAMES, PROTOCOLS
from .host import to_host

__all__ = ["StudentCodeError", "StudentTimeout", "Execution", "execute", "timeout_error",
           "register_grading_file", "display_name"]

# Taken once, when the module is imported (before any student cell runs), so
# that a notebook that reassigns np.array cannot change what is copied.
_array = np.array

_MODEL_METHODS = {"loss": "CaptioningRNN.loss", "sample": "CaptioningRNN.sample"}
_ELEMENT = re.compile(r"^(\w+)\[(\d+)\]$")  # 'grads[0]': element 0 of the tuple 'grads'


def display_name(unit) -> str:
    """What a student calls the unit: its function name, or CaptioningRNN.loss / .sample."""
    return _MODEL_METHODS.get(PROTOCOLS[unit].kind, unit)


class StudentCodeError(Exception):
    """Student code raised, or returned something that cannot be checked.

    ``message`` is written for the student; ``exc`` is the original exception.
    """

    def __init__(self, message, *, not_implemented=False, exc=None, timed_out=False):
        super().__init__(message)
        self.message = message
        self.not_implemented = not_implemented
        self.exc = exc
        self.timed_out = timed_out


class StudentTimeout(BaseException):
    """Raised (by the grader's alarm) when student code runs past its time limit.

    A BaseException, so that a bare ``except Exception`` in student code does
    not swallow it.
    """


_OUR_FILES = {str(path) for path in Path(__file__).parent.glob("*.py")}  # this package


def register_grading_file(path):
    """Frames of this file are left out of the tracebacks shown to students."""
    _OUR_FILES.add(path)


def _where(exc) -> str:
    """'in rnn_forward, line 7: h[:, t] = ...' for the last frame of student code."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename not in _OUR_FILES]
    # the innermost frame that is not inside an installed library (numpy, ...)
    own = [f for f in frames if "site-packages" not in f.filename
           and "/lib/python" not in f.filename]
    frame = (own or frames or [None])[-1]
    if frame is None:
        return ""
    line = (frame.line or "").strip()
    return f" (in {frame.name}, line {frame.lineno}" + (f": {line}" if line else "") + ")"


def _call(what, fn, *args, **kwargs):
    """Call student code; turn whatever it raises into a StudentCodeError."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as err:
        raise StudentCodeError(f"{what} is not implemented yet", not_implemented=True,
                               exc=err) from None
    except (StudentTimeout, KeyboardInterrupt):
        raise
    except BaseException as err:  # SystemExit too: student code must not end the check
        text = str(err).strip().splitlines()
        message = f"{what} raised {type(err).__name__}" + (f": {text[0][:300]}" if text else "")
        raise StudentCodeError(message + _where(err), exc=err) from None


def _copies(values) -> dict:
    return {k: _array(v, copy=True) for k, v in values.items()}


def _unpack(what, result, names, cache: bool) -> list:
    """The returned values as a list, checking how many there are."""
    wanted = list(names) + (["cache"] if cache else [])
    if len(wanted) == 1 and not isinstance(result, (tuple, list)):
        return [result]
    if result is None:
        raise StudentCodeError(f"{what} returned None; it should return "
                               f"{', '.join(wanted)}. Is the return statement missing?")
    if not isinstance(result, (tuple, list)):
        raise StudentCodeError(f"{what} returned one {type(result).__name__}; it should return "
                               f"{len(wanted)} values: {', '.join(wanted)}.")
    if len(result) != len(wanted):
        raise StudentCodeError(f"{what} returned {len(result)} values; it should return "
                               f"{len(wanted)}: {', '.join(wanted)}.")
    return list(result)


def _arguments(arrays: dict) -> list:
    """The positional arguments: 'grads[0]', 'grads[1]'... become one tuple 'grads'."""
    args, tuples = [], {}
    for name, value in arrays.items():
        element = _ELEMENT.match(name)
        if element is None:
            args.append(value)
        elif element.group(1) not in tuples:
            tuples[element.group(1)] = [value]
            args.append(tuples[element.group(1)])
        else:
            tuples[element.group(1)].append(value)
    return [tuple(a) if isinstance(a, list) else a for a in args]


def _returned(outputs) -> list:
    """The names of the returned values: 'clipped[0]', 'clipped[1]' are one tuple 'clipped'."""
    return list(dict.fromkeys(m.group(1) if (m := _ELEMENT.match(name)) else name
                              for name in outputs))


def _flattened(what, values, outputs) -> list:
    """One value per declared output: a returned tuple gives its elements."""
    flat, returned = [], dict(zip(_returned(outputs), values))
    for name in outputs:
        element = _ELEMENT.match(name)
        if element is None:
            flat.append(returned[name])
            continue
        group, index = element.group(1), int(element.group(2))
        value = returned[group]
        count = sum(1 for o in outputs if o.startswith(group + "["))
        if not isinstance(value, (tuple, list)) or len(value) != count:
            got = (f"{len(value)} of them" if isinstance(value, (tuple, list))
                   else f"one {type(value).__name__}")
            raise StudentCodeError(f"{what} should return {group} as a tuple of {count} arrays, "
                                   f"one per array it is given; it returned {got}.")
        flat.append(value[index])
    return flat


def _changed(before: dict, after: dict) -> list:
    """Names of the arrays that student code modified in place."""
    return [k for k in before
            if before[k].shape != after[k].shape or not bool((before[k] == after[k]).all())]


@dataclass
class Execution:
    """What one run of a unit on one case gave."""

    outputs: dict                 # output -> host value (copy)
    changed: list = field(default_factory=list)          # inputs modified in place
    changed_upstream: list = field(default_factory=list)  # upstream gradients modified in place


def execute(unit, obj, inputs, settings) -> Execution:
    """Run ``obj`` (a student's or the reference's) on one case of ``unit``.

    A forward or function unit is called with the case's ``settings`` as
    keyword arguments (``cell_type="gru"``); a backward unit's settings only
    made its cache. Every array handed to ``obj`` is a fresh copy; a backward
    unit gets a fresh copy of the case's cache (``inputs["cache"]``, made by a
    correct forward pass), never one made by other student code. Raises
    StudentCodeError for anything the code does wrong that stops the check
    (an exception, a missing return value).
    """
    p = PROTOCOLS[unit]
    if not callable(obj):
        raise StudentCodeError(f"{unit}: expected a function (or the CaptioningRNN class), got "
                               f"a {type(obj).__name__}.")
    if p.kind in ("forward", "function"):
        args = _copies({k: inputs[k] for k in p.inputs})
        result = _call(unit, obj, *_arguments(args), **settings)
        forward = p.kind == "forward"
        outs = _unpack(unit, result, _returned(p.outputs), cache=forward)
        outs = _flattened(unit, outs[:-1] if forward else outs, p.outputs)
        return Execution(dict(zip(p.outputs, map(to_host, outs))),
                         changed=_changed(_copies({k: inputs[k] for k in p.inputs}), args))
    if p.kind == "backward":
        upstream = _copies({k: inputs[k] for k in p.upstream})
        cache = caches.copy_cache(inputs["cache"])
        try:
            result = _call(unit, obj, *upstream.values(), cache)
        except StudentCodeError as err:
            if not err.not_implemented:
                err.message += (f". Note: {unit} is given the {type(cache).__name__}"
                                f"({', '.join(cache._fields)}) that a correct {p.forward} "
                                "returns (see assignment.caches): does it read the cache that way?")
            raise
        grads = _unpack(unit, result, p.outputs, cache=False)
        return Execution(dict(zip(p.outputs, map(to_host, grads))),
                         changed_upstream=_changed(_copies({k: inputs[k] for k in p.upstream}),
                                                   upstream))
    return _execute_model(unit, p, obj, inputs, settings)


def _execute_model(unit, p, obj, inputs, settings):
    words = settings["words"]
    word_to_idx = {w: i for i, w in enumerate(words)}
    dims = {"input_dim": inputs["features"].shape[1], "wordvec_dim": inputs["W_embed"].shape[1],
            "hidden_dim": inputs["W_proj"].shape[1]}
    model = _call("CaptioningRNN(...)", obj, word_to_idx, **dims,
                  cell_type=settings["cell_type"], dtype=np.float64)
    if not isinstance(getattr(model, "params", None), dict):
        raise StudentCodeError("CaptioningRNN(...) has no params dict (self.params).")
    for k in PARAM_NAMES:
        model.params[k] = _array(inputs[k], copy=True)
    what = display_name(unit)
    data = _copies({k: inputs[k] for k in p.inputs if k not in PARAM_NAMES})
    if p.kind == "sample":
        captions = _call(what, model.sample, data["features"],
                         max_length=settings["max_length"])
        run = Execution({"captions": to_host(captions)})
    else:
        loss, grads = _unpack(what, _call(what, model.loss, data["features"], data["captions"]),
                              ("loss", "grads"), cache=False)
        if not isinstance(grads, dict):
            raise StudentCodeError(f"{what} returned grads as a {type(grads).__name__}; it "
                                   "should be a dict with one entry per parameter.")
        outputs = {"loss": to_host(loss)}
        outputs.update({"d" + k: to_host(grads[k]) if k in grads else None for k in PARAM_NAMES})
        run = Execution(outputs)
    run.changed = _changed(_copies({k: inputs[k] for k in data}), data)
    return run



def timeout_error(unit) -> StudentCodeError:
    """The failure of a case whose code ran past its time limit."""
    return StudentCodeError(f"{display_name(unit)} ran past the time limit "
                            "(an endless loop?)", timed_out=True)
