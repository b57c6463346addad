"""How each unit is called and what it returns: the protocol table (``PROTOCOLS``).

A *unit* is one thing a student implements (a function, or
``CaptioningRNN.loss`` / ``CaptioningRNN.sample``). The student's check and
the grader both call a unit the way its ``Protocol`` says.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Protocol", "PROTOCOLS", "UNIT_NAMES", "PARAM_NAMES", "LSTM_NAMES"]

PARAM_NAMES = ("W_embed", "W_proj", "b_proj", "Wx", "Wh", "b", "W_vocab", "b_vocab")
LSTM_NAMES = ("lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward")


@dataclass(frozen=True)
class Protocol:
    """How a unit is called and what it returns (SPEC section 3).

    kind: 'forward'  obj(*inputs) -> (*outputs, cache)
          'backward' obj(*upstream, cache) -> outputs; the cache is the case's
                     ``inputs["cache"]``: what the correct ``forward`` function
                     returns on the case's inputs (a type of assignment.caches)
          'loss'     CaptioningRNN(...).loss(features, captions) -> (loss, grads)
          'sample'   CaptioningRNN(...).sample(features, max_length=L) -> captions
    A gradient output is named 'd' + the input it belongs to (dWx <-> Wx), and
    an upstream gradient 'd' + the forward output it belongs to (dh <-> h).
    """

    kind: str
    inputs: tuple            # forward arguments (model units: features, captions, params)
    outputs: tuple           # graded outputs, in return order
    forward: str = ""        # backward units: the forward function whose cache they read
    forward_outputs: tuple = ()  # what that forward returns before its cache

    @property
    def upstream(self) -> tuple:
        return tuple("d" + name for name in self.forward_outputs)


_RNN_STEP = ("x", "prev_h", "Wx", "Wh", "b")
_RNN_SEQ = ("x", "h0", "Wx", "Wh", "b")
_LSTM_STEP = ("x", "prev_h", "prev_c", "Wx", "Wh", "b")

PROTOCOLS = {
    "rnn_step_forward": Protocol("forward", _RNN_STEP, ("next_h",)),
    "rnn_step_backward": Protocol("backward", _RNN_STEP, ("dx", "dprev_h", "dWx", "dWh", "db"),
                                  "rnn_step_forward", ("next_h",)),
    "rnn_forward": Protocol("forward", _RNN_SEQ, ("h",)),
    "rnn_backward": Protocol("backward", _RNN_SEQ, ("dx", "dh0", "dWx", "dWh", "db"),
                             "rnn_forward", ("h",)),
    "word_embedding_forward": Protocol("forward", ("x", "W"), ("out",)),
    "word_embedding_backward": Protocol("backward", ("x", "W"), ("dW",),
                                        "word_embedding_forward", ("out",)),
    "captioning_loss": Protocol("loss", ("features", "captions") + PARAM_NAMES,
                                ("loss",) + tuple("d" + p for p in PARAM_NAMES)),
    "captioning_sample": Protocol("sample", ("features",) + PARAM_NAMES, ("captions",)),
    "lstm_step_forward": Protocol("forward", _LSTM_STEP, ("next_h", "next_c")),
    "lstm_step_backward": Protocol("backward", _LSTM_STEP,
                                   ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"),
                                   "lstm_step_forward", ("next_h", "next_c")),
    "lstm_forward": Protocol("forward", _RNN_SEQ, ("h",)),
    "lstm_backward": Protocol("backward", _RNN_SEQ, ("dx", "dh0", "dWx", "dWh", "db"),
                              "lstm_forward", ("h",)),
}
UNIT_NAMES = tuple(PROTOCOLS)
