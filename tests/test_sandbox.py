"""The grading sandbox (autograder/grading/sandbox/): real bwrap, real kernels.

Each test runs a tiny notebook through ``run_notebook`` and checks one
promise of docs/sandbox.md from inside (what the student code sees) and from
outside (what the driver returns, what is left on the machine).
"""

import os
import shutil
import socket
import threading
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import autograder
from autograder.grading.limits import Limits
from autograder.grading.sandbox.check import check_sandbox
from autograder.grading.sandbox.host import SandboxError
from autograder.grading.sandbox.run_notebook import RunOutcome, run_notebook

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None,
                                reason="bubblewrap (bwrap) is not installed: `make install`")


def run(tmp_path, *sources, limits=Limits(cell_seconds=20, total_seconds=40), **kw):
    """Run code cells `sources` with workdir tmp_path/work; the outcome."""
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    nb = new_notebook(cells=[new_code_cell(src) for src in sources])
    return run_notebook(nb, workdir, env=kw.pop("env", {}), limits=limits, **kw)


def text(cell) -> str:
    """Everything a cell showed, as one string."""
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
        else:
            parts.append(out.data.get("text/plain", ""))
    return "\n".join(parts)


def sandbox_processes(tmp_path) -> list:
    """Processes left of the test's sandbox: every one of them (the sandbox's layers, the
    kernel, what it forked) has a command line that names the test's workdir."""
    left = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if str(tmp_path / "work") in cmd:
                left.append(cmd)
    return left


def test_check_sandbox_describes_the_working_sandbox():
    line = check_sandbox()
    assert "bubblewrap" in line and "no network" in line
    assert "\n" not in line


def test_cells_run_in_order_with_outputs_and_errors_do_not_stop_the_run(tmp_path):
    nb = new_notebook(cells=[new_markdown_cell("# title"), new_code_cell("x = 20\nprint('hi')"),
                             new_code_cell("1 / 0"), new_code_cell("x + 22"),
                             new_code_cell("open('made.txt', 'w').write('kernel')")])
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="stale")]
    (tmp_path / "work").mkdir()
    out = run_notebook(nb, tmp_path / "work", env={"GREETING": "hello"})
    assert isinstance(out, RunOutcome)
    assert (out.status, out.cell_index, out.reason) == ("ok", None, "")
    assert text(out.nb.cells[1]) == "hi\n"
    assert out.nb.cells[2].outputs[0].ename == "ZeroDivisionError"
    assert text(out.nb.cells[3]) == "42"
    assert [c.execution_count for c in out.nb.cells[1:]] == [1, 2, 3, 4]
    assert [index for index, _ in out.cell_seconds] == [1, 2, 3, 4]
    assert out.seconds >= sum(seconds for _, seconds in out.cell_seconds)
    assert nb.cells[1].outputs[0].text == "stale"          # the caller's notebook is untouched
    made = tmp_path / "work" / "made.txt"
    assert made.read_text() == "kernel"
    assert made.stat().st_uid == (tmp_path / "work").stat().st_uid == os.geteuid()


def test_kernel_sees_its_environment_and_cwd(tmp_path):
    out = run(tmp_path, "import os, sys\nprint(os.getcwd(), os.environ['GREETING'], "
                        "os.environ['HOME'], os.environ['OPENBLAS_NUM_THREADS'], '' in sys.path)",
              env={"GREETING": "hello"})
    workdir = str((tmp_path / "work").resolve())
    assert text(out.nb.cells[0]).split() == [workdir, "hello", workdir, "1", "True"]


def test_files_outside_workdir_cannot_be_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("course secret")
    instructor_file = os.path.realpath(autograder.__file__)
    probe = ("for p in {paths!r}:\n"
             "    try:\n"
             "        print(p, 'READ', open(p).read()[:20])\n"
             "    except (PermissionError, FileNotFoundError) as e:\n"
             "        print(p, 'DENIED', type(e).__name__)")
    paths = [str(secret), instructor_file, "/etc/shadow", os.path.expanduser("~/.bashrc")]
    out = run(tmp_path, probe.format(paths=paths))
    lines = text(out.nb.cells[0]).splitlines()
    assert len(lines) == len(paths)
    assert all(" DENIED " in line for line in lines), lines


def test_nothing_outside_workdir_can_be_written(tmp_path):
    import sys
    targets = [str(tmp_path / "outside.txt"), "/usr/evil.txt", "/etc/evil.txt",
               os.path.join(sys.prefix, "evil.txt"), os.path.realpath(autograder.__file__)]
    probe = ("ok = []\n"
             f"for p in {targets!r}:\n"
             "    try:\n"
             "        open(p, 'a').write('x')\n"
             "        ok.append(p)\n"
             "    except OSError:\n"
             "        pass\n"
             "print('WROTE', ok)")
    before = os.path.getsize(autograder.__file__)
    out = run(tmp_path, probe)
    assert text(out.nb.cells[0]).strip() == "WROTE []"
    assert not (tmp_path / "outside.txt").exists()
    assert os.path.getsize(autograder.__file__) == before


def test_autograder_is_not_importable_and_assignment_is(tmp_path):
    out = run(tmp_path, "import autograder", "import assignment\nprint(assignment.__name__)")
    assert out.nb.cells[0].outputs[0].ename in ("ModuleNotFoundError", "ImportError")
    assert text(out.nb.cells[1]).strip() == "assignment"


def test_no_network_even_to_a_listener_on_the_host_loopback(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        out = run(tmp_path, "import socket\ntry:\n"
                            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
                            "    print('CONNECTED')\nexcept OSError as e:\n"
                            "    print('REFUSED', type(e).__name__)")
        assert text(out.nb.cells[0]).startswith("REFUSED")
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


def test_memory_bomb_gets_memory_error_and_the_kernel_goes_on(tmp_path):
    limits = Limits(memory_bytes=2**30, cell_seconds=20, total_seconds=40)
    out = run(tmp_path, "import numpy as np\nblocks = []\n"
                        "while True:\n    blocks.append(np.ones(2**24))",   # 128 MB each, touched
              "del blocks\nprint('still here')", limits=limits)
    assert out.status in ("ok", "kernel_died")
    if out.status == "ok":
        assert out.nb.cells[0].outputs[0].ename == "MemoryError"
        assert text(out.nb.cells[1]) == "still here\n"
    assert run(tmp_path, "print(6 * 7)").nb.cells[0].outputs[0].text == "42\n"


def test_fork_bomb_is_contained_and_leaves_no_process(tmp_path):
    limits = Limits(processes=32, cell_seconds=3, total_seconds=30)
    start = time.monotonic()
    out = run(tmp_path, "import os\nwhile True:\n    try:\n        os.fork()\n"
                        "    except OSError:\n        pass", "print('not run')", limits=limits)
    assert time.monotonic() - start < 15
    assert (out.status, out.cell_index) == ("cell_timeout", 0)
    assert out.nb.cells[1].outputs == []
    assert sandbox_processes(tmp_path) == []


def test_process_limit_stops_forking(tmp_path):
    limits = Limits(processes=32, cell_seconds=20, total_seconds=40)
    out = run(tmp_path, "import os, time\nn = 0\ntry:\n    for _ in range(200):\n"
                        "        if os.fork() == 0:\n            time.sleep(5)\n"
                        "            os._exit(0)\n        n += 1\nexcept OSError as e:\n"
                        "    print('stopped after', n, type(e).__name__)", limits=limits)
    words = text(out.nb.cells[0]).split()
    assert words[:2] == ["stopped", "after"] and int(words[2]) < 32
    assert sandbox_processes(tmp_path) == []


def test_endless_loop_ignoring_sigint_is_a_cell_timeout(tmp_path):
    limits = Limits(cell_seconds=2, total_seconds=30)
    start = time.monotonic()
    out = run(tmp_path, "print('first')",
              "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
              "signal.signal(signal.SIGALRM, signal.SIG_IGN)\nprint('looping')\nwhile True:\n"
              "    pass", "print('not run')", limits=limits)
    assert time.monotonic() - start < 12
    assert (out.status, out.cell_index) == ("cell_timeout", 1)
    assert "cell 1" in out.reason and "2 s" in out.reason
    assert text(out.nb.cells[1]) == "looping\n"       # what it printed before is kept
    assert out.nb.cells[2].outputs == [] and out.nb.cells[2].execution_count is None
    assert sandbox_processes(tmp_path) == []


def test_spin_in_c_code_hits_the_total_timeout(tmp_path):
    limits = Limits(cell_seconds=60, total_seconds=4)
    start = time.monotonic()
    out = run(tmp_path, "x = 1", "import re\nre.match(r'(a+)+$', 'a' * 64 + 'b')",  # C regex
              limits=limits)
    assert time.monotonic() - start < 4 + 5
    assert (out.status, out.cell_index) == ("total_timeout", 1)
    assert "4 s" in out.reason
    assert sandbox_processes(tmp_path) == []


def test_os_exit_is_kernel_died(tmp_path):
    out = run(tmp_path, "print('before')", "import os\nos._exit(3)", "print('not run')")
    assert (out.status, out.cell_index) == ("kernel_died", 1)
    assert "exit code 3" in out.reason
    assert text(out.nb.cells[0]) == "before\n" and out.nb.cells[2].outputs == []


def test_segfault_is_kernel_died(tmp_path):
    out = run(tmp_path, "import ctypes\nctypes.string_at(0)")
    assert (out.status, out.cell_index) == ("kernel_died", 0)
    assert "SIGSEGV" in out.reason


def test_output_flood_is_truncated_with_a_note(tmp_path):
    limits = Limits(output_bytes=2**20, cell_seconds=30, total_seconds=60)
    out = run(tmp_path, "for i in range(100_000):\n    print('x' * 99)",   # 10 MB
              "print('next')", limits=limits)
    assert out.status == "ok"
    outputs = out.nb.cells[0].outputs
    assert outputs[0].output_type == "stream" and len(outputs[0].text) == 2**20
    note = outputs[-1]
    assert note.metadata["rnn_sandbox"]["dropped_bytes"] == 10 * 10**6 - 2**20
    assert "left out" in note.data["text/plain"]
    assert text(out.nb.cells[1]) == "next\n"


def test_readonly_paths_are_visible_and_read_only(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o755)
    inputs = shared / "inputs.txt"
    inputs.write_text("hidden inputs")
    os.chmod(inputs, 0o666)          # writable for everyone: only the read-only bind stops it
    out = run(tmp_path, f"print(open({str(inputs)!r}).read())\nopen({str(inputs)!r}, 'a')",
              readonly=[shared])
    shown = text(out.nb.cells[0])
    assert shown.startswith("hidden inputs\n") and "Read-only file system" in shown
    assert inputs.read_text() == "hidden inputs"


def test_setup_problems_raise_sandbox_error(tmp_path):
    with pytest.raises(SandboxError, match="workdir"):
        run_notebook(new_notebook(), tmp_path / "missing", env={})
    with pytest.raises(ValueError, match="cell_seconds"):
        Limits(cell_seconds=0)


def test_concurrent_sandboxes_run_apart(tmp_path):
    results = {}

    def grade(name):
        (tmp_path / name).mkdir()
        nb = new_notebook(cells=[new_code_cell(
            "import os\nopen('mine.txt', 'w').write(str(os.getuid()))\n"
            "print(os.getuid(), sorted(os.listdir('.')))")])
        results[name] = run_notebook(nb, tmp_path / name, env={})

    threads = [threading.Thread(target=grade, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    shown = {name: text(out.nb.cells[0]).split(maxsplit=1) for name, out in results.items()}
    assert all(out.status == "ok" for out in results.values())
    assert shown["a"][1].strip() == shown["b"][1].strip() == "['mine.txt']"
    if os.geteuid() == 0:     # one unprivileged uid per sandbox
        assert shown["a"][0] != shown["b"][0] and "0" not in (shown["a"][0], shown["b"][0])


def test_outputs_that_are_not_valid_notebook_outputs_become_notes(tmp_path):
    """A kernel that publishes invalid outputs: the run is ok, the notebook valid, notes left."""
    publish = """
from IPython import get_ipython
from IPython.display import display, update_display
pub = get_ipython().display_pub
deep = []
for _ in range(500):
    deep = [deep]
pub.publish(data={"text/plain": 5}, metadata={})
pub.publish(data={"not a mime type": "x"}, metadata={})
pub.publish(data={"application/json": deep, "text/plain": "deep"}, metadata={})
display({"text/plain": "before"}, raw=True, display_id="u1")
update_display({"text/plain": {"not": "text"}}, raw=True, display_id="u1")
print("still here")
"""
    out = run(tmp_path, publish, "print('next')")
    assert out.status == "ok"
    nbformat.validate(out.nb)
    nbformat.reads(nbformat.writes(out.nb), as_version=4)
    shown_text = text(out.nb.cells[0])
    assert shown_text.count("[grader] An output of this cell was left out") == 3, shown_text
    for problem in ("text/plain holds a int", "is not a MIME type", "deeper than 64"):
        assert problem in shown_text
    shown = [o for o in out.nb.cells[0].outputs if o.output_type == "display_data"]
    assert [o.data["text/plain"] for o in shown] == ["before"]     # the bad update changed nothing
    assert "still here" in text(out.nb.cells[0]) and text(out.nb.cells[1]) == "next\n"
