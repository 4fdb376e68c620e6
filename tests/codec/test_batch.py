"""aec.batch from Python: many files coded (in worker processes too), each input's outcome, failures that go on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import aec
from aec import batch
from aec.batch import BatchUsageError, Outcome, compress_files, decompress_files
from tests.conftest import smooth_image


def write_png(path: Path, height: int, width: int, seed: int = 0) -> Path:
    Image.fromarray(smooth_image(height, width, seed)).save(path)
    return path


def test_files_round_trip_next_to_their_inputs_with_one_outcome_each_in_input_order(tmp_path, tiny_weights):
    sources = [write_png(tmp_path / f"{i}.png", 8, 12, seed=i) for i in range(3)]
    seen: list[Outcome] = []
    outcomes = compress_files(sources, quality=60, weights=tiny_weights, jobs=1, measure=True,
                              on_outcome=seen.append)
    assert outcomes == seen and [outcome.source for outcome in outcomes] == [str(source) for source in sources]
    for source, outcome in zip(sources, outcomes):
        assert outcome.ok and outcome.target == str(source.with_suffix(".aec"))
        data = Path(outcome.target).read_bytes()
        assert data == outcome.result.data == aec.Codec(weights=tiny_weights).encode(source, quality=60).data
        assert outcome.input_bytes == source.stat().st_size and outcome.output_bytes == len(data)
        assert np.isfinite(outcome.psnr) and outcome.ms_ssim is None  # 12 pixels wide: under MS-SSIM's 161 (untrained)
    (tmp_path / "out").mkdir()
    decoded = decompress_files([outcome.target for outcome in outcomes], tmp_path / "out", format="webp",
                               weights=tiny_weights)
    assert [Path(outcome.target).name for outcome in decoded] == ["0.webp", "1.webp", "2.webp"]
    assert all(outcome.ok and outcome.result.image.size == (12, 8) for outcome in decoded)
    assert Image.open(decoded[0].target).format == "WEBP"


def test_a_failed_input_is_its_outcome_and_the_others_go_on(tmp_path, tiny_weights):
    good = write_png(tmp_path / "good.png", 8, 8)
    (tmp_path / "bad.png").write_bytes(b"not an image")
    (tmp_path / "taken.png").write_bytes(good.read_bytes())
    (tmp_path / "taken.aec").write_bytes(b"keep")
    outcomes = compress_files([tmp_path / "bad.png", tmp_path / "taken.png", good, tmp_path / "missing.png"],
                              weights=tiny_weights, jobs=1)
    assert [outcome.ok for outcome in outcomes] == [False, False, True, False]
    assert outcomes[0].error.startswith(str(tmp_path / "bad.png")) and outcomes[0].result is None
    assert outcomes[1].error == f"{tmp_path / 'taken.aec'} already exists; use -f to overwrite it"
    assert (tmp_path / "taken.aec").read_bytes() == b"keep"
    assert "missing.png" in outcomes[3].error
    forced = compress_files([tmp_path / "taken.png"], weights=tiny_weights, force=True)
    assert forced[0].ok and (tmp_path / "taken.aec").read_bytes() == forced[0].result.data


def test_folders_are_expanded_with_their_subfolders_kept(tmp_path, tiny_weights):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    write_png(tmp_path / "in" / "sub" / "a.png", 8, 8)
    write_png(tmp_path / "in" / "b.png", 8, 8, seed=1)
    (tmp_path / "out").mkdir()
    outcomes = compress_files([tmp_path / "in"], tmp_path / "out", recursive=True, weights=tiny_weights)
    assert sorted(Path(outcome.target).relative_to(tmp_path / "out").as_posix() for outcome in outcomes) == \
        ["b.aec", "sub/a.aec"]
    with pytest.raises(BatchUsageError, match="no image files in"):
        compress_files([tmp_path / "out"], recursive=True, weights=tiny_weights)


def test_bad_arguments_raise_before_any_output(tmp_path, tiny_weights):
    source = write_png(tmp_path / "a.png", 8, 8)
    with pytest.raises(BatchUsageError) as raised:
        compress_files([source], model_quality=99, weights=tiny_weights)
    assert raised.value.parameter == "model_quality" and not (tmp_path / "a.aec").exists()
    with pytest.raises(BatchUsageError) as raised:
        compress_files([source], model_id="no-such-model")
    assert raised.value.parameter == "model_id"


def test_worker_processes_write_the_same_bytes_in_input_order(tmp_path, tiny_weights):
    sources = [write_png(tmp_path / f"{i}.png", 8, 12, seed=i) for i in range(3)]
    serial = [outcome.result.data for outcome in compress_files(sources, weights=tiny_weights, jobs=1)]
    (tmp_path / "out").mkdir()
    pooled = compress_files(sources, tmp_path / "out", weights=tiny_weights, jobs=2)
    assert [outcome.source for outcome in pooled] == [str(source) for source in sources]
    assert [Path(outcome.target).read_bytes() for outcome in pooled] == serial
    decoded = decompress_files([outcome.target for outcome in pooled], weights=tiny_weights, jobs=2)
    assert [np.asarray(Image.open(outcome.target)).shape for outcome in decoded] == [(8, 12, 3)] * 3


def test_jobs_never_exceed_the_inputs():
    assert batch.jobs_for(8, ["a"] * 3) == 3 and batch.jobs_for(1, ["a"] * 5) == 1 and batch.jobs_for(None, ["a"]) == 1
