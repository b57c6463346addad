"""Student submissions made from the source notebooks, for the grading tests.

A student's notebook holds their answers but never the instructor's solution
markers (``### BEGIN SOLUTION`` / ``### END SOLUTION``): grading flags a notebook
that carries them as a copy of the source. ``solved_notebook`` is the source
notebook as an honest student who solved everything would submit it.
"""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def _text(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def solved_notebook(name: str, notebooks_from: Path = REPO / "notebooks") -> dict:
    """The notebook ``name`` with every answer filled in and no solution markers."""
    nb = json.loads((Path(notebooks_from) / name).read_text())
    for cell in nb["cells"]:
        cell["source"] = "".join(line for line in _text(cell).splitlines(keepends=True)
                                 if line.strip() not in MARKERS)
    return nb


def write_submission(folder: Path, names, edit=None, notebooks_from: Path = REPO / "notebooks"):
    """Write one student's folder: each notebook solved, then ``edit(name, nb)`` if given."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        nb = solved_notebook(name, notebooks_from)
        if edit:
            edit(name, nb)
        (folder / name).write_text(json.dumps(nb))
