"""Principal components of the train features (the ``_pca`` feature files).

The PCA-512 files hold the features projected on the 512 principal
components of the *train* features, computed deterministically so that
rebuilds give identical files.
"""

from __future__ import annotations

import numpy as np

PCA_DIM = 512


def fit_pca(train: np.ndarray, dim: int = PCA_DIM) -> tuple[np.ndarray, np.ndarray]:
    """Mean (F,) and the top ``dim`` principal directions (F, dim) of ``train`` (N, F).

    Computed in float64. Each direction's sign is fixed (largest entry
    positive) so that rebuilds give identical files. With fewer than ``dim``
    independent train rows (tiny test builds) the missing directions are zero.
    """
    x = train.astype(np.float64)
    mean = x.mean(axis=0)
    x -= mean
    n, f = x.shape
    if n > f:  # eigenvectors of the F x F scatter matrix x^T x
        eigvals, components = np.linalg.eigh(x.T @ x)
    else:      # fewer rows than features: go through the N x N Gram matrix x x^T
        eigvals, u = np.linalg.eigh(x @ x.T)
        components = (x.T @ u) / np.sqrt(np.maximum(eigvals, 1e-300))  # unit columns (F, N)
    order = np.argsort(eigvals)[::-1]
    eigvals, components = eigvals[order], components[:, order]
    valid = eigvals > 1e-9 * max(eigvals.max(), 1e-300)  # drop directions without variance
    components = components[:, :dim] * valid[:dim]
    if components.shape[1] < dim:
        components = np.pad(components, ((0, 0), (0, dim - components.shape[1])))
    signs = np.sign(components[np.argmax(np.abs(components), axis=0), np.arange(dim)])
    components *= np.where(signs == 0, 1.0, signs)
    return mean, components
