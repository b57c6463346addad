"""Known mistakes: the answer key with one classic bug each, and the hint for it.

Instructor-only. Every mistake is a small override of the answer key: one or
more ``Edit``s of solution cells (an exact snippet, replaced; it must match
exactly once), built into a namespace of its own
(``autograder.answer_key.solution.build``). A bug in a step function is then
also the bug of the sequence function that calls it: ``rnn_forward`` of the
build with the tanh-less ``rnn_step_forward`` is the "no_tanh" mistake of
``rnn_forward``. While the check files are built
(``autograder.answer_key.check_files``) each mistake runs on every case and
what it gives is stored next to the right answer; when a student's output
matches it, the feedback shows the hint. The test suite uses the same
builds as buggy "students".

Hints say what the usual cause is and how to fix it, never a value.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from assignment.units import UNITS

from .solution import Edit, build

__all__ = ["Mistake", "MISTAKES", "mistakes_for"]


@dataclass(frozen=True)
class Mistake:
    """One known wrong implementation of ``unit``: the answer key with ``edits``."""

    unit: str
    name: str      # unique within the unit
    hint: str      # shown when a student's output matches this mistake's
    edits: tuple   # Edit of solution cells

    @property
    def solution(self):
        """The whole answer key with this mistake (every function and class)."""
        return _build(self.edits)

    @property
    def impl(self):
        """The wrong function (or CaptioningRNN class) of the unit."""
        return self.solution[UNITS[self.unit].obj]


@functools.lru_cache(maxsize=None)
def _build(edits):
    return build(edits)


# The bugs, each an edit of the one cell it is in.
_RNN_STEP = {
    "transposed_Wh": [("prev_h @ Wh + b", "prev_h @ Wh.T + b")],
    "transposed_Wx": [("x @ Wx + prev_h", "x @ Wx.T + prev_h")],
    "no_tanh": [("next_h = xp.tanh(x @ Wx + prev_h @ Wh + b)",
                 "next_h = x @ Wx + prev_h @ Wh + b")],
}
_RNN_STEP_BACK = {
    "no_tanh_derivative": [("da = dnext_h * (1 - next_h * next_h)", "da = dnext_h")],
    "transposed_Wh": [("dprev_h = da @ Wh.T", "dprev_h = da @ Wh")],
    "transposed_Wx": [("dx = da @ Wx.T", "dx = da @ Wx")],
    "transposed_dWh": [("dWh = prev_h.T @ da", "dWh = da.T @ prev_h")],
    "db_averaged": [("db = da.sum(axis=0)", "db = da.mean(axis=0)")],
}
_OVER_TIME = {  # rnn_backward and lstm_backward alike
    "overwrite_time": [("dWx += dWx_t", "dWx = dWx_t"), ("dWh += dWh_t", "dWh = dWh_t"),
                       ("db += db_t", "db = db_t")],
    "only_last_step": [(f"{g} += {g}_t", f"{g} = {g}_t if t == T - 1 else {g}")
                       for g in ("dWx", "dWh", "db")],
}
_LSTM_STEP = {
    "gate_order_ifgo": [("i, f, o = ifo[:, :H], ifo[:, H:2 * H], ifo[:, 2 * H:]\n"
                         "    g = xp.tanh(a[:, 3 * H:])",
                         "i, f = ifo[:, :H], ifo[:, H:2 * H]\n"
                         "    o = sigmoid(a[:, 3 * H:])\n"
                         "    g = xp.tanh(a[:, 2 * H:3 * H])")],
    "no_tanh_c": [("next_h = o * tanh_c", "next_h = o * next_c")],
    "sigmoid_g": [("g = xp.tanh(a[:, 3 * H:])", "g = sigmoid(a[:, 3 * H:])")],
}
_LSTM_STEP_BACK = {
    "gate_order_ifgo": [("da[:, 2 * H:3 * H] = (dnext_h * tanh_c) * o * (1 - o)\n"
                         "    da[:, 3 * H:] = (dc * i) * (1 - g * g)",
                         "da[:, 3 * H:] = (dnext_h * tanh_c) * o * (1 - o)\n"
                         "    da[:, 2 * H:3 * H] = (dc * i) * (1 - g * g)")],
    "dc_without_h_path": [("dc = dnext_c + dnext_h * o * (1 - tanh_c * tanh_c)", "dc = dnext_c")],
    "dprev_c_without_f": [("dprev_c = dc * f", "dprev_c = dc")],
    "db_averaged": [("db = da.sum(axis=0)", "db = da.mean(axis=0)")],
}
_LSTM_FORWARD = {
    "c0_from_h0": [("prev_h, prev_c = h0, xp.zeros((N, H), dtype=dtype)",
                    "prev_h, prev_c = h0, h0")],
    "state_not_carried": [("h[:, t], prev_c, step_cache = lstm_step_forward(",
                           "h[:, t], _, step_cache = lstm_step_forward("),
                          ("        prev_h = h[:, t]\n", "")],
}
_LSTM_BACKWARD = {
    "carried_dropped": [("dh[:, t] + dprev_h, dprev_c", "dh[:, t], dprev_c")],
    "dc_not_carried": [("dh[:, t] + dprev_h, dprev_c",
                        "dh[:, t] + dprev_h, xp.zeros_like(dprev_c)")],
}
_LOSS = {
    "mask_ignored": [("temporal_softmax_loss(scores, captions_out, mask)",
                      "temporal_softmax_loss(scores, captions_out, xp.ones_like(mask))")],
    "mask_from_inputs": [("mask = captions_out != self._null", "mask = captions_in != self._null")],
    "not_averaged": [("loss, dscores = temporal_softmax_loss(scores, captions_out, mask)\n",
                      "loss, dscores = temporal_softmax_loss(scores, captions_out, mask)\n"
                      "        loss, dscores = loss * N, dscores * N\n")],
    "averaged_over_time": [("loss, dscores = temporal_softmax_loss(scores, captions_out, mask)\n",
                            "loss, dscores = temporal_softmax_loss(scores, captions_out, mask)\n"
                            "        scale = 1 / captions_in.shape[1]\n"
                            "        loss, dscores = loss * scale, dscores * scale\n")],
    "not_shifted": [("captions_out = captions[:, 1:]", "captions_out = captions[:, :-1]")],
}
_SAMPLE = {
    "start_from_null": [("word = xp.full(N, self._start, dtype=xp.int32)",
                         "word = xp.full(N, self._null, dtype=xp.int32)")],
    "start_token_included": [("for t in range(max_length):",
                              "captions[:, 0] = self._start\n"
                              "        for t in range(1, max_length):")],
    "h0_zero": [("        h = features @ p[\"W_proj\"] + p[\"b_proj\"]\n",
                 "        h = xp.zeros_like(features @ p[\"W_proj\"] + p[\"b_proj\"])\n")],
    "word_not_fed_back": [("word = scores.argmax(axis=1).astype(xp.int32)\n"
                           "            captions[:, t] = xp.where(ended, self._null, word)\n"
                           "            ended |= word == self._end",
                           "chosen = scores.argmax(axis=1).astype(xp.int32)\n"
                           "            captions[:, t] = xp.where(ended, self._null, chosen)\n"
                           "            ended |= chosen == self._end")],
}

_RNN_BACKWARD = {
    "carried_dropped": [("rnn_step_backward(dh[:, t] + dprev_h,", "rnn_step_backward(dh[:, t],")],
    "upstream_ignored": [("rnn_step_backward(dh[:, t] + dprev_h,",
                          "rnn_step_backward(dh[:, t] if t == T - 1 else dprev_h,")],
}

_GRU_STEP = {
    "gate_order_zr": [("r, z = rz[:, :H], rz[:, H:]", "z, r = rz[:, :H], rz[:, H:]")],
    "reset_before_product": [("n = xp.tanh(ax[:, 2 * H:] + r * hn)",
                              "n = xp.tanh(ax[:, 2 * H:] + (r * prev_h) @ Wh[:, 2 * H:])")],
    "z_swapped": [("next_h = (1 - z) * n + z * prev_h", "next_h = z * n + (1 - z) * prev_h")],
}
_GRU_STEP_BACK = {
    "dprev_h_without_z": [("dprev_h = dnext_h * z + dah @ Wh.T", "dprev_h = dah @ Wh.T")],
    "gate_order_zr": [("dax[:, :H] = dr * r * (1 - r)\n    dax[:, H:2 * H] = dz * z * (1 - z)",
                       "dax[:, H:2 * H] = dr * r * (1 - r)\n    dax[:, :H] = dz * z * (1 - z)")],
    "z_swapped": [("dn = dnext_h * (1 - z)\n    dz = dnext_h * (prev_h - n)",
                   "dn = dnext_h * z\n    dz = dnext_h * (n - prev_h)"),
                  ("dprev_h = dnext_h * z + dah", "dprev_h = dnext_h * (1 - z) + dah")],
    "db_averaged": [("db = dax.sum(axis=0)", "db = dax.mean(axis=0)")],
}
_GRU_BACKWARD = {
    "carried_dropped": [("gru_step_backward(dh[:, t] + dprev_h, steps[t])",
                         "gru_step_backward(dh[:, t], steps[t])")],
}
_CLIP = {
    "clipped_per_element": [("clipped = tuple(g * scale for g in grads)",
                             "clipped = tuple(xp.clip(g, -max_norm, max_norm) for g in grads)")],
    "clipped_per_array": [("clipped = tuple(g * scale for g in grads)",
                           "clipped = tuple(g * (max_norm / xp.maximum(xp.sqrt((g * g).sum()), "
                           "max_norm)) for g in grads)")],
    "norm_not_square_root": [("norm = xp.sqrt(sum((g * g).sum() for g in grads))",
                              "norm = sum((g * g).sum() for g in grads)")],
}
_TBPTT = {
    "state_not_carried_in": [("multilayer_forward(x, h0, c0, Wx0,",
                              "multilayer_forward(x, xp.zeros_like(h0), xp.zeros_like(c0), Wx0,")],
    "state_not_returned": [("next_h, next_c = hT.copy(), cT.copy()",
                            "next_h, next_c = h0.copy(), c0.copy()")],
    "loss_per_sequence": [("    loss, dscores = loss / T, dscores / T  # per character, not per "
                           "sequence\n", "")],
}
_SAMPLE_CHARS = {
    "temperature_after_softmax": [("shifted = scores / temperature ", "shifted = scores "),
                                  ("p /= p.sum()\n",
                                   "p /= p.sum()\n        p = p / temperature\n")],
    "sampled_not_fed_back": [("one_hot[index][None, None]", "one_hot[prime[-1]][None, None]")],
    "argmax_not_sampled": [("index = min(int(xp.searchsorted(xp.cumsum(p), uniforms[k], "
                            "side=\"right\")), V - 1)", "index = int(xp.argmax(p))")],
    "state_restarted": [("one_hot[index][None, None], h_state, c_state,",
                         "one_hot[index][None, None], h0, c0,")],
}
_STACK = {
    "same_state_every_layer": [("prev_h, prev_c, steps = h0[l], c0[l], []",
                                "prev_h, prev_c, steps = h0[0], c0[0], []")],
}
_STACK_BACK = {
    "carried_dropped": [("dout[:, t] + dprev_h, dprev_c, steps[t])",
                        "dout[:, t], dprev_c, steps[t])")],
    "last_state_gradient_ignored": [("dprev_h, dprev_c = dhT[l], dcT[l]",
                                     "dprev_h, dprev_c = xp.zeros_like(dhT[l]), "
                                     "xp.zeros_like(dcT[l])")],
}

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
    "gate_order_zr": "The GRU's gates look swapped: the 3H columns are stacked r, z, n (reset, "
                     "update, candidate), so r is the first block and z the second.",
    "gate_order_zr_back": "The gradient blocks of the GRU's gates look swapped: stack them in the "
                          "order of the forward pass, r, z, n.",
    "reset_before_product": "The reset gate scales the product, not the state: n = tanh(x Wx_n + "
                            "b_n + r * (prev_h @ Wh_n)), with r applied after prev_h @ Wh_n.",
    "z_swapped": "z and 1 - z look swapped: next_h = (1 - z) * n + z * prev_h, so z = 1 keeps "
                 "the old state.",
    "z_swapped_back": "z and 1 - z look swapped in the backward pass: next_h = (1 - z) * n + "
                      "z * prev_h, so dn = dnext_h * (1 - z) and prev_h gets dnext_h * z.",
    "dprev_h_without_z": "prev_h also reaches next_h directly, through z * prev_h: add dnext_h * z "
                         "to dprev_h.",
    "carried_dropped_stack": "The gradient reaching a layer's h_t is the gradient from the layer "
                             "above plus the one coming back from step t+1 of the same layer; the "
                             "second part seems to be missing.",
    "last_state_gradient_ignored": "dhT and dcT are gradients of each layer's last state: they "
                                   "enter at the last step of each layer (start dprev_h, dprev_c "
                                   "from them, not from zeros).",
    "same_state_every_layer": "Each layer starts from its own initial state: h0[l] and c0[l] for "
                              "layer l, not those of layer 0.",
    "clipped_per_element": "Clipping by global norm scales every array by one common factor, "
                           "max_norm / norm when the global norm is larger; it does not clip each "
                           "element to [-max_norm, max_norm].",
    "clipped_per_array": "Each array seems scaled by its own norm. The global norm is "
                         "sqrt(sum of the squares of every entry of every array), and one factor "
                         "scales them all.",
    "norm_not_square_root": "The global norm is the square root of the sum of the squares.",
    "state_not_carried_in": "The chunk should start from the state it is given (h0, c0: where "
                            "the previous chunk ended), not from zeros.",
    "state_not_returned": "Return the state after the chunk's last character (each layer's last "
                          "hidden and cell state), so that the next chunk carries on from it.",
    "loss_per_sequence": "The loss is the average over all N*T characters: divide the per-sequence "
                         "loss of temporal_softmax_loss (and its gradient) by T.",
    "temperature_after_softmax": "Divide the scores by the temperature before the softmax: "
                                 "p = softmax(scores / temperature). Dividing the probabilities "
                                 "afterwards does not change how peaked they are.",
    "sampled_not_fed_back": "Feed each sampled character back in: the input of the next step is "
                            "the character just sampled, not the last character of the prime.",
    "argmax_not_sampled": "The most likely character seems to be taken every time: sample it, "
                          "the first index whose cumulative probability exceeds uniforms[k].",
    "state_restarted": "Carry the state from one sampled character to the next; every step "
                       "seems to start again from h0 and c0.",
    "h0_zero": "The first hidden state comes from the image: h0 = features @ W_proj + b_proj.",
}


def _entries(unit, bugs, hint_suffix=""):
    """Mistakes of ``unit``: bugs is [(name, cell, edits)], edits [(old, new)] of that cell."""
    return [Mistake(unit, name, _H.get(name + hint_suffix, _H[name]),
                    tuple(Edit(cell, old, new) for old, new in edits))
            for name, cell, edits in bugs]


def _of(cell, table, *names):
    return [(name, cell, table[name]) for name in names]


MISTAKES = tuple(
    _entries("rnn_step_forward",
             _of("rnn_step_forward", _RNN_STEP, "transposed_Wh", "transposed_Wx", "no_tanh"))
    + _entries("rnn_step_backward",
               _of("rnn_step_backward", _RNN_STEP_BACK, "no_tanh_derivative", "transposed_Wh",
                   "transposed_Wx", "transposed_dWh", "db_averaged"), "_back")
    + _entries("rnn_forward",
               _of("rnn_step_forward", _RNN_STEP, "transposed_Wh", "transposed_Wx", "no_tanh")
               + [("h_not_carried", "rnn_forward", [("        prev_h = h[:, t]\n", "")])])
    + _entries("rnn_backward",
               _of("rnn_backward", _OVER_TIME, "overwrite_time", "only_last_step")
               + _of("rnn_backward", _RNN_BACKWARD, "carried_dropped", "upstream_ignored")
               + _of("rnn_step_backward", _RNN_STEP_BACK, "no_tanh_derivative", "transposed_Wh",
                     "transposed_dWh", "db_averaged"), "_back")
    + _entries("word_embedding_backward",
               [("repeated_words_once", "word_embedding_backward",
                 [("scatter_add(dW, x, dout)", "dW[x] += dout")])])
    + _entries("captioning_loss",
               _of("captioning_model", _LOSS, "mask_ignored", "mask_from_inputs", "not_averaged",
                   "averaged_over_time", "not_shifted"))
    + _entries("captioning_sample",
               _of("captioning_model", _SAMPLE, "start_from_null", "start_token_included",
                   "h0_zero", "word_not_fed_back"))
    + _entries("lstm_step_forward",
               _of("lstm_step_forward", _LSTM_STEP, "gate_order_ifgo", "no_tanh_c", "sigmoid_g"))
    + _entries("lstm_step_backward",
               _of("lstm_step_backward", _LSTM_STEP_BACK, "gate_order_ifgo", "dc_without_h_path",
                   "dprev_c_without_f", "db_averaged"), "_back")
    + _entries("lstm_forward",
               _of("lstm_step_forward", _LSTM_STEP, "gate_order_ifgo", "no_tanh_c", "sigmoid_g")
               + _of("lstm_forward", _LSTM_FORWARD, "c0_from_h0", "state_not_carried"))
    + _entries("lstm_backward",
               _of("lstm_backward", _OVER_TIME, "overwrite_time")
               + _of("lstm_backward", _LSTM_BACKWARD, "carried_dropped", "dc_not_carried")
               + _of("lstm_step_backward", _LSTM_STEP_BACK, "gate_order_ifgo",
                     "dc_without_h_path", "dprev_c_without_f", "db_averaged"), "_back")
    + _entries("gru_step_forward",
               _of("gru_step_forward", _GRU_STEP, "gate_order_zr", "reset_before_product",
                   "z_swapped"))
    + _entries("gru_step_backward",
               _of("gru_step_backward", _GRU_STEP_BACK, "dprev_h_without_z", "gate_order_zr",
                   "z_swapped", "db_averaged"), "_back")
    + _entries("gru_forward",
               _of("gru_step_forward", _GRU_STEP, "gate_order_zr", "reset_before_product",
                   "z_swapped")
               + [("h_not_carried", "gru_forward", [("        prev_h = h[:, t]\n", "")])])
    + _entries("gru_backward",
               _of("gru_backward", _OVER_TIME, "overwrite_time", "only_last_step")
               + _of("gru_backward", _GRU_BACKWARD, "carried_dropped")
               + _of("gru_step_backward", _GRU_STEP_BACK, "dprev_h_without_z", "gate_order_zr",
                     "z_swapped"), "_back")
    + _entries("clip_by_global_norm",
               _of("clip_by_global_norm", _CLIP, "clipped_per_element", "clipped_per_array",
                   "norm_not_square_root"))
    + _entries("truncated_bptt_step",
               _of("truncated_bptt_step", _TBPTT, "state_not_carried_in", "state_not_returned",
                   "loss_per_sequence"))
    + _entries("sample_chars",
               _of("sample_chars", _SAMPLE_CHARS, "temperature_after_softmax",
                   "sampled_not_fed_back", "argmax_not_sampled", "state_restarted"))
    + _entries("multilayer_forward",
               _of("multilayer_forward", _STACK, "same_state_every_layer")
               + _of("gru_step_forward", _GRU_STEP, "gate_order_zr", "z_swapped"))
    + _entries("multilayer_backward",
               _of("multilayer_backward", _STACK_BACK, "carried_dropped",
                   "last_state_gradient_ignored"), "_stack")
    + _entries("multilayer_backward",
               _of("gru_step_backward", _GRU_STEP_BACK, "dprev_h_without_z", "gate_order_zr"),
               "_back")
)


def mistakes_for(unit) -> list:
    """The known mistakes of one unit, most specific first."""
    return [m for m in MISTAKES if m.unit == unit]
