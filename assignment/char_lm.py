"""Training and evaluating the character-level language model (the loop around your layers).

    params = init_char_lm(vocab_size=65, hidden_size=128, num_layers=1, cell_type="lstm")
    trainer = CharLMTrainer(params, truncated_bptt_step, ChunkIterator(train, 32, 50),
                            cell_type="lstm", learning_rate=2e-3, clip=None, carry_state=True)
    trainer.train(num_iterations=500)
    bits_per_character(multilayer_forward, params, val, "lstm")

The model: the one-hot code of each character goes into a stack of L recurrent
layers (``multilayer_forward``), the top layer's hidden state into an affine
layer that scores the V characters (``W_out``, ``b_out``), and a softmax. Its
parameters are one dict of arrays on the active backend:

    Wx0 (V, G*H)  Wxs (L-1, H, G*H)  Whs (L, H, G*H)  bs (L, G*H)  W_out (H, V)  b_out (V,)

with G = 1, 4, 3 gate blocks for 'rnn', 'lstm', 'gru'. ``PARAM_NAMES`` is
their order in the arguments and results of ``truncated_bptt_step``.

The trainer walks the text with a ``ChunkIterator``: each iteration is one
chunk of B streams, ``truncated_bptt_step`` gives the loss, the gradients and
the state after the chunk; that state starts the next chunk
(``carry_state=True``) or is thrown away for zeros (``carry_state=False``). At
the start of every pass over the text the state is zero. ``clip``, when given,
is applied to the gradients before the update, e.g.
``clip=lambda grads: clip_by_global_norm(grads, 5.0)``.
"""

from __future__ import annotations

import math

import numpy as np

from . import optim
from .backend import asarray, to_numpy, xp
from .progress import progress_bar

__all__ = ["GATES", "PARAM_NAMES", "init_char_lm", "CharLMTrainer", "bits_per_character",
           "hidden_states"]

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
PARAM_NAMES = ("Wx0", "Wxs", "Whs", "bs", "W_out", "b_out")


def _check_cell_type(cell_type):
    if cell_type not in GATES:
        raise ValueError(f"cell_type must be one of {', '.join(map(repr, GATES))}, got {cell_type!r}")


def init_char_lm(vocab_size, hidden_size, num_layers=1, cell_type="lstm", seed=0,
                 dtype=np.float32, weight_scale=1.0):
    """Parameters of a character language model (a dict of arrays on the active backend).

    Weights are drawn from N(0, weight_scale**2 / fan_in), biases are zero
    except the LSTM's forget-gate block (gate order i, f, o, g), which starts
    at 1 so that the cell keeps its content at first.
    """
    _check_cell_type(cell_type)
    for name, value in (("vocab_size", vocab_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    rng = np.random.default_rng(seed)
    V, H, L, G = vocab_size, hidden_size, num_layers, GATES[cell_type]
    params = {
        "Wx0": weight_scale * rng.standard_normal((V, G * H)),  # fan-in 1: one-hot inputs
        "Wxs": weight_scale * rng.standard_normal((L - 1, H, G * H)) / math.sqrt(H),
        "Whs": weight_scale * rng.standard_normal((L, H, G * H)) / math.sqrt(H),
        "bs": np.zeros((L, G * H)),
        "W_out": rng.standard_normal((H, V)) / math.sqrt(H),
        "b_out": np.zeros(V),
    }
    if cell_type == "lstm":
        params["bs"][:, H:2 * H] = 1.0
    return {name: asarray(value, dtype=dtype) for name, value in params.items()}


def _zero_state(params, batch_size):
    L, H = params["Whs"].shape[:2]
    return (xp.zeros((L, batch_size, H), dtype=params["Whs"].dtype),
            xp.zeros((L, batch_size, H), dtype=params["Whs"].dtype))


class CharLMTrainer:
    """Truncated BPTT with Adam (or another rule of ``assignment.optim``) over a ChunkIterator.

    After ``train``: ``loss_history`` (bits per character of every chunk),
    ``grad_norm_history`` (global gradient norm before clipping), and
    ``diverged_at`` (the iteration whose loss was not finite, where training
    stopped; None if it did not happen).
    """

    def __init__(self, params, chunk_step, chunks, cell_type, learning_rate=2e-3,
                 update_rule="adam", clip=None, carry_state=True, progress=True):
        _check_cell_type(cell_type)
        missing = [name for name in PARAM_NAMES if name not in params]
        if missing:
            raise KeyError(f"params lacks {', '.join(missing)}; make it with init_char_lm().")
        if update_rule not in ("adam", "sgd"):
            raise ValueError(f"update_rule must be 'adam' or 'sgd', got {update_rule!r}")
        self.params, self.chunk_step, self.chunks = params, chunk_step, chunks
        self.cell_type, self.clip, self.carry_state = cell_type, clip, bool(carry_state)
        self.update_rule = getattr(optim, update_rule)
        self.configs = {name: {"learning_rate": learning_rate} for name in PARAM_NAMES}
        self.progress = progress
        self.loss_history, self.grad_norm_history = [], []
        self.diverged_at = None
        self.iteration = 0

    def train(self, num_iterations):
        """Run ``num_iterations`` chunks (continuing where the last call stopped)."""
        state = _zero_state(self.params, self.chunks.batch_size)
        bar = progress_bar(range(num_iterations), desc="training", unit="chunk",
                           disable=not self.progress, leave=True)
        for _ in bar:
            k = self.iteration % len(self.chunks)
            if k == 0 or not self.carry_state:
                state = _zero_state(self.params, self.chunks.batch_size)
            inputs, targets = (asarray(a) for a in self.chunks.chunk(k))
            loss, *grads, next_h, next_c = self.chunk_step(
                inputs, targets, *state, *(self.params[name] for name in PARAM_NAMES), self.cell_type)
            state = (next_h, next_c)
            self.iteration += 1
            bits = float(loss) / math.log(2)
            self.loss_history.append(bits)
            self.grad_norm_history.append(math.sqrt(sum(float((g * g).sum()) for g in grads)))
            if not math.isfinite(bits):
                self.diverged_at = self.iteration
                break
            if self.clip is not None:
                grads, _ = self.clip(tuple(grads))
            for name, grad in zip(PARAM_NAMES, grads):
                self.params[name], self.configs[name] = self.update_rule(
                    self.params[name], grad, self.configs[name])
            if self.progress:
                bar.set_postfix(bits=f"{bits:.3f}", refresh=False)
        bar.close()
        return self.loss_history


def _stream_batches(encoded, streams):
    encoded = np.asarray(encoded)
    length = (len(encoded) - 1) // streams
    starts = np.arange(streams) * length
    window = encoded[starts[:, None] + np.arange(length + 1)]
    return window[:, :-1], window[:, 1:]


def _scores(forward, params, inputs, state, cell_type):
    V = params["Wx0"].shape[0]
    x = xp.eye(V, dtype=params["Wx0"].dtype)[asarray(inputs)]
    h, h_state, c_state, _ = forward(x, *state, *(params[name] for name in PARAM_NAMES[:4]), cell_type)
    return h, h @ params["W_out"] + params["b_out"], (h_state, c_state)


def bits_per_character(forward, params, encoded, cell_type, streams=8, chunk_length=100):
    """Average -log2 p(next character) of the model over a held-out text.

    The text is read as ``streams`` parallel pieces, each from a zero state,
    in chunks of ``chunk_length`` with the state carried between chunks.
    ``forward`` is ``multilayer_forward``.
    """
    inputs, targets = _stream_batches(encoded, streams)
    state = _zero_state(params, streams)
    total = 0.0
    for start in range(0, inputs.shape[1], chunk_length):
        _, scores, state = _scores(forward, params, inputs[:, start:start + chunk_length], state, cell_type)
        scores = to_numpy(scores).astype(np.float64)
        scores -= scores.max(axis=2, keepdims=True)
        log_p = scores - np.log(np.exp(scores).sum(axis=2, keepdims=True))
        chunk_targets = targets[:, start:start + chunk_length]
        total -= np.take_along_axis(log_p, chunk_targets[..., None], axis=2).sum()
    return total / targets.size / math.log(2)


def hidden_states(forward, params, encoded, cell_type, chunk_length=100):
    """(len(encoded), H) top-layer hidden state after each character of ``encoded``.

    One stream from a zero state, in chunks with the state carried.
    """
    encoded = np.asarray(encoded)
    state = _zero_state(params, 1)
    rows = []
    for start in range(0, len(encoded), chunk_length):
        h, _, state = _scores(forward, params, encoded[None, start:start + chunk_length], state, cell_type)
        rows.append(to_numpy(h[0]))
    return np.concatenate(rows).astype(np.float64)
