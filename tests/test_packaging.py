"""The installed distribution: one top-level name, `aec`, with the design card's folders inside it."""

import importlib.metadata
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_distribution_installs_aec_alone_at_the_top_level():
    distribution = importlib.metadata.distribution("aec-codec")
    assert distribution.read_text("top_level.txt").split() == ["aec"]
    listed = [line for line in (REPO / "pyproject.toml").read_text().splitlines() if line.startswith("packages = ")]
    assert listed and all(name.strip(' "').startswith("aec") for name in listed[0][12:].strip("[]").split(","))


def test_the_folders_install_under_the_one_namespace():
    code = "import aec, aec.bitstream, aec.weights, aec.train, aec.cli; print(aec.bitstream.MAGIC.hex())"
    done = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "8b414543"
    for generic in ("codec", "bitstream", "weights"):
        missing = subprocess.run([sys.executable, "-c", f"import {generic}"], cwd="/", capture_output=True)
        assert missing.returncode != 0, f"`import {generic}` works outside the repository"


def _requirements(text: str) -> list[str]:
    """The names in a list of requirements ("torch>=2.4" -> "torch")."""
    import re

    return [re.split(r"[<>=~!\[; ]", requirement, maxsplit=1)[0].lower() for requirement in text]


def test_the_default_install_leaves_torch_to_an_extra():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    default = _requirements(project["dependencies"])
    assert "torch" not in default
    assert {"numpy", "pillow", "constriction", "safetensors", "click", "tqdm", "threadpoolctl"} <= set(default)
    extras = project["optional-dependencies"]
    assert "torch" in _requirements(extras["torch"]) and "torch" in _requirements(extras["train"])


def _without_torch(code: str) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter in which `import torch` fails, as in the default install."""
    return subprocess.run([sys.executable, "-c", "import sys; sys.modules['torch'] = None\n" + code], cwd="/",
                          capture_output=True, text=True, timeout=120)


def test_without_torch_a_higher_effort_and_a_device_say_in_one_line_which_extra_to_install():
    code = ("import aec, numpy\n"
            "for attempt in (lambda: aec.compress(numpy.zeros((8, 8, 3), numpy.uint8), effort=1),\n"
            "                lambda: aec.Codec(device='cuda').device):\n"
            "    try:\n"
            "        attempt()\n"
            "    except aec.AECError as error:\n"
            "        print(error)\n")
    done = _without_torch(code)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and all('needs PyTorch' in line and 'pip install "aec-codec[torch]"' in line
                                   for line in lines), lines


def test_without_torch_training_says_in_one_line_which_extra_to_install():
    done = _without_torch("import runpy; sys.argv = ['aec.train', '--help']; runpy.run_module('aec.train', "
                          "run_name='__main__')")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        'aec.train: error: training needs PyTorch, which is not installed here: pip install "aec-codec[train]" '
        "(effort 0 and decoding do not)"]
