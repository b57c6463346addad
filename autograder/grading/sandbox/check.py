"""``check_sandbox()``: start one real sandbox and check what its kernel can and cannot reach.

Instructor-only; ``rnn-assignment grade`` calls it before it runs any
notebook, so a machine that cannot sandbox is refused with how to fix it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from ..limits import Limits
from .host import SandboxError, find_tools, is_root
from .process import Sandbox
from .warm_kernel import setup_failure


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
    tools = find_tools()
    version = subprocess.run([tools["bwrap"], "--version"], capture_output=True, text=True,
                             check=False).stdout.strip() or "bubblewrap (unknown version)"
    with tempfile.TemporaryDirectory(prefix="rnn-sandbox-check-") as workdir:
        os.chmod(workdir, 0o755)
        sandbox = Sandbox(workdir, {}, (), Limits())
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
            sandbox.close()
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE")]
    if result.returncode != 0 or not lines:
        raise SandboxError(setup_failure(result.stderr or result.stdout or
                                         f"exit code {result.returncode}"))
    probe = json.loads(lines[-1][len("PROBE"):])
    problems = []
    if probe["assignment"] is not True:
        problems.append(f"`import assignment` fails inside ({probe['assignment']})")
    if probe["autograder"]:
        problems.append("`import autograder` works inside (instructor code would be visible)")
    if probe["network"]:
        problems.append("the network is reachable inside")
    if is_root() and probe["uid"] == 0:
        problems.append("the kernel runs as root")
    if problems:
        raise SandboxError("the grading sandbox is not safe on this machine: "
                           + "; ".join(problems))
    who = (f"kernel uid {probe['uid']} (grader is root: one unprivileged uid per sandbox)"
           if is_root() else f"kernel uid {probe['uid']} (the grader's own)")
    return (f"{version} at {tools['bwrap']}; {who}; no network; limits via "
            f"{tools['prlimit']}")
