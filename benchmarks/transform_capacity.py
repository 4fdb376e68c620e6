"""How well a model's transforms can reconstruct without a rate to pay: `python benchmarks/transform_capacity.py
MODEL --minutes M --out DIR [--config JSON]`.

Trains g_a and g_s of MODEL (an installed model id or a .safetensors file; with --config, grown or changed as
``python -m aec.train --init MODEL --config`` would) on the MSE of g_s(g_a(x) * gain * inverse gain) at the model's
top quality, with no quantization and no rate term, on random 256x256 crops of the training photos (batch 2, Adam,
lr 1e-4 after a 200-step warm-up, float32, one thread) for --minutes, and measures the unquantized reconstruction of
the first --images Kodak images (``benchmarks/ceiling.py``) before and every --every minutes. A diagnostic, not a
model to ship: if a model's transforms climb well above its top quality's PSNR when freed from the rate, their
capacity is not what holds the top of its curve; if they stall near it, more latent channels or wider layers are
what the top needs. Writes DIR/capacity.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from benchmarks.ceiling import ceiling, load  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    import torch

    from aec.images import list_images
    from aec.train.checkpoint import transplant
    from aec.train.data import DEFAULT_KODAK, DEFAULT_TRAIN, CropSampler, load_pool

    p = argparse.ArgumentParser(prog="python benchmarks/transform_capacity.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("--out", required=True)
    p.add_argument("--config", default="{}", help="JSON of config fields to change first (e.g. a larger M)")
    p.add_argument("--minutes", type=float, default=20.0)
    p.add_argument("--every", type=float, default=5.0)
    p.add_argument("--data", default=str(DEFAULT_TRAIN))
    p.add_argument("--limit-images", type=int, default=None)
    p.add_argument("--kodak", default=str(DEFAULT_KODAK))
    p.add_argument("--images", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=int, default=200, help="steps of linear learning-rate warm-up")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    model, model_id = load(args.model)
    model = transplant(model, model.architecture, json.loads(args.config), verbose=True)
    model.train()
    top = float(len(model.config.lambdas))
    parameters = [*model.g_a.parameters(), *model.g_s.parameters(),
                  *(parameter for name, parameter in model.named_parameters() if "_modulation." in name)]
    optimizer = torch.optim.Adam(parameters, lr=args.lr)
    sampler = CropSampler(load_pool(Path(args.data), 256, args.limit_images), 256, args.seed)
    kodak = [np.asarray(Image.open(path).convert("RGB")) for path in list_images(args.kodak)[:args.images]]

    def measure() -> dict:
        model.eval()
        result = ceiling(model, kodak, [top])[f"{top:g}"]
        model.train()
        return result

    series = [{"minutes": 0.0, "steps": 0, **measure()}]
    print(json.dumps(series[-1]), flush=True)
    started, steps, next_measure = time.time(), 0, args.every
    while (elapsed := (time.time() - started) / 60) < args.minutes:
        x = sampler.batch(2).float().div_(255.0)
        at = torch.full((2,), top)
        gain, inverse = model.gains(at)
        x_hat = model.synthesize(model.analyze(x, at) * (gain * inverse)[:, :, None, None], at)
        loss = ((x_hat - x) ** 2).mean()
        for group in optimizer.param_groups:  # a linear warm-up: a fresh Adam's first steps would shake the model
            group["lr"] = args.lr * min(1.0, (steps + 1) / args.warmup)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 5.0)
        optimizer.step()
        steps += 1
        if elapsed >= next_measure:
            series.append({"minutes": round(elapsed, 2), "steps": steps, **measure()})
            print(json.dumps(series[-1]), flush=True)
            next_measure += args.every
    series.append({"minutes": round((time.time() - started) / 60, 2), "steps": steps, **measure()})
    print(json.dumps(series[-1]), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "capacity.json").write_text(json.dumps({"model": args.model, "model_id": model_id, "config": args.config,
                                                   "M": model.config.M, "series": series}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
