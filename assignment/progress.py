"""Progress bars: a widget in Jupyter, a text bar in a terminal, never a warning.

    from assignment.progress import progress_bar
    for t in progress_bar(range(n), desc="training"):
        ...
        write("a message", bar)           # on its own line, never through the bar

In a Jupyter kernel with ipywidgets (a dependency of this package) the bar is
tqdm's widget. Without ipywidgets (an environment set up without the
package's dependencies) it is a text bar on stdout instead of tqdm's pink "IProgress not
found" warning and a bar in the error stream. Anywhere else it is tqdm's text
bar on stderr, and messages go through ``tqdm.write`` so that they never cut
the bar.
"""

from __future__ import annotations

import sys

__all__ = ["progress_bar", "write", "bar_class", "in_notebook", "widgets_available"]


def in_notebook() -> bool:
    """True in a Jupyter kernel (JupyterLab, Notebook, VS Code), False in a terminal."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def widgets_available() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def bar_class():
    """The tqdm class to use here: the notebook widget or the text bar."""
    if in_notebook() and widgets_available():
        from tqdm.notebook import tqdm
        return tqdm
    from tqdm.std import tqdm
    return tqdm


def progress_bar(iterable=None, **kwargs):
    """A tqdm bar suited to where the code runs (see the module docstring)."""
    cls = bar_class()
    if in_notebook() and cls.__module__ == "tqdm.std":
        kwargs.setdefault("file", sys.stdout)  # a text bar in a notebook: not in the red stream
    return cls(iterable, **kwargs)


def write(message, bar=None):
    """Print a message on stdout without breaking the bars on the screen (``tqdm.write``)."""
    cls = type(bar) if bar is not None else bar_class()
    cls.write(message, file=sys.stdout)
