"""CI is a fresh machine: .ci/run builds a new virtual environment and runs exactly the README's test command, and the
suite fails on deprecations that the project's own code runs into."""

import re
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readmes_test_command_in_a_new_virtual_environment():
    readme = (REPO / "README.md").read_text()
    command = re.search(r"## Tests\n\n```sh\n(.+)\n```", readme).group(1)
    script = (REPO / ".ci" / "run").read_text()
    assert "pip install torch==2.13.0 && pip install -e \".[torch,test,bench]\" && python -m pytest" == command
    lines = [line for line in script.splitlines() if line and not line.startswith("#")]
    assert command in lines
    venv = next(i for i, line in enumerate(lines) if "-m venv" in line and "mktemp" not in line)
    activate = next(i for i, line in enumerate(lines) if line.startswith("source ") and "bin/activate" in line)
    assert venv < activate < lines.index(command)
    assert any("mktemp -d" in line for line in lines[:venv]) and any(line.startswith("trap ") for line in lines)


@pytest.mark.parametrize("module", ["aec.cli", "aec", "benchmarks.fuzz", "test_cli", "conftest"])
def test_a_deprecation_the_projects_own_code_runs_into_fails_the_suite(module):
    with pytest.raises(DeprecationWarning):
        warnings.warn_explicit("'get_binary_stream' is deprecated", DeprecationWarning, "x.py", 1, module=module)


def test_the_test_modules_are_named_as_the_filter_expects():
    assert __name__ == "test_ci"  # pytest imports them by file name (no tests/__init__.py)


def test_a_deprecation_inside_a_dependency_is_left_alone():
    with warnings.catch_warnings(record=True) as caught:
        warnings.warn_explicit("an internal deprecation", DeprecationWarning, "x.py", 1, module="click.core")
    assert len(caught) == 1
