"""The driver: talks to a sandboxed kernel over ZeroMQ, start-up handshake, then one cell at a time.

Instructor-only; runs outside the sandbox (trusted) and never holds a message
bigger than ``MAX_MESSAGE_BYTES``. Each iopub message of the running cell
becomes a valid output (``autograder.grading.sandbox.message_outputs``) kept within the
cell's byte limit (``autograder.grading.sandbox.cell_outputs``).
"""

from __future__ import annotations

import json
import time

import zmq
from jupyter_client.blocking.client import BlockingKernelClient

from .cell_outputs import CellOutputs
from .message_outputs import data_problem, output_from_msg
from .process import KernelGone, Sandbox

# The driver never holds a single kernel message bigger than this (ZeroMQ drops
# the connection instead); outputs are kept up to Limits.output_bytes anyway.
MAX_MESSAGE_BYTES = 64 * 2**20


class Driver:
    """Talks to the sandboxed kernel: start-up handshake, one cell at a time."""

    def __init__(self, sandbox: Sandbox):
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
        """Connect and wait until shell and iopub both work; KernelGone or TimeoutError."""
        self.kc.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)
        asked, replied, iopub_ok = set(), False, False
        next_ask = 0.0
        while not (replied and iopub_ok):
            now = time.monotonic()
            if now >= deadline:
                raise TimeoutError
            if not self.sandbox.alive():
                raise KernelGone("exited during start-up")
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
        """Execute one code cell; fills cell.outputs. KernelGone / TimeoutError on failure."""
        collector = CellOutputs(limit_bytes)
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
                    raise KernelGone("died")
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
