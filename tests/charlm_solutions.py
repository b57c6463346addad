"""The solution functions of CharRNN_Language_Model.ipynb, loaded for the tests.

``load()`` runs the notebook's solution cells (and its provided ``cell_steps``
cell) with ``assignment.notebook_import.import_solution_cells`` into one
namespace, together with the vanilla RNN and LSTM steps of the captioning
notebooks that the multilayer stack uses, and returns that namespace.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from assignment.backend import xp
from assignment.layers import (sigmoid, temporal_affine_backward, temporal_affine_forward,
                               temporal_softmax_loss)
from assignment.notebook_import import import_solution_cells

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
UNITS = ["gru_step_forward", "gru_step_backward", "gru_forward", "gru_backward", "cell_steps_provided",
         "multilayer_forward", "multilayer_backward", "clip_by_global_norm",
         "truncated_bptt_step", "sample_chars"]


@functools.lru_cache(maxsize=1)
def load() -> dict:
    namespace = dict(np=np, xp=xp, sigmoid=sigmoid, temporal_affine_forward=temporal_affine_forward,
                     temporal_affine_backward=temporal_affine_backward,
                     temporal_softmax_loss=temporal_softmax_loss)
    import_solution_cells(NOTEBOOKS / "RNN_Captioning.ipynb", ["rnn_step_forward", "rnn_step_backward"], namespace)
    import_solution_cells(NOTEBOOKS / "LSTM_Captioning.ipynb", ["lstm_step_forward", "lstm_step_backward"], namespace)
    import_solution_cells(NOTEBOOKS / "CharRNN_Language_Model.ipynb", UNITS, namespace)
    return namespace
