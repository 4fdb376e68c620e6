"""benchmarks/y_coding.py codes the same symbols as format 1 and format 2.0 files and times their decodes."""

import json

import aec.entropy_models
from PIL import Image

from aec import Codec
from aec.bitstream import parse
from benchmarks import y_coding
from tests.conftest import smooth_image


def test_the_two_files_hold_the_same_image_and_differ_in_their_ylat_and_version(tiny_weights):
    codec = Codec(weights=tiny_weights)
    encode = aec.entropy_models.IndexedGaussian.encode
    old, new = y_coding.both_formats(codec, smooth_image(64, 96, 1), 3.0)
    assert aec.entropy_models.IndexedGaussian.encode is encode  # left as it was
    (old_header, old_sections), (new_header, new_sections) = parse(old), parse(new)
    assert old_header.version == (1, 0) and new_header.version == (2, 0)
    assert old_header.symbol_checksum == new_header.symbol_checksum
    old_payloads, new_payloads = dict((s.kind, s.payload) for s in old_sections), dict((s.kind, s.payload) for s in new_sections)
    assert old_payloads["ZHYP"] == new_payloads["ZHYP"] and old_payloads["YLAT"] != new_payloads["YLAT"]
    assert (codec.decompress_array(old) == codec.decompress_array(new)).all()


def test_both_formats_are_timed(tmp_path, tiny_weights, capsys):
    (tmp_path / "images").mkdir()
    Image.fromarray(smooth_image(64, 96, 0)).save(tmp_path / "images" / "0.png")
    assert y_coding.main(["--weights", str(tiny_weights), "--images-dir", str(tmp_path / "images"), "--rounds", "1",
                          "--threads", "1", "--quality", "2", "--out", str(tmp_path / "y.json")]) == 0
    (model,) = json.loads((tmp_path / "y.json").read_text())["results"].values()
    assert list(model) == list(y_coding.FORMATS)
    assert all(row["ylat bytes"] > 0 and row["decode"] > 0 and row["y coding"] > 0 for row in model.values())
    assert "decode / 1.x" in capsys.readouterr().out
