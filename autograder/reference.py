"""Reference solution (the answer key): vanilla RNN, word embedding, LSTM, CaptioningRNN.

Instructor-only. Every function the students write in the notebooks is here,
with the exact names, signatures, shapes and return tuples of the standard
Stanford captioning assignment (SPEC section 3). Hidden reference outputs and
gradients are computed from this module in float64; the notebook solution
regions are checked against it.

Conventions
-----------
* Shapes: N minibatch, T time steps, D input size, H hidden size,
  V vocabulary size, W word-vector size.
* Every layer is a ``*_forward -> out, cache`` / ``*_backward(dout, cache)``
  pair. The caches are the named tuples of ``assignment.caches`` (the students
  have the same types); they hold references (and views), never copies, and
  backward passes never modify their inputs. Backward units are graded on
  caches made by these forward passes on hidden inputs.
* LSTM gates are stacked in one matrix in the order i, f, o, g: columns
  [0:H] input gate, [H:2H] forget gate, [2H:3H] output gate, [3H:4H] the
  candidate cell value g.
* All array arithmetic goes through ``xp`` (assignment.backend), so the same
  code runs on NumPy or CuPy; ``np`` is only used for dtypes and for drawing
  the initial weights on the host.
"""

from __future__ import annotations

import numbers

import numpy as np

from assignment import backend
from assignment.backend import scatter_add, xp
from assignment.caches import LSTMCache, LSTMStepCache, RNNCache, RNNStepCache, WordEmbeddingCache
from assignment.layers import (
    sigmoid,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
)

__all__ = [
    "rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward",
    "word_embedding_forward", "word_embedding_backward",
    "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
    "CaptioningRNN",
]


# --------------------------------------------------------------------- vanilla RNN


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One time step of a vanilla RNN: next_h = tanh(x Wx + prev_h Wh + b).

    Inputs:
        x: (N, D) inputs at this time step
        prev_h: (N, H) hidden state from the previous time step
        Wx: (D, H) input-to-hidden weights
        Wh: (H, H) hidden-to-hidden weights
        b: (H,) biases
    Returns:
        next_h: (N, H) next hidden state
        cache: RNNStepCache for the backward pass
    """
    next_h = xp.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, RNNStepCache(x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    """Backward pass of :func:`rnn_step_forward`.

    Inputs:
        dnext_h: (N, H) gradient of the loss with respect to next_h
        cache: RNNStepCache
    Returns:
        dx: (N, D)
        dprev_h: (N, H)
        dWx: (D, H)
        dWh: (H, H)
        db: (H,)
    """
    x, prev_h, Wx, Wh, next_h = cache
    # tanh'(a) = 1 - tanh(a)**2, and tanh(a) is next_h, which we kept
    da = dnext_h * (1 - next_h * next_h)  # (N, H) gradient of the pre-activation
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)  # b is added to every row of the batch
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    """A vanilla RNN over a whole sequence: T steps of :func:`rnn_step_forward`.

    Inputs:
        x: (N, T, D) input sequences
        h0: (N, H) initial hidden state
        Wx: (D, H) input-to-hidden weights
        Wh: (H, H) hidden-to-hidden weights
        b: (H,) biases
    Returns:
        h: (N, T, H) hidden states at every time step
        cache: RNNCache for the backward pass
    """
    N, T, _ = x.shape
    H = h0.shape[1]
    h = xp.empty((N, T, H), dtype=xp.result_type(x.dtype, h0.dtype, Wx.dtype, Wh.dtype, b.dtype))
    prev_h = h0
    for t in range(T):
        h[:, t], _ = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        prev_h = h[:, t]
    return h, RNNCache(x, h0, Wx, Wh, h)


def rnn_backward(dh, cache):
    """Backpropagation through time for :func:`rnn_forward`.

    The weights are shared by all time steps, so their gradients are summed
    over time. The gradient reaching h_t comes from two places: the loss at
    step t (``dh[:, t]``) and the next step (through ``prev_h``).

    Inputs:
        dh: (N, T, H) upstream gradients of all hidden states
        cache: RNNCache
    Returns:
        dx: (N, T, D)
        dh0: (N, H)
        dWx: (D, H)
        dWh: (H, H)
        db: (H,)
    """
    N, T, _ = dh.shape
    x, _, Wx, Wh, _ = cache
    dx = xp.empty(x.shape, dtype=xp.result_type(dh.dtype, Wx.dtype))
    dWx = xp.zeros_like(Wx, dtype=dx.dtype)
    dWh = xp.zeros_like(Wh, dtype=dx.dtype)
    db = xp.zeros(Wh.shape[1], dtype=dx.dtype)
    dprev_h = xp.zeros_like(dh[:, 0])  # nothing flows back from after the last step
    for t in reversed(range(T)):
        dx[:, t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev_h, cache.step(t))
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


# ------------------------------------------------------------------ word embedding


def word_embedding_forward(x, W):
    """Look up the vector of every word: out[n, t] = W[x[n, t]].

    Inputs:
        x: (N, T) integer word indices, 0 <= x < V
        W: (V, W) word vectors, one row per word of the vocabulary
    Returns:
        out: (N, T, W) word vectors
        cache: WordEmbeddingCache
    """
    return W[x], WordEmbeddingCache(x, W)


def word_embedding_backward(dout, cache):
    """Backward pass of :func:`word_embedding_forward`.

    A word used several times in the minibatch gets the sum of the gradients
    of all its occurrences, so a plain ``dW[x] += dout`` (which keeps only one
    of them) is wrong; scatter_add accumulates them (np.add.at / cupyx).

    Inputs:
        dout: (N, T, W) upstream gradients
        cache: WordEmbeddingCache
    Returns:
        dW: (V, W) gradient of the embedding matrix; zero for unused words
    """
    x, W = cache
    dW = xp.zeros(W.shape, dtype=xp.result_type(dout.dtype, W.dtype))
    scatter_add(dW, x, dout)
    return dW


# --------------------------------------------------------------------------- LSTM


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One time step of an LSTM.

    a = x Wx + prev_h Wh + b is split into four (N, H) blocks, in the order
    i, f, o, g:
        i = sigmoid(a_i)   how much of the candidate to write
        f = sigmoid(a_f)   how much of the old cell to keep
        o = sigmoid(a_o)   how much of the cell to show
        g = tanh(a_g)      candidate cell value
        next_c = f * prev_c + i * g
        next_h = o * tanh(next_c)

    Inputs:
        x: (N, D) inputs at this time step
        prev_h: (N, H) previous hidden state
        prev_c: (N, H) previous cell state
        Wx: (D, 4H) input-to-hidden weights
        Wh: (H, 4H) hidden-to-hidden weights
        b: (4H,) biases
    Returns:
        next_h: (N, H)
        next_c: (N, H)
        cache: LSTMStepCache
    """
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b  # (N, 4H): one matmul each for all four gates
    ifo = sigmoid(a[:, :3 * H])   # the three sigmoid gates in one call
    i, f, o = ifo[:, :H], ifo[:, H:2 * H], ifo[:, 2 * H:]
    g = xp.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    tanh_c = xp.tanh(next_c)
    next_h = o * tanh_c
    return next_h, next_c, LSTMStepCache(x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass of :func:`lstm_step_forward`.

    Inputs:
        dnext_h: (N, H) gradient of the loss with respect to next_h
        dnext_c: (N, H) gradient of the loss with respect to next_c
        cache: LSTMStepCache
    Returns:
        dx: (N, D)
        dprev_h: (N, H)
        dprev_c: (N, H)
        dWx: (D, 4H)
        dWh: (H, 4H)
        db: (4H,)
    """
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
    H = prev_h.shape[1]
    # next_c reaches the loss directly and through next_h = o * tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tanh_c * tanh_c)
    # gradient of the pre-activations a, block by block (gate order i, f, o, g);
    # sigmoid'(a) = s(1 - s) and tanh'(a) = 1 - tanh(a)**2 from the cached outputs
    da = xp.empty((x.shape[0], 4 * H), dtype=dc.dtype)
    da[:, :H] = (dc * g) * i * (1 - i)
    da[:, H:2 * H] = (dc * prev_c) * f * (1 - f)
    da[:, 2 * H:3 * H] = (dnext_h * tanh_c) * o * (1 - o)
    da[:, 3 * H:] = (dc * i) * (1 - g * g)
    dprev_c = dc * f
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    """An LSTM over a whole sequence; the initial cell state is zero.

    Inputs:
        x: (N, T, D) input sequences
        h0: (N, H) initial hidden state
        Wx: (D, 4H) input-to-hidden weights
        Wh: (H, 4H) hidden-to-hidden weights
        b: (4H,) biases
    Returns:
        h: (N, T, H) hidden states at every time step
        cache: LSTMCache
    """
    N, T, _ = x.shape
    H = h0.shape[1]
    dtype = xp.result_type(x.dtype, h0.dtype, Wx.dtype, Wh.dtype, b.dtype)
    h = xp.empty((N, T, H), dtype=dtype)
    prev_h, prev_c = h0, xp.zeros((N, H), dtype=dtype)
    steps = []
    for t in range(T):
        h[:, t], prev_c, step_cache = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        # the step cache keeps a view of h[:, t - 1] as prev_h: nothing is stored twice
        prev_h = h[:, t]
        steps.append(step_cache)
    return h, LSTMCache(steps)


def lstm_backward(dh, cache):
    """Backpropagation through time for :func:`lstm_forward`.

    Inputs:
        dh: (N, T, H) upstream gradients of all hidden states
        cache: LSTMCache
    Returns:
        dx: (N, T, D)
        dh0: (N, H)
        dWx: (D, 4H)
        dWh: (H, 4H)
        db: (4H,)
    """
    N, T, H = dh.shape
    first = cache.steps[0]
    D = first.x.shape[1]
    dtype = xp.result_type(dh.dtype, first.Wx.dtype)
    dx = xp.empty((N, T, D), dtype=dtype)
    dWx = xp.zeros((D, 4 * H), dtype=dtype)
    dWh = xp.zeros((H, 4 * H), dtype=dtype)
    db = xp.zeros(4 * H, dtype=dtype)
    # nothing flows back from after the last step
    dprev_h = xp.zeros((N, H), dtype=dtype)
    dprev_c = xp.zeros((N, H), dtype=dtype)
    for t in reversed(range(T)):
        dx[:, t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t] + dprev_h, dprev_c, cache.steps[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    # dprev_c now holds the gradient of c0, which is a constant zero: dropped
    return dx, dprev_h, dWx, dWh, db


# ---------------------------------------------------------------- captioning model

_SEQUENCE_LAYERS = {"rnn": (rnn_forward, rnn_backward), "lstm": (lstm_forward, lstm_backward)}
# sample() stops once every caption has ended; the grader's replay recorder runs
# every step (autograder.hidden_cases), for samplers that do not stop early
_SAMPLE_STOPS_EARLY = True


class CaptioningRNN:
    """Image captioning with a recurrent network.

    The image feature vector sets the initial hidden state, h0 = features
    W_proj + b_proj; at every step the network reads the embedding of the
    previous word and scores every word of the vocabulary for the next one.

    Parameters (in ``self.params``, on the active backend):
        W_embed (V, W), W_proj (D, H), b_proj (H,), Wx (W, H) or (W, 4H),
        Wh (H, H) or (H, 4H), b (H,) or (4H,), W_vocab (H, V), b_vocab (V,)

    Arguments:
        word_to_idx: dict word -> index for V words (indices below V). It
            must contain '<NULL>'; sample() also needs '<START>' and '<END>'.
            (The loss alone does not, so the standard loss-check cells with
            the vocabulary {'<NULL>': 0, 'cat': 2, 'dog': 3} keep working.)
        input_dim: D, size of the image features
        wordvec_dim: W, size of the word vectors
        hidden_dim: H, size of the hidden state
        cell_type: 'rnn' or 'lstm'
        dtype: float dtype of the parameters (float32 to train, float64 to
            check gradients)
        seed: seed of the initial weights (``numpy.random.default_rng``)
    """

    CELL_TYPES = ("rnn", "lstm")

    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128,
                 cell_type="rnn", dtype=np.float32, seed=None):
        if cell_type not in self.CELL_TYPES:
            raise ValueError(f"cell_type must be 'rnn' or 'lstm', got {cell_type!r}.")
        _check_vocabulary(word_to_idx, ("<NULL>",))
        for name, value in (("input_dim", input_dim), ("wordvec_dim", wordvec_dim),
                            ("hidden_dim", hidden_dim)):
            _check_positive_int(name, value)
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"dtype must be a floating-point type (np.float32 or np.float64), "
                            f"got {dtype}.")

        self.cell_type = cell_type
        self.dtype = dtype
        self.word_to_idx = word_to_idx
        self.idx_to_word = {i: w for w, i in word_to_idx.items()}
        self.input_dim, self.wordvec_dim, self.hidden_dim = input_dim, wordvec_dim, hidden_dim
        self._null = word_to_idx["<NULL>"]
        self._start = word_to_idx.get("<START>")  # only sample() needs these two
        self._end = word_to_idx.get("<END>")

        V, D, W, H = len(word_to_idx), input_dim, wordvec_dim, hidden_dim
        G = 4 * H if cell_type == "lstm" else H  # the LSTM stacks its four gates
        # Drawn on the host from a private generator (no global seed), in a
        # fixed order, so a seed gives the same model on NumPy and CuPy.
        rng = np.random.default_rng(seed)
        host = {
            "W_embed": rng.standard_normal((V, W)) / 100,
            "W_proj": rng.standard_normal((D, H)) / np.sqrt(D),
            "b_proj": np.zeros(H),
            "Wx": rng.standard_normal((W, G)) / np.sqrt(W),
            "Wh": rng.standard_normal((H, G)) / np.sqrt(H),
            "b": np.zeros(G),
            "W_vocab": rng.standard_normal((H, V)) / np.sqrt(H),
            "b_vocab": np.zeros(V),
        }
        if cell_type == "lstm":
            host["b"][H:2 * H] = 1.0  # forget-gate bias 1: the cell remembers by default
        self.params = {k: backend.asarray(v, dtype=dtype) for k, v in host.items()}

    # ------------------------------------------------------------------ training

    def loss(self, features, captions):
        """Loss and gradients on a minibatch of images and their captions.

        The network reads captions[:, :-1] (starting with <START>) and must
        predict captions[:, 1:] (the next word at every step); steps whose
        target is <NULL> padding do not count.

        Inputs:
            features: (N, D) image features
            captions: (N, T + 1) integer word indices, T >= 1
        Returns:
            loss: scalar, summed over time and averaged over the minibatch
                (a 0-d array on the active backend: ``float(loss)`` reads it)
            grads: dict with the gradient of every entry of ``self.params``
        """
        features = self._check_features(features)
        captions = backend.asarray(captions)
        N = features.shape[0]
        if captions.ndim != 2 or captions.shape[0] != N or captions.shape[1] < 2:
            raise ValueError(
                f"captions must have shape (N, T + 1) = ({N}, at least 2) to match the "
                f"{N} feature rows, got shape {tuple(captions.shape)}.")
        if captions.dtype.kind not in "iu":
            raise TypeError(f"captions must be an integer array of word indices, got dtype "
                            f"{captions.dtype}.")

        p = self.params
        captions_in = captions[:, :-1]   # what the network reads
        captions_out = captions[:, 1:]   # what it must predict
        mask = captions_out != self._null

        forward, backward = _SEQUENCE_LAYERS[self.cell_type]
        h0 = features @ p["W_proj"] + p["b_proj"]                                   # (N, H)
        x, embed_cache = word_embedding_forward(captions_in, p["W_embed"])         # (N, T, W)
        h, rnn_cache = forward(x, h0, p["Wx"], p["Wh"], p["b"])                     # (N, T, H)
        scores, vocab_cache = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])  # (N, T, V)
        loss, dscores = temporal_softmax_loss(scores, captions_out, mask)

        grads = {}
        dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, vocab_cache)
        dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = backward(dh, rnn_cache)
        grads["W_embed"] = word_embedding_backward(dx, embed_cache)
        # the features are fixed inputs, so only the projection's weights need a gradient
        grads["W_proj"] = features.T @ dh0
        grads["b_proj"] = dh0.sum(axis=0)
        return loss, grads

    # ------------------------------------------------------------------ sampling

    def sample(self, features, max_length=30):
        """Greedy captions: start from <START>, feed back the highest-scoring word.

        Once a row has produced <END>, the rest of that row is <NULL>;
        sampling stops early when every row has ended.

        Inputs:
            features: (N, D) image features
            max_length: length of the captions to produce
        Returns:
            captions: (N, max_length) NumPy int32 array on the host; the
                <START> token is not included, <END> is
        """
        _check_vocabulary(self.word_to_idx, ("<START>", "<END>"), purpose="to sample captions")
        features = self._check_features(features)
        if isinstance(max_length, bool) or not isinstance(max_length, numbers.Integral) \
                or max_length < 1:
            raise ValueError(f"max_length must be a positive integer, got {max_length!r}.")
        p = self.params
        N = features.shape[0]

        captions = xp.full((N, max_length), self._null, dtype=xp.int32)
        h = features @ p["W_proj"] + p["b_proj"]
        c = xp.zeros_like(h)
        word = xp.full(N, self._start, dtype=xp.int32)
        ended = xp.zeros(N, dtype=bool)
        for t in range(max_length):
            x = p["W_embed"][word]  # (N, W)
            if self.cell_type == "lstm":
                h, c, _ = lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
            else:
                h, _ = rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"])
            scores = h @ p["W_vocab"] + p["b_vocab"]  # (N, V)
            word = scores.argmax(axis=1).astype(xp.int32)
            captions[:, t] = xp.where(ended, self._null, word)
            ended |= word == self._end
            if _SAMPLE_STOPS_EARLY and bool(ended.all()):  # one scalar read per step; saves
                break                                      # the remaining steps
        return backend.to_numpy(captions)

    # ------------------------------------------------------------------ validation

    def _check_features(self, features):
        """Features as a (N, input_dim) array of the model's dtype on the active backend."""
        features = backend.asarray(features)
        if features.ndim != 2 or features.shape[1] != self.input_dim:
            raise ValueError(
                f"features must have shape (N, input_dim) = (N, {self.input_dim}), got shape "
                f"{tuple(features.shape)}.")
        if features.dtype.kind != "f":
            raise TypeError(f"features must be a floating-point array, got dtype {features.dtype}.")
        return features.astype(self.dtype, copy=False)  # no copy when the dtype already matches


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def _check_vocabulary(word_to_idx, required, purpose=""):
    if not isinstance(word_to_idx, dict):
        raise TypeError(f"word_to_idx must be a dict word -> index, got "
                        f"{type(word_to_idx).__name__}.")
    missing = [w for w in required if w not in word_to_idx]
    if missing:
        raise ValueError(f"word_to_idx must contain the special token(s) {', '.join(required)}"
                         f"{' ' + purpose if purpose else ''}; missing: {', '.join(missing)}.")
