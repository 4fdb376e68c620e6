"""The trainer: a few steps on generated images, a checkpoint, a resume, and an export that loads."""

import csv
import json

from PIL import Image

from aec.config import TINY
from aec.train import main
from aec.model_files import load_model
from tests.conftest import smooth_image


def _args(tmp_path, steps):
    config = {k: v for k, v in TINY.to_dict().items()}
    return ["--run-dir", str(tmp_path / "run"), "--data", str(tmp_path / "images"), "--kodak", str(tmp_path / "images"),
            "--config", json.dumps(config), "--steps", str(steps), "--batch", "2", "--crop", "64",
            "--log-every", "1", "--val-every", "2", "--val-images", "1", "--warmup", "2", "--resume",
            "--device", "cpu"]


def test_train_resume_and_export(tmp_path):
    (tmp_path / "images").mkdir()
    for i in range(3):
        Image.fromarray(smooth_image(70 + i, 90, seed=i)).save(tmp_path / "images" / f"{i}.png")
    main(_args(tmp_path, 3))
    main(_args(tmp_path, 5))  # resumes at step 3
    with open(tmp_path / "run" / "log.csv") as handle:
        steps = [int(row["step"]) for row in csv.DictReader(handle)]
    assert steps == [1, 2, 3, 4, 5]
    validation = (tmp_path / "run" / "validation.csv").read_text().splitlines()
    assert len(validation) == 1 + 2 * len(TINY.lambdas)  # steps 2 and 4, every quality
    main(["--run-dir", str(tmp_path / "run"), "--plot"])
    assert (tmp_path / "run" / "loss.png").stat().st_size > 0
    assert (tmp_path / "run" / "validation.png").stat().st_size > 0
    # export from a copy, as one must while the run goes on rewriting its checkpoint
    (tmp_path / "frozen.pt").write_bytes((tmp_path / "run" / "checkpoint.pt").read_bytes())
    (tmp_path / "run" / "checkpoint.pt").unlink()
    main(["--run-dir", str(tmp_path / "run"), "--export", "test-trained", "--weights-dir", str(tmp_path),
          "--checkpoint", str(tmp_path / "frozen.pt")])
    (tmp_path / "run" / "checkpoint.pt").write_bytes((tmp_path / "frozen.pt").read_bytes())
    model, model_id, _ = load_model("test-trained", tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert model_id == "test-trained" and manifest["models"]["test-trained"]["training"]["steps"] == 5

    # A new run started from the exported weights counts on from step 5 (and trains: the weights move).
    init = ["--run-dir", str(tmp_path / "run2"), "--init", str(tmp_path / "test-trained.safetensors"),
            "--weights-dir", str(tmp_path)]
    main(init + _args(tmp_path, 7)[2:])
    with open(tmp_path / "run2" / "log.csv") as handle:
        assert [int(row["step"]) for row in csv.DictReader(handle)] == [6, 7]
    main(["--run-dir", str(tmp_path / "run2"), "--export", "test-trained-2", "--weights-dir", str(tmp_path),
          "--recipe=python -m aec.train --resume --steps 7"])
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    training = manifest["models"]["test-trained-2"]["training"]
    assert training["steps"] == 7
    assert training["recipe"] == "python -m aec.train --resume --steps 7"  # the command given once, not doubled
    assert manifest["models"]["test-trained"]["training"]["recipe"] == "python -m aec.train"
    assert "core" in training["hardware"] or "GPU" in training["hardware"]
    assert manifest["models"]["test-trained-2"]["sha256"] != manifest["models"]["test-trained"]["sha256"]


def test_torchrun_ddp_two_processes(tmp_path):
    """Two CPU processes under torchrun (gloo): rank 0 logs and checkpoints, the ranks end in sync, resume works."""
    import os
    import subprocess
    import sys

    import torch

    (tmp_path / "images").mkdir()
    for i in range(3):
        Image.fromarray(smooth_image(70 + i, 90, seed=i)).save(tmp_path / "images" / f"{i}.png")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "aec.train"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for steps in (2, 3):
        done = subprocess.run(command + _args(tmp_path, steps), env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "2 process(es) of batch 2" in done.stdout
    with open(tmp_path / "run" / "log.csv") as handle:
        assert [int(row["step"]) for row in csv.DictReader(handle)] == [1, 2, 3]  # one writer, resumed at 2
    state = torch.load(tmp_path / "run" / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert state["step"] == 3 and state["args"]["world_size"] == 2 and "optimizer" in state


def test_light_checkpoint_resumes_without_optimizer_state(tmp_path):
    import torch

    (tmp_path / "images").mkdir()
    Image.fromarray(smooth_image(70, 90)).save(tmp_path / "images" / "0.png")
    main(_args(tmp_path, 2) + ["--light-checkpoint"])
    state = torch.load(tmp_path / "run" / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert "optimizer" not in state and state["step"] == 2
    main(_args(tmp_path, 3))
    state = torch.load(tmp_path / "run" / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert "optimizer" in state and state["step"] == 3


def test_make_subset_stays_within_its_budget(tmp_path):
    source, kodak = tmp_path / "pool", tmp_path / "kodak"
    source.mkdir()
    kodak.mkdir()
    for i in range(12):
        Image.fromarray(smooth_image(64, 64 + i, seed=i)).save(source / f"{i}.png")
    Image.fromarray(smooth_image(48, 48)).save(kodak / "k1.png")
    budget = sum(p.stat().st_size for p in source.iterdir()) / 2 / 1e6
    main(["--run-dir", str(tmp_path / "subset"), "--data", str(source), "--kodak", str(kodak), "--val-images", "1",
          "--make-subset", str(budget)])
    copied = list((tmp_path / "subset" / "train").iterdir())
    total = sum(p.stat().st_size for p in (tmp_path / "subset").rglob("*") if p.is_file())
    assert 3 <= len(copied) < 12 and total <= budget * 1e6
    assert [p.name for p in (tmp_path / "subset" / "kodak").iterdir()] == ["k1.png"]
    assert all((source / p.name).read_bytes() == p.read_bytes() for p in copied)  # copied as they are
