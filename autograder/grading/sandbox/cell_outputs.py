"""The outputs of one running cell, kept as nbclient would, up to a byte limit.

Instructor-only; filled by ``autograder.grading.sandbox.kernel_driver`` from the
kernel's iopub messages. Output beyond the limit is dropped with a note that
tells the student how to keep all of it.
"""

from __future__ import annotations

import json

import nbformat


def _output_size(out) -> int:
    if out.output_type == "stream":
        return len(out.text.encode("utf-8", "replace"))
    if out.output_type == "error":
        return sum(len(line) for line in out.traceback) + len(out.ename) + len(out.evalue)
    return len(json.dumps(out.get("data", {}))) + len(json.dumps(out.get("metadata", {})))


class CellOutputs:
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
