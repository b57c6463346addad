"""Plots for the notebooks: training curves and images with their captions.

    plot_loss(solver.loss_history)
    show_captioned_images(images, generated, references)

Both draw with matplotlib and return the figure, so a notebook shows it and a
script can save it (``fig.savefig('captions.png')``).
"""

from __future__ import annotations

import textwrap

import numpy as np


def _plt():
    import matplotlib.pyplot as plt
    return plt


def plot_loss(loss_history, val_loss_history=None, iterations_per_epoch=None, ax=None,
              smooth=None, title="Training loss"):
    """Loss per iteration, with an optional moving average and val loss per epoch.

    Inputs:
        loss_history: list of floats, one per iteration
        val_loss_history: optional list of floats, one per epoch
        iterations_per_epoch: where to place the val points (needed with val losses)
        smooth: window of the moving average (default: about 2% of the run)
    """
    plt = _plt()
    losses = np.asarray(loss_history, dtype=float)
    if losses.ndim != 1 or losses.size == 0:
        raise ValueError(f"loss_history must be a non-empty list of numbers, got shape {losses.shape}.")
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 4))
    ax.plot(np.arange(1, losses.size + 1), losses, lw=0.8, alpha=0.4, label="minibatch loss")
    window = smooth or max(1, losses.size // 50)
    if window > 1 and losses.size > window:
        avg = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window, losses.size + 1), avg, lw=1.8, label=f"moving average ({window})")
    if val_loss_history:
        if not iterations_per_epoch:
            raise ValueError("iterations_per_epoch is needed to place the val losses on the axis.")
        epochs = np.arange(1, len(val_loss_history) + 1) * iterations_per_epoch
        ax.plot(epochs, val_loss_history, "o-", label="val loss")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def _as_text(caption):
    return caption if isinstance(caption, str) else " ".join(caption)


def show_image_with_captions(image, generated=None, references=None, ax=None, title=None):
    """One image with its generated caption (bold) and reference captions below.

    Inputs:
        image: (H, W, 3) uint8 array (a placeholder for an image that could not be
            downloaded shows the reason instead)
        generated: the model's caption (string or token list), optional
        references: list of reference captions (strings or token lists), optional
    """
    plt = _plt()
    image = np.asanyarray(image)  # keeps a placeholder's reason
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must have shape (H, W, 3), got {image.shape}.")
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(3.2, 4.2))
    ax.imshow(image, interpolation="nearest")
    if getattr(image, "reason", None) and hasattr(image, "describe"):
        # an image that could not be downloaded (assignment.images.ImagePlaceholder): say why
        ax.text(0.5, 0.5, image.describe(), transform=ax.transAxes, ha="center", va="center",
                fontsize=8, color="0.25", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    lines = []
    if generated is not None:
        lines.append("model: " + textwrap.fill(_as_text(generated), 34, subsequent_indent="  "))
    for ref in (references or [])[:3]:
        lines.append("ref: " + textwrap.fill(_as_text(ref), 34, subsequent_indent="  "))
    if lines:
        ax.set_xlabel("\n".join(lines), fontsize=8, loc="left", labelpad=6)
    return fig


def show_captioned_images(images, generated, references=None, ncols=4, titles=None):
    """A grid of images, each with its generated and reference captions.

    Inputs:
        images: (n, H, W, 3) uint8, or a list of n (H_i, W_i, 3) images (real COCO)
        generated: n captions (strings or token lists)
        references: optional n lists of reference captions
    """
    plt = _plt()
    n = len(images)
    if len(generated) != n or (references is not None and len(references) != n):
        raise ValueError(
            f"got {n} images, {len(generated)} generated captions and "
            f"{'no' if references is None else len(references)} reference lists; they must match."
        )
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 5.6 * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= n:
            ax.axis("off")
            continue
        show_image_with_captions(images[k], generated[k],
                                 None if references is None else references[k], ax=ax,
                                 title=None if titles is None else titles[k])
    fig.tight_layout()
    return fig
