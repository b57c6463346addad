"""Rendering a scene to pixels: anti-aliased shapes, alpha-blended by how much of each pixel they cover."""

from __future__ import annotations

import numpy as np

from .scenes import BACKGROUND_RGB, COLOR_RGB, IMAGE_SIZE, SHAPES, SIZE_RADIUS, SIZES, Scene

_SUPERSAMPLE = 4  # 4x4 samples per pixel: smooth edges for free (the masks are precomputed)


def _shape_mask(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Whether the points (dx, dy) (any shape; y grows downwards) lie inside the shape."""
    ax, ay = np.abs(dx), np.abs(dy)
    if shape == "circle":
        return dx**2 + dy**2 <= (0.95 * r) ** 2
    if shape == "square":
        return np.maximum(ax, ay) <= 0.8 * r
    if shape == "diamond":  # taller than wide, so it never looks like a tilted square
        return ax / (0.75 * r) + ay / r <= 1.0
    if shape == "cross":  # a plus sign with arms a third as wide as long
        arm = 0.3 * r
        return ((ax <= r) & (ay <= arm)) | ((ax <= arm) & (ay <= r))
    if shape == "triangle":  # pointing up, circumradius R, centred on its centroid
        big = 1.15 * r
        return (dy <= big / 2) & (ax <= (dy + big) / np.sqrt(3.0))
    if shape == "star":  # five points: tips at 1.1 R, notches at 0.5 R
        outer, inner = 1.1 * r, 0.5 * r
        # Fold the angle into one half-spike [0, 36 deg] measured from a tip
        # (tips point up); there the edge is the line from the tip to the notch.
        theta = np.degrees(np.arctan2(dx, -dy)) % 72.0
        theta = np.radians(np.minimum(theta, 72.0 - theta))
        rho = np.hypot(dx, dy)
        px, py = rho * np.sin(theta), rho * np.cos(theta)  # folded point, tip along +y
        tip = np.array([0.0, outer])
        notch = inner * np.array([np.sin(np.radians(36.0)), np.cos(np.radians(36.0))])
        normal = np.array([tip[1] - notch[1], notch[0] - tip[0]])  # points away from the centre
        return px * normal[0] + py * normal[1] <= normal @ tip
    raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")


def _coverage_template(shape: int, size: int) -> np.ndarray:
    """Fraction of each pixel covered by an object centred on the middle pixel.

    Returns float32 (S, S) with S = 2 * ceil(1.2 R) + 1, computed once per
    (shape, size) with _SUPERSAMPLE**2 samples per pixel.
    """
    r = SIZE_RADIUS[size]
    half = int(np.ceil(1.2 * r))
    offsets = (np.arange(_SUPERSAMPLE) + 0.5) / _SUPERSAMPLE - 0.5
    pixels = np.arange(-half, half + 1)
    samples = (pixels[:, None] + offsets[None, :]).ravel()          # (S * s,)
    y, x = np.meshgrid(samples, samples, indexing="ij")             # (S * s, S * s)
    size = len(pixels)
    inside = _shape_mask(SHAPES[shape], x, y, r).reshape(size, _SUPERSAMPLE, size, _SUPERSAMPLE)
    return inside.mean(axis=(1, 3)).astype(np.float32)


_TEMPLATES = {(s, z): _coverage_template(s, z) for s in range(len(SHAPES)) for z in range(len(SIZES))}
_PAD = max(t.shape[0] for t in _TEMPLATES.values())  # canvas margin so no template needs clipping


def render_scene(scene: Scene) -> np.ndarray:
    """The image of a scene: uint8 (64, 64, 3), objects alpha-blended by coverage."""
    size = IMAGE_SIZE + 2 * _PAD
    canvas = np.empty((size, size, 3), dtype=np.float32)
    canvas[:] = BACKGROUND_RGB[scene.background]
    for obj in scene.objects:
        cover = _TEMPLATES[(obj.shape, obj.size)]  # (S, S)
        half = cover.shape[0] // 2
        y0, x0 = _PAD + obj.y - half, _PAD + obj.x - half
        patch = canvas[y0:y0 + cover.shape[0], x0:x0 + cover.shape[1]]  # view, (S, S, 3)
        patch += cover[:, :, None] * (COLOR_RGB[obj.color] - patch)
    image = canvas[_PAD:_PAD + IMAGE_SIZE, _PAD:_PAD + IMAGE_SIZE]
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)
