"""The caches that forward passes return and backward passes read.

Every layer of the assignment is a pair ``*_forward(...) -> out, cache`` and
``*_backward(dout, cache) -> gradients``. The cache of each layer is one of
the named tuples below, with the field names and shapes of the standard
CS231n captioning assignment. Your forward pass returns one
(``RNNStepCache(x, prev_h, Wx, Wh, next_h)``), your backward pass reads it
(``x, prev_h, Wx, Wh, next_h = cache`` or ``cache.next_h``).

Why a fixed type: your backward pass is graded on caches that the grader
builds with a correct forward pass on hidden inputs, so that a mistake in
your forward pass costs only the forward pass's points. Your backward pass
must therefore read exactly these fields; store nothing else in them. (The
numerical gradient checks in the notebooks still run your own forward pass:
that is how you test the pair together.)

Shapes: N minibatch, T time steps, D input size, H hidden size, V
vocabulary size, W word-vector size, L layers.

Also here, for the check files and the grader: ``to_arrays`` and
``from_arrays`` (a cache as named arrays and back) and ``copy_cache`` (a
cache with fresh copies of every array).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

# Taken when this module is imported, before any student cell runs.
_array, _asarray = np.array, np.asarray

__all__ = ["RNNStepCache", "RNNCache", "WordEmbeddingCache", "LSTMStepCache", "LSTMCache",
           "GRUStepCache", "GRUCache", "MultilayerCache", "CACHE_TYPES", "to_arrays", "from_arrays", "copy_cache"]


class RNNStepCache(NamedTuple):
    """What ``rnn_step_backward`` needs from one step of ``rnn_step_forward``."""

    x: object       # (N, D) input at this step
    prev_h: object  # (N, H) previous hidden state
    Wx: object      # (D, H)
    Wh: object      # (H, H)
    next_h: object  # (N, H) tanh output: its derivative is 1 - next_h**2


class RNNCache(NamedTuple):
    """What ``rnn_backward`` needs from ``rnn_forward``: the whole sequence, stored once.

    ``cache.step(t)`` is the RNNStepCache of step t, made of views into these
    arrays, so no hidden state is stored twice.
    """

    x: object   # (N, T, D)
    h0: object  # (N, H)
    Wx: object  # (D, H)
    Wh: object  # (H, H)
    h: object   # (N, T, H) all hidden states

    def step(self, t):
        """The RNNStepCache of time step ``t`` (views, no copies)."""
        prev_h = self.h0 if t == 0 else self.h[:, t - 1]
        return RNNStepCache(self.x[:, t], prev_h, self.Wx, self.Wh, self.h[:, t])


class WordEmbeddingCache(NamedTuple):
    """What ``word_embedding_backward`` needs from ``word_embedding_forward``."""

    x: object  # (N, T) word indices
    W: object  # (V, W) embedding matrix (only its shape and dtype are needed)


class LSTMStepCache(NamedTuple):
    """What ``lstm_step_backward`` needs from one step of ``lstm_step_forward``."""

    x: object       # (N, D) input at this step
    prev_h: object  # (N, H) previous hidden state
    prev_c: object  # (N, H) previous cell state
    Wx: object      # (D, 4H)
    Wh: object      # (H, 4H)
    i: object       # (N, H) input gate, sigmoid
    f: object       # (N, H) forget gate, sigmoid
    o: object       # (N, H) output gate, sigmoid
    g: object       # (N, H) candidate cell value, tanh
    tanh_c: object  # (N, H) tanh(next_c)


class LSTMCache(NamedTuple):
    """What ``lstm_backward`` needs from ``lstm_forward``: the cache of every step, in order."""

    steps: list  # T LSTMStepCache


class GRUStepCache(NamedTuple):
    """What ``gru_step_backward`` needs from one step of ``gru_step_forward``."""

    x: object       # (N, D) input at this step
    prev_h: object  # (N, H) previous hidden state
    Wx: object      # (D, 3H) gate blocks in the order r, z, n
    Wh: object      # (H, 3H)
    r: object       # (N, H) reset gate, sigmoid
    z: object       # (N, H) update gate, sigmoid
    n: object       # (N, H) candidate state, tanh
    hn: object      # (N, H) prev_h @ Wh[:, 2H:], the part the reset gate scales


class GRUCache(NamedTuple):
    """What ``gru_backward`` needs from ``gru_forward``: the cache of every step, in order."""

    steps: list  # T GRUStepCache


class MultilayerCache(NamedTuple):
    """What ``multilayer_backward`` needs: the step caches of every layer, bottom layer first."""

    layers: list  # L lists of T step caches (RNNStepCache, LSTMStepCache or GRUStepCache)


CACHE_TYPES = {cls.__name__: cls for cls in (RNNStepCache, RNNCache, WordEmbeddingCache,
                                              LSTMStepCache, LSTMCache, GRUStepCache, GRUCache,
                                              MultilayerCache)}
_SEQUENCE_STEPS = {LSTMCache: LSTMStepCache, GRUCache: GRUStepCache}
_LAYER_STEPS = {cls.__name__: cls for cls in (RNNStepCache, LSTMStepCache, GRUStepCache)}


def to_arrays(cache) -> tuple[str, dict]:
    """(type name, {field path: NumPy array}) of a cache.

    The paths are the field names; an LSTMCache's and a GRUCache's are
    'steps.<t>.<field>', a MultilayerCache's 'layers.<l>.<t>.<step type>.<field>'.
    """
    kind = type(cache).__name__
    if CACHE_TYPES.get(kind) is not type(cache):
        raise TypeError(f"expected one of the cache types of assignment.caches "
                        f"({', '.join(CACHE_TYPES)}), got a {kind}")
    if type(cache) in _SEQUENCE_STEPS:
        step_type = _SEQUENCE_STEPS[type(cache)]
        if not cache.steps or not all(type(s) is step_type for s in cache.steps):
            raise TypeError(f"a {kind} holds a non-empty list of {step_type.__name__}")
        return kind, {f"steps.{t}.{name}": _asarray(value) for t, step in enumerate(cache.steps)
                      for name, value in zip(step._fields, step)}
    if isinstance(cache, MultilayerCache):
        if not cache.layers or not all(layer and all(type(s) in _LAYER_STEPS.values() for s in layer)
                                       for layer in cache.layers):
            raise TypeError("a MultilayerCache holds a non-empty list of non-empty lists of "
                            "RNNStepCache, LSTMStepCache or GRUStepCache")
        return kind, {f"layers.{l}.{t}.{type(step).__name__}.{name}": _asarray(value)
                      for l, layer in enumerate(cache.layers) for t, step in enumerate(layer)
                      for name, value in zip(step._fields, step)}
    return kind, {name: _asarray(value) for name, value in zip(cache._fields, cache)}


def from_arrays(kind: str, arrays: dict):
    """The cache of type ``kind`` from its arrays (as made by :func:`to_arrays`); no copies."""
    cls = CACHE_TYPES.get(kind)
    if cls is None:
        raise ValueError(f"unknown cache type {kind!r}; the types are {', '.join(CACHE_TYPES)}")
    try:
        if cls in _SEQUENCE_STEPS:
            step_type = _SEQUENCE_STEPS[cls]
            steps = len({key.split(".")[1] for key in arrays})
            return cls([step_type(*(arrays[f"steps.{t}.{name}"] for name in step_type._fields))
                        for t in range(steps)])
        if cls is MultilayerCache:
            return MultilayerCache(_layers_from_arrays(arrays))
        return cls(*(arrays[name] for name in cls._fields))
    except (KeyError, IndexError):
        raise ValueError(f"the arrays of this {kind} are incomplete: {sorted(arrays)}") from None


def copy_cache(cache):
    """The same cache with a fresh copy of every array (so a backward pass may scribble on it)."""
    kind, arrays = to_arrays(cache)
    return from_arrays(kind, {key: _array(value, copy=True) for key, value in arrays.items()})


def _layers_from_arrays(arrays: dict) -> list:
    """The lists of step caches of a MultilayerCache from its 'layers.<l>.<t>.<type>.<field>' arrays."""
    steps = {}  # (l, t) -> step type name
    for key in arrays:
        _, l, t, step_kind, _ = key.split(".")
        steps[int(l), int(t)] = step_kind
    layers = []
    for l in range(1 + max(l for l, _ in steps)):
        layer = []
        for t in range(1 + max(t for ll, t in steps if ll == l)):
            step_type = _LAYER_STEPS[steps[l, t]]
            layer.append(step_type(*(arrays[f"layers.{l}.{t}.{step_type.__name__}.{name}"]
                                     for name in step_type._fields)))
        layers.append(layer)
    return layers
