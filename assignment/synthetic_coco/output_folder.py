"""Replacing the output folder safely: a build never leaves a folder that looks complete but is not.

The files are written into a hidden sibling folder (``.NAME.partial-PID``)
that is renamed into place at the end; the folder it replaces is first moved
aside (``.NAME.old-PID``). Hidden folders of builds that were killed are
removed by the next build; those of builds still running are left alone. A
folder holding anything but a synthetic build is never replaced.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable, TypeVar

from .layout import FILENAMES

T = TypeVar("T")


def replace_folder(out_dir: Path, fill: Callable[[Path], T]) -> T:
    """Run ``fill(folder)`` on a fresh hidden folder, then swap it in as ``out_dir``; ``fill``'s result.

    If ``fill`` raises (or the build is interrupted), ``out_dir`` is left as it was.
    """
    _check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_folders(out_dir)
    tmp_dir = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir()
    try:
        result = fill(tmp_dir)
        # Swap the finished folder in. Only these renames touch out_dir, so a
        # crash leaves either the old folder, or none (never a half one).
        old_dir = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        _check_replaceable(out_dir)  # again: it may have changed during the build
        if out_dir.exists():
            out_dir.rename(old_dir)
        tmp_dir.rename(out_dir)
        shutil.rmtree(old_dir, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    return result


def _process_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would send Ctrl-C on Windows: assume it runs
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True      # it exists, it is just not ours
    return True


def _remove_stale_folders(out_dir: Path) -> None:
    """Delete hidden half-builds (and swapped-out old builds) left by killed
    processes; those of builds still running are left alone."""
    for pattern in (f".{out_dir.name}.partial-*", f".{out_dir.name}.old-*"):
        for path in out_dir.parent.glob(pattern):
            pid = path.name.rsplit("-", 1)[-1]
            if pid.isdigit() and int(pid) != os.getpid() and _process_alive(int(pid)):
                continue  # another build is running right now
            shutil.rmtree(path, ignore_errors=True)


def _check_replaceable(out_dir: Path) -> None:
    """Refuse to replace a folder that holds anything but a synthetic build:
    ``--out ~/Documents`` must not delete someone's documents."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise ValueError(f"{out_dir} exists and is not a folder; choose another output folder.")
    ours = set(FILENAMES) | {"MANIFEST.json", "MANIFEST.json.tmp"}
    strangers = sorted(p.name for p in out_dir.iterdir() if p.name not in ours)
    if strangers:
        raise ValueError(
            f"{out_dir} already holds files that are not part of the synthetic dataset "
            f"({', '.join(strangers[:5])}{', ...' if len(strangers) > 5 else ''}); the build would "
            "replace the whole folder. Choose another output folder, or empty this one.")
