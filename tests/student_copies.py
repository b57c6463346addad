"""Student submissions made from the source notebooks, for the grading tests.

A student's notebook holds their answers but never the instructor's solution
markers (``### BEGIN SOLUTION`` / ``### END SOLUTION``): grading flags a notebook
that carries them as a copy of the source. ``autograder.demo.samples.solved`` gives the
source notebook as an honest student who solved everything would submit it.
"""

from __future__ import annotations

import json
from pathlib import Path

from assignment.units import UNITS
from autograder.demo.samples import solved

REPO = Path(__file__).resolve().parents[1]

# The grading tests' courses hand out the two captioning notebooks (``release
# --notebooks``); the language-model notebook is released and graded in
# tests/test_release.py.
CAPTIONING = ("RNN_Captioning.ipynb", "LSTM_Captioning.ipynb")
CAPTIONING_RELEASE = ("--notebooks",) + tuple(n[:-len(".ipynb")] for n in CAPTIONING)
CAPTIONING_UNITS = {name: unit for name, unit in UNITS.items()
                    if f"{unit.notebook}.ipynb" in CAPTIONING}


def write_submission(folder: Path, names, edit=None, notebooks_from: Path = REPO / "notebooks"):
    """Write one student's folder: each notebook solved, then ``edit(name, nb)`` if given."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        nb = solved(json.loads((Path(notebooks_from) / name).read_text()))
        if edit:
            edit(name, nb)
        (folder / name).write_text(json.dumps(nb))
