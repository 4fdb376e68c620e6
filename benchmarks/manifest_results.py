"""Turn a benchmark run's summary.json into the `results` block of a model's manifest entry.

    python benchmarks/manifest_results.py benchmarks/results/summary.json > /tmp/results.json
    python -m aec.train --run-dir RUN_DIR --export MODEL_ID --release --results /tmp/results.json ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def manifest_results(summary: dict) -> dict:
    """Per-quality Kodak points, BD against every measured codec, and speed, for the codec under test."""
    test = summary["bd"]["test"]
    if test not in summary["curves"]:
        raise SystemExit(f"the summary has no curve for {test!r}")
    speed = next(s for s in summary["speed"] if s["codec"] == test)
    folder = Path(summary["dataset"]["folder"]).name
    return {
        "command": summary["command"].removesuffix(" -q"),
        "dataset": f"{'Kodak' if folder.lower() == 'kodak' else folder} ({len(summary['dataset']['images'])} images)",
        "model_id": summary["codecs"][test]["versions"].get("model_id"),
        "per_quality": [{"quality": p["quality"], "bpp": round(p["bpp"], 4), "psnr_db": round(p["psnr"], 2),
                         "ms_ssim": round(p["ms_ssim"], 4)} for p in summary["curves"][test]],
        "bd_vs_measured": {r["anchor"]: {"bd_rate_psnr_percent": round(r["bd_rate_psnr"], 1),
                                         "bd_psnr_db": round(r["bd_psnr"], 2)}
                           for r in summary["bd"]["rows"] if r["source"] == "measured"
                           and r["bd_rate_psnr"] is not None},
        "median_encode_ms": round(speed["encode_ms"]), "median_decode_ms": round(speed["decode_ms"]),
        "threads": summary["codecs"][test]["settings"].get("threads"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python benchmarks/manifest_results.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("summary", type=Path, help="summary.json written by benchmarks/rd.py")
    args = parser.parse_args(argv)
    json.dump(manifest_results(json.loads(args.summary.read_text())), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
