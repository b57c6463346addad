"""Running a student notebook inside a bubblewrap sandbox while grading.

Instructor-only. ``run_notebook(nb, workdir, env=..., readonly=..., limits=...)``
executes every code cell of ``nb`` the way nbgrader's Execute step does
(in order, errors do not stop the run, outputs recorded) with the kernel,
and only the kernel, inside ``bwrap``:

* the driver (this module, trusted) stays outside and talks to the kernel
  over ZeroMQ ``ipc://`` sockets in a private folder bound at the same path
  inside and outside (the sandbox has no network, so no TCP);
* the kernel sees a read-only system (``/usr``, the Python environment, the
  ``assignment`` package, the caller's ``readonly`` paths), a private
  ``/tmp``, and ``workdir`` as its only writable host folder; ``autograder``
  is not importable, the repository, home folders and course folders are not
  there at all;
* new user, pid, network, ipc and uts namespaces, no new user namespaces
  inside, a new session (no terminal injection);
* limits per process (address space, file size, processes+threads) and per
  cell / per notebook (wall-clock time, kept output bytes); on a time limit
  the whole sandbox is killed (SIGKILL of its pid namespace), whatever the
  student code does with signals.

When the grader runs as root the kernel runs as an unprivileged uid of its
own (``UID_BASE`` + the driver thread's id): root is exempt from the process
limit, and a uid per concurrent sandbox keeps their limits apart. The
threat model, every option and what is *not* protected: docs/sandbox.md.

``check_sandbox()`` starts a real sandbox once and says what was checked, or
raises :class:`SandboxError` with how to fix the machine.
"""

from __future__ import annotations

import collections
import copy
import importlib.util
import json
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field

import nbformat
import zmq
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.connect import write_connection_file

from .sandbox_outputs import data_problem, output_from_msg

# Kernel uids when the grader is root: UID_BASE + the driver thread's native id
# (unique among live threads on the machine). Far above login users, system
# users and the usual /etc/subuid ranges.
UID_BASE = 1_700_000_000

# How long a kernel may take to answer its first request (inside total_seconds).
STARTUP_SECONDS = 60.0

# The driver never holds a single kernel message bigger than this (ZeroMQ drops
# the connection instead); outputs are kept up to Limits.output_bytes anyway.
MAX_MESSAGE_BYTES = 64 * 2**20

# Sandbox stdout/stderr kept for startup and crash reports (the tail).
LOG_TAIL_BYTES = 16 * 1024

# Size of the sandbox's private /tmp (RAM).
TMP_BYTES = 256 * 2**20

# Started with `python -P -c BOOTSTRAP -f <connection file>`: the kernel binds
# its sockets and reads its configuration in an empty folder (an
# `ipython_kernel_config.py` or `ipykernel_launcher.py` in the student's folder
# must not run before the driver has connected), then moves to the student's
# folder and puts it on sys.path, as Jupyter does.
BOOTSTRAP = """\
import os, sys
from ipykernel.kernelapp import IPKernelApp
app = IPKernelApp.instance()
app.initialize(sys.argv[1:])
os.chdir({workdir!r})
sys.path.insert(0, '')
app.start()
"""


@dataclass(frozen=True)
class Limits:
    """What one sandboxed notebook run may use.

    memory_bytes:  address space of each process in the sandbox (RLIMIT_AS);
                   numpy raises MemoryError beyond it.
    processes:     processes + threads the sandbox may have (RLIMIT_NPROC).
    file_bytes:    largest file it may write (RLIMIT_FSIZE).
    cell_seconds:  wall-clock time of one cell.
    total_seconds: wall-clock time of the whole notebook, kernel start included.
    output_bytes:  outputs kept per cell; the rest is dropped with a note.
    """

    memory_bytes: int = 3 * 2**30
    processes: int = 64
    file_bytes: int = 256 * 2**20
    cell_seconds: float = 120.0
    total_seconds: float = 600.0
    output_bytes: int = 2 * 2**20

    def __post_init__(self):
        for name in ("memory_bytes", "processes", "file_bytes", "output_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive int, got {value!r}")
        for name in ("cell_seconds", "total_seconds"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
                raise ValueError(f"Limits.{name} must be a positive number of seconds, "
                                 f"got {value!r}")


class SandboxError(RuntimeError):
    """The sandbox cannot be set up on this machine (an instructor-side problem).

    The message says what is missing and how to fix it. Nothing a student
    notebook does raises this.
    """


@dataclass
class RunOutcome:
    """What happened to one notebook run.

    nb:           the notebook with the outputs of every cell that ran (code
                  cells that did not run have no outputs).
    status:       "ok" | "cell_timeout" | "total_timeout" | "kernel_died" |
                  "startup_failed".
    cell_index:   index in nb.cells of the cell where the run stopped (None
                  when ok, and for startup_failed).
    reason:       one human-readable sentence for the instructor's review
                  list ("" when ok).
    seconds:      wall-clock time of the whole run, kernel start included.
    cell_seconds: wall-clock time of each executed code cell, in order.
    """

    nb: nbformat.NotebookNode
    status: str
    cell_index: int | None
    reason: str
    seconds: float
    cell_seconds: list = field(default_factory=list)


# --------------------------------------------------------------------------
# The machine: tools and what the kernel needs to see
# --------------------------------------------------------------------------

_INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: `sudo apt-get install bubblewrap`; "
                 "Fedora: `sudo dnf install bubblewrap`), or run `make install`")


def _tools() -> dict:
    """Absolute paths of bwrap, setpriv and prlimit, or SandboxError."""
    found = {}
    for name, package in (("bwrap", "bubblewrap"), ("setpriv", "util-linux"),
                          ("prlimit", "util-linux")):
        path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/bin:/bin:/usr/sbin")
        if path is None:
            hint = _INSTALL_HINT if name == "bwrap" else f"install the `{package}` package"
            raise SandboxError(f"`{name}` was not found; student notebooks cannot be graded "
                               f"without the sandbox: {hint}")
        found[name] = os.path.realpath(path)
    return found


def _is_root() -> bool:
    return os.geteuid() == 0


def _package_dir(name: str) -> str | None:
    """The host folder of an importable top-level package, or None."""
    spec = importlib.util.find_spec(name)
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return os.path.realpath(list(spec.submodule_search_locations)[0])
    return os.path.realpath(os.path.dirname(spec.origin)) if spec.origin else None


def _python_paths() -> list[str]:
    """Host folders the kernel's Python needs: the environment and its base."""
    paths = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix,
                                          sys.base_exec_prefix)}
    paths.add(os.path.realpath(os.path.dirname(os.path.realpath(sys.executable))))
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path and os.path.isdir(path):
            paths.add(os.path.realpath(path))
    assignment = _package_dir("assignment")
    if assignment is None:
        raise SandboxError("the `assignment` package is not importable in the grader's Python "
                           f"({sys.executable}); install the project (`make install`)")
    paths.add(assignment)
    return _outermost(p for p in paths if os.path.exists(p))


_font_cache_lock = threading.Lock()
_font_cache: list = []


def _matplotlib_font_cache() -> str | None:
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


def _outermost(paths) -> list[str]:
    """The given paths without those inside another one of them, sorted."""
    result = []
    for path in sorted(set(paths)):
        if not any(_inside(path, kept) for kept in result):
            result.append(path)
    return result


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


# --------------------------------------------------------------------------
# One sandbox: private folder, uid, bwrap command, kill
# --------------------------------------------------------------------------

class _Sandbox:
    """The host-side state of one sandboxed kernel (one run_notebook call)."""

    def __init__(self, workdir: str, env: dict, readonly, limits: Limits):
        self.tools = _tools()
        self.workdir = os.path.realpath(workdir)
        if not os.path.isdir(self.workdir):
            raise SandboxError(f"workdir {workdir!r} is not a folder; the caller must create it "
                               "and put the files the notebook may read in it")
        self.readonly = [os.path.realpath(p) for p in readonly]
        for path in self.readonly:
            if not os.path.exists(path):
                raise SandboxError(f"readonly path {path!r} does not exist")
        self.limits = limits
        self.env = self._environment(env)
        self.root = _is_root()
        self.uid = UID_BASE + threading.get_native_id() if self.root else os.getuid()
        self.gid = self.uid if self.root else os.getgid()
        self.workdir_owner = None
        # The private folder: ipc sockets + connection file (ipc/), passwd/group.
        base = tempfile.gettempdir()
        if len(base) > 60:  # unix socket paths are limited to 107 bytes
            base = "/tmp"
        self.private = tempfile.mkdtemp(prefix="rnn-sandbox-", dir=base)
        self.ipc = os.path.join(self.private, "ipc")
        os.mkdir(self.ipc, 0o700)
        self.connection_file = os.path.join(self.ipc, "kernel.json")
        self.process = None
        self.log = collections.deque()
        self.log_size = 0
        self._log_lock = threading.Lock()

    # -- files -------------------------------------------------------------

    def prepare(self):
        """Write connection file and identity files; give workdir to the kernel's uid."""
        write_connection_file(self.connection_file, ip=os.path.join(self.ipc, "k"),
                              transport="ipc", key=secrets.token_hex(32).encode())
        for name, line in (("passwd", f"student:x:{self.uid}:{self.gid}:student:"
                                      f"{self.workdir}:/bin/sh\n"),
                           ("group", f"student:x:{self.gid}:\n")):
            with open(os.path.join(self.private, name), "w") as f:
                f.write(line)
            os.chmod(os.path.join(self.private, name), 0o644)
        if self.root:
            st = os.stat(self.workdir)
            self.workdir_owner = (st.st_uid, st.st_gid)
            _chown_tree(self.workdir, self.uid, self.gid)
            for path in (self.ipc, self.connection_file):
                os.chown(path, self.uid, self.gid)
            self._check_readable()

    def _check_readable(self):
        """As root the kernel is another uid: what it must read must be world-readable."""
        for path in self.readonly + _python_paths():
            mode = os.stat(path).st_mode
            need = 0o005 if stat.S_ISDIR(mode) else 0o004
            if mode & need != need:
                raise SandboxError(
                    f"{path!r} is bound read-only into the sandbox but the kernel (uid "
                    f"{self.uid}, not root) cannot read it (mode {stat.filemode(mode)}); make it "
                    f"readable by others, e.g. `chmod o+rX {path}` (its parent folders may stay "
                    "private: only the path itself is bound)")

    def lock_ipc(self):
        """After the driver connected: the kernel may no longer replace its sockets.

        A kernel that could swap a socket file for a symlink would make the
        driver (root) connect to any unix socket of the host on reconnect.
        """
        if not self.root:
            return
        os.chown(self.ipc, 0, 0)
        os.chmod(self.ipc, 0o755)
        for name in os.listdir(self.ipc):
            st = os.lstat(os.path.join(self.ipc, name))
            if name != "kernel.json" and not stat.S_ISSOCK(st.st_mode):
                raise _KernelGone(f"unexpected file {name!r} in the kernel's socket folder")

    def release_workdir(self):
        """Give workdir and everything the kernel made in it back to its owner."""
        if self.root and self.workdir_owner is not None:
            _chown_tree(self.workdir, *self.workdir_owner)

    def remove_private(self):
        shutil.rmtree(self.private, ignore_errors=True)

    # -- command -----------------------------------------------------------

    def _environment(self, extra: dict) -> dict:
        bad = {k: v for k, v in extra.items() if not (isinstance(k, str) and isinstance(v, str))}
        if bad:
            raise SandboxError(f"env must map str to str; bad entries: {bad!r}")
        env = {
            "PATH": f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin",
            "HOME": self.workdir, "USER": "student", "LOGNAME": "student",
            "LANG": "C.UTF-8", "TMPDIR": "/tmp",
            "MPLCONFIGDIR": "/tmp/.config/matplotlib", "IPYTHONDIR": "/tmp/.ipython",
            "JUPYTER_CONFIG_DIR": "/tmp/.jupyter", "JUPYTER_DATA_DIR": "/tmp/.local/jupyter",
            "JUPYTER_RUNTIME_DIR": "/tmp/.local/jupyter/runtime",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "NUMEXPR_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
        }
        env.update(extra)
        return env

    def _mounts(self) -> list[str]:
        """bwrap options that build the kernel's file system, parents before children."""
        ops = []   # (destination, kind, options); kind "ro"/"rw" binds, "tmpfs", "dir", "link"
        ops.append(("/tmp", "tmpfs", ["--perms", "1777", "--size", str(TMP_BYTES),
                                      "--tmpfs", "/tmp"]))
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(top):
                ops.append((top, "link", ["--symlink", os.readlink(top), top]))
            elif os.path.isdir(top):
                ops.append((top, "ro", ["--ro-bind", top, top]))
        ops.append(("/usr", "ro", ["--ro-bind", "/usr", "/usr"]))
        for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf",
                     "mime.types", "fonts"):
            path = os.path.join("/etc", name)
            if os.path.exists(path):
                ops.append((path, "ro", ["--ro-bind", path, path]))
        for name in ("passwd", "group"):
            ops.append((f"/etc/{name}", "ro", ["--ro-bind", os.path.join(self.private, name),
                                               f"/etc/{name}"]))
        system = [dest for dest, kind, _ in ops if kind == "ro"]
        bound = _outermost(_python_paths() + self.readonly)
        for path in bound:
            if not any(_inside(path, d) for d in system):
                ops.append((path, "ro", ["--ro-bind", path, path]))
        # autograder must not be importable: hide it where a bound folder holds it.
        hidden = _package_dir("autograder")
        if hidden and any(_inside(hidden, d) for d in bound + system):
            stub = os.path.join(self.private, "autograder_stub.py")
            with open(stub, "w") as f:
                f.write("raise ImportError('autograder is instructor-only and is not available "
                        "inside the grading sandbox')\n")
            os.chmod(stub, 0o644)
            ops.append((hidden, "tmpfs", ["--tmpfs", hidden, "--ro-bind", stub,
                                          os.path.join(hidden, "__init__.py"),
                                          "--remount-ro", hidden]))
        ops.append((self.workdir, "rw", ["--bind", self.workdir, self.workdir]))
        ops.append((self.ipc, "rw", ["--bind", self.ipc, self.ipc]))
        ops.append(("/tmp/.config/matplotlib", "dir",
                    ["--perms", "1777", "--dir", "/tmp/.config/matplotlib"]))
        font_cache = _matplotlib_font_cache()
        if font_cache:
            dest = os.path.join("/tmp/.config/matplotlib", os.path.basename(font_cache))
            ops.append((dest, "ro", ["--ro-bind", font_cache, dest]))
        ops.sort(key=lambda op: op[0].split("/"))
        args, made, readonly_mounts = [], {"/"}, []
        for dest, kind, options in ops:
            # Parent folders the kernel must be able to cross: bwrap (as root) would make
            # them 0700, and none may be made inside a read-only bind.
            parts = dest.split("/")[1:-1]
            for i in range(1, len(parts) + 1):
                parent = "/" + "/".join(parts[:i])
                if parent in made or any(_inside(parent, m) for m in readonly_mounts):
                    continue
                args += ["--perms", "0755", "--dir", parent]
                made.add(parent)
            args += options
            made.add(dest)
            if kind == "ro":
                readonly_mounts.append(dest)
        return args

    def command(self, kernel_argv: list[str]) -> list[str]:
        """The full command: bwrap (as root: bwrap, setpriv, inner bwrap), prlimit, kernel."""
        lim = self.limits
        limits = [self.tools["prlimit"], f"--as={lim.memory_bytes}", f"--fsize={lim.file_bytes}",
                  f"--nproc={lim.processes}", "--core=0", "--nofile=1024", "--"]
        env = []
        for key, value in sorted(self.env.items()):
            env += ["--setenv", key, value]
        namespaces = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                      "--unshare-cgroup-try", "--hostname", "sandbox", "--die-with-parent",
                      "--new-session"]
        mounts = self._mounts() + ["--proc", "/proc", "--dev", "/dev"]
        bwrap = self.tools["bwrap"]
        if not self.root:
            return ([bwrap, "--unshare-user", "--disable-userns", *namespaces, *mounts,
                     "--clearenv", *env, "--chdir", "/tmp", "--", *limits, *kernel_argv])
        # Root: the outer bwrap mounts (it can read root-only host paths), setpriv
        # drops to the kernel's uid, the inner bwrap adds a user namespace in
        # which no further user namespaces can be made.
        return ([bwrap, *namespaces, "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                 *mounts, "--clearenv", *env, "--",
                 self.tools["setpriv"], f"--reuid={self.uid}", f"--regid={self.gid}",
                 "--clear-groups", "--inh-caps=-all", "--no-new-privs", "--",
                 bwrap, "--unshare-user", "--disable-userns", "--die-with-parent",
                 "--new-session", "--bind", "/", "/", "--dev", "/dev", "--chdir", "/tmp", "--",
                 *limits, *kernel_argv])

    # -- process -----------------------------------------------------------

    def start(self, kernel_argv: list[str]):
        argv = self.command(kernel_argv)
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            close_fds=True, start_new_session=True, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        threading.Thread(target=self._drain, args=(self.process.stdout,), daemon=True,
                         name="sandbox-log").start()

    def _drain(self, pipe):
        """Keep the last LOG_TAIL_BYTES of what the sandbox writes to stdout/stderr."""
        try:
            while True:
                chunk = pipe.read1(65536)
                if not chunk:
                    break
                with self._log_lock:
                    self.log.append(chunk)
                    self.log_size += len(chunk)
                    while self.log_size - len(self.log[0]) >= LOG_TAIL_BYTES:
                        self.log_size -= len(self.log.popleft())
        except (OSError, ValueError):
            pass
        finally:
            try:
                pipe.close()
            except OSError:
                pass

    def log_tail(self) -> str:
        with self._log_lock:
            data = b"".join(self.log)[-LOG_TAIL_BYTES:]
        return data.decode("utf-8", "replace").strip()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self):
        """Kill the whole sandbox (its pid namespace) and wait for it; never raises."""
        if self.process is not None:
            try:
                self.process.kill()
            except OSError:
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.root:
            _kill_uid(self.uid, self.tools["setpriv"])


def _chown_tree(top: str, uid: int, gid: int):
    """chown a folder and everything in it, never following symlinks."""
    try:
        os.chown(top, uid, gid, follow_symlinks=False)
    except OSError:
        pass
    for folder, dirs, files, dirfd in os.fwalk(top, follow_symlinks=False):
        for name in dirs + files:
            try:
                os.chown(name, uid, gid, dir_fd=dirfd, follow_symlinks=False)
            except OSError:
                pass


def _uid_processes(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def _kill_uid(uid: int, setpriv: str):
    """Kill every process of a sandbox uid (belt and braces after the pid namespace)."""
    for _ in range(50):
        if not _uid_processes(uid):
            return
        # kill(-1) as that uid reaches exactly the processes of that uid.
        subprocess.run([setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--",
                        "kill", "-s", "KILL", "-1"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env={"PATH": "/usr/bin:/bin"}, check=False)
        time.sleep(0.02)


class _KernelGone(Exception):
    """Internal: the kernel process ended or misbehaved; the run cannot go on."""


# --------------------------------------------------------------------------
# Outputs of one cell, bounded
# --------------------------------------------------------------------------

def _output_size(out) -> int:
    if out.output_type == "stream":
        return len(out.text.encode("utf-8", "replace"))
    if out.output_type == "error":
        return sum(len(line) for line in out.traceback) + len(out.ename) + len(out.evalue)
    return len(json.dumps(out.get("data", {}))) + len(json.dumps(out.get("metadata", {})))


class _CellOutputs:
    """Collects one cell's outputs as nbclient would, keeping at most `limit` bytes."""

    def __init__(self, limit: int):
        self.limit = limit
        self.outputs = []
        self.kept = 0
        self.dropped = 0
        self.clear_pending = False
        self._stream_chunks = {}   # id(output) -> list of text chunks (joined at the end)

    def add(self, out):
        if self.clear_pending:
            self.clear()
        size = _output_size(out)
        room = self.limit - self.kept
        if size > room:
            if out.output_type == "stream" and room > 0:
                text = out.text.encode("utf-8", "replace")[:room].decode("utf-8", "ignore")
                self.dropped += size - len(text.encode("utf-8"))
                out.text, size = text, len(text.encode("utf-8"))
            else:
                self.dropped += size
                return
        self.kept += size
        last = self.outputs[-1] if self.outputs else None
        if (out.output_type == "stream" and last is not None and last.output_type == "stream"
                and last.name == out.name):
            self._stream_chunks.setdefault(id(last), [last.text]).append(out.text)
            return
        self.outputs.append(out)

    def clear(self):
        self.finish()
        self.outputs = []
        self.kept = 0
        self.clear_pending = False

    def finish(self) -> list:
        for out in self.outputs:
            chunks = self._stream_chunks.pop(id(out), None)
            if chunks is not None:
                out.text = "".join(chunks)
        self._stream_chunks.clear()
        return self.outputs

    def final(self) -> list:
        outputs = self.finish()
        if self.dropped:
            outputs.append(nbformat.v4.new_output(
                "display_data",
                data={"text/plain": (
                    f"[grader] This cell produced more output than the grader keeps: "
                    f"{_human(self.dropped)} were left out (the limit is {_human(self.limit)} "
                    "per cell). Printing less, for example only every 100th step, "
                    "keeps all of it.")},
                metadata={"rnn_sandbox": {"dropped_bytes": self.dropped,
                                          "limit_bytes": self.limit}}))
        return outputs


def _human(n: int) -> str:
    for unit, size in (("MB", 2**20), ("kB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


# --------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------

class _Driver:
    """Talks to the sandboxed kernel: start-up handshake, one cell at a time."""

    def __init__(self, sandbox: _Sandbox):
        self.sandbox = sandbox
        self.context = zmq.Context()
        self.context.setsockopt(zmq.LINGER, 0)
        self.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        self.kc = BlockingKernelClient(context=self.context)
        self.kc.load_connection_file(sandbox.connection_file)
        self.display_outputs = {}   # display_id -> outputs to update

    def close(self):
        try:
            self.kc.stop_channels()
        except Exception:  # noqa: BLE001 - closing must never raise
            pass
        self.context.destroy(linger=0)

    def _poll(self, timeout: float):
        """Wait up to `timeout` s; return the channels that have a message."""
        poller = zmq.Poller()
        poller.register(self.kc.shell_channel.socket, zmq.POLLIN)
        poller.register(self.kc.iopub_channel.socket, zmq.POLLIN)
        ready = dict(poller.poll(max(0, int(timeout * 1000))))
        return [ch for ch in (self.kc.shell_channel, self.kc.iopub_channel)
                if ready.get(ch.socket)]

    def _get(self, channel):
        try:
            return channel.get_msg(timeout=0)
        except Exception:  # noqa: BLE001 - Empty, or a message that fails to parse
            return None

    def start(self, deadline: float):
        """Connect and wait until shell and iopub both work; _KernelGone or TimeoutError."""
        self.kc.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)
        asked, replied, iopub_ok = set(), False, False
        next_ask = 0.0
        while not (replied and iopub_ok):
            now = time.monotonic()
            if now >= deadline:
                raise TimeoutError
            if not self.sandbox.alive():
                raise _KernelGone("exited during start-up")
            if now >= next_ask:
                asked.add(self.kc.kernel_info())
                next_ask = now + 0.2
            for channel in self._poll(min(0.05, deadline - now)):
                msg = self._get(channel)
                if msg and msg["parent_header"].get("msg_id") in asked:
                    if channel is self.kc.shell_channel:
                        replied = True
                    else:
                        iopub_ok = True
        # drain what the start-up left on iopub
        while self._poll(0.0):
            for channel in (self.kc.shell_channel, self.kc.iopub_channel):
                self._get(channel)

    def run_cell(self, cell, limit_bytes: int, deadline: float):
        """Execute one code cell; fills cell.outputs. _KernelGone / TimeoutError on failure."""
        collector = _CellOutputs(limit_bytes)
        msg_id = self.kc.execute(cell.source, store_history=True, allow_stdin=False,
                                 stop_on_error=False)
        reply, idle = None, False
        try:
            while reply is None or not idle:
                now = time.monotonic()
                if now >= deadline:
                    raise TimeoutError
                if not self.sandbox.alive():
                    self._drain_outputs(msg_id, cell, collector)
                    raise _KernelGone("died")
                for channel in self._poll(min(0.1, deadline - now)):
                    msg = self._get(channel)
                    if msg is None or msg["parent_header"].get("msg_id") != msg_id:
                        continue
                    if channel is self.kc.shell_channel:
                        reply = msg
                        count = msg["content"].get("execution_count")
                        if isinstance(count, int) and not isinstance(count, bool):
                            cell.execution_count = count
                    elif self._handle_iopub(msg, cell, collector):
                        idle = True
        finally:
            cell.outputs = collector.final()

    def _drain_outputs(self, msg_id, cell, collector):
        """Take the outputs a dead kernel managed to send."""
        while self._poll(0.05):
            msg = self._get(self.kc.iopub_channel)
            if msg is None:
                break
            if msg["parent_header"].get("msg_id") == msg_id:
                self._handle_iopub(msg, cell, collector)

    def _handle_iopub(self, msg, cell, collector) -> bool:
        """One iopub message of the running cell; True when the kernel is idle again."""
        kind, content = msg["msg_type"], msg["content"]
        if kind == "status":
            return content.get("execution_state") == "idle"
        count = content.get("execution_count") if isinstance(content, dict) else None
        if isinstance(count, int) and not isinstance(count, bool):
            cell.execution_count = count
        if kind == "clear_output":
            if content.get("wait"):
                collector.clear_pending = True
            else:
                collector.clear()
            return False
        transient = content.get("transient") or {}
        display_id = transient.get("display_id") if isinstance(transient, dict) else None
        if kind == "update_display_data":
            if data_problem(content.get("data"), content.get("metadata", {})):
                return False  # an update that is not a valid output changes nothing
            for out in self.display_outputs.get(display_id, []):
                if len(json.dumps(content["data"])) <= collector.limit:
                    out["data"] = content["data"]
                    out["metadata"] = content.get("metadata", {})
            return False
        if kind not in ("stream", "display_data", "execute_result", "error"):
            return False
        out = output_from_msg(msg)  # a grader's note when it is not a valid output
        before = len(collector.outputs)
        collector.add(out)
        if display_id and len(collector.outputs) > before:
            self.display_outputs.setdefault(display_id, []).append(out)
        return False


def run_notebook(nb, workdir, *, env: dict, readonly=(), limits: Limits = Limits()) -> RunOutcome:
    """Execute every code cell of `nb` in a sandboxed kernel and return what happened.

    nb:       a notebook (NotebookNode or dict, nbformat 4); not modified.
    workdir:  an existing host folder: the kernel's cwd, HOME and only
              writable host place (it appears at the same absolute path).
    env:      extra environment variables of the kernel (str -> str).
    readonly: extra host paths bound read-only at the same path.
    limits:   a Limits.

    Returns a RunOutcome; raises SandboxError only when the sandbox itself
    cannot be set up. Cells run in order; an error in a cell does not stop
    the run; the first time limit or kernel death stops it (later cells keep
    no outputs). The sandbox is always killed and cleaned up before return.
    """
    started = time.monotonic()
    deadline_total = started + limits.total_seconds
    nb = nbformat.from_dict(copy.deepcopy(dict(nb)))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    sandbox = _Sandbox(os.fspath(workdir), env, readonly, limits)
    driver = None
    cell_seconds = []
    status, cell_index, reason = "ok", None, ""
    try:
        sandbox.prepare()
        kernel_argv = [sys.executable, "-P", "-c", BOOTSTRAP.format(workdir=sandbox.workdir),
                       "-f", sandbox.connection_file]
        sandbox.start(kernel_argv)
        driver = _Driver(sandbox)
        try:
            driver.start(min(deadline_total, started + STARTUP_SECONDS))
            sandbox.lock_ipc()
        except (TimeoutError, _KernelGone) as exc:
            sandbox.kill()
            tail = sandbox.log_tail()
            if tail.startswith("bwrap:") or "setpriv:" in tail or "prlimit:" in tail:
                raise SandboxError(_setup_failure(tail)) from None
            why = ("did not answer within "
                   f"{min(limits.total_seconds, STARTUP_SECONDS):.0f} s"
                   if isinstance(exc, TimeoutError) else f"{exc}")
            status = "startup_failed"
            reason = f"the kernel {why}" + (f"; its last output: {_last_lines(tail)}"
                                            if tail else "")
            return RunOutcome(nb, status, None, reason, time.monotonic() - started, [])
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            cell_start = time.monotonic()
            cell_deadline = min(cell_start + limits.cell_seconds, deadline_total)
            try:
                driver.run_cell(cell, limits.output_bytes, cell_deadline)
            except TimeoutError:
                if cell_start + limits.cell_seconds > deadline_total:
                    status = "total_timeout"
                    reason = (f"the notebook ran longer than {limits.total_seconds:g} s in "
                              f"total (stopped in cell {index}); later cells were not run")
                else:
                    status = "cell_timeout"
                    reason = (f"cell {index} ran longer than {limits.cell_seconds:g} s; the "
                              "kernel was stopped and later cells were not run")
                cell_index = index
            except _KernelGone:
                sandbox.kill()
                status, cell_index = "kernel_died", index
                reason = (f"the kernel died while running cell {index} "
                          f"({_exit_description(sandbox.process.returncode)}); later cells "
                          "were not run")
                tail = sandbox.log_tail()
                if tail:
                    reason += f"; its last output: {_last_lines(tail)}"
            cell_seconds.append(time.monotonic() - cell_start)
            if status != "ok":
                break
        return RunOutcome(nb, status, cell_index, reason, time.monotonic() - started,
                          cell_seconds)
    finally:
        sandbox.kill()
        if driver is not None:
            driver.close()
        sandbox.release_workdir()
        sandbox.remove_private()


def _exit_description(code) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0 or code > 128:
        signum = -code if code < 0 else code - 128
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        extra = {"SIGKILL": ": killed, often for using too much memory",
                 "SIGSEGV": ": a segmentation fault, usually in C code",
                 "SIGABRT": ": aborted"}.get(name, "")
        return f"{name}{extra}"
    return f"exit code {code}"


def _last_lines(text: str, n: int = 3) -> str:
    return " | ".join(text.strip().splitlines()[-n:])[-500:]


def _setup_failure(tail: str) -> str:
    hint = ""
    if "namespace" in tail or "Operation not permitted" in tail:
        hint = (" Unprivileged user namespaces look disabled: enable them (`sysctl -w "
                "kernel.unprivileged_userns_clone=1` on Debian/Ubuntu, "
                "`user.max_user_namespaces` > 0, or the AppArmor profile for bwrap on Ubuntu "
                "24.04+); in a container, run it with `--security-opt seccomp=unconfined` or "
                "`--privileged`.")
    return f"the grading sandbox could not start: {_last_lines(tail)}.{hint}"


# --------------------------------------------------------------------------
# check_sandbox
# --------------------------------------------------------------------------

_PROBE = """\
import os, socket
out = {"uid": os.getuid()}
try:
    import assignment
    out["assignment"] = True
except Exception as exc:
    out["assignment"] = repr(exc)
try:
    import autograder
    out["autograder"] = "importable"
except ImportError:
    out["autograder"] = None
try:
    socket.create_connection(("1.1.1.1", 53), timeout=1).close()
    out["network"] = "reachable"
except OSError:
    out["network"] = None
print("PROBE" + __import__("json").dumps(out))
"""


def check_sandbox() -> str:
    """Start one real sandbox and check it; a one-line description, or SandboxError.

    Checks: bwrap, setpriv and prlimit exist; a sandboxed Python starts, imports
    ``assignment``, cannot import ``autograder``, has no network; as root, runs
    as an unprivileged uid.
    """
    tools = _tools()
    version = subprocess.run([tools["bwrap"], "--version"], capture_output=True, text=True,
                             check=False).stdout.strip() or "bubblewrap (unknown version)"
    with tempfile.TemporaryDirectory(prefix="rnn-sandbox-check-") as workdir:
        os.chmod(workdir, 0o755)
        sandbox = _Sandbox(workdir, {}, (), Limits())
        try:
            sandbox.prepare()
            argv = sandbox.command([sys.executable, "-P", "-c", _PROBE])
            result = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                                    env={"PATH": "/usr/bin:/bin"}, check=False)
        except subprocess.TimeoutExpired:
            raise SandboxError("the sandbox check did not finish within 60 s") from None
        finally:
            sandbox.kill()
            sandbox.release_workdir()
            sandbox.remove_private()
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE")]
    if result.returncode != 0 or not lines:
        raise SandboxError(_setup_failure(result.stderr or result.stdout or
                                          f"exit code {result.returncode}"))
    probe = json.loads(lines[-1][len("PROBE"):])
    problems = []
    if probe["assignment"] is not True:
        problems.append(f"`import assignment` fails inside ({probe['assignment']})")
    if probe["autograder"]:
        problems.append("`import autograder` works inside (instructor code would be visible)")
    if probe["network"]:
        problems.append("the network is reachable inside")
    if _is_root() and probe["uid"] == 0:
        problems.append("the kernel runs as root")
    if problems:
        raise SandboxError("the grading sandbox is not safe on this machine: "
                           + "; ".join(problems))
    who = (f"kernel uid {probe['uid']} (grader is root: one unprivileged uid per worker thread)"
           if _is_root() else f"kernel uid {probe['uid']} (the grader's own)")
    return (f"{version} at {tools['bwrap']}; {who}; no network; limits via "
            f"{tools['prlimit']}")
