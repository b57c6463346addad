"""Linear probes: is the scene content recoverable from the synthetic features?

A captioning model can only describe what its image features encode. This
script fits one linear classifier per scene attribute on the *train*
features of the synthetic dataset and reports its accuracy on *val*, next
to the majority-class baseline (always guessing the most common train
class). Accuracies far above the baseline mean the attribute is linearly
readable from the features.

    python datasets/feature_probe.py                 # default dataset, PCA-512 features
    python datasets/feature_probe.py --raw           # the 2048-d raw features
    python datasets/feature_probe.py --data-dir DIR  # another build

The classifier is closed-form ridge regression on one-hot targets
(one-vs-rest; predict the class with the largest score), in NumPy only.
The ridge strength is chosen on the last 20% of train, then refitted on all of it.

Probed attributes (objects are in reading order: by row, then by column):
    num_objects    1, 2 or 3 objects in the scene
    background     black / gray / white
    first_color    colour of the first object
    first_shape    shape of the first object
    first_size     small / large of the first object
    first_column   left / center / right column of the first object
    first_row      top / middle / bottom row of the first object
    center_cell    what is in the centre cell: nothing, or the colour of the object there
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import h5py
import numpy as np

from assignment.coco_format import SPLITS, features_file, images_file
from assignment.synthetic_coco import DEFAULT_DIR

RIDGE_STRENGTHS = (0.1, 1.0, 10.0, 100.0, 1000.0)

ATTRIBUTES = ("num_objects", "background", "first_color", "first_shape", "first_size",
              "first_column", "first_row", "center_cell")


def probe_targets(attributes) -> dict[str, np.ndarray]:
    """Integer class labels (N,) per probed attribute, from an images file's ``attributes`` group."""
    color = np.asarray(attributes["color"])    # (N, 3), -1 padded
    row, col = np.asarray(attributes["row"]), np.asarray(attributes["col"])
    in_center = (row == 1) & (col == 1)        # (N, 3)
    # 0 = empty centre cell, 1 + c = an object of colour c there
    center = np.where(in_center.any(axis=1), 1 + np.where(in_center, color, 0).sum(axis=1), 0)
    return {
        "num_objects": np.asarray(attributes["num_objects"]).astype(np.int64),
        "background": np.asarray(attributes["background"]).astype(np.int64),
        "first_color": color[:, 0].astype(np.int64),
        "first_shape": np.asarray(attributes["shape"])[:, 0].astype(np.int64),
        "first_size": np.asarray(attributes["size"])[:, 0].astype(np.int64),
        "first_column": col[:, 0].astype(np.int64),
        "first_row": row[:, 0].astype(np.int64),
        "center_cell": center.astype(np.int64),
    }


def _standardize(train: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zero mean, unit variance per feature (train statistics), plus a bias column."""
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-6
    with_bias = lambda x: np.hstack([(x - mean) / std, np.ones((len(x), 1))])  # noqa: E731
    return with_bias(train), with_bias(other)


class _Ridge:
    """Closed-form ridge regression for many targets and strengths at once.

    With the eigendecomposition x^T x = V diag(e) V^T (computed once), the
    weights for strength s are V diag(1 / (e + s)) V^T x^T y: every
    attribute and every strength costs a few small matmuls.
    """

    def __init__(self, x: np.ndarray):            # x (N, F+1), bias column included
        self.x = x
        self.eigvals, self.eigvecs = np.linalg.eigh(x.T @ x)

    def fit(self, y: np.ndarray, num_classes: int, strength: float) -> np.ndarray:
        """Weights (F+1, K) minimising |x W - onehot(y)|^2 + strength |W|^2."""
        xty = self.x.T @ np.eye(num_classes)[y]     # (F+1, K)
        return self.eigvecs @ ((self.eigvecs.T @ xty) / (self.eigvals + strength)[:, None])


def _accuracy(x: np.ndarray, weights: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(x @ weights, axis=1) == y))


def linear_probes(train_x: np.ndarray, train_targets: dict, val_x: np.ndarray, val_targets: dict) -> dict:
    """One ridge one-vs-rest classifier per target: val accuracy, majority baseline, strength.

    ``train_targets`` / ``val_targets``: {name: int labels (N,)}. The strength
    is chosen on a held-out fifth of train, so val stays untouched.
    """
    train_x, val_x = _standardize(train_x.astype(np.float64), val_x.astype(np.float64))
    cut = int(0.8 * len(train_x))
    fit_part, full = _Ridge(train_x[:cut]), _Ridge(train_x)
    results = {}
    for name, train_y in train_targets.items():
        val_y = val_targets[name]
        num_classes = int(max(train_y.max(), val_y.max())) + 1
        scores = [_accuracy(train_x[cut:], fit_part.fit(train_y[:cut], num_classes, s), train_y[cut:])
                  for s in RIDGE_STRENGTHS]
        strength = RIDGE_STRENGTHS[int(np.argmax(scores))]
        weights = full.fit(train_y, num_classes, strength)
        majority = np.bincount(train_y, minlength=num_classes).argmax()
        results[name] = {
            "accuracy": _accuracy(val_x, weights, val_y),
            "train_accuracy": _accuracy(train_x, weights, train_y),
            "majority_baseline": float(np.mean(val_y == majority)),
            "num_classes": len(np.union1d(train_y, val_y)),
            "ridge_strength": strength,
        }
    return results


def probe_accuracies(data_dir: str | Path | None = None, pca: bool = True) -> dict[str, dict]:
    """Probe every attribute of ATTRIBUTES on the dataset in ``data_dir``.

    Uses ``{split}2014_vgg16_fc7_pca.h5`` (or the raw ``{split}2014_vgg16_fc7.h5``
    when ``pca`` is False) and the scene attributes in ``{split}2014_images.h5``.
    Returns {attribute: {"accuracy", "train_accuracy", "majority_baseline",
    "num_classes", "ridge_strength"}}, accuracies on val.
    """
    data_dir = Path(data_dir) if data_dir is not None else DEFAULT_DIR
    features, targets = {}, {}
    for split in SPLITS:
        with h5py.File(data_dir / features_file(split, pca), "r") as f:
            features[split] = f["features"][:]                   # (N, F)
        with h5py.File(data_dir / images_file(split), "r") as f:
            targets[split] = probe_targets(f["attributes"])
    return linear_probes(features["train"], targets["train"], features["val"], targets["val"])


def format_table(results: dict[str, dict]) -> str:
    lines = [f"{'attribute':14s} {'classes':>7s} {'val acc':>8s} {'majority':>9s} {'train acc':>10s}"]
    for name, r in results.items():
        lines.append(f"{name:14s} {r['num_classes']:7d} {r['accuracy']:8.3f} "
                     f"{r['majority_baseline']:9.3f} {r['train_accuracy']:10.3f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Linear-probe accuracy of the synthetic dataset's features.")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="dataset folder (default: the synthetic dataset's default folder)")
    parser.add_argument("--raw", action="store_true", help="probe the raw 2048-d features instead of PCA-512")
    args = parser.parse_args(argv)
    results = probe_accuracies(args.data_dir, pca=not args.raw)
    print(f"Linear probes on {'raw' if args.raw else 'PCA-512'} features (accuracy on val):")
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
