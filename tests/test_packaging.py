"""Set-up promises: the conda and pip dependency lists agree; the CLI and students' tools exist."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _split(requirement):
    name, floor = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*>=\s*([0-9.]+)", requirement.strip()).groups()
    return name.lower().replace("_", "-"), floor


def test_environment_yml_lists_exactly_the_runtime_dependencies_of_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pip_deps = dict(_split(r) for r in project["dependencies"])
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda_deps = dict(_split(d) for d in env["dependencies"]
                      if isinstance(d, str) and ">=" in d)
    assert conda_deps == pip_deps
    assert "python=3.11" in env["dependencies"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_section


def test_optional_extras_are_declared():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["oracle"] == ["torch==2.13.0"] and extras["bench"] == ["torch==2.13.0"]
    assert any(d.startswith("cupy-cuda12x") for d in extras["gpu"])
    assert any(d.startswith("pytest") for d in extras["dev"])


def test_cli_lists_its_subcommands():
    out = subprocess.run([sys.executable, "-m", "autograder.cli", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for command in ("data", "demo", "report", "release", "grade", "export", "feedback", "bench"):
        assert command in out.stdout


def test_students_package_never_imports_the_instructor_package():
    offenders = [p.name for p in (REPO / "assignment").rglob("*.py")
                 if re.search(r"^\s*(from|import)\s+autograder", p.read_text(), re.M)]
    assert offenders == []


def test_ci_runs_make_test_and_readme_names_both_commands():
    assert "make test" in (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
