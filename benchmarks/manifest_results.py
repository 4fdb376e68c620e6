"""Turn a benchmark run's summary.json into the `results` block of a model's manifest entry.

    python benchmarks/manifest_results.py benchmarks/results/summary.json > /tmp/results.json
    python -m aec.train --run-dir RUN_DIR --export MODEL_ID --results /tmp/results.json ...
    python tools/release.py MODEL_ID --default

With JPEG 4:2:0 in the run (rd.py measures it by default), the results also carry the model's 0-100 quality scale
(``quality_scale``, from benchmarks/quality_scale.py), which the export moves into the entry: each release gets its
scale computed from its own run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from benchmarks.quality_scale import quality_scale_block  # noqa: E402


def manifest_results(summary: dict, source: str = "benchmarks/results/summary.json") -> dict:
    """Per-quality Kodak points, BD against every measured codec, and speed, for the codec under test; with its
    ``quality_scale`` when the run measured JPEG 4:2:0 (``source``: the summary's path, for the scale's command)."""
    test = summary["bd"]["test"]
    if test not in summary["curves"]:
        raise SystemExit(f"the summary has no curve for {test!r}")
    speed = next(s for s in summary["speed"] if s["codec"] == test)
    folder = Path(summary["dataset"]["folder"]).name
    results = {
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
    try:
        results["quality_scale"] = quality_scale_block(summary, f"python benchmarks/quality_scale.py {source}")
    except ValueError as error:
        print(f"warning: no quality scale: {error}", file=sys.stderr)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python benchmarks/manifest_results.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("summary", type=Path, help="summary.json written by benchmarks/rd.py")
    args = parser.parse_args(argv)
    json.dump(manifest_results(json.loads(args.summary.read_text()), str(args.summary)), sys.stdout, indent=2,
              sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
