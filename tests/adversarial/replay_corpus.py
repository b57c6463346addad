"""Adversarial submissions about the replay tables and strange outputs (issue 9, sections 1 and 5.3).

``build_replay_corpus(source_dir, release_dir, out_dir)`` writes, like
``corpus.build_corpus``, one folder per student and returns student id ->
:class:`corpus.Expected` with the exact score of every autograded test cell.
Each student is the correct submission plus mutations placed so that the
expected score does not depend on how backward passes get their caches:

* readers of the replay tables: a sequence function that takes its output h
  from the recorded results of the step calls (through the replay stub's
  closure, or the grading-inputs file) instead of computing it, and a loss
  that takes the sequence and embedding gradients from the recorded results.
  The function still builds its cache by its own computation (so the
  backward units that use it are unaffected); only the output it read is
  judged. On the version-1 tables (plain results) each read the right
  values: 4 points per sequence, 8 more of the loss;
* one honest mistake: a wrong word_embedding_forward (one row off) with a
  right model: the embedding loses its points, the model keeps all of its;
* strange outputs: a forward pass that returns its output as a generator, an
  object array, a giant broadcast view or a monstrous broadcast shape, with
  its cache right: each costs that output only (the giant view from
  lstm_forward made lstm_backward's visible check raise MemoryError before
  its hidden part ran).
"""

from __future__ import annotations

from pathlib import Path

from adversarial.corpus import (
    BEGIN,
    END,
    LSTM,
    NOTEBOOKS,
    RNN,
    _at_region,
    _combined,
    _indented,
    _read,
    _scores,
    _Student,
    _write,
    solution_sources,
)
from assignment.units import UNITS

__all__ = ["build_replay_corpus"]


def _at_end(source, code, function=None):
    """Insert ``code`` at the end of a solution region (the one in ``def function`` if given)."""
    lines = source.split("\n")
    start = 0
    if function is not None:
        start = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith(f"def {function}("))
    begin = next(i for i in range(start, len(lines)) if lines[i].strip() == BEGIN)
    end = next(i for i in range(begin, len(lines)) if lines[i].strip() == END)
    indent = lines[end][:len(lines[end]) - len(lines[end].lstrip())]
    return "\n".join(lines[:end] + _indented(code, indent) + lines[end:])


# Cell-level helpers of a reader: every array reachable from a value (containers,
# attributes, {"array": key} references into ``arrays``, bytes read as float64), and h
# stacked from the last (N, H) float array of each recorded step call.
READ = '''
import numpy as _np


def _arrays_in(value, arrays, seen, depth=0):
    if id(value) in seen or depth > 8:
        return []
    seen.add(id(value))
    if isinstance(value, _np.ndarray):
        if value.dtype == _np.uint8 and value.size % 8 == 0:
            return [_np.frombuffer(value.tobytes(), dtype=_np.float64)]
        return [value]
    if isinstance(value, (bytes, bytearray)) and len(value) % 8 == 0:
        return [_np.frombuffer(bytes(value), dtype=_np.float64)]
    if isinstance(value, str):
        return [arrays[value]] if value in arrays else []
    if isinstance(value, dict):
        items = list(value.values())
    elif isinstance(value, (list, tuple)):
        items = list(value)
    elif hasattr(value, "__dict__") and type(value).__module__ not in ("builtins", "numpy"):
        items = list(vars(value).values())
    else:
        return []
    out = []
    for item in items:
        out += _arrays_in(item, arrays, seen, depth + 1)
    return out


def _stacked(calls, arrays, N, T, H):
    calls = getattr(calls, "items", calls)  # whatever holds the list of calls
    steps = []
    for call in calls:
        found = [a for a in _arrays_in(call, arrays, set())
                 if a.dtype == _np.float64 and a.size == N * H]
        if found:
            steps.append(found[-1].reshape(N, H))
    return _np.stack(steps, axis=1) if len(steps) == T else _np.zeros((N, T, H))


_READ_FILES = {}


def _table_of(stub):
    """The replay table in a stub's closure, or None (no stub: not graded with stubs now)."""
    for cell in getattr(stub, "__closure__", None) or ():
        if hasattr(cell.cell_contents, "calls"):
            return cell.cell_contents
    return None
'''


def _rnn_closure_reader(s, ctx):
    read = """
table = _table_of(globals().get("rnn_step_forward"))
read_h = _np.zeros((x.shape[0], x.shape[1], h0.shape[1]))
if table is not None:
    read_h = _stacked(table.calls.get("rnn_step_forward", []), getattr(table, "arrays", {}),
                      x.shape[0], x.shape[1], h0.shape[1])
"""
    s.edit_solution(RNN, "rnn_forward_solution", lambda src: _at_region(READ + "\n" + src, read))
    s.edit_solution(RNN, "rnn_forward_solution",
                    lambda src: _at_end(src, "h = read_h  # what the table gave, not h"))
    return ("rnn_forward reads its h from the recorded step results in the replay stub's "
            "closure (its cache is computed): rnn_forward 0, the rest full",
            dict(scores=_scores(test_rnn_forward=0), flagged=False,
                 present=((RNN, "h = read_h"),)))


def _lstm_file_reader(s, ctx):
    read = """
import json as _json
import os as _os
read_h = _np.zeros((x.shape[0], x.shape[1], h0.shape[1]))
_path = _os.environ.get("RNN_GRADING_INPUTS", "")
if _os.path.isfile(_path) and _path not in _READ_FILES:  # read once
    with _np.load(_path, allow_pickle=False) as _data:
        _arrays = {k: _data[k] for k in _data.files}
    _READ_FILES[_path] = (_arrays, _json.loads(bytes(_arrays.pop("__index__")).decode()))
if _path in _READ_FILES:
    _arrays, _index = _READ_FILES[_path]
    for _case in _index["units"]["lstm_forward"]["cases"]:
        if _np.array_equal(_arrays[_case["inputs"]["x"]], x):
            read_h = _stacked([c for c in _case["calls"] if c["fn"] == "lstm_step_forward"],
                              _arrays, x.shape[0], x.shape[1], h0.shape[1])
"""
    s.edit_solution(LSTM, "lstm_forward_solution", lambda src: _at_region(READ + "\n" + src, read))
    s.edit_solution(LSTM, "lstm_forward_solution",
                    lambda src: _at_end(src, "h = read_h  # what the file gave, not h"))
    return ("lstm_forward reads its h from the recorded step results in the grading-inputs "
            "file (its cache is computed): lstm_forward 0, the rest full",
            dict(scores=_scores(test_lstm_forward=0), flagged=False,
                 present=((LSTM, "h = read_h"),)))


def _loss_reader(s, ctx):
    code = """
# the sequence and embedding gradients from the recorded results, not from the layers
_name = "rnn_backward" if self.cell_type == "rnn" else "lstm_backward"
_table = _table_of(globals().get(_name))
_found = []
if _table is not None:
    for _fn in (_name, "word_embedding_backward"):
        for _call in getattr(_table.calls.get(_fn, []), "items", _table.calls.get(_fn, [])):
            _found += _arrays_in(_call[1:], getattr(_table, "arrays", {}), set())
for _k in ("Wx", "Wh", "b", "W_embed", "W_proj", "b_proj"):
    _shaped = [a for a in _found if a.shape == p[_k].shape]
    grads[_k] = _shaped[-1] if _shaped and _k not in ("W_proj", "b_proj") else 0 * p[_k]
"""
    s.edit_solution(RNN, "captioning_model_solution", lambda src: READ + "\n" + src)
    s.edit_solution(RNN, "captioning_model_solution", lambda src: _at_end(src, code, "loss"))
    unit = UNITS["captioning_loss"]
    kept = sum(unit.outputs[k] for k in ("loss", "dW_vocab", "db_vocab"))
    return ("CaptioningRNN.loss computes the loss and the vocabulary gradients, and takes "
            "every other gradient from the recorded results of the replay stubs: only the "
            f"computed outputs count, captioning_loss {kept:g}",
            dict(scores=_scores(test_captioning_loss=kept), flagged=False,
                 present=((RNN, "_table.calls.get(_fn"),)))


def _wrong_embedding(s, ctx):
    s.edit_solution(RNN, "word_embedding_forward_solution",
                    lambda src: _at_end(src, "out = W[(x + 1) % W.shape[0]]  # one row off"))
    return ("word_embedding_forward looks up the next row (its cache is right), the model is "
            "right: word_embedding_forward 0, captioning_loss and _sample full (the replay "
            "stubs stand in for the embedding)",
            dict(scores=_scores(test_word_embedding_forward=0), flagged=False,
                 present=((RNN, "one row off"),)))


def _strange_rnn(s, ctx):
    s.edit_solution(RNN, "rnn_step_forward_solution",
                    lambda src: _at_end(src, "next_h = (row for row in next_h)  # a generator"))
    return ("rnn_step_forward returns next_h as a generator (its cache is right): "
            "rnn_step_forward 0, rnn_forward, the model and the backward passes full",
            dict(scores=_scores(test_rnn_step_forward=0), flagged=False,
                 present=((RNN, "a generator"),)))


def _strange_lstm(s, ctx):
    s.edit_solution(LSTM, "lstm_forward_solution", lambda src: _at_end(
        src, "h = xp.broadcast_to(h, (10 ** 7,) + h.shape)  # a giant view (no memory)"))
    s.edit_solution(LSTM, "lstm_step_forward_solution", lambda src: _at_end(
        src, "next_c = xp.broadcast_to(xp.float64(0), (2 ** 20, 2 ** 20, 4))  # monstrous"))
    points = UNITS["lstm_step_forward"].outputs["next_h"]
    return ("lstm_forward returns h as a giant broadcast view, lstm_step_forward next_c of "
            "shape (2**20, 2**20, 4) (caches right): lstm_forward 0, lstm_step_forward only "
            "next_h's points, lstm_backward (whose visible check used to raise MemoryError "
            "before its hidden part ran) and the rest full",
            dict(scores=_scores(test_lstm_forward=0, test_lstm_step_forward=points),
                 flagged=False, present=((LSTM, "a giant view"),)))


MUTATIONS = {
    "r01-replay-readers": (_rnn_closure_reader, _lstm_file_reader),
    "r02-loss-reader-giant-lstm-outputs": (_loss_reader, _strange_lstm),
    "r03-wrong-embedding-generator-step": (_wrong_embedding, _strange_rnn),
}


def build_replay_corpus(source_dir: Path, release_dir: Path, out_dir: Path) -> dict:
    """Write every submission of MUTATIONS; return student id -> corpus.Expected."""
    release_dir = Path(release_dir).resolve()
    release = {name: _read(release_dir / f"{name}.ipynb") for name in NOTEBOOKS}
    solutions = solution_sources(source_dir)
    corpus = {}
    for student, mutations in MUTATIONS.items():
        s = _Student(release, solutions)
        expected = _combined([mutate(s, {}) for mutate in mutations])
        _write(s, Path(out_dir) / student)
        corpus[student] = expected
    return corpus
