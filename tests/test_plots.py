"""Plot helpers draw what they say and reject mismatched inputs."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from assignment.plots import plot_loss, show_captioned_images, show_image_with_captions  # noqa: E402


def test_plot_loss_draws_raw_smoothed_and_val_curves(tmp_path):
    losses = list(np.linspace(5, 1, 200))
    fig = plot_loss(losses, val_loss_history=[3.0, 2.0], iterations_per_epoch=100)
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert labels == ["minibatch loss", "moving average (4)", "val loss"]
    fig.savefig(tmp_path / "loss.png")
    assert (tmp_path / "loss.png").stat().st_size > 1000


def test_plot_loss_needs_iterations_per_epoch_for_val_points():
    with pytest.raises(ValueError, match="iterations_per_epoch"):
        plot_loss([1.0, 0.5], val_loss_history=[0.7])
    with pytest.raises(ValueError, match="non-empty"):
        plot_loss([])


def test_image_with_captions_shows_model_and_reference_text():
    img = np.zeros((64, 64, 3), np.uint8)
    fig = show_image_with_captions(img, ["a", "red", "circle"], ["a red disc", "a small red circle"])
    label = fig.axes[0].get_xlabel()
    assert "model: a red circle" in label and "ref: a red disc" in label
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        show_image_with_captions(np.zeros((4, 4)), "x")


def test_captioned_grid_layout_and_mismatch():
    imgs = np.zeros((5, 8, 8, 3), np.uint8)
    fig = show_captioned_images(imgs, ["a"] * 5, [["b"]] * 5, ncols=3)
    assert len(fig.axes) == 6 and not fig.axes[-1].axison
    with pytest.raises(ValueError, match="must match"):
        show_captioned_images(imgs, ["a"] * 4)
