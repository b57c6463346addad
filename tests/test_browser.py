"""A real browser: JupyterLab on 127.0.0.1, headless Chromium driven by Playwright.

Each notebook, with the solutions filled in (the source notebook without its
hidden tests, as a student who solved everything has it), is opened in
JupyterLab and run with Run > Run All Cells, the training cells shortened by
``ASSIGNMENT_QUICK=1``. The test asserts what a student must see: no error and
nothing in the red error stream, a real progress-bar widget, and the images
and plots rendered. Screenshots go to ``outputs/browser/``.

Needs Debian's ``chromium`` (``make install`` installs it with apt where it
can) and the ``playwright`` package (the ``dev`` extra); Playwright's own
browser download is not used. Skipped, with the reason, where either is
missing or Chromium cannot start.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["RNN_Captioning.ipynb", "LSTM_Captioning.ipynb"]  # RNN first: the LSTM one reads it
SCREENSHOTS = REPO / "outputs" / "browser"
RUN_ALL_TIMEOUT_S = 900  # a Run All takes a minute or two on 2 idle cores
STEP_TIMEOUT_S = 180     # anything else: loading the page, a click, a screenshot

pytestmark = pytest.mark.slow


def _solved_notebook(name: str) -> dict:
    """The source notebook with its solutions and without the hidden tests, outputs cleared."""
    nb = json.loads((REPO / "notebooks" / name).read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            text = "".join(cell["source"])
            text = re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", "", text, flags=re.S)
            cell["source"] = text
            cell["outputs"], cell["execution_count"] = [], None
    return nb


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chromium():
    """(playwright's sync_playwright, path of chromium) or a skip with what to install."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the browser test needs Playwright: pip install -e '.[dev]' (or "
                    "pip install playwright); its own browser download is not needed")
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("the browser test needs a headless Chromium: install Debian's chromium "
                    "(sudo apt-get install chromium; `make install` does it where it can)")
    return sync_playwright, path


@pytest.fixture(scope="module")
def browser():
    sync_playwright, path = _chromium()
    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium's sandbox refuses root
    with sync_playwright() as p:
        try:
            chromium = p.chromium.launch(executable_path=path, headless=True, args=args)
        except Exception as err:  # no display libraries, seccomp, ...
            pytest.skip(f"Chromium ({path}) could not start here: {str(err).splitlines()[0]}")
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 with a token, serving a folder with the solved notebooks."""
    root = tmp_path_factory.mktemp("lab")
    folder = root / "notebooks"
    folder.mkdir()
    for name in NOTEBOOKS:
        (folder / name).write_text(json.dumps(_solved_notebook(name), indent=1) + "\n")
    # every cell in the page (no virtual scrolling), no pop-ups asking about news
    settings = root / "settings"
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"}))
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings") \
        .write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    token, port = secrets.token_hex(16), _free_port()
    env = {**os.environ, "ASSIGNMENT_QUICK": "1", "JUPYTERLAB_SETTINGS_DIR": str(settings),
           "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(root / "runtime"), "JUPYTER_CONFIG_DIR": str(root / "config")}
    env.pop("NBGRADER_EXECUTION", None)
    log = open(root / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
         "--ServerApp.port_retries=0", "--allow-root"],
        cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5):
                break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("JupyterLab did not start:\n"
                            + (root / "jupyterlab.log").read_text()[-3000:])
            time.sleep(0.5)
    yield {"url": url, "token": token, "folder": folder, "log": root / "jupyterlab.log"}
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    log.close()


def _run_all(page, lab, name):
    page.goto(f"{lab['url']}/lab/tree/{name}?token={lab['token']}&reset")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    # the kernel is up when the toolbar's status says Idle
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator[data-status='idle']")
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click("li.lm-Menu-item[data-command='runmenu:run-all']")
    code_cells = page.locator(".jp-NotebookPanel .jp-CodeCell").count()
    # done when every code cell shows its execution count, e.g. [12]:
    page.wait_for_function(
        """(n) => {
            const prompts = [...document.querySelectorAll(
                '.jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent);
            return prompts.length === n && prompts.every(t => /\\[\\d+\\]/.test(t));
        }""", arg=code_cells, timeout=RUN_ALL_TIMEOUT_S * 1000, polling=1000)
    # let the last outputs (figures, widget views) render
    page.wait_for_timeout(1500)
    return code_cells


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_run_all_in_jupyterlab_shows_bars_images_and_no_error(name, browser, lab):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    stem = Path(name).stem
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    # a loaded 2-core machine can take well over Playwright's default 30 s to load JupyterLab
    page.set_default_timeout(STEP_TIMEOUT_S * 1000)
    try:
        _run_all(page, lab, name)
        page.screenshot(path=str(SCREENSHOTS / f"{stem}_end.png"))

        outputs = page.locator(".jp-NotebookPanel .jp-OutputArea-output")
        errors = page.locator(".jp-NotebookPanel .jp-OutputArea-output"
                              "[data-mime-type='application/vnd.jupyter.stderr']")
        assert errors.count() == 0, "output in the error stream:\n" + "\n---\n".join(
            errors.all_inner_texts())[:3000]
        assert outputs.count() > 0

        # a real progress widget (ipywidgets' FloatProgress inside tqdm's box), not its text
        # stand-in and not "Error displaying widget"
        bars = page.locator(".jp-NotebookPanel .jupyter-widgets.widget-hprogress")
        assert bars.count() >= 1, "no progress widget was rendered"
        assert page.get_by_text("Error displaying widget").count() == 0
        assert page.get_by_text("Loading widget...").count() == 0
        bars.first.scroll_into_view_if_needed()
        bars.first.locator("xpath=..").screenshot(path=str(SCREENSHOTS / f"{stem}_progress.png"))

        # figures: every image output decoded by the browser (natural size > 0)
        images = page.locator(".jp-NotebookPanel .jp-RenderedImage img")
        assert images.count() >= 3, f"{images.count()} images rendered"
        sizes = images.evaluate_all("imgs => imgs.map(i => [i.naturalWidth, i.naturalHeight])")
        assert all(w > 50 and h > 50 for w, h in sizes), sizes
        images.first.scroll_into_view_if_needed()
        images.first.screenshot(path=str(SCREENSHOTS / f"{stem}_first_figure.png"))
        images.last.scroll_into_view_if_needed()
        images.last.screenshot(path=str(SCREENSHOTS / f"{stem}_last_figure.png"))

        # and the notebook saved from the browser agrees: every cell ran, none has an error
        page.click(".lm-MenuBar-itemLabel:text-is('File')")
        page.click("li.lm-Menu-item[data-command='docmanager:save']")
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while True:
            saved = json.loads((lab["folder"] / name).read_text())
            code = [c for c in saved["cells"] if c["cell_type"] == "code"]
            if all(c["execution_count"] for c in code) or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert all(c["execution_count"] for c in code), "the notebook was not saved after the run"
        bad = [o for c in saved["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
               if o["output_type"] == "error"
               or (o["output_type"] == "stream" and o["name"] == "stderr")]
        assert bad == [], bad[:3]
    finally:
        page.close()
