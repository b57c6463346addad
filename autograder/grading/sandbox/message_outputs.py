"""What a sandboxed kernel sends as outputs, made into valid nbformat outputs or left out.

Instructor-only, used by the sandbox driver
(``autograder.grading.sandbox.kernel_driver``). A kernel is student code: it
can publish a display of the wrong type (``{"text/plain": 5}``), a MIME type
that is not one, JSON nested thousands of levels deep, metadata that is not a
dict. nbformat would refuse such an output
(or recurse until it fails) while the notebook is collected, written or read
back, which would lose the whole notebook's grade. Here every output is checked
first, without recursion; one that is not valid becomes a short note from the
grader (what was wrong, nothing of its content), so that it costs nothing but
itself.

    output_from_msg(msg) -> NotebookNode     (always a valid output)
    data_problem(data, metadata) -> str      ('' when valid)
"""

from __future__ import annotations

import re

import nbformat

__all__ = ["output_from_msg", "data_problem", "MAX_JSON_DEPTH"]

MAX_JSON_DEPTH = 64             # deeper JSON in an output is left out
MAX_JSON_NODES = 200_000        # so is JSON with more values than this
MIME = re.compile(r"^[A-Za-z0-9][\w.+-]*/[\w.+-]+$")
STREAMS = ("stdout", "stderr")


def _json_problem(value) -> str:
    """'' if ``value`` is plain JSON (dict with str keys, list, str, number, bool, None)."""
    stack, nodes = [(value, 1)], 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if depth > MAX_JSON_DEPTH:
            return f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
        if nodes > MAX_JSON_NODES:
            return f"JSON with more than {MAX_JSON_NODES} values"
        if isinstance(item, dict):
            for key, inner in item.items():
                if not isinstance(key, str):
                    return "JSON with a key that is not a string"
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)
        elif isinstance(item, float):
            if item != item or item in (float("inf"), float("-inf")):
                return "JSON with a NaN or infinite number"
        elif not (item is None or isinstance(item, (str, int, bool))):
            return f"a value of type {type(item).__name__}"
    return ""


def _text(value) -> bool:
    return isinstance(value, str) or (isinstance(value, list)
                                      and all(isinstance(v, str) for v in value))


def data_problem(data, metadata) -> str:
    """Why ``data``/``metadata`` of a display cannot be a notebook output ('' if they can)."""
    if not isinstance(data, dict):
        return f"display data of type {type(data).__name__} (a dict of MIME types is needed)"
    if not isinstance(metadata, dict):
        return f"display metadata of type {type(metadata).__name__}"
    for mime, value in data.items():
        if not isinstance(mime, str) or not MIME.match(mime):
            return f"{str(mime)[:40]!r} is not a MIME type"
        if mime == "application/json" or mime.endswith("+json"):
            problem = _json_problem(value)
            if problem:
                return f"{mime}: {problem}"
        elif not _text(value):
            return f"{mime} holds a {type(value).__name__}, not text"
    problem = _json_problem(metadata)
    return f"metadata: {problem}" if problem else ""


def _content_problem(kind: str, content) -> str:
    if not isinstance(content, dict):
        return "a message without content"
    if kind == "stream":
        if content.get("name") not in STREAMS:
            return "a stream that is neither stdout nor stderr"
        return "" if isinstance(content.get("text"), str) else "stream text that is not text"
    if kind == "error":
        if not isinstance(content.get("ename"), str) or not isinstance(content.get("evalue"), str):
            return "an error whose name or value is not text"
        trace = content.get("traceback")
        return "" if isinstance(trace, list) and all(isinstance(t, str) for t in trace) else \
            "an error whose traceback is not a list of text"
    problem = data_problem(content.get("data"), content.get("metadata", {}))
    if not problem and kind == "execute_result":
        count = content.get("execution_count")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
            problem = "an execution count that is not a number"
    return problem


def _note(problem: str):
    return nbformat.v4.new_output(
        "stream", name="stderr",
        text=f"[grader] An output of this cell was left out: it is not a valid notebook "
             f"output ({problem}).\n")


def output_from_msg(msg):
    """The nbformat output of an iopub message, or a grader's note when it cannot be one."""
    kind = msg.get("msg_type") if isinstance(msg, dict) else None
    content = msg.get("content") if isinstance(msg, dict) else None
    problem = _content_problem(kind, content)
    if problem:
        return _note(problem)
    try:
        return nbformat.v4.output_from_msg(msg)
    except Exception as err:  # noqa: BLE001 - whatever nbformat refuses is left out
        return _note(type(err).__name__)
