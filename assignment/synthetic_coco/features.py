"""Image features of the synthetic dataset: a fixed convolutional network in NumPy.

It plays the role of VGG-16 fc7 for the real COCO data: hand-designed
colour-opponent channels and oriented edge filters on an object mask,
maxpool, a 3x3 conv with random weights drawn from FEATURE_SEED (independent
of the data seed), ReLU, maxpool, then average and max pooling over a 4x4
grid: 2 x 4 x 4 x 64 = 2048 numbers per image (im2col + matmul, float32).
``datasets/feature_probe.py`` shows that the scene content (count, colours,
shapes, sizes, positions) is linearly recoverable from them.
"""

from __future__ import annotations

import numpy as np

from ..progress import progress_bar

FEATURE_SEED = 2014            # weights of the feature extractor; never the data seed

# Layer 1 is hand-designed, layer 2 is random with a fixed seed:
#   1. colour-opponent channels (a 1x1 conv + ReLU): +-luminance, +-(red-green),
#      +-(yellow-blue): 6 channels that tell the 8 object colours apart;
#   2. an object mask: backgrounds are grey-scale and every object colour is
#      saturated, so the chroma |red-green| + |yellow-blue| (clipped at
#      MASK_CHROMA) is 1 on objects and 0 elsewhere, whatever their colour;
#   3. oriented edges of that mask: 5x5 derivative-of-Gaussian filters at 8
#      orientations, ReLU of both signs (16 channels). They describe shape
#      independently of colour, which random filters on RGB do poorly;
#   4. maxpool 2 -> conv3x3 (22 -> 64, random, FEATURE_SEED) -> ReLU -> maxpool 2:
#      combinations of edges and colours (corners, tips, curves) on a 16x16 map;
#   5. the average and the maximum of that map over each cell of a 4x4 grid.

_NUM_ORIENTATIONS = 8
_OPPONENT = np.array([  # RGB in [0, 1] (3,) -> luminance, red-green, yellow-blue (3,)
    [1 / 3, 1.0, 0.5],
    [1 / 3, -1.0, 0.5],
    [1 / 3, 0.0, -1.0],
], dtype=np.float32)
MASK_CHROMA = 0.15     # chroma at which a pixel counts as fully "object" (brown has ~0.45)
_EDGE_GAIN = 2.0       # edge responses of a full-contrast mask edge are about 1
_COLOR_GAIN = 3.0      # opponent channels weighted up so colour is not drowned by edges
_CONV2 = (3, 2 * _NUM_ORIENTATIONS + 6, 64)  # kernel size, input and output channels
_GRID = 4              # the last feature map is pooled onto a 4x4 grid
FEATURE_DIM = 2 * _GRID * _GRID * _CONV2[2]  # average + max pooling: 2048


def _edge_filters(size: int = 5, sigma: float = 1.2) -> np.ndarray:
    """Derivative-of-Gaussian filters (size, size, 1, 8) at 8 orientations, each
    with zero mean (flat regions give 0) and unit response to a step edge."""
    r = np.arange(size) - size // 2
    y, x = np.meshgrid(r, r, indexing="ij")
    filters = []
    for k in range(_NUM_ORIENTATIONS):
        angle = np.pi * k / _NUM_ORIENTATIONS
        u = x * np.cos(angle) + y * np.sin(angle)  # coordinate across the edge
        g = -u * np.exp(-(x**2 + y**2) / (2 * sigma**2))
        g -= g.mean()
        filters.append(g / (np.abs(g).sum() / 2))
    return np.stack(filters, axis=-1)[:, :, None, :].astype(np.float32)


def _random_conv_weights() -> np.ndarray:
    """Layer-2 weights (k, k, C_in, C_out), He-initialised from FEATURE_SEED, each
    filter with zero mean over its inputs (uniform input -> no response)."""
    k, c_in, c_out = _CONV2
    rng = np.random.default_rng(FEATURE_SEED)
    w = rng.standard_normal((k, k, c_in, c_out)).astype(np.float32)
    w -= w.mean(axis=(0, 1, 2), keepdims=True)
    w *= np.sqrt(2.0 / (k * k * c_in)) / w.std(axis=(0, 1, 2), keepdims=True)
    return w


def _conv(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """'Same' convolution. x (B, H, W, C_in), w (k, k, C_in, C_out) -> (B, H, W, C_out)."""
    k, _, c_in, c_out = w.shape
    p = k // 2
    xp = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    # im2col: every k x k x C_in window as one row, (B*H*W, k*k*C_in), then one matmul
    windows = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(1, 2))  # (B, H, W, C_in, k, k)
    cols = windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, k * k * c_in)
    out = cols @ w.reshape(k * k * c_in, c_out)
    return out.reshape(x.shape[0], x.shape[1], x.shape[2], c_out)


def _relu_both_signs(x: np.ndarray) -> np.ndarray:
    """(..., C) -> (..., 2C): ReLU(x) and ReLU(-x), so no sign of a response is lost."""
    return np.maximum(np.concatenate([x, -x], axis=-1), 0)


def _max_pool(x: np.ndarray, s: int) -> np.ndarray:
    """Non-overlapping s x s max pooling, (B, H, W, C) -> (B, H/s, W/s, C)."""
    b, h, w, c = x.shape
    return x.reshape(b, h // s, s, w // s, s, c).max(axis=(2, 4))


def extract_features(images: np.ndarray, batch_size: int = 64, progress: bool = False,
                     desc: str = "features") -> np.ndarray:
    """Raw (unscaled) features of uint8 images (N, 64, 64, 3) -> float32 (N, 2048).

    See the comment above for the layers. The result is a pure function of
    the pixels: the same image always gives the same features. ``progress``
    shows a progress bar (images done) labelled ``desc``.
    """
    edges_w, conv2_w = _edge_filters(), _random_conv_weights()
    out = np.empty((len(images), FEATURE_DIM), dtype=np.float32)
    bar = progress_bar(total=len(images), desc=desc, unit="image", disable=not progress,
                       leave=True)
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size].astype(np.float32) / 255.0  # (B, 64, 64, 3)
        opponent = x @ _OPPONENT
        opponent[..., 0] -= 0.5                           # luminance around 0
        opponent = _relu_both_signs(opponent)             # (B, 64, 64, 6): +L +RG +BY -L -RG -BY
        chroma = opponent[..., [1, 2, 4, 5]].sum(axis=-1, keepdims=True)
        mask = np.minimum(chroma, MASK_CHROMA) / MASK_CHROMA         # (B, 64, 64, 1)
        edges = _relu_both_signs(_EDGE_GAIN * _conv(mask, edges_w))  # (B, 64, 64, 16)
        h = _max_pool(np.concatenate([edges, _COLOR_GAIN * opponent], axis=-1), 2)  # (B, 32, 32, 22)
        h = _max_pool(np.maximum(_conv(h, conv2_w), 0), 2)          # (B, 16, 16, 64)
        b, size, _, c = h.shape
        s = size // _GRID
        cells = h.reshape(b, _GRID, s, _GRID, s, c)
        pooled = np.concatenate([cells.mean(axis=(2, 4)), cells.max(axis=(2, 4))], axis=-1)  # (B, 4, 4, 128)
        out[start:start + b] = pooled.reshape(b, -1)
        bar.update(b)
    bar.close()
    return out
