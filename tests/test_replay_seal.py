"""Sealed replay tables: only a caller that does the work reads a recorded result.

* the secure sketch (assignment.formats.replay_seal): an entry opens under round-off
  (1e-12 relative), not under 1e-5; a wrong key or a damaged box is detected;
  integers, dtypes, shapes and structure must be exact; nothing of the result
  is in the sealed bytes;
* the grading kernel, in this process as in a sandbox: students who read the
  replay tables (through a stub's closure, the garbage collector, the
  grading-inputs file, the kernel module's own functions) and return what they
  find earn nothing for it; honest students with one mistake lose it once
  (a wrong step under a right sequence, a wrong embedding under a right model,
  arguments computed with another rounding);
* section 5.3 of issue 9: a forward pass that returns something huge or
  strange costs that forward pass only, and never stops a check.
"""

from __future__ import annotations

import os
import sys
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from adversarial.replay_corpus import READ as READ_HELPERS
from assignment import caches, checks
from assignment.checks.host import TooLarge, to_host
from assignment.formats import replay_seal
from assignment.formats.check_file import REFERENCES_ENV
from assignment.formats.grading_inputs import INPUTS_ENV
from assignment.checks import check_unit
from assignment.layers import (
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
)
from assignment.units import UNITS
from autograder.answer_key.mistakes import MISTAKES
from autograder.answer_key.solution import reference

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "autograder" / "kernel"))
import rnn_grading_kernel as kernel  # noqa: E402
from test_checks_and_grading import STUDENT_MODEL  # noqa: E402
from test_scoring import graded, notebook  # noqa: E402  (the kernel half, then the scorer)
from test_scoring import grading_inputs, references  # noqa: E402,F401  (module fixtures)

ref = reference()
REFERENCE_FUNCTIONS = ref.functions()  # a notebook solved right

R = REFERENCE_FUNCTIONS


# ------------------------------------------------------------------ the sketch


def _call_args(rng):
    """Arguments like those of a step call: floats of several scales, ints, a cache."""
    Cache = namedtuple("RNNStepCache", "x prev_h Wx Wh next_h")
    x, h = rng.standard_normal((3, 4)), rng.standard_normal((3, 5)) * 1e-3
    cache = Cache(x, h, rng.standard_normal((4, 5)), rng.standard_normal((5, 5)) * 50,
                  np.tanh(h))
    return (x, h, rng.integers(0, 9, size=(3, 2)).astype(np.int32), cache, 0.25, "rnn", None)


def _result(rng):
    Cache = namedtuple("RNNStepCache", "x prev_h Wx Wh next_h")
    return rng.standard_normal((3, 5)), Cache(*(rng.standard_normal((2, 2)) for _ in range(5)))


def _noisy(args, rel, rng):
    """The arguments with every float multiplied by (1 + rel * N(0, 1))."""
    def noisy(v):
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            return v * (1 + rel * rng.standard_normal(v.shape))
        if isinstance(v, float):
            return v * (1 + rel * float(rng.standard_normal()))
        if isinstance(v, tuple) and hasattr(v, "_fields"):
            return type(v)(*(noisy(x) for x in v))
        if isinstance(v, tuple):
            return tuple(noisy(x) for x in v)
        return v
    return noisy(args)


def _open(entry, offsets, box, args):
    return replay_seal.open_entry(entry, replay_seal.Arguments(args), offsets, box)


def _same_tree(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, tuple):
        return type(a).__name__ == type(b).__name__ and len(a) == len(b) and \
            all(_same_tree(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("seed", range(5))
def test_an_entry_opens_under_round_off_and_gives_the_exact_result(seed):
    rng = np.random.default_rng(seed)
    args, result = _call_args(rng), _result(rng)
    entry, offsets, box = replay_seal.seal("rnn_step_forward", args, result)
    assert _same_tree(_open(entry, offsets, box, args), result)
    opened = _open(entry, offsets, box, _noisy(args, 1e-12, rng))
    assert _same_tree(opened, result)
    assert opened[1].__class__.__name__ == "RNNStepCache" and opened[1]._fields == result[1]._fields
    # a list where the reference passed a tuple is the same sequence (as before)
    assert _same_tree(_open(entry, offsets, box, list(args)), result)


def test_a_replayed_cache_is_the_assignment_cache_type_and_backward_passes_read_it():
    """The forward layers' caches in sealed results open as the classes of assignment.caches
    (RNNCache.step(t) included), and the reference backward passes give the same gradients
    on a replayed cache as on the one the forward pass made."""
    rng = np.random.default_rng(7)
    N, T, D, H, V = 2, 3, 4, 5, 6
    x, h0 = rng.standard_normal((N, T, D)), rng.standard_normal((N, H))
    words = rng.integers(0, V, size=(N, T))
    calls = {"rnn_forward": (x, h0, rng.standard_normal((D, H)), rng.standard_normal((H, H)),
                             rng.standard_normal(H)),
             "lstm_forward": (x, h0, rng.standard_normal((D, 4 * H)),
                              rng.standard_normal((H, 4 * H)), rng.standard_normal(4 * H)),
             "word_embedding_forward": (words, rng.standard_normal((V, D)))}
    backward = {"rnn_forward": "rnn_backward", "lstm_forward": "lstm_backward",
                "word_embedding_forward": "word_embedding_backward"}
    for fn, args in calls.items():
        out, cache = R[fn](*args)
        entry, offsets, box = replay_seal.seal(fn, args, (out, cache))
        replayed_out, replayed = _open(entry, offsets, box, args)
        assert type(replayed) is type(cache) is caches.CACHE_TYPES[type(cache).__name__], fn
        assert np.array_equal(replayed_out, out)
        if isinstance(replayed, caches.RNNCache):
            assert all(type(replayed.step(t)) is caches.RNNStepCache for t in range(T))
        if isinstance(replayed, caches.LSTMCache):
            assert all(type(step) is caches.LSTMStepCache for step in replayed.steps)
        dout = rng.standard_normal(np.shape(out))
        got, want = R[backward[fn]](dout, replayed), R[backward[fn]](dout, cache)
        for g, w in zip(got if isinstance(got, tuple) else [got],
                        want if isinstance(want, tuple) else [want]):
            assert np.array_equal(g, w), fn


@pytest.mark.parametrize("seed", range(5))
def test_an_entry_does_not_open_under_1e5_relative_noise(seed):
    rng = np.random.default_rng(seed)
    args, result = _call_args(rng), _result(rng)
    entry, offsets, box = replay_seal.seal("rnn_step_forward", args, result)
    assert _open(entry, offsets, box, _noisy(args, 1e-5, rng)) is None
    # one element of one argument off by 1e-5 of its scale is enough
    x = args[0].copy()
    x[1, 2] += 1e-5 * abs(args[0]).max()
    assert _open(entry, offsets, box, (x,) + args[1:]) is None


def test_everything_else_about_the_arguments_must_be_exact():
    rng = np.random.default_rng(7)
    args, result = _call_args(rng), _result(rng)
    entry, offsets, box = replay_seal.seal("rnn_step_forward", args, result)
    words = args[2].copy()
    words[0, 0] = (words[0, 0] + 1) % 9
    wrong = [
        (args[0].astype(np.float32),) + args[1:],          # another float dtype
        (args[0].reshape(4, 3),) + args[1:],               # another shape
        args[:2] + (words,) + args[3:],                     # one word index
        args[:2] + (args[2].astype(np.float64),) + args[3:],  # words as floats
        args[:5] + ("lstm",) + args[6:],                    # a string
        args[:6] + (0,),                                    # None -> 0
        args[:-1],                                          # one argument fewer
        args[:3] + (tuple(args[3])[:-1],) + args[4:],       # a cache with a field fewer
        (np.ma.masked_array(args[0]),) + args[1:],          # a subclass
        (args[0].astype(object),) + args[1:],               # an object array
        (np.full_like(args[0], np.nan),) + args[1:],        # NaN
        (args[0] * 1e6,) + args[1:],                        # far outside the scale
    ]
    for i, call in enumerate(wrong):
        assert _open(entry, offsets, box, call) is None, i
    # int32 or int64 word indices, a 0-d array or a float: the same values
    same = args[:2] + (args[2].astype(np.int64),) + args[3:4] + (np.float64(0.25),) + args[5:]
    assert _same_tree(_open(entry, offsets, box, same), result)
    # another function name never opens it
    entry_b = dict(entry, fn="lstm_step_forward")
    assert _open(entry_b, offsets, box, args) is None


def test_a_wrong_key_or_a_damaged_box_is_detected():
    rng = np.random.default_rng(3)
    args, result = _call_args(rng), _result(rng)
    entry, offsets, box = replay_seal.seal("rnn_step_forward", args, result)
    damaged = bytearray(box)
    damaged[len(box) // 2] ^= 1
    assert _open(entry, offsets, bytes(damaged), args) is None  # the tag
    assert _open(dict(entry, id="00" * 16), offsets, box, args) is None  # the lookup id
    # a key made from other arguments gives a stream that does not decrypt it (the tag says so)
    other, _, _ = replay_seal.seal("rnn_step_forward", _call_args(rng), result)
    assert _open(dict(entry, id=other["id"]), offsets, box, args) is None


def test_the_sealed_bytes_hold_nothing_of_the_result_and_the_offsets_not_its_arguments():
    rng = np.random.default_rng(11)
    args, result = _call_args(rng), _result(rng)
    entry, offsets, box = replay_seal.seal("rnn_step_forward", args, result)
    assert result[0].tobytes()[:16] not in box and result[0].tobytes() not in box
    for part in result[1]:
        assert part.tobytes() not in box
    assert set(entry) == {"fn", "grid", "id", "tag", "hint"} and len(entry["hint"]) == 4
    floats = [a for a in (args[0], args[1], *args[3]) if a.dtype.kind == "f"]
    assert len(offsets) == len(entry["grid"]) == len(floats) + 1  # + the float 0.25
    for d, a in zip(offsets, floats):
        assert d.dtype == np.float64 and ((0 <= d) & (d < 1)).all()
        assert not np.allclose(d, a.ravel()) and abs(np.corrcoef(d, a.ravel())[0, 1]) < 0.9
    # deterministic: the same call seals to the same bytes (same secret, same file)
    again = replay_seal.seal("rnn_step_forward", args, result)
    assert again[0] == entry and again[2] == box


# -------------------------------------------------------------- graded, here


@pytest.fixture(autouse=True)
def sandbox(request, monkeypatch):
    """The environment of a sandboxed grading kernel (for the tests that grade)."""
    if "references" in request.fixturenames:
        monkeypatch.setenv(INPUTS_ENV, str(request.getfixturevalue("grading_inputs")))
        monkeypatch.delenv(REFERENCES_ENV, raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)


STEPS = """
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)
"""

# What every reader below does with the recorded calls of the case it found: from
# each call (in the order they were recorded) the last (N, H) float array in it,
# stacked into h. With the tables of grading-inputs version 1 (plain JSON trees
# and arrays) that is exactly the reference's h, 4 points; no reader computes a
# step. Arrays are looked for everywhere in a call: attributes, containers,
# {"array": key} references, bytes read as float64.
# (the helpers are the replay corpus's: tests/adversarial/replay_corpus.py)
READ = READ_HELPERS + """
def _stack(calls, arrays, x, h0):
    return _stacked(calls, arrays, x.shape[0], x.shape[1], h0.shape[1]), None
"""

READERS = {
    "closure": READ + """
def rnn_forward(x, h0, Wx, Wh, b):
    stub = globals()["rnn_step_forward"]          # the replay stub while this unit is graded
    table = next(c.cell_contents for c in stub.__closure__ if hasattr(c.cell_contents, "calls"))
    return _stack(table.calls["rnn_step_forward"], getattr(table, "arrays", {}), x, h0)
""",
    "gc": READ + """
import gc
def rnn_forward(x, h0, Wx, Wh, b):
    for table in gc.get_objects():
        if type(table).__name__ == "ReplayTable" and "rnn_step_forward" in table.calls \
                and len(table.calls["rnn_step_forward"]) == x.shape[1]:
            h = _stack(table.calls["rnn_step_forward"], getattr(table, "arrays", {}), x, h0)
            if h[0].any():
                return h
    return np.zeros((x.shape[0], x.shape[1], h0.shape[1])), None
""",
    "file": READ + """
import json, os
def rnn_forward(x, h0, Wx, Wh, b):
    with np.load(os.environ["RNN_GRADING_INPUTS"], allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    index = json.loads(bytes(arrays.pop("__index__")).decode())
    for case in index["units"]["rnn_forward"]["cases"]:
        if np.array_equal(arrays[case["inputs"]["x"]], x):   # this case's table
            return _stack(case["calls"], arrays, x, h0)
    return np.zeros((x.shape[0], x.shape[1], h0.shape[1])), None
""",
    "kernel module": READ + """
import rnn_grading_kernel as k
def rnn_forward(x, h0, Wx, Wh, b):
    grading = k._grading_inputs()
    for case in grading.cases("rnn_forward"):
        if np.array_equal(case.inputs["x"], x):
            table = case.replay_table()
            # ask the table, with the arguments one has without working (h0 every time)
            asked = [table.answer("rnn_step_forward", (x[:, t], h0, Wx, Wh, b))
                     for t in range(x.shape[1])]
            if all(a is not None for a in asked):
                return np.stack([a[0] for a in asked], axis=1), None
            return _stack(case.calls, grading.arrays, x, h0)
    return np.zeros((x.shape[0], x.shape[1], h0.shape[1])), None
""",
    "skips the recurrence": """
def rnn_forward(x, h0, Wx, Wh, b):
    # every step from h0: the stub answers only the first step
    h = [rnn_step_forward(x[:, t], h0, Wx, Wh, b)[0] for t in range(x.shape[1])]
    return np.stack(h, axis=1), None
""",
}


@pytest.mark.parametrize("reader", list(READERS))
def test_reading_the_replay_tables_without_doing_the_work_earns_nothing(reader, references):
    ns = notebook(STEPS, READERS[reader])
    score = graded("rnn_forward", ns["rnn_forward"], ns, references)
    assert score.score == 0.0, "\n".join(score.lines)
    assert "rnn_step_forward" in ns and ns["rnn_step_forward"].__name__ == "rnn_step_forward"


def test_the_model_cannot_read_the_sequence_gradients_from_the_tables(references):
    """A loss that computes loss and the vocabulary gradients, and takes every other
    gradient from whatever the replay stubs hold: only the computed outputs count."""
    cells = READ + """
class CaptioningRNN(ReferenceModel):
    def loss(self, features, captions):
        p = self.params
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        h0 = features @ p["W_proj"] + p["b_proj"]
        x, _ = word_embedding_forward(captions_in, p["W_embed"])
        forward = rnn_forward if self.cell_type == "rnn" else lstm_forward
        h, _ = forward(x, h0, p["Wx"], p["Wh"], p["b"])
        scores, vocab_cache = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
        loss, dscores = temporal_softmax_loss(scores, captions_out, captions_out != 0)
        grads = {}
        _, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, vocab_cache)
        # the recorded results of the sequence backward and embedding backward calls
        name = "rnn_backward" if self.cell_type == "rnn" else "lstm_backward"
        stub = globals()[name]
        table = next(c.cell_contents for c in stub.__closure__
                     if hasattr(c.cell_contents, "calls"))
        arrays = getattr(table, "arrays", {})
        found = []
        for fn in (name, "word_embedding_backward"):
            for call in getattr(table.calls.get(fn, []), "items", table.calls.get(fn, [])):
                found += _arrays_in(call[1:], arrays, set())  # the result, not the arguments
        for k in ("Wx", "Wh", "b", "W_embed"):
            shaped = [a for a in found if a.shape == p[k].shape]
            grads[k] = shaped[-1] if shaped else np.zeros_like(p[k])
        grads["W_proj"], grads["b_proj"] = np.zeros_like(p["W_proj"]), np.zeros_like(p["b_proj"])
        return loss, grads
"""
    names = {k: R[k] for k in ("rnn_forward", "rnn_backward", "word_embedding_forward",
                               "word_embedding_backward")}
    ns = notebook(cells, ReferenceModel=ref.CaptioningRNN,
                  temporal_affine_forward=temporal_affine_forward,
                  temporal_affine_backward=temporal_affine_backward,
                  temporal_softmax_loss=temporal_softmax_loss, **names)
    score = graded("captioning_loss", ns["CaptioningRNN"], ns, references)
    earned = {o.name: o.earned for o in score.outputs}
    assert earned == {"loss": 2, "dW_embed": 0, "dW_proj": 0, "db_proj": 0, "dWx": 0, "dWh": 0,
                      "db": 0, "dW_vocab": 2, "db_vocab": 2}, "\n".join(score.lines)


def _mistake(name):
    return next(m.impl for m in MISTAKES if m.name == name)


UNIT_POINTS = {name: unit.points for name, unit in UNITS.items()}

LSTM_SEQUENCE = """
def lstm_forward(x, h0, Wx, Wh, b):
    h, caches, prev_h, c = [], [], h0, np.zeros_like(h0)
    for t in range(x.shape[1]):
        prev_h, c, cache = lstm_step_forward(x[:, t], prev_h, c, Wx, Wh, b)
        h.append(prev_h)
        caches.append(cache)
    return np.stack(h, axis=1), caches
"""


def test_a_sequence_right_over_a_wrong_step_keeps_its_points(references):
    for wrong in [m for m in MISTAKES if m.unit == "lstm_step_forward"]:
        ns = notebook(LSTM_SEQUENCE, lstm_step_forward=wrong.impl)
        assert graded("lstm_step_forward", wrong.impl, ns, references).score < 6, wrong.name
        score = graded("lstm_forward", ns["lstm_forward"], ns, references)
        assert score.score == UNIT_POINTS["lstm_forward"], (wrong.name, score.lines)


def _with_round_off(model, **after):
    """``model`` with ``name = ROUND_OFF(name)`` after the one line starting ``after[name]``."""
    lines = model.split("\n")
    for name, start in after.items():
        [at] = [i for i, line in enumerate(lines) if line.strip().startswith(start)]
        indent = lines[at][:len(lines[at]) - len(lines[at].lstrip())]
        lines.insert(at + 1, f"{indent}{name} = ROUND_OFF({name})")
    return "\n".join(lines)


# The student model of test_checks_and_grading, its h0 and dh passed through ROUND_OFF,
# and a sampler written here
MODEL = _with_round_off(STUDENT_MODEL, h0="h0 = features @", dh="dh, grads[") + """
    def sample(self, features, max_length=30):
        p = self.params
        N = features.shape[0]
        captions = np.full((N, max_length), self._null, dtype=np.int32)
        h = ROUND_OFF(features @ p["W_proj"] + p["b_proj"])
        c = np.zeros_like(h)
        word = np.full((N, 1), self._start)
        for t in range(max_length):
            x, _ = word_embedding_forward(word, p["W_embed"])
            if self.cell_type == "lstm":
                h, c, _ = lstm_step_forward(x[:, 0], h, c, p["Wx"], p["Wh"], p["b"])
            else:
                h, _ = rnn_step_forward(x[:, 0], h, p["Wx"], p["Wh"], p["b"])
            word = (h @ p["W_vocab"] + p["b_vocab"]).argmax(axis=1)[:, None]
            captions[:, t] = word[:, 0]
        return captions
"""


def _model(round_off=None, **own):
    """A right model over the notebook's layers (``own`` replaces some, e.g. broken ones)."""
    names = {k: R[k] for k in ("rnn_forward", "rnn_backward", "word_embedding_forward",
                               "word_embedding_backward", "rnn_step_forward")}
    names.update(own)
    rng = np.random.default_rng(0)
    noise = (lambda a: a) if round_off is None else \
        (lambda a: a * (1 + round_off * rng.standard_normal(a.shape)))
    return notebook(MODEL, ReferenceModel=ref.CaptioningRNN, ROUND_OFF=noise,
                    temporal_affine_forward=temporal_affine_forward,
                    temporal_affine_backward=temporal_affine_backward,
                    temporal_softmax_loss=temporal_softmax_loss, **names)


def test_a_right_model_over_a_wrong_embedding_keeps_its_points(references):
    def wrong(x, W):  # one row off: W[x + 1]
        return W[(x + 1) % W.shape[0]], None
    ns = _model(word_embedding_forward=wrong)
    assert graded("word_embedding_forward", wrong, ns, references).score == 0
    assert graded("captioning_loss", ns["CaptioningRNN"], ns, references).score == 18.0


def _broken(*args):
    raise ValueError("my sequence layer is broken")


def test_arguments_computed_with_another_rounding_still_get_the_recorded_results(references):
    """h0 and dh off by 1e-12 (relative, another BLAS): the stubs still answer, so a model
    whose own sequence layers are broken keeps the loss's points; off by 1e-5 they do not."""
    broken = {"rnn_forward": _broken, "rnn_backward": _broken}
    ns = _model(round_off=1e-12, **broken)
    assert graded("captioning_loss", ns["CaptioningRNN"], ns, references).score == 18.0
    ns = _model(round_off=1e-5, **broken)  # every output needs h: no stub gives it now
    score = graded("captioning_loss", ns["CaptioningRNN"], ns, references)
    assert score.score == 0.0, "\n".join(score.lines)


def test_a_right_sampler_over_a_wrong_step_keeps_its_points(references):
    wrong = next(m.impl for m in MISTAKES if m.unit == "rnn_step_forward")
    ns = _model(round_off=1e-12, rnn_step_forward=wrong)
    assert graded("rnn_step_forward", wrong, ns, references).score == 0
    assert graded("captioning_sample", ns["CaptioningRNN"], ns, references).score == 4.0


# ---------------------------------------------------------------- section 5.3


class Hostile(np.ndarray):
    """An ndarray subclass whose methods lie and whose size is absurd."""

    size = 0

    def astype(self, *a, **k):
        raise MemoryError("astype")

    def __eq__(self, other):
        raise MemoryError("==")

    def __array_finalize__(self, obj):
        pass


def _generator():
    yield from range(3)


STRANGE = {  # what lstm_forward returns as h (its cache is right); are the numbers right?
    "giant broadcast view": (lambda h: np.broadcast_to(h, (10 ** 7,) + h.shape), False),
    "monstrous shape": (lambda h: np.broadcast_to(0.0, (2 ** 20, 2 ** 20, 4)), False),
    "object array": (lambda h: h.astype(object), False),
    "generator": (lambda h: _generator(), False),
    "list of arrays": (lambda h: [h] * 10, False),
    "nested list too long": (lambda h: [[0.0] * 1000] * 2000, False),
    "hostile subclass, right numbers": (lambda h: h.view(Hostile), True),
}


def _strange_forward(make):
    def lstm_forward(x, h0, Wx, Wh, b):
        h, cache = R["lstm_forward"](x, h0, Wx, Wh, b)
        return make(h), cache  # the cache is right
    return lstm_forward


# 2,000 lists of 1,000 floats are walked in Python (to count them) at every call
SLOW_KINDS = ("nested list too long",)


@pytest.mark.parametrize("kind", [pytest.param(k, marks=pytest.mark.slow) if k in SLOW_KINDS
                                  else k for k in STRANGE])
def test_a_strange_forward_output_costs_that_forward_pass_only(kind, references):
    make, right = STRANGE[kind]
    ns = dict(R, lstm_forward=_strange_forward(make))
    score = graded("lstm_forward", ns["lstm_forward"], ns, references)
    assert score.score == (4.0 if right else 0.0), "\n".join(score.lines)
    score = graded("lstm_backward", ns["lstm_backward"], ns, references)
    assert score.score == 10.0, "\n".join(score.lines)


@pytest.mark.parametrize("kind", list(STRANGE))
def test_a_strange_output_never_stops_a_check_while_grading(kind, monkeypatch, capsys):
    make, right = STRANGE[kind]
    forward = _strange_forward(make)
    # a student's own run: a clear AssertionError, never MemoryError or TypeError
    if right:
        check_unit("lstm_forward", forward)
    else:
        with pytest.raises(AssertionError):
            check_unit("lstm_forward", forward)
    check_unit("lstm_backward", R["lstm_backward"])  # on the stored cache: right
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    for unit, obj in (("lstm_forward", forward), ("lstm_backward", R["lstm_backward"])):
        assert check_unit(unit, obj) is None
        assert check_unit(unit, obj, graded=True) is None
    out = capsys.readouterr().out
    assert "not repeated while grading" in out


def test_a_giant_output_is_not_copied():
    view = np.broadcast_to(1.0, (10 ** 9, 10 ** 3))  # 8 TB if it were copied
    got = to_host(view)
    assert isinstance(got, TooLarge) and got.shape == view.shape
    verdict = checks.compare("h", got, np.zeros((2, 3)), 1e-6)
    assert not verdict.ok and "too many to check" in verdict.problem
    assert to_host([[1.0, 2.0], [3.0, 4.0]]).shape == (2, 2)  # plain lists still count
    gen = _generator()
    assert to_host(gen) is gen


def test_an_old_grading_inputs_file_is_refused_with_a_clear_message(grading_inputs, tmp_path,
                                                                    monkeypatch):
    with np.load(grading_inputs, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    import json
    index = json.loads(bytes(arrays["__index__"]).decode())
    index["version"] = 2  # sealed replay entries without caches, or caches with plain replay
    arrays["__index__"] = np.frombuffer(json.dumps(index).encode(), dtype=np.uint8)
    old = tmp_path / "old_inputs.npz"
    np.savez(old, **arrays)
    monkeypatch.setenv(INPUTS_ENV, str(old))
    with pytest.raises(kernel.GradingSetupError, match="built by another version of the grader"):
        kernel.grade_unit("rnn_forward", R["rnn_forward"], dict(R))
    assert os.environ[INPUTS_ENV] == str(old)
