"""How far the torch-free decoder's pixels are from the torch model's, and between thread counts, and whether the
torch-free encoder writes the torch model's files: `python benchmarks/decoder_agreement.py`.

Codes each image at each model quality, decodes the file with ``aec.decoder`` (what ``decompress`` runs: numpy) and
with the torch model's own synthesis (``AECModel.decompress``), and reports the mean PSNR of both against the
original, the largest level difference, the fraction of values that differ and the median time of each decode (one
thread each, alternating); and the pixel differences between two decodes by ``aec.decoder`` with 1 and with 2 BLAS
threads (numpy's BLAS splits a product differently by thread count). The symbols are the same by construction (the
checksum is checked each time); only the float32 g_s sums in another order. Each file is written by the numpy
encoder (``aec.channel_slice``: what ``compress`` runs at effort 0) and its payloads are compared with the torch
model's encoder's (``AECModel.compress``), whose float32 g_a and h_a also sum in another order. The images default
to the 24 Kodak images (from the current folder).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from aec import Codec  # noqa: E402
from aec.bitstream import parse  # noqa: E402
from aec.images import list_images  # noqa: E402
from aec.train.data import DEFAULT_KODAK  # noqa: E402
from benchmarks.metrics import psnr  # noqa: E402


def torch_pixels(codec: Codec, data: bytes) -> np.ndarray:
    """The file decoded with the torch model's synthesis, as uint8 HxWx3."""
    header, sections = parse(data)
    payloads = {section.kind: section.payload for section in sections}
    stride = codec.model.stride
    height, width = header.height + (-header.height) % stride, header.width + (-header.width) % stride
    with torch.no_grad():
        x_hat = codec.model.decompress(payloads["ZHYP"], payloads["YLAT"], header.quality, height, width,
                                       header.symbol_checksum)
    x_hat = x_hat[0, :, :header.height, :header.width]
    return torch.round(x_hat * 255).to(torch.uint8).permute(1, 2, 0).numpy()


def torch_encoder_file(codec: Codec, original: np.ndarray, quality: float, data: bytes) -> tuple[bool, int, float]:
    """(whether the torch model's encoder codes the image to the payloads of the file the numpy encoder wrote, the
    bytes of its payloads, the PSNR of its file decoded by ``aec.decoder``)."""
    height, width = original.shape[:2]
    stride = codec.model.stride
    padded = np.pad(original, ((0, (-height) % stride), (0, (-width) % stride), (0, 0)), mode="edge")
    with torch.no_grad():
        coded = codec.model.compress(torch.from_numpy(padded).permute(2, 0, 1)[None].contiguous(), quality)
    payloads = {section.kind: section.payload for section in parse(data)[1]}
    same = (coded.z_payload, coded.y_payload) == (payloads["ZHYP"], payloads["YLAT"])
    pixels = codec.model.decoder().decode(coded.z_payload, coded.y_payload, quality, *padded.shape[:2], coded.checksum)
    pixels = np.round(pixels[:, :height, :width] * 255).astype(np.uint8).transpose(1, 2, 0)
    return same, len(coded.z_payload) + len(coded.y_payload), psnr(original, pixels)


def _measure(codec: Codec, paths: list[Path], qualities: list[float]) -> list[dict]:
    """One row per image and quality."""
    rows = []
    for quality in qualities:
        for path in paths:
            original = np.asarray(Image.open(path).convert("RGB"))
            data = codec.compress(original, model_quality=quality)
            with threadpool_limits(1):  # the two decoders alternate, on one thread each: their times compare
                started = time.perf_counter()
                ours = codec.decompress_array(data)
                middle = time.perf_counter()
                theirs = torch_pixels(codec, data)
                ended = time.perf_counter()
            with threadpool_limits(2):
                two_threads = codec.decompress_array(data)
            difference = np.abs(ours.astype(int) - theirs.astype(int))
            threads = np.abs(ours.astype(int) - two_threads.astype(int))
            rows.append({"image": path.name, "model_quality": quality, "psnr_decoder": psnr(original, ours),
                         "psnr_torch": psnr(original, theirs), "max_level_difference": int(difference.max()),
                         "differing_fraction": float((difference > 0).mean()),
                         "threads_max_level_difference": int(threads.max()),
                         "threads_differing_fraction": float((threads > 0).mean()),
                         "seconds_decoder": middle - started, "seconds_torch": ended - middle})
            same, size, quality_of_torch_file = torch_encoder_file(codec, original, quality, data)
            payloads = {section.kind: section.payload for section in parse(data)[1]}
            rows[-1].update({"same_file_as_torch_encoder": same,
                             "payload_bytes": len(payloads["ZHYP"]) + len(payloads["YLAT"]),
                             "torch_encoder_payload_bytes": size, "psnr_torch_encoder_file": quality_of_torch_file})
    return rows


def measure(paths: list[Path], qualities: list[float], weights: str | None) -> dict:
    codec = Codec(weights=weights) if weights else Codec()
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows = _measure(codec, paths, qualities)
    finally:
        torch.set_num_threads(torch_threads)
    summary = {}
    for quality in qualities:
        mine = [r for r in rows if r["model_quality"] == quality]
        summary[str(quality)] = {key: float(np.mean([r[key] for r in mine]))
                                 for key in ("psnr_decoder", "psnr_torch", "psnr_torch_encoder_file", "payload_bytes",
                                             "torch_encoder_payload_bytes")}
    return {"model": codec.model_id, "images": len(paths), "summary": summary,
            "max_level_difference": max(r["max_level_difference"] for r in rows),
            "largest_differing_fraction": max(r["differing_fraction"] for r in rows),
            "mean_differing_fraction": float(np.mean([r["differing_fraction"] for r in rows])),
            "median_seconds": {key: float(np.median([r[f"seconds_{key}"] for r in rows])) for key in ("decoder", "torch")},
            "files_as_torch_encoder": sum(r["same_file_as_torch_encoder"] for r in rows),
            "largest_payload_difference_bytes": max(abs(r["payload_bytes"] - r["torch_encoder_payload_bytes"])
                                                    for r in rows),
            "largest_encoder_psnr_difference": max(abs(r["psnr_decoder"] - r["psnr_torch_encoder_file"]) for r in rows),
            "threads": {"max_level_difference": max(r["threads_max_level_difference"] for r in rows),
                        "largest_differing_fraction": max(r["threads_differing_fraction"] for r in rows),
                        "mean_differing_fraction": float(np.mean([r["threads_differing_fraction"] for r in rows]))},
            "rows": rows}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images-dir", default=str(DEFAULT_KODAK))
    p.add_argument("--qualities", default="1,3.5,6", help="model qualities (default 1,3.5,6)")
    p.add_argument("--weights", help=".safetensors file (default: the shipped model)")
    p.add_argument("--out", help="write the results here as JSON")
    args = p.parse_args(argv)
    paths = list_images(args.images_dir) if Path(args.images_dir).is_dir() else []
    if not paths:
        raise SystemExit(f"error: no images in {args.images_dir}")
    results = measure(paths, [float(q) for q in args.qualities.split(",")], args.weights)
    for quality, row in results["summary"].items():
        print(f"model quality {quality}: mean PSNR {row['psnr_decoder']:.4f} dB (aec.decoder), "
              f"{row['psnr_torch']:.4f} dB (torch), difference {row['psnr_decoder'] - row['psnr_torch']:+.4f} dB")
    print(f"largest level difference {results['max_level_difference']}; values that differ: at most "
          f"{100 * results['largest_differing_fraction']:.4f} % of an image, "
          f"{100 * results['mean_differing_fraction']:.4f} % on average ({results['images']} images, {results['model']})")
    seconds = results["median_seconds"]
    print(f"median decode on one thread: {seconds['decoder'] * 1000:.0f} ms (aec.decoder), "
          f"{seconds['torch'] * 1000:.0f} ms (the torch synthesis after the same exact path)")
    threads = results["threads"]
    print(f"1 against 2 BLAS threads: largest level difference {threads['max_level_difference']}; values that differ: "
          f"at most {100 * threads['largest_differing_fraction']:.4f} % of an image, "
          f"{100 * threads['mean_differing_fraction']:.4f} % on average")
    print(f"the numpy encoder wrote the torch encoder's payloads for {results['files_as_torch_encoder']} of "
          f"{len(results['rows'])} files; the others within {results['largest_payload_difference_bytes']} bytes and "
          f"{results['largest_encoder_psnr_difference']:.4f} dB of them")
    for quality, row in results["summary"].items():
        print(f"model quality {quality}: mean payload {row['payload_bytes']:.1f} bytes (numpy encoder), "
              f"{row['torch_encoder_payload_bytes']:.1f} bytes (torch encoder), mean PSNR "
              f"{row['psnr_decoder'] - row['psnr_torch_encoder_file']:+.5f} dB against the torch encoder's files")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
