"""The trainer: a few steps on generated images, a checkpoint, a resume, an export that loads, and the EMA."""

import csv
import json

import pytest
import torch
from PIL import Image

from aec.config import TINY
from aec.model import AECModel
from aec.model_files import load_model, load_model_file, save_model
from aec.train import main
from aec.train.ema import EMA
from tests.conftest import smooth_image


def _args(tmp_path, steps):
    config = {k: v for k, v in TINY.to_dict().items()}
    return ["--run-dir", str(tmp_path / "run"), "--data", str(tmp_path / "images"), "--kodak", str(tmp_path / "images"),
            "--config", json.dumps(config), "--steps", str(steps), "--batch", "2", "--crop", "64",
            "--log-every", "1", "--val-every", "2", "--val-images", "1", "--warmup", "2", "--resume",
            "--device", "cpu", "--no-bf16"]  # float32 as asked: the precision probe has tests of its own


def _images(tmp_path, count=3):
    (tmp_path / "images").mkdir()
    for i in range(count):
        Image.fromarray(smooth_image(70 + i, 90, seed=i)).save(tmp_path / "images" / f"{i}.png")


def _checkpoint(tmp_path, run="run"):
    return torch.load(tmp_path / run / "checkpoint.pt", map_location="cpu", weights_only=True)


def test_train_resume_and_export(tmp_path):
    _images(tmp_path)
    main(_args(tmp_path, 3))
    main(_args(tmp_path, 5))  # resumes at step 3
    with open(tmp_path / "run" / "log.csv") as handle:
        steps = [int(row["step"]) for row in csv.DictReader(handle)]
    assert steps == [1, 2, 3, 4, 5]
    with open(tmp_path / "run" / "validation.csv") as handle:
        validation = list(csv.DictReader(handle))
    assert [int(row["step"]) for row in validation] == [2] * len(TINY.lambdas) + [4] * len(TINY.lambdas)
    assert {row["weights"] for row in validation} == {"ema"}  # the EMA is on by default, and validated
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
    assert manifest["models"]["test-trained"]["training"]["ema_decay"] == 0.999

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

    _images(tmp_path)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "aec.train"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for steps in (2, 3):
        done = subprocess.run(command + _args(tmp_path, steps), env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "2 process(es) of batch 2" in done.stdout
    with open(tmp_path / "run" / "log.csv") as handle:
        assert [int(row["step"]) for row in csv.DictReader(handle)] == [1, 2, 3]  # one writer, resumed at 2
    state = _checkpoint(tmp_path)
    assert state["step"] == 3 and state["args"]["world_size"] == 2 and "optimizer" in state and "ema" in state


def test_light_checkpoint_resumes_without_optimizer_state(tmp_path):
    _images(tmp_path, 1)
    main(_args(tmp_path, 2) + ["--light-checkpoint", "--val-every", "100"])
    state = _checkpoint(tmp_path)
    assert "optimizer" not in state and "ema" in state and state["step"] == 2
    main(_args(tmp_path, 3) + ["--val-every", "100"])
    state = _checkpoint(tmp_path)
    assert "optimizer" in state and state["step"] == 3


@pytest.mark.parametrize("decay", [0.5, 0.9])
def test_ema_is_the_hand_computed_average(decay):
    torch.manual_seed(0)
    model = AECModel(TINY)
    start = [p.detach().clone() for p in model.parameters()]
    ema = EMA(model, decay)
    with torch.no_grad():
        for value in (1.0, 3.0):  # two optimizer steps that set every weight to 1, then to 3
            for p in model.parameters():
                p.fill_(value)
            ema.update()
        next(model.buffers()).add_(7)  # buffers are copied from the model, not averaged
    for average, first in zip(ema.module().parameters(), start):
        # decay 0.5: a quarter of the start, a quarter of the ones, half of the threes
        assert torch.allclose(average, decay**2 * first + decay * (1 - decay) * 1.0 + (1 - decay) * 3.0, atol=1e-6)
    assert all(torch.equal(a, b) for a, b in zip(ema.module().buffers(), model.buffers()))
    assert all(p.requires_grad for p in model.parameters())  # the model itself is left as it was


def test_a_checkpoint_without_ema_resumes_and_the_average_starts_from_its_weights(tmp_path):
    """A checkpoint and validation.csv as the trainer wrote them before the EMA existed."""
    _images(tmp_path, 1)
    main(_args(tmp_path, 2) + ["--ema-decay", "0", "--val-every", "100"])
    state = _checkpoint(tmp_path)
    assert "ema" not in state
    del state["args"]["ema_decay"]
    torch.save(state, tmp_path / "run" / "checkpoint.pt")
    validation = tmp_path / "run" / "validation.csv"
    validation.write_text("step,hours,quality,bpp,psnr\n2,0.0001,1.0,0.5000,20.000\n")
    main(_args(tmp_path, 3) + ["--ema-decay", "0.5", "--val-every", "3"])
    resumed = _checkpoint(tmp_path)
    assert resumed["step"] == 3
    # one step after the resume: the average is half the resumed weights and half the new ones
    for key, value in resumed["ema"].items():
        if value.is_floating_point():
            assert torch.allclose(value, (state["model"][key] + resumed["model"][key]) / 2, atol=1e-6), key
    assert any(not torch.equal(resumed["ema"][k], resumed["model"][k]) for k in resumed["model"])
    with open(validation) as handle:
        rows = list(csv.DictReader(handle))
    # the old row is marked as the raw weights' and parses with the new ones
    assert [(row["step"], row["weights"]) for row in rows] == [("2", "raw")] + [("3", "ema")] * len(TINY.lambdas)
    main(["--run-dir", str(tmp_path / "run"), "--plot"])  # old and new rows plot together
    assert (tmp_path / "run" / "validation.png").stat().st_size > 0


def test_export_writes_the_ema_weights_unless_raw_is_asked_for(tmp_path):
    _images(tmp_path, 1)
    main(_args(tmp_path, 2) + ["--ema-decay", "0.5", "--val-every", "100"])
    state = _checkpoint(tmp_path)
    manifest = {}
    for model_id, flags, weights in (("test-ema", [], state["ema"]), ("test-raw", ["--export-raw"], state["model"])):
        main(["--run-dir", str(tmp_path / "run"), "--export", model_id, "--weights-dir", str(tmp_path), *flags])
        expected = AECModel(TINY)
        expected.load_state_dict(weights)
        save_model(expected, tmp_path / "expected.safetensors", model_id)
        exported, _, _ = load_model(model_id, tmp_path)
        reference, _, _ = load_model_file(tmp_path / "expected.safetensors")
        assert all(torch.equal(a, b) for a, b in zip(exported.state_dict().values(), reference.state_dict().values()))
        manifest = json.loads((tmp_path / "manifest.json").read_text())["models"]
    assert manifest["test-ema"]["training"]["ema_decay"] == 0.5 and manifest["test-raw"]["training"]["ema_decay"] == 0
    assert manifest["test-ema"]["sha256"] != manifest["test-raw"]["sha256"]
    # a candidate's folder is made if it is new; a file in its place is refused by name
    main(["--run-dir", str(tmp_path / "run"), "--export", "test-new", "--weights-dir", str(tmp_path / "new" / "dir")])
    assert (tmp_path / "new" / "dir" / "test-new.safetensors").is_file()
    with pytest.raises(SystemExit, match="is not a folder"):
        main(["--run-dir", str(tmp_path / "run"), "--export", "x", "--weights-dir", str(tmp_path / "expected.safetensors")])


def test_an_encoder_only_fine_tune_keeps_the_decoder_bit_for_bit(tmp_path):
    """--train-only encoder --rounding hard (soft then hard): g_a, h_a and the gains move, nothing a decoder reads
    does, so the parent's decoder decodes the child's latents to the same pixels; its checkpoint resumes only so."""
    _images(tmp_path, 2)
    main(_args(tmp_path, 2) + ["--val-every", "100"])
    main(["--run-dir", str(tmp_path / "run"), "--export", "test-parent", "--weights-dir", str(tmp_path)])
    parent, _, _ = load_model("test-parent", tmp_path)
    child_args = [a.replace(str(tmp_path / "run"), str(tmp_path / "child")) for a in _args(tmp_path, 3)]
    child_args = [a for a in child_args if a != "--config"]
    del child_args[child_args.index(json.dumps(TINY.to_dict()))]
    main(child_args + ["--init", str(tmp_path / "test-parent.safetensors"), "--train-only", "encoder",
                       "--rounding", "hard", "--lr", "1e-2", "--ema-decay", "0.5", "--val-every", "100"])
    main(["--run-dir", str(tmp_path / "child"), "--export", "test-child", "--weights-dir", str(tmp_path)])
    child, _, _ = load_model("test-child", tmp_path)
    encoder = {name for name, p in child.named_parameters() if any(p is q for q in child.encoder_parameters())}
    assert any(name.startswith("g_a.") for name in encoder) and "log_gains" in encoder
    parent_state, child_state = parent.state_dict(), child.state_dict()
    assert all(torch.equal(parent_state[k], child_state[k]) for k in parent_state if k not in encoder)
    assert any(not torch.equal(parent_state[k], child_state[k]) for k in encoder)
    x = torch.from_numpy(smooth_image(64, 128, seed=7)).permute(2, 0, 1)[None].contiguous()
    coded = child.compress(x, 2.0)
    arguments = (coded.z_payload, coded.y_payload, 2.0, 64, 128, coded.checksum)
    assert torch.equal(parent.decompress(*arguments), child.decompress(*arguments))
    with pytest.raises(SystemExit, match="--train-only encoder"):
        main(child_args + ["--steps", "4"])  # resumed without --train-only encoder: Adam's state would not fit


def test_a_widened_quality_table_keeps_every_trained_quality_and_continues_the_gains():
    from aec.train.checkpoint import widen_quality_table

    torch.manual_seed(0)
    model = AECModel(TINY).eval()  # lambdas 0.004, 0.016, 0.064
    with torch.no_grad():
        model.log_gains.add_(torch.randn_like(model.log_gains) * 0.1)  # gains that differ channel by channel
    wide = widen_quality_table(model, (0.001, 0.004, 0.008, 0.016, 0.064, 0.256)).eval()
    for old, new in ((0, 1), (1, 3), (2, 4)):  # the trained rows are copied unchanged
        assert torch.equal(wide.log_gains[new], model.log_gains[old])
        assert torch.equal(wide.log_inverse_gains[new], model.log_inverse_gains[old])
    g = model.log_gains.detach().double()
    # 0.008 lies halfway (in log-lambda) between 0.004 and 0.016; 0.001 and 0.256 one step beyond the ends
    assert torch.allclose(wide.log_gains[2].double(), (g[0] + g[1]) / 2, atol=1e-6)
    assert torch.allclose(wide.log_gains[0].double(), g[0] - (g[1] - g[0]), atol=1e-6)
    assert torch.allclose(wide.log_gains[5].double(), g[2] + (g[2] - g[1]), atol=1e-6)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():  # every other weight is the parent's: a trained quality codes as before
        assert torch.equal(wide(x, torch.tensor([4]))["x_hat"], model(x, torch.tensor([2]))["x_hat"])


def test_more_latent_channels_keep_the_trained_ones_and_reconstruct_as_before():
    from aec.train.checkpoint import transplant

    torch.manual_seed(0)
    model = AECModel(TINY).eval()  # M 16 in 2 slices of 8
    with torch.no_grad():
        model.log_gains.add_(torch.randn_like(model.log_gains) * 0.1)
    grown = transplant(model, model.architecture, {"M": 24, "slices": 3}, verbose=False).eval()
    assert grown.config.M == 24 and grown.config.slices == 3
    mine = grown.state_dict()
    for key, value in model.state_dict().items():  # every trained tensor is in the grown model, where it was
        assert torch.equal(mine[key][tuple(slice(0, n) for n in value.shape)], value), key
    assert torch.allclose(mine["log_gains"][:, 16:], model.log_gains.mean(dim=1, keepdim=True).expand(-1, 8))
    assert not mine["g_a.6.weight"][16:].eq(0).all()  # the new latent channels are fresh features of the image ...
    assert mine["g_s.0.weight"][16:].eq(0).all()  # ... that the synthesis and h_a start by ignoring
    assert mine["latent_codec.h_a.0.weight"][:, 16:].eq(0).all()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():  # the old slices code and reconstruct as they did; the new slice only adds its bits
        old, new = model(x, torch.tensor([2])), grown(x, torch.tensor([2]))
    assert torch.equal(new["x_hat"], old["x_hat"]) and torch.equal(new["z_bits"], old["z_bits"])
    assert bool((new["y_bits"] > old["y_bits"]).all())
    with pytest.raises(SystemExit, match="set slices to 3"):
        transplant(model, model.architecture, {"M": 24}, verbose=False)  # slices of 12 would retrain every slice


@pytest.mark.parametrize("lambdas", [(0.004, 0.064), (0.064, 0.016, 0.004), (0.004, 0.016, 0.064, 0.032)])
def test_a_quality_table_that_drops_or_reorders_trained_lambdas_is_refused(lambdas):
    from aec.train.checkpoint import widen_quality_table

    with pytest.raises(SystemExit, match="must ascend and hold"):
        widen_quality_table(AECModel(TINY), lambdas)


def test_quality_weights_decide_which_qualities_are_drawn():
    from aec.train.loop import draw_qualities

    torch.manual_seed(0)
    assert set(draw_qualities(200, 3).tolist()) == {1, 2, 3}
    assert set(draw_qualities(200, 3, torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)).tolist()) == {3}
    drawn = draw_qualities(4000, 2, torch.tensor([3.0, 1.0], dtype=torch.float64))
    assert 0.7 < float((drawn == 1).float().mean()) < 0.8


def test_a_run_widened_from_a_model_file_trains_and_exports_its_new_table(tmp_path, capsys):
    _images(tmp_path)
    main(_args(tmp_path, 2))
    main(["--run-dir", str(tmp_path / "run"), "--export", "test-narrow", "--weights-dir", str(tmp_path)])
    wide = (0.001, 0.004, 0.016, 0.064)
    main(["--run-dir", str(tmp_path / "wide"), "--init", str(tmp_path / "test-narrow.safetensors"),
          "--weights-dir", str(tmp_path), "--lambdas", ",".join(map(str, wide)),
          "--quality-weights", "2,1,1,1"] + _args(tmp_path, 4)[2:])
    out = capsys.readouterr().out
    assert "quality table widened to 4 lambdas" in out
    assert "precision: " in out  # the trainer says which precision it measured faster
    main(["--run-dir", str(tmp_path / "wide"), "--export", "test-wide", "--weights-dir", str(tmp_path)])
    model, _, _ = load_model("test-wide", tmp_path)
    assert model.config.lambdas == wide
    with open(tmp_path / "wide" / "validation.csv") as handle:
        assert {float(row["quality"]) for row in csv.DictReader(handle)} == {1.0, 2.0, 3.0, 4.0}
    # a resume without --quality-weights keeps the run's draw (part of its recipe); one with them changes it
    main(["--run-dir", str(tmp_path / "wide")] + _args(tmp_path, 5)[2:])
    assert "qualities drawn as the run drew them: --quality-weights 2,1,1,1" in capsys.readouterr().out
    saved = torch.load(tmp_path / "wide" / "checkpoint.pt", weights_only=False)
    assert saved["step"] == 5 and tuple(saved["args"]["quality_weights"]) == (2, 1, 1, 1)
    main(["--run-dir", str(tmp_path / "wide"), "--quality-weights", "1,1,1,3"] + _args(tmp_path, 6)[2:])
    assert "as the run drew them" not in capsys.readouterr().out
    assert tuple(torch.load(tmp_path / "wide" / "checkpoint.pt", weights_only=False)["args"]["quality_weights"]) == (
        1, 1, 1, 3)


def test_hard_rounding_trains_on_the_rate_and_pixels_that_eval_and_the_coder_see():
    from aec.train.loop import hard_rounding

    torch.manual_seed(0)
    model, x, quality = AECModel(TINY), torch.rand(1, 3, 64, 64), torch.tensor([2])
    with torch.no_grad():
        coded = model.eval()(x, quality)
        hard = model.train()(x, quality, rounding=hard_rounding)
        noisy = model(x, quality)
    for key in ("y_bits", "z_bits", "x_hat"):
        assert torch.equal(hard[key], coded[key]), key
    assert not torch.equal(noisy["y_bits"], coded["y_bits"])  # the default proxy: the rate on noisy latents


def test_a_resume_keeps_the_runs_rounding_unless_told_otherwise(tmp_path, capsys):
    _images(tmp_path)
    main(_args(tmp_path, 2) + ["--rounding", "hard"])
    assert _checkpoint(tmp_path)["args"]["rounding"] == "hard"
    capsys.readouterr()
    main(_args(tmp_path, 3))  # no --rounding: the run's own, as its quality draw
    assert "latents rounded as the run rounded them: --rounding hard" in capsys.readouterr().out
    assert _checkpoint(tmp_path)["step"] == 3 and _checkpoint(tmp_path)["args"]["rounding"] == "hard"
    main(_args(tmp_path, 4) + ["--rounding", "noise"])
    assert "rounded as the run" not in capsys.readouterr().out
    assert _checkpoint(tmp_path)["args"]["rounding"] == "noise"


@pytest.mark.parametrize("extra, message", [
    (["--lambdas", "0.001,0.004"], "widens the quality table of an --init model"),
    (["--quality-weights", "1,1"], "gives 2 weights for 3 trained qualities"),
])
def test_quality_table_options_that_cannot_apply_are_refused(tmp_path, capsys, extra, message):
    _images(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        main(_args(tmp_path, 1) + extra)
    assert message in str(stopped.value.code) + capsys.readouterr().err  # argparse prints; the trainer raises it


def test_the_warm_up_counts_from_where_adam_started():
    import argparse

    from aec.train.loop import learning_rate

    args = argparse.Namespace(lr=1e-4, warmup=4, drop_at=0.9, drop_factor=0.1, steps=1000)
    assert [learning_rate(s, args) for s in (0, 3, 4)] == pytest.approx([2.5e-5, 1e-4, 1e-4])
    # a run from --init at step 500 (Adam afresh) warms up again; a resumed Adam (started at 0) does not
    assert [learning_rate(s, args, adam_from=500) for s in (500, 502, 504)] == pytest.approx([2.5e-5, 7.5e-5, 1e-4])
    assert learning_rate(500, args, adam_from=0) == pytest.approx(1e-4)
    assert learning_rate(950, args, adam_from=500) == pytest.approx(1e-5)  # the drop still counts from step 0


def test_a_run_from_a_model_file_warms_adam_up_and_a_resume_keeps_its_warm_up(tmp_path):
    _images(tmp_path)
    main(_args(tmp_path, 2))
    main(["--run-dir", str(tmp_path / "run"), "--export", "test-a", "--weights-dir", str(tmp_path)])
    init = ["--run-dir", str(tmp_path / "run2"), "--init", str(tmp_path / "test-a.safetensors"),
            "--weights-dir", str(tmp_path)]
    schedule = ["--warmup", "4", "--lr", "1e-3", "--drop-at", "1.0"]
    main(init + _args(tmp_path, 4)[2:] + schedule)  # steps 3, 4
    assert _checkpoint(tmp_path, "run2")["adam_from"] == 2
    main(init + _args(tmp_path, 6)[2:] + schedule)  # resumes: steps 5, 6
    with open(tmp_path / "run2" / "log.csv") as handle:
        rates = {int(row["step"]): float(row["lr"]) for row in csv.DictReader(handle)}
    assert rates == pytest.approx({3: 2.5e-4, 4: 5e-4, 5: 7.5e-4, 6: 1e-3})  # the rate each step trained at


def test_a_resumed_run_keeps_its_quality_table_and_refuses_another(tmp_path):
    _images(tmp_path)
    main(_args(tmp_path, 1))
    main(["--run-dir", str(tmp_path / "run"), "--export", "test-a", "--weights-dir", str(tmp_path)])
    wide = ["--run-dir", str(tmp_path / "wide"), "--init", str(tmp_path / "test-a.safetensors"),
            "--weights-dir", str(tmp_path), "--lambdas", "0.001,0.004,0.016,0.064"]
    main(wide + _args(tmp_path, 2)[2:])  # widens the --init model in a new run dir
    main(wide + _args(tmp_path, 3)[2:])  # resumes it, asking for the table it has: fine
    assert _checkpoint(tmp_path, "wide")["step"] == 3
    with pytest.raises(SystemExit, match="--lambdas widens an --init model"):
        main(wide[:-1] + ["0.001,0.004,0.016,0.064,0.256"] + _args(tmp_path, 4)[2:])
