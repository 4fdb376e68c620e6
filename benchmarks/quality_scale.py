"""A model's 0-100 quality scale from its release benchmark: the ``quality_scale`` block of its manifest entry.

    python benchmarks/quality_scale.py benchmarks/results/summary.json

reads an ``rd.py`` summary (the codec under test and JPEG 4:2:0 measured on the same images) and prints the block:
the anchors (``aec.quality_scale.calibrate``: at each measured JPEG quality, the model quality whose mean PSNR equals
libjpeg's), the two curves they were computed from (PSNR to hundredths of a dB, as the manifest's results keep it),
and this command. ``benchmarks/manifest_results.py`` adds the same block to the results it writes, and
``python -m aec.train --export ID --results FILE`` puts it in the new model's entry (``tools/release.py`` then releases it), so each release gets its
scale computed this way from its own run. A released scale never changes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from aec.quality_scale import REFERENCE, calibrate  # noqa: E402

METHOD = ("quality Q -> the model quality whose mean PSNR equals libjpeg's (JPEG 4:2:0) at quality Q, linear between "
          "the model's measured qualities, for each JPEG quality measured inside the model's PSNR range; 0 and 100 "
          "at the ends of the model's range; linear between anchors")


def _curve(points: list[dict]) -> dict[str, float]:
    return {f"{point['quality']:g}": round(point["psnr"], 2) for point in points}


def quality_scale_block(summary: dict, command: str) -> dict:
    """The manifest's ``quality_scale`` block for the codec under test of an rd.py summary; ``command`` made it."""
    test = summary["bd"]["test"]
    for name in (test, REFERENCE):
        if name not in summary["curves"]:
            raise ValueError(f"the summary has no curve for {name!r}: the scale needs both the model's and JPEG "
                             f"4:2:0's (rd.py --codecs {test},{REFERENCE},...)")
    model, reference = _curve(summary["curves"][test]), _curve(summary["curves"][REFERENCE])
    trained = summary["codecs"][test]["settings"].get("trained_qualities")
    if trained and {f"{min(trained):g}", f"{max(trained):g}"} - set(model):
        raise ValueError(f"the model's curve must reach both ends of its range ({min(trained):g} and "
                         f"{max(trained):g}), it has {', '.join(model)}")
    return {"anchors": calibrate({float(q): p for q, p in model.items()}, {float(q): p for q, p in reference.items()}),
            "method": METHOD, "reference": REFERENCE, "model_psnr_db": model, "reference_psnr_db": reference,
            "benchmark": summary["command"].removesuffix(" -q"), "command": command}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python benchmarks/quality_scale.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("summary", type=Path, help="summary.json written by benchmarks/rd.py")
    args = parser.parse_args(argv)
    try:
        block = quality_scale_block(json.loads(args.summary.read_text()),
                                    f"python benchmarks/quality_scale.py {args.summary}")
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    json.dump(block, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
