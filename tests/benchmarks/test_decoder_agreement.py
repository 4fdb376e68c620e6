"""benchmarks/decoder_agreement.py compares the torch-free decoder's pixels with the torch model's, and the torch-free
encoder's files, on a tiny model."""

import json

from PIL import Image

from benchmarks import decoder_agreement
from tests.conftest import smooth_image


def test_the_two_decoders_agree_within_a_level_and_the_report_says_so(tmp_path, tiny_weights, capsys):
    (tmp_path / "images").mkdir()
    for seed in range(2):
        Image.fromarray(smooth_image(64, 96, seed)).save(tmp_path / "images" / f"{seed}.png")
    assert decoder_agreement.main(["--images-dir", str(tmp_path / "images"), "--qualities", "1,3",
                                   "--weights", str(tiny_weights), "--out", str(tmp_path / "r.json")]) == 0
    results = json.loads((tmp_path / "r.json").read_text())
    assert results["images"] == 2 and len(results["rows"]) == 4
    assert results["max_level_difference"] <= 1 and results["largest_differing_fraction"] < 1e-2
    assert results["threads"]["max_level_difference"] <= 1
    assert results["median_seconds"]["decoder"] > 0 and results["median_seconds"]["torch"] > 0
    for row in results["summary"].values():
        assert abs(row["psnr_decoder"] - row["psnr_torch"]) < 0.01
    assert results["files_as_torch_encoder"] == 4  # the torch-free encoder wrote the torch encoder's files
    output = capsys.readouterr().out
    assert "aec.decoder" in output and "torch encoder's payloads for 4 of 4 files" in output
