"""Known mistakes: the reference solution with one classic bug each, and the hint for it.

Instructor-only. Every entry of ``MISTAKES`` is a complete wrong
implementation of one unit with the standard API (a function, or a
CaptioningRNN subclass), so it runs exactly like a student's code. While the
check files are built (``hidden_cases.build_references``), each mistake is run
on every case and what it gives is stored next to the right answer; when a
student's output matches it, the feedback shows the hint. The test suite
uses the same implementations as buggy "students".

Hints say what the usual cause is and how to fix it, never a value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assignment.layers import (
    sigmoid,
    temporal_affine_backward,
    temporal_affine_forward,
    temporal_softmax_loss,
)

from . import reference as ref

__all__ = ["Mistake", "MISTAKES", "mistakes_for", "REFERENCE_FUNCTIONS"]

# The reference's functions by name: the notebook namespace of a student who
# wrote everything right (tests put a mistake next to them).
REFERENCE_FUNCTIONS = {name: getattr(ref, name) for name in ref.__all__}


@dataclass(frozen=True)
class Mistake:
    """One known wrong implementation of ``unit``."""

    unit: str
    name: str     # unique within the unit
    hint: str     # shown when a student's output matches this mistake's
    impl: object  # the wrong function, or CaptioningRNN subclass


# ------------------------------------------------------------------ vanilla RNN


def _rnn_step_forward(bug):
    def rnn_step_forward(x, prev_h, Wx, Wh, b):
        a = (x @ (Wx.T if bug == "transposed_Wx" else Wx)
             + prev_h @ (Wh.T if bug == "transposed_Wh" else Wh) + b)
        next_h = a if bug == "no_tanh" else np.tanh(a)
        return next_h, ref.RNNStepCache(x, prev_h, Wx, Wh, next_h)
    return rnn_step_forward


def _rnn_step_backward(bug):
    def rnn_step_backward(dnext_h, cache):
        x, prev_h, Wx, Wh, next_h = cache
        da = dnext_h if bug == "no_tanh_derivative" else dnext_h * (1 - next_h ** 2)
        dx = da @ (Wx if bug == "transposed_Wx" else Wx.T)
        dprev_h = da @ (Wh if bug == "transposed_Wh" else Wh.T)
        dWh = da.T @ prev_h if bug == "transposed_dWh" else prev_h.T @ da
        db = da.mean(axis=0) if bug == "db_averaged" else da.sum(axis=0)
        return dx, dprev_h, x.T @ da, dWh, db
    return rnn_step_backward


def _rnn_forward(bug):
    step = _rnn_step_forward(bug)

    def rnn_forward(x, h0, Wx, Wh, b):
        N, T, _ = x.shape
        h = np.empty((N, T, h0.shape[1]))
        prev_h = h0
        for t in range(T):
            h[:, t], _ = step(x[:, t], prev_h, Wx, Wh, b)
            if bug != "h_not_carried":
                prev_h = h[:, t]
        return h, ref.RNNCache(x, h0, Wx, Wh, h)
    return rnn_forward


def _through_time(step_backward, bug, dh, caches, n_state):
    """Backpropagation through time with a time-handling bug; caches[t] for each step.

    n_state: 1 for the RNN (dprev_h), 2 for the LSTM (dprev_h, dprev_c).
    Returns dx (list per step), the carried state gradients, and the weight gradients.
    """
    N, T, H = dh.shape
    carried = [np.zeros((N, H)) for _ in range(n_state)]
    dx, weights = [None] * T, None
    for t in reversed(range(T)):
        if bug == "carried_dropped":
            dnext_h = dh[:, t]
        elif bug == "upstream_ignored":
            dnext_h = dh[:, t] if t == T - 1 else carried[0]
        else:
            dnext_h = dh[:, t] + carried[0]
        state_in = [dnext_h] + ([np.zeros((N, H)) if bug == "dc_not_carried" else carried[1]]
                                if n_state == 2 else [])
        grads = step_backward(*state_in, caches[t])
        dx[t], carried = grads[0], list(grads[1:1 + n_state])
        step_weights = grads[1 + n_state:]
        if weights is None or bug == "overwrite_time":
            weights = [g.copy() for g in step_weights]
        elif bug != "only_last_step":
            weights = [w + g for w, g in zip(weights, step_weights)]
    return np.stack(dx, axis=1), carried[0], weights


def _rnn_backward(bug):
    step = _rnn_step_backward(bug)

    def rnn_backward(dh, cache):
        T = dh.shape[1]
        dx, dh0, (dWx, dWh, db) = _through_time(step, bug, dh, [cache.step(t) for t in range(T)], 1)
        return dx, dh0, dWx, dWh, db
    return rnn_backward


# --------------------------------------------------------------- word embedding


def word_embedding_backward_repeated_words_once(dout, cache):
    x, W = cache
    dW = np.zeros(W.shape)
    dW[x] += dout  # NumPy keeps one of the repeated indices: the classic bug
    return dW


# ------------------------------------------------------------------------- LSTM


def _lstm_step_forward(bug):
    def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
        H = prev_h.shape[1]
        a = x @ Wx + prev_h @ Wh + b
        blocks = [a[:, k * H:(k + 1) * H] for k in range(4)]
        if bug == "gate_order_ifgo":
            a_i, a_f, a_g, a_o = blocks
        else:
            a_i, a_f, a_o, a_g = blocks
        i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o)
        g = sigmoid(a_g) if bug == "sigmoid_g" else np.tanh(a_g)
        next_c = f * prev_c + i * g
        tanh_c = np.tanh(next_c)
        next_h = o * (next_c if bug == "no_tanh_c" else tanh_c)
        return next_h, next_c, ref.LSTMStepCache(x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)
    return lstm_step_forward


def _lstm_step_backward(bug):
    def lstm_step_backward(dnext_h, dnext_c, cache):
        x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
        dc = dnext_c if bug == "dc_without_h_path" else dnext_c + dnext_h * o * (1 - tanh_c ** 2)
        blocks = {"i": dc * g * i * (1 - i), "f": dc * prev_c * f * (1 - f),
                  "o": dnext_h * tanh_c * o * (1 - o), "g": dc * i * (1 - g * g)}
        da = np.concatenate([blocks[k] for k in ("ifgo" if bug == "gate_order_ifgo" else "ifog")],
                            axis=1)
        dprev_c = dc if bug == "dprev_c_without_f" else dc * f
        db = da.mean(axis=0) if bug == "db_averaged" else da.sum(axis=0)
        return da @ Wx.T, da @ Wh.T, dprev_c, x.T @ da, prev_h.T @ da, db
    return lstm_step_backward


def _lstm_forward(bug):
    step = _lstm_step_forward(bug)

    def lstm_forward(x, h0, Wx, Wh, b):
        N, T, _ = x.shape
        H = h0.shape[1]
        h = np.empty((N, T, H))
        c0 = h0 if bug == "c0_from_h0" else np.zeros((N, H))
        prev_h, prev_c, steps = h0, c0, []
        for t in range(T):
            h[:, t], next_c, cache = step(x[:, t], prev_h, prev_c, Wx, Wh, b)
            steps.append(cache)
            if bug != "state_not_carried":
                prev_h, prev_c = h[:, t], next_c
        return h, ref.LSTMCache(steps)
    return lstm_forward


def _lstm_backward(bug):
    step = _lstm_step_backward(bug)

    def lstm_backward(dh, cache):
        dx, dh0, (dWx, dWh, db) = _through_time(step, bug, dh, cache.steps, 2)
        return dx, dh0, dWx, dWh, db
    return lstm_backward


# ------------------------------------------------------------ captioning model


def _captioning_loss(bug):
    class CaptioningRNN(ref.CaptioningRNN):
        def loss(self, features, captions):
            p = self.params
            captions_in, captions_out = captions[:, :-1], captions[:, 1:]
            if bug == "not_shifted":
                captions_out = captions_in
            mask = captions_out != self._null
            if bug == "mask_ignored":
                mask = np.ones_like(mask)
            elif bug == "mask_from_inputs":  # one step off
                mask = captions_in != self._null
            forward, backward = ((ref.lstm_forward, ref.lstm_backward) if self.cell_type == "lstm"
                                 else (ref.rnn_forward, ref.rnn_backward))
            h0 = features @ p["W_proj"] + p["b_proj"]
            x, embed_cache = ref.word_embedding_forward(captions_in, p["W_embed"])
            h, rnn_cache = forward(x, h0, p["Wx"], p["Wh"], p["b"])
            scores, vocab_cache = temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
            loss, dscores = temporal_softmax_loss(scores, captions_out, mask)
            scale = {"not_averaged": features.shape[0],
                     "averaged_over_time": 1 / captions_in.shape[1]}.get(bug, 1)
            loss, dscores = loss * scale, dscores * scale
            grads = {}
            dh, grads["W_vocab"], grads["b_vocab"] = temporal_affine_backward(dscores, vocab_cache)
            dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = backward(dh, rnn_cache)
            grads["W_embed"] = ref.word_embedding_backward(dx, embed_cache)
            grads["W_proj"] = features.T @ dh0
            grads["b_proj"] = dh0.sum(axis=0)
            return loss, grads
    return CaptioningRNN


def _captioning_sample(bug):
    class CaptioningRNN(ref.CaptioningRNN):
        def sample(self, features, max_length=30):
            p = self.params
            N = features.shape[0]
            captions = np.full((N, max_length), self._null, dtype=np.int32)
            h = features @ p["W_proj"] + p["b_proj"]
            if bug == "h0_zero":
                h = np.zeros_like(h)
            c = np.zeros_like(h)
            word = np.full(N, self._null if bug == "start_from_null" else self._start)
            first = 0
            if bug == "start_token_included":
                captions[:, 0], first = self._start, 1
            ended = np.zeros(N, dtype=bool)
            for t in range(first, max_length):
                x = p["W_embed"][word]
                if self.cell_type == "lstm":
                    h, c, _ = ref.lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
                else:
                    h, _ = ref.rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"])
                chosen = (h @ p["W_vocab"] + p["b_vocab"]).argmax(axis=1)
                captions[:, t] = np.where(ended, self._null, chosen)
                ended |= chosen == self._end
                if bug != "word_not_fed_back":
                    word = chosen
            return captions
    return CaptioningRNN


# ------------------------------------------------------------------- the table

_H = {
    "transposed_Wh": "Wh looks transposed: the recurrence is prev_h @ Wh, (N, H) @ (H, H), "
                     "not prev_h @ Wh.T.",
    "transposed_Wx": "Wx looks transposed: compute x @ Wx with Wx of shape (D, H).",
    "no_tanh": "The tanh seems to be missing: next_h = tanh(x @ Wx + prev_h @ Wh + b).",
    "h_not_carried": "Every step should start from the hidden state of the step before, "
                     "not from h0 each time.",
    "no_tanh_derivative": "The tanh derivative seems to be missing: first multiply the upstream "
                          "gradient by 1 - next_h**2, then go through the matrix products.",
    "transposed_Wh_back": "dprev_h should be da @ Wh.T: prev_h was multiplied by Wh in the "
                          "forward pass, so its gradient uses Wh transposed.",
    "transposed_Wx_back": "dx should be da @ Wx.T: x was multiplied by Wx in the forward pass, "
                          "so its gradient uses Wx transposed.",
    "transposed_dWh": "dWh looks transposed: dWh = prev_h.T @ da, with prev_h on the left.",
    "db_averaged": "db should be the sum of the gradient over the minibatch (axis 0), not "
                   "its mean.",
    "overwrite_time": "The weights are shared by all time steps, so their gradients must be "
                      "added up over time (dWx += ...), not overwritten at every step.",
    "only_last_step": "Only the last time step seems to contribute: the weight gradients are "
                      "the sum over every time step.",
    "carried_dropped": "The gradient reaching h_t is dh[:, t] plus the gradient coming back "
                       "from step t+1 (its dprev_h); the second part seems to be missing.",
    "upstream_ignored": "At every step, add the upstream gradient dh[:, t] to the gradient "
                        "carried back from step t+1; only the carried one seems to be used.",
    "repeated_words_once": "A word that appears several times must receive the sum of all its "
                           "gradients. dW[x] += dout keeps only one of them (NumPy does not "
                           "accumulate repeated indices): use np.add.at(dW, x, dout).",
    "gate_order_ifgo": "The gates look swapped: the 4H columns of a are stacked i, f, o, g "
                       "(input, forget, output, candidate), so o is a[:, 2H:3H] and g is "
                       "a[:, 3H:4H].",
    "gate_order_ifgo_back": "The gradient blocks of da look swapped: stack them in the order of "
                            "the forward pass, i, f, o, g.",
    "no_tanh_c": "next_h = o * tanh(next_c): the tanh of the cell state seems to be missing.",
    "sigmoid_g": "g, the candidate cell value, uses tanh; only i, f and o use the sigmoid.",
    "c0_from_h0": "The initial cell state is zero (c0 = 0), not h0.",
    "state_not_carried": "Every step should start from the hidden and cell states of the step "
                         "before, not from h0 and c0 each time.",
    "dc_without_h_path": "next_c also reaches the loss through next_h = o * tanh(next_c): add "
                         "dnext_h * o * (1 - tanh(next_c)**2) to dnext_c first.",
    "dprev_c_without_f": "dprev_c = dc * f: the forget gate scales the old cell state.",
    "dc_not_carried": "The cell-state gradient also flows back through time: pass the dprev_c "
                      "of step t+1 as dnext_c of step t.",
    "mask_ignored": "The <NULL> padding seems to be counted: pass mask = (captions_out != "
                    "<NULL>) to temporal_softmax_loss so padded steps do not count.",
    "mask_from_inputs": "The mask belongs to the targets: mask = (captions_out != <NULL>). It "
                        "looks computed from captions_in, one step off.",
    "not_averaged": "The loss should be averaged over the minibatch (divided by N); it looks "
                    "summed.",
    "averaged_over_time": "The loss is summed over time and averaged over the minibatch only; "
                          "it looks divided by the number of time steps too.",
    "not_shifted": "The network reads captions[:, :-1] and must predict the next word, "
                   "captions[:, 1:]; the targets do not look shifted.",
    "start_from_null": "Sampling starts by feeding the <START> token (word_to_idx['<START>']) "
                       "at the first step.",
    "start_token_included": "The returned captions do not include <START>: captions[:, 0] is "
                            "the first generated word.",
    "word_not_fed_back": "Feed each chosen word back in: the input of step t+1 is the word "
                         "chosen at step t (W_embed[word]). It looks like every step reads "
                         "<START>.",
    "h0_zero": "The first hidden state comes from the image: h0 = features @ W_proj + b_proj.",
}


def _entries(unit, factory, bugs, hint_suffix=""):
    return [Mistake(unit, bug, _H.get(bug + hint_suffix, _H[bug]), factory(bug)) for bug in bugs]


MISTAKES = (
    _entries("rnn_step_forward", _rnn_step_forward, ["transposed_Wh", "transposed_Wx", "no_tanh"])
    + _entries("rnn_step_backward", _rnn_step_backward,
               ["no_tanh_derivative", "transposed_Wh", "transposed_Wx", "transposed_dWh",
                "db_averaged"], "_back")
    + _entries("rnn_forward", _rnn_forward,
               ["transposed_Wh", "transposed_Wx", "no_tanh", "h_not_carried"])
    + _entries("rnn_backward", _rnn_backward,
               ["overwrite_time", "only_last_step", "carried_dropped", "upstream_ignored",
                "no_tanh_derivative", "transposed_Wh", "transposed_dWh", "db_averaged"], "_back")
    + [Mistake("word_embedding_backward", "repeated_words_once", _H["repeated_words_once"],
               word_embedding_backward_repeated_words_once)]
    + _entries("captioning_loss", _captioning_loss,
               ["mask_ignored", "mask_from_inputs", "not_averaged", "averaged_over_time",
                "not_shifted"])
    + _entries("captioning_sample", _captioning_sample,
               ["start_from_null", "start_token_included", "h0_zero", "word_not_fed_back"])
    + _entries("lstm_step_forward", _lstm_step_forward,
               ["gate_order_ifgo", "no_tanh_c", "sigmoid_g"])
    + _entries("lstm_step_backward", _lstm_step_backward,
               ["gate_order_ifgo", "dc_without_h_path", "dprev_c_without_f", "db_averaged"],
               "_back")
    + _entries("lstm_forward", _lstm_forward,
               ["gate_order_ifgo", "no_tanh_c", "sigmoid_g", "c0_from_h0", "state_not_carried"])
    + _entries("lstm_backward", _lstm_backward,
               ["overwrite_time", "carried_dropped", "dc_not_carried", "gate_order_ifgo",
                "dc_without_h_path", "dprev_c_without_f", "db_averaged"], "_back")
)


def mistakes_for(unit) -> list:
    """The known mistakes of one unit, most specific first."""
    return [m for m in MISTAKES if m.unit == unit]
