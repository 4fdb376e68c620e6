"""The 0-100 quality scale: its mapping, its calibration, and the released scales that never change."""

import json

import pytest

from aec.manifest import read_manifest
from aec.quality_scale import QualityScale, calibrate
from benchmarks.quality_scale import quality_scale_block

# What was released: once a model ships, its scale is fixed, so that `-q 75` with that model id always writes the
# same file. A new model adds its own line here; no line ever changes.
RELEASED_SCALES = {
    "aec-sc192-r4": {"0": 1.0, "20": 1.69, "30": 2.6, "40": 3.27, "50": 3.85, "65": 4.94, "100": 6.0},
    "aec-sc192-r5": {"0": 1.0, "20": 1.72, "30": 2.63, "40": 3.3, "50": 3.86, "65": 4.94, "100": 6.0},
    "aec-sc192-r6": {"0": 1.0, "20": 1.69, "30": 2.58, "40": 3.24, "50": 3.79, "65": 4.83, "100": 6.0},
    "aec-sc192-r7": {"0": 1.0, "20": 1.64, "30": 2.51, "40": 3.15, "50": 3.7, "65": 4.69, "100": 6.0},
    "aec-sc192-r8": {"0": 1.0, "20": 1.59, "30": 2.45, "40": 3.07, "50": 3.62, "65": 4.57, "100": 6.0},
    "aec-light-r1": {"0": 1.0, "20": 1.61, "30": 2.46, "40": 3.07, "50": 3.61, "65": 4.54, "100": 6.0},
    "aec-sc192-r9": {"0": 1.0, "12": 1.54, "20": 2.6, "30": 3.44, "40": 4.03, "50": 4.52, "65": 5.34, "80": 7.09,
                     "100": 10.0},
    "aec-light-r2": {"0": 1.0, "12": 1.52, "20": 2.6, "30": 3.42, "40": 4.0, "50": 4.49, "65": 5.31, "80": 7.05,
                     "100": 10.0},
    "aec-sc192-r10": {"0": 1.0, "12": 1.61, "20": 2.68, "30": 3.51, "40": 4.08, "50": 4.55, "65": 5.33, "80": 6.94,
                      "100": 10.0},
    "aec-fast-r1": {"0": 1.0, "12": 1.16, "20": 2.3, "30": 3.17, "40": 3.79, "50": 4.3, "65": 5.12, "80": 6.89,
                    "100": 10.0},
}


def shipped_models() -> dict:
    return {model_id: entry for model_id, entry in read_manifest()["models"].items() if not entry.get("retired_after")}


def test_every_shipped_model_has_a_scale_over_its_whole_range():
    for model_id, entry in shipped_models().items():
        assert "quality_scale" in entry, f"{model_id} ships without a quality scale"
        lambdas = entry["config"]["lambdas"]
        scale = QualityScale.from_manifest(entry["quality_scale"], 1, len(lambdas))
        assert scale.model_range == (1.0, float(len(lambdas)))


def test_released_scales_never_change():
    for model_id, entry in read_manifest()["models"].items():
        if "quality_scale" in entry:
            assert model_id in RELEASED_SCALES, f"add {model_id}'s released scale to RELEASED_SCALES"
            assert entry["quality_scale"]["anchors"] == RELEASED_SCALES[model_id], model_id


def test_each_released_scale_is_computed_from_the_curves_it_records():
    for model_id, entry in read_manifest()["models"].items():
        if "quality_scale" in entry:
            block = entry["quality_scale"]
            model = {float(q): psnr for q, psnr in block["model_psnr_db"].items()}
            reference = {float(q): psnr for q, psnr in block["reference_psnr_db"].items()}
            assert calibrate(model, reference) == block["anchors"], model_id
            # ... and the model's curve is the one its results report
            measured = {p["quality"]: p["psnr_db"] for p in entry["results"]["per_quality"]}
            assert model == measured, model_id


def test_the_mapping_is_piecewise_linear_and_inverts():
    scale = QualityScale(((0.0, 1.0), (20.0, 1.7), (100.0, 6.0)))
    assert scale.model_quality(0) == 1.0 and scale.model_quality(100) == 6.0
    assert scale.model_quality(10) == pytest.approx(1.35)
    assert scale.model_quality(60) == pytest.approx(1.7 + 0.5 * 4.3)
    for quality in (0, 3.5, 20, 42, 75, 100):
        assert scale.quality(scale.model_quality(quality)) == pytest.approx(quality)


def test_describe_gives_the_whole_number_a_file_was_coded_with():
    scale = QualityScale(((0.0, 1.0), (65.0, 4.94), (100.0, 6.0)))
    for quality in range(0, 101):
        coded = round(scale.model_quality(quality) * 100) / 100  # as the header stores it
        assert scale.describe(coded) == quality
    assert scale.describe(5.23) == pytest.approx(74.6)  # no whole quality codes at 5.23: to a tenth


@pytest.mark.parametrize("anchors", [
    ((0.0, 1.0),),                               # one anchor
    ((0.0, 1.0), (50.0, 2.0)),                   # does not reach 100
    ((10.0, 1.0), (100.0, 2.0)),                 # does not start at 0
    ((0.0, 1.0), (50.0, 3.0), (100.0, 3.0)),     # not strictly increasing
    ((0.0, 2.0), (50.0, 1.0), (100.0, 3.0)),
    ((0.0, 1.0), (50.0, float("nan")), (100.0, 3.0)),
])
def test_a_scale_that_is_not_strictly_increasing_from_0_to_100_is_refused(anchors):
    with pytest.raises(ValueError):
        QualityScale(anchors)


def test_a_manifest_scale_must_span_the_models_range():
    block = {"anchors": {"0": 1.0, "100": 5.0}}
    assert QualityScale.from_manifest(block, 1, 5).model_range == (1.0, 5.0)
    with pytest.raises(ValueError, match="model 1 to 6"):
        QualityScale.from_manifest(block, 1, 6)


def test_linear_is_the_scale_of_a_model_without_one():
    scale = QualityScale.linear(1, 3)
    assert scale.to_manifest() == {"0": 1.0, "100": 3.0} and scale.model_quality(50) == 2.0


def test_calibration_matches_the_jpeg_psnr_inside_the_models_range():
    model = {1.0: 28.0, 2.0: 30.0, 3.0: 32.0}
    reference = {10: 26.0, 20: 29.0, 40: 31.5, 60: 33.0}  # 10 and 60 are outside the model's PSNR range
    assert calibrate(model, reference) == {"0": 1.0, "20": 1.5, "40": 2.75, "100": 3.0}


def test_calibration_keeps_anchors_strictly_increasing():
    model = {1.0: 28.0, 2.0: 30.0}
    # 30 and 31 round to the same hundredth; 40 would go backwards: neither gives an anchor
    reference = {20: 29.0, 30: 29.5, 31: 29.501, 40: 29.2}
    assert calibrate(model, reference) == {"0": 1.0, "20": 1.5, "30": 1.75, "100": 2.0}
    with pytest.raises(ValueError, match="increase"):
        calibrate({1.0: 30.0, 2.0: 29.0}, reference)


def _summary(model_points, jpeg_points, command="python benchmarks/rd.py --out x -q"):
    return {"bd": {"test": "aec"}, "command": command,
            "codecs": {"aec": {"settings": {"trained_qualities": [1.0, 2.0, 3.0]}}},
            "curves": {"aec": [{"quality": q, "psnr": p} for q, p in model_points],
                       "jpeg420": [{"quality": q, "psnr": p} for q, p in jpeg_points]}}


def test_the_block_records_its_curves_and_commands(tmp_path, capsys):
    summary = _summary([(1.0, 28.004), (2.0, 30.0), (3.0, 32.0)], [(20.0, 29.0), (40.0, 31.5)])
    block = quality_scale_block(summary, "python benchmarks/quality_scale.py s.json")
    assert block["anchors"] == {"0": 1.0, "20": 1.5, "40": 2.75, "100": 3.0}
    assert block["model_psnr_db"] == {"1": 28.0, "2": 30.0, "3": 32.0}  # to hundredths, as the results keep it
    assert block["reference"] == "jpeg420" and block["benchmark"] == "python benchmarks/rd.py --out x"
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary))
    from benchmarks.quality_scale import main

    main([str(path)])
    printed = json.loads(capsys.readouterr().out)
    assert printed["anchors"] == block["anchors"] and printed["command"] == f"python benchmarks/quality_scale.py {path}"


def test_a_summary_without_jpeg_or_without_the_ends_of_the_range_gives_no_scale():
    with pytest.raises(ValueError, match="jpeg420"):
        quality_scale_block({**_summary([(1.0, 28.0), (3.0, 32.0)], []), "curves": {"aec": []}}, "c")
    with pytest.raises(ValueError, match="both ends"):
        quality_scale_block(_summary([(1.0, 28.0), (2.0, 30.0)], [(20.0, 29.0)]), "c")

