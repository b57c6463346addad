"""One sandboxed kernel's process on the host: private folder, uid, the bwrap command, the kill.

Instructor-only; ``autograder.grading.sandbox.warm_kernel`` makes one
:class:`Sandbox` per kernel, and a kernel runs one notebook. The kernel, and
only the kernel, runs inside ``bwrap``:

* the driver (trusted) stays outside and talks to the kernel over ZeroMQ
  ``ipc://`` sockets in a private folder bound at the same path inside and
  outside (the sandbox has no network, so no TCP);
* the kernel sees a read-only system (``/usr``, the Python environment, the
  ``assignment`` package, the caller's ``readonly`` paths), a private
  ``/tmp``, and ``workdir`` as its only writable host folder; ``autograder``
  is not importable, the repository, home folders and course folders are not
  there at all;
* new user, pid, network, ipc and uts namespaces, no new user namespaces
  inside, a new session (no terminal injection);
* limits per process (address space, file size, processes+threads); on a
  time limit the whole sandbox is killed (SIGKILL of its pid namespace),
  whatever the student code does with signals.

The threat model, every option and what is *not* protected: docs/sandbox.md.
"""

from __future__ import annotations

import collections
import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import threading

from jupyter_client.connect import write_connection_file

from ..limits import Limits
from .host import (SandboxError, inside, is_root, matplotlib_font_cache, outermost,
                           package_dir, python_paths, find_tools)
from .uids import chown_tree, kill_uid, reserve_uid

# Sandbox stdout/stderr kept for startup and crash reports (the tail).
LOG_TAIL_BYTES = 16 * 1024

# Size of the sandbox's private /tmp (RAM).
TMP_BYTES = 256 * 2**20


class KernelGone(Exception):
    """Internal: the kernel process ended or misbehaved; the run cannot go on."""



class Sandbox:
    """The host-side state of one sandboxed kernel (one notebook).

    Its life: ``prepare``, ``start``, ``lock_ipc``; then ``kill``, the workdir
    given back or removed (``release_workdir``), ``close``.
    """

    def __init__(self, workdir: str, env: dict, readonly, limits: Limits):
        self.tools = find_tools()
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
        self.root = is_root()
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
        # Last: from here on the sandbox holds its uid until close().
        try:
            self._uid = reserve_uid(self.tools["setpriv"]) if self.root else None
        except BaseException:
            shutil.rmtree(self.private, ignore_errors=True)
            raise
        self.uid = self._uid.uid if self.root else os.getuid()
        self.gid = self.uid if self.root else os.getgid()

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
            chown_tree(self.workdir, self.uid, self.gid)
            for path in (self.ipc, self.connection_file):
                os.chown(path, self.uid, self.gid)
            self._check_readable()

    def _check_readable(self):
        """As root the kernel is another uid: what it must read must be world-readable."""
        for path in self.readonly + python_paths():
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
                raise KernelGone(f"unexpected file {name!r} in the kernel's socket folder")

    def release_workdir(self):
        """Give workdir and everything the kernel made in it back to its owner."""
        if self.root and self.workdir_owner is not None:
            chown_tree(self.workdir, *self.workdir_owner)

    def close(self):
        """After ``kill`` and the workdir: remove the private folder, give up the uid."""
        shutil.rmtree(self.private, ignore_errors=True)
        if self._uid is not None:
            self._uid.release()
            self._uid = None

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
        bound = outermost(python_paths() + self.readonly)
        for path in bound:
            if not any(inside(path, d) for d in system):
                ops.append((path, "ro", ["--ro-bind", path, path]))
        # autograder must not be importable: hide it where a bound folder holds it.
        hidden = package_dir("autograder")
        if hidden and any(inside(hidden, d) for d in bound + system):
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
        font_cache = matplotlib_font_cache()
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
                if parent in made or any(inside(parent, m) for m in readonly_mounts):
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
            kill_uid(self.uid, self.tools["setpriv"])
