"""CaptioningSolver: the training loop for captioning models.

    solver = CaptioningSolver(model, data, update_rule='adam',
                              optim_config={'learning_rate': 5e-3},
                              lr_decay=0.995, batch_size=100, num_epochs=10,
                              print_every=10, seed=0)
    solver.train()
    plt.plot(solver.loss_history)

The model needs ``params`` (dict name -> array) and ``loss(features,
captions) -> (loss, grads)``. Each iteration draws a random minibatch of
captions (with replacement, as in Stanford's CS231n assignment), computes the
loss and gradients, and applies the update rule to every parameter.

Everything the loop touches lives on the active backend: the training data is
moved there once, when the solver is built, and only a batch of indices (a
few hundred integers, drawn by the solver's own ``numpy.random.Generator``)
crosses from the host each step. The loss is read back once per iteration as
a Python float for ``loss_history``.
"""

from __future__ import annotations

import math

import numpy as np

from . import optim
from .backend import asarray
from .progress import progress_bar, write

_DEFAULTS = dict(
    update_rule="sgd", optim_config=None, lr_decay=1.0, batch_size=100, num_epochs=10,
    print_every=10, verbose=True, seed=None, progress=True, validate=False,
    val_loss_captions=1000, val_bleu_images=200, max_iterations=None,
)


class _DeviceSplit:
    """One split of the data on the active backend: captions, image indices, features."""

    def __init__(self, data, split, dtype):
        self.captions = asarray(data[f"{split}_captions"])            # (M, 17) int
        self.image_idxs = asarray(data[f"{split}_image_idxs"])        # (M,) int
        self.features = asarray(data[f"{split}_features"], dtype=dtype)  # (N_images, D)
        self.size = int(data[f"{split}_captions"].shape[0])

    def batch(self, idx):
        """Captions (B, 17) and image features (B, D) for caption indices ``idx``."""
        idx = asarray(idx)
        return self.captions[idx], self.features[self.image_idxs[idx]]


class CaptioningSolver:
    """Trains a captioning model with minibatch gradient descent.

    Required arguments:
        model: object with ``params`` and ``loss(features, captions)``
        data: dict from ``load_coco_data`` (train_captions, train_image_idxs,
            train_features, and the val_* keys when ``validate`` is set)

    Optional arguments (the first seven are CS231n's):
        update_rule: 'sgd', 'adam' (a name in ``assignment.optim``) or a function
        optim_config: hyperparameters for the update rule, e.g. {'learning_rate': 5e-3}
        lr_decay: the learning rate is multiplied by this after every epoch
        batch_size: captions per minibatch
        num_epochs: passes over the training captions
        print_every: print the loss every this many iterations (when verbose)
        verbose: print progress messages
        seed: seed of the solver's own random generator (minibatch sampling)
        progress: show a tqdm progress bar
        validate: after every epoch, record the loss on up to
            ``val_loss_captions`` val captions and the BLEU scores of greedy
            captions for ``val_bleu_images`` val images
        max_iterations: stop after this many iterations (a shorter run that
            keeps every other setting; used to keep grading fast)

    After ``train()``: ``loss_history`` (one float per iteration),
    ``val_loss_history`` and ``val_bleu_history`` (one entry per epoch, when
    ``validate``), ``epoch``.
    """

    def __init__(self, model, data, **kwargs):
        unknown = sorted(set(kwargs) - set(_DEFAULTS))
        if unknown:
            raise TypeError(
                f"CaptioningSolver got unexpected argument(s) {', '.join(unknown)}; "
                f"accepted: {', '.join(_DEFAULTS)}."
            )
        opts = {**_DEFAULTS, **kwargs}
        self.model, self.data = model, data
        self.update_rule = self._resolve_update_rule(opts["update_rule"])
        self.optim_config = dict(opts["optim_config"] or {})
        self.lr_decay = float(opts["lr_decay"])
        self.batch_size = self._positive_int("batch_size", opts["batch_size"])
        self.num_epochs = self._positive_int("num_epochs", opts["num_epochs"])
        self.print_every = self._positive_int("print_every", opts["print_every"])
        self.verbose = bool(opts["verbose"])
        self.progress = bool(opts["progress"])
        self.validate = bool(opts["validate"])
        self.val_loss_captions = int(opts["val_loss_captions"])
        self.val_bleu_images = int(opts["val_bleu_images"])
        self.max_iterations = opts["max_iterations"]
        self.rng = np.random.default_rng(opts["seed"])

        if not hasattr(model, "params") or not hasattr(model, "loss"):
            raise TypeError("model must have a `params` dict and a `loss(features, captions)` method.")
        needed = ["train_captions", "train_image_idxs", "train_features"]
        if self.validate:
            needed += ["val_captions", "val_image_idxs", "val_features", "idx_to_word"]
        missing = [k for k in needed if k not in data]
        if missing:
            raise KeyError(
                f"data is missing {', '.join(missing)}; pass the dict returned by "
                "assignment.data.load_coco_data()."
            )
        dtype = self._param_dtype(model)
        self._train = _DeviceSplit(data, "train", dtype)
        self._val = _DeviceSplit(data, "val", dtype) if self.validate else None
        self._reset()

    # ------------------------------------------------------------ set-up
    @staticmethod
    def _resolve_update_rule(rule):
        if callable(rule):
            return rule
        if not isinstance(rule, str) or rule.startswith("_") or not callable(getattr(optim, rule, None)):
            raise ValueError(f"update_rule {rule!r} is not one of the rules in assignment.optim "
                             "('sgd', 'adam') and is not a function.")
        return getattr(optim, rule)

    @staticmethod
    def _positive_int(name, value):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        return int(value)

    @staticmethod
    def _param_dtype(model):
        dtypes = {p.dtype for p in model.params.values() if np.issubdtype(p.dtype, np.floating)}
        return dtypes.pop() if len(dtypes) == 1 else np.float32

    def _reset(self):
        self.epoch = 0
        self._bar = None  # the progress bar while train() runs
        self.loss_history = []
        self.val_loss_history = []
        self.val_bleu_history = []
        # each parameter gets its own copy of the config (Adam keeps per-parameter moments)
        self.optim_configs = {p: dict(self.optim_config) for p in self.model.params}

    # ------------------------------------------------------------ training
    def _step(self):
        """One minibatch: loss, gradients, parameter update."""
        idx = self.rng.choice(self._train.size, self.batch_size)
        captions, features = self._train.batch(idx)
        loss, grads = self.model.loss(features, captions)
        loss = float(loss)
        self.loss_history.append(loss)
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"the loss became {loss} at iteration {len(self.loss_history)}. Usual causes: "
                "a learning rate that is too large (try 10x smaller) or a bug in a backward pass "
                "(run the gradient checks)."
            )
        for name, w in self.model.params.items():
            next_w, self.optim_configs[name] = self.update_rule(w, grads[name], self.optim_configs[name])
            self.model.params[name] = next_w
        return loss

    def train(self):
        """Run the optimisation for ``num_epochs`` epochs (or ``max_iterations``)."""
        iterations_per_epoch = max(self._train.size // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch
        if self.max_iterations is not None:
            num_iterations = min(num_iterations, int(self.max_iterations))
        # a widget in Jupyter, a text bar in a terminal; messages go through write() so that
        # they never cut the bar (assignment/progress.py)
        bar = progress_bar(range(num_iterations), desc="training", unit="it",
                           disable=not self.progress, leave=True)
        self._bar = bar
        for t in bar:
            loss = self._step()
            if self.progress:
                bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
            if self.verbose and t % self.print_every == 0:
                write(f"(Iteration {t + 1} / {num_iterations}) loss: {loss:f}", bar)
            if (t + 1) % iterations_per_epoch == 0:
                self.epoch += 1
                for config in self.optim_configs.values():
                    if "learning_rate" in config:
                        config["learning_rate"] *= self.lr_decay
                if self.validate:
                    self._validate()
        bar.close()
        return self.loss_history

    def _validate(self):
        """Val loss on a fixed subset of captions, and BLEU of greedy captions."""
        from .metrics import evaluate_captioning_bleu

        n = min(self.val_loss_captions, self._val.size)
        captions, features = self._val.batch(np.arange(n))
        loss, _ = self.model.loss(features, captions)
        self.val_loss_history.append(float(loss))
        bleu = evaluate_captioning_bleu(self.model, self.data, "val", num_images=self.val_bleu_images)
        self.val_bleu_history.append(bleu)
        if self.verbose:
            write(f"(Epoch {self.epoch} / {self.num_epochs}) val loss: {float(loss):.3f}, "
                  + ", ".join(f"{k} {v:.3f}" for k, v in bleu.items()), self._bar)


__all__ = ["CaptioningSolver"]
