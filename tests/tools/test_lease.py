"""The lent-GPU command, run dry on the CPU with a tiny model: it trains, checkpoints and hands back small parts."""

import json
import subprocess
import sys

import torch
from PIL import Image

from aec.config import TINY
from aec.train.checkpoint import load_checkpoint
from tests.conftest import smooth_image
from tools import lease


def test_a_lease_trains_and_returns_its_checkpoint_in_parts_that_join_back(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for seed in range(4):
        Image.fromarray(smooth_image(96, 112, seed)).save(images / f"{seed}.png")
    out, run = tmp_path / "out", tmp_path / "run"
    config = json.dumps({k: v for k, v in TINY.to_dict().items()})
    lease.main(["--out", str(out), "--run-dir", str(run), "--minutes", "2", "--part-mib", "0.05", "--",
                "--device", "cpu", "--config", config, "--data", str(images), "--kodak", str(images),
                "--val-images", "0", "--batch", "2", "--crop", "64", "--steps", "3", "--log-every", "1"])
    record = json.loads((out / "parts.json").read_text())
    assert len(record["parts"]) > 1 and "log.csv" in record["logs"] and (out / "log.csv").is_file()
    assert all((out / p["name"]).stat().st_size <= 0.05 * (1 << 20) for p in record["parts"])
    joined = lease.join(out, tmp_path / "here" / "checkpoint.pt")
    assert joined.read_bytes() == (run / "checkpoint.pt").read_bytes()
    model, state = load_checkpoint(joined)
    assert state["step"] == 3 and "optimizer" not in state  # light: model and EMA only
    assert "ema" in state


def test_a_damaged_part_is_refused_when_joining(tmp_path):
    (tmp_path / "checkpoint").write_bytes(bytes(range(256)) * 10)
    parts = lease.split(tmp_path / "checkpoint", tmp_path, 1000)
    (tmp_path / "parts.json").write_text(json.dumps({"parts": parts, "sha256": "0" * 64, "logs": []}))
    (tmp_path / parts[1]["name"]).write_bytes(b"x" * parts[1]["bytes"])
    try:
        lease.join(tmp_path, tmp_path / "joined" / "checkpoint.pt")
    except SystemExit as error:
        assert "damaged" in str(error)
    else:
        raise AssertionError("a damaged part was joined")
    assert not (tmp_path / "joined" / "checkpoint.pt").exists()


def test_a_bare_checkout_imports_as_the_installed_package(tmp_path):
    lease.lay_out(tmp_path / "site")
    code = "import aec, aec.bitstream, aec.weights, aec.train.cli; print(aec.__file__, aec.bitstream.__file__)"
    done = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(tmp_path / "site")},
                          capture_output=True, text=True, check=True)
    assert str(tmp_path / "site") in done.stdout.split()[0] and str(tmp_path / "site") in done.stdout.split()[1]
    assert torch.__version__  # the GPU machine has torch; only aec and constriction come with the tree
