"""The product's modules: each imports in a fresh interpreter, and none imports another in a cycle.

The graph is read from the source (``ast``), every ``import`` statement
counted, function-local ones too: a cycle hidden inside a function is still a
cycle a reader has to untangle. Modules are those of ``assignment``,
``autograder`` (with the kernel-side ``autograder/kernel``) and the scripts of
``datasets``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("assignment", "autograder", "datasets")


def product_modules() -> dict:
    """Dotted module name -> path of every .py file of the product."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name of a relative import ``from <level dots><name> import ...``."""
    if level == 0:
        return name or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def imports_of(module: str, path: Path, known: dict) -> set:
    """The product modules ``module`` imports anywhere in its source (and their packages)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, path.name == "__init__.py", node.level, node.module)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in known else base)
    # the packages that hold ``module`` are already being imported when it runs
    ancestors = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
    found = set()
    for target in targets:
        parts = target.split(".")
        # importing a.b.c runs a, a.b and a.b.c
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            if name in known and name != module and name not in ancestors:
                found.add(name)
    return found


def import_graph() -> dict:
    known = product_modules()
    return {module: imports_of(module, path, known) for module, path in known.items()}


def cycles(graph: dict) -> list:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_no_import_cycle_among_the_products_modules():
    found = cycles(import_graph())
    assert not found, "import cycles (each line one cycle; break it by moving what both " \
                      "need into a module of its own):\n" + \
        "\n".join(" <-> ".join(c) for c in found)


def test_a_package_importing_its_modules_is_no_cycle(tmp_path):
    init, a = tmp_path / "__init__.py", tmp_path / "a.py"
    init.write_text("from .a import f\n")
    a.write_text("def f():\n    return 1\n")
    known = {"pkg": init, "pkg.a": a}
    graph = {name: imports_of(name, path, known) for name, path in known.items()}
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": set()}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle_through_a_function_local_import(tmp_path):
    a = tmp_path / "a.py"
    b = tmp_path / "b.py"
    a.write_text("import os\n\ndef f():\n    from pkg import b\n")
    b.write_text("from .a import f\n")
    known = {"pkg": tmp_path, "pkg.a": a, "pkg.b": b}
    graph = {name: imports_of(name, path, known) for name, path in known.items()
             if path.suffix == ".py"}
    # their own package is not an edge: it is being imported when they run
    assert graph == {"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}
    assert cycles(graph) == [["pkg.a", "pkg.b"]]


def test_every_product_module_imports_in_a_fresh_interpreter():
    modules = {name: str(path) for name, path in product_modules().items()}
    script = (
        "import importlib, importlib.util, json, sys\n"
        "failed = {}\n"
        "for name, path in json.loads(sys.argv[1]).items():\n"
        "    try:\n"
        "        if name.startswith(('autograder.kernel.', 'datasets.')):\n"
        # the kernel collector and the dataset scripts are files, not package modules
        "            spec = importlib.util.spec_from_file_location(name.replace('.', '_'), path)\n"
        "            spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "        else:\n"
        "            importlib.import_module(name)\n"
        "    except Exception as err:\n"
        "        failed[name] = f'{type(err).__name__}: {err}'\n"
        "print(json.dumps(failed))\n")
    proc = subprocess.run([sys.executable, "-c", script, json.dumps(modules)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    failed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert failed == {}, failed
