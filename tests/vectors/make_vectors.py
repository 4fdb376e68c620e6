"""Write golden .aec vectors for a released model: `python tests/vectors/make_vectors.py [MODEL_ID]`.

Run once per released model id, and once more for each new major format version (its files are named
MODEL_CASE_fMAJOR.aec; format 1's have no suffix). The vectors, their decoded pixels (NAME.png beside each) and the
SHA-256 of those pixels must never change; a later decoder must reproduce them within one level
(tests/codec/test_vectors.py).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from aec import Codec  # noqa: E402
from aec.bitstream import FORMAT_VERSION, parse  # noqa: E402
from tests.conftest import smooth_image  # noqa: E402

CASES = [("rgb_64x48", (48, 64, "RGB"), 1.0), ("rgb_37x29", (29, 37, "RGB"), 3.5), ("rgba_20x33", (33, 20, "RGBA"), 6.0),
         ("gray_50x16", (16, 50, "L"), 4.0)]


def pixels_sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def main() -> None:
    codec = Codec(sys.argv[1] if len(sys.argv) > 1 else None)
    index_path = HERE / "vectors.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    for name, (height, width, layout), quality in CASES:
        suffix = "" if FORMAT_VERSION[0] == 1 else f"_f{FORMAT_VERSION[0]}"
        file_name = f"{codec.model_id}_{name}{suffix}.aec"
        if file_name in index:
            continue  # never rewrite a released vector
        image = smooth_image(height, width, seed=len(name))
        if layout == "RGBA":
            image = np.dstack([image, image[:, :, 1]])
        elif layout == "L":
            image = image[:, :, 0]
        data = codec.compress(image, model_quality=quality)  # the model's own scale, as the index records
        (HERE / file_name).write_bytes(data)
        pixels = codec.decompress_array(data)
        Image.fromarray(pixels).save(HERE / f"{file_name[:-4]}.png")
        index[file_name] = {"model_id": codec.model_id, "quality": quality, "layout": layout,
                            "shape": list(pixels.shape), "pixels_sha256": pixels_sha256(pixels),
                            "format": ".".join(map(str, parse(data)[0].version))}
    index_path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    print(f"{len(index)} vectors in {index_path}")


if __name__ == "__main__":
    main()
