"""The training run of the demo, the benchmarks and the notebooks' "train a good model" cells.

Instructor-only. ``TRAIN_CONFIG`` is the one definition of that configuration
(``autograder.demo.demo`` trains with it, ``autograder.demo.bench_training``
measures its speed); ``train_reference_model`` trains the answer key's
``CaptioningRNN`` with it.
"""

from __future__ import annotations

import numpy as np

from assignment.solver import CaptioningSolver

from ..answer_key.solution import reference

TRAIN_CONFIG = dict(
    wordvec_dim=128, hidden_dim=256, update_rule="adam",
    optim_config={"learning_rate": 2e-3}, lr_decay=0.9, batch_size=100, num_epochs=3,
)


def train_reference_model(data, cell_type="lstm", seed=0, verbose=True, **overrides):
    """Train the reference CaptioningRNN on ``data``; returns (model, solver)."""
    cfg = {**TRAIN_CONFIG, **overrides}
    model = reference().CaptioningRNN(data["word_to_idx"], input_dim=data["train_features"].shape[1],
                          wordvec_dim=cfg.pop("wordvec_dim"), hidden_dim=cfg.pop("hidden_dim"),
                          cell_type=cell_type, dtype=np.float32, seed=seed)
    solver = CaptioningSolver(model, data, seed=seed, verbose=False, progress=verbose, **cfg)
    solver.train()
    return model, solver
