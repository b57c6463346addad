"""What the grading sandbox needs from the host: bubblewrap's tools, the Python, matplotlib's fonts.

Instructor-only. ``tools()`` finds ``bwrap``, ``setpriv`` and ``prlimit`` (or
raises :class:`SandboxError` with how to install them); ``python_paths()`` are
the host folders the kernel's Python reads (bound read-only); the font cache
is built once per machine and shown to every kernel.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading


class SandboxError(RuntimeError):
    """The sandbox cannot be set up on this machine (an instructor-side problem).

    The message says what is missing and how to fix it. Nothing a student
    notebook does raises this.
    """



INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`; "
                 "Fedora: `sudo dnf install bubblewrap`), or run `make install`")


def find_tools() -> dict:
    """Absolute paths of bwrap, setpriv and prlimit, or SandboxError."""
    found = {}
    for name, package in (("bwrap", "bubblewrap"), ("setpriv", "util-linux"),
                          ("prlimit", "util-linux")):
        path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/bin:/bin:/usr/sbin")
        if path is None:
            hint = INSTALL_HINT if name == "bwrap" else f"install the `{package}` package"
            raise SandboxError(f"`{name}` was not found; student notebooks cannot be graded "
                               f"without the sandbox: {hint}")
        found[name] = os.path.realpath(path)
    return found


def is_root() -> bool:
    return os.geteuid() == 0


def package_dir(name: str) -> str | None:
    """The host folder of an importable top-level package, or None."""
    spec = importlib.util.find_spec(name)
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return os.path.realpath(list(spec.submodule_search_locations)[0])
    return os.path.realpath(os.path.dirname(spec.origin)) if spec.origin else None


def python_paths() -> list[str]:
    """Host folders the kernel's Python needs: the environment and its base."""
    paths = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                          sys.base_exec_prefix)}
    paths.add(os.path.realpath(os.path.dirname(os.path.realpath(sys.executable))))
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path and os.path.isdir(path):
            paths.add(os.path.realpath(path))
    assignment = package_dir("assignment")
    if assignment is None:
        raise SandboxError("the `assignment` package is not importable in the grader's Python "
                           f"({sys.executable}); install the project (`make install`)")
    paths.add(assignment)
    return outermost(p for p in paths if os.path.exists(p))


_font_cache_lock = threading.Lock()
_font_cache: list = []


def matplotlib_font_cache() -> str | None:
    """matplotlib's font list, built once per machine and environment, shown to every kernel.

    Without it each kernel rebuilds the list on its first plot (about a second).
    The list holds font file paths, which are the same inside the sandbox. It
    lives in the temp folder under a name fixed by the grader's uid and Python
    environment, so grading processes share it; a folder of that name that
    someone else owns, or that others may write to, is not used.
    """
    with _font_cache_lock:
        if not _font_cache:
            _font_cache.append(_build_font_cache())
        return _font_cache[0]


def _build_font_cache() -> str | None:
    import hashlib
    from importlib.metadata import PackageNotFoundError, version

    try:
        mpl_version = version("matplotlib")
    except PackageNotFoundError:
        return None
    key = hashlib.sha256(f"{sys.prefix}|{mpl_version}".encode()).hexdigest()[:12]
    folder = os.path.join(tempfile.gettempdir(), f"rnn-sandbox-fonts-{os.geteuid()}-{key}")

    def usable(path):
        try:
            st = os.lstat(path)
        except OSError:
            return None
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return None
        names = sorted(n for n in os.listdir(path) if n.startswith("fontlist"))
        return os.path.join(path, names[-1]) if names else None

    found = usable(folder)
    if found:
        return found
    building = tempfile.mkdtemp(prefix="rnn-sandbox-fonts-")
    env = {"PATH": "/usr/bin:/bin", "MPLCONFIGDIR": building, "HOME": building}
    subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120,
                   check=False)
    os.chmod(building, 0o755)
    for name in os.listdir(building):
        os.chmod(os.path.join(building, name), 0o644)
    try:
        os.rename(building, folder)        # atomic; another process may have won the race
    except OSError:
        shutil.rmtree(building, ignore_errors=True)
    return usable(folder)


def outermost(paths) -> list[str]:
    """The given paths without those inside another one of them, sorted."""
    result = []
    for path in sorted(set(paths)):
        if not any(inside(path, kept) for kept in result):
            result.append(path)
    return result


def inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")
