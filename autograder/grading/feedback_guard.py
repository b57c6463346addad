"""Feedback never shows solution code or hidden tests, whatever was submitted.

Instructor-only. nbgrader's ``generate_feedback`` turns each graded notebook
into HTML for the student. Hidden tests are removed by nbgrader
(``ClearHiddenTests``), and the grader puts the instructor's cells back from
the source before grading: so text of the source notebooks is in every graded
notebook, and a submission that brought the source's own text along (a
symlink, a copied instructor file) would bring solutions with it. This
exporter checks every feedback page, twice, before nbgrader writes it:

1. after nbgrader's preprocessors, each cell whose source or outputs hold
   instructor-only text is replaced by a short note (the cell is withheld);
2. the finished HTML, as the student's browser shows it (tags removed,
   entities decoded), is searched again; if anything is still there, the
   whole page is replaced by a notice.

Either way the notebook is flagged for review with what was withheld (the
exporter's ``withheld``, read after nbgrader ran by
``autograder.grading.gradebook_extras.flag_withheld``).

Instructor-only text (``instructor_only_text``): nbgrader's solution and
hidden-test markers (``BEGIN SOLUTION``, ``BEGIN HIDDEN TESTS``, ...; every
solution region of a source notebook carries them), the kernel-side grading
module's name and every line of the source's hidden tests. The lines *inside*
solution regions are not in the list on purpose: a correct student's code (or
a good written answer) is often the same as the answer key's, line for line,
and its feedback must show it; what brought the instructor's own cells along
(a link, a copied source notebook) also brings the markers.
"""

from __future__ import annotations

import functools
import html
import html.parser
import json
import os
import re
from pathlib import Path

from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

__all__ = ["GuardedFeedbackExporter", "instructor_only_text", "find_leaks",
           "visible_text"]

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
           "rnn_grading_kernel")
MIN_LINE = 24                   # shorter lines of a hidden test are not checked



def _source(cell) -> str:
    text = cell.get("source", "") if isinstance(cell, dict) else ""
    return "".join(text) if isinstance(text, list) else str(text)


def _regions(text: str, begin: str, end: str) -> list:
    out, inside = [], False
    for line in text.splitlines():
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside:
            out.append(line)
    return out


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def instructor_only_text(source_notebooks) -> tuple:
    """Markers and hidden-test lines of the source notebooks (whitespace squashed)."""
    paths = tuple(str(p) for p in source_notebooks)
    stamp = []
    for path in paths:
        try:
            info = os.stat(path)
            stamp.append((info.st_mtime_ns, info.st_size))
        except OSError:
            stamp.append(None)
    return _instructor_only_text(paths, tuple(stamp))


@functools.lru_cache(maxsize=16)
def _instructor_only_text(source_notebooks, _stamp) -> tuple:
    found = set(MARKERS)
    for path in source_notebooks:
        try:
            nb = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for cell in nb.get("cells", []):
            text = _source(cell)
            lines = _regions(text, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
            found.update(_squash(line) for line in lines if len(_squash(line)) >= MIN_LINE)
    return tuple(sorted(found))


def find_leaks(text: str, sensitive) -> list:
    """The instructor-only strings in ``text`` (whitespace-insensitive)."""
    squashed = _squash(text)
    return [s for s in sensitive if s in squashed]


class _Text(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("style", "script") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(page: str) -> str:
    """What a browser shows of an HTML page (tags, styles and scripts removed)."""
    parser = _Text()
    parser.feed(page)
    parser.close()
    return "".join(parser.parts)


def _cell_text(cell) -> str:
    parts = [_source(cell)]
    for out in cell.get("outputs", []) or []:
        parts.append(json.dumps(out, ensure_ascii=False, default=str))
    parts.append(json.dumps(cell.get("attachments", {}), ensure_ascii=False, default=str))
    return "\n".join(parts)


NO_ALT_TEXT = "No description has been provided for this image"
_IMG_WITHOUT_ALT = re.compile(r"<img\s(?![^>]*\balt\s*=)", re.IGNORECASE)

WITHHELD_CELL = ("[grader] This cell is not shown: it holds text of the instructor's notebook "
                 "that feedback never shows. Your grade is not affected by this note; the course "
                 "staff will look at it.")
WITHHELD_PAGE = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feedback</title></head>"
                 "<body><p>The feedback of this notebook is not shown here: it would have held "
                 "text of the instructor's notebook. Your grade is recorded; the course staff "
                 "will send you your feedback.</p></body></html>")


class GuardedFeedbackExporter(HTMLExporter):
    """nbgrader's feedback HTML, with instructor-only text withheld (see the module doc).

    ``withheld``: (student, notebook) -> what was withheld, for every page this
    exporter wrote (nbgrader keeps the exporter as its converter's ``exporter``).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.withheld = {}

    def _sensitive(self, resources) -> tuple:
        info = (resources or {}).get("nbgrader", {})
        coursedir = getattr(self.parent, "coursedir", None)
        if coursedir is not None and info.get("assignment"):
            folder = Path(coursedir.format_path(coursedir.source_directory, ".",
                                                info["assignment"]))
        else:
            folder = Path("source") / str(info.get("assignment", "*"))
        return instructor_only_text(sorted(folder.glob("*.ipynb")))

    def _key(self, resources):
        info = (resources or {}).get("nbgrader", {})
        return (info.get("student"), info.get("notebook"))

    def _preprocess(self, nb, resources):
        nb, resources = super()._preprocess(nb, resources)
        sensitive = self._sensitive(resources)
        resources["rnn_sensitive"] = sensitive
        withheld = []
        for index, cell in enumerate(nb.cells):
            leaks = find_leaks(_cell_text(cell), sensitive)
            if leaks:
                withheld.append(f"cell {index} ({leaks[0][:40]!r})")
                cell.cell_type = "markdown" if cell.cell_type != "raw" else "raw"
                for key in ("outputs", "execution_count", "attachments"):
                    cell.pop(key, None)
                cell.source = WITHHELD_CELL
        if withheld:
            self.withheld.setdefault(self._key(resources), []).extend(withheld)
        return nb, resources

    def _render(self, nb, resources, **kw):
        """The page as nbgrader's feedback template writes it.

        ``HTMLExporter.from_notebook_node`` registers the code highlighter and
        the output-type filter, renders the template, then parses the whole
        page again with BeautifulSoup to add ``tabindex`` to JupyterLab's cell
        markup and ``alt`` to images. nbgrader's feedback template writes the
        classic markup (no JupyterLab classes), so that pass would only cost
        time (a fifth of a second per page, most of the feedback's cost): this
        does the first two steps, and gives an image without alternative text
        the same sentence with a plain search.
        """
        language = nb.metadata.get("language_info", {})
        lexer = language.get("pygments_lexer", language.get("name", None))
        self.register_filter("highlight_code", self.filters.get(
            "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
        resources = self._init_resources(resources)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources))
        output, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return _IMG_WITHOUT_ALT.sub(f'<img alt="{NO_ALT_TEXT}" ', output), resources

    def from_notebook_node(self, nb, resources=None, **kw):
        output, resources = self._render(nb, resources, **kw)
        sensitive = resources.get("rnn_sensitive") or self._sensitive(resources)
        leaks = find_leaks(html.unescape(visible_text(output)), sensitive)
        if leaks:
            self.withheld.setdefault(self._key(resources), []).append(
                f"the whole page ({leaks[0][:40]!r})")
            output = WITHHELD_PAGE
        return output, resources
