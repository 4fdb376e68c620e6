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
