"""Progress bars that are bars: a widget in a real Jupyter kernel with no warning, verbose
messages on their own lines, a text bar in a real terminal (a pseudo-terminal), and progress
while the dataset's features are extracted."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import textwrap

import numpy as np
import pytest

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

TRAINING = textwrap.dedent("""
    import numpy as np
    from autograder.answer_key.solution import reference
    CaptioningRNN = reference().CaptioningRNN
    from assignment.solver import CaptioningSolver
    rng = np.random.default_rng(0)
    words = ["<NULL>", "<START>", "<END>", "a", "b", "c"]
    captions = rng.integers(3, 6, size=(40, 6)).astype(np.int32)
    captions[:, 0] = 1
    data = {"train_captions": captions, "train_image_idxs": rng.integers(0, 8, 40),
            "train_features": rng.standard_normal((8, 5)).astype(np.float32)}
    model = CaptioningRNN({w: i for i, w in enumerate(words)}, input_dim=5, wordvec_dim=4,
                          hidden_dim=6, seed=0)
    solver = CaptioningSolver(model, data, update_rule="adam", batch_size=10, num_epochs=3,
                              print_every=4, verbose=True, seed=0)
    solver.train();
""")
MESSAGE = re.compile(r"\(Iteration \d+ / 12\) loss: \d+\.\d{6}$")


def _run_in_kernel(tmp_path, cells):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


def _streams(cell, name):
    return "".join(o["text"] for o in cell.outputs
                   if o["output_type"] == "stream" and o["name"] == name)


@pytest.fixture(scope="module")
def kernel_run(tmp_path_factory):
    """Set-up imports and a verbose training run in one real kernel."""
    setup = ("import warnings\nwarnings.simplefilter('always')\n"
             "from assignment.solver import CaptioningSolver\n"
             "from assignment.progress import bar_class\nprint(bar_class().__module__)")
    return _run_in_kernel(tmp_path_factory.mktemp("kernel"), [setup, TRAINING])


@pytest.mark.slow
def test_setup_in_a_kernel_prints_no_warning(kernel_run):
    setup = kernel_run.cells[0]
    assert _streams(setup, "stderr") == ""
    assert _streams(setup, "stdout").strip() == "tqdm.notebook"  # ipywidgets is installed


@pytest.mark.slow
def test_training_in_a_kernel_shows_one_widget_bar_and_whole_message_lines(kernel_run):
    cell = kernel_run.cells[1]
    assert _streams(cell, "stderr") == ""  # no text bar in the red stream, no warning
    widgets = [o for o in cell.outputs if o["output_type"] == "display_data"
               and WIDGET_VIEW in o.get("data", {})]
    assert len(widgets) == 1
    lines = _streams(cell, "stdout").splitlines()
    assert len(lines) == 3 and all(MESSAGE.match(line) for line in lines), lines
    # the widget's state was recorded: a real progress widget whose value reached the total
    state = kernel_run.metadata["widgets"][WIDGET_STATE]["state"]
    bars = [m["state"] for m in state.values() if m["model_name"] == "FloatProgressModel"]
    assert len(bars) == 1 and bars[0]["value"] == bars[0]["max"] == 12


@pytest.mark.slow
def test_without_ipywidgets_a_kernel_gets_a_text_bar_on_stdout_and_no_warning(tmp_path):
    hide = ("import sys, warnings\nwarnings.simplefilter('always')\n"
            "sys.modules['ipywidgets'] = None  # an environment without ipywidgets\n")
    nb = _run_in_kernel(tmp_path, [hide, TRAINING])
    cell = nb.cells[1]
    assert _streams(cell, "stderr") == ""
    out = _streams(cell, "stdout")
    assert "IProgress" not in out and "Warning" not in out
    assert "training: 100%" in out
    # each message is a line of its own once the bar's carriage returns are applied
    messages = [line.rsplit("\r", 1)[-1] for line in out.split("\n") if "(Iteration" in line]
    assert len(messages) == 3 and all(MESSAGE.match(m) for m in messages), messages


def _run_in_terminal(code):
    """Run ``code`` with stdout and stderr on a pseudo-terminal; everything it wrote."""
    main, secondary = pty.openpty()
    # a terminal of 24 rows and 100 columns (a new pseudo-terminal has 0 columns: no room for a bar)
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                            stdout=secondary, stderr=secondary)
    os.close(secondary)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], 120)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    assert proc.wait(timeout=60) == 0, b"".join(chunks).decode(errors="replace")[-2000:]
    return b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")


@pytest.mark.slow
def test_training_in_a_terminal_shows_a_text_bar_and_whole_message_lines():
    out = _run_in_terminal(TRAINING)
    assert re.search(r"training: 100%\|█+\| 12/12", out)
    messages = [line.rsplit("\r", 1)[-1] for line in out.split("\n") if "(Iteration" in line]
    assert len(messages) == 3 and all(MESSAGE.match(m) for m in messages), messages


def test_feature_extraction_shows_progress(capsys):
    from assignment.synthetic_coco.features import extract_features
    from assignment.synthetic_coco.scenes import IMAGE_SIZE

    images = np.zeros((70, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    quiet = extract_features(images[:3])
    assert capsys.readouterr().err == ""
    features = extract_features(images, batch_size=32, progress=True, desc="train features")
    err = capsys.readouterr().err
    assert re.search(r"train features: 100%.*70/70", err), err
    assert np.array_equal(features[:3], quiet)
